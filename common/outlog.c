/*
 * outlog.c - encoding and decoding output-log records.
 *
 * Decoding is defensive: the client parses what a server sent, so every
 * header is validated before its payload is touched.
 */
#include "outlog.h"

/* Fill in a record header. */
void outlog_header(uint8_t hdr[OUTLOG_HDR], enum outlog_stream stream, uint32_t len)
{
	hdr[0] = (uint8_t)stream;
	hdr[1] = (uint8_t)(len & 0xff);
	hdr[2] = (uint8_t)((len >> 8) & 0xff);
	hdr[3] = (uint8_t)((len >> 16) & 0xff);
	hdr[4] = (uint8_t)((len >> 24) & 0xff);
}

/* Walk complete records. */
long outlog_parse(const uint8_t *buf, size_t len, outlog_cb cb, void *ctx)
{
	size_t off = 0;
	while (len - off >= OUTLOG_HDR) {
		const uint8_t *h = buf + off;
		uint32_t n = (uint32_t)h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16 |
		             (uint32_t)h[4] << 24;
		if (h[0] < OUTLOG_STDOUT || h[0] > OUTLOG_MARKER || n > OUTLOG_MAX_RECORD)
			return -1;
		if (len - off - OUTLOG_HDR < n)
			break;
		if (cb != NULL && cb(ctx, h[0], h + OUTLOG_HDR, n) != 0)
			return -1;
		off += OUTLOG_HDR + n;
	}
	return (long)off;
}
