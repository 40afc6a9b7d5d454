/*
 * joblog.h - a job's output log, its cap and its block/drop policy: the
 * one module that knows the log's files.
 *
 * The supervisor (shim.c) is the log's only writer: it appends framed
 * records (common/outlog.h) to spool/jobs/<job>/output.log. The job's
 * directory is tetherd's own (0700), and every file here is opened O_NOFOLLOW
 * all the same. tetherd only
 * reads it, through the functions below, by job id; no other module opens
 * a job's output files (tests/structure checks that).
 *
 * Output that no receiver has acknowledged ("pending" output) may not grow
 * past the cap. The supervisor enforces it; tetherd tells it how far
 * receivers got and which policy the session has through two small files
 * in the job's directory, and it reports back the same way:
 *
 *   delivered   the delivered cursor, decimal, then the released frontier
 *               (written by tetherd on ack; see "Released output" below)
 *   limit       this job's share of its session's and its user's output
 *               caps, decimal bytes of pending output (written by tetherd
 *               when a job starts and when a receive frees room; absent:
 *               only the job's own cap applies)
 *   buffering   "block" or "drop" when changed after start (by tetherd)
 *   blocked     present while the supervisor has stopped reading (block)
 *   drops       24-byte entries {from, to, payload bytes} (int64 LE) for
 *               each discarded range [from, to) of the log (drop)
 *   marks       8-byte offsets of the first record boundary past each
 *               4 KiB of log (shells only, for replay on re-attach)
 *
 * Block: at the cap the supervisor stops reading the command's pipes (the
 * command then blocks writing) until the cursor moves. Drop: the oldest
 * pending records are discarded (their range's disk blocks punched out)
 * and readers who ask for a discarded offset get a marker record saying how
 * many bytes were lost there instead. A drop entry is written before the
 * range is punched, so a reader that re-checks the entries after reading
 * never passes on bytes that were being discarded under it. A full disk
 * loses whole records only, counted (docs/security.md, "A full disk").
 *
 * Released output: what a receiver acknowledged (without keep) is punched
 * out of the log by tetherd (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE: offsets stay
 * valid, the disk blocks go), up to the released frontier: the delivered
 * cursor, or for a shell JOBLOG_REPLAY_KEEP bytes short of it (its tail is
 * replayed on re-attach), in steps of JOBLOG_RELEASE_STEP (a punch per
 * acknowledged reply cost the stream about a tenth of its throughput). The
 * frontier is noted before the punch, so a
 * reader that re-checks it after reading never passes on punched zeros:
 * it answers with a marker record saying the output was released instead.
 * The job's effective cap is the smaller of its own cap and its "limit"
 * (at least OUTCAP_MIN); the supervisor re-reads the files at the cap and
 * at least every JOBLOG_REFRESH bytes of output (docs/jobs.md, "Output
 * caps").
 */
#ifndef TETHER_JOBLOG_H
#define TETHER_JOBLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define OUTCAP_MIN     (64 * 1024)             /* smallest configurable cap */
#define OUTCAP_DEFAULT (1024LL * 1024 * 1024)  /* 1 GiB */
#define OUTCAP_SESSION_DEFAULT (4 * OUTCAP_DEFAULT)    /* 4 GiB */
#define OUTCAP_USER_DEFAULT    (16 * OUTCAP_DEFAULT)   /* 16 GiB */
#define JOBLOG_RECORD_MAX 65536                /* payload bytes per record written */
#define JOBLOG_CHUNK   (1024 * 1024)           /* bytes of log per reply, always had */
#define JOBLOG_CHUNK_BIG (4 * 1024 * 1024)     /* ... at most, the rest from the pool */
#define JOBLOG_POOL    (64 * 1024 * 1024)      /* bytes all replies share past a CHUNK */
#define JOBLOG_REFRESH (256 * 1024)            /* output between looks at the files */
#define JOBLOG_REPLAY_KEEP (128 * 1024)        /* a shell's delivered tail kept */
#define JOBLOG_RELEASE_STEP (8 * 1024 * 1024) /* delivered output punched at once */

/* The supervisor's side. */
struct joblog {
	char    dir[4096];    /* the job's directory */
	int     logfd;        /* the log, open for reading and appending; -1 until
	                       * the first output (joblog_append creates it) */
	int64_t cap;
	int     mode;         /* BUFFERING_BLOCK or BUFFERING_DROP */
	int64_t size;         /* bytes in the log */
	int64_t delivered;    /* last cursor read from the delivered file */
	int64_t dropped_to;   /* end of the last discarded range */
	int64_t limit;        /* the "limit" file's share, -1 if none */
	int64_t looked_at;    /* size when the files were last read */
	bool    blocked;
	bool    marks;        /* keep the "marks" index (for a shell's replay) */
	int64_t lost;         /* output bytes that could not be written (disk full) */
	int     lost_errno;   /* why, the first time */
};

/* Set up from the job directory. The log itself is made by the first
 * output: a job that writes nothing has none, which reads as an empty log
 * everywhere (joblog_size), and costs no inode (docs/performance.md). */
void joblog_open(struct joblog *oc, const char *jobdir, int64_t cap, int mode);

/* The end of the supervisor's writing: the log (if any was made) is synced,
 * before the status is written (docs/performance.md, "Durability"), and
 * closed. */
void joblog_close(struct joblog *oc);

/* Output not yet acknowledged nor discarded. */
int64_t joblog_pending(const struct joblog *oc);

/* May the supervisor read more output now? False while blocked (the
 * "blocked" file says so to tetherd). Cheap: the files are only re-read
 * when the cached figures say the cap is reached. */
bool joblog_may_read(struct joblog *oc);

/* Append one record of stream (OUTLOG_STDOUT, ...) with len bytes (at most
 * JOBLOG_RECORD_MAX; more is cut); on a full disk the bytes are counted in
 * oc->lost instead. */
void joblog_append(struct joblog *oc, int stream, const char *data, size_t len);

/* tetherd's side, by job id. */

/* Bytes in the log (0 if there is none yet). */
int64_t joblog_size(int64_t job);

/* Output held for the job: past the delivered cursor and not dropped (0
 * if there is no log: a finished job's cleaned directory). */
int64_t joblog_held(int64_t job);

/* Set the job's share of its session's and user's caps (see "limit"; -1: none). */
void joblog_set_limit(int64_t job, int64_t limit);

/* Is the job's supervisor holding off at the cap? */
bool joblog_blocked(int64_t job);

/* Is there output past the delivered cursor that was not dropped? */
bool joblog_has_more(int64_t job, int64_t delivered);

/* The records from offset to at most size into out (initialised here; the
 * caller frees it), *next the offset after them; for discarded output, a
 * marker record saying how much was lost, and *next past it; for released
 * output (delivered before, or all of it when the log is gone), a marker
 * record saying so, and *next at the frontier. 0, 1 if offset is not at a
 * record boundary, -1 if the log is unreadable (why says which).
 *
 * A reply reads JOBLOG_CHUNK, and up to max (at most JOBLOG_CHUNK_BIG: the
 * client's ?max=) while the daemon's
 * replies together hold less than JOBLOG_POOL past their first CHUNK:
 * fewer round trips for a large output, and the memory of 512 connections'
 * replies still bounded. *lent is what out took from the pool: give it
 * back with joblog_reply_done() once out's bytes are freed (0: nothing). */
int joblog_read(int64_t job, int64_t offset, int64_t size, int64_t max, struct buf *out,
                int64_t *next, size_t *lent, char *why, size_t whysz);

/* Give back what joblog_read() lent a reply (ctx: the size, as a pointer,
 * for req_reply_raw_then()). */
void joblog_reply_done(void *ctx);

/* True if [from, to) is a run of whole records (at most JOBLOG_CHUNK_BIG). */
bool joblog_whole(int64_t job, int64_t from, int64_t to);

/* Move the delivered cursor to offset (a record boundary) and release the
 * output before it, but for the last keep_tail bytes (a shell's replay). */
void joblog_deliver(int64_t job, int64_t offset, int64_t keep_tail);

/* Tell a running job's supervisor a new policy. */
void joblog_set_buffering(int64_t job, int mode);

/* Where a re-attaching terminal's replay starts: a record boundary about
 * back bytes before the end, past any discarded output. */
int64_t joblog_replay_from(int64_t job, int64_t back);

#endif
