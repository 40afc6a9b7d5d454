/*
 * upload.h - the engine of resumable uploads received from other hosts
 * (the protocol and its HTTP face are in api-upload.c).
 *
 * Bytes go to a hidden partial file beside the destination, created and
 * opened as the owner (account.h hands the descriptor back), so the kernel
 * judges the path with the user's rights; the finished file is renamed
 * into place by the owner too. One append per upload runs at a time (the
 * registry below); untouched uploads expire (upload_expiry), swept by the
 * monitor through upload_expire.
 */
#ifndef TETHER_UPLOAD_H
#define TETHER_UPLOAD_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "account.h"
#include "crypto.h"
#include "store.h"
#include "tetherd.h"

/* An append in progress (one per upload). */
struct upload_append {
	struct upload_append *next;
	char              id[UPLOAD_ID_LEN + 1];
	struct upload_rec rec;
	int               fd;
	int64_t           got;
	EVP_MD_CTX       *md;
	uint8_t           want[CRYPTO_SHA256_LEN];   /* Upload-Checksum: sha256 or sha1 */
	size_t            want_len;
	bool              have_want;
};

/* Register a as the append in progress for its upload; false if one is. */
bool upload_claim(struct upload_append *a);
/* Is an append to upload id in progress? */
bool upload_busy(const char *id);
/* Unregister and free an append (its descriptor closed). */
void upload_append_free(void *arg);

/* As the owner: create up's partial file (never through a symlink, never
 * over a file; mode before the owner's umask) or open it for appending.
 * The descriptor, or -1 with *err the errno. */
int upload_create_partial(const struct account *o, const struct upload_rec *up, mode_t mode,
                          int *err);
int upload_open_partial(const struct account *o, const struct upload_rec *up, int *err);

/* As user u: op "remove" deletes up's partial file, "commit" renames it
 * into place. NULL, or why (written to why) it failed. */
const char *upload_owner_op(const struct user_rec *u, const struct upload_rec *up,
                            const char *op, char *why, size_t whysz);

/* SHA-256 of the first len bytes of fd into out; 0 or -1 (errno). */
int upload_hash(int fd, int64_t len, uint8_t out[CRYPTO_SHA256_LEN]);

/* Log an upload event (user, id, path, offset, length). */
void upload_log(const char *event, const char *user, const struct upload_rec *u);

/* Delete uploads untouched for upload_expiry (their partial files as the
 * owner); a batch per call, for the monitor. */
void upload_expire(struct server *srv, int64_t now);

#endif
