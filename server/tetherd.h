/*
 * tetherd.h - the daemon's process-wide context.
 *
 * One struct server is made at start and handed to every request; it holds
 * the configuration and the long-lived handles. Nothing in it is a source of
 * truth that sqlite or the spool does not also hold.
 */
#ifndef TETHER_TETHERD_H
#define TETHER_TETHERD_H

#include "crypto.h"
#include "lockout.h"
#include "srvconf.h"
#include "store.h"

struct server {
	struct srvconf  conf;
	struct store   *store;
	struct lockout *lockout;
	char            fingerprint[CRYPTO_FP_MAX];
	char            hostname[256];
};

#endif
