/*
 * outcap.h - the per-session and per-user caps on output held for
 * receivers (docs/jobs.md, "Output caps").
 *
 * Output is held on the server from the moment a command writes it until a
 * receiver acknowledges it (or the drop policy discards it). Each job's
 * supervisor enforces its own cap (joblog.h); here tetherd adds up what
 * each session and each user holds and gives every running job a share of
 * what is left under both caps, written to the job's "limit" file, which
 * its supervisor treats as a lower cap with the session's block or drop
 * policy.
 *
 * The figures come from the logs' sizes and the delivered cursors, looked
 * at only for the jobs that can hold output: the daemon keeps in memory the
 * ids of jobs started since it came up or found with a spool directory
 * (one scan, on first use), and forgets a job once it has ended holding
 * nothing or its directory is gone. Shares are recomputed on events only,
 * never on a timer: when a job starts, and when a receive frees room that
 * another job may be waiting for.
 */
#ifndef TETHER_OUTCAP_H
#define TETHER_OUTCAP_H

#include <stdbool.h>
#include <stdint.h>

#include "tetherd.h"

/* Jobs counted at most: past it a new job's output counts against no
 * session or user cap (its own output_cap still holds). */
#define OUTCAP_TRACK_MAX 1000000

/* Count a job just started in session of user, and give the user's
 * running jobs their shares again. */
void outcap_started(struct server *srv, int64_t job, int64_t session, int64_t user);

/* A receive acknowledged output of the user's: when that can let another
 * job go on (the received job has ended, or one of the user's jobs is
 * blocked), give the user's running jobs their shares again. */
void outcap_received(struct server *srv, int64_t user, int64_t job, bool ended);

/* Output held, for the sessions of user (-1: every user's): cb(ctx,
 * session, bytes) for each job holding some (a session's figure is the sum
 * over its jobs). */
void outcap_sessions(struct server *srv, int64_t user,
                     void (*cb)(void *ctx, int64_t session, int64_t bytes), void *ctx);

#endif
