/*
 * keyauth.h - public-key login on the daemon's side: single-use nonces
 * bound to a TLS connection, the keys a user may log in with (their own,
 * added with `tetherd user key add`, and with authorized_keys = yes those
 * of the mapped OS account's ~/.ssh/authorized_keys), and the check of a
 * login signature. The wire protocol is keylogin.h's; docs/authentication.md
 * describes it for users.
 */
#ifndef TETHER_KEYAUTH_H
#define TETHER_KEYAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "keylogin.h"
#include "sshkey.h"
#include "store.h"
#include "tetherd.h"

#define KEYAUTH_NONCE_TTL  60      /* seconds a nonce may be answered in */
#define KEYAUTH_NONCES     1024    /* outstanding nonces (the oldest go first) */
#define KEYAUTH_FILE_MAX   (1024 * 1024)   /* authorized_keys bytes read */

/* Make a nonce for user's login on the connection with this binding. */
int keyauth_nonce_new(const char *user, const unsigned char binding[KEYLOGIN_BINDING_LEN],
                      unsigned char nonce[KEYLOGIN_NONCE_LEN], int64_t now);

/* Use a nonce up: true if it was made for user, on this connection, less
 * than KEYAUTH_NONCE_TTL seconds ago, and not used before. */
bool keyauth_nonce_take(const char *user, const unsigned char binding[KEYLOGIN_BINDING_LEN],
                        const unsigned char nonce[KEYLOGIN_NONCE_LEN], int64_t now);

/* The keys one user may log in with, gathered for one request. */
struct keyset;

/* u's keys (u NULL: a user that does not exist, who has none). */
struct keyset *keyauth_keys(const struct server *srv, const struct user_rec *u);

/* Is k one of them? true with source ("tether" or "authorized_keys"). */
bool keyauth_match(struct keyset *ks, const struct sshkey *k, const char **source);

void keyauth_keys_free(struct keyset *ks);

/* Check a login signature: sig by k over keylogin_data(user, nonce,
 * binding, k). 0, or -1 with a reason for the log in err (never key or
 * signature bytes). */
int keyauth_verify(const struct sshkey *k, const char *user,
                   const unsigned char nonce[KEYLOGIN_NONCE_LEN],
                   const unsigned char binding[KEYLOGIN_BINDING_LEN],
                   const unsigned char *sig, size_t siglen, char *err, size_t errsz);

#endif
