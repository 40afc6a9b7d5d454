/*
 * bcrypt-pbkdf.c - bcrypt_pbkdf, from the OpenBSD design (Ted Unangst,
 * 2013) that OpenSSH's private key files use.
 *
 * Like PBKDF2, but each round is bcrypt_hash, a memory-hard function: the
 * SHA-512 of the passphrase and of salt||counter key an eksblowfish state
 * (64 expensive key schedules), which then encrypts the 32-byte string
 * "OxychromaticBlowfishSwatDynamite" 64 times. Output blocks are
 * interleaved ("stride") so that every block costs the same to an attacker
 * who only wants part of the key. Every buffer holding secret-derived
 * bytes is wiped before return.
 */
#include "bcrypt-pbkdf.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "blowfish.h"

#define BCRYPT_WORDS   8   /* 32 bytes of "OxychromaticBlowfishSwatDynamite" */
#define BCRYPT_HASHLEN (4 * BCRYPT_WORDS)
#define SHA512_LEN     64

/* SHA-512 of a and b concatenated (b may be empty); 0 or -1. */
static int sha512_2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                    uint8_t out[SHA512_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	if (!ctx)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, a, alen) == 1 &&
	     (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) &&
	     EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == SHA512_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* bcrypt_hash: eksblowfish keyed by the hashed passphrase and salt, then
 * the magic string encrypted 64 times; words are output little-endian. */
static void bcrypt_hash(struct blowfish *bf, const uint8_t pass[SHA512_LEN],
                        const uint8_t salt[SHA512_LEN], uint8_t out[BCRYPT_HASHLEN])
{
	static const char magic[] = "OxychromaticBlowfishSwatDynamite";
	uint32_t c[BCRYPT_WORDS];

	blowfish_init(bf);
	blowfish_expand(bf, salt, SHA512_LEN, pass, SHA512_LEN);
	for (int i = 0; i < 64; i++) {
		blowfish_expand(bf, NULL, 0, salt, SHA512_LEN);
		blowfish_expand(bf, NULL, 0, pass, SHA512_LEN);
	}
	for (int i = 0; i < BCRYPT_WORDS; i++)
		c[i] = (uint32_t)(uint8_t)magic[4 * i] << 24 | (uint32_t)(uint8_t)magic[4 * i + 1] << 16 |
		       (uint32_t)(uint8_t)magic[4 * i + 2] << 8 | (uint8_t)magic[4 * i + 3];
	for (int n = 0; n < 64; n++)
		for (int i = 0; i < BCRYPT_WORDS; i += 2)
			blowfish_encrypt(bf, &c[i], &c[i + 1]);
	for (int i = 0; i < BCRYPT_WORDS; i++) {
		out[4 * i + 0] = (uint8_t)c[i];
		out[4 * i + 1] = (uint8_t)(c[i] >> 8);
		out[4 * i + 2] = (uint8_t)(c[i] >> 16);
		out[4 * i + 3] = (uint8_t)(c[i] >> 24);
	}
	OPENSSL_cleanse(c, sizeof c);
}

/* Derive the key: one bcrypt_hash chain of `rounds` per output block,
 * the blocks' bytes spread over the key with a stride. */
int bcrypt_pbkdf(const uint8_t *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
                 uint8_t *key, size_t keylen, unsigned rounds)
{
	uint8_t sha2pass[SHA512_LEN], sha2salt[SHA512_LEN], tmp[BCRYPT_HASHLEN];
	uint8_t out[BCRYPT_HASHLEN], count[4];
	size_t stride, amt, left = keylen;
	struct blowfish *bf;
	int rc = -1;

	if (rounds < 1 || passlen == 0 || saltlen == 0 || saltlen > (1u << 20) || keylen == 0 ||
	    keylen > BCRYPT_PBKDF_KEY_MAX)
		return -1;
	bf = OPENSSL_malloc(sizeof *bf);
	if (!bf)
		return -1;
	stride = (keylen + sizeof out - 1) / sizeof out;
	amt = (keylen + stride - 1) / stride;
	if (sha512_2(pass, passlen, NULL, 0, sha2pass) < 0)
		goto done;
	for (uint32_t n = 1; left > 0; n++) {
		size_t i;

		count[0] = (uint8_t)(n >> 24);
		count[1] = (uint8_t)(n >> 16);
		count[2] = (uint8_t)(n >> 8);
		count[3] = (uint8_t)n;
		if (sha512_2(salt, saltlen, count, sizeof count, sha2salt) < 0)
			goto done;
		bcrypt_hash(bf, sha2pass, sha2salt, tmp);
		memcpy(out, tmp, sizeof out);
		for (unsigned r = 1; r < rounds; r++) {
			if (sha512_2(tmp, sizeof tmp, NULL, 0, sha2salt) < 0)
				goto done;
			bcrypt_hash(bf, sha2pass, sha2salt, tmp);
			for (size_t j = 0; j < sizeof out; j++)
				out[j] ^= tmp[j];
		}
		if (amt > left)
			amt = left;
		for (i = 0; i < amt; i++) {
			size_t dest = i * stride + (n - 1);

			if (dest >= keylen)
				break;
			key[dest] = out[i];
		}
		if (i == 0)     /* cannot happen with the stride above; never loop */
			goto done;
		left -= i;
	}
	rc = 0;
done:
	OPENSSL_cleanse(sha2pass, sizeof sha2pass);
	OPENSSL_cleanse(sha2salt, sizeof sha2salt);
	OPENSSL_cleanse(tmp, sizeof tmp);
	OPENSSL_cleanse(out, sizeof out);
	OPENSSL_clear_free(bf, sizeof *bf);
	return rc;
}
