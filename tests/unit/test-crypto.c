/*
 * test-crypto.c - unit tests for tether's OpenSSL wrappers.
 *
 * Known-answer vectors pin the primitives (SHA-256, RFC 4648 base64, the
 * RFC 7914 scrypt vector); fingerprints are checked against an independent
 * computation over a certificate generated on the spot. scrypt is slow, more
 * so under ASan, so only a handful of tests run it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto.h"

/* RFC 7914 section 12: scrypt("pleaseletmein", "SodiumChloride", N=16384, r=8,
 * p=1); the first 32 bytes of the 64-byte vector, in unpadded base64. */
#define KAT_PW   "pleaseletmein"
#define KAT_SALT "U29kaXVtQ2hsb3JpZGU"
#define KAT_HASH "cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI"
#define KAT_ENC  "$scrypt$ln=14,r=8,p=1$" KAT_SALT "$" KAT_HASH

/* SHA-256 known answers, and hex output. */
static void test_sha256(void **state)
{
	uint8_t d[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];

	crypto_sha256("abc", 3, d);
	crypto_hex(d, sizeof d, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	crypto_sha256("", 0, d);
	crypto_hex(d, sizeof d, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	crypto_sha256(NULL, 0, d);
	crypto_hex(d, sizeof d, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	crypto_hex((const uint8_t *)"\x00\xff\x10", 3, hex);
	assert_string_equal(hex, "00ff10");
	crypto_hex(d, 0, hex);
	assert_string_equal(hex, "");
}

/* RFC 4648 section 10 vectors, padded and not, encode and decode. */
static void test_b64_rfc4648(void **state)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
	                                   "Zm9vYmFy" };
	static const char *const nopad[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE",
	                                     "Zm9vYmFy" };
	char out[32];
	uint8_t dec[32];

	for (size_t i = 0; i < 7; i++) {
		size_t n = strlen(plain[i]);

		assert_int_equal(crypto_b64_encode((const uint8_t *)plain[i], n, false, true,
		                                   out, sizeof out), strlen(enc[i]));
		assert_string_equal(out, enc[i]);
		assert_int_equal(crypto_b64_encode((const uint8_t *)plain[i], n, true, false,
		                                   out, sizeof out), strlen(nopad[i]));
		assert_string_equal(out, nopad[i]);
		assert_int_equal(crypto_b64_decode(enc[i], dec, sizeof dec), (long)n);
		assert_memory_equal(dec, plain[i], n);
		assert_int_equal(crypto_b64_decode(nopad[i], dec, sizeof dec), (long)n);
		assert_memory_equal(dec, plain[i], n);
	}
}

/* The two alphabets differ only in '+/' versus '-_'; both decode. */
static void test_b64_alphabets(void **state)
{
	const uint8_t in[] = { 0xfb, 0xff, 0xfe };
	char out[16];
	uint8_t dec[16];

	crypto_b64_encode(in, 2, false, true, out, sizeof out);
	assert_string_equal(out, "+/8=");
	crypto_b64_encode(in, 3, true, true, out, sizeof out);
	assert_string_equal(out, "-__-");
	crypto_b64_encode(in, 3, false, false, out, sizeof out);
	assert_string_equal(out, "+//+");
	assert_int_equal(crypto_b64_decode("-__-", dec, sizeof dec), 3);
	assert_memory_equal(dec, in, 3);
	assert_int_equal(crypto_b64_decode("+//+", dec, sizeof dec), 3);
	assert_memory_equal(dec, in, 3);
	assert_int_equal(crypto_b64_decode("+/8", dec, sizeof dec), 2);
	assert_memory_equal(dec, in, 2);
}

/* Random data of every small length survives a round trip. */
static void test_b64_round_trip(void **state)
{
	uint8_t in[100], dec[100];
	char out[160];

	assert_int_equal(crypto_random(in, sizeof in), 0);
	for (size_t n = 0; n <= sizeof in; n++)
		for (int mode = 0; mode < 4; mode++) {
			size_t k = crypto_b64_encode(in, n, mode & 1, mode & 2, out, sizeof out);

			assert_true(n == 0 || k > 0);
			assert_int_equal(strlen(out), k);
			assert_int_equal(crypto_b64_decode(out, dec, sizeof dec), (long)n);
			assert_memory_equal(dec, in, n);
		}
}

/* The encoder refuses an output buffer one byte too small. */
static void test_b64_encode_space(void **state)
{
	char out[9];

	memset(out, 'x', sizeof out);
	assert_int_equal(crypto_b64_encode((const uint8_t *)"foobar", 6, false, true, out, 8), 0);
	assert_int_equal(crypto_b64_encode((const uint8_t *)"foobar", 6, false, true, out, 9), 8);
	assert_string_equal(out, "Zm9vYmFy");
	assert_int_equal(crypto_b64_encode((const uint8_t *)"f", 1, false, true, out, 4), 0);
	assert_int_equal(crypto_b64_encode((const uint8_t *)"f", 1, false, false, out, 3), 2);
	assert_string_equal(out, "Zg");
}

/* Malformed base64 and short output buffers are refused. */
static void test_b64_decode_invalid(void **state)
{
	static const char *const bad[] = {
		"Z", "Zm9vY", "Zg=", "Zg===", "Z===", "=", "==", "Zm9v=", "Zm=9v", "Zm 9v",
		"Zm9v\n", " Zm9v", "Zm9v!", "Zm.v", "Zh==", "Zh", "Zm9=", "Zm9", "\xc3\xa9\xc3\xa9",
	};
	uint8_t dec[16];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(crypto_b64_decode(bad[i], dec, sizeof dec), -1);
	/* "Zm9" and "Zh" above are "fo" and "f" with stray low bits set */
	assert_int_equal(crypto_b64_decode("Zm8", dec, sizeof dec), 2);
	assert_int_equal(crypto_b64_decode("Zg", dec, sizeof dec), 1);
	assert_int_equal(crypto_b64_decode(NULL, dec, sizeof dec), -1);
	assert_int_equal(crypto_b64_decode("Zm9vYmFy", dec, 5), -1);
	assert_int_equal(crypto_b64_decode("Zm9vYmFy", dec, 6), 6);
	assert_int_equal(crypto_b64_decode("Zm9vYg==", dec, 3), -1);
	assert_int_equal(crypto_b64_decode("", dec, 0), 0);
}

/* Random bytes, constant-time equality and wiping. */
static void test_random_equal_wipe(void **state)
{
	uint8_t a[32], b[32], z[32] = { 0 };

	assert_int_equal(crypto_random(a, sizeof a), 0);
	assert_int_equal(crypto_random(b, sizeof b), 0);
	assert_false(crypto_equal(a, b, sizeof a));
	assert_int_equal(crypto_random(a, 0), 0);
	memcpy(b, a, sizeof a);
	assert_true(crypto_equal(a, b, sizeof a));
	b[31] ^= 1;
	assert_false(crypto_equal(a, b, sizeof a));
	assert_true(crypto_equal(a, b, 31));
	assert_true(crypto_equal(a, b, 0));
	crypto_wipe(a, sizeof a);
	assert_memory_equal(a, z, sizeof z);
}

/* A fresh hash has the documented shape and verifies only its password. */
static void test_pw_hash_verify(void **state)
{
	char h1[CRYPTO_PWHASH_MAX], h2[CRYPTO_PWHASH_MAX];
	uint8_t raw[64];
	const char *salt, *hash;

	assert_int_equal(crypto_pw_hash("correct horse", h1, sizeof h1), 0);
	assert_memory_equal(h1, "$scrypt$ln=15,r=8,p=1$", 22);
	salt = h1 + 22;
	hash = strchr(salt, '$');
	assert_non_null(hash);
	assert_int_equal(hash - salt, 22);      /* 16 bytes, unpadded */
	assert_int_equal(strlen(hash + 1), 43); /* 32 bytes, unpadded */
	assert_int_equal(crypto_b64_decode(hash + 1, raw, sizeof raw), 32);
	assert_int_equal(crypto_pw_verify("correct horse", h1), 1);
	assert_int_equal(crypto_pw_verify("correct horsE", h1), 0);
	assert_int_equal(crypto_pw_hash("correct horse", h2, sizeof h2), 0);
	assert_string_not_equal(h1, h2);       /* fresh salt each time */
	assert_int_equal(crypto_pw_hash("x", h2, 40), -1);
}

/* The RFC 7914 vector verifies, proving the parameters are read back. */
static void test_pw_verify_kat(void **state)
{
	assert_int_equal(crypto_pw_verify(KAT_PW, KAT_ENC), 1);
	assert_int_equal(crypto_pw_verify("pleaseletmeout", KAT_ENC), 0);
}

/* Malformed encodings are -1, whatever the password. */
static void test_pw_verify_malformed(void **state)
{
	static const char *const bad[] = {
		"", "$scrypt$", "$2b$10$abcdefghijklmnopqrstuv",
		"$SCRYPT$ln=14,r=8,p=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=9,r=8,p=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=21,r=8,p=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=14,r=0,p=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=14,r=17,p=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=14,r=8,p=0$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=14,r=8,p=5$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=14,r=8$" KAT_SALT "$" KAT_HASH,
		"$scrypt$r=8,ln=14,p=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=14,r=8,p=1,x=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=+4,r=8,p=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=014,r=8,p=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=14,r=8,p=1 $" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=,r=8,p=1$" KAT_SALT "$" KAT_HASH,
		"$scrypt$ln=14,r=8,p=1$" KAT_SALT,
		"$scrypt$ln=14,r=8,p=1$" KAT_SALT "$",
		"$scrypt$ln=14,r=8,p=1$" KAT_SALT "$" KAT_HASH "$",
		"$scrypt$ln=14,r=8,p=1$" KAT_SALT "$" KAT_HASH "x",
		"$scrypt$ln=14,r=8,p=1$" KAT_SALT "$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdo",
		"$scrypt$ln=14,r=8,p=1$$" KAT_HASH,
		"$scrypt$ln=14,r=8,p=1$U29kaQ$" KAT_HASH,           /* 4-byte salt */
		"$scrypt$ln=14,r=8,p=1$U29k!XVtQ2hsb3JpZGU$" KAT_HASH,
		"$scrypt$ln=14,r=8,p=1$" KAT_SALT "$" KAT_HASH "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$scrypt$ln=20,r=16,p=4$" KAT_SALT "$" KAT_HASH,  /* in range, over 64 MiB */
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(crypto_pw_verify(KAT_PW, bad[i]), -1);
	assert_int_equal(crypto_pw_verify(KAT_PW, NULL), -1);
	assert_int_equal(crypto_pw_verify(NULL, KAT_ENC), -1);
}

/* Tokens are "tt_" + 43 base64url characters; the hash is of the text. */
static void test_token(void **state)
{
	char t1[CRYPTO_TOKEN_TEXT], t2[CRYPTO_TOKEN_TEXT];
	char h1[2 * CRYPTO_SHA256_LEN + 1], h2[2 * CRYPTO_SHA256_LEN + 1];
	uint8_t raw[48], md[EVP_MAX_MD_SIZE];
	unsigned mdlen;

	assert_int_equal(crypto_token_new(t1, h1), 0);
	assert_int_equal(crypto_token_new(t2, h2), 0);
	assert_memory_equal(t1, "tt_", 3);
	assert_int_equal(strlen(t1), 46);
	assert_int_equal(strspn(t1 + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                "0123456789-_"), 43);
	assert_int_equal(crypto_b64_decode(t1 + 3, raw, sizeof raw), 32);
	assert_string_not_equal(t1, t2);
	assert_string_not_equal(h1, h2);
	assert_int_equal(strlen(h1), 64);

	/* independent hash of the token text */
	assert_int_equal(EVP_Digest(t1, strlen(t1), md, &mdlen, EVP_sha256(), NULL), 1);
	{
		char hex[65];

		for (unsigned i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		assert_string_equal(h1, hex);
	}
	crypto_token_hash(t2, h1);
	assert_string_equal(h1, h2);
	crypto_token_hash("abc", h1);
	assert_string_equal(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The SPKI fingerprint is "SHA256:" + unpadded base64 of the digest. */
static void test_fingerprint_spki(void **state)
{
	char fp[CRYPTO_FP_MAX];

	crypto_fingerprint_spki((const uint8_t *)"abc", 3, fp);
	assert_string_equal(fp, "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
}

/* Make a self-signed P-256 certificate; the caller frees key and cert. */
static X509 *make_cert(EVP_PKEY **pkp)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;

	assert_non_null(pk);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, pk), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                 (const unsigned char *)"tether-test", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	*pkp = pk;
	return x;
}

/* Write an object as PEM into a NUL-terminated heap string. */
static char *to_pem(X509 *x, EVP_PKEY *pk, size_t *lenp)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *copy;
	long n;

	assert_non_null(b);
	if (x)
		assert_int_equal(PEM_write_bio_X509(b, x), 1);
	else
		assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &p);
	assert_true(n > 0);
	copy = OPENSSL_strndup(p, (size_t)n);
	assert_non_null(copy);
	*lenp = (size_t)n;
	BIO_free(b);
	return copy;
}

/* A certificate's fingerprint matches one computed directly from its SPKI. */
static void test_fingerprint_cert(void **state)
{
	EVP_PKEY *pk;
	X509 *x = make_cert(&pk);
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE], b64[64];
	unsigned mdlen;
	char fp[CRYPTO_FP_MAX], want[80], pin[64], wantpin[80];
	size_t len;
	char *pem = to_pem(x, NULL, &len);
	int n, k;

	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL), 1);
	k = EVP_EncodeBlock(b64, md, (int)mdlen);
	assert_int_equal(k, 44);
	assert_int_equal(b64[43], '=');
	snprintf(wantpin, sizeof wantpin, "sha256//%s", (char *)b64);
	b64[43] = '\0';
	snprintf(want, sizeof want, "SHA256:%s", (char *)b64);

	assert_int_equal(crypto_fingerprint_cert_pem(pem, len, fp), 0);
	assert_string_equal(fp, want);
	assert_int_equal(crypto_fingerprint_to_curl_pin(fp, pin, sizeof pin), 0);
	assert_string_equal(pin, wantpin);

	/* hostile or wrong input */
	assert_int_equal(crypto_fingerprint_cert_pem(pem, len / 2, fp), -1);
	assert_int_equal(crypto_fingerprint_cert_pem(pem, 0, fp), -1);
	assert_int_equal(crypto_fingerprint_cert_pem("garbage", 7, fp), -1);
	assert_int_equal(crypto_fingerprint_cert_pem(NULL, 0, fp), -1);
	OPENSSL_free(pem);
	pem = to_pem(NULL, pk, &len);
	assert_int_equal(crypto_fingerprint_cert_pem(pem, len, fp), -1);

	OPENSSL_free(pem);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(pk);
}

/* Fingerprints convert to libcurl pins; anything malformed is refused. */
static void test_curl_pin(void **state)
{
	static const char *const bad[] = {
		"", "SHA256:", "sha256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
		"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
		"SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa",
		"SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0A",
		"SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0AAAA",
		"SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAF!0",
		"SHA256: ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
		"SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0\n",
		"SHA1:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
	};
	char pin[64];

	assert_int_equal(crypto_fingerprint_to_curl_pin(
		"SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", pin, sizeof pin), 0);
	assert_string_equal(pin, "sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
	assert_int_equal(crypto_fingerprint_to_curl_pin(
		"SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", pin, 53), 0);
	assert_int_equal(crypto_fingerprint_to_curl_pin(
		"SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", pin, 52), -1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(crypto_fingerprint_to_curl_pin(bad[i], pin, sizeof pin), -1);
	assert_int_equal(crypto_fingerprint_to_curl_pin(NULL, pin, sizeof pin), -1);
}

/* Run the tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_b64_rfc4648),
		cmocka_unit_test(test_b64_alphabets),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_b64_encode_space),
		cmocka_unit_test(test_b64_decode_invalid),
		cmocka_unit_test(test_random_equal_wipe),
		cmocka_unit_test(test_pw_hash_verify),
		cmocka_unit_test(test_pw_verify_kat),
		cmocka_unit_test(test_pw_verify_malformed),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_fingerprint_spki),
		cmocka_unit_test(test_fingerprint_cert),
		cmocka_unit_test(test_curl_pin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
