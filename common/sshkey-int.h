/*
 * sshkey-int.h - what sshkey.c shares with sshkey-private.c: the key
 * structure and the table of supported types. Not for other modules.
 */
#ifndef TETHER_SSHKEY_INT_H
#define TETHER_SSHKEY_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "sshkey.h"

#define SSHKEY_RSA_MIN_BITS 2048
#define SSHKEY_RSA_MAX_BITS 16384
#define SSHKEY_ED25519_LEN  32

enum sshkey_kind { SSHKEY_ED25519, SSHKEY_ECDSA, SSHKEY_RSA };

struct sshkey_type {
	const char *name;     /* the SSH name: "ecdsa-sha2-nistp256" */
	int         kind;     /* enum sshkey_kind */
	const char *curve;    /* ECDSA: the SSH curve name, "nistp256" */
	const char *group;    /* ECDSA: OpenSSL's group name, "P-256" */
	const char *md;       /* ECDSA: the digest its signatures use */
	size_t      coordlen; /* ECDSA: bytes of one coordinate */
	int         bits;     /* fixed-size keys: their size */
};

struct sshkey {
	const struct sshkey_type *type;
	EVP_PKEY      *pkey;   /* public, or private once sshkey_attach_private ran */
	unsigned char *blob;
	size_t         bloblen;
	int            bits;
	bool           priv;
};

/* The supported type with this SSH name, or NULL. */
const struct sshkey_type *sshkey_type_by_name(const char *name, size_t len);

/* Format an error into err (if given). */
void sshkey_seterr(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Make k a private key with priv, which must hold k's public key; takes
 * priv on success. 0, or -1 (err says why). */
int sshkey_attach_private(struct sshkey *k, EVP_PKEY *priv, char *err, size_t errsz);

#endif
