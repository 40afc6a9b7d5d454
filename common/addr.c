/*
 * addr.c - parsing of the HOST and SESSION addresses users type.
 *
 * The grammar is small enough to scan by hand: an optional "user@", then a
 * bracketed IPv6 literal or a plain host name, then an optional ":port".
 * Errors quote the offending part and the whole input, because the person
 * reading them typed it a moment ago. Nothing is resolved here: a host name
 * is only checked for characters a resolver could accept.
 */
#include "error.h"
#include "addr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "strparse.h"

#define HOSTNAME_MAX 253
#define V6_MAX       45    /* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */

/* True for an ASCII letter. */
static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* True for an ASCII letter or digit. */
static bool is_alnum(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/* True for an ASCII hexadecimal digit. */
static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* True if s is a user, session or job name. */
bool addr_valid_name(const char *s)
{
	size_t n;

	if (!s || !is_alpha(s[0]))
		return false;
	for (n = 1; s[n]; n++)
		if (n >= BOUND_NAME || !(is_alnum(s[n]) || strchr("._-", s[n])))
			return false;
	return true;
}

/* True if s (n bytes) is a plausible IPv6 literal. */
static bool valid_v6(const char *s, size_t n)
{
	bool colon = false;

	if (n == 0 || n > V6_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ':')
			colon = true;
		else if (!is_hex(s[i]) && s[i] != '.')
			return false;
	}
	return colon;
}

/* True if s (n bytes) is a plausible host name or IPv4 address. */
static bool valid_hostname(const char *s, size_t n)
{
	if (n == 0 || n > HOSTNAME_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* Parse "[USER@]NAME[:PORT]" or "[USER@][V6][:PORT]". */
int addr_parse_host(const char *s, struct hostspec *out, char *err, size_t errsz)
{
	struct hostspec h;
	const char *at, *host, *hend, *port = NULL;
	uint64_t pv;

	memset(&h, 0, sizeof h);
	h.port = TETHER_DEFAULT_PORT;
	if (!s || !*s) {
		tether_reason(err, errsz, "empty host");
		return -1;
	}
	if (strlen(s) > BOUND_HOSTSPEC) {
		tether_reason(err, errsz, "host too long (max %u bytes)", BOUND_HOSTSPEC);
		return -1;
	}
	host = s;
	at = strchr(s, '@');
	if (at) {
		size_t n = (size_t)(at - s);

		if (n <= BOUND_NAME) {
			memcpy(h.user, s, n);
			h.user[n] = '\0';
		}
		if (n > BOUND_NAME || !addr_valid_name(h.user)) {
			tether_reason(err, errsz, "invalid user name '%.*s' in '%s'", (int)n, s, s);
			return -1;
		}
		host = at + 1;
	}
	if (*host == '[') {
		host++;
		hend = strchr(host, ']');
		if (!hend) {
			tether_reason(err, errsz, "missing ']' in '%s'", s);
			return -1;
		}
		if (!valid_v6(host, (size_t)(hend - host))) {
			tether_reason(err, errsz, "invalid IPv6 address '%.*s' in '%s'",
			       (int)(hend - host), host, s);
			return -1;
		}
		if (hend[1] != '\0' && hend[1] != ':') {
			tether_reason(err, errsz, "unexpected '%s' after ']' in '%s'", hend + 1, s);
			return -1;
		}
		port = hend[1] ? hend + 2 : NULL;
		h.ipv6 = true;
	} else {
		hend = strchr(host, ':');
		if (hend && strchr(hend + 1, ':')) {
			tether_reason(err, errsz, "IPv6 address in '%s' must be in brackets, "
			       "as in '[::1]:%d'", s, TETHER_DEFAULT_PORT);
			return -1;
		}
		port = hend ? hend + 1 : NULL;
		if (!hend)
			hend = host + strlen(host);
		if (hend == host) {
			tether_reason(err, errsz, "missing host name in '%s'", s);
			return -1;
		}
		if (!valid_hostname(host, (size_t)(hend - host))) {
			tether_reason(err, errsz, "invalid host name '%.*s' in '%s'",
			       (int)(hend - host), host, s);
			return -1;
		}
	}
	memcpy(h.host, host, (size_t)(hend - host));
	h.host[hend - host] = '\0';
	if (port) {
		if (!*port) {
			tether_reason(err, errsz, "missing port after ':' in '%s'", s);
			return -1;
		}
		if (strparse_u64(port, 1, 65535, &pv) < 0) {
			tether_reason(err, errsz, "invalid port '%s' in '%s'", port, s);
			return -1;
		}
		h.port = (uint16_t)pv;
		h.port_given = true;
	}
	*out = h;
	return 0;
}

/* Parse "HOST/NAME" or "HOST/ID". */
int addr_parse_session(const char *s, struct hostspec *host,
                       char ref[BOUND_NAME + 1], char *err, size_t errsz)
{
	char hs[BOUND_HOSTSPEC + 1];
	struct hostspec h;
	const char *slash, *r;
	size_t n;
	uint64_t id;

	if (!s || !(slash = strchr(s, '/'))) {
		tether_reason(err, errsz, "missing '/' in '%s' (expected HOST/NAME or HOST/ID)",
		       s ? s : "");
		return -1;
	}
	n = (size_t)(slash - s);
	if (n > BOUND_HOSTSPEC) {
		tether_reason(err, errsz, "host too long (max %u bytes)", BOUND_HOSTSPEC);
		return -1;
	}
	memcpy(hs, s, n);
	hs[n] = '\0';
	if (addr_parse_host(hs, &h, err, errsz) < 0)
		return -1;
	r = slash + 1;
	if (!*r) {
		tether_reason(err, errsz, "missing session name or id after '/' in '%s'", s);
		return -1;
	}
	if (strparse_is_digits(r)) {
		if (strlen(r) > 19 || strparse_u64(r, 0, INT64_MAX, &id) < 0) {
			tether_reason(err, errsz, "invalid session id '%s' in '%s'", r, s);
			return -1;
		}
	} else if (!addr_valid_name(r)) {
		tether_reason(err, errsz, "invalid session name '%s' in '%s' (a letter, then "
		       "letters, digits, '.', '_' or '-', at most %u bytes)", r, s, BOUND_NAME);
		return -1;
	}
	*host = h;
	memcpy(ref, r, strlen(r) + 1);
	return 0;
}

/* "host:port" or "[v6]:port", host in lower case, for keying stored state. */
void addr_host_key(const struct hostspec *h, char *out, size_t outsz)
{
	char lc[sizeof h->host];
	size_t i;

	for (i = 0; h->host[i] && i < sizeof lc - 1; i++)   /* ASCII only: no locale */
		lc[i] = h->host[i] >= 'A' && h->host[i] <= 'Z' ? (char)(h->host[i] + 32)
		                                               : h->host[i];
	lc[i] = '\0';
	snprintf(out, outsz, h->ipv6 ? "[%s]:%u" : "%s:%u", lc, (unsigned)h->port);
}
