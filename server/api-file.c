/*
 * api-file.c - a user's files by path, for `tether copy` (docs/copy.md,
 * docs/api.md "Files").
 *
 *   GET   /v1/files?path=P[&sha256=1][&entries=1[&after=NAME]]
 *                          what P is: type, size, mode, mtime; the SHA-256
 *                          of a file; a directory's entries, a page at a time
 *   GET   /v1/files/content?path=P   a file's bytes, Range: bytes=N- honoured
 *   POST  /v1/files {"path", "type": "directory", "mode"?}   make a directory
 *   PATCH /v1/files {"path", "mode"?, "mtime"?}   set mode and modification time
 *
 * Files are written by the upload engine (api-upload.c); this is the rest
 * of what copying needs. Every path is opened, listed or changed by the
 * owner's account (files.h): root never looks a user's path up by name,
 * so the user's rights decide, and a symlink leads only where the user
 * could go. A relative path is under the account's home. Bytes and hashes
 * are read by the owner's child too and come over a pipe, each part with a
 * deadline: a file on a stalled file system never holds root, and a reply
 * is never held whole. Only a regular file is read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "crypto.h"
#include "files.h"
#include "jsonu.h"
#include "strparse.h"
#include "upload.h"
#include "userfile.h"

/* ---- helpers ---- */

/* The caller's account and the absolute form of path into abs. */
static tether_err resolve(struct req *r, const char *path, struct account *o, char *abs,
                          size_t abssz)
{
	char why[300];
	if (path[0] == '\0')
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "path must not be empty");
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return req_error(r, TETHER_E_INVALID_ARGUMENT, "path has a control character");
	tether_err e = account_of(&r->user, o, why, sizeof why);
	if (e != TETHER_E_OK)
		return req_error(r, e, "%s", why);
	if (strlen(o->home) + strlen(path) + 2 > abssz)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "path too long");
	path_absolute(abs, abssz, o->home, path);
	return TETHER_E_OK;
}

/* The path query parameter, required, resolved. */
static tether_err query_path(struct req *r, struct account *o, char *abs, size_t abssz)
{
	char path[BOUND_PATH];
	int got = req_query_str(r, "path", path, sizeof path);
	if (got < 0)
		return r->err;
	if (got == 0)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "the path query parameter is "
		                 "required (percent-encoded; relative paths are under your home)");
	return resolve(r, path, o, abs, abssz);
}

/* The body's path, required, resolved. */
static tether_err body_path(struct req *r, struct account *o, char *abs, size_t abssz)
{
	char why[200];
	const char *path = NULL;
	if (r->in == NULL)
		return req_error(r, TETHER_E_BAD_REQUEST, "expected a JSON body with a path");
	if (jsonu_get_string(r->in, "path", true, BOUND_PATH - 1, &path, why, sizeof why) !=
	    JSONU_OK)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	return resolve(r, path, o, abs, abssz);
}

/* Start reading abs as the owner (files_start); 0, or -1 with the error
 * recorded and nothing left to end. */
static int start_as_owner(struct req *r, const struct account *o, const char *abs,
                          enum files_what what, int64_t from, int64_t to,
                          struct files_reader *rd)
{
	int err;
	if (files_start(o, abs, what, from, to, rd, &err) != 0) {
		api_errno_error(r, err, "cannot open", abs);
		return -1;
	}
	if (rd->head.err != 0) {
		api_errno_error(r, rd->head.err, "cannot open", abs);
		files_end(rd);
		return -1;
	}
	return 0;
}

/* A part of the reply: the owner's file system stalling longer than
 * user_io_timeout ends it short (the client resumes later). */
static ssize_t content_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
	(void)pos;   /* the pipe is read in order, as libmicrohttpd asks */
	return files_read(ctx, buf, max, account_io_ms());
}

static void content_done(void *ctx)
{
	files_end(ctx);
	free(ctx);
}

/* Parse "bytes=N-" or "bytes=N-M" into [*from, *to] (to -1: the end); 0 or -1. */
static int parse_range(const char *h, int64_t *from, int64_t *to)
{
	char a[24], b[24];
	if (strncmp(h, "bytes=", 6) != 0)
		return -1;
	h += 6;
	const char *dash = strchr(h, '-');
	if (dash == NULL || dash == h || (size_t)(dash - h) >= sizeof a || strlen(dash + 1) >= sizeof b)
		return -1;
	snprintf(a, sizeof a, "%.*s", (int)(dash - h), h);
	snprintf(b, sizeof b, "%s", dash + 1);
	if (strparse_i64(a, 0, INT64_MAX, from) != 0)
		return -1;
	*to = -1;
	if (b[0] != '\0' && (strparse_i64(b, 0, INT64_MAX, to) != 0 || *to < *from))
		return -1;
	return 0;
}

/* ---- handlers ---- */

/* GET /v1/files?path=P[&sha256=1][&entries=1[&after=NAME]] */
tether_err api_file_stat(struct req *r)
{
	struct account o;
	char abs[BOUND_PATH + 8], after[256] = "";
	int64_t want_sha, want_entries;
	if (query_path(r, &o, abs, sizeof abs) != TETHER_E_OK ||
	    req_query_i64(r, "sha256", 0, 1, 0, &want_sha) != 0 ||
	    req_query_i64(r, "entries", 0, 1, 0, &want_entries) != 0 ||
	    req_query_str(r, "after", after, sizeof after) < 0)
		return r->err;
	struct files_reader rd;
	if (start_as_owner(r, &o, abs, want_sha ? FILES_SHA256 : FILES_HEAD, 0, -1, &rd) != 0)
		return r->err;
	mode_t mode = (mode_t)rd.head.mode;
	json_t *out = json_pack("{s:s,s:s,s:I,s:i,s:I}", "path", abs, "type",
	                        files_type(mode), "size", (json_int_t)rd.head.size,
	                        "mode", (int)(mode & 07777), "mtime",
	                        (json_int_t)rd.head.mtime);
	if (want_sha && S_ISREG(mode)) {
		uint8_t md[CRYPTO_SHA256_LEN];
		char hex[2 * CRYPTO_SHA256_LEN + 1];
		if (files_read_all(&rd, md, sizeof md, files_hash_ms(rd.head.size)) != 0) {
			files_end(&rd);
			json_decref(out);
			return req_error(r, TETHER_E_UNAVAILABLE, "cannot read %s to its end in time "
			                 "(its file system did not answer: user_io_timeout)", abs);
		}
		crypto_hex(md, sizeof md, hex);
		json_object_set_new(out, "sha256", json_string(hex));
	}
	files_end(&rd);
	if (want_entries && S_ISDIR(mode)) {
		int err;
		json_t *page = files_list(&o, abs, after, &err);
		if (page == NULL) {
			json_decref(out);
			return api_errno_error(r, err, "cannot list", abs);
		}
		json_object_update(out, page);
		json_decref(page);
	}
	return req_reply(r, 200, out);
}

/* GET /v1/files/content?path=P, Range: bytes=N-[M] */
tether_err api_file_content(struct req *r)
{
	struct account o;
	char abs[BOUND_PATH + 8], v[80];
	int64_t from = 0, to = -1;
	const char *range = req_get_header(r, "Range");
	if (query_path(r, &o, abs, sizeof abs) != TETHER_E_OK)
		return r->err;
	if (range != NULL && parse_range(range, &from, &to) != 0)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "Range must be bytes=N- or "
		                 "bytes=N-M (one range)");
	struct files_reader *rd = malloc(sizeof *rd);
	if (rd == NULL)
		return req_error(r, TETHER_E_INTERNAL, "out of memory");
	if (start_as_owner(r, &o, abs, FILES_BYTES, from, to, rd) != 0) {
		free(rd);
		return r->err;
	}
	mode_t mode = (mode_t)rd->head.mode;
	int64_t size = rd->head.size;
	if (!S_ISREG(mode) || (range != NULL && from >= size && !(from == 0 && size == 0))) {
		content_done(rd);
		if (S_ISDIR(mode))
			return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s is a directory (copy it "
			                 "with -r)", abs);
		if (!S_ISREG(mode))
			return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s is not a regular file", abs);
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "Range starts at %lld, past the "
		                 "end of %s (%lld bytes)", (long long)from, abs, (long long)size);
	}
	snprintf(v, sizeof v, "%lld", (long long)size);
	req_header(r, "X-Tether-Size", v);
	req_header(r, "Accept-Ranges", "bytes");
	if (range != NULL && size > 0) {
		snprintf(v, sizeof v, "bytes %lld-%lld/%lld", (long long)rd->from,
		         (long long)(rd->from + rd->len - 1), (long long)size);
		req_header(r, "Content-Range", v);
	}
	return req_reply_stream(r, range != NULL && size > 0 ? 206 : 200, (uint64_t)rd->len,
	                        content_read, content_done, rd);
}

/* POST /v1/files {"path", "type": "directory", "mode"?} */
tether_err api_file_mkdir(struct req *r)
{
	struct account o;
	char abs[BOUND_PATH + 8], why[200];
	const char *type = NULL;
	int64_t mode = 0777;
	int created = 0, err;
	if (body_path(r, &o, abs, sizeof abs) != TETHER_E_OK)
		return r->err;
	if (jsonu_get_string(r->in, "type", true, 32, &type, why, sizeof why) != JSONU_OK ||
	    jsonu_get_int(r->in, "mode", false, 0, 07777, &mode, why, sizeof why) == JSONU_BAD)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	if (strcmp(type, "directory") != 0)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "only \"type\": \"directory\" is "
		                 "made here (files are uploaded: POST /v1/uploads)");
	if (files_mkdir(&o, abs, (mode_t)mode, &created, &err) != 0)
		return api_errno_error(r, err, "cannot make directory", abs);
	return req_reply(r, created ? 201 : 200, json_pack("{s:s,s:s,s:b}", "path", abs,
	                                                   "type", "directory", "created",
	                                                   created));
}

/* PATCH /v1/files {"path", "mode"?, "mtime"?} */
tether_err api_file_set(struct req *r)
{
	struct account o;
	char abs[BOUND_PATH + 8], why[200];
	int64_t mode = -1, mtime = -1;
	int err;
	if (body_path(r, &o, abs, sizeof abs) != TETHER_E_OK)
		return r->err;
	if (jsonu_get_int(r->in, "mode", false, 0, 07777, &mode, why, sizeof why) == JSONU_BAD ||
	    jsonu_get_int(r->in, "mtime", false, 0, INT64_MAX / 2, &mtime, why, sizeof why) ==
	    JSONU_BAD)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	if (mode < 0 && mtime < 0)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "nothing to set: give mode, mtime "
		                 "or both");
	if (files_set(&o, abs, (int)mode, mtime, &err) != 0)
		return api_errno_error(r, err, "cannot change", abs);
	return req_reply(r, 200, json_pack("{s:s}", "path", abs));
}
