/*
 * buf.h - a growable byte buffer with a hard maximum fixed at creation.
 *
 * Everything tether reads from a peer lands in one of these, so a hostile
 * peer can never make us allocate more than the limit chosen by the caller.
 * The contents are always NUL-terminated (the NUL is not counted in len),
 * which makes text buffers safe to hand to string functions.
 */
#ifndef TETHER_BUF_H
#define TETHER_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char   *data;  /* NULL until the first append; always NUL-terminated after */
	size_t  len;   /* bytes used, excluding the terminating NUL */
	size_t  cap;   /* bytes allocated */
	size_t  max;   /* len may never exceed this */
};

/* Initialise an empty buffer that will refuse to grow past max bytes. */
void buf_init(struct buf *b, size_t max);

/* Make room for n more bytes at once (a known length: no growing, copying
 * and wiping chunk by chunk); 0, or -1 past the maximum or out of memory. */
int buf_reserve(struct buf *b, size_t n);

/* Append n bytes; returns 0, or -1 (buffer unchanged) if max would be exceeded
 * or memory is exhausted. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Append a C string (without its NUL); same return as buf_append. */
int buf_puts(struct buf *b, const char *s);

/* Append formatted text; -1 (buffer unchanged) if it would not fit. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* A NUL-terminated view of the contents ("" for an empty buffer). */
const char *buf_cstr(const struct buf *b);

/* Forget the contents but keep the allocation and the maximum. */
void buf_reset(struct buf *b);

/* Hand the allocation to the caller (who frees it with free()); the buffer is
 * left empty. Returns a NUL-terminated string, never NULL unless out of
 * memory. If lenp is not NULL it receives the length. */
char *buf_take(struct buf *b, size_t *lenp);

/* Release memory; the buffer may be reused after buf_init. */
void buf_free(struct buf *b);

/* Like buf_free, but zero the bytes first (for secrets). */
void buf_free_secret(struct buf *b);

#endif
