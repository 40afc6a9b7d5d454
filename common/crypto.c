/*
 * crypto.c - thin, checked wrappers over OpenSSL 3 for tether's few needs.
 *
 * Hashing, randomness, scrypt and certificate parsing come from OpenSSL.
 * Base64 is written out here because tether needs both alphabets, optional
 * padding and a strict decoder, none of which EVP_EncodeBlock offers. The
 * scrypt cost is fixed when hashing, but read back from the encoded string
 * when verifying (within sane limits), so it can be raised later without
 * invalidating stored hashes.
 */
#include "crypto.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "strparse.h"

#define SCRYPT_LN      15
#define SCRYPT_R       8
#define SCRYPT_P       1
#define SCRYPT_MAXMEM  (64u * 1024 * 1024)
#define SCRYPT_SALT    16
#define SCRYPT_KEY     32
#define FP_PREFIX      "SHA256:"
#define PIN_PREFIX     "sha256//"

/* Fill buf with n secure random bytes. */
int crypto_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		int k = n > INT_MAX ? INT_MAX : (int)n;

		if (RAND_bytes(p, k) != 1)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* SHA-256 of len bytes. */
void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	SHA256(len ? data : (const void *)"", len, out);
}

/* Lower-case hex of n bytes. */
void crypto_hex(const uint8_t *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Encode n bytes as base64 in the chosen alphabet, with or without padding. */
size_t crypto_b64_encode(const uint8_t *in, size_t n, bool url, bool pad,
                         char *out, size_t outsz)
{
	const char *abc = url
		? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t need, o = 0, i;

	if (n > (SIZE_MAX - 4) / 4 * 3)
		return 0;
	need = pad ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	if (outsz < need + 1)
		return 0;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = abc[v >> 18];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = abc[v >> 6 & 63];
		out[o++] = abc[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		out[o++] = abc[v >> 18];
		out[o++] = abc[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = abc[v >> 6 & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* The 6-bit value of a base64 character in either alphabet, or -1. */
static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Strictly decode base64 (either alphabet, padding optional). */
long crypto_b64_decode(const char *in, uint8_t *out, size_t outsz)
{
	size_t n, pad = 0, need, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (!in)
		return -1;
	n = strlen(in);
	while (pad < n && in[n - 1 - pad] == '=')
		pad++;
	if (pad && (pad > 2 || n % 4))
		return -1;
	n -= pad;
	if (n % 4 == 1 || n / 4 > (size_t)LONG_MAX / 3)
		return -1;
	need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > outsz)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1))   /* non-canonical: leftover bits set */
		return -1;
	return (long)o;
}

/* Constant-time comparison of n bytes. */
bool crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* Zero n bytes, surviving dead-store elimination. */
void crypto_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

/* Run scrypt with the given cost parameters. */
static int scrypt(const char *pw, const uint8_t *salt, size_t saltlen, unsigned ln,
                  unsigned r, unsigned p, uint8_t *key, size_t keylen)
{
	return EVP_PBE_scrypt(pw, strlen(pw), salt, saltlen, (uint64_t)1 << ln, r, p,
	                      SCRYPT_MAXMEM, key, keylen) == 1 ? 0 : -1;
}

/* Hash a password into "$scrypt$ln=15,r=8,p=1$SALT$HASH". */
int crypto_pw_hash(const char *password, char *out, size_t outsz)
{
	uint8_t salt[SCRYPT_SALT], key[SCRYPT_KEY];
	char s64[32], k64[48];
	int n, r = -1;

	if (crypto_random(salt, sizeof salt) < 0 ||
	    scrypt(password, salt, sizeof salt, SCRYPT_LN, SCRYPT_R, SCRYPT_P,
	           key, sizeof key) < 0)
		goto out;
	crypto_b64_encode(salt, sizeof salt, false, false, s64, sizeof s64);
	crypto_b64_encode(key, sizeof key, false, false, k64, sizeof k64);
	n = snprintf(out, outsz, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", SCRYPT_LN, SCRYPT_R,
	             SCRYPT_P, s64, k64);
	r = n > 0 && (size_t)n < outsz ? 0 : -1;
out:
	crypto_wipe(key, sizeof key);
	crypto_wipe(k64, sizeof k64);
	return r;
}

/* Read "NAME=digits" followed by the character stop at *pp into *v. */
static int param(char **pp, const char *name, char stop, unsigned lo, unsigned hi,
                 unsigned *v)
{
	size_t nl = strlen(name);
	char *p = *pp, *end;
	uint64_t x;

	if (strncmp(p, name, nl) != 0 || p[nl] != '=')
		return -1;
	p += nl + 1;
	end = strchr(p, stop);
	if (!end || end - p > 2)
		return -1;
	*end = '\0';
	if (strparse_u64(p, lo, hi, &x) < 0)
		return -1;
	*v = (unsigned)x;
	*pp = end + 1;
	return 0;
}

/* Check a password against an encoded scrypt hash. */
int crypto_pw_verify(const char *password, const char *encoded)
{
	char copy[CRYPTO_PWHASH_MAX], *p, *hash;
	uint8_t salt[64], want[SCRYPT_KEY], got[SCRYPT_KEY];
	unsigned ln, r, pp;
	long saltlen;
	int res = -1;

	if (!password || !encoded || strparse_copy(copy, sizeof copy, encoded) < 0 ||
	    strncmp(copy, "$scrypt$", 8) != 0)
		return -1;
	p = copy + 8;
	if (param(&p, "ln", ',', 10, 20, &ln) < 0 || param(&p, "r", ',', 1, 16, &r) < 0 ||
	    param(&p, "p", '$', 1, 4, &pp) < 0)
		return -1;
	hash = strchr(p, '$');
	if (!hash)
		return -1;
	*hash++ = '\0';
	saltlen = crypto_b64_decode(p, salt, sizeof salt);
	if (saltlen < 8 || strchr(hash, '$') ||
	    crypto_b64_decode(hash, want, sizeof want) != (long)sizeof want)
		return -1;
	if (scrypt(password, salt, (size_t)saltlen, ln, r, pp, got, sizeof got) == 0)
		res = crypto_equal(got, want, sizeof got) ? 1 : 0;
	crypto_wipe(got, sizeof got);
	return res;
}

/* Make a random bearer token and the hash the server stores. */
int crypto_token_new(char token[CRYPTO_TOKEN_TEXT],
                     char hash_hex[2 * CRYPTO_SHA256_LEN + 1])
{
	uint8_t raw[CRYPTO_TOKEN_BYTES];

	if (crypto_random(raw, sizeof raw) < 0)
		return -1;
	memcpy(token, "tt_", 3);
	crypto_b64_encode(raw, sizeof raw, true, false, token + 3, CRYPTO_TOKEN_TEXT - 3);
	crypto_wipe(raw, sizeof raw);
	crypto_token_hash(token, hash_hex);
	return 0;
}

/* Hex SHA-256 of a token's text. */
void crypto_token_hash(const char *token, char hash_hex[2 * CRYPTO_SHA256_LEN + 1])
{
	uint8_t d[CRYPTO_SHA256_LEN];

	crypto_sha256(token, strlen(token), d);
	crypto_hex(d, sizeof d, hash_hex);
}

/* "SHA256:<base64 without padding>" of a DER SubjectPublicKeyInfo. */
void crypto_fingerprint_spki(const uint8_t *der, size_t len, char out[CRYPTO_FP_MAX])
{
	uint8_t d[CRYPTO_SHA256_LEN];

	crypto_sha256(der, len, d);
	memcpy(out, FP_PREFIX, sizeof FP_PREFIX - 1);
	crypto_b64_encode(d, sizeof d, false, false, out + sizeof FP_PREFIX - 1,
	                  CRYPTO_FP_MAX - (sizeof FP_PREFIX - 1));
}

/* Fingerprint the public key of a PEM certificate. */
int crypto_fingerprint_cert_pem(const char *pem, size_t len, char out[CRYPTO_FP_MAX])
{
	BIO *bio = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk;
	unsigned char *der = NULL;
	int n, r = -1;

	if (!pem || len > INT_MAX || !(bio = BIO_new_mem_buf(pem, (int)len)))
		goto out;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!x || !(pk = X509_get0_pubkey(x)))
		goto out;
	n = i2d_PUBKEY(pk, &der);
	if (n <= 0)
		goto out;
	crypto_fingerprint_spki(der, (size_t)n, out);
	r = 0;
out:
	if (r < 0)
		ERR_clear_error();
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	return r;
}

/* Turn "SHA256:xxx" into libcurl's "sha256//xxx=" pinned key form. */
int crypto_fingerprint_to_curl_pin(const char *fp, char *out, size_t outsz)
{
	uint8_t d[CRYPTO_SHA256_LEN];
	size_t pl = sizeof PIN_PREFIX - 1;

	if (!fp || strncmp(fp, FP_PREFIX, sizeof FP_PREFIX - 1) != 0 ||
	    crypto_b64_decode(fp + sizeof FP_PREFIX - 1, d, sizeof d) != (long)sizeof d ||
	    outsz <= pl)
		return -1;
	memcpy(out, PIN_PREFIX, pl);
	if (crypto_b64_encode(d, sizeof d, false, true, out + pl, outsz - pl) == 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}
