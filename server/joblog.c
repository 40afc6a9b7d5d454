/*
 * joblog.c - a job's output log: the supervisor's writing side and
 * tetherd's reading side (joblog.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
#include "joblog.h"
#include "outlog.h"
#include "proto.h"
#include "spool.h"

#define DROP_ENTRY 24
#define MARK_STEP  4096

static void put64(uint8_t *p, int64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)((uint64_t)v >> (8 * i));
}

static int64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return (int64_t)v;
}

static void path_of(char *out, size_t outsz, const char *dir, const char *name)
{
	snprintf(out, outsz, "%s/%s", dir, name);
}

/* A small decimal or word file; false if absent or unreadable. */
static bool read_small(const char *dir, const char *name, char *buf, size_t bufsz)
{
	char path[4200];
	path_of(path, sizeof path, dir, name);
	char *t = fileio_read(path, bufsz - 1, NULL);
	if (t == NULL)
		return false;
	snprintf(buf, bufsz, "%s", t);
	free(t);
	return true;
}

static void dropped_since(const char *jobdir, int64_t offset, int64_t *to, int64_t *lost);

/* Re-read what tetherd tells us: the cursor, a changed policy and the
 * job's share of the session's and user's caps. */
static void refresh(struct joblog *oc)
{
	char t[64];
	oc->looked_at = oc->size;
	if (read_small(oc->dir, "limit", t, sizeof t)) {
		long long v = strtoll(t, NULL, 10);
		oc->limit = v >= 0 ? v : -1;
	}
	if (read_small(oc->dir, "delivered", t, sizeof t)) {
		long long v = strtoll(t, NULL, 10);
		if (v > oc->delivered)
			oc->delivered = v;
	}
	if (read_small(oc->dir, "buffering", t, sizeof t)) {
		t[strcspn(t, "\n")] = '\0';
		int m = proto_buffering_parse(t);
		if (m >= 0)
			oc->mode = m;
	}
}

void joblog_open(struct joblog *oc, const char *jobdir, int64_t cap, int mode)
{
	memset(oc, 0, sizeof *oc);
	snprintf(oc->dir, sizeof oc->dir, "%s", jobdir);
	oc->logfd = -1;
	oc->cap = cap < OUTCAP_MIN ? OUTCAP_MIN : cap;
	oc->mode = mode;
	oc->limit = -1;
	int64_t to, lost;
	dropped_since(jobdir, 0, &to, &lost);
	oc->dropped_to = to;
	refresh(oc);
}

/* The cap in force: the job's own, or its share of its session's and its
 * user's caps when that is smaller (never under OUTCAP_MIN). */
static int64_t cap_now(const struct joblog *oc)
{
	if (oc->limit < 0 || oc->limit >= oc->cap)
		return oc->cap;
	return oc->limit < OUTCAP_MIN ? OUTCAP_MIN : oc->limit;
}

int64_t joblog_pending(const struct joblog *oc)
{
	int64_t base = oc->delivered > oc->dropped_to ? oc->delivered : oc->dropped_to;
	return oc->size > base ? oc->size - base : 0;
}

static void set_blocked(struct joblog *oc, bool on)
{
	char path[4200];
	if (on == oc->blocked)
		return;
	oc->blocked = on;
	path_of(path, sizeof path, oc->dir, "blocked");
	if (on)
		fileio_replace(path, "", 0, 0600, false);
	else
		unlink(path);
}

bool joblog_may_read(struct joblog *oc)
{
	if (joblog_pending(oc) < cap_now(oc)) {
		set_blocked(oc, false);
		return true;
	}
	refresh(oc);
	bool ok = oc->mode == BUFFERING_DROP || joblog_pending(oc) < cap_now(oc);
	set_blocked(oc, !ok);
	return ok;
}

/* Discard whole records from the oldest pending one until at most three
 * quarters of the cap is pending. */
static void drop(struct joblog *oc)
{
	int64_t from = oc->delivered > oc->dropped_to ? oc->delivered : oc->dropped_to;
	int64_t cap = cap_now(oc);
	int64_t pos = from, payload = 0, keep = cap - cap / 4;
	while (oc->size - pos > keep) {
		uint8_t h[OUTLOG_HDR];
		if (pread(oc->logfd, h, sizeof h, pos) != (ssize_t)sizeof h)
			break;
		int64_t len = (int64_t)h[1] | (int64_t)h[2] << 8 | (int64_t)h[3] << 16 |
		              (int64_t)h[4] << 24;
		if (h[0] < OUTLOG_STDOUT || h[0] > OUTLOG_MARKER || len > OUTLOG_MAX_RECORD)
			break;   /* not a record boundary: never discard blindly */
		pos += OUTLOG_HDR + len;
		payload += len;
	}
	if (pos <= from)
		return;
	uint8_t e[DROP_ENTRY];
	put64(e, from);
	put64(e + 8, pos);
	put64(e + 16, payload);
	char path[4200];
	path_of(path, sizeof path, oc->dir, "drops");
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fileio_write_all(fd, e, sizeof e) != 0) {
		if (fd >= 0)
			close(fd);
		return;   /* not recorded: keep the output rather than lose it silently */
	}
	close(fd);
	oc->dropped_to = pos;
	/* give the space back where the filesystem can (the size stays) */
	fallocate(oc->logfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, from, pos - from);
}

/* Index the boundary at the end of the log when it crossed a 4 KiB step. */
static void mark(struct joblog *oc, int64_t before)
{
	if (before / MARK_STEP == oc->size / MARK_STEP)
		return;
	char path[4200];
	uint8_t e[8];
	put64(e, oc->size);
	path_of(path, sizeof path, oc->dir, "marks");
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		fileio_write_all(fd, e, sizeof e);
		close(fd);
	}
}

/* Account for len bytes just appended (looking at tetherd's files again
 * every JOBLOG_REFRESH bytes: a lowered share is seen soon); in drop mode,
 * discard the oldest pending records once over the cap (down to three
 * quarters of it). */
static void appended(struct joblog *oc, size_t len)
{
	int64_t before = oc->size;
	oc->size += (int64_t)len;
	if (oc->marks)
		mark(oc, before);
	if (oc->size - oc->looked_at >= JOBLOG_REFRESH)
		refresh(oc);
	if (oc->mode == BUFFERING_DROP && joblog_pending(oc) > cap_now(oc)) {
		refresh(oc);
		if (oc->mode == BUFFERING_DROP && joblog_pending(oc) > cap_now(oc))
			drop(oc);
	}
}

/* The log, made at the first output; its size is taken then (a second
 * supervisor of the same job finds the first one's and goes on from its
 * end). -1 with errno. */
static int log_fd(struct joblog *oc)
{
	if (oc->logfd >= 0)
		return oc->logfd;
	char path[4200];
	path_of(path, sizeof path, oc->dir, "output.log");
	oc->logfd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	if (oc->logfd >= 0 && fstat(oc->logfd, &st) == 0)
		oc->size = st.st_size;
	return oc->logfd;
}

void joblog_close(struct joblog *oc)
{
	if (oc->logfd < 0)
		return;
	/* a log with nothing in it has no data to sync, and an fsync is a
	 * journal commit on ext4 */
	if (oc->size > 0)
		fsync(oc->logfd);
	close(oc->logfd);
	oc->logfd = -1;
}

/* One record goes in one write (O_APPEND). A write that fails part way (a
 * full disk) is cut back to the record's start, so the log never holds
 * half a record; the bytes are counted as lost and the job's status says
 * so (docs/security.md, "A full disk"). */
void joblog_append(struct joblog *oc, int stream, const char *data, size_t len)
{
	char rec[OUTLOG_HDR + JOBLOG_RECORD_MAX];
	if (len > JOBLOG_RECORD_MAX)
		len = JOBLOG_RECORD_MAX;
	outlog_header((uint8_t *)rec, stream, (uint32_t)len);
	memcpy(rec + OUTLOG_HDR, data, len);
	if (log_fd(oc) >= 0 && fileio_write_all(oc->logfd, rec, OUTLOG_HDR + len) == 0) {
		appended(oc, OUTLOG_HDR + len);
		return;
	}
	if (oc->lost == 0)
		oc->lost_errno = errno;
	oc->lost += (int64_t)len;
	if (oc->logfd >= 0 && ftruncate(oc->logfd, oc->size) != 0)
		oc->lost_errno = errno;
}

/* For a reader at offset in the log of the job in jobdir: *to gets the end
 * of the discarded output at or after offset (offset if none) and *lost the
 * payload bytes discarded there. */
static void dropped_since(const char *jobdir, int64_t offset, int64_t *to, int64_t *lost)
{
	char path[4200];
	*to = offset;
	*lost = 0;
	path_of(path, sizeof path, jobdir, "drops");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	struct stat st;
	int64_t end = fstat(fd, &st) == 0 ? st.st_size - st.st_size % DROP_ENTRY : 0;
	uint8_t chunk[DROP_ENTRY * 512];
	/* newest entries are at the end: walk back while they lie past offset */
	while (end > 0) {
		int64_t start = end - (int64_t)sizeof chunk;
		if (start < 0)
			start = 0;
		ssize_t got = pread(fd, chunk, (size_t)(end - start), start);
		if (got != end - start)
			break;
		for (int64_t i = got / DROP_ENTRY - 1; i >= 0; i--) {
			const uint8_t *e = chunk + i * DROP_ENTRY;
			int64_t eto = get64(e + 8);
			if (eto <= offset)
				goto done;
			if (eto > *to)
				*to = eto;
			*lost += get64(e + 16);
		}
		end = start;
	}
done:
	close(fd);
}

/* A record boundary at most back bytes before the end of a log of size
 * bytes (from the "marks" file: 8-byte offsets of the first record boundary
 * past each 4 KiB of log); size if there is no mark in that window, 0 if
 * the whole log is shorter. */
static int64_t tail_mark(const char *jobdir, int64_t size, int64_t back)
{
	if (size <= back)
		return 0;
	char path[4200];
	path_of(path, sizeof path, jobdir, "marks");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0)
		return size;
	int64_t n = fstat(fd, &st) == 0 ? st.st_size / 8 : 0;
	int64_t lo = 0, hi = n, want = size - back;   /* first mark >= want */
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		uint8_t e[8];
		if (pread(fd, e, sizeof e, mid * 8) != (ssize_t)sizeof e)
			break;
		if (get64(e) < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	int64_t at = size;
	uint8_t e[8];
	if (lo < n && pread(fd, e, sizeof e, lo * 8) == (ssize_t)sizeof e && get64(e) <= size)
		at = get64(e);
	close(fd);
	return at;
}

static bool is_blocked(const char *jobdir)
{
	char path[4200];
	path_of(path, sizeof path, jobdir, "blocked");
	return access(path, F_OK) == 0;
}

/* The delivered file's two figures: the cursor and the released frontier
 * (0 if absent; a file from before releases has the cursor only). */
static void delivered_of(const char *jobdir, int64_t *delivered, int64_t *released)
{
	char t[64], *end;
	*delivered = *released = 0;
	if (!read_small(jobdir, "delivered", t, sizeof t))
		return;
	long long d = strtoll(t, &end, 10), r = strtoll(end, NULL, 10);
	*delivered = d > 0 ? d : 0;
	*released = r > 0 && r <= d ? r : 0;
}

static void note_delivered(const char *jobdir, int64_t offset, int64_t released)
{
	char path[4200], num[64];
	path_of(path, sizeof path, jobdir, "delivered");
	int n = snprintf(num, sizeof num, "%lld %lld\n", (long long)offset, (long long)released);
	fileio_replace(path, num, (size_t)n, 0600, false);
}

static void note_buffering(const char *jobdir, int mode)
{
	char path[4200];
	const char *word = proto_buffering_str(mode);
	path_of(path, sizeof path, jobdir, "buffering");
	if (word != NULL)
		fileio_write_atomic(path, word, strlen(word), 0600);
}

/* tetherd's side, by job id. */

static void job_path(char *out, int64_t job, const char *name)
{
	spool_job_file(out, job, name);
}

int64_t joblog_size(int64_t job)
{
	char path[BOUND_PATH];
	job_path(path, job, "output.log");
	int64_t size = spool_size(path);
	return size < 0 ? 0 : size;
}

int64_t joblog_held(int64_t job)
{
	char dir[BOUND_PATH];
	int64_t to, lost, delivered, released, size = joblog_size(job);
	if (size == 0)
		return 0;   /* no output (a silent command has no log): no cursor to read */
	spool_job_dir(dir, job);
	delivered_of(dir, &delivered, &released);
	if (size <= delivered)
		return 0;
	dropped_since(dir, delivered, &to, &lost);
	return size > to ? size - to : 0;
}

void joblog_set_limit(int64_t job, int64_t limit)
{
	char dir[BOUND_PATH], path[BOUND_PATH + 16], t[32], now[32];
	spool_job_dir(dir, job);
	int n = snprintf(t, sizeof t, "%lld\n", (long long)limit);
	bool had = read_small(dir, "limit", now, sizeof now);
	if ((had && strcmp(now, t) == 0) || (!had && limit < 0))
		return;   /* unchanged (none is no share): no file to write */
	path_of(path, sizeof path, dir, "limit");
	fileio_replace(path, t, (size_t)n, 0600, false);
}

bool joblog_blocked(int64_t job)
{
	char dir[BOUND_PATH];
	spool_job_dir(dir, job);
	return is_blocked(dir);
}

bool joblog_has_more(int64_t job, int64_t delivered)
{
	char dir[BOUND_PATH];
	int64_t to, lost;
	spool_job_dir(dir, job);
	dropped_since(dir, delivered, &to, &lost);
	return joblog_size(job) > to;
}

/* What the replies hold past their first JOBLOG_CHUNK (joblog.h). */
static _Atomic size_t pool_lent;

/* Up to want bytes of the pool, what is left of it if less. */
static size_t pool_take(size_t want)
{
	size_t used = atomic_load(&pool_lent), take;
	do {
		take = used < JOBLOG_POOL ? JOBLOG_POOL - used : 0;
		if (take > want)
			take = want;
	} while (take > 0 && !atomic_compare_exchange_weak(&pool_lent, &used, used + take));
	return take;
}

void joblog_reply_done(void *ctx)
{
	atomic_fetch_sub(&pool_lent, (size_t)(uintptr_t)ctx);
}

/* Read [offset, min(size, offset + JOBLOG_CHUNK)) of the log into out, or
 * up to max with what the pool lends (*lent, if lent is not NULL), cut
 * back to a record boundary: 0, 1 if offset is not at a boundary, -1 if
 * the log is unreadable (why says which). */
static int read_records(int64_t job, int64_t offset, int64_t size, int64_t max,
                        struct buf *out, size_t *lent, char *why, size_t whysz)
{
	char path[BOUND_PATH];
	int64_t want = size - offset;
	if (max > JOBLOG_CHUNK_BIG)
		max = JOBLOG_CHUNK_BIG;
	if (lent != NULL)
		*lent = 0;
	if (want > JOBLOG_CHUNK && lent != NULL && max > JOBLOG_CHUNK) {
		int64_t more = (want < max ? want : max) - JOBLOG_CHUNK;
		*lent = pool_take((size_t)more);
		want = JOBLOG_CHUNK + (int64_t)*lent;
	} else if (want > JOBLOG_CHUNK) {
		want = JOBLOG_CHUNK;
	}
	buf_init(out, want > JOBLOG_CHUNK ? (size_t)want : JOBLOG_CHUNK);
	if (want <= 0)
		return 0;
	job_path(path, job, "output.log");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(why, whysz, "output log unreadable");
		return -1;
	}
	/* read straight into the reply's buffer: no second copy */
	ssize_t got = buf_reserve(out, (size_t)want) == 0
		? pread(fd, out->data, (size_t)want, offset) : -1;
	close(fd);
	if (got < 0) {
		snprintf(why, whysz, "output log unreadable");
		return -1;
	}
	long whole = outlog_parse((const uint8_t *)out->data, (size_t)got, NULL, NULL);
	if (whole < 0) {
		snprintf(why, whysz, "offset %lld is not at a record boundary", (long long)offset);
		return 1;
	}
	out->len = (size_t)whole;
	out->data[out->len] = '\0';
	return 0;
}

/* Replace what out holds with one marker record of text. */
static void marker(struct buf *out, const char *text, int n)
{
	uint8_t hdr[OUTLOG_HDR];
	outlog_header(hdr, OUTLOG_MARKER, (uint32_t)n);
	buf_reset(out);
	buf_append(out, hdr, sizeof hdr);
	buf_append(out, text, (size_t)n);
}

int joblog_read(int64_t job, int64_t offset, int64_t size, int64_t max, struct buf *out,
                int64_t *next, size_t *lent, char *why, size_t whysz)
{
	char dir[BOUND_PATH], path[BOUND_PATH];
	int64_t dropped_to, lost, delivered, released;
	spool_job_dir(dir, job);
	job_path(path, job, "output.log");
	bool gone = offset < size && spool_size(path) < 0;   /* a cleaned directory */
	int rc = 0;
	*lent = 0;
	if (gone)
		buf_init(out, JOBLOG_CHUNK);
	else
		rc = read_records(job, offset, size, max, out, lent, why, whysz);
	/* after reading: a release noted meanwhile may have punched what we
	 * read, or a last acknowledgement removed the directory */
	delivered_of(dir, &delivered, &released);
	if (gone || (offset < size && spool_size(path) < 0))
		released = size;
	if (offset < released) {
		char note[200];
		int n = snprintf(note, sizeof note, "output up to byte %lld was delivered already and "
		                 "is no longer kept (a receive with --keep keeps output)",
		                 (long long)released);
		marker(out, note, n);
		*next = released;
		return 0;
	}
	/* after reading: a drop recorded meanwhile may have cut what we read */
	dropped_since(dir, offset, &dropped_to, &lost);
	*next = offset + (int64_t)out->len;
	if (dropped_to > offset) {
		char note[160];
		int n = snprintf(note, sizeof note, "%lld bytes of output were dropped here "
		                 "(the session's output buffering is 'drop')", (long long)lost);
		marker(out, note, n);
		*next = dropped_to;
		rc = 0;
	}
	return rc;
}

bool joblog_whole(int64_t job, int64_t from, int64_t to)
{
	char path[BOUND_PATH];
	const size_t winsz = OUTLOG_HDR + OUTLOG_MAX_RECORD;   /* one record at least */
	if (to - from > JOBLOG_CHUNK_BIG || to < from)
		return false;
	job_path(path, job, "output.log");
	uint8_t *win = malloc(winsz);
	int fd = win != NULL ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (fd < 0) {
		free(win);
		return from == to;
	}
	/* walk the headers a window at a time: a reply's worth of records,
	 * in as little memory as one record */
	int64_t off = from;
	while (off < to) {
		size_t want = to - off < (int64_t)winsz ? (size_t)(to - off) : winsz;
		ssize_t got = pread(fd, win, want, off);
		long whole = got > 0 ? outlog_parse(win, (size_t)got, NULL, NULL) : -1;
		if (whole <= 0)
			break;
		off += whole;
	}
	close(fd);
	free(win);
	return off == to;
}

/* The frontier is noted before the punch (see joblog.h); the log is
 * tetherd's own file in its own directory, opened O_NOFOLLOW all the same. */
void joblog_deliver(int64_t job, int64_t offset, int64_t keep_tail)
{
	char dir[BOUND_PATH], path[BOUND_PATH];
	int64_t delivered, released;
	spool_job_dir(dir, job);
	delivered_of(dir, &delivered, &released);
	if (offset < delivered)
		offset = delivered;   /* a slower concurrent acknowledgement */
	int64_t upto = offset - keep_tail;
	if (upto - released < JOBLOG_RELEASE_STEP)
		upto = released;   /* punched with the next step */
	note_delivered(dir, offset, upto);
	if (upto <= released)
		return;
	job_path(path, job, "output.log");
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	/* give the space back (the size and every offset stay); from the start
	 * of the block holding the old frontier, which only released bytes
	 * share, or that block would be zeroed by each punch and freed by none */
	struct stat st;
	int64_t from = released;
	if (fstat(fd, &st) == 0 && st.st_blksize > 0)
		from -= from % st.st_blksize;
	fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, from, upto - from);
	close(fd);
}

void joblog_set_buffering(int64_t job, int mode)
{
	char dir[BOUND_PATH];
	spool_job_dir(dir, job);
	note_buffering(dir, mode);
}

int64_t joblog_replay_from(int64_t job, int64_t back)
{
	char dir[BOUND_PATH];
	int64_t dropped_to, lost;
	spool_job_dir(dir, job);
	int64_t from = tail_mark(dir, joblog_size(job), back);
	dropped_since(dir, from, &dropped_to, &lost);
	return dropped_to;
}
