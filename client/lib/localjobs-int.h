/*
 * localjobs-int.h - the local job table as its two halves share it.
 *
 * localjobs.c owns jobs.json: its format, its lock, and what one job does
 * with its remote. fleetjobs.c keeps fleet parents (invoke --as-job on
 * several hosts) and their children in the same table through the calls
 * below; it never opens the file itself.
 */
#ifndef TETHER_LOCALJOBS_INT_H
#define TETHER_LOCALJOBS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "client-int.h"

#define FLEET_CHILDREN_MAX 100000     /* child jobs of one fleet job */

/* One local job, as the table stores it. */
struct ljob {
	int64_t id;
	char    name[BOUND_NAME + 1];
	char   *command;                  /* owned */
	char    host[300];                /* "host:port", as this client addresses it */
	char    user[BOUND_NAME + 1];     /* the tether user the job runs as */
	char    session[BOUND_NAME + 1];  /* the session's name */
	int64_t session_id;
	int64_t remote_id;                /* 0: the remote invoke has not started */
	char    location[256];            /* the server's host name; "" unknown */
	char    state[24];                /* last known; never "Disconnected" */
	int64_t exit_code;                /* -1: none */
	int64_t signal;                   /* 0: none */
	char    started[32], ended[32];   /* RFC 3339 UTC; "" unknown */
	char    error[512];
	bool    remote_more;              /* the remote's has_more_data, last asked */
	bool    remote_done;              /* nothing more will come from the remote */
	int64_t fetched;                  /* remote log offset copied up to */
	int64_t log_size;                 /* valid bytes of jobs/<ID>.log */
	int64_t delivered;                /* bytes of the copy received without --keep */
	/* fleet jobs (invoke --as-job on several hosts): a parent with no remote
	 * of its own and one child job per host */
	bool     fleet;                   /* this is a parent */
	int64_t *children;                /* a parent's child ids (owned) */
	size_t   nchildren;
	int64_t  parent;                  /* a child's parent id; 0: none */
	char     label[BOUND_HOSTSPEC];   /* a child's host as the user named it */
	bool     own_session;             /* a child's session was made for it */
};

/* The whole table. */
struct ltable {
	int64_t      next_id;
	size_t       n;
	struct ljob *jobs;
};

/* A change to the table made under the lock; returns TETHER_E_OK to save. */
typedef tether_err (*ltable_edit_fn)(tether_client *c, struct ltable *t, void *arg);

/* Lock, load, apply fn, save if it succeeded, unlock: one write. */
tether_err localjobs_edit(tether_client *c, ltable_edit_fn fn, void *arg);
/* A consistent copy of the whole table (release it with localjobs_free). */
tether_err localjobs_read(tether_client *c, struct ltable *t);
void localjobs_free(struct ltable *t);
/* The entry with this id, or NULL. */
struct ljob *localjobs_find(struct ltable *t, int64_t id);
/* A copy of the entry JOB (an id or a name) names; the caller clears it. */
tether_err localjobs_snapshot(tether_client *c, const char *ref, struct ljob *out);
/* Release one entry's memory. */
void localjobs_clear(struct ljob *j);

/* ltable_edit_fn: add the entry arg points at under a new id (and a
 * default name if it has none), NotStarted. */
tether_err localjobs_reserve(tether_client *c, struct ltable *t, void *arg);
/* ltable_edit_fn: drop the entry whose id arg points at. */
tether_err localjobs_drop(tether_client *c, struct ltable *t, void *arg);

/* Changes worked out on a copy of the table (t, read without the lock held
 * across requests), for localjobs_update to apply to the table as it is now:
 * the remote state of entries marked fresh, the removal of entries marked
 * drop (one already gone is left so). Indexes are t's; either may be NULL. */
struct ltable_update {
	const struct ltable *t;
	const bool          *fresh;
	const bool          *drop;
};
/* ltable_edit_fn for a struct ltable_update. */
tether_err localjobs_update(tether_client *c, struct ltable *t, void *arg);

/* What one job does with its remote, on j only (the caller stores it). */
/* Ask the remote about j if it may still change; *asked says whether it was.
 * A failure leaves j as it was known. */
tether_err localjobs_look(tether_client *c, struct ljob *j, bool *asked);
/* Stop j's remote command if it may still run; *asked as above. */
tether_err localjobs_stop_remote(tether_client *c, struct ljob *j, bool *asked);
/* Remove j's remote job (force: even a running one, and forget it locally
 * whatever the remote says; warning gets why the remote one stays). */
tether_err localjobs_remove_remote(tether_client *c, struct ljob *j, int force,
                                   char *warning, size_t warningsz);
/* After j has left the table: its own session and its local copy go too. */
void localjobs_forget(tether_client *c, const struct ljob *j);

/* The job object users see (docs/cli.md fields); unreachable: why the host
 * could not be asked, which shows the job as Disconnected. */
json_t *localjobs_view(const struct ljob *j, const char *unreachable);
/* True for the states a job never leaves. */
bool localjobs_final_state(const char *s);

/* fleetjobs.c: get, stop or remove the fleet parent p and its children, with
 * one write of the table; *out gets the parent's view. */
enum fleetjobs_op { FLEETJOBS_GET, FLEETJOBS_STOP, FLEETJOBS_REMOVE };
tether_err fleetjobs_each(tether_client *c, const struct ljob *p, enum fleetjobs_op op,
                          int force, json_t **out);
/* list: the views of t's entries (by index) with each child's under its
 * parent; a new array, or NULL (out of memory). */
json_t *fleetjobs_nest(const struct ltable *t, json_t *views);

#endif
