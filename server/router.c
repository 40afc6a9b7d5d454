/*
 * router.c - matching request paths against the route table.
 *
 * Pure string logic with no I/O, so it is unit-tested directly. The matcher
 * walks the path and the pattern segment by segment; placeholders capture
 * one segment, bounded and restricted to a safe character set.
 */
#include <stdio.h>
#include <string.h>

#include "router.h"

static const struct { int bit; const char *name; } methods[] = {
	{ M_GET, "GET" }, { M_POST, "POST" }, { M_PUT, "PUT" },
	{ M_DELETE, "DELETE" }, { M_PATCH, "PATCH" }, { M_HEAD, "HEAD" },
	{ M_OPTIONS, "OPTIONS" },
};

/* Map a method name to its bit. */
int router_method(const char *s)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(s, methods[i].name) == 0)
			return methods[i].bit;
	return 0;
}

/* True if c may appear in a captured path segment. */
static bool seg_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Match one path against one pattern, capturing placeholders. */
static bool path_matches(const char *pat, const char *path, struct route_params *p)
{
	p->n = 0;
	while (*pat != '\0' && *path != '\0') {
		if (*pat != '/' || *path != '/')
			return false;
		pat++;
		path++;
		const char *pe = strchr(pat, '/');
		const char *se = strchr(path, '/');
		size_t plen = pe ? (size_t)(pe - pat) : strlen(pat);
		size_t slen = se ? (size_t)(se - path) : strlen(path);
		if (plen >= 2 && pat[0] == '{' && pat[plen - 1] == '}') {
			if (slen == 0 || slen > BOUND_NAME || p->n >= ROUTE_MAX_PARAMS)
				return false;
			for (size_t i = 0; i < slen; i++)
				if (!seg_char_ok(path[i]))
					return false;
			/* "." and ".." are never names or ids */
			if (path[0] == '.')
				return false;
			memcpy(p->v[p->n], path, slen);
			p->v[p->n][slen] = '\0';
			p->n++;
		} else if (plen != slen || memcmp(pat, path, plen) != 0) {
			return false;
		}
		pat += plen;
		path += slen;
	}
	return *pat == '\0' && *path == '\0';
}

/* Find the route for a method and path. */
enum route_result router_match(const struct route *table, size_t n, int method,
                               const char *path, const struct route **out,
                               struct route_params *params, int *allowed)
{
	struct route_params tmp;
	*allowed = 0;
	*out = NULL;
	if (strlen(path) > BOUND_URL)
		return ROUTE_NO_PATH;
	for (size_t i = 0; i < n; i++) {
		if (!path_matches(table[i].pattern, path, &tmp))
			continue;
		if (table[i].method == method) {
			*out = &table[i];
			*params = tmp;
			return ROUTE_FOUND;
		}
		*allowed |= table[i].method;
	}
	return *allowed ? ROUTE_BAD_METHOD : ROUTE_NO_PATH;
}

/* Render an allowed-methods mask as an Allow header value. */
void router_allow_header(int allowed, char *out, size_t outsz)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (!(allowed & methods[i].bit))
			continue;
		int w = snprintf(out + len, outsz - len, "%s%s", len ? ", " : "",
		                 methods[i].name);
		if (w < 0 || (size_t)w >= outsz - len)
			return;
		len += (size_t)w;
	}
}
