/*
 * jobs.h - starting, watching, stopping and cleaning up jobs.
 *
 * The job engine is stateless in memory: every function works from the
 * store and the spool, so it behaves the same for a job started a second
 * ago and for one adopted after a daemon restart. Finishing a job
 * ("settling" it: recording its status, installing the session state an
 * invoke saved) is idempotent and may be triggered by anyone who notices:
 * the monitor thread, or a reader waiting for output.
 */
#ifndef TETHER_JOBS_H
#define TETHER_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"
#include "tetherd.h"

/* Prepare the spool and remember how to start shims. 0 or -1. */
int jobs_init(struct server *srv);

/* True if process pid is "tetherd VERB DIR" (a supervisor or worker of
 * ours, not a process that reused its pid). */
bool jobs_proc_is(pid_t pid, const char *verb, const char *dir);

/* Start "tetherd VERB DIR" (a job supervisor or transfer worker) detached
 * from the daemon: its own session, stdio on /dev/null, no inherited fds.
 * Through the launcher (launcher.h) while it runs, else fork and exec.
 * 0 or -1. */
int jobs_spawn_detached(const char *verb, const char *dir);

/* The terminal of a shell job. */
struct jobs_pty {
	int  rows, cols;
	char term[65];   /* validated: [A-Za-z0-9.+_-] */
};

/* jobs_start's flags. */
#define JOBS_SAVE_STATE 1u   /* the shell writes the session state back when it
                              * exits (invokes and shells do, background jobs not) */
#define JOBS_STDIN      2u   /* the command's stdin comes from the job's input
                              * (jobs_input), not /dev/null */

/* Start j (already created in the store) for user u in session s, as
 * flags say; pty: run an interactive bash on a terminal of that size
 * instead of j's command. On failure the job is recorded as Failed. */
tether_err jobs_start(struct server *srv, const struct user_rec *u,
                      const struct session_rec *s, struct job_rec *j, unsigned flags,
                      const struct jobs_pty *pty, char *err, size_t errsz);

/* Feed a running job's input: a shell's terminal (data, or if data is NULL
 * a window size), or the stdin of a command started with JOBS_STDIN (data,
 * or with eof its end, after what came before). Never blocks for long: the
 * bytes taken (all, or what fit while the command was reading), or with
 * a reason in err -2 if nothing could be yet (the command has not read
 * what came before: try again) and -1 if nothing can be. */
long jobs_input(int64_t job, const void *data, size_t len, int rows, int cols, bool eof,
                char *err, size_t errsz);

/* The count of a command's stdin bytes taken so far, kept beside the job
 * (the input route skips what a repeated post already gave): lock it and
 * read it into *count (0 at first); the descriptor to pass to
 * jobs_input_count_unlock, or -1. */
int jobs_input_count_lock(int64_t job, int64_t *count);

/* Store count as the job's stdin count and let the lock go. */
void jobs_input_count_unlock(int fd, int64_t count);

/* Delete a job that is not running (its row and its spool). */
tether_err jobs_remove(struct server *srv, int64_t job);

/* Settle j if it has ended (status written, or its shim vanished).
 * Returns true if the job is (now) finished. */
bool jobs_settle(struct server *srv, const struct job_rec *j);

/* Send sig to the job's process group; 0, or -1 if it is not running. */
int jobs_signal(struct server *srv, int64_t job, int sig);

/* Stop a job: SIGTERM to its group, then SIGKILL after grace_ms, and wait
 * (bounded) for its status. */
void jobs_stop(struct server *srv, const struct job_rec *j, int grace_ms);

/* Wait up to timeout_ms for the job's log to grow past offset or the job to
 * end, or (if stay is given) until stay(ctx), asked about once a second,
 * says the waiter should go. Returns the log size. */
int64_t jobs_wait_output(struct server *srv, int64_t job, int64_t offset, int timeout_ms,
                         bool (*stay)(void *ctx), void *ctx);

/* Remove a deleted job's spool directory. */
void jobs_discard_spool(int64_t job);

/* A store_job_list_* callback that adds the job's id to an idlist. */
void jobs_collect(void *ids, const struct job_rec *j);

/* Settle every running job (at start and from the monitor). */
void jobs_settle_all(struct server *srv);

/* A pidfd of the running job's supervisor, readable once it exits (so the
 * monitor settles the job when it ends instead of polling for that); the
 * caller closes it. -1 with errno EAGAIN while the supervisor has not
 * written its pid yet, ESRCH if it is gone, another errno if it cannot be
 * watched. */
int jobs_supervisor_fd(int64_t job);

#endif
