/*
 * blowfish.c - Blowfish (Schneier, 1993), written for bcrypt_pbkdf.
 *
 * Sixteen Feistel rounds over 32-bit halves; the round function mixes four
 * key-dependent S-boxes. The key schedule XORs the key into the P-array,
 * then replaces P and S with successive encryptions of a running block;
 * bcrypt's "expandstate" also XORs salt words into that block. Not used
 * for encrypting data: bcrypt_pbkdf only needs the schedule and ECB.
 */
#include "blowfish.h"

#include <string.h>

#include "blowfish-pi.h"

/* The round function. */
static uint32_t bf_f(const struct blowfish *bf, uint32_t x)
{
	return ((bf->s[0][x >> 24] + bf->s[1][(x >> 16) & 0xff]) ^ bf->s[2][(x >> 8) & 0xff]) +
	       bf->s[3][x & 0xff];
}

/* Encrypt one block: sixteen rounds, the last swap undone, two whitening keys. */
void blowfish_encrypt(const struct blowfish *bf, uint32_t *l, uint32_t *r)
{
	uint32_t xl = *l, xr = *r, t;

	for (int i = 0; i < 16; i++) {
		xl ^= bf->p[i];
		xr ^= bf_f(bf, xl);
		t = xl;
		xl = xr;
		xr = t;
	}
	t = xl;
	xl = xr;
	xr = t;
	xr ^= bf->p[16];
	xl ^= bf->p[17];
	*l = xl;
	*r = xr;
}

/* The next big-endian word of a byte string read cyclically from *pos. */
static uint32_t bf_word(const uint8_t *p, size_t len, size_t *pos)
{
	uint32_t w = 0;

	for (int i = 0; i < 4; i++) {
		if (*pos >= len)
			*pos = 0;
		w = w << 8 | p[(*pos)++];
	}
	return w;
}

/* Start from pi's digits. */
void blowfish_init(struct blowfish *bf)
{
	memcpy(bf->p, blowfish_pi_p, sizeof bf->p);
	memcpy(bf->s, blowfish_pi_s, sizeof bf->s);
}

/* Key the P-array, then regenerate P and S by chained encryption, salted
 * with data when given. */
void blowfish_expand(struct blowfish *bf, const uint8_t *data, size_t datalen,
                     const uint8_t *key, size_t keylen)
{
	size_t kpos = 0, dpos = 0;
	uint32_t l = 0, r = 0;

	for (int i = 0; i < 18; i++)
		bf->p[i] ^= bf_word(key, keylen, &kpos);
	for (int i = 0; i < 18; i += 2) {
		if (datalen) {
			l ^= bf_word(data, datalen, &dpos);
			r ^= bf_word(data, datalen, &dpos);
		}
		blowfish_encrypt(bf, &l, &r);
		bf->p[i] = l;
		bf->p[i + 1] = r;
	}
	for (int b = 0; b < 4; b++) {
		for (int i = 0; i < 256; i += 2) {
			if (datalen) {
				l ^= bf_word(data, datalen, &dpos);
				r ^= bf_word(data, datalen, &dpos);
			}
			blowfish_encrypt(bf, &l, &r);
			bf->s[b][i] = l;
			bf->s[b][i + 1] = r;
		}
	}
}

/* The standard key schedule. */
void blowfish_set_key(struct blowfish *bf, const uint8_t *key, size_t keylen)
{
	blowfish_init(bf);
	blowfish_expand(bf, NULL, 0, key, keylen);
}

/* ECB-encrypt one 8-byte block (big-endian halves). */
void blowfish_encrypt_block(const struct blowfish *bf, const uint8_t in[8], uint8_t out[8])
{
	uint32_t l = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
	uint32_t r = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];

	blowfish_encrypt(bf, &l, &r);
	for (int i = 0; i < 4; i++) {
		out[i] = (uint8_t)(l >> (24 - 8 * i));
		out[4 + i] = (uint8_t)(r >> (24 - 8 * i));
	}
}
