/*
 * session.c - ending sessions (session.h).
 */
#include <stdlib.h>

#include "idlist.h"
#include "jobs.h"
#include "session.h"
#include "spool.h"
#include "store.h"
#include "xfer.h"

tether_err session_remove(struct server *srv, int64_t user_id, int64_t session)
{
	struct idlist all = { .n = 0 };
	char path[BOUND_PATH];
	xfer_discard_session(srv, session);
	store_job_list_session(srv->store, session, jobs_collect, &all);
	for (size_t i = 0; i < all.n; i++) {
		struct job_rec j;
		if (store_job_by_id(srv->store, all.ids[i], &j) != TETHER_E_OK)
			continue;
		if (j.state == JOB_RUNNING || j.state == JOB_BLOCKED)
			jobs_stop(srv, &j, (int)srv->conf.stop_grace * 1000);
		job_rec_clear(&j);
	}
	tether_err e = store_session_remove(srv->store, user_id, session);
	if (e == TETHER_E_OK) {
		for (size_t i = 0; i < all.n; i++)
			jobs_discard_spool(all.ids[i]);
		spool_session_dir(path, session);
		spool_rmtree(path);
	}
	free(all.ids);
	return e;
}

static void collect_session(void *ids, const struct session_rec *s)
{
	idlist_add(ids, s->id);
}

void session_remove_user(struct server *srv, int64_t user_id, size_t *removed)
{
	struct idlist l = { .n = 0 };
	*removed = 0;
	store_session_list(srv->store, user_id, collect_session, &l);
	for (size_t i = 0; i < l.n; i++)
		if (session_remove(srv, user_id, l.ids[i]) == TETHER_E_OK)
			(*removed)++;
	free(l.ids);
}

/* One removal asked by `tetherd user remove` beside this daemon. */
static void remove_requested(void *ctx, const char *name)
{
	struct server *srv = ctx;
	struct user_rec u;
	size_t n = 0;
	if (store_user_get(srv->store, name, &u, NULL, 0) == TETHER_E_OK) {
		session_remove_user(srv, u.id, &n);
		if (store_user_remove(srv->store, name) == TETHER_E_OK)
			store_audit(srv->store, "user_remove", name, "local", "");
	}
	store_user_removal_finish(srv->store, name, (int64_t)n);
}

void session_remove_requested_users(struct server *srv)
{
	store_user_removals_pending(srv->store, remove_requested, srv);
}
