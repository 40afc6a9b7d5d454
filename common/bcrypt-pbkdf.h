/*
 * bcrypt-pbkdf.h - the key derivation OpenSSH uses for encrypted private
 * key files ("bcrypt" kdf in PROTOCOL.key).
 */
#ifndef TETHER_BCRYPT_PBKDF_H
#define TETHER_BCRYPT_PBKDF_H

#include <stddef.h>
#include <stdint.h>

#define BCRYPT_PBKDF_KEY_MAX 1024  /* 32 output blocks of 32 bytes */

/* Derive keylen bytes (1..BCRYPT_PBKDF_KEY_MAX) from pass and salt (both
 * non-empty) with rounds (>= 1) iterations. 0, or -1 on bad arguments or
 * an OpenSSL failure. The cost is linear in rounds: callers bound it. */
int bcrypt_pbkdf(const uint8_t *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
                 uint8_t *key, size_t keylen, unsigned rounds);

#endif
