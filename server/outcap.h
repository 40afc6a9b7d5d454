/*
 * outcap.h - the per-job output cap and its block/drop policy.
 *
 * Output that no receiver has acknowledged ("pending" output) may not grow
 * past the cap. The supervisor, the log's only writer, enforces it; tetherd
 * tells it how far receivers got and which policy the session has through
 * two small files in the job's directory, and it reports back the same way:
 *
 *   delivered   the delivered cursor, decimal (written by tetherd on ack)
 *   buffering   "block" or "drop" when changed after start (by tetherd)
 *   blocked     present while the supervisor has stopped reading (block)
 *   drops       24-byte entries {from, to, payload bytes} (int64 LE) for
 *               each discarded range [from, to) of the log (drop)
 *
 * Block: at the cap the supervisor stops reading the command's pipes (the
 * command then blocks writing) until the cursor moves. Drop: the oldest
 * pending records are discarded (their range's disk blocks punched out)
 * and readers who ask for a discarded offset get a marker record saying how
 * many bytes were lost there instead. A drop entry is written before the
 * range is punched, so a reader that re-checks the entries after reading
 * never passes on bytes that were being discarded under it.
 */
#ifndef TETHER_OUTCAP_H
#define TETHER_OUTCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUTCAP_MIN     (64 * 1024)             /* smallest configurable cap */
#define OUTCAP_DEFAULT (1024LL * 1024 * 1024)  /* 1 GiB */

/* The supervisor's side. */
struct outcap {
	char    dir[4096];    /* the job's directory */
	int     logfd;        /* the log, open for reading and appending */
	int64_t cap;
	int     mode;         /* BUFFERING_BLOCK or BUFFERING_DROP */
	int64_t size;         /* bytes in the log */
	int64_t delivered;    /* last cursor read from the delivered file */
	int64_t dropped_to;   /* end of the last discarded range */
	bool    blocked;
	bool    marks;        /* keep the "marks" index (for a shell's replay) */
	int64_t lost;         /* output bytes that could not be written (disk full) */
	int     lost_errno;   /* why, the first time */
};

/* Set up from the job directory and the log (its current size is taken). */
void outcap_open(struct outcap *oc, const char *jobdir, int logfd, int64_t cap, int mode);

/* Output not yet acknowledged nor discarded. */
int64_t outcap_pending(const struct outcap *oc);

/* May the supervisor read more output now? False while blocked (the
 * "blocked" file says so to tetherd). Cheap: the files are only re-read
 * when the cached figures say the cap is reached. */
bool outcap_may_read(struct outcap *oc);

/* Account for len bytes just appended; in drop mode, discard the oldest
 * pending records once over the cap (down to three quarters of it). */
void outcap_appended(struct outcap *oc, size_t len);

/* The readers' side (tetherd). For a reader at offset in the log of the
 * job in jobdir: *to gets the end of the discarded output at or after
 * offset (offset if none) and *lost the payload bytes discarded there. */
void outcap_dropped_since(const char *jobdir, int64_t offset, int64_t *to, int64_t *lost);

/* A record boundary at most back bytes before the end of a log of size
 * bytes (from the "marks" file: 8-byte offsets of the first record boundary
 * past each 4 KiB of log), for replaying a shell's recent output. Returns
 * size if there is no mark in that window, 0 if the whole log is shorter. */
int64_t outcap_tail(const char *jobdir, int64_t size, int64_t back);

/* Is the job's supervisor holding off at the cap? */
bool outcap_is_blocked(const char *jobdir);

/* Record the delivered cursor / a new policy for a running job (tetherd). */
void outcap_note_delivered(const char *jobdir, int64_t offset);
void outcap_note_buffering(const char *jobdir, int mode);

#endif
