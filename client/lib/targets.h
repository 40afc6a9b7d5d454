/*
 * targets.h - TARGETS to hosts, and hosts back to a nodeset (docs/fleet.md
 * "Targets").
 *
 * A fleet command names its hosts the way administrators already do:
 * ClusterShell nodesets (web[01-40]), @GROUP from an Ansible INI inventory,
 * @PATH host files. This module turns that text into a bounded list of
 * hosts, and folds a list of names back into the shortest nodeset for
 * headers and summaries. It is pure: no network, only the files named.
 */
#ifndef TETHER_TARGETS_H
#define TETHER_TARGETS_H

#include <stddef.h>

/* At most this many hosts in one expansion, and in one bracket range. */
#define TARGETS_MAX 100000u

/* One resolved host of TARGETS: name is what output is prefixed with
 * (the inventory/host name as written, ranges expanded, padding kept);
 * addr is the HOST spec to connect to, "[USER@]NAME[:PORT]" — the same as
 * name unless the inventory gives ansible_host= / ansible_port=. */
struct fleet_host { char *name; char *addr; };
struct fleet_hosts { struct fleet_host *v; size_t n; };

/* Expand TARGETS (comma-separated: HOST, nodeset ranges web[01-40] and
 * rack[1-3]-n[01-16], @GROUP from the inventory, @PATH when PATH holds a '/':
 * a file with one host per line, '#' comments and blank lines ignored, each
 * line itself a target). inventory: the inventory file to use for @GROUP, or
 * NULL (then $TETHER_INVENTORY, then home/inventory; home may be NULL).
 * Duplicates are dropped keeping first order. On error returns -1 with a one-line
 * reason in err (malformed range with the offending text, unknown group,
 * unreadable file, more than TARGETS_MAX hosts), out left empty. The caller
 * frees out with fleet_hosts_free. */
int targets_expand(const char *spec, const char *inventory, const char *home,
                   struct fleet_hosts *out, char *err, size_t errsz);
void fleet_hosts_free(struct fleet_hosts *h);

/* Fold names into the shortest ClusterShell nodeset notation
 * ("web[01-03,07],db1"), as `nodeset -f` / clush -b headers do. Returns 0, or -1 on
 * allocation failure. out is a NUL-terminated malloc'd string. */
int nodeset_fold(char *const *names, size_t n, char **out);

#endif
