/*
 * tls.h - the daemon's key pair: load it, or make one on first start.
 *
 * Without --cert/--key tetherd generates an ECDSA P-256 key and a
 * self-signed certificate in its state dir (key file 0600, written
 * atomically), so a fresh install is TLS-only from its first second.
 * Clients pin the SHA-256 fingerprint of the public key (ssh style), or
 * verify a CA-signed certificate given with --cert (which may be followed
 * by its intermediates) against their organisation's CA.
 */
#ifndef TETHER_TLS_H
#define TETHER_TLS_H

#include <stddef.h>

#include "crypto.h"

struct tls_pair {
	char  *cert_pem;   /* malloc'd */
	char  *key_pem;    /* malloc'd; wiped by tls_pair_free */
	char   fingerprint[CRYPTO_FP_MAX];
	int    generated;  /* 1 if made by this call */
	int    ncerts;     /* certificates in cert_pem: the server's, then its chain */
};

/* Load cert and key from the given paths; if both are NULL or empty use
 * state_dir/cert.pem and key.pem, generating them if absent. The key
 * must be the first certificate's (checked here).
 * Returns 0, or -1 with a reason in err. */
int tls_load(const char *state_dir, const char *cert_path, const char *key_path,
             struct tls_pair *out, char *err, size_t errsz);

/* Release a pair (the key text is wiped first). */
void tls_pair_free(struct tls_pair *p);

#endif
