/*
 * pwhash.h - tetherd's password hashes, in the system's format
 * (docs/security.md, "Passwords"): crypt(3) from libxcrypt, yescrypt
 * ("$y$...") as /etc/shadow has it on Debian. Hashes of the formats
 * tetherd wrote before ("$scrypt$...") and the strong crypt(3) ones an
 * administrator may bring along (sha512crypt, bcrypt, ...) still verify,
 * and are replaced by yescrypt at the user's next successful login.
 */
#ifndef TETHER_PWHASH_H
#define TETHER_PWHASH_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto.h"

#define PWHASH_MAX CRYPTO_PWHASH_MAX   /* an encoded hash, NUL included */

/* Hash password with yescrypt and a fresh salt into out; 0 or -1. */
int pwhash_make(const char *password, char *out, size_t outsz);

/* 1 if password matches encoded, 0 if not, -1 if encoded is no hash we
 * take (a weak or unknown format, or malformed). */
int pwhash_verify(const char *password, const char *encoded);

/* True if encoded should be replaced by a yescrypt hash (pwhash_make)
 * once the password is known to match. */
bool pwhash_outdated(const char *encoded);

#endif
