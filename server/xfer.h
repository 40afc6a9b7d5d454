/*
 * xfer.h - transfer jobs: creation, the scheduler, and the user's verbs.
 *
 * Like the job engine, the transfer engine keeps nothing in memory that the
 * store and the spool do not hold: a pass of the scheduler reads every live
 * transfer, settles workers that ended (from their result files), records
 * progress, and starts or preempts workers so that foreground jobs run at
 * once, background jobs run transfer_concurrency at a time in priority order
 * (round robin within a class, transfer_slice seconds each) and only while
 * no foreground job is active. Workers are detached processes
 * (xfer-worker.h): a daemon restart finds them still running and adopts
 * them; a worker that vanished (a host reboot) is started again and resumes
 * from the partial file on disk.
 *
 * Spool layout of a transfer job (spool/<job>/, root-owned 0711):
 *   spec.json (0600)  what the worker reads before it drops privileges
 *   rate      (0644)  the worker's current rate limit in bytes/s
 *   w/        (owned by the user) the worker's reports (see xfer-worker.h)
 * Files are downloaded to DIR/.NAME.tether-JOB-IDX.part beside their
 * destination and renamed into place, as the owner, on Complete.
 */
#ifndef TETHER_XFER_H
#define TETHER_XFER_H

#include <jansson.h>

#include "store.h"
#include "tetherd.h"

/* Start the scheduler thread. 0 or -1. */
int xfer_start(struct server *srv);
/* Stop it (workers keep running). */
void xfer_stop(void);
/* Ask for a scheduling pass now. */
void xfer_kick(void);
/* One scheduling pass (the thread's body; also used at start). */
void xfer_pass(struct server *srv);

/* Create a transfer from a request body (see docs/api.md); *out gets the
 * job object. On failure err says why. */
tether_err xfer_create(struct server *srv, const struct user_rec *u,
                       const struct session_rec *s, json_t *body, json_t **out,
                       char *err, size_t errsz);

/* The transfers of a session, as an array of job objects. */
tether_err xfer_list(struct server *srv, const struct session_rec *s, json_t **out);

/* Find a session's transfer by id or name; NOT_FOUND if none. */
tether_err xfer_find(struct server *srv, const struct session_rec *s, const char *ref,
                     int64_t *job);

/* While the transfer is Queued, Connecting or Transferring, wait up to
 * timeout_ms for its worker to end (or the job to leave those states, or the
 * daemon to stop); xfer_show then settles it. Returns at once otherwise. */
void xfer_wait(struct server *srv, const struct session_rec *s, int64_t job, int timeout_ms);
/* Daemon shutdown: end every xfer_wait now (and any later one at once). */
void xfer_release_waiters(void);

/* One transfer as a job object. */
tether_err xfer_show(struct server *srv, const struct session_rec *s, int64_t job,
                     json_t **out);

/* complete | suspend | resume | remove; *out gets the job object after. */
tether_err xfer_act(struct server *srv, const struct user_rec *u,
                    const struct session_rec *s, int64_t job, const char *action,
                    json_t **out, char *err, size_t errsz);

/* Change priority, max_rate, retry_delay, no_progress_timeout. */
tether_err xfer_set(struct server *srv, const struct session_rec *s, int64_t job,
                    json_t *body, json_t **out, char *err, size_t errsz);

/* Cancel every transfer of a session being removed (workers stopped,
 * partial files deleted). */
void xfer_discard_session(struct server *srv, int64_t session);

/* The worker's main (tetherd __transfer JOBDIR). */


/* The worker's reports (JSON objects it writes in the user-writable work
 * dir; read bounded and as untrusted files) folded into t: file-N.json for
 * file i (i < t->nfiles), progress.json, and result.json (r NULL: none)
 * deciding t's state at now. Any content is safe (tests/fuzz/fuzz_report). */
void xfer_fold_file_report(struct xfer_rec *t, size_t i, json_t *m);
/* A done-K.json, {"done":[{"idx","total"}...],"notes"}: the files it names
 * (idx < t->nfiles) are done. */
void xfer_fold_done_batch(struct xfer_rec *t, json_t *b);
void xfer_fold_progress(struct xfer_rec *t, json_t *p);
void xfer_fold_result(struct xfer_rec *t, json_t *r, int64_t now);

/* A create request's options through xfer.c's parser (credentials sealed
 * into *sealed); for tests/fuzz only, the daemon goes through xfer_create. */
int xfer_test_parse_options(struct server *srv, json_t *body, json_t *opts, char **sealed,
                            char *err, size_t errsz);

#endif
