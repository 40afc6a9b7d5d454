/*
 * upload.c - the engine of resumable uploads received (upload.h); the
 * HTTP face is api-upload.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "account.h"
#include "fileio.h"
#include "log.h"
#include "upload.h"
#include "userfile.h"

#define STALE_BATCH 16

/* ---- what the owner's child does ---- */

struct paths {
	const char *path;
	const char *partial;
	mode_t      mode;      /* of a fresh file, before the owner's umask */
};

/* Create the partial file (never through a symlink, never over a file),
 * and close it here, in the owner's child: {"errno"} or {}. */
static json_t *create_partial(json_t *arg)
{
	const char *path = json_string_value(json_object_get(arg, "path"));
	const char *partial = json_string_value(json_object_get(arg, "partial"));
	mode_t mode = (mode_t)json_integer_value(json_object_get(arg, "mode"));
	struct stat st;
	int fd = -1;
	if (path == NULL || partial == NULL)
		errno = EINVAL;
	else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		errno = EISDIR;
	else
		fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 || close(fd) != 0)
		return json_pack("{s:i}", "errno", errno ? errno : EIO);
	return json_object();
}

/* The writer child: open and cut back the partial, say 0 or the errno;
 * write what comes, then flush and say 0 or the errno. */
static int writer_child(void *arg, int sock)
{
	static char buf[1 << 16];   /* the child's own: it has one thread */
	const struct upload_rec *u = arg;
	struct stat st;
	int32_t code = 0;
	int fd = open(u->partial, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		code = errno ? errno : EIO;
	else if (!S_ISREG(st.st_mode))
		code = UPLOAD_NOT_REGULAR;
	else if (ftruncate(fd, u->received) != 0)
		code = errno;
	if (fileio_write_all(sock, &code, sizeof code) != 0 || code != 0)
		return -1;
	for (int64_t off = u->received;;) {
		ssize_t n = read(sock, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			code = n == 0 ? 0 : EIO;
			break;
		}
		if (fileio_pwrite_all(fd, buf, (size_t)n, off) != 0) {
			code = errno;   /* said at once: the daemon stops sending */
			break;
		}
		off += n;
	}
	if (code == 0 && fdatasync(fd) != 0)
		code = errno;
	fileio_write_all(sock, &code, sizeof code);
	return code == 0 ? 0 : -1;
}

/* {"op": "commit"|"remove", "partial", "path"} -> {} or {"error"} */
static json_t *partial_op(json_t *arg)
{
	const char *op = json_string_value(json_object_get(arg, "op"));
	const char *partial = json_string_value(json_object_get(arg, "partial"));
	const char *path = json_string_value(json_object_get(arg, "path"));
	char msg[BOUND_PATH + 128];
	if (op == NULL || partial == NULL || path == NULL)
		return NULL;
	if (strcmp(op, "remove") == 0) {
		if (unlink(partial) != 0 && errno != ENOENT)
			goto fail;
		return json_object();
	}
	if (userfile_commit(partial, path) != 0)
		goto fail;
	return json_object();
fail:
	snprintf(msg, sizeof msg, "cannot %s %s: %s", strcmp(op, "remove") == 0 ? "delete" :
	         "rename the partial file to", strcmp(op, "remove") == 0 ? partial : path,
	         strerror(errno));
	return json_pack("{s:s}", "error", msg);
}

const char *upload_owner_op(const struct user_rec *u, const struct upload_rec *up,
                               const char *op, char *why, size_t whysz)
{
	struct account o;
	if (account_of(u, &o, why, whysz) != TETHER_E_OK)
		return why;
	json_t *arg = json_pack("{s:s,s:s,s:s}", "op", op, "partial", up->partial,
	                        "path", up->path);
	json_t *res = account_run(&o, partial_op, arg);
	json_decref(arg);
	const char *err = json_string_value(json_object_get(res, "error"));
	const char *ret = NULL;
	if (res == NULL || err != NULL) {
		snprintf(why, whysz, "%s", err ? err : "cannot reach the file as its owner");
		ret = why;
	}
	json_decref(res);
	return ret;
}

/* ---- appends in progress: one per upload ---- */


static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct upload_append *busy;

bool upload_claim(struct upload_append *a)
{
	bool ok = true;
	pthread_mutex_lock(&busy_lock);
	for (struct upload_append *b = busy; b != NULL; b = b->next)
		if (strcmp(b->id, a->id) == 0)
			ok = false;
	if (ok) {
		a->next = busy;
		busy = a;
	}
	pthread_mutex_unlock(&busy_lock);
	return ok;
}

bool upload_busy(const char *id)
{
	bool found = false;
	pthread_mutex_lock(&busy_lock);
	for (struct upload_append *b = busy; b != NULL; b = b->next)
		if (strcmp(b->id, id) == 0)
			found = true;
	pthread_mutex_unlock(&busy_lock);
	return found;
}

void upload_unclaim(struct upload_append *a)
{
	pthread_mutex_lock(&busy_lock);
	for (struct upload_append **p = &busy; *p != NULL; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	pthread_mutex_unlock(&busy_lock);
}

void upload_append_free(void *arg)
{
	struct upload_append *a = arg;
	upload_unclaim(a);
	if (a->sock >= 0)
		close(a->sock);
	account_channel_end(a->pid);
	EVP_MD_CTX_free(a->md);
	free(a);
}

void upload_log(const char *event, const char *user, const struct upload_rec *u)
{
	struct logline l;
	log_begin(&l, LOG_INFO, event);
	log_str(&l, "user", user);
	log_str(&l, "id", u->id);
	log_str(&l, "path", u->path);
	log_int(&l, "offset", u->received);
	log_int(&l, "length", u->length);
	log_end(&l);
}

void upload_expire(struct server *srv, int64_t now)
{
	struct upload_rec *stale = calloc(STALE_BATCH, sizeof *stale);
	size_t n = 0;
	if (stale == NULL)
		return;
	store_upload_stale(srv->store, now - srv->conf.upload_expiry, stale, STALE_BATCH, &n);
	for (size_t i = 0; i < n; i++) {
		char why[BOUND_PATH + 128];
		struct user_rec u;
		if (upload_busy(stale[i].id))
			continue;
		/* a user removed since has no files to clean up as */
		tether_err e = store_user_by_id(srv->store, stale[i].user_id, &u);
		if (e == TETHER_E_OK && !stale[i].done &&
		    upload_owner_op(&u, &stale[i], "remove", why, sizeof why) != NULL)
			continue;   /* try again next time */
		if (e != TETHER_E_OK && e != TETHER_E_NOT_FOUND)
			continue;
		store_upload_delete(srv->store, stale[i].id);
		upload_log("upload_expired", e == TETHER_E_OK ? u.name : "", &stale[i]);
	}
	free(stale);
}

int upload_create_partial(const struct account *o, const struct upload_rec *u, mode_t mode,
                          int *err)
{
	json_t *arg = json_pack("{s:s,s:s,s:i}", "path", u->path, "partial", u->partial,
	                        "mode", (int)mode);
	json_t *res = arg ? account_run(o, create_partial, arg) : NULL;
	json_decref(arg);
	json_t *e = json_object_get(res, "errno");
	*err = res == NULL ? EIO : e ? (int)json_integer_value(e) : 0;
	json_decref(res);
	return *err == 0 ? 0 : -1;
}

/* The writer's answer (a 4-byte errno), waited for at most account_io_ms(). */
static int writer_code(struct upload_append *a, int *err)
{
	int32_t code;
	if (fileio_read_full_ms(a->sock, &code, sizeof code, account_io_ms()) != 0)
		code = errno == ETIMEDOUT ? ETIMEDOUT : EIO;
	*err = code;
	return code == 0 ? 0 : -1;
}

int upload_writer_start(const struct account *o, struct upload_append *a, int *err)
{
	a->sock = account_channel(o, writer_child, &a->rec, &a->pid);
	if (a->sock < 0) {
		*err = errno ? errno : EIO;
		return -1;
	}
	return writer_code(a, err);
}

int upload_writer_send(struct upload_append *a, const void *data, size_t len, int *err)
{
	if (fileio_write_full_ms(a->sock, data, len, account_io_ms()) == 0)
		return 0;
	if (errno == ETIMEDOUT) {
		*err = ETIMEDOUT;
		return -1;
	}
	/* the child stopped reading: a write failed there, and it said why */
	return writer_code(a, err) == 0 ? (*err = EIO, -1) : -1;
}

int upload_writer_finish(struct upload_append *a, int *err)
{
	shutdown(a->sock, SHUT_WR);
	return writer_code(a, err);
}
