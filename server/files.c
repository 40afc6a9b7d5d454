/*
 * files.c - a user's files by path, as the user's account (files.h).
 *
 * Each function hands one small job to an account child (account_channel
 * for a byte stream, account_run for a JSON answer); what runs in the child is
 * the static *_child functions below, and nothing else in them trusts a
 * path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bounds.h"
#include "crypto.h"
#include "fileio.h"
#include "files.h"

/* What one listing's answer may hold, under account_run's bound. */
#define FILES_LIST_BYTES (BOUND_BODY_COMMAND * 3 / 4)

/* ---- what the owner's child does ---- */

/* A reader child's buffer (the child has one thread; the daemon never
 * touches it). */
static char child_buf[1 << 16];

/* What a reader child is asked (files_start). */
struct read_job {
	const char *path;
	enum files_what what;
	int64_t from, to;
};

/* Open a path to read or, for anything but a file or directory, to look at. */
static int open_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return open(path, O_PATH | O_CLOEXEC);
	/* swapped for a FIFO or a device since the stat, it still opens at
	 * once, and fstat then says what it is */
	return open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

/* Send a regular file's bytes [from, from + len) to out. */
static int send_bytes(int fd, int out, int64_t from, int64_t len)
{
	char *buf = child_buf;
	while (len > 0) {
		size_t want = len < (int64_t)sizeof child_buf ? (size_t)len : sizeof child_buf;
		ssize_t n = pread(fd, buf, want, from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || fileio_write_all(out, buf, (size_t)n) != 0)
			return -1;   /* shrunk or gone: the daemon sees a short stream */
		from += n;
		len -= n;
	}
	return 0;
}

/* The SHA-256 of a file's first len bytes into out; 0 or -1. */
static int hash_fd(int fd, int64_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	char *buf = child_buf;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = -1;
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (int64_t off = 0; off < len; ) {
		int64_t left = len - off;
		size_t want = left < (int64_t)sizeof child_buf ? (size_t)left : sizeof child_buf;
		ssize_t n = pread(fd, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;   /* shrunk under us: no hash */
		EVP_DigestUpdate(md, buf, (size_t)n);
		off += n;
	}
	rc = EVP_DigestFinal_ex(md, out, NULL) == 1 ? 0 : -1;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

/* The reader child: the head, then what was asked. */
static int read_child(void *arg, int out)
{
	const struct read_job *j = arg;
	struct files_head h = { 0 };
	struct stat st;
	int fd = open_path(j->path);
	if (fd < 0 || fstat(fd, &st) != 0)
		h.err = errno ? errno : EIO;
	else {
		h.mode = st.st_mode;
		h.size = st.st_size;
		h.mtime = st.st_mtime;
	}
	if (fileio_write_all(out, &h, sizeof h) != 0 || h.err != 0 || !S_ISREG(st.st_mode))
		return h.err != 0;
	if (j->what == FILES_SHA256) {
		uint8_t md[CRYPTO_SHA256_LEN];
		return hash_fd(fd, st.st_size, md) == 0 &&
		       fileio_write_all(out, md, sizeof md) == 0 ? 0 : -1;
	}
	if (j->what == FILES_BYTES && j->from < st.st_size) {
		int64_t to = j->to < 0 || j->to >= st.st_size ? st.st_size - 1 : j->to;
		return send_bytes(fd, out, j->from, to - j->from + 1);
	}
	return 0;
}

/* {"errno": N} for a failed child operation. */
static json_t *errno_answer(int e)
{
	return json_pack("{s:i}", "errno", e ? e : EIO);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* {"path", "after"} -> {"entries", "more"} or {"errno"} */
static json_t *list_child(json_t *arg)
{
	const char *path = json_string_value(json_object_get(arg, "path"));
	const char *after = json_string_value(json_object_get(arg, "after"));
	DIR *d = path ? opendir(path) : NULL;
	if (d == NULL)
		return errno_answer(path ? errno : EINVAL);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	json_t *res = NULL;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (after != NULL && strcmp(de->d_name, after) <= 0))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			char **nn = realloc(names, nc * sizeof *nn);
			if (nn == NULL)
				goto out;
			names = nn;
			cap = nc;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto out;
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof *names, name_cmp);
	json_t *entries = json_array();
	size_t k, room = FILES_LIST_BYTES;   /* the answer fits account_run's bound */
	for (k = 0; k < n && k < FILES_LIST_MAX; k++) {
		struct stat st;
		size_t cost = strlen(names[k]) * 6 + 128;   /* escaped, with its fields */
		if (cost > room)
			break;
		room -= cost;
		if (fstatat(dirfd(d), names[k], &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;   /* gone since */
		json_array_append_new(entries, json_pack("{s:s,s:s,s:I,s:i,s:I}", "name", names[k],
		                                         "type", files_type(st.st_mode),
		                                         "size", (json_int_t)st.st_size,
		                                         "mode", (int)(st.st_mode & 07777),
		                                         "mtime", (json_int_t)st.st_mtime));
	}
	res = json_pack("{s:o,s:b}", "entries", entries, "more", k < n);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return res ? res : errno_answer(ENOMEM);
}

/* {"path", "mode"} -> {"created": bool} or {"errno"} */
static json_t *mkdir_child(json_t *arg)
{
	const char *path = json_string_value(json_object_get(arg, "path"));
	mode_t mode = (mode_t)json_integer_value(json_object_get(arg, "mode"));
	struct stat st;
	if (path == NULL)
		return errno_answer(EINVAL);
	if (mkdir(path, mode & 07777) == 0)
		return json_pack("{s:b}", "created", 1);
	int e = errno;
	if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return json_pack("{s:b}", "created", 0);
	return errno_answer(e);   /* EEXIST: a file is there */
}

/* {"path", "mode"?, "mtime"?} -> {} or {"errno"} */
static json_t *set_child(json_t *arg)
{
	const char *path = json_string_value(json_object_get(arg, "path"));
	json_t *mode = json_object_get(arg, "mode"), *mtime = json_object_get(arg, "mtime");
	if (path == NULL)
		return errno_answer(EINVAL);
	if (mode != NULL && chmod(path, (mode_t)json_integer_value(mode) & 07777) != 0)
		return errno_answer(errno);
	if (mtime != NULL) {
		struct timespec ts[2] = { { (time_t)json_integer_value(mtime), 0 },
		                          { (time_t)json_integer_value(mtime), 0 } };
		if (utimensat(AT_FDCWD, path, ts, 0) != 0)
			return errno_answer(errno);
	}
	return json_object();
}

/* ---- the daemon's side ---- */

/* Run fn as o; its answer, or NULL with *err the errno it reported. */
static json_t *run_as(const struct account *o, json_t *(*fn)(json_t *), json_t *arg, int *err)
{
	json_t *res = arg ? account_run(o, fn, arg) : NULL;
	json_decref(arg);
	json_t *e = json_object_get(res, "errno");
	if (res == NULL || e != NULL) {
		*err = e ? (int)json_integer_value(e) : EIO;
		json_decref(res);
		return NULL;
	}
	return res;
}

ssize_t files_read(struct files_reader *rd, void *buf, size_t n, int idle_ms)
{
	return fileio_read_ms(rd->fd, buf, n, idle_ms);
}

int files_read_all(struct files_reader *rd, void *buf, size_t n, int idle_ms)
{
	return fileio_read_full_ms(rd->fd, buf, n, idle_ms);
}

int files_start(const struct account *o, const char *path, enum files_what what,
                int64_t from, int64_t to, struct files_reader *rd, int *err)
{
	struct read_job j = { path, what, from, to };
	memset(rd, 0, sizeof *rd);
	rd->fd = account_channel(o, read_child, &j, &rd->pid);
	if (rd->fd < 0) {
		*err = errno ? errno : EIO;
		return -1;
	}
	if (files_read_all(rd, &rd->head, sizeof rd->head, account_io_ms()) != 0) {
		files_end(rd);
		*err = ETIMEDOUT;   /* a stat that outlived its time, or a child that died */
		return -1;
	}
	if (rd->head.err == 0 && what == FILES_BYTES && S_ISREG(rd->head.mode) &&
	    from < rd->head.size) {
		int64_t last = to < 0 || to >= rd->head.size ? rd->head.size - 1 : to;
		rd->from = from;
		rd->len = last - from + 1;
	}
	return 0;
}

int files_hash_ms(int64_t size)
{
	int64_t ms = account_io_ms() + size / 32768;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

void files_end(struct files_reader *rd)
{
	if (rd->fd >= 0)
		close(rd->fd);
	rd->fd = -1;
	account_channel_end(rd->pid);
	rd->pid = 0;
}

json_t *files_list(const struct account *o, const char *path, const char *after, int *err)
{
	json_t *arg = json_pack("{s:s}", "path", path);
	if (arg != NULL && after != NULL && after[0] != '\0')
		json_object_set_new(arg, "after", json_string(after));
	return run_as(o, list_child, arg, err);
}

int files_mkdir(const struct account *o, const char *path, mode_t mode, int *created,
                int *err)
{
	json_t *res = run_as(o, mkdir_child, json_pack("{s:s,s:i}", "path", path, "mode",
	                                               (int)mode), err);
	if (res == NULL)
		return -1;
	*created = json_is_true(json_object_get(res, "created"));
	json_decref(res);
	return 0;
}

int files_set(const struct account *o, const char *path, int mode, int64_t mtime, int *err)
{
	json_t *arg = json_pack("{s:s}", "path", path);
	if (arg != NULL && mode >= 0)
		json_object_set_new(arg, "mode", json_integer(mode));
	if (arg != NULL && mtime >= 0)
		json_object_set_new(arg, "mtime", json_integer(mtime));
	json_t *res = run_as(o, set_child, arg, err);
	json_decref(res);
	return res ? 0 : -1;
}

const char *files_type(mode_t m)
{
	return S_ISREG(m) ? "file" : S_ISDIR(m) ? "directory" : S_ISLNK(m) ? "symlink" : "other";
}
