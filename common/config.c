/*
 * config.c - the "key = value" file reader behind config.h.
 *
 * The text is walked line by line; each line is copied into a fixed buffer
 * (so an over-long line is an error, not an allocation) and split by a small
 * hand-written scanner. The reader knows no keys: it only enforces syntax
 * and hands each pair to the caller, prefixing every error with the line
 * number so that a person can find the mistake.
 */
#include "error.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"

/* True for blank characters inside a line. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* True for a character allowed in a key. */
static bool is_keych(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Decode a quoted value starting after the opening quote at *pp into val;
 * on success *pp points past the closing quote. Returns NULL or a reason. */
static const char *unquote(char **pp, char *val)
{
	char *p = *pp;
	size_t n = 0;

	for (; *p != '"'; p++) {
		if (*p == '\0')
			return "unterminated quoted value";
		if (*p == '\\') {
			p++;
			if (*p != '"' && *p != '\\')
				return "invalid escape in quoted value (only \\\" and \\\\)";
		}
		val[n++] = *p;
	}
	val[n] = '\0';
	*pp = p + 1;
	return NULL;
}

/* Parse one line (NUL-terminated, no newline) and pass any setting to cb.
 * Returns 0, or -1 with the reason (without line number) in why. */
static int parse_line(char *line, config_cb cb, void *ctx, char *why, size_t whysz)
{
	char *p = line, *key, *end, *val;
	const char *bad;

	while (is_blank(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	key = p;
	while (is_keych(*p))
		p++;
	end = p;
	while (is_blank(*p))
		p++;
	if (end == key || *p != '=') {
		snprintf(why, whysz, "expected key = value");
		return -1;
	}
	*end = '\0';
	p++;
	while (is_blank(*p))
		p++;
	val = p;
	if (*p == '"') {
		p++;
		if ((bad = unquote(&p, val)) != NULL) {   /* in place: never outruns p */
			snprintf(why, whysz, "%s", bad);
			return -1;
		}
		while (is_blank(*p))
			p++;
		if (*p != '\0' && *p != '#') {
			snprintf(why, whysz, "unexpected text after quoted value");
			return -1;
		}
	} else {
		end = strchr(p, '#');
		if (!end)
			end = p + strlen(p);
		while (end > p && is_blank(end[-1]))
			end--;
		*end = '\0';
	}
	if (cb(ctx, key, val, why, whysz) != 0) {
		if (!why[0])
			snprintf(why, whysz, "rejected");
		return -1;
	}
	return 0;
}

/* Parse len bytes of configuration text. */
int config_parse(const char *text, size_t len, config_cb cb, void *ctx,
                 char *err, size_t errsz)
{
	char line[BOUND_CONFIG_LINE + 1], why[512];
	size_t pos = 0, lineno = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (n > BOUND_CONFIG_LINE) {
			tether_reason(err, errsz, "line %zu: line too long (max %u bytes)", lineno,
			       BOUND_CONFIG_LINE);
			return -1;
		}
		if (memchr(text + pos, '\0', n)) {
			tether_reason(err, errsz, "line %zu: embedded NUL byte", lineno);
			return -1;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		why[0] = '\0';
		if (parse_line(line, cb, ctx, why, sizeof why) < 0) {
			tether_reason(err, errsz, "line %zu: %s", lineno, why);
			return -1;
		}
	}
	return 0;
}

/* Read a whole configuration file (bounded) and parse it. */
int config_parse_file(const char *path, config_cb cb, void *ctx,
                      char *err, size_t errsz)
{
	struct buf b;
	char chunk[4096];
	ssize_t n;
	int fd, r;

	/* without blocking: a FIFO (a drop-in named *.conf, say) is refused,
	 * never waited on */
	struct stat st;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		tether_reason(err, errsz, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	                            S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		tether_reason(err, errsz, "%s is not a regular file", path);
		return -1;
	}
	buf_init(&b, BOUND_CONFIG_FILE);
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tether_reason(err, errsz, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0 || buf_append(&b, chunk, (size_t)n) < 0)
			break;
	}
	close(fd);
	if (n > 0)
		tether_reason(err, errsz, "%s: file too large (max %u bytes)", path,
		       BOUND_CONFIG_FILE);
	r = n == 0 ? config_parse(buf_cstr(&b), b.len, cb, ctx, err, errsz) : -1;
	buf_free(&b);
	return r;
}
