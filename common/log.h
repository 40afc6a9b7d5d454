/*
 * log.h - structured, one-line-per-event logging.
 *
 * Each event is "ts=... level=... event=NAME key=value ..." on one line.
 * Values that may come from a client go through log_str(), which escapes
 * control characters, quotes, backslashes and non-ASCII bytes and truncates
 * to BOUND_LOG_VALUE, so no peer can forge a log line or flood the log.
 * There is deliberately no way to log a raw, unescaped string value.
 *
 * When the output is the systemd journal ($JOURNAL_STREAM names the
 * descriptor's device and inode, as systemd sets it), a line starts with
 * its syslog priority "<N>" instead of a timestamp: the journal keeps its
 * own and maps the priority (sd-daemon(3)).
 */
#ifndef TETHER_LOG_H
#define TETHER_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct logline {
	char   text[BOUND_LOG_LINE];
	size_t len;
	int    level;
	int    skip;   /* below the current level: build nothing */
	size_t body;   /* where the text after the timestamp or priority starts */
};

/* Set the minimum level and the file descriptor lines are written to; the
 * journal's format is used when fd is the stream $JOURNAL_STREAM names. */
void log_setup(enum log_level min, int fd);

/* Parse "debug|info|warn|error"; returns the level or -1. */
int log_level_parse(const char *s);

/* Start a line for an event (a fixed identifier chosen by our code). */
void log_begin(struct logline *l, enum log_level lv, const char *event);

/* Add key=value where value is untrusted text: escaped, quoted, truncated. */
void log_str(struct logline *l, const char *key, const char *value);

/* Add key=value for a number. */
void log_int(struct logline *l, const char *key, int64_t value);

/* Write the line (with one write(2), so concurrent lines never interleave). */
void log_end(struct logline *l);

/* Escape src into dst (size dstsz) the way log_str does, without quotes;
 * at most maxin input bytes are used, and "..." marks truncation.
 * Returns the length written. */
size_t log_escape(char *dst, size_t dstsz, const char *src, size_t maxin);

/* One-call form for fixed messages: log_msg(LOG_INFO, "shutdown", "reason", "sigterm"). */
void log_msg(enum log_level lv, const char *event, const char *key, const char *value);

#endif
