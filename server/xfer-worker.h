/*
 * xfer-worker.h - the transfer worker ("tetherd __transfer JOBDIR").
 *
 * One worker process per running transfer job, started detached by the
 * scheduler (xfer.c) so it outlives the daemon. It reads JOBDIR/spec.json
 * (root-owned; written by tetherd), unseals the credentials, gives up root
 * for the job owner's account, and moves the job's pending files with
 * libcurl: a download job's HTTP(S) files under 4 MiB several at a time
 * (the spec's "parallel"), the rest one after another. It reports only
 * through files in JOBDIR/w (owned by the user, and so treated by tetherd
 * as untrusted input):
 *
 *   pid            "PID\n", written first
 *   progress.json  {"idx","bytes","total","rate","state","notes"} about
 *                  twice a second (not fsync'd: a hint for display); every
 *                  file before idx is finished
 *   file-N.json    per file: {"validator","total","done"}, fsync'd before
 *                  the first byte of a (re)started download is written and
 *                  when the file is complete: with the partial file's size
 *                  this is the durable progress (a small file of a job of
 *                  several has none until it is done)
 *   done-K.json    K = 0, 1...: {"done":[{"idx","total"}...],"notes"}, the
 *                  files of a job of several made durable together (one
 *                  syncfs) and done, written after the sync
 *   result.json    on exit: {"outcome": "transferred"|"transient"|"error"|
 *                  "stopped", "error": {"code","message","file"},
 *                  "retry_after": S, "notes": [...]}
 *
 * A download goes to the file's hidden partial path beside the destination
 * and is resumed from the partial's size with Range + If-Range (or, for
 * protocols without validators, after comparing size and modification time
 * with what was recorded), so a changed remote file restarts from zero
 * instead of producing a mixed file. SIGTERM stops it cleanly (outcome
 * "stopped"); SIGKILL loses nothing either, since progress is on disk.
 * The rate limit is re-read from JOBDIR/rate each second.
 */
#ifndef TETHER_XFER_WORKER_H
#define TETHER_XFER_WORKER_H

#define XFER_WORKDIR "w"

/* The worker's main; returns the process exit status. */
int xfer_worker_main(const char *jobdir);

#endif
