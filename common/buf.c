/*
 * buf.c - the bounded, always NUL-terminated byte buffer.
 *
 * Growth doubles the allocation but never past max + 1 bytes (the +1 is the
 * terminating NUL), so the caller's limit is also the memory limit. Growing
 * copies into a fresh allocation and wipes the old one instead of calling
 * realloc, so that secrets held in a buffer never linger in freed memory.
 * Every failing operation leaves the contents exactly as they were.
 */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 64

/* Initialise an empty buffer with a hard limit of max bytes. */
void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max < SIZE_MAX ? max : SIZE_MAX - 1;
}

/* Make room for n more bytes plus the NUL; 0, or -1 with nothing changed. */
int buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max - b->len)
		return -1;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = malloc(cap);
	if (!p)
		return -1;
	if (b->data) {
		memcpy(p, b->data, b->len + 1);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	} else {
		p[0] = '\0';
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

/* Append n bytes from p, all or nothing. */
int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Append a C string without its NUL. */
int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* Append printf-formatted text, all or nothing. */
int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* Append vprintf-formatted text, all or nothing. */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	if (vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap) != n) {
		b->data[b->len] = '\0';
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

/* The contents as a C string, "" when nothing was ever appended. */
const char *buf_cstr(const struct buf *b)
{
	return b->data ? b->data : "";
}

/* Empty the buffer but keep its allocation. */
void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Give the allocation to the caller and leave the buffer empty. */
char *buf_take(struct buf *b, size_t *lenp)
{
	char *p = b->data;
	size_t len = b->len;

	if (!p) {
		p = malloc(1);
		if (!p)
			return NULL;
		p[0] = '\0';
	}
	if (lenp)
		*lenp = len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

/* Free the allocation. */
void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Wipe, then free the allocation. */
void buf_free_secret(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}
