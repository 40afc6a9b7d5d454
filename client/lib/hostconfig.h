/*
 * hostconfig.h - the client's configuration file, ssh_config-like
 * (docs/cli.md, "Client configuration"): Host blocks of aliases and
 * defaults. Pure parsing: the caller reads the file.
 */
#ifndef TETHER_HOSTCONFIG_H
#define TETHER_HOSTCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

#define HOSTCONFIG_MAX (256 * 1024)   /* bytes of config read at most */

/* What the file says for one host; a field is set when its has_ flag (or,
 * for strings, a non-empty value) says so. The first value found wins, as
 * in ssh_config: specific Host blocks go first, defaults (Host *) last. */
struct hostconfig {
	char     hostname[256];
	char     user[BOUND_NAME + 1];
	char     identity[BOUND_PATH];
	char     cacert[BOUND_PATH];
	uint16_t port;                 /* 0: not set */
	int      throttle;             /* 0: not set */
	long     connect_timeout;      /* seconds, 0: not set */
	long     timeout;              /* seconds, 0: not set */
	long     control_persist;      /* seconds, -1: "no", 0: not set */
};

/* A ControlPersist value (docs/cli.md, "Connection sharing"): "no" or 0
 * (*secs = 0), or seconds 1-86400. 0, or -1 if it is neither. */
int hostconfig_persist(const char *v, long *secs);

/* Fill out with what text (len bytes) says for host (an alias as the user
 * typed it; "" for the defaults alone). Returns 0, or -1 with why naming
 * the line of the first error (the file is then not used at all). A
 * leading "~/" in a path becomes home's. */
int hostconfig_lookup(const char *text, size_t len, const char *host, const char *home,
                      struct hostconfig *out, char *why, size_t whysz);

#endif
