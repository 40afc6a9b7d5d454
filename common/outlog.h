/*
 * outlog.h - the framing of a job's output log, shared by writer and readers.
 *
 * A job's output is one append-only file of records: a 5-byte header (one
 * stream byte, then the payload length as a 32-bit little-endian number)
 * followed by the payload. Keeping stdout and stderr in one file preserves
 * their interleaving; a cursor is a byte offset at a record boundary. The
 * server streams whole records to clients unchanged, so binary output is
 * carried byte-exact with no JSON or base64 in the way.
 */
#ifndef TETHER_OUTLOG_H
#define TETHER_OUTLOG_H

#include <stddef.h>
#include <stdint.h>

#define OUTLOG_HDR        5
#define OUTLOG_MAX_RECORD (64u * 1024)   /* payload bytes per record */

enum outlog_stream {
	OUTLOG_STDOUT = 1,
	OUTLOG_STDERR = 2,
	OUTLOG_MARKER = 3,   /* payload is text from tether itself (e.g. drops) */
};

/* Write a record header for a payload of len bytes on stream. */
void outlog_header(uint8_t hdr[OUTLOG_HDR], enum outlog_stream stream, uint32_t len);

/* Called for each complete record found by outlog_parse. */
typedef int (*outlog_cb)(void *ctx, int stream, const uint8_t *data, size_t len);

/* Walk the complete records at the start of buf. Returns the number of bytes
 * consumed (a record boundary; a partial record at the end is left), or -1
 * if a header is invalid (unknown stream or length over OUTLOG_MAX_RECORD)
 * or the callback returned non-zero. */
long outlog_parse(const uint8_t *buf, size_t len, outlog_cb cb, void *ctx);

#endif
