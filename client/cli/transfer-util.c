/*
 * transfer-util.c - CSV rows, wildcards and human-readable progress for the
 * transfer commands (see transfer-util.h).
 *
 * The CSV reader takes the file PowerShell users already have for
 * Import-CSV | Start-BitsTransfer: a "Source, Destination" header, one row
 * per file, optional double quotes. It is strict where a mistake would move
 * the wrong file (a stray quote, a third field, an empty field) and lenient
 * where nothing can go wrong (blank lines, spaces, CRLF, a byte order mark).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "transfer-util.h"

/* Set a "line N: ..." reason. */
static int row_error(char *why, size_t whysz, unsigned line, const char *what)
{
	snprintf(why, whysz, "line %u: %s", line, what);
	return -1;
}

/* Copy one byte into a field; -1 when the field is full. */
static int put(char *out, size_t outsz, size_t *n, char c)
{
	if (*n + 1 >= outsz)
		return -1;
	out[(*n)++] = c;
	out[*n] = '\0';
	return 0;
}

/* Read one field of [*pp, end): optional whitespace, then a quoted or a
 * bare value, then optional whitespace; *pp is left at the ',' or the end.
 * Returns 0, or -1 with the reason in what. */
static int csv_field(const char **pp, const char *end, char *out, size_t outsz,
                     const char **what)
{
	const char *p = *pp;
	size_t n = 0;
	out[0] = '\0';
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '"') {
		for (p++;; p++) {
			if (p >= end) {
				*what = "unterminated quoted field";
				return -1;
			}
			if (*p == '"' && p + 1 < end && p[1] == '"')
				p++;   /* "" stands for one quote */
			else if (*p == '"')
				break;
			if (put(out, outsz, &n, *p) != 0) {
				*what = "field too long";
				return -1;
			}
		}
		for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
			;
		if (p < end && *p != ',') {
			*what = "text after a closing quote";
			return -1;
		}
	} else {
		for (; p < end && *p != ','; p++) {
			if (*p == '"') {
				*what = "quote inside an unquoted field (quote the whole field)";
				return -1;
			}
			if (put(out, outsz, &n, *p) != 0) {
				*what = "field too long";
				return -1;
			}
		}
		while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
			out[--n] = '\0';
	}
	*pp = p;
	return 0;
}

/* Split one non-blank line into source and destination. */
static int csv_row(const char *p, const char *end, char *src, char *dst, const char **what)
{
	if (csv_field(&p, end, src, TRANSFER_FIELD_MAX, what) != 0)
		return -1;
	if (p >= end) {
		*what = "expected two fields: Source, Destination";
		return -1;
	}
	p++;   /* the comma */
	if (csv_field(&p, end, dst, TRANSFER_FIELD_MAX, what) != 0)
		return -1;
	if (p < end) {
		*what = "more than two fields (quote a value that contains a comma)";
		return -1;
	}
	if (src[0] == '\0' || dst[0] == '\0') {
		*what = src[0] == '\0' ? "empty source" : "empty destination";
		return -1;
	}
	return 0;
}

/* True if a line holds nothing but whitespace. */
static bool blank(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t')
			return false;
	return true;
}

/* Parse a CSV text; see transfer-util.h. */
int transfer_csv_parse(const char *text, size_t len, transfer_row_fn fn, void *ctx,
                       char *why, size_t whysz)
{
	char src[TRANSFER_FIELD_MAX], dst[TRANSFER_FIELD_MAX];
	const char *p = text, *end = text + len;
	unsigned line = 0, rows = 0;
	bool first = true;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;   /* spreadsheets write a byte order mark */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		line++;
		if (memchr(p, '\0', (size_t)(eol - p)) != NULL)
			return row_error(why, whysz, line, "NUL byte");
		const char *stop = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		const char *what = NULL;
		if (!blank(p, stop)) {
			if (csv_row(p, stop, src, dst, &what) != 0)
				return row_error(why, whysz, line, what);
			bool header = first && strcasecmp(src, "Source") == 0 &&
			              strcasecmp(dst, "Destination") == 0;
			first = false;
			if (!header) {
				if (++rows > TRANSFER_CSV_ROWS_MAX)
					return row_error(why, whysz, line, "too many rows");
				if (fn(ctx, line, src, dst, why, whysz) != 0)
					return -1;
			}
		}
		p = nl ? nl + 1 : end;
	}
	return (int)rows;
}

/* Human bytes with binary units. */
void transfer_fmt_bytes(uint64_t n, char *out, size_t outsz)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	size_t u = 0;
	double v = (double)n;
	if (n < 1024) {
		snprintf(out, outsz, "%u B", (unsigned)n);
		return;
	}
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	if (v >= 1023.95 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;   /* would print as "1024.0" of the smaller unit */
		u++;
	}
	snprintf(out, outsz, "%.1f %s", v, units[u]);
}

/* Human rate. */
void transfer_fmt_rate(uint64_t bytes_per_second, char *out, size_t outsz)
{
	char b[32];
	transfer_fmt_bytes(bytes_per_second, b, sizeof b);
	snprintf(out, outsz, "%s/s", b);
}

/* Human duration, two units at most. */
void transfer_fmt_duration(uint64_t s, char *out, size_t outsz)
{
	if (s < 60)
		snprintf(out, outsz, "%us", (unsigned)s);
	else if (s < 3600)
		snprintf(out, outsz, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(out, outsz, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s % 3600 / 60));
	else
		snprintf(out, outsz, "%llud%02uh", (unsigned long long)(s / 86400),
		         (unsigned)(s % 86400 / 3600));
}

/* Human time left. */
void transfer_fmt_eta(uint64_t remaining, uint64_t rate, char *out, size_t outsz)
{
	if (remaining == 0 || rate == 0) {   /* done needs no rate to be known */
		snprintf(out, outsz, remaining == 0 ? "0s" : "--");
		return;
	}
	uint64_t s = remaining / rate + (remaining % rate != 0);
	if (s >= 1000ull * 86400)
		snprintf(out, outsz, "--");
	else
		transfer_fmt_duration(s, out, outsz);
}

/* "done/total" in human units. */
void transfer_fmt_progress(int64_t done, int64_t total, char *out, size_t outsz)
{
	char d[32], t[32] = "?";
	transfer_fmt_bytes(done > 0 ? (uint64_t)done : 0, d, sizeof d);
	if (total >= 0)
		transfer_fmt_bytes((uint64_t)total, t, sizeof t);
	snprintf(out, outsz, "%s/%s", d, t);
}

/* The longest prefix of s (at most max bytes) that ends on a UTF-8
 * character boundary. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;   /* s[max] continues a character: cut before it starts */
	return max;
}

#define LABEL_MAX  24   /* bytes of a job name in the progress line */
#define BAR_MIN    5
#define BAR_MAX    30

/* Parts of the line after the bar, in the order they go when the terminal
 * is too narrow for all of them: the bar first, then these. */
enum { SHOW_FILES = 1, SHOW_RATE = 2, SHOW_ETA = 4, SHOW_ALL = 7 };

/* The part after the bar: percent, bytes, then what show allows of rate,
 * ETA and files. Numbers are padded to steady widths, so that the bar (which
 * takes the room left) does not jitter as they change. */
static void progress_tail(const struct transfer_progress *p, bool moving, int show, char *out,
                          size_t outsz)
{
	char bytes[80], rate[48] = "", eta[24] = "", pct[8] = "", files[64] = "", d[32], t[32] = "?";
	int64_t done = p->bytes_done > 0 ? p->bytes_done : 0;
	if (moving && p->bytes_total > 0)
		snprintf(pct, sizeof pct, "  %3d%%",
		         (int)(done >= p->bytes_total ? 100
		                                      : (double)done * 100 / (double)p->bytes_total));
	transfer_fmt_bytes((uint64_t)done, d, sizeof d);
	if (p->bytes_total >= 0)
		transfer_fmt_bytes((uint64_t)p->bytes_total, t, sizeof t);
	snprintf(bytes, sizeof bytes, "%*s/%s", moving ? (int)strlen(t) : 0, d, t);
	if (moving && (show & SHOW_RATE)) {
		char r[40];
		transfer_fmt_rate(p->rate, r, sizeof r);
		snprintf(rate, sizeof rate, "  %10s", r);
	}
	if (moving && (show & SHOW_ETA)) {
		char e[16] = "--";
		if (p->bytes_total >= 0 && done <= p->bytes_total)
			transfer_fmt_eta((uint64_t)(p->bytes_total - done), p->rate, e, sizeof e);
		snprintf(eta, sizeof eta, "  ETA %-5s", e);
	}
	if (show & SHOW_FILES)
		snprintf(files, sizeof files, "  files %lld/%lld", (long long)p->files_done,
		         (long long)p->files_total);
	snprintf(out, outsz, "%s  %s%s%s%s", pct, bytes, rate, eta, files);
}

/* Render one progress line; see transfer-util.h. */
size_t transfer_progress_line(const struct transfer_progress *p, int width, char *out,
                              size_t outsz)
{
	static const int levels[] = { SHOW_ALL, SHOW_ALL & ~SHOW_FILES, SHOW_ETA, 0 };
	char head[LABEL_MAX + 256], tail[256], line[1024];
	const char *label = p->label ? p->label : "";
	bool moving = p->state == NULL || strcmp(p->state, "Transferring") == 0;
	if (outsz == 0)
		return 0;
	int hn = snprintf(head, sizeof head, "%.*s", (int)utf8_cut(label, LABEL_MAX), label);
	if (!moving)
		snprintf(head + hn, sizeof head - (size_t)hn, "  %s%s%.160s", p->state,
		         p->detail ? ": " : "", p->detail ? p->detail : "");
	/* drop parts until the line fits; a line that never does is cut */
	size_t level = 0;
	for (; level < sizeof levels / sizeof levels[0]; level++) {
		progress_tail(p, moving, levels[level], tail, sizeof tail);
		if ((int)(strlen(head) + strlen(tail)) <= width)
			break;
	}
	/* the bar gets what is left of a full line, within limits */
	int bar = width - (int)strlen(head) - (int)strlen(tail) - 3;
	bar = level > 0 ? 0 : bar > BAR_MAX ? BAR_MAX : bar;
	if (moving && p->bytes_total > 0 && bar >= BAR_MIN) {
		char b[BAR_MAX + 1];
		int64_t done = p->bytes_done > 0 ? p->bytes_done : 0;
		int fill = done >= p->bytes_total
		                   ? bar : (int)((double)bar * (double)done / (double)p->bytes_total);
		for (int i = 0; i < bar; i++)
			b[i] = i < fill ? '#' : '.';
		b[bar] = '\0';
		snprintf(line, sizeof line, "%s [%s]%s", head, b, tail);
	} else {
		snprintf(line, sizeof line, "%s%s", head, tail);
	}
	size_t max = width > 0 ? (size_t)width : 0;
	max = max < outsz - 1 ? max : outsz - 1;
	size_t n = utf8_cut(line, max);
	memcpy(out, line, n);
	out[n] = '\0';
	return n;
}
