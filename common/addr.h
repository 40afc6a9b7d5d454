/*
 * addr.h - parsing of the addresses users type (docs/cli.md "Addressing").
 *
 * HOST is [USER@]NAME[:PORT], with IPv6 literals in brackets; SESSION is
 * HOST/NAME or HOST/ID. Names of users, sessions and jobs share one rule:
 * a letter first, then letters, digits, '.', '_' or '-', at most BOUND_NAME
 * bytes. Because a name starts with a letter, "HOST/12" is always an id.
 */
#ifndef TETHER_ADDR_H
#define TETHER_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

struct hostspec {
	char     user[BOUND_NAME + 1];   /* "" when not given */
	char     host[256];              /* without brackets */
	uint16_t port;                   /* TETHER_DEFAULT_PORT when not given */
	bool     port_given;
	bool     ipv6;                   /* host is an IPv6 literal */
};

/* Parse "[USER@]NAME[:PORT]" or "[USER@][V6]:PORT"; 0 or -1 (err set). */
int addr_parse_host(const char *s, struct hostspec *out, char *err, size_t errsz);

/* Parse "HOST/REF" into a host and a session reference; 0 or -1. */
int addr_parse_session(const char *s, struct hostspec *host,
                       char ref[BOUND_NAME + 1], char *err, size_t errsz);

/* "host:port" (or "[v6]:port") for a host, without the user; used as the key
 * for known_hosts and credentials. */
void addr_host_key(const struct hostspec *h, char *out, size_t outsz);

/* True if s is a valid user/session/job name. */
bool addr_valid_name(const char *s);

#endif
