/*
 * statedir.h - the daemon's state directory: making it, its lock (one
 * serving daemon per state dir), and opening the store in it. Used by the
 * serving daemon and by the administrator's verbs (tetherd user ...).
 */
#ifndef TETHER_STATEDIR_H
#define TETHER_STATEDIR_H

#include "srvconf.h"

struct store;

/* mkdir -p, the last component 0700 (missing parents 0755). 0 or -1. */
int statedir_make(const char *dir);

/* Take dir's lock (tetherd.lock, flock exclusive, not waiting): the
 * descriptor, held until closed; -1 with errno EWOULDBLOCK if a serving
 * daemon (or another holder) has it, or another errno. */
int statedir_lock(const char *dir);

/* Create the state dir if needed and open the store in it (migrating).
 * 0, or -1 after printing why. */
int statedir_open_store(const struct srvconf *c, struct store **st);

#endif
