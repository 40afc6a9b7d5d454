/*
 * sshkey.h - OpenSSH keys and signatures, for public-key login.
 *
 * Everything here reads bytes a peer or a user chose (authorized_keys lines,
 * key blobs and signatures from the network, private key files), so every
 * parser is bounded and fuzzed (tests/fuzz/fuzz_sshkey.c). Crypto is
 * OpenSSL's. Supported: ssh-ed25519, ecdsa-sha2-nistp256/384/521, and ssh-rsa
 * keys (2048 bits or more) signing with rsa-sha2-256 or rsa-sha2-512 only
 * (never SHA-1). Signatures are in the SSH wire format (string algorithm,
 * string blob), as ssh-agent returns them. See docs/authentication.md.
 */
#ifndef TETHER_SSHKEY_H
#define TETHER_SSHKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define SSHKEY_BLOB_MAX    4096   /* a public key blob (RSA up to 16384 bits) */
#define SSHKEY_SIG_MAX     4096   /* an SSH signature */
#define SSHKEY_LINE_MAX    16384  /* one authorized_keys / .pub line */
#define SSHKEY_COMMENT_MAX 256
#define SSHKEY_FP_LEN      51     /* "SHA256:" + 43 base64 chars + NUL */
#define SSHKEY_PRIVATE_MAX (64 * 1024)  /* a private key file */
/* The most bcrypt rounds an encrypted OpenSSH key file may ask for
 * (ssh-keygen -a; its default is 16): each round costs ~10 ms here, so
 * a file cannot make loading take more than seconds. Fuzzing builds cap
 * it much lower so that the fuzzer measures parsing, not the kdf. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define SSHKEY_KDF_ROUNDS_MAX 2
#else
#define SSHKEY_KDF_ROUNDS_MAX 1024
#endif

/* A public key, or a private one loaded by sshkey_load_private. */
struct sshkey;

/* Parse one line of an authorized_keys or .pub file: "TYPE BASE64
 * [COMMENT]". 1 with *out set (and the comment, trimmed, bounded), 0 for a
 * blank or '#' line, -1 for a malformed or unsupported key (err says why),
 * -2 for a line that starts with options (command=, from=, restrict, ...):
 * tether never half-honours those; err names the first option. */
int sshkey_parse_line(const char *line, size_t len, struct sshkey **out,
                      char *comment, size_t commentsz, char *err, size_t errsz);

/* A public key from its wire blob; NULL (err says why) if malformed or
 * unsupported. The blob's type string must match its contents. */
struct sshkey *sshkey_from_blob(const unsigned char *blob, size_t len,
                                char *err, size_t errsz);

/* The key's wire blob (the public part, also for a private key). */
const unsigned char *sshkey_blob(const struct sshkey *k, size_t *len);

/* "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ... */
const char *sshkey_type(const struct sshkey *k);

/* The key size in bits (256 for ed25519 and P-256, the modulus for RSA). */
int sshkey_bits(const struct sshkey *k);

/* "SHA256:<base64 without padding>", as ssh-keygen -l prints it. */
void sshkey_fingerprint(const struct sshkey *k, char out[SSHKEY_FP_LEN]);

/* Same public key? */
bool sshkey_equal(const struct sshkey *a, const struct sshkey *b);

void sshkey_free(struct sshkey *k);

/* The bytes an SSH key signs for a message in a namespace: OpenSSH's
 * SSHSIG "signed data" (magic "SSHSIG", namespace, reserved, "sha512",
 * SHA-512 of msg), so a login signature can never pass for an SSH
 * authentication or any other protocol's. Appended to out. 0, or -1 (out
 * of room, or an empty namespace, which ssh-keygen -Y refuses too). */
int sshkey_sshsig_data(const char *ns, const unsigned char *msg, size_t len,
                       struct buf *out);

/* Verify an SSH signature (string algorithm, string blob) by k over data.
 * The algorithm must fit the key (ssh-rsa, i.e. SHA-1, is refused). 0 if
 * it verifies; -1 otherwise, err says why (never includes key or
 * signature bytes). */
int sshkey_verify(const struct sshkey *k, const unsigned char *sig, size_t siglen,
                  const unsigned char *data, size_t len, char *err, size_t errsz);

/* Sign data with a private key; RSA signs with rsa-sha2-512. The signature
 * (SSH wire format) is appended to sig. 0, or -1. */
int sshkey_sign(const struct sshkey *k, const unsigned char *data, size_t len,
                struct buf *sig);

/* sshkey_load_private's results. */
enum {
	SSHKEY_OK = 0,
	SSHKEY_E_FORMAT = -1,      /* not a key file we can read (err says why) */
	SSHKEY_E_PASSPHRASE = -2,  /* encrypted: no passphrase given, or wrong */
	SSHKEY_E_UNSUPPORTED = -3, /* a key type or cipher we don't support */
};

/* Load a private key file's text: OpenSSH's own format ("BEGIN OPENSSH
 * PRIVATE KEY": unencrypted, or bcrypt-pbkdf with aes256-ctr / aes256-cbc /
 * aes128-ctr / aes256-gcm@openssh.com) or PEM / PKCS#8 (via OpenSSL).
 * passphrase may be NULL. *out is a private key usable with sshkey_sign. */
int sshkey_load_private(const char *text, size_t len, const char *passphrase,
                        struct sshkey **out, char *err, size_t errsz);

#endif
