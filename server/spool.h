/*
 * spool.h - the daemon's files beside the database.
 *
 *   STATE/spool/jobs/<job>/      one per job, the daemon's (and shim's) own;
 *                   the shim holds a lock on it for its life (what to run
 *                   comes with its start, shim.h, not in a file):
 *       pid         "SHIMPID CHILDPID UID" (written by the shim, atomically,
 *                   not fsync'd: it outlives no crash that its processes do;
 *                   the same file as status.reserved before and status
 *                   after, see shim.c)
 *       output.log  append-only framed records (common/outlog.h), fsync'd
 *                   at the end
 *       status      {"exit_code":N} or {"signal":N}, with "output_error"
 *                   if output could not all be kept (atomically and
 *                   durably, at the end, through status.reserved: a block
 *                   allocated when the job starts, so a full disk cannot
 *                   take the exit status)
 *   A finished invoke's or background job's directory is removed once
 *   all of its output was delivered (api-job.c); its row stays.
 *   STATE/spool/sessions/<session>/   one per session, owned by the
 *       session's OS account: state.sh (the saved shell state) and the
 *       per-invoke state.<job>.sh the shell writes on exit.
 *
 * These files, not memory, are the truth about running work: a restarted
 * tetherd rebuilds everything from them.
 */
#ifndef TETHER_SPOOL_H
#define TETHER_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"

/* Create STATE/spool/{jobs,sessions} (sessions traversable by job accounts). */
int spool_init(const char *state_dir);

/* Paths: a job's directory / a file in it; a session's directory / a file. */
void spool_job_dir(char out[BOUND_PATH], int64_t job);
void spool_job_file(char out[BOUND_PATH], int64_t job, const char *name);
void spool_session_dir(char out[BOUND_PATH], int64_t session);
void spool_session_file(char out[BOUND_PATH], int64_t session, const char *name);

/* Make a directory (mode 0700) owned by uid/gid (-1: leave as is). */
int spool_mkdir(const char *path, uid_t uid, gid_t gid);

/* Remove a directory tree; missing is fine. Walks on directory descriptors
 * opened O_NOFOLLOW, never by path, so it is safe as root on trees with
 * user-owned directories inside (a job's w/, a session dir). Gives up
 * (-1) on a tree deeper than 64 levels, one on another device, or one its
 * owner keeps refilling. */
int spool_rmtree(const char *path);

/* Size of a file, or -1. */
int64_t spool_size(const char *path);

#endif
