/*
 * crypto.h - the few cryptographic operations tether needs, over OpenSSL.
 *
 * Random bytes, SHA-256, base64/hex, constant-time comparison, the password
 * KDF (scrypt) and key fingerprints. Nothing here invents cryptography: each
 * function is a thin, checked wrapper with fixed, reviewed parameters.
 */
#ifndef TETHER_CRYPTO_H
#define TETHER_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN     32
#define CRYPTO_FP_MAX         64   /* "SHA256:" + 43 base64 chars + NUL fits */
#define CRYPTO_PWHASH_MAX     160  /* encoded password hash */
#define CRYPTO_TOKEN_BYTES    32   /* 256-bit bearer tokens */
#define CRYPTO_TOKEN_TEXT     64   /* "tt_" + base64url(32) + NUL fits */

/* Fill buf with n cryptographically secure random bytes; 0 or -1. */
int crypto_random(void *buf, size_t n);

/* SHA-256 of data. */
void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);

/* Lower-case hex of n bytes into out (size >= 2n+1). */
void crypto_hex(const uint8_t *in, size_t n, char *out);

/* Base64 (url=false: standard alphabet; url=true: URL-safe alphabet),
 * pad=false drops '=' padding. Returns the length written (excluding NUL),
 * or 0 if outsz is too small. */
size_t crypto_b64_encode(const uint8_t *in, size_t n, bool url, bool pad,
                         char *out, size_t outsz);

/* Decode base64 in either alphabet, with or without padding; returns the
 * number of bytes written, or -1 on malformed input or short output. */
long crypto_b64_decode(const char *in, uint8_t *out, size_t outsz);

/* Constant-time equality of two equal-length byte strings. */
bool crypto_equal(const void *a, const void *b, size_t n);

/* Zero memory in a way the compiler will not elide. */
void crypto_wipe(void *p, size_t n);

/* Hash a password with scrypt and a random salt into an encoded string
 * "$scrypt$ln=15,r=8,p=1$SALT$HASH" (out size >= CRYPTO_PWHASH_MAX). */
int crypto_pw_hash(const char *password, char *out, size_t outsz);

/* Verify a password against an encoded hash, in constant time.
 * Returns 1 on match, 0 on mismatch, -1 on a malformed hash. */
int crypto_pw_verify(const char *password, const char *encoded);

/* Make a new random bearer token (text, "tt_" + base64url of 32 bytes) and
 * the hex SHA-256 of that text, which is all the server keeps. */
int crypto_token_new(char token[CRYPTO_TOKEN_TEXT],
                     char hash_hex[2 * CRYPTO_SHA256_LEN + 1]);

/* The hex SHA-256 of a token's text. */
void crypto_token_hash(const char *token, char hash_hex[2 * CRYPTO_SHA256_LEN + 1]);

/* "SHA256:<base64, no padding>" of a DER SubjectPublicKeyInfo (ssh style). */
void crypto_fingerprint_spki(const uint8_t *der, size_t len, char out[CRYPTO_FP_MAX]);

/* The same fingerprint from a PEM certificate; 0 or -1. */
int crypto_fingerprint_cert_pem(const char *pem, size_t len, char out[CRYPTO_FP_MAX]);

/* Convert "SHA256:xxx" into libcurl's pinned key form "sha256//xxx=" ; 0/-1. */
int crypto_fingerprint_to_curl_pin(const char *fp, char *out, size_t outsz);

#endif
