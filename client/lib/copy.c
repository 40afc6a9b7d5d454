/*
 * copy.c - files between this machine and a tetherd's host (tether copy;
 * docs/copy.md, docs/api.md "Files").
 *
 * Both ways are resumable and verified end to end by SHA-256, and neither
 * side ever shows a half-copied file under its name:
 *
 * - To the host, a file goes up through the resumable uploads
 *   (upload.c, /v1/uploads): the server keeps the bytes in a hidden partial
 *   file it creates as the account, moves its offset only for whole,
 *   checksummed chunks, checks the whole file's SHA-256 and renames it into
 *   place. This side notes the upload's id ($TETHER_HOME state dir,
 *   copies.json, keyed by host, destination and the file's SHA-256), so
 *   the next copy of the same file to the same place after a cut asks the
 *   server for its offset and goes on from there.
 * - From the host, bytes are read from GET /v1/files/content (opened by the
 *   account) into a hidden partial file beside the destination
 *   (.NAME.tether-part); a later copy goes on from its length with a Range
 *   request. The SHA-256 the server gives for the file is checked against
 *   the whole partial before it is renamed into place; on a mismatch the
 *   partial is deleted, never kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "client-int.h"
#include "fileio.h"
#include "jsonu.h"

#define COPY_CHUNK      (4 << 20)     /* bytes per append */
#define COPY_CHUNK_MIN  (64 << 10)
#define COPY_STATE      "copies.json"   /* a notes file (client-int.h) */
#define COPY_QUERY_MAX  (BOUND_URL - 64)    /* an escaped path in a query */

/* ---- the path query ---- */

/* "PREFIX?path=ESCAPED" into out; TETHER_E_USAGE if it does not fit. */
static tether_err path_query(tether_client *c, const char *prefix, const char *path,
                             char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = (size_t)snprintf(out, outsz, "%s?path=", prefix);
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		             (*p >= '0' && *p <= '9') || strchr("-._~/", *p) != NULL;
		if (n + 4 >= outsz || n + 4 >= COPY_QUERY_MAX)
			return client_fail(c, TETHER_E_USAGE, "remote path too long: %.80s...", path);
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = '\0';
	return TETHER_E_OK;
}

/* ---- /v1/files ---- */

/* One GET /v1/files page. */
static tether_err stat_page(tether_client *c, struct target *t, const char *path, int flags,
                            const char *after, json_t **out)
{
	char q[BOUND_URL + 300];
	tether_err e = path_query(c, TETHER_API_PREFIX "/files", path, q, sizeof q);
	size_t n = strlen(q);
	if (e == TETHER_E_OK && (flags & TETHER_FILE_SHA256))
		snprintf(q + n, sizeof q - n, "&sha256=1");
	n = strlen(q);
	if (e == TETHER_E_OK && (flags & TETHER_FILE_ENTRIES)) {
		snprintf(q + n, sizeof q - n, "&entries=1");
		if (after != NULL) {
			char a[BOUND_URL + 300];
			e = path_query(c, "", after, a, sizeof a);
			n = strlen(q);
			size_t al = strlen(a + 6);   /* past "?path=" */
			if (e == TETHER_E_OK && n + al + 8 < sizeof q) {
				memcpy(q + n, "&after=", 7);
				memcpy(q + n + 7, a + 6, al + 1);
			}
		}
	}
	if (e == TETHER_E_OK)
		e = client_request(c, t, "GET", q, NULL, out);
	return e;
}

/* What path is there; see tether.h. */
tether_err tether_file_stat(tether_client *c, const char *host, const char *path, int flags,
                            json_t **out)
{
	struct target t;
	json_t *first = NULL, *page = NULL;
	*out = NULL;
	tether_err e = client_target(c, host, &t);
	if (e == TETHER_E_OK)
		e = stat_page(c, &t, path, flags, NULL, &first);
	/* a directory's entries come a page at a time: gather them */
	json_t *all = json_object_get(first, "entries");
	while (e == TETHER_E_OK && json_is_true(json_object_get(page ? page : first, "more"))) {
		json_t *last = json_array_get(all, json_array_size(all) - 1);
		const char *after = json_string_value(json_object_get(last, "name"));
		json_decref(page);
		page = NULL;
		if (after == NULL)
			break;
		e = stat_page(c, &t, path, flags, after, &page);
		json_t *more = json_object_get(page, "entries");
		if (e == TETHER_E_OK && json_array_size(more) == 0)
			break;   /* a server that says more but sends none */
		json_array_extend(all, more);
	}
	json_decref(page);
	json_object_del(first, "more");
	crypto_wipe(t.token, sizeof t.token);
	if (e != TETHER_E_OK) {
		json_decref(first);
		return e;
	}
	*out = first;
	return TETHER_E_OK;
}

/* Make a directory there; see tether.h. */
tether_err tether_file_mkdir(tether_client *c, const char *host, const char *path, int mode)
{
	struct target t;
	tether_err e = client_target(c, host, &t);
	json_t *body = json_pack("{s:s,s:s}", "path", path, "type", "directory");
	if (body != NULL && mode >= 0)
		json_object_set_new(body, "mode", json_integer(mode & 07777));
	if (e == TETHER_E_OK)
		e = body ? client_request(c, &t, "POST", TETHER_API_PREFIX "/files", body, NULL)
		         : client_fail(c, TETHER_E_NOMEM, "out of memory");
	json_decref(body);
	crypto_wipe(t.token, sizeof t.token);
	return e;
}

/* Set a path's mode and time there; see tether.h. */
tether_err tether_file_set(tether_client *c, const char *host, const char *path, int mode,
                           int64_t mtime)
{
	struct target t;
	tether_err e = client_target(c, host, &t);
	json_t *body = json_pack("{s:s}", "path", path);
	if (body != NULL && mode >= 0)
		json_object_set_new(body, "mode", json_integer(mode & 07777));
	if (body != NULL && mtime >= 0)
		json_object_set_new(body, "mtime", json_integer(mtime));
	if (e == TETHER_E_OK)
		e = body ? client_request(c, &t, "PATCH", TETHER_API_PREFIX "/files", body, NULL)
		         : client_fail(c, TETHER_E_NOMEM, "out of memory");
	json_decref(body);
	crypto_wipe(t.token, sizeof t.token);
	return e;
}

/* ---- helpers ---- */

/* SHA-256 of fd's first len bytes as hex into out; 0, or -1 (errno). */
static int hash_fd(int fd, int64_t len, char out[2 * CRYPTO_SHA256_LEN + 1])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *buf = malloc(1 << 20);
	uint8_t sum[CRYPTO_SHA256_LEN];
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
	if (EVP_DigestFinal_ex(md, sum, NULL) == 1) {
		crypto_hex(sum, sizeof sum, out);
		rc = 0;
	}
out:
	free(buf);
	EVP_MD_CTX_free(md);
	return rc;
}

static void report(const struct tether_copy_opts *o, int64_t done, int64_t total)
{
	if (o != NULL && o->progress != NULL)
		o->progress(o->ctx, done, total);
}

/* ---- the uploads this client may go on with (copies.json) ---- */

/* The noted upload for key into id ("" if none); id NULL with set: forget
 * it; else with set: note id. A remote client keeps nothing. */
static void state_upload(tether_client *c, const char *key, char *id, bool set)
{
	if (c->remote)
		return;
	json_t *all = notes_load(c, COPY_STATE);
	if (!set) {
		const char *got = json_string_value(json_object_get(json_object_get(all, key), "id"));
		snprintf(id, TETHER_UPLOAD_ID_MAX + 1, "%s", got ? got : "");
	} else if (id == NULL) {
		json_object_del(all, key);
		notes_store(c, COPY_STATE, all);
	} else {
		json_object_set_new(all, key, json_pack("{s:s,s:I}", "id", id, "saved",
		                                        (json_int_t)time(NULL)));
		notes_store(c, COPY_STATE, all);
	}
	json_decref(all);
}

/* ---- to the host ---- */

/* Told as an append's bytes go out. */
struct put_progress {
	const struct tether_copy_opts *o;
	int64_t base, total;
};

static int put_progress(void *ctx, size_t sent)
{
	struct put_progress *p = ctx;
	report(p->o, p->base + (int64_t)sent, p->total);
	return 0;
}

/* Copy a local file there; see tether.h. */
tether_err tether_copy_to(tether_client *c, const char *host, const char *local,
                          const char *remote, const struct tether_copy_opts *o,
                          int64_t *resumed_from)
{
	struct target t;
	struct stat st;
	char sha[2 * CRYPTO_SHA256_LEN + 1], id[TETHER_UPLOAD_ID_MAX + 1] = "";
	char *key = NULL, *buf = NULL;
	int64_t offset = 0;
	bool done = false;
	tether_err e;
	if (resumed_from != NULL)
		*resumed_from = 0;
	int fd = open(local, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return client_fail(c, errno == ENOENT ? TETHER_E_NOT_FOUND : TETHER_E_IO,
		                   "cannot open %s: %s", local, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return client_fail(c, TETHER_E_USAGE, S_ISDIR(st.st_mode)
		                   ? "%s is a directory (copy it with -r)"
		                   : "%s is not a regular file", local);
	}
	if (hash_fd(fd, st.st_size, sha) != 0) {
		e = client_fail(c, TETHER_E_IO, "cannot read %s: %s", local, strerror(errno));
		goto out;
	}
	e = client_target(c, host, &t);
	crypto_wipe(t.token, sizeof t.token);
	if (e != TETHER_E_OK)
		goto out;
	size_t klen = strlen(t.key) + strlen(t.user) + strlen(remote) + sizeof sha + 8;
	key = malloc(klen);
	buf = malloc(COPY_CHUNK);
	if (key == NULL || buf == NULL) {
		e = client_fail(c, TETHER_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(key, klen, "%s@%s %s %s", t.user, t.key, sha, remote);
	state_upload(c, key, id, false);
	if (id[0] != '\0') {
		e = tether_upload_query(c, host, id, &offset, &done);
		if (e != TETHER_E_OK && tether_last_http_status(c) != 404)
			goto out;
		if (e != TETHER_E_OK || done)
			id[0] = '\0';   /* gone, or finished: a fresh copy */
	}
	if (id[0] == '\0') {
		offset = 0;
		e = tether_upload_create(c, host, remote, st.st_size, (int)(st.st_mode & 0777), sha,
		                         id);
		if (e != TETHER_E_OK)
			goto out;
		done = st.st_size == 0;   /* an empty file is committed at once */
		if (!done)
			state_upload(c, key, id, true);
	}
	if (resumed_from != NULL)
		*resumed_from = offset;
	int64_t chunk = COPY_CHUNK;
	int conflicts = 0;
	report(o, offset, st.st_size);
	while (!done) {
		int64_t n = st.st_size - offset < chunk ? st.st_size - offset : chunk;
		ssize_t got = n > 0 ? pread(fd, buf, (size_t)n, offset) : 0;
		if (got != n) {
			e = client_fail(c, TETHER_E_IO, "cannot read %s: %s", local,
			                got < 0 ? strerror(errno) : "the file shrank");
			goto out;
		}
		struct put_progress pp = { o, offset, st.st_size };
		const struct tether_upload_io io = { put_progress, &pp };
		e = tether_upload_append(c, host, id, offset, buf, (size_t)n, &io);
		long s = tether_last_http_status(c);
		if (e == TETHER_E_OK) {
			offset += n;
			done = offset == st.st_size;
			report(o, offset, st.st_size);
		} else if (s == 409 && conflicts++ < 3) {
			/* another offset there (an append we thought lost went in) */
			e = tether_upload_query(c, host, id, &offset, &done);
			if (e != TETHER_E_OK)
				goto out;
		} else if (s == 413 && chunk > COPY_CHUNK_MIN) {
			chunk /= 2;
		} else {
			goto out;   /* a cut: the noted upload lets the next copy go on */
		}
	}
	state_upload(c, key, NULL, true);
	if (o != NULL && o->preserve)
		e = tether_file_set(c, host, remote, (int)(st.st_mode & 07777), st.st_mtime);
out:
	free(key);
	free(buf);
	close(fd);
	return e;
}

/* ---- from the host ---- */

/* Where a GET's body goes: pwrite to the partial file from off. */
struct get_sink {
	struct request *r;
	int      fd;
	int64_t  off, end;   /* the next byte's offset; the file's size */
	int      werr;       /* errno of a failed write */
	bool     bad_status; /* a 2xx that is not the 206 asked for */
	const struct tether_copy_opts *o;
};

/* libcurl write callback: a success's bytes to the file, an error's to
 * the reply buffer (for its JSON). */
static size_t get_data(char *p, size_t size, size_t n, void *ctx)
{
	struct get_sink *g = ctx;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(g->r->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return buf_append(&g->r->reply, p, len) == 0 ? len : 0;
	if (status != 206 && g->off > 0) {
		g->bad_status = true;
		return 0;
	}
	if (g->off + (int64_t)len > g->end) {
		g->werr = EFBIG;   /* more than the file had: it changed */
		return 0;
	}
	if (fileio_pwrite_all(g->fd, p, len, g->off) != 0) {
		g->werr = errno;
		return 0;
	}
	g->off += (int64_t)len;
	report(g->o, g->off, g->end);
	return len;
}

/* Read remote's bytes from g->off to g->end into g->fd. */
static tether_err get_bytes(tether_client *c, struct target *t, const char *remote,
                            struct get_sink *g)
{
	struct request r;
	char q[BOUND_URL + 300], range[64];
	tether_err e = path_query(c, TETHER_API_PREFIX "/files/content", remote, q, sizeof q);
	if (e != TETHER_E_OK)
		return e;
	e = request_prepare(c, c->curl, t, "GET", q, NULL, &r, NULL);
	if (e == TETHER_E_OK) {
		g->r = &r;
		snprintf(range, sizeof range, "Range: bytes=%lld-", (long long)g->off);
		r.hdrs = curl_slist_append(r.hdrs, range);
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, r.hdrs);
		curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, get_data);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, g);
		e = request_finish(c, c->curl, &r, request_perform(c, c->curl), NULL, NULL);
		if (g->werr != 0)
			e = client_fail(c, TETHER_E_IO, g->werr == EFBIG
			                ? "%s grew while it was copied; copy it again"
			                : "cannot write the partial file of %s: %s", remote,
			                strerror(g->werr));
		else if (g->bad_status)
			e = client_fail(c, TETHER_E_PROTOCOL, "%s ignored the Range of a resumed "
			                "copy", t->key);
	}
	request_release(c->curl, &r);
	return e;
}

/* Copy a file there to local; see tether.h. */
tether_err tether_copy_from(tether_client *c, const char *host, const char *remote,
                            const char *local, const struct tether_copy_opts *o,
                            int64_t *resumed_from)
{
	struct target t;
	json_t *info = NULL;
	char partial[BOUND_PATH + 32], got[2 * CRYPTO_SHA256_LEN + 1];
	struct stat st, old;
	int fd = -1;
	if (resumed_from != NULL)
		*resumed_from = 0;
	const char *slash = strrchr(local, '/');
	const char *base = slash ? slash + 1 : local;
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return client_fail(c, TETHER_E_USAGE, "%s does not name a file", local);
	if (snprintf(partial, sizeof partial, "%.*s.%s.tether-part", (int)(base - local), local,
	             base) >= (int)sizeof partial)
		return client_fail(c, TETHER_E_USAGE, "local path too long: %.80s...", local);
	tether_err e = tether_file_stat(c, host, remote, TETHER_FILE_SHA256, &info);
	if (e != TETHER_E_OK)
		return e;
	const char *type = json_string_value(json_object_get(info, "type"));
	const char *sha = json_string_value(json_object_get(info, "sha256"));
	int64_t size = json_integer_value(json_object_get(info, "size"));
	int mode = (int)json_integer_value(json_object_get(info, "mode"));
	int64_t mtime = json_integer_value(json_object_get(info, "mtime"));
	if (type == NULL || strcmp(type, "file") != 0) {
		e = client_fail(c, TETHER_E_INVALID_ARGUMENT, type && strcmp(type, "directory") == 0
		                ? "%s is a directory (copy it with -r)" : "%s is not a regular file",
		                remote);
		goto out;
	}
	if (sha == NULL || strlen(sha) != 2 * CRYPTO_SHA256_LEN || size < 0) {
		e = client_fail(c, TETHER_E_PROTOCOL, "no size or SHA-256 for %s in the reply",
		                remote);
		goto out;
	}
	fd = open(partial, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		e = client_fail(c, TETHER_E_IO, "cannot open %s: %s", partial,
		                fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	if (st.st_size > size && ftruncate(fd, 0) == 0)
		st.st_size = 0;   /* longer than the file: not a start of it */
	if (resumed_from != NULL)
		*resumed_from = st.st_size;
	struct get_sink g = { .fd = fd, .off = st.st_size, .end = size, .o = o };
	report(o, g.off, size);
	if (g.off < size) {
		e = client_target(c, host, &t);
		if (e == TETHER_E_OK)
			e = get_bytes(c, &t, remote, &g);
		crypto_wipe(t.token, sizeof t.token);
		if (e != TETHER_E_OK)
			goto out;   /* the partial stays, for the next copy to go on */
		if (g.off != size) {
			e = client_fail(c, TETHER_E_IO, "%s ended at %lld of %lld bytes; copy it "
			                "again to go on", remote, (long long)g.off, (long long)size);
			goto out;
		}
	}
	if (hash_fd(fd, size, got) != 0) {
		e = client_fail(c, TETHER_E_IO, "cannot read back %s: %s", partial, strerror(errno));
		goto out;
	}
	if (strcmp(got, sha) != 0) {
		unlink(partial);
		e = client_fail(c, TETHER_E_CHECKSUM_MISMATCH, "%s: the copy's SHA-256 is %s, not "
		                "the server's %s; the partial file was deleted, copy it again",
		                remote, got, sha);
		goto out;
	}
	/* a file replaced keeps its mode (as cp does); -p takes the source's */
	mode_t um = umask(0);
	umask(um);
	mode_t want = (mode_t)mode & 0777 & ~um;
	if (o != NULL && o->preserve)
		want = (mode_t)mode & 07777;
	else if (stat(local, &old) == 0 && S_ISREG(old.st_mode))
		want = old.st_mode & 07777;
	struct timespec ts[2] = { { (time_t)mtime, 0 }, { (time_t)mtime, 0 } };
	if (fchmod(fd, want) != 0 || (o != NULL && o->preserve && futimens(fd, ts) != 0) ||
	    fsync(fd) != 0 || rename(partial, local) != 0) {
		e = client_fail(c, TETHER_E_IO, "cannot put %s in place: %s", local, strerror(errno));
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	json_decref(info);
	return e;
}
