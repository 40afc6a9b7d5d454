/*
 * log.c - structured one-line logging that a peer cannot forge or flood.
 *
 * A line is built in the caller's struct logline (so threads share nothing
 * but the two setup values) and leaves with a single write(2). Each field is
 * appended whole or not at all; when the fixed buffer fills up, the line is
 * cut after the last complete field and ends in " ...". String values are
 * always quoted and escaped, event names and keys are ours but are still
 * reduced to a safe alphabet, so no byte from a peer can end a line early.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strparse.h"
#include "timeu.h"

#define LOG_KEY_MAX  64                     /* longest key or event name */
#define LOG_ROOM     (BOUND_LOG_LINE - 5)   /* leaves room for " ...\n" */
#define LOG_SKIP     1                      /* below the level: build nothing */
#define LOG_CUT      2                      /* line full: add nothing more */

static atomic_int log_min = LOG_INFO;
static atomic_int log_fd = 2;
static atomic_int log_journal;   /* lines go to the journal: "<N>", no ts */

static const char *const level_names[] = { "debug", "info", "warn", "error" };
/* syslog priorities: LOG_DEBUG 7, LOG_INFO 6, LOG_WARNING 4, LOG_ERR 3 */
static const char level_prio[] = { '7', '6', '4', '3' };

/* True if fd is the stream $JOURNAL_STREAM ("DEV:INODE") names. */
static bool is_journal(int fd)
{
	const char *v = getenv("JOURNAL_STREAM");
	char dev[24];
	uint64_t d, i;
	struct stat st;
	const char *colon = v ? strchr(v, ':') : NULL;
	if (colon == NULL || (size_t)(colon - v) >= sizeof dev)
		return false;
	memcpy(dev, v, (size_t)(colon - v));
	dev[colon - v] = '\0';
	if (strparse_u64(dev, 0, UINT64_MAX, &d) != 0 ||
	    strparse_u64(colon + 1, 0, UINT64_MAX, &i) != 0)
		return false;
	return fstat(fd, &st) == 0 && (uint64_t)st.st_dev == d && (uint64_t)st.st_ino == i;
}

/* Set the minimum level and the output file descriptor. */
void log_setup(enum log_level min, int fd)
{
	atomic_store(&log_min, (int)min);
	atomic_store(&log_journal, is_journal(fd));
	atomic_store(&log_fd, fd);
}

/* The level named s (case-insensitive), or -1. */
int log_level_parse(const char *s)
{
	for (int i = 0; s && i < (int)(sizeof level_names / sizeof level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* Append n bytes to the line whole, or mark the line as cut. */
static void put(struct logline *l, const char *s, size_t n)
{
	if (l->skip)
		return;
	if (n > LOG_ROOM - l->len) {
		l->skip = LOG_CUT;
		return;
	}
	memcpy(l->text + l->len, s, n);
	l->len += n;
}

/* Copy an identifier into dst, mapping unexpected bytes to '_'. */
static size_t ident(char *dst, const char *s)
{
	size_t n = 0;

	for (; s && s[n] && n < LOG_KEY_MAX; n++) {
		char c = s[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
		dst[n] = ok ? c : '_';
	}
	if (n == 0)
		dst[n++] = '_';
	return n;
}

/* Start a line: timestamp (or, to the journal, priority), level and
 * event, unless below the minimum level. */
void log_begin(struct logline *l, enum log_level lv, const char *event)
{
	char ts[TIMEU_RFC3339_LEN], ev[LOG_KEY_MAX];
	int n;

	l->len = 0;
	l->level = (int)lv;
	l->skip = (int)lv < atomic_load(&log_min) ? LOG_SKIP : 0;
	if (l->skip)
		return;
	unsigned k = (unsigned)lv < 4 ? (unsigned)lv : LOG_ERROR;
	if (atomic_load(&log_journal)) {
		n = snprintf(l->text, sizeof l->text, "<%c>", level_prio[k]);
	} else {
		timeu_rfc3339(timeu_now(), ts);
		n = snprintf(l->text, sizeof l->text, "ts=%s ", ts);
	}
	l->body = n > 0 ? (size_t)n : 0;
	n = snprintf(l->text + l->body, sizeof l->text - l->body, "level=%s event=",
	             level_names[k]);
	l->len = l->body + (n > 0 ? (size_t)n : 0);
	put(l, ev, ident(ev, event));
}

/* Escape one byte into e (at least 5 bytes); returns the length. */
static size_t escape1(unsigned char c, char *e)
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '\\': memcpy(e, "\\\\", 2); return 2;
	case '"':  memcpy(e, "\\\"", 2); return 2;
	case '\n': memcpy(e, "\\n", 2); return 2;
	case '\r': memcpy(e, "\\r", 2); return 2;
	case '\t': memcpy(e, "\\t", 2); return 2;
	default:
		if (c >= 0x20 && c < 0x7f) {
			e[0] = (char)c;
			return 1;
		}
		e[0] = '\\';
		e[1] = 'x';
		e[2] = hex[c >> 4];
		e[3] = hex[c & 15];
		return 4;
	}
}

/* Escape up to maxin bytes of src into dst; "..." marks any truncation. */
size_t log_escape(char *dst, size_t dstsz, const char *src, size_t maxin)
{
	size_t i, o = 0, need = 0, room;
	bool cut;
	char e[5];

	if (dstsz == 0)
		return 0;
	if (!src)
		src = "";
	for (i = 0; src[i] && i < maxin; i++)
		need += escape1((unsigned char)src[i], e);
	cut = src[i] != '\0' || need >= dstsz;
	room = cut ? (dstsz >= 4 ? dstsz - 4 : 0) : dstsz - 1;
	for (i = 0; src[i] && i < maxin; i++) {
		size_t k = escape1((unsigned char)src[i], e);

		if (k > room - o)
			break;
		memcpy(dst + o, e, k);
		o += k;
	}
	if (cut && dstsz >= 4) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return o;
}

/* Add key="value" with the value escaped and truncated. */
void log_str(struct logline *l, const char *key, const char *value)
{
	char f[LOG_KEY_MAX + 4 * BOUND_LOG_VALUE + 16];
	size_t n;

	if (l->skip)
		return;
	f[0] = ' ';
	n = 1 + ident(f + 1, key);
	f[n++] = '=';
	f[n++] = '"';
	n += log_escape(f + n, sizeof f - n - 1, value, BOUND_LOG_VALUE);
	f[n++] = '"';
	put(l, f, n);
}

/* Add key=number. */
void log_int(struct logline *l, const char *key, int64_t value)
{
	char f[LOG_KEY_MAX + 32];
	size_t n;
	int k;

	if (l->skip)
		return;
	f[0] = ' ';
	n = 1 + ident(f + 1, key);
	k = snprintf(f + n, sizeof f - n, "=%" PRId64, value);
	if (k > 0)
		put(l, f, n + (size_t)k);
}

/* Terminate the line and write it with one write(2); errno is preserved. */
/* Identical lines (all but the timestamp or priority) in a row within this many seconds
 * of the first are folded into a count: a failure repeated on every pass
 * of a loop (a full disk) must not fill the disk with log. */
#define LOG_REPEAT_WINDOW 10

static pthread_mutex_t rep_mu = PTHREAD_MUTEX_INITIALIZER;
static char    rep_last[BOUND_LOG_LINE];
static size_t  rep_len;
static int64_t rep_since, rep_count;

/* Write a whole line. */
static void emit(const char *text, size_t len)
{
	ssize_t r;
	do
		r = write(atomic_load(&log_fd), text, len);
	while (r < 0 && errno == EINTR);
}

/* True if the line repeats the last one within the window (it is then
 * counted, not written); else *folded gets the count of the lines folded
 * before it. */
static bool repeated(const struct logline *l, int64_t *folded)
{
	const char *body = l->text + l->body;
	size_t blen = l->len > l->body ? l->len - l->body : 0;
	int64_t now = timeu_now();
	bool rep = false;
	pthread_mutex_lock(&rep_mu);
	if (blen > 0 && blen == rep_len && memcmp(body, rep_last, blen) == 0 &&
	    now - rep_since < LOG_REPEAT_WINDOW) {
		rep_count++;
		rep = true;
	} else {
		*folded = rep_count;
		rep_count = 0;
		rep_len = blen;
		memcpy(rep_last, body, blen);
		rep_since = now;
	}
	pthread_mutex_unlock(&rep_mu);
	return rep;
}

void log_end(struct logline *l)
{
	int saved = errno;
	int64_t folded = 0;

	if (l->skip == LOG_SKIP)
		return;
	if (l->skip == LOG_CUT) {
		memcpy(l->text + l->len, " ...\n", 5);
		l->len += 5;
	} else {
		l->text[l->len++] = '\n';
	}
	if (!repeated(l, &folded)) {
		if (folded > 0) {
			char ts[TIMEU_RFC3339_LEN], pre[40], line[128];
			if (atomic_load(&log_journal)) {
				snprintf(pre, sizeof pre, "<6>");
			} else {
				timeu_rfc3339(timeu_now(), ts);
				snprintf(pre, sizeof pre, "ts=%s ", ts);
			}
			int n = snprintf(line, sizeof line, "%slevel=info event=log_repeated "
			                 "count=%" PRId64 "\n", pre, folded);
			if (n > 0 && (size_t)n < sizeof line)
				emit(line, (size_t)n);
		}
		emit(l->text, l->len);
	}
	l->skip = LOG_SKIP;
	errno = saved;
}

/* Log one event with at most one string field. */
void log_msg(enum log_level lv, const char *event, const char *key, const char *value)
{
	struct logline l;

	log_begin(&l, lv, event);
	if (key)
		log_str(&l, key, value);
	log_end(&l);
}
