/*
 * fuzz_sshkey.c - OpenSSH keys and signatures (common/sshkey.c,
 * sshkey-private.c): what a login brings from the network (key blobs,
 * signatures) and what a user's files hold (authorized_keys lines, private
 * key files).
 *
 * Each input is read as an authorized_keys line, as a key blob, as a
 * signature by three fixed keys, as a private key file's text, and as the
 * binary body of an OpenSSH private key file (wrapped in its armour here,
 * so the fuzzer works on the structure, not on base64). Invariants: a
 * parsed key's blob parses back to an equal key with the same
 * fingerprint; a loaded private key signs, and its signature verifies.
 * Fuzzing builds cap bcrypt at 2 rounds (SSHKEY_KDF_ROUNDS_MAX).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "fuzz_common.h"
#include "sshkey.h"

static const char *const fixed_lines[] = {
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKzoXIS0u/Lw7UA821QwKoZUN/aeasjdO1//u8YwX3ay",
	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCSP0IyzTgGsgmWN828g"
	"wMLaJisSF+CDiN0ao8vvLo7IaeX2W9um6x9Rce4CT3tqfMVJk/PT+/kIGRhLsHdDk7c=",
	"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC4EflOax0yCfAqRpjl0Mv4cmZjexJ8gEfRljDlHQEvT0hAxkRd2uM+"
	"Xfmolj3vWXVO5wf2PYSWKbO7O2p79H+g6PYe3DmwpUPuVLFfD2LJ352ZWdexWc9ZA6FeFhBAFZWumiueCJJYRdftHIo2"
	"q8rLDYVrrgcn3ip0bhH+0v4zL5O+PPIKJB540KwNU02G+Aioc/7lcX5qADm6oXPZCp61C5ok5puFo9JH+n/PdtBys3DH"
	"AbK2qx6ceCUzKPQ3+6K1RvyL8zrvlTKxb71Gu383f8csc3YGaLdcjINmb5/SsAA4pEi9H2rO4CUlx32IMMivjkEy2TZi"
	"CMUqDOp+0q1N",
};
static struct sshkey *fixed[3];

/* A parsed key round-trips through its blob. */
static void check_key(const struct sshkey *k)
{
	size_t len;
	const unsigned char *blob = sshkey_blob(k, &len);
	char err[200], fp1[SSHKEY_FP_LEN], fp2[SSHKEY_FP_LEN];
	struct sshkey *again = sshkey_from_blob(blob, len, err, sizeof err);

	fuzz_check(again != NULL);
	fuzz_check(sshkey_equal(k, again));
	sshkey_fingerprint(k, fp1);
	sshkey_fingerprint(again, fp2);
	fuzz_check(strcmp(fp1, fp2) == 0 && strlen(fp1) == SSHKEY_FP_LEN - 1);
	fuzz_check(sshkey_bits(k) >= 256);
	sshkey_free(again);
}

/* A loaded private key signs, and the signature verifies. */
static void check_private(const struct sshkey *k)
{
	struct buf sig;
	char err[200];

	check_key(k);
	buf_init(&sig, SSHKEY_SIG_MAX);
	fuzz_check(sshkey_sign(k, (const unsigned char *)"fuzz", 4, &sig) == 0);
	fuzz_check(sshkey_verify(k, (unsigned char *)sig.data, sig.len,
	                         (const unsigned char *)"fuzz", 4, err, sizeof err) == 0);
	buf_free(&sig);
}

/* Load a private key file's text with a short passphrase. */
static void load(const char *text, size_t len)
{
	struct sshkey *k = NULL;
	char err[200];
	int rc = sshkey_load_private(text, len, "pw", &k, err, sizeof err);

	fuzz_check((rc == SSHKEY_OK) == (k != NULL));
	fuzz_check(rc <= 0 && rc >= SSHKEY_E_UNSUPPORTED);
	if (k)
		check_private(k);
	sshkey_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[200], comment[SSHKEY_COMMENT_MAX];
	struct sshkey *k = NULL;
	int rc;

	if (!fixed[0])
		for (int i = 0; i < 3; i++) {
			fuzz_check(sshkey_parse_line(fixed_lines[i], strlen(fixed_lines[i]), &fixed[i],
			                             NULL, 0, err, sizeof err) == 1);
		}
	rc = sshkey_parse_line((const char *)data, size, &k, comment, sizeof comment, err,
	                       sizeof err);
	fuzz_check(rc >= -2 && rc <= 1 && (rc == 1) == (k != NULL));
	fuzz_check(strlen(comment) < sizeof comment);
	if (k)
		check_key(k);
	sshkey_free(k);

	k = sshkey_from_blob(data, size, err, sizeof err);
	if (k)
		check_key(k);
	sshkey_free(k);

	for (int i = 0; i < 3; i++)
		sshkey_verify(fixed[i], data, size, (const unsigned char *)"message", 7, err,
		              sizeof err);

	if (size <= SSHKEY_PRIVATE_MAX) {
		char *text = malloc(size);

		if (text) {
			memcpy(text, data, size);   /* an exact-size copy: ASan sees overreads */
			load(text, size);
			free(text);
		}
	}
	/* the input as an OpenSSH key file's body */
	{
		static const char head[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
		static const char tail[] = "\n-----END OPENSSH PRIVATE KEY-----\n";
		size_t cap = sizeof head + (size + 2) / 3 * 4 + sizeof tail + 1, n;
		char *text = malloc(cap);

		if (text && size > 0) {
			memcpy(text, head, sizeof head - 1);
			n = crypto_b64_encode(data, size, false, true, text + sizeof head - 1,
			                      cap - (sizeof head - 1));
			if (n > 0) {
				memcpy(text + sizeof head - 1 + n, tail, sizeof tail);
				load(text, sizeof head - 1 + n + sizeof tail - 1);
			}
		}
		free(text);
	}
	return 0;
}
