/*
 * hostconfig.c - reading the client's configuration file (hostconfig.h).
 *
 * The grammar is ssh_config's: "Keyword value" or "Keyword=value" per
 * line, keywords in any case, '#' lines and blank lines ignored, a value
 * in double quotes may hold spaces. "Host PATTERN..." starts a block that
 * applies when a pattern matches the alias (glob, any case; "!PATTERN"
 * excludes); lines before the first Host apply to every host. For each
 * setting the first value that applies wins. Every line is checked, in
 * blocks that apply or not, so a mistake shows on the first use.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "hostconfig.h"
#include "strparse.h"

#define LINE_MAX_LEN 1024

/* See hostconfig.h. */
int hostconfig_persist(const char *v, long *secs)
{
	int64_t n;
	if (strcasecmp(v, "no") == 0 || strcmp(v, "0") == 0) {
		*secs = 0;
		return 0;
	}
	if (strparse_i64(v, 1, 86400, &n) != 0)
		return -1;
	*secs = (long)n;
	return 0;
}

/* Does the Host line's pattern list (space separated) apply to host? */
static bool host_matches(char *patterns, const char *host)
{
	bool yes = false;
	char *p = patterns;
	while (*(p += strspn(p, " \t")) != '\0') {
		char *end = p + strcspn(p, " \t");
		bool last = *end == '\0', neg = p[0] == '!';
		*end = '\0';
		if (fnmatch(neg ? p + 1 : p, host, FNM_CASEFOLD) == 0) {
			if (neg)
				return false;
			yes = true;
		}
		p = last ? end : end + 1;
	}
	return yes;
}

/* Split a line into keyword and value (both trimmed, quotes removed);
 * 0, 1 for nothing on the line, -1 if malformed. */
static int split_line(char *line, char **key, char **value)
{
	char *p = line + strspn(line, " \t");
	size_t n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		p[--n] = '\0';
	if (*p == '\0' || *p == '#')
		return 1;
	*key = p;
	p += strcspn(p, " \t=");
	if (*p == '\0')
		return -1;
	*p++ = '\0';
	p += strspn(p, " \t");
	if (*p == '=')
		p += 1 + strspn(p + 1, " \t");
	if (*p == '"') {
		size_t q = strlen(p);
		if (q < 2 || p[q - 1] != '"')
			return -1;
		p[q - 1] = '\0';
		p++;
	}
	*value = p;
	return **value == '\0' ? -1 : 0;
}

/* Copy a path, "~/" expanded; -1 if it does not fit. */
static int put_path(char *out, size_t outsz, const char *v, const char *home)
{
	int n = strncmp(v, "~/", 2) == 0 && home != NULL
	      ? snprintf(out, outsz, "%s/%s", home, v + 2) : snprintf(out, outsz, "%s", v);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Check one keyword's value and, when apply and the setting is still free,
 * record it. 0, or -1 with why. */
static int setting(const char *key, const char *v, bool apply, const char *home,
                   struct hostconfig *c, char *why, size_t whysz)
{
	int64_t n;
	char path[BOUND_PATH];
	if (strcasecmp(key, "HostName") == 0) {
		if (strlen(v) >= sizeof c->hostname || strpbrk(v, " \t/@") != NULL) {
			snprintf(why, whysz, "HostName '%.200s' is not a host name or address", v);
			return -1;
		}
		if (apply && c->hostname[0] == '\0')
			snprintf(c->hostname, sizeof c->hostname, "%s", v);
	} else if (strcasecmp(key, "User") == 0) {
		if (!addr_valid_name(v)) {
			snprintf(why, whysz, "User '%.200s' is not a valid user name", v);
			return -1;
		}
		if (apply && c->user[0] == '\0')
			snprintf(c->user, sizeof c->user, "%s", v);
	} else if (strcasecmp(key, "IdentityFile") == 0 || strcasecmp(key, "CACert") == 0) {
		bool id = strcasecmp(key, "IdentityFile") == 0;
		if (put_path(path, sizeof path, v, home) != 0) {
			snprintf(why, whysz, "%s: path too long", key);
			return -1;
		}
		char *dst = id ? c->identity : c->cacert;
		if (apply && dst[0] == '\0')
			snprintf(dst, BOUND_PATH, "%s", path);
	} else if (strcasecmp(key, "Port") == 0) {
		if (strparse_i64(v, 1, 65535, &n) != 0) {
			snprintf(why, whysz, "Port '%.200s' is not a port number (1-65535)", v);
			return -1;
		}
		if (apply && c->port == 0)
			c->port = (uint16_t)n;
	} else if (strcasecmp(key, "Throttle") == 0) {
		if (strparse_i64(v, 1, 4096, &n) != 0) {
			snprintf(why, whysz, "Throttle '%.200s' is not a number from 1 to 4096", v);
			return -1;
		}
		if (apply && c->throttle == 0)
			c->throttle = (int)n;
	} else if (strcasecmp(key, "ConnectTimeout") == 0 || strcasecmp(key, "Timeout") == 0) {
		bool connect = strcasecmp(key, "ConnectTimeout") == 0;
		if (strparse_i64(v, 1, 86400 * 30, &n) != 0) {
			snprintf(why, whysz, "%s '%.200s' is not a number of seconds (1-2592000)", key, v);
			return -1;
		}
		long *dst = connect ? &c->connect_timeout : &c->timeout;
		if (apply && *dst == 0)
			*dst = (long)n;
	} else if (strcasecmp(key, "ControlPersist") == 0) {
		long secs;
		if (hostconfig_persist(v, &secs) != 0) {
			snprintf(why, whysz, "ControlPersist '%.200s' is not 'no' or a number of "
			         "seconds (1-86400)", v);
			return -1;
		}
		if (apply && c->control_persist == 0)
			c->control_persist = secs == 0 ? -1 : secs;
	} else {
		snprintf(why, whysz, "unknown keyword '%.200s'", key);
		return -1;
	}
	return 0;
}

/* See hostconfig.h. */
int hostconfig_lookup(const char *text, size_t len, const char *host, const char *home,
                      struct hostconfig *out, char *why, size_t whysz)
{
	char line[LINE_MAX_LEN + 1], err[300];
	bool apply = true;
	size_t pos = 0;
	memset(out, 0, sizeof *out);
	for (unsigned no = 1; pos < len; no++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *key, *value;
		int rc = -1;
		if (n > LINE_MAX_LEN || memchr(text + pos, '\0', n) != NULL) {
			snprintf(err, sizeof err, "line too long or not text");
		} else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			rc = split_line(line, &key, &value);
			if (rc < 0)
				snprintf(err, sizeof err, "expected 'Keyword value'");
			else if (rc == 0 && strcasecmp(key, "Host") == 0)
				apply = host_matches(value, host);
			else if (rc == 0)
				rc = setting(key, value, apply, home, out, err, sizeof err);
		}
		if (rc < 0) {
			snprintf(why, whysz, "line %u: %s", no, err);
			memset(out, 0, sizeof *out);
			return -1;
		}
		pos += n + (nl != NULL);
	}
	return 0;
}
