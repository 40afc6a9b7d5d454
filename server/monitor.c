/*
 * monitor.c - housekeeping (see monitor.h).
 */
#include <stdbool.h>
#include <string.h>

#include "upload.h"
#include "jobs.h"
#include "session.h"
#include "log.h"
#include "connguard.h"
#include "monitor.h"
#include "proto.h"
#include "ticker.h"
#include "timeu.h"

static struct ticker ticker;

#define MAX_ACTIONS 1024

struct actions {
	int64_t disconnect[MAX_ACTIONS];
	char    holder[MAX_ACTIONS][TETHER_CLIENT_ID_LEN + 1];
	size_t  ndisconnect;
	int64_t expire[MAX_ACTIONS][2];   /* session, user */
	size_t  nexpire;
	int64_t now;
};

/* Decide what to do with a session (the store is locked: only collect). */
static void check_session(void *ctx, const struct session_rec *s)
{
	struct actions *a = ctx;
	if (s->state == SESSION_OPENED && s->lease_expires > 0 && s->lease_expires < a->now &&
	    a->ndisconnect < MAX_ACTIONS) {
		memcpy(a->holder[a->ndisconnect], s->client_id, sizeof s->client_id);
		a->disconnect[a->ndisconnect++] = s->id;
	}
	if (s->state == SESSION_DISCONNECTED && !s->active &&
	    s->last_activity + s->idle_timeout < a->now && a->nexpire < MAX_ACTIONS) {
		a->expire[a->nexpire][0] = s->id;
		a->expire[a->nexpire++][1] = s->user_id;
	}
}

#define UPLOAD_SWEEP 10   /* seconds between sweeps of expired uploads */
#define AUDIT_PRUNE  3600 /* seconds between prunes of old audit records */

/* Drop audit records older than audit_retention days. */
static void prune_audit(struct server *srv, int64_t now)
{
	int64_t removed = 0;
	if (store_audit_prune(srv->store, now - srv->conf.audit_retention * 86400, &removed) ==
	        TETHER_E_OK && removed > 0) {
		struct logline l;
		log_begin(&l, LOG_INFO, "audit_pruned");
		log_int(&l, "records", removed);
		log_end(&l);
	}
}

/* One pass. */
void monitor_pass(struct server *srv)
{
	static struct actions a;
	static int64_t swept, pruned;
	jobs_settle_all(srv);
	session_remove_requested_users(srv);
	unsigned dropped = connguard_sweep(timeu_mono_ms());
	if (dropped > 0) {
		struct logline l;
		log_begin(&l, LOG_INFO, "unauthenticated_dropped");
		log_int(&l, "connections", dropped);
		log_end(&l);
	}
	a.ndisconnect = a.nexpire = 0;
	a.now = timeu_now();
	if (a.now - swept >= UPLOAD_SWEEP) {
		swept = a.now;
		upload_expire(srv, a.now);
	}
	store_take_reserve(srv->store);   /* after a full disk, once there is room */
	if (a.now - pruned >= AUDIT_PRUNE) {
		pruned = a.now;
		prune_audit(srv, a.now);
	}
	store_session_list_all(srv->store, check_session, &a);
	for (size_t i = 0; i < a.ndisconnect; i++) {
		/* the silent client stays on record: it may come back transparently */
		store_session_set_conn(srv->store, a.disconnect[i], SESSION_DISCONNECTED,
		                       a.holder[i], 0);
		struct logline l;
		log_begin(&l, LOG_INFO, "session_keepalive_expired");
		log_int(&l, "session", a.disconnect[i]);
		log_end(&l);
	}
	for (size_t i = 0; i < a.nexpire; i++) {
		session_remove(srv, a.expire[i][1], a.expire[i][0]);
		struct logline l;
		log_begin(&l, LOG_INFO, "session_idle_removed");
		log_int(&l, "session", a.expire[i][0]);
		log_end(&l);
	}
}

static void tick(void *arg)
{
	monitor_pass(arg);
}

/* A pass every 500 ms until stopped. */
int monitor_start(struct server *srv)
{
	return ticker_start(&ticker, tick, srv, 500);
}

void monitor_stop(void)
{
	ticker_stop(&ticker);
}
