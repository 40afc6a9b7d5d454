/*
 * test-sshkey.c - unit tests for the SSH wire reader, Blowfish and
 * bcrypt_pbkdf, and common/sshkey.c's parsers.
 *
 * Blowfish is pinned by Schneier's published test vectors and by OpenSSL's
 * own (deprecated) BF_ecb_encrypt over random keys and blocks, which also
 * proves the generated pi table (common/blowfish-pi.h); bcrypt_pbkdf by the
 * published vector and by decrypting a key ssh-keygen encrypted. The
 * comparison with the real OpenSSH tools is tests/integration/test_sshkey.py.
 */
#define OPENSSL_SUPPRESS_DEPRECATED   /* BF_*: only here, as a reference */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/blowfish.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bcrypt-pbkdf.h"
#include "blowfish.h"
#include "crypto.h"
#include "sshkey.h"
#include "sshwire.h"

/* An ed25519 key made by ssh-keygen -N 'kat pass' -C kat, and the same key
 * unencrypted (ssh-keygen -p -N ''). */
static const char KAT_ENC[] =
	"-----BEGIN OPENSSH PRIVATE KEY-----\n"
	"b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABAlOmlchK\n"
	"MoQkUqo6ov0qIiAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIKzoXIS0u/Lw7UA8\n"
	"21QwKoZUN/aeasjdO1//u8YwX3ayAAAAkK1iTSwha5a68kw73JX5jdfnJ0Vgc1D18udLfm\n"
	"AWJNn6/rBzwjb/eu8gtZF5i6OJ6uukAfsybJSFBcuUyzG2OZ6sjTkc1UtVDqAfYiDmk/jq\n"
	"T2zr9HFC1r0GqG6hrlKy7I8IrMOG9uQ0shBTMOLHYS0GmkMGwfbTSMPa2khf+clwjpY6zH\n"
	"OqaRYmywsrZhC9Xg==\n"
	"-----END OPENSSH PRIVATE KEY-----\n";
static const char KAT_PLAIN[] =
	"-----BEGIN OPENSSH PRIVATE KEY-----\n"
	"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
	"QyNTUxOQAAACCs6FyEtLvy8O1APNtUMCqGVDf2nmrI3Ttf/7vGMF92sgAAAIgAcr/4AHK/\n"
	"+AAAAAtzc2gtZWQyNTUxOQAAACCs6FyEtLvy8O1APNtUMCqGVDf2nmrI3Ttf/7vGMF92sg\n"
	"AAAEAcOGxf3MpC2ywaDchcmyCdH7SBcrmROUapqgWvRMs1CKzoXIS0u/Lw7UA821QwKoZU\n"
	"N/aeasjdO1//u8YwX3ayAAAAA2thdAEC\n"
	"-----END OPENSSH PRIVATE KEY-----\n";
#define KAT_PUB "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKzoXIS0u/Lw7UA821QwKoZUN/aeasjdO1//u8YwX3ay"
#define KAT_FP  "SHA256:4h3ZUP57Jq/gKRQab98gZ2/l/MeLk9BVuYqNGbIq9Qg"   /* ssh-keygen -lf */
#define RSA1024 "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDIaT12LM1cOyqySAnoo5bao21zJKo3zQV7VufuurBo" \
	"GRYHPa0nJjdvMDdsEA1x2mwdMpy+gvGgwdK/qsbjebo9jxfKRFY/qRqJObc2FHMeDHm1XlO2hvorF3x1m6vADebZlg" \
	"20XRZiLBTDGA8BSUR+33dOOtyyReFqw8DaHryOTw== small"
#define RSA2048 "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC4EflOax0yCfAqRpjl0Mv4cmZjexJ8gEfRljDlHQEvT0hA" \
	"xkRd2uM+Xfmolj3vWXVO5wf2PYSWKbO7O2p79H+g6PYe3DmwpUPuVLFfD2LJ352ZWdexWc9ZA6FeFhBAFZWumiueCJ" \
	"JYRdftHIo2q8rLDYVrrgcn3ip0bhH+0v4zL5O+PPIKJB540KwNU02G+Aioc/7lcX5qADm6oXPZCp61C5ok5puFo9JH" \
	"+n/PdtBys3DHAbK2qx6ceCUzKPQ3+6K1RvyL8zrvlTKxb71Gu383f8csc3YGaLdcjINmb5/SsAA4pEi9H2rO4CUlx3" \
	"2IMMivjkEy2TZiCMUqDOp+0q1N r2048"
#define P256 "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCSP0IyzTg" \
	"GsgmWN828gwMLaJisSF+CDiN0ao8vvLo7IaeX2W9um6x9Rce4CT3tqfMVJk/PT+/kIGRhLsHdDk7c= p256"

/* A PEM EC key whose private scalar is not its public point's (one digit
 * changed: found by fuzz_sshkey; OpenSSL does not check it). */
static const char PEM_MISMATCH[] =
	"-----BEGIN EC PRIVATE KEY-----\n"
	"MIGkAgEBBDBjkF+CHaRD38mIJ9vNpdCD1HqX6yG3cTHrg+QfdlcnYoD84P5HqUex\n"
	"7grslL+vXmygBwYFK4EEACKhZANiAAQ9hrYXiLqUWNtbqhipT3+BnvZiE5lSwUWO\n"
	"UcBtIMpUhtCfQGwk+PjwEXAPLzDrXXV2jAHZ2wTXrP0sFLtoOHFSdGDcH5qbfI4R\n"
	"R1EeXXawaTzDK5h714AHldivw47UMrY=\n"
	"-----END EC PRIVATE KEY-----\n";

/* Parse a line (a C string); returns sshkey_parse_line's result. */
static int parse(const char *line, struct sshkey **k, char *comment, size_t csz, char *err,
                 size_t esz)
{
	return sshkey_parse_line(line, strlen(line), k, comment, csz, err, esz);
}

/* The reader refuses every length beyond what remains, and consumes
 * nothing when it refuses. */
static void test_wire_bounds(void **state)
{
	static const unsigned char in[] = { 0, 0, 0, 3, 'a', 'b', 'c', 0xff, 0xff, 0xff, 0xff, 'x' };
	struct sshwire r;
	const unsigned char *p;
	size_t n;
	uint32_t v;
	uint8_t b;
	char s[8];

	sshwire_init(&r, in, 3);
	assert_int_equal(sshwire_u32(&r, &v), -1);
	assert_int_equal(r.left, 3);
	sshwire_init(&r, in, 6);   /* the string claims 3 bytes, 2 remain */
	assert_int_equal(sshwire_string(&r, &p, &n), -1);
	assert_int_equal(r.left, 6);
	sshwire_init(&r, in, sizeof in);
	assert_int_equal(sshwire_string(&r, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "abc", 3);
	assert_int_equal(sshwire_string(&r, &p, &n), -1);   /* 4 GiB claimed */
	assert_int_equal(r.left, 5);
	assert_int_equal(sshwire_bytes(&r, 6, &p), -1);
	assert_int_equal(sshwire_u32(&r, &v), 0);
	assert_true(v == 0xffffffffu);
	assert_int_equal(sshwire_u8(&r, &b), 0);
	assert_int_equal(b, 'x');
	assert_true(sshwire_done(&r));
	assert_int_equal(sshwire_u8(&r, &b), -1);
	/* text: no NUL inside, must fit */
	sshwire_init(&r, "\0\0\0\2a\0", 6);
	assert_int_equal(sshwire_cstring(&r, s, sizeof s), -1);
	assert_int_equal(r.left, 6);
	sshwire_init(&r, in, 7);
	assert_int_equal(sshwire_cstring(&r, s, 3), -1);
	assert_int_equal(sshwire_cstring(&r, s, 4), 0);
	assert_string_equal(s, "abc");
	sshwire_init(&r, in, 7);
	assert_int_equal(sshwire_expect(&r, "ab"), -1);
	assert_int_equal(sshwire_expect(&r, "abc"), 0);
	sshwire_init(&r, NULL, 10);
	assert_int_equal(sshwire_u8(&r, &b), -1);
}

/* mpints: minimal and non-negative only, bounded in size. */
static void test_wire_mpint(void **state)
{
	struct { const char *in; size_t len; int rc; size_t mag; } cases[] = {
		{ "\0\0\0\0", 4, 0, 0 },                /* zero */
		{ "\0\0\0\1\x7f", 5, 0, 1 },
		{ "\0\0\0\2\0\x80", 6, 0, 1 },          /* sign byte for the top bit */
		{ "\0\0\0\1\x80", 5, -1, 0 },           /* negative */
		{ "\0\0\0\1\0", 5, -1, 0 },             /* zero, not minimal */
		{ "\0\0\0\2\0\x7f", 6, -1, 0 },         /* needless leading zero */
		{ "\0\0\0\3\1\2\3", 7, -1, 0 },         /* over maxbytes (2) */
	};
	struct buf b;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sshwire r;
		const unsigned char *p;
		size_t n;

		sshwire_init(&r, cases[i].in, cases[i].len);
		assert_int_equal(sshwire_mpint(&r, 2, &p, &n), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(n, cases[i].mag);
		else
			assert_int_equal(r.left, cases[i].len);
	}
	/* the writer: leading zeros dropped, a sign byte added */
	buf_init(&b, 64);
	assert_int_equal(sshwire_put_mpint(&b, (const unsigned char *)"\0\0\x80\1", 4), 0);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "\0\0\0\3\0\x80\1", 7);
	buf_reset(&b);
	assert_int_equal(sshwire_put_mpint(&b, (const unsigned char *)"\0", 1), 0);
	assert_memory_equal(b.data, "\0\0\0\0", 4);
	buf_free(&b);
	buf_init(&b, 5);   /* no room: nothing written */
	assert_int_equal(sshwire_put_string(&b, "abcd", 4), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* Schneier's test vectors (key, plaintext, ciphertext). */
static void test_blowfish_kat(void **state)
{
	static const struct { uint8_t key[8], pt[8], ct[8]; } v[] = {
		{ { 0 }, { 0 }, { 0x4E, 0xF9, 0x97, 0x45, 0x61, 0x98, 0xDD, 0x78 } },
		{ { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF },
		  { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF },
		  { 0x51, 0x86, 0x6F, 0xD5, 0xB8, 0x5E, 0xCB, 0x8A } },
		{ { 0x30, 0, 0, 0, 0, 0, 0, 0 }, { 0x10, 0, 0, 0, 0, 0, 0, 0x01 },
		  { 0x7D, 0x85, 0x6F, 0x9A, 0x61, 0x30, 0x63, 0xF2 } },
		{ { 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF },
		  { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11 },
		  { 0x61, 0xF9, 0xC3, 0x80, 0x22, 0x81, 0xB0, 0x96 } },
		{ { 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10 },
		  { 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF },
		  { 0x0A, 0xCE, 0xAB, 0x0F, 0xC6, 0xA0, 0xA2, 0x8D } },
	};
	struct blowfish *bf = malloc(sizeof *bf);
	uint8_t out[8];

	assert_non_null(bf);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		blowfish_set_key(bf, v[i].key, 8);
		blowfish_encrypt_block(bf, v[i].pt, out);
		assert_memory_equal(out, v[i].ct, 8);
	}
	free(bf);
}

/* The same as OpenSSL's Blowfish for random keys (1..56 bytes) and blocks:
 * every word of the generated table takes part. */
static void test_blowfish_openssl(void **state)
{
	struct blowfish *bf = malloc(sizeof *bf);
	BF_KEY ref;
	uint8_t key[56], in[8], ours[8], theirs[8];

	assert_non_null(bf);
	for (int i = 0; i < 200; i++) {
		size_t kl = 1 + (size_t)i % sizeof key;

		assert_int_equal(RAND_bytes(key, sizeof key), 1);
		assert_int_equal(RAND_bytes(in, sizeof in), 1);
		blowfish_set_key(bf, key, kl);
		BF_set_key(&ref, (int)kl, key);
		blowfish_encrypt_block(bf, in, ours);
		BF_ecb_encrypt(in, theirs, &ref, BF_ENCRYPT);
		assert_memory_equal(ours, theirs, 8);
	}
	free(bf);
}

/* The published bcrypt_pbkdf vector ("password", "salt", 4 rounds), and
 * argument checks. */
static void test_bcrypt_pbkdf(void **state)
{
	static const uint8_t want[32] = {
		0x5b, 0xbf, 0x0c, 0xc2, 0x93, 0x58, 0x7f, 0x1c, 0x36, 0x35, 0x55, 0x5c, 0x27, 0x79, 0x65, 0x98,
		0xd4, 0x7e, 0x57, 0x90, 0x71, 0xbf, 0x42, 0x7e, 0x9d, 0x8f, 0xbe, 0x84, 0x2a, 0xba, 0x34, 0xd9,
	};
	uint8_t key[48];

	assert_int_equal(bcrypt_pbkdf((const uint8_t *)"password", 8, (const uint8_t *)"salt", 4,
	                              key, 32, 4), 0);
	assert_memory_equal(key, want, 32);
	assert_int_equal(bcrypt_pbkdf((const uint8_t *)"p", 1, (const uint8_t *)"s", 1, key, 32, 0), -1);
	assert_int_equal(bcrypt_pbkdf((const uint8_t *)"p", 0, (const uint8_t *)"s", 1, key, 32, 1), -1);
	assert_int_equal(bcrypt_pbkdf((const uint8_t *)"p", 1, (const uint8_t *)"s", 0, key, 32, 1), -1);
	assert_int_equal(bcrypt_pbkdf((const uint8_t *)"p", 1, (const uint8_t *)"s", 1, key, 0, 1), -1);
}

/* A key ssh-keygen encrypted (aes256-ctr, bcrypt 16 rounds) decrypts to the
 * same key as its unencrypted copy; a wrong or missing passphrase is
 * SSHKEY_E_PASSPHRASE and the error names no secret. */
static void test_load_openssh(void **state)
{
	struct sshkey *a = NULL, *b = NULL, *pub = NULL;
	char err[200], fp[SSHKEY_FP_LEN];

	assert_int_equal(sshkey_load_private(KAT_ENC, strlen(KAT_ENC), "kat pass", &a, err, sizeof err),
	                 SSHKEY_OK);
	assert_int_equal(sshkey_load_private(KAT_PLAIN, strlen(KAT_PLAIN), NULL, &b, err, sizeof err),
	                 SSHKEY_OK);
	assert_int_equal(parse(KAT_PUB, &pub, NULL, 0, err, sizeof err), 1);
	assert_true(sshkey_equal(a, b));
	assert_true(sshkey_equal(a, pub));
	sshkey_fingerprint(a, fp);
	assert_string_equal(fp, KAT_FP);
	sshkey_free(a);
	sshkey_free(b);
	sshkey_free(pub);
	assert_int_equal(sshkey_load_private(KAT_ENC, strlen(KAT_ENC), "kat pas", &a, err, sizeof err),
	                 SSHKEY_E_PASSPHRASE);
	assert_null(a);
	assert_null(strstr(err, "kat"));
	assert_int_equal(sshkey_load_private(KAT_ENC, strlen(KAT_ENC), NULL, &a, err, sizeof err),
	                 SSHKEY_E_PASSPHRASE);
	assert_int_equal(sshkey_load_private(KAT_ENC, strlen(KAT_ENC), "", &a, err, sizeof err),
	                 SSHKEY_E_PASSPHRASE);
}

/* Broken files: truncated, garbage, and absurd bcrypt rounds. */
static void test_load_malformed(void **state)
{
	struct sshkey *k = NULL;
	char err[200], text[800], b64[600], *p;
	uint8_t raw[450];
	long n;
	size_t bl = 0;

	assert_int_equal(sshkey_load_private("hello", 5, NULL, &k, err, sizeof err), SSHKEY_E_FORMAT);
	assert_int_equal(sshkey_load_private(KAT_PLAIN, 100, NULL, &k, err, sizeof err),
	                 SSHKEY_E_FORMAT);
	assert_int_equal(sshkey_load_private("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	                                     60, NULL, &k, err, sizeof err), SSHKEY_E_FORMAT);
	assert_null(k);
	assert_int_equal(sshkey_load_private(PEM_MISMATCH, strlen(PEM_MISMATCH), NULL, &k, err,
	                                     sizeof err), SSHKEY_E_FORMAT);
	assert_non_null(strstr(err, "does not match"));
	/* the rounds (after the 16-byte salt) set to 100000 */
	for (p = strchr(KAT_ENC, '\n') + 1; *p != '-'; p++)
		if (*p != '\n')
			b64[bl++] = *p;
	b64[bl] = '\0';
	n = crypto_b64_decode(b64, raw, sizeof raw);
	assert_true(n > 80);
	assert_memory_equal(raw + 15 + 4 + 10 + 4 + 6 + 4 + 4 + 16, "\0\0\0\x10", 4);  /* 16 rounds */
	memcpy(raw + 15 + 4 + 10 + 4 + 6 + 4 + 4 + 16, "\0\1\x86\xa0", 4);
	assert_true(crypto_b64_encode(raw, (size_t)n, false, true, b64, sizeof b64) > 0);
	snprintf(text, sizeof text, "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n"
	         "-----END OPENSSH PRIVATE KEY-----\n", b64);
	assert_int_equal(sshkey_load_private(text, strlen(text), "kat pass", &k, err, sizeof err),
	                 SSHKEY_E_UNSUPPORTED);
	assert_non_null(strstr(err, "rounds"));
	/* one flipped bit in the encrypted section: the check ints differ */
	memcpy(raw + 15 + 4 + 10 + 4 + 6 + 4 + 4 + 16, "\0\0\0\x10", 4);
	raw[n - 20] ^= 1;
	assert_true(crypto_b64_encode(raw, (size_t)n, false, true, b64, sizeof b64) > 0);
	snprintf(text, sizeof text, "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n"
	         "-----END OPENSSH PRIVATE KEY-----\n", b64);
	assert_int_not_equal(sshkey_load_private(text, strlen(text), "kat pass", &k, err, sizeof err),
	                     SSHKEY_OK);
	assert_null(k);
}

/* Blank and comment lines, options, bad base64, type mismatch, small RSA. */
static void test_parse_lines(void **state)
{
	struct sshkey *k = NULL;
	char err[200], comment[SSHKEY_COMMENT_MAX], line[1024];

	assert_int_equal(parse("", &k, comment, sizeof comment, err, sizeof err), 0);
	assert_int_equal(parse("   \t\n", &k, comment, sizeof comment, err, sizeof err), 0);
	assert_int_equal(parse("# " KAT_PUB, &k, comment, sizeof comment, err, sizeof err), 0);
	assert_null(k);

	snprintf(line, sizeof line, "  %s   my laptop \t\r\n", KAT_PUB);
	assert_int_equal(parse(line, &k, comment, sizeof comment, err, sizeof err), 1);
	assert_string_equal(comment, "my laptop");
	assert_string_equal(sshkey_type(k), "ssh-ed25519");
	assert_int_equal(sshkey_bits(k), 256);
	sshkey_free(k);
	assert_int_equal(parse(P256, &k, comment, 3, err, sizeof err), 1);   /* comment truncated */
	assert_string_equal(comment, "p2");
	assert_int_equal(sshkey_bits(k), 256);
	sshkey_free(k);
	assert_int_equal(parse(RSA2048, &k, NULL, 0, err, sizeof err), 1);
	assert_int_equal(sshkey_bits(k), 2048);
	sshkey_free(k);

	snprintf(line, sizeof line, "command=\"/bin/true\" %s", KAT_PUB);
	assert_int_equal(parse(line, &k, comment, sizeof comment, err, sizeof err), -2);
	assert_non_null(strstr(err, "\"command\""));
	snprintf(line, sizeof line, "restrict,from=\"10.0.0.1\" %s", KAT_PUB);
	assert_int_equal(parse(line, &k, comment, sizeof comment, err, sizeof err), -2);
	assert_non_null(strstr(err, "\"restrict\""));
	assert_int_equal(parse("no-pty " KAT_PUB, &k, comment, sizeof comment, err, sizeof err), -2);
	assert_non_null(strstr(err, "\"no-pty\""));
	assert_null(k);

	assert_int_equal(parse("ssh-ed25519 AAAA!!!!", &k, NULL, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "base64"));
	assert_int_equal(parse("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKzoXIS0u", &k, NULL, 0, err,
	                       sizeof err), -1);
	assert_int_equal(parse("ssh-ed25519", &k, NULL, 0, err, sizeof err), -1);
	/* the type word says ECDSA, the blob is ed25519 */
	assert_int_equal(parse("ecdsa-sha2-nistp256 AAAAC3NzaC1lZDI1NTE5AAAAIKzoXIS0u/Lw7UA821QwKoZ"
	                       "UN/aeasjdO1//u8YwX3ay", &k, NULL, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "does not match"));
	assert_int_equal(parse(RSA1024, &k, NULL, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "1024 bits"));
	assert_int_equal(parse("ssh-dss AAAAB3NzaC1kc3MAAACBAP", &k, NULL, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "unsupported"));
	assert_int_equal(parse("sk-ssh-ed25519@openssh.com AAAA", &k, NULL, 0, err, sizeof err), -1);
	assert_int_equal(sshkey_parse_line(KAT_PUB "\0x", sizeof KAT_PUB + 1, &k, NULL, 0, err,
	                                   sizeof err), -1);
	assert_null(k);
}

/* Blobs: the ECDSA curve must be the type's, the point on the curve;
 * nothing may trail. */
static void test_blob_checks(void **state)
{
	struct sshkey *k = NULL, *b;
	const unsigned char *blob;
	unsigned char copy[256];
	size_t len;
	char err[200];
	struct buf bb;

	assert_int_equal(parse(P256, &k, NULL, 0, err, sizeof err), 1);
	blob = sshkey_blob(k, &len);
	assert_true(len < sizeof copy - 1);
	memcpy(copy, blob, len);
	b = sshkey_from_blob(copy, len, err, sizeof err);
	assert_non_null(b);
	assert_true(sshkey_equal(k, b));
	sshkey_free(b);
	/* "nistp256" inside renamed "nistp384" */
	copy[4 + 19 + 4 + 5] = '3';
	copy[4 + 19 + 4 + 6] = '8';
	copy[4 + 19 + 4 + 7] = '4';
	assert_null(sshkey_from_blob(copy, len, err, sizeof err));
	assert_non_null(strstr(err, "curve"));
	/* a point off the curve */
	memcpy(copy, blob, len);
	copy[len - 1] ^= 1;
	assert_null(sshkey_from_blob(copy, len, err, sizeof err));
	assert_non_null(strstr(err, "curve"));
	/* a trailing byte */
	memcpy(copy, blob, len);
	copy[len] = 0;
	assert_null(sshkey_from_blob(copy, len + 1, err, sizeof err));
	assert_null(sshkey_from_blob(copy, 0, err, sizeof err));
	/* an RSA key with a non-minimal modulus encoding */
	buf_init(&bb, 1024);
	assert_int_equal(sshwire_put_cstring(&bb, "ssh-rsa"), 0);
	assert_int_equal(sshwire_put_string(&bb, "\1\0\1", 3), 0);
	assert_int_equal(sshwire_put_u32(&bb, 258), 0);
	assert_int_equal(buf_append(&bb, "\0\0\xc0", 3), 0);
	for (int i = 0; i < 255; i++)
		assert_int_equal(buf_append(&bb, "\x11", 1), 0);
	assert_null(sshkey_from_blob((unsigned char *)bb.data, bb.len, err, sizeof err));
	buf_free(&bb);
	sshkey_free(k);
}

/* The SSHSIG signed-data layout of PROTOCOL.sshsig. */
static void test_sshsig_data(void **state)
{
	struct buf b, small;
	unsigned char h[64];
	unsigned int hl;
	const unsigned char *p;

	buf_init(&b, 1024);
	assert_int_equal(sshkey_sshsig_data("file", (const unsigned char *)"hello", 5, &b), 0);
	assert_int_equal(EVP_Digest("hello", 5, h, &hl, EVP_sha512(), NULL), 1);
	assert_int_equal(b.len, 6 + 4 + 4 + 4 + 4 + 6 + 4 + 64);
	p = (const unsigned char *)b.data;
	assert_memory_equal(p, "SSHSIG\0\0\0\4file\0\0\0\0\0\0\0\6sha512\0\0\0\x40", 6 + 8 + 4 + 10 + 4);
	assert_memory_equal(p + 32, h, 64);
	buf_reset(&b);
	assert_int_equal(sshkey_sshsig_data("", (const unsigned char *)"x", 1, &b), -1);
	assert_int_equal(sshkey_sshsig_data("ns", NULL, 0, &b), 0);
	buf_free(&b);
	buf_init(&small, 50);
	assert_int_equal(sshkey_sshsig_data("file", (const unsigned char *)"x", 1, &small), -1);
	assert_int_equal(small.len, 0);
	buf_free(&small);
}

/* Sign and verify with the KAT key: tampering with data or signature is
 * refused; an ssh-rsa (SHA-1) signature is refused by name. */
static void test_sign_verify(void **state)
{
	struct sshkey *k = NULL, *pub = NULL, *rsa = NULL;
	struct buf sig, bad;
	char err[200];

	assert_int_equal(sshkey_load_private(KAT_PLAIN, strlen(KAT_PLAIN), NULL, &k, err, sizeof err),
	                 SSHKEY_OK);
	assert_int_equal(parse(KAT_PUB, &pub, NULL, 0, err, sizeof err), 1);
	buf_init(&sig, SSHKEY_SIG_MAX);
	assert_int_equal(sshkey_sign(k, (const unsigned char *)"data", 4, &sig), 0);
	assert_int_equal(sshkey_sign(pub, (const unsigned char *)"data", 4, &sig), -1);
	assert_int_equal(sshkey_verify(pub, (unsigned char *)sig.data, sig.len,
	                               (const unsigned char *)"data", 4, err, sizeof err), 0);
	assert_int_equal(sshkey_verify(pub, (unsigned char *)sig.data, sig.len,
	                               (const unsigned char *)"date", 4, err, sizeof err), -1);
	sig.data[sig.len - 1] ^= 1;
	assert_int_equal(sshkey_verify(pub, (unsigned char *)sig.data, sig.len,
	                               (const unsigned char *)"data", 4, err, sizeof err), -1);
	assert_int_equal(sshkey_verify(pub, (unsigned char *)sig.data, sig.len - 1,
	                               (const unsigned char *)"data", 4, err, sizeof err), -1);
	/* an RSA key: "ssh-rsa" signatures are SHA-1 and refused */
	assert_int_equal(parse(RSA2048, &rsa, NULL, 0, err, sizeof err), 1);
	buf_init(&bad, SSHKEY_SIG_MAX);
	assert_int_equal(sshwire_put_cstring(&bad, "ssh-rsa"), 0);
	assert_int_equal(sshwire_put_string(&bad, sig.data, 64), 0);
	assert_int_equal(sshkey_verify(rsa, (unsigned char *)bad.data, bad.len,
	                               (const unsigned char *)"data", 4, err, sizeof err), -1);
	assert_non_null(strstr(err, "SHA-1"));
	/* an ed25519 signature offered for the RSA key */
	assert_int_equal(sshkey_verify(rsa, (unsigned char *)sig.data, sig.len,
	                               (const unsigned char *)"data", 4, err, sizeof err), -1);
	buf_free(&bad);
	buf_free(&sig);
	sshkey_free(k);
	sshkey_free(pub);
	sshkey_free(rsa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_bounds),
		cmocka_unit_test(test_wire_mpint),
		cmocka_unit_test(test_blowfish_kat),
		cmocka_unit_test(test_blowfish_openssl),
		cmocka_unit_test(test_bcrypt_pbkdf),
		cmocka_unit_test(test_load_openssh),
		cmocka_unit_test(test_load_malformed),
		cmocka_unit_test(test_parse_lines),
		cmocka_unit_test(test_blob_checks),
		cmocka_unit_test(test_sshsig_data),
		cmocka_unit_test(test_sign_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
