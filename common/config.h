/*
 * config.h - a tiny "key = value" configuration file reader.
 *
 * sshd_config-like syntax: one setting per line, '#' starts a comment, blank
 * lines are ignored, whitespace around key and value is trimmed, and a value
 * may be wrapped in double quotes to keep surrounding spaces. The reader knows
 * nothing about the keys: it hands each pair to a callback, which returns
 * 0 to accept or -1 with a message to reject. Errors carry the line number.
 */
#ifndef TETHER_CONFIG_H
#define TETHER_CONFIG_H

#include <stddef.h>

/* Called once per setting; on rejection write a reason into err. */
typedef int (*config_cb)(void *ctx, const char *key, const char *value,
                         char *err, size_t errsz);

/* Parse text (len bytes, need not be NUL-terminated). Returns 0, or -1 with
 * "line N: reason" in err. */
int config_parse(const char *text, size_t len, config_cb cb, void *ctx,
                 char *err, size_t errsz);

/* Read a file (at most BOUND_CONFIG_FILE bytes) and parse it. */
int config_parse_file(const char *path, config_cb cb, void *ctx,
                      char *err, size_t errsz);

#endif
