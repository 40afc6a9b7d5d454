/*
 * xferplan.h - the rules for a transfer's sources and destinations, linked
 * into both the client and the daemon so the two can never disagree about
 * what is a URL, a wildcard or an acceptable file name (docs/transfers.md).
 *
 * Pure functions: nothing here touches the file system or the network
 * (URL syntax is libcurl's parser, which does neither).
 */
#ifndef TETHER_XFERPLAN_H
#define TETHER_XFERPLAN_H

#include <stdbool.h>
#include <stddef.h>

/* True if s starts with a URL scheme and "://" ("https://...", RFC 3986:
 * a letter, then letters, digits, '+', '-' or '.'). */
bool xferplan_is_url(const char *s);

/* True if s has a wildcard: '*', '?' or '[' in a local path; in a URL, '*'
 * or '[' in its path (a '?' there starts the query, and brackets in the
 * host are an IPv6 literal). */
bool xferplan_has_wildcard(const char *s);

/* Check a URL a transfer may use: it parses, has no wildcard, and its
 * scheme is one the worker transfers over (http, https, ftp, ftps, sftp,
 * smb, smbs, file; and tether, another tetherd's upload endpoint, only as
 * an upload's destination when upload_dest). 0, or -1 with why in err. */
int xferplan_check_url(const char *url, bool upload_dest, char *err, size_t errsz);

/* The file name a URL's path ends in, decoded; "" if it has none. */
void xferplan_url_name(const char *url, char *out, size_t outsz);

/* True if n may name a file in a directory: not empty, ".", ".." and
 * without '/'. */
bool xferplan_good_name(const char *n);

#endif
