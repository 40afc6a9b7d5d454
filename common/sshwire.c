/*
 * sshwire.c - the bounded SSH wire reader and its writers.
 *
 * Getters either consume exactly what they parsed or nothing; a length
 * field is compared with the bytes left before anything is read. mpints
 * must be minimal and non-negative, so that one number has one encoding
 * and a key has one blob (fingerprints and blob comparison rely on it).
 */
#include "sshwire.h"

#include <string.h>

/* Start reading len bytes at p. */
void sshwire_init(struct sshwire *r, const void *p, size_t len)
{
	r->p = p;
	r->left = p ? len : 0;
}

/* One byte. */
int sshwire_u8(struct sshwire *r, uint8_t *v)
{
	if (r->left < 1)
		return -1;
	*v = r->p[0];
	r->p++;
	r->left--;
	return 0;
}

/* A big-endian uint32. */
int sshwire_u32(struct sshwire *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return 0;
}

/* n raw bytes. */
int sshwire_bytes(struct sshwire *r, size_t n, const unsigned char **p)
{
	if (n > r->left)
		return -1;
	*p = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

/* A length-prefixed string, as a view. */
int sshwire_string(struct sshwire *r, const unsigned char **p, size_t *len)
{
	struct sshwire save = *r;
	uint32_t n;

	if (sshwire_u32(r, &n) < 0)
		return -1;
	if (n > r->left) {
		*r = save;
		return -1;
	}
	*p = r->p;
	*len = n;
	r->p += n;
	r->left -= n;
	return 0;
}

/* A string copied out as C text; refused if it holds a NUL or does not fit. */
int sshwire_cstring(struct sshwire *r, char *out, size_t outsz)
{
	struct sshwire save = *r;
	const unsigned char *p;
	size_t n;

	if (sshwire_string(r, &p, &n) < 0)
		return -1;
	if (n >= outsz || (n && memchr(p, '\0', n))) {
		*r = save;
		return -1;
	}
	if (n)
		memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* A string that must equal s. */
int sshwire_expect(struct sshwire *r, const char *s)
{
	struct sshwire save = *r;
	const unsigned char *p;
	size_t n;

	if (sshwire_string(r, &p, &n) < 0)
		return -1;
	if (n != strlen(s) || memcmp(p, s, n) != 0) {
		*r = save;
		return -1;
	}
	return 0;
}

/* A minimal, non-negative mpint of at most maxbytes magnitude. */
int sshwire_mpint(struct sshwire *r, size_t maxbytes, const unsigned char **p, size_t *len)
{
	struct sshwire save = *r;
	const unsigned char *v;
	size_t n;

	if (sshwire_string(r, &v, &n) < 0)
		return -1;
	if (n > 0 && (v[0] & 0x80))                      /* negative */
		goto bad;
	if (n > 0 && v[0] == 0 && (n == 1 || !(v[1] & 0x80)))  /* not minimal */
		goto bad;
	if (n > 0 && v[0] == 0) {
		v++;
		n--;
	}
	if (n > maxbytes)
		goto bad;
	*p = v;
	*len = n;
	return 0;
bad:
	*r = save;
	return -1;
}

/* Is the input used up? */
bool sshwire_done(const struct sshwire *r)
{
	return r->left == 0;
}

/* Append one byte. */
int sshwire_put_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

/* Append a big-endian uint32. */
int sshwire_put_u32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                       (unsigned char)(v >> 8), (unsigned char)v };

	return buf_append(b, x, 4);
}

/* Append a length-prefixed string, all or nothing. */
int sshwire_put_string(struct buf *b, const void *p, size_t len)
{
	size_t was = b->len;

	if (len > UINT32_MAX)
		return -1;
	if (sshwire_put_u32(b, (uint32_t)len) < 0 || buf_append(b, p, len) < 0) {
		b->len = was;
		if (b->data)
			b->data[was] = '\0';
		return -1;
	}
	return 0;
}

/* Append a C string as an SSH string. */
int sshwire_put_cstring(struct buf *b, const char *s)
{
	return sshwire_put_string(b, s, strlen(s));
}

/* Append an mpint from a big-endian magnitude. */
int sshwire_put_mpint(struct buf *b, const unsigned char *p, size_t len)
{
	size_t was = b->len;
	int pad;

	while (len > 0 && p[0] == 0) {
		p++;
		len--;
	}
	pad = len > 0 && (p[0] & 0x80);
	if (len > UINT32_MAX - 1)
		return -1;
	if (sshwire_put_u32(b, (uint32_t)(len + (size_t)pad)) < 0 ||
	    (pad && sshwire_put_u8(b, 0) < 0) || buf_append(b, p, len) < 0) {
		b->len = was;
		if (b->data)
			b->data[was] = '\0';
		return -1;
	}
	return 0;
}
