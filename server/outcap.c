/*
 * outcap.c - the output cap (see outcap.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "outcap.h"
#include "outlog.h"
#include "proto.h"

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

/* Re-read what tetherd tells us: the cursor and a changed policy. */
static void refresh(struct outcap *oc)
{
	char t[32];
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

void outcap_open(struct outcap *oc, const char *jobdir, int logfd, int64_t cap, int mode)
{
	memset(oc, 0, sizeof *oc);
	snprintf(oc->dir, sizeof oc->dir, "%s", jobdir);
	oc->logfd = logfd;
	oc->cap = cap < OUTCAP_MIN ? OUTCAP_MIN : cap;
	oc->mode = mode;
	struct stat st;
	oc->size = fstat(logfd, &st) == 0 ? st.st_size : 0;
	int64_t to, lost;
	outcap_dropped_since(jobdir, 0, &to, &lost);
	oc->dropped_to = to;
	refresh(oc);
}

int64_t outcap_pending(const struct outcap *oc)
{
	int64_t base = oc->delivered > oc->dropped_to ? oc->delivered : oc->dropped_to;
	return oc->size > base ? oc->size - base : 0;
}

static void set_blocked(struct outcap *oc, bool on)
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

bool outcap_may_read(struct outcap *oc)
{
	if (outcap_pending(oc) < oc->cap) {
		set_blocked(oc, false);
		return true;
	}
	refresh(oc);
	bool ok = oc->mode == BUFFERING_DROP || outcap_pending(oc) < oc->cap;
	set_blocked(oc, !ok);
	return ok;
}

/* Discard whole records from the oldest pending one until at most three
 * quarters of the cap is pending. */
static void drop(struct outcap *oc)
{
	int64_t from = oc->delivered > oc->dropped_to ? oc->delivered : oc->dropped_to;
	int64_t pos = from, payload = 0, keep = oc->cap - oc->cap / 4;
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
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
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
static void mark(struct outcap *oc, int64_t before)
{
	if (before / MARK_STEP == oc->size / MARK_STEP)
		return;
	char path[4200];
	uint8_t e[8];
	put64(e, oc->size);
	path_of(path, sizeof path, oc->dir, "marks");
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		fileio_write_all(fd, e, sizeof e);
		close(fd);
	}
}

void outcap_appended(struct outcap *oc, size_t len)
{
	int64_t before = oc->size;
	oc->size += (int64_t)len;
	if (oc->marks)
		mark(oc, before);
	if (oc->mode == BUFFERING_DROP && outcap_pending(oc) > oc->cap) {
		refresh(oc);
		if (oc->mode == BUFFERING_DROP && outcap_pending(oc) > oc->cap)
			drop(oc);
	}
}

void outcap_dropped_since(const char *jobdir, int64_t offset, int64_t *to, int64_t *lost)
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

int64_t outcap_tail(const char *jobdir, int64_t size, int64_t back)
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

bool outcap_is_blocked(const char *jobdir)
{
	char path[4200];
	path_of(path, sizeof path, jobdir, "blocked");
	return access(path, F_OK) == 0;
}

void outcap_note_delivered(const char *jobdir, int64_t offset)
{
	char path[4200], num[32];
	path_of(path, sizeof path, jobdir, "delivered");
	int n = snprintf(num, sizeof num, "%lld\n", (long long)offset);
	fileio_replace(path, num, (size_t)n, 0600, false);
}

void outcap_note_buffering(const char *jobdir, int mode)
{
	char path[4200];
	const char *word = proto_buffering_str(mode);
	path_of(path, sizeof path, jobdir, "buffering");
	if (word != NULL)
		fileio_write_atomic(path, word, strlen(word), 0600);
}
