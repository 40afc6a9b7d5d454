/*
 * pwhash.c - password hashes through libxcrypt (see pwhash.h).
 *
 * crypt_rn() with a caller's struct crypt_data (it is reentrant: login
 * threads hash side by side); the data holds the password's traces, so it
 * is wiped after each use. Only prefixes of strong, memory- or
 * iteration-hard methods are taken: DES, MD5 and NT hashes are refused
 * outright rather than verified.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "pwhash.h"

/* The crypt(3) methods accepted for verification. */
static const char *const accepted[] = { "$y$", "$gy$", "$7$", "$2b$", "$2y$", "$6$", "$5$" };

/* crypt_rn(password, setting) into a heap crypt_data; the result copied to
 * out. 0 or -1. */
static int run_crypt(const char *password, const char *setting, char *out, size_t outsz)
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	if (cd == NULL)
		return -1;
	const char *h = crypt_rn(password, setting, cd, (int)sizeof *cd);
	int rc = h != NULL && h[0] == '$' && strlen(h) < outsz ? 0 : -1;
	if (rc == 0)
		memcpy(out, h, strlen(h) + 1);
	crypto_wipe(cd, sizeof *cd);
	free(cd);
	return rc;
}

int pwhash_make(const char *password, char *out, size_t outsz)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	/* the default cost of libxcrypt, random bytes from the system */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof setting) == NULL)
		return -1;
	return run_crypt(password, setting, out, outsz);
}

/* True if encoded starts with one of the accepted crypt(3) prefixes. */
static bool accepted_crypt(const char *encoded)
{
	for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++)
		if (strncmp(encoded, accepted[i], strlen(accepted[i])) == 0)
			return true;
	return false;
}

int pwhash_verify(const char *password, const char *encoded)
{
	char got[CRYPT_OUTPUT_SIZE];
	if (password == NULL || encoded == NULL)
		return -1;
	if (strncmp(encoded, "$scrypt$", 8) == 0)
		return crypto_pw_verify(password, encoded);   /* written before yescrypt */
	if (!accepted_crypt(encoded) || strlen(encoded) >= PWHASH_MAX)
		return -1;
	if (run_crypt(password, encoded, got, sizeof got) != 0)
		return -1;
	size_t n = strlen(encoded);
	int ok = strlen(got) == n && crypto_equal(got, encoded, n);
	crypto_wipe(got, sizeof got);
	return ok ? 1 : 0;
}

bool pwhash_outdated(const char *encoded)
{
	return strncmp(encoded, "$y$", 3) != 0;
}
