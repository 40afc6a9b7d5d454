/*
 * transfer-util.h - the pure logic of the transfer commands: reading
 * "Source, Destination" CSV rows and the human forms of
 * sizes, rates, times left and the one-line progress display.
 *
 * Nothing here does I/O or talks to a server, so every rule can be unit
 * tested (tests/unit/test-transfer-util.c) with exact expected text.
 */
#ifndef TETHER_TRANSFER_UTIL_H
#define TETHER_TRANSFER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRANSFER_CSV_MAX        (1024u * 1024)   /* bytes of a --csv file */
#define TRANSFER_CSV_ROWS_MAX   1000u            /* jobs one --csv may create */
#define TRANSFER_FIELD_MAX      4096u            /* one source or destination */
#define TRANSFER_CACERT_MAX     (1024u * 1024)   /* bytes of a --cacert PEM file */

/* Called for each data row of a CSV text (line: 1-based line number);
 * returns 0 to go on, or -1 to stop the parse (which then returns -1 with
 * why left as the callback set it). */
typedef int (*transfer_row_fn)(void *ctx, unsigned line, const char *source,
                               const char *destination, char *why, size_t whysz);

/* Parse "Source, Destination" rows: a first row equal to that header
 * (case-insensitive, field by field) is skipped, as are blank lines, a
 * UTF-8 byte order mark and whitespace around fields; a field may be
 * double-quoted, with "" for a quote inside. A quoted field does not span
 * lines. Returns the number of rows handed to fn (0 is possible), or -1
 * with "line N: reason" in why. At most TRANSFER_CSV_ROWS_MAX rows. */
int transfer_csv_parse(const char *text, size_t len, transfer_row_fn fn, void *ctx,
                       char *why, size_t whysz);

/* "512 B", "1.5 KiB", "12.0 MiB", ... (binary units, one decimal). */
void transfer_fmt_bytes(uint64_t n, char *out, size_t outsz);

/* "1.5 MiB/s"; "0 B/s" for 0. */
void transfer_fmt_rate(uint64_t bytes_per_second, char *out, size_t outsz);

/* Time left to move remaining bytes at rate: "42s", "3m05s", "2h07m",
 * "3d04h"; "0s" when nothing remains; "--" if the rate is 0 or it would take
 * 1000 days or more. */
void transfer_fmt_eta(uint64_t remaining, uint64_t rate, char *out, size_t outsz);

/* "3m05s" style for a number of seconds (as transfer_fmt_eta). */
void transfer_fmt_duration(uint64_t seconds, char *out, size_t outsz);

/* "12.0 MiB/1.0 GiB", or "3.0 MiB/?" when the total is unknown (< 0). */
void transfer_fmt_progress(int64_t done, int64_t total, char *out, size_t outsz);

/* What one progress line shows (of one job, or the sum of several). */
struct transfer_progress {
	const char *label;        /* job name, or "3 jobs" */
	const char *state;        /* "Transferring", "TransientError", ... */
	int64_t     bytes_done;
	int64_t     bytes_total;  /* < 0: not known yet */
	uint64_t    rate;         /* bytes/s, 0 if not measured */
	int64_t     files_done, files_total;
	const char *detail;       /* shown after a state other than Transferring
	                           * ("retry at ..."), or NULL */
};

/* Render p into out as one line of at most width columns (ASCII, except
 * what label or detail bring; cut at a UTF-8 boundary), with no newline:
 *   LABEL [#####.....]  45%  450.0 MiB/1.0 GiB  1.5 MiB/s  ETA 6m10s  files 1/2
 * The bar shrinks, then goes, as width does; other states replace the bar
 * with "STATE: DETAIL". Returns the length written. */
size_t transfer_progress_line(const struct transfer_progress *p, int width, char *out,
                              size_t outsz);

#endif
