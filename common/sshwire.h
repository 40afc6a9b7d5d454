/*
 * sshwire.h - the SSH wire encoding (RFC 4251 section 5): a bounded reader
 * over bytes a peer chose, and writers onto a struct buf.
 *
 * The reader never reads past its end, never allocates, and hands out
 * views into the input; every length is checked against what remains
 * before it is used. sshkey.c, sshkey-private.c and the ssh-agent client
 * (client/lib/agent.c) all read through it.
 */
#ifndef TETHER_SSHWIRE_H
#define TETHER_SSHWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct sshwire {
	const unsigned char *p;   /* the next unread byte */
	size_t               left; /* bytes after p */
};

/* Read from len bytes at p. */
void sshwire_init(struct sshwire *r, const void *p, size_t len);

/* Each getter returns 0, or -1 leaving the reader where it was. */
int sshwire_u8(struct sshwire *r, uint8_t *v);
int sshwire_u32(struct sshwire *r, uint32_t *v);
/* n raw bytes (a view). */
int sshwire_bytes(struct sshwire *r, size_t n, const unsigned char **p);
/* A string: uint32 length, then the bytes (a view). */
int sshwire_string(struct sshwire *r, const unsigned char **p, size_t *len);
/* A string that must be text: no NUL, fits outsz with its terminator. */
int sshwire_cstring(struct sshwire *r, char *out, size_t outsz);
/* A string equal to s. */
int sshwire_expect(struct sshwire *r, const char *s);
/* A non-negative mpint in minimal form; p and len view its magnitude
 * without the sign byte (len 0 for zero). At most maxbytes of magnitude. */
int sshwire_mpint(struct sshwire *r, size_t maxbytes, const unsigned char **p, size_t *len);
/* Nothing left? */
bool sshwire_done(const struct sshwire *r);

/* Writers: 0, or -1 if the buffer's maximum would be exceeded. */
int sshwire_put_u8(struct buf *b, uint8_t v);
int sshwire_put_u32(struct buf *b, uint32_t v);
int sshwire_put_string(struct buf *b, const void *p, size_t len);
int sshwire_put_cstring(struct buf *b, const char *s);
/* An mpint from a big-endian magnitude (leading zeros dropped, a zero
 * byte added when the top bit is set). */
int sshwire_put_mpint(struct buf *b, const unsigned char *p, size_t len);

#endif
