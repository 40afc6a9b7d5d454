/*
 * api-upload.c - resumable uploads received from other hosts, tus-style.
 *
 *   POST   /v1/uploads       {"path", "length", "sha256"?}  -> 201 the upload
 *   GET    /v1/uploads/{id}  (or HEAD) the upload; Upload-Offset header
 *   PATCH  /v1/uploads/{id}  Upload-Offset: N, Upload-Checksum: sha256 B64,
 *                            body application/offset+octet-stream -> 204
 *   DELETE /v1/uploads/{id}  abandon it; the partial file is deleted
 *   OPTIONS /v1/uploads      what the server speaks (tus discovery)
 *
 * This is the tus 1.0.0 protocol (https://tus.io/protocols/resumable-upload)
 * with its creation, termination and checksum extensions, so stock tus
 * clients work: creation may also come as tus has it, an empty POST with
 * Upload-Length and Upload-Metadata ("path", else "filename"; "sha256",
 * "mode"), every reply carries Tus-Resumable, a request naming another
 * version gets 412, appends take sha1 or sha256 checksums, and a mismatch
 * is 460 (docs/api.md, "Uploads").
 *
 * The HTTP face of the upload engine (upload.c). This is what a transfer
 * job on another host talks to for a
 * `tether://HOST/PATH` destination (BITS's upload protocol done the open
 * way). Bytes go to a hidden partial file beside the destination, created
 * and opened *as the owner* (account.c hands the descriptor back), so the
 * kernel judges the path with the user's rights. An append is accepted only
 * whole: its bytes are written past the verified offset, checked against
 * Upload-Checksum, fdatasync'd, and only then does the stored offset move;
 * a cut or bad append leaves the offset where it was and the next append
 * cuts the file back to it. The last byte in, the whole file's SHA-256 is
 * checked if one was declared and the file is renamed into place. One
 * append per upload at a time; untouched uploads expire (upload_expiry,
 * swept by the monitor).
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

#include "api.h"
#include "crypto.h"
#include "fileio.h"
#include "jsonu.h"
#include "log.h"
#include "metrics.h"
#include "account.h"
#include "files.h"
#include "upload.h"
#include "userfile.h"
#include "strparse.h"
#include "timeu.h"

#define HDR_OFFSET    "Upload-Offset"
#define HDR_CHECKSUM  "Upload-Checksum"
#define HDR_TUS       "Tus-Resumable"
#define TUS_VERSION   "1.0.0"
#define META_MAX      4096     /* bytes of Upload-Metadata read */

/* tus: say the version on every reply, and refuse a request for another
 * one (a request without the header is tether's own, also 1.0.0's). */
static tether_err tus_check(struct req *r)
{
	const char *v = req_get_header(r, HDR_TUS);
	req_header(r, HDR_TUS, TUS_VERSION);
	if (v != NULL && strcmp(v, TUS_VERSION) != 0) {
		req_header(r, "Tus-Version", TUS_VERSION);
		return req_error(r, TETHER_E_PRECONDITION_FAILED, "Tus-Resumable %.20s is not "
		                 "supported; this server speaks %s", v, TUS_VERSION);
	}
	return TETHER_E_OK;
}

/* One value of tus's Upload-Metadata ("key base64,key base64,..."), decoded
 * into out (NUL-terminated); 1 found, 0 absent, -1 malformed. */
static int tus_meta(const char *meta, const char *key, char *out, size_t outsz)
{
	size_t kl = strlen(key);
	for (const char *p = meta; p != NULL && *p != '\0'; ) {
		p += strspn(p, " ");
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			char b64[META_MAX + 1];
			size_t bl = n - kl - 1;
			if (bl > META_MAX)
				return -1;
			memcpy(b64, p + kl + 1, bl);
			b64[bl] = '\0';
			long got = crypto_b64_decode(b64, (uint8_t *)out, outsz - 1);
			if (got < 0 || memchr(out, '\0', (size_t)got) != NULL)
				return -1;
			out[got] = '\0';
			return 1;
		}
		if (n == kl && strncmp(p, key, kl) == 0)
			return -1;   /* a key without a value: none of ours takes that */
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* ---- helpers ---- */

static json_t *upload_json(const struct server *srv, const struct upload_rec *u)
{
	char created[TIMEU_RFC3339_LEN], expires[TIMEU_RFC3339_LEN];
	timeu_rfc3339(u->created, created);
	timeu_rfc3339(u->modified + srv->conf.upload_expiry, expires);
	json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:b,s:s,s:s}", "id", u->id, "path", u->path,
	                      "length", (json_int_t)u->length, "offset", (json_int_t)u->received,
	                      "done", u->done, "created", created, "expires", expires);
	if (u->sha256[0] != '\0')
		json_object_set_new(o, "sha256", json_string(u->sha256));
	return o;
}

static void offset_header(struct req *r, int64_t off)
{
	char v[24];
	snprintf(v, sizeof v, "%lld", (long long)off);
	req_header(r, HDR_OFFSET, v);
}

/* Start the reply's headers over: the tus version and the offset. */
static void fresh_headers(struct req *r, int64_t off)
{
	r->nxhdr = 0;
	req_header(r, HDR_TUS, TUS_VERSION);
	offset_header(r, off);
}

/* Load the upload named by route parameter 0 (the caller's only). */
static tether_err load(struct req *r, struct upload_rec *u)
{
	tether_err e = store_upload_get(r->srv->store, r->params.v[0], r->user.id, u);
	if (e == TETHER_E_NOT_FOUND)
		return req_error(r, e, "no such upload: %s", r->params.v[0]);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot read the upload");
	return TETHER_E_OK;
}

/* An errno from the owner's side as the API error a user can act on. */
tether_err api_errno_error(struct req *r, int err, const char *what, const char *path)
{
	tether_err e = TETHER_E_INTERNAL;
	switch (err) {
	case ENOENT: case ENOTDIR:
		e = TETHER_E_NOT_FOUND;
		break;
	case EACCES: case EPERM: case EROFS:
		e = TETHER_E_FORBIDDEN;
		break;
	case EISDIR: case EEXIST: case ELOOP:
		e = TETHER_E_CONFLICT;
		break;
	case ENAMETOOLONG:
		e = TETHER_E_INVALID_ARGUMENT;
		break;
	case ENOSPC: case EDQUOT:
		e = TETHER_E_INSUFFICIENT_STORAGE;
		break;
	case ETIMEDOUT:   /* the owner's file system did not answer (files_start) */
		return req_error(r, TETHER_E_UNAVAILABLE, "%s %s: no answer from its file system "
		                 "within %d s (user_io_timeout)", what, path, account_io_ms() / 1000);
	}
	return req_error(r, e, "%s %s: %s", what, path, strerror(err));
}

/* The last byte is in: check the declared SHA-256, put the file in place. */
static tether_err commit(struct req *r, struct upload_append *a, int64_t now)
{
	struct upload_rec *u = &a->rec;
	char why[BOUND_PATH + 128];
	if (u->sha256[0] != '\0') {
		uint8_t got[CRYPTO_SHA256_LEN];
		char hex[2 * CRYPTO_SHA256_LEN + 1];
		struct files_reader rd;
		struct account o;
		int err;
		if (account_of(&r->user, &o, why, sizeof why) != TETHER_E_OK)
			return req_error(r, TETHER_E_FORBIDDEN, "%s", why);
		/* read back by the owner's child, never by root */
		if (files_start(&o, u->partial, FILES_SHA256, 0, -1, &rd, &err) != 0)
			return api_errno_error(r, err, "cannot read back", u->partial);
		err = rd.head.err != 0 ? rd.head.err
		    : rd.head.size != u->length ? EIO
		    : files_read_all(&rd, got, sizeof got, files_hash_ms(u->length)) != 0 ? EIO : 0;
		files_end(&rd);
		if (err != 0)
			return api_errno_error(r, err, "cannot read back", u->partial);
		crypto_hex(got, sizeof got, hex);
		if (strcmp(hex, u->sha256) != 0) {
			/* every append matched its checksum, so the sender's file
			 * changed under it: only a fresh start makes a true copy
			 * (the next append cuts the partial back to offset 0) */
			if (store_upload_set(r->srv->store, u->id, 0, false, now) != TETHER_E_OK)
				return req_error(r, TETHER_E_INTERNAL, "cannot reset the upload");
			fresh_headers(r, 0);
			return req_error(r, TETHER_E_CHECKSUM_MISMATCH, "the file's SHA-256 is %s, not "
			                 "the declared %s; the upload starts again at offset 0",
			                 hex, u->sha256);
		}
	}
	if (upload_owner_op(&r->user, u, "commit", why, sizeof why) != NULL)
		return req_error(r, TETHER_E_CONFLICT, "%s", why);
	u->done = true;
	upload_log("upload_done", r->user.name, u);
	return TETHER_E_OK;
}

/* ---- handlers ---- */

/* OPTIONS /v1/uploads: tus discovery (no login needed: it tells nothing
 * about anyone). */
tether_err api_upload_options(struct req *r)
{
	char max[24];
	req_header(r, HDR_TUS, TUS_VERSION);
	req_header(r, "Tus-Version", TUS_VERSION);
	req_header(r, "Tus-Extension", "creation,termination,checksum");
	req_header(r, "Tus-Checksum-Algorithm", "sha1,sha256");
	snprintf(max, sizeof max, "%lld", (long long)(INT64_MAX / 2));
	req_header(r, "Tus-Max-Size", max);
	return req_reply(r, 204, NULL);
}

/* A tus creation (empty POST): length from Upload-Length, the rest from
 * Upload-Metadata, into the buffers given. */
static tether_err tus_create_args(struct req *r, char *path, size_t pathsz, char *sha,
                                  size_t shasz, int64_t *length, int64_t *mode)
{
	char m[16];
	const char *len = req_get_header(r, "Upload-Length");
	const char *meta = req_get_header(r, "Upload-Metadata");
	if (req_get_header(r, "Upload-Defer-Length") != NULL)
		return req_error(r, TETHER_E_BAD_REQUEST, "Upload-Defer-Length is not supported: "
		                 "give Upload-Length");
	if (len == NULL || strparse_i64(len, 0, INT64_MAX / 2, length) != 0)
		return req_error(r, TETHER_E_BAD_REQUEST, "expected a JSON body with path and "
		                 "length, or tus's Upload-Length header");
	if (meta == NULL)
		meta = "";
	int p = tus_meta(meta, "path", path, pathsz);
	if (p == 0)
		p = tus_meta(meta, "filename", path, pathsz);
	if (p <= 0)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, p < 0 ? "malformed Upload-Metadata"
		                 : "Upload-Metadata must give the file: path (or filename)");
	sha[0] = '\0';
	int hm = tus_meta(meta, "mode", m, sizeof m);
	if (tus_meta(meta, "sha256", sha, shasz) < 0 || hm < 0)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "malformed Upload-Metadata");
	if (hm == 1 && strparse_i64(m, 0, 0777, mode) != 0)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "mode must be 0 to 511 (decimal)");
	return TETHER_E_OK;
}

/* POST /v1/uploads {"path", "length", "sha256"?}, or tus's creation */
tether_err api_upload_create(struct req *r)
{
	char why[200], tpath[BOUND_PATH], tsha[80];
	const char *path = NULL, *sha = NULL;
	int64_t length = 0, mode = 0666;
	if (tus_check(r) != TETHER_E_OK)
		return r->err;
	if (r->in == NULL) {
		if (tus_create_args(r, tpath, sizeof tpath - 128, tsha, sizeof tsha, &length,
		                    &mode) != TETHER_E_OK)
			return r->err;
		path = tpath;
		sha = tsha[0] ? tsha : NULL;
	} else if (jsonu_get_string(r->in, "path", true, BOUND_PATH - 128, &path, why,
	                            sizeof why) != JSONU_OK ||
	           jsonu_get_int(r->in, "length", true, 0, INT64_MAX / 2, &length, why,
	                         sizeof why) != JSONU_OK ||
	           jsonu_get_string(r->in, "sha256", false, 64, &sha, why, sizeof why) == JSONU_BAD ||
	           jsonu_get_int(r->in, "mode", false, 0, 0777, &mode, why, sizeof why) == JSONU_BAD) {
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	}
	size_t pl = strlen(path);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (pl == 0 || path[pl - 1] == '/' || strcmp(base, ".") == 0 || path_has_dotdot(path))
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "path must name a file, without '..' "
		                 "components: %s", path);
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c < 0x20)
			return req_error(r, TETHER_E_INVALID_ARGUMENT, "path has a control character");
	char hex[2 * CRYPTO_SHA256_LEN + 1] = "";
	if (sha != NULL) {
		size_t i;
		for (i = 0; sha[i] && i < 64; i++) {
			char c = sha[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
				break;
			hex[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
		}
		if (i != 64 || sha[i] != '\0')
			return req_error(r, TETHER_E_INVALID_ARGUMENT, "sha256 must be 64 hex digits");
		hex[64] = '\0';
	}
	struct account o;
	tether_err e = account_of(&r->user, &o, why, sizeof why);
	if (e != TETHER_E_OK)
		return req_error(r, e, "%s", why);
	int64_t now = timeu_now();

	struct upload_rec u = { .user_id = r->user.id, .length = length, .created = now,
	                        .modified = now };
	uint8_t rnd[UPLOAD_ID_LEN / 2];
	if (crypto_random(rnd, sizeof rnd) != 0)
		return req_error(r, TETHER_E_INTERNAL, "no randomness");
	crypto_hex(rnd, sizeof rnd, u.id);
	snprintf(u.sha256, sizeof u.sha256, "%s", hex);
	path_absolute(u.path, sizeof u.path, o.home, path);
	const char *slash = strrchr(u.path, '/');
	int dl = (int)(slash - u.path);
	if (snprintf(u.partial, sizeof u.partial, "%.*s/.%s.tether-up-%.12s.part", dl, u.path,
	             slash + 1, u.id) >= (int)sizeof u.partial)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "path too long");

	/* never wider than the source's mode, nor than the owner's umask allows */
	int err;
	if (upload_create_partial(&o, &u, (mode_t)mode & 0666, &err) != 0)
		return api_errno_error(r, err, "cannot create a file beside", u.path);
	e = store_upload_create(r->srv->store, &u, r->srv->conf.uploads_per_user);
	if (e == TETHER_E_OK && length == 0) {
		struct upload_append a = { .rec = u, .sock = -1 };
		e = commit(r, &a, now);
		if (e == TETHER_E_OK)
			e = store_upload_set(r->srv->store, u.id, 0, true, now);
		u.done = e == TETHER_E_OK;
		if (e != TETHER_E_OK) {
			upload_owner_op(&r->user, &u, "remove", why, sizeof why);
			store_upload_delete(r->srv->store, u.id);
			return r->err != TETHER_E_OK ? r->err : req_error(r, e, "cannot finish the upload");
		}
	} else if (e != TETHER_E_OK) {
		upload_owner_op(&r->user, &u, "remove", why, sizeof why);
		if (e == TETHER_E_LIMIT_EXCEEDED)
			return req_error(r, e, "you already have %lld unfinished uploads "
			                 "(uploads_per_user); finish or delete some first",
			                 (long long)r->srv->conf.uploads_per_user);
		return req_error(r, e, "cannot record the upload");
	}
	upload_log("upload_created", r->user.name, &u);
	char loc[48];
	snprintf(loc, sizeof loc, "/v1/uploads/%s", u.id);
	req_header(r, "Location", loc);
	offset_header(r, u.received);
	return req_reply(r, 201, upload_json(r->srv, &u));
}

/* GET or HEAD /v1/uploads/{id} */
tether_err api_upload_get(struct req *r)
{
	struct upload_rec u;
	if (tus_check(r) != TETHER_E_OK || load(r, &u) != TETHER_E_OK)
		return r->err;
	char v[24];
	offset_header(r, u.received);
	snprintf(v, sizeof v, "%lld", (long long)u.length);
	req_header(r, "Upload-Length", v);
	return req_reply(r, 200, upload_json(r->srv, &u));
}

/* DELETE /v1/uploads/{id} */
tether_err api_upload_remove(struct req *r)
{
	struct upload_rec u;
	char why[BOUND_PATH + 128];
	if (tus_check(r) != TETHER_E_OK || load(r, &u) != TETHER_E_OK)
		return r->err;
	if (upload_busy(u.id))
		return req_error(r, TETHER_E_CONFLICT, "an append to this upload is in progress");
	if (!u.done && upload_owner_op(&r->user, &u, "remove", why, sizeof why) != NULL)
		return req_error(r, TETHER_E_CONFLICT, "%s", why);
	if (store_upload_delete(r->srv->store, u.id) != TETHER_E_OK)
		return req_error(r, TETHER_E_INTERNAL, "cannot delete the upload");
	upload_log("upload_removed", r->user.name, &u);
	return req_reply(r, 204, NULL);
}

/* PATCH /v1/uploads/{id}, on the headers: may this append start? */
tether_err api_upload_append_begin(struct req *r)
{
	struct upload_append *a = calloc(1, sizeof *a);
	if (a == NULL)
		return req_error(r, TETHER_E_INTERNAL, "out of memory");
	a->sock = -1;
	r->ctx = a;
	r->ctx_free = upload_append_free;
	if (tus_check(r) != TETHER_E_OK || load(r, &a->rec) != TETHER_E_OK)
		return r->err;
	struct upload_rec *u = &a->rec;
	snprintf(a->id, sizeof a->id, "%s", u->id);
	offset_header(r, u->received);
	int64_t off;
	const char *h = req_get_header(r, HDR_OFFSET);
	if (h == NULL || strparse_i64(h, 0, INT64_MAX / 2, &off) != 0)
		return req_error(r, TETHER_E_BAD_REQUEST, "an append needs an Upload-Offset header "
		                 "(the byte offset it starts at)");
	if (u->done)
		return req_error(r, TETHER_E_CONFLICT, "this upload is complete");
	if (off != u->received)
		return req_error(r, TETHER_E_CONFLICT, "Upload-Offset %lld is not the upload's "
		                 "offset, %lld: ask for it (HEAD) and append from there",
		                 (long long)off, (long long)u->received);
	if (r->body_len > u->length - u->received)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%lld bytes at offset %lld go past "
		                 "the upload's length, %lld", (long long)r->body_len,
		                 (long long)off, (long long)u->length);
	h = req_get_header(r, HDR_CHECKSUM);
	const EVP_MD *md = EVP_sha256();
	if (h != NULL) {
		uint8_t sum[CRYPTO_SHA256_LEN + 3];
		bool sha1 = strncmp(h, "sha1 ", 5) == 0;
		long want = sha1 ? 20 : CRYPTO_SHA256_LEN;
		if ((!sha1 && strncmp(h, "sha256 ", 7) != 0) ||
		    crypto_b64_decode(h + (sha1 ? 5 : 7), sum, sizeof sum) != want)
			return req_error(r, TETHER_E_BAD_REQUEST, "Upload-Checksum must be "
			                 "'sha256 BASE64' or 'sha1 BASE64'");
		memcpy(a->want, sum, (size_t)want);
		a->want_len = (size_t)want;
		a->have_want = true;
		md = sha1 ? EVP_sha1() : md;
	}
	if (!upload_claim(a))
		return req_error(r, TETHER_E_CONFLICT, "another append to this upload is in "
		                 "progress");
	struct account o;
	char why[200];
	tether_err e = account_of(&r->user, &o, why, sizeof why);
	if (e != TETHER_E_OK)
		return req_error(r, e, "%s", why);
	int err;
	if (upload_writer_start(&o, a, &err) != 0) {
		if (err == ENOENT) {
			store_upload_delete(r->srv->store, u->id);
			return req_error(r, TETHER_E_NOT_FOUND, "the upload's partial file is gone; "
			                 "create a new upload");
		}
		if (err == UPLOAD_NOT_REGULAR)
			return req_error(r, TETHER_E_CONFLICT, "%s is not a regular file", u->partial);
		return api_errno_error(r, err, "cannot open", u->partial);
	}
	a->md = EVP_MD_CTX_new();
	if (a->md == NULL || EVP_DigestInit_ex(a->md, md, NULL) != 1)
		return req_error(r, TETHER_E_INTERNAL, "cannot start a digest");
	return TETHER_E_OK;
}

/* PATCH body bytes: written past the verified offset, hashed. */
tether_err api_upload_append_data(struct req *r, const char *data, size_t len)
{
	struct upload_append *a = r->ctx;
	if (a->got + (int64_t)len > r->body_len)
		return req_error(r, TETHER_E_BAD_REQUEST, "more bytes than Content-Length");
	int err;
	if (upload_writer_send(a, data, len, &err) != 0)
		return api_errno_error(r, err, "cannot write", a->rec.partial);
	EVP_DigestUpdate(a->md, data, len);
	a->got += (int64_t)len;
	metrics_bytes(METRICS_BYTES_UPLOAD, (int64_t)len);
	return TETHER_E_OK;
}

/* PATCH, the body all in: verify, make durable, move the offset. */
static tether_err append_done(struct req *r)
{
	struct upload_append *a = r->ctx;
	struct upload_rec *u = &a->rec;
	int64_t now = timeu_now();
	if (a->got != r->body_len)
		return req_error(r, TETHER_E_BAD_REQUEST, "the body ended early");
	uint8_t sum[EVP_MAX_MD_SIZE];
	if (EVP_DigestFinal_ex(a->md, sum, NULL) != 1)
		return req_error(r, TETHER_E_INTERNAL, "digest failed");
	if (a->have_want && !crypto_equal(sum, a->want, a->want_len))
		return req_error(r, TETHER_E_CHECKSUM_MISMATCH, "the body's checksum is not the one "
		                 "in Upload-Checksum; nothing was appended");
	int err;
	if (upload_writer_finish(a, &err) != 0)
		return api_errno_error(r, err, "cannot write", u->partial);
	u->received += a->got;
	if (u->received == u->length && commit(r, a, now) != TETHER_E_OK) {
		/* the bytes are in; a later empty append can retry the commit */
		if (r->err != TETHER_E_CHECKSUM_MISMATCH)
			store_upload_set(r->srv->store, u->id, u->received, false, now);
		return r->err;
	}
	if (store_upload_set(r->srv->store, u->id, u->received, u->done, now) != TETHER_E_OK)
		return req_error(r, TETHER_E_INTERNAL, "cannot record the offset");
	fresh_headers(r, u->received);
	return req_reply(r, 204, NULL);
}

tether_err api_upload_append(struct req *r)
{
	tether_err e = append_done(r);
	/* the append ends with its answer, not after it is sent: a request
	 * the client makes on reading it (a DELETE, the next PATCH) must not
	 * find this one still in progress */
	upload_unclaim(r->ctx);
	return e;
}
