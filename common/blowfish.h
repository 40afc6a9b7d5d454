/*
 * blowfish.h - the Blowfish block cipher, only as bcrypt_pbkdf needs it.
 *
 * OpenSSH encrypts private key files with a key from bcrypt_pbkdf, whose
 * core is Blowfish's expensive key schedule ("eksblowfish"); OpenSSL 3
 * offers no bcrypt and only deprecated low-level Blowfish, so it lives
 * here. The initial state is generated (common/blowfish-pi.h).
 */
#ifndef TETHER_BLOWFISH_H
#define TETHER_BLOWFISH_H

#include <stddef.h>
#include <stdint.h>

struct blowfish {
	uint32_t p[18];
	uint32_t s[4][256];
};

/* Reset to the initial state (pi's digits). */
void blowfish_init(struct blowfish *bf);

/* Mix key (keylen > 0 bytes, used cyclically) into the state, as the
 * standard key schedule does; with data (datalen > 0), bcrypt's salted
 * variant that also folds data into every block encrypted. */
void blowfish_expand(struct blowfish *bf, const uint8_t *data, size_t datalen,
                     const uint8_t *key, size_t keylen);

/* Encrypt one 64-bit block given as two big-endian halves, in place. */
void blowfish_encrypt(const struct blowfish *bf, uint32_t *l, uint32_t *r);

/* Plain Blowfish: set a key (1..56 bytes) and encrypt one 8-byte block. */
void blowfish_set_key(struct blowfish *bf, const uint8_t *key, size_t keylen);
void blowfish_encrypt_block(const struct blowfish *bf, const uint8_t in[8], uint8_t out[8]);

#endif
