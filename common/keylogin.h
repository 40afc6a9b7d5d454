/*
 * keylogin.h - what both sides of a public-key login agree on.
 *
 * A key login is two requests on one TLS connection (docs/authentication.md):
 * the client names the user and offers public keys; the server answers with
 * a fresh single-use nonce and which keys it would accept. The client then
 * signs keylogin_data() with an accepted key and sends the signature. The
 * data binds the user, the nonce, the key and the TLS connection itself
 * (an RFC 5705 exporter value both ends derive from the handshake), so a
 * signature captured anywhere is worthless on any other connection or to
 * any other server. It is wrapped as OpenSSH's SSHSIG signed data in its
 * own namespace, so it can never pass for an SSH login signature either.
 */
#ifndef TETHER_KEYLOGIN_H
#define TETHER_KEYLOGIN_H

#include <stddef.h>

#include "buf.h"

#define KEYLOGIN_NAMESPACE      "login@tether"
#define KEYLOGIN_EXPORTER_LABEL "EXPORTER-tether-login"
#define KEYLOGIN_EXPORTER_CTX   "v1"
#define KEYLOGIN_BINDING_LEN    32
#define KEYLOGIN_NONCE_LEN      32
#define KEYLOGIN_OFFER_MAX      16   /* keys offered in one challenge */

/* The bytes a key signs to log user in: SSHSIG signed data over
 * "tether-login-v1", user, nonce, binding and the key's blob (each an SSH
 * string). 0, or -1 (out of memory). out is initialised here. */
int keylogin_data(const char *user, const unsigned char nonce[KEYLOGIN_NONCE_LEN],
                  const unsigned char binding[KEYLOGIN_BINDING_LEN],
                  const unsigned char *blob, size_t bloblen, struct buf *out);

#endif
