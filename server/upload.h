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
	int               sock;      /* the writer child's channel (upload_writer_start), or -1 */
	pid_t             pid;
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
/* Unregister a (no longer the append in progress; harmless if it is not). */
void upload_unclaim(struct upload_append *a);
/* Unregister and free an append (its writer ended). */
void upload_append_free(void *arg);

/* As the owner: create up's partial file (never through a symlink, never
 * over a file; mode before the owner's umask). 0, or -1 with *err the
 * errno. */
int upload_create_partial(const struct account *o, const struct upload_rec *up, mode_t mode,
                          int *err);

/* An append's bytes are written by the owner's child (account_channel),
 * never by root: a partial file on a stalled file system stalls only that
 * child, and every exchange with it has a deadline (user_io_timeout, account_io_ms).
 * upload_writer_start: the child opens a's partial file (never through a
 * symlink; a regular file only) and cuts it back to the verified offset;
 * 0, or -1 with *err the errno (ETIMEDOUT: it did not answer in time).
 * upload_writer_send: the next body bytes; 0 or -1 (*err).
 * upload_writer_finish: the body is all sent; the child flushes the file
 * to disk (fdatasync) and says how it went; 0 or -1 (*err). The writer is
 * ended (by upload_append_free) whatever happens. */
#define UPLOAD_NOT_REGULAR (-2)   /* *err: the partial file is not a regular file */
int upload_writer_start(const struct account *o, struct upload_append *a, int *err);
int upload_writer_send(struct upload_append *a, const void *data, size_t len, int *err);
int upload_writer_finish(struct upload_append *a, int *err);

/* As user u: op "remove" deletes up's partial file, "commit" renames it
 * into place. NULL, or why (written to why) it failed. */
const char *upload_owner_op(const struct user_rec *u, const struct upload_rec *up,
                            const char *op, char *why, size_t whysz);

/* Log an upload event (user, id, path, offset, length). */
void upload_log(const char *event, const char *user, const struct upload_rec *u);

/* Delete uploads untouched for upload_expiry (their partial files as the
 * owner); a batch per call, for the monitor. */
void upload_expire(struct server *srv, int64_t now);

#endif
