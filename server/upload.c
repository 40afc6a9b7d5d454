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
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "account.h"
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

/* Create the partial file (never through a symlink, never over a file). */
static int create_partial(void *arg)
{
	const struct paths *p = arg;
	struct stat st;
	if (stat(p->path, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	return open(p->partial, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, p->mode);
}

static int open_partial(void *arg)
{
	const struct paths *p = arg;
	return open(p->partial, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
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

void upload_append_free(void *arg)
{
	struct upload_append *a = arg;
	pthread_mutex_lock(&busy_lock);
	for (struct upload_append **p = &busy; *p != NULL; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	pthread_mutex_unlock(&busy_lock);
	if (a->fd >= 0)
		close(a->fd);
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

int upload_hash(int fd, int64_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *buf = malloc(1 << 20);
	int rc = -1;
	if (md == NULL || buf == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (int64_t off = 0; off < len; ) {
		size_t want = (size_t)(len - off < (1 << 20) ? len - off : (1 << 20));
		ssize_t n = pread(fd, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? EIO : errno;
			goto out;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
		off += n;
	}
	rc = EVP_DigestFinal_ex(md, out, NULL) == 1 ? 0 : -1;
out:
	free(buf);
	EVP_MD_CTX_free(md);
	return rc;
}


int upload_create_partial(const struct account *o, const struct upload_rec *u, mode_t mode,
                          int *err)
{
	struct paths p = { u->path, u->partial, mode };
	return account_fd(o, create_partial, &p, err);
}

int upload_open_partial(const struct account *o, const struct upload_rec *u, int *err)
{
	struct paths p = { u->path, u->partial, 0 };   /* opened, not created */
	return account_fd(o, open_partial, &p, err);
}
