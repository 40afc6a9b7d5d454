/*
 * upload.c - resumable uploads into a tetherd's files (docs/api.md,
 * "Resumable uploads: /v1/uploads"; docs/transfers.md, "Resumable uploads
 * to another tetherd").
 *
 * Thin calls on /v1/uploads[/ID] over the client's request machinery: the
 * server holds the upload and its offset, so the caller's only state is
 * the id. An append sends its chunk from the caller's memory with the
 * chunk's SHA-256 and the offset it must land at; the caller's io hook
 * hears how far it has gone (to pace and show it) and may abandon it.
 */
#include <stdio.h>
#include <string.h>

#include "client-int.h"

/* True if id is a plausible upload id: hex digits, bounded. */
static bool upload_id_ok(const char *id)
{
	size_t n = strlen(id);
	return n > 0 && n <= TETHER_UPLOAD_ID_MAX && strspn(id, "0123456789abcdef") == n;
}

/* Resolve host and make "/v1/uploads/ID" after checking id. */
static tether_err upload_target(tether_client *c, const char *host, const char *id,
                                struct target *t, char *path, size_t pathsz)
{
	if (!upload_id_ok(id))
		return client_fail(c, TETHER_E_USAGE, "invalid upload id '%.80s'", id);
	snprintf(path, pathsz, "/v1/uploads/%s", id);
	return client_target(c, host, t);
}

/* Start an upload; see tether.h. */
tether_err tether_upload_create(tether_client *c, const char *host, const char *path,
                                int64_t length, int mode, const char *sha256,
                                char id[TETHER_UPLOAD_ID_MAX + 1])
{
	struct target t;
	json_t *reply = NULL;
	id[0] = '\0';
	tether_err e = client_target(c, host, &t);
	if (e != TETHER_E_OK)
		return e;
	json_t *body = json_pack("{s:s,s:I}", "path", path, "length", (json_int_t)length);
	if (body == NULL)
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	if (mode >= 0)
		json_object_set_new(body, "mode", json_integer(mode));
	if (sha256 != NULL)
		json_object_set_new(body, "sha256", json_string(sha256));
	e = client_request(c, &t, "POST", "/v1/uploads", body, &reply);
	json_decref(body);
	crypto_wipe(t.token, sizeof t.token);
	const char *got = json_string_value(json_object_get(reply, "id"));
	if (e == TETHER_E_OK && (got == NULL || !upload_id_ok(got)))
		e = client_fail(c, TETHER_E_PROTOCOL, "%s answered the upload without a valid id",
		                t.key);
	if (e == TETHER_E_OK)
		snprintf(id, TETHER_UPLOAD_ID_MAX + 1, "%s", got);
	json_decref(reply);
	return e;
}

/* The server's offset; see tether.h. */
tether_err tether_upload_query(tether_client *c, const char *host, const char *id,
                               int64_t *offset, bool *done)
{
	struct target t;
	char path[TETHER_UPLOAD_ID_MAX + 16];
	json_t *reply = NULL;
	tether_err e = upload_target(c, host, id, &t, path, sizeof path);
	if (e == TETHER_E_OK)
		e = client_request(c, &t, "GET", path, NULL, &reply);
	crypto_wipe(t.token, sizeof t.token);
	json_t *off = json_object_get(reply, "offset");
	if (e == TETHER_E_OK && !json_is_integer(off))
		e = client_fail(c, TETHER_E_PROTOCOL, "%s answered without the upload's offset",
		                t.key);
	if (e == TETHER_E_OK) {
		*offset = json_integer_value(off);
		*done = json_is_true(json_object_get(reply, "done"));
	}
	json_decref(reply);
	return e;
}

/* A chunk going out: where libcurl reads it from, and who hears of it. */
struct chunk {
	const char *data;
	size_t      len, pos;
	const struct tether_upload_io *io;
};

/* libcurl read callback: the next piece of the chunk. */
static size_t chunk_read(char *buf, size_t size, size_t n, void *arg)
{
	struct chunk *k = arg;
	size_t m = k->len - k->pos;
	if (m > size * n)
		m = size * n;
	memcpy(buf, k->data + k->pos, m);
	k->pos += m;
	if (k->io != NULL && k->io->progress != NULL && k->io->progress(k->io->ctx, k->pos) != 0)
		return CURL_READFUNC_ABORT;
	return m;
}

/* Append a chunk; see tether.h. */
tether_err tether_upload_append(tether_client *c, const char *host, const char *id,
                                int64_t offset, const void *data, size_t len,
                                const struct tether_upload_io *io)
{
	struct target t;
	struct request r;
	char path[TETHER_UPLOAD_ID_MAX + 16], hdr[128], b64[64];
	uint8_t md[CRYPTO_SHA256_LEN];
	struct chunk k = { .data = data, .len = len, .io = io };
	tether_err e = upload_target(c, host, id, &t, path, sizeof path);
	if (e != TETHER_E_OK)
		return e;
	e = request_prepare(c, c->curl, &t, "PATCH", path, NULL, &r, NULL);
	if (e == TETHER_E_OK) {
		crypto_sha256(data, len, md);
		crypto_b64_encode(md, sizeof md, false, true, b64, sizeof b64);
		snprintf(hdr, sizeof hdr, "Upload-Checksum: sha256 %s", b64);
		r.hdrs = curl_slist_append(r.hdrs, hdr);
		snprintf(hdr, sizeof hdr, "Upload-Offset: %lld", (long long)offset);
		r.hdrs = curl_slist_append(r.hdrs, hdr);
		r.hdrs = curl_slist_append(r.hdrs, "Content-Type: application/offset+octet-stream");
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, r.hdrs);
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_READFUNCTION, chunk_read);
		curl_easy_setopt(c->curl, CURLOPT_READDATA, &k);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		e = request_finish(c, c->curl, &r, request_perform(c, c->curl), NULL, NULL);
	}
	curl_easy_setopt(c->curl, CURLOPT_READDATA, NULL);
	request_release(c->curl, &r);
	crypto_wipe(t.token, sizeof t.token);
	return e;
}

/* Drop an upload; see tether.h. */
tether_err tether_upload_remove(tether_client *c, const char *host, const char *id)
{
	struct target t;
	char path[TETHER_UPLOAD_ID_MAX + 16];
	tether_err e = upload_target(c, host, id, &t, path, sizeof path);
	if (e == TETHER_E_OK)
		e = client_request(c, &t, "DELETE", path, NULL, NULL);
	crypto_wipe(t.token, sizeof t.token);
	return e;
}
