/*
 * xfer-worker.c - one transfer job's worker process (see xfer-worker.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "account.h"
#include "sysacct.h"
#include "bounds.h"
#include "crypto.h"
#include "fileio.h"
#include "proto.h"
#include "secrets.h"
#include "tether.h"
#include "tether-curl.h"
#include "timeu.h"
#include "xfer-int.h"
#include "xfer-worker.h"

#define FLUSH_STEP (16LL << 20)

/* A job of many files syncs its downloads in batches (batch_flush): at most
 * BATCH_FILES files wait, on at most BATCH_DEVS filesystems. */
#define BATCH_FILES 1024
#define BATCH_DEVS  8

/* Files smaller than this are written buffered (direct writes would make
 * the device's latency part of every small file). */
#define DIO_SMALL   (4LL << 20)

/* What every connection of a job shares: who it says it is, how long it
 * may take to connect, how long it may stall before that is transient. */
#define XFER_USER_AGENT      "tetherd-transfer/1"
#define XFER_CONNECT_TIMEOUT 60L
#define XFER_STALL_TIMEOUT   120L

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* What the whole run is working with. */
struct worker {
	json_t     *spec, *options;
	const char *workdir, *rate_file;
	char        password[SECRETS_MAX + 1];
	bool        have_password, upload;
	json_t     *url_passwords;   /* file idx -> the password its URL had, unsealed */
	char        proxy_password[SECRETS_MAX + 1];   /* for options.proxy.user */
	json_t     *notes;
	/* outcome of the run */
	const char *outcome;
	char        code[64], message[512], file[BOUND_PATH];
	int64_t     retry_after;
	/* rate limit and progress reporting */
	int64_t     rate, rate_checked_ms, window_ms, window_bytes;
	int64_t     progress_ms, sync_ms, rate_ms, rate_bytes, measured_rate;
	size_t      proxy_idx;    /* the --proxy-list entry in use */
	/* many files in one run (see batch_flush) */
	CURL       *easy;         /* the run's one download handle: its connections stay */
	size_t      pos, nfiles;  /* the file being moved, of this run's files */
	json_t     *pending;      /* done records waiting for the batch's sync */
	int         sync_fd[BATCH_DEVS];   /* one open file per filesystem written to */
	dev_t       sync_dev[BATCH_DEVS];
	int         nsync;
	int         batch_seq;    /* the next done-K.json; -1: not looked for yet */
	/* several files in flight (download_many) */
	int         parallel;     /* at most this many at once (the spec's "parallel") */
	struct file *slot;        /* the files in flight: parallel of them, NULL if none */
	size_t      next_pos;     /* the next file to start, of this run's files */
	size_t      low_later;    /* the first file left for one at a time afterwards */
	int64_t     moved;        /* bytes received by this run, every file */
};

/* One file being moved. */
struct file {
	struct worker *w;
	int         idx;
	const char *url, *path, *partial;
	int         fd;
	int64_t     offset;       /* bytes already on disk when this attempt began */
	int64_t     done_bytes;   /* bytes now on disk (or sent, for uploads) */
	int64_t     flushed;      /* writeback started up to here */
	int64_t     reserved;     /* blocks allocated up to here (downloads) */
	int64_t     total;        /* -1 unknown */
	char        validator[512];  /* what the partial's bytes belong to */
	/* the current HTTP response */
	long        status;
	char        etag[256], lastmod[128], crange[128];
	int64_t     clen;
	bool        decided;      /* the first body byte was seen */
	int         werrno;       /* a local write failed */
	bool        restart;      /* the server sent something else: start over */
	char        errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs;  /* Range's If-Range */
	/* one of several in flight (download_many) */
	bool        par;          /* written through the page cache, not direct */
	bool        busy;         /* its slot holds a file in flight */
	bool        defer;        /* too large to go in parallel: fetched alone later */
	size_t      pos;          /* of this run's files */
	CURL       *easy;         /* the slot's handle (kept from one file to the next) */
};

/* Record the outcome of the run (first failure wins). */
static void fail(struct worker *w, const char *outcome, const char *file, const char *code,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail(struct worker *w, const char *outcome, const char *file, const char *code,
                 const char *fmt, ...)
{
	if (w->outcome != NULL)
		return;
	w->outcome = outcome;
	snprintf(w->code, sizeof w->code, "%s", code);
	snprintf(w->file, sizeof w->file, "%s", file ? file : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->message, sizeof w->message, fmt, ap);
	va_end(ap);
}

/* Write a small JSON file in the work dir (durable or not). */
static void put_json(struct worker *w, const char *name, json_t *v, bool durable)
{
	char path[BOUND_PATH + 64];
	snprintf(path, sizeof path, "%s/%s", w->workdir, name);
	char *text = json_dumps(v, JSON_COMPACT);
	if (text != NULL)
		fileio_replace(path, text, strlen(text), 0600, durable);
	free(text);
	json_decref(v);
}

static void note(struct worker *w, const char *text)
{
	json_array_append_new(w->notes, json_string(text));
}

/* The per-file record: what the partial's bytes are and whether it is done. */
static void save_meta_as(struct file *f, bool done, bool durable)
{
	char name[32];
	snprintf(name, sizeof name, "file-%d.json", f->idx);
	/* the notes ride along: a restart from zero is news even if this
	 * worker is killed before it can report */
	put_json(f->w, name, json_pack("{s:s,s:I,s:b,s:O}", "validator", f->validator,
	                               "total", (json_int_t)f->total, "done", done,
	                               "notes", f->w->notes), durable);
}

static void save_meta(struct file *f, bool done)
{
	save_meta_as(f, done, true);
}

static void load_meta(struct file *f)
{
	char path[BOUND_PATH + 64];
	snprintf(path, sizeof path, "%s/file-%d.json", f->w->workdir, f->idx);
	json_t *m = json_load_file(path, 0, NULL);
	snprintf(f->validator, sizeof f->validator, "%s",
	         json_string_value(json_object_get(m, "validator")) ?: "");
	json_t *t = json_object_get(m, "total");
	f->total = json_is_integer(t) ? json_integer_value(t) : -1;
	json_decref(m);
}

/* The file a report of several files in flight names: tetherd takes every
 * file before the one named as finished (xfer.c xfer_fold_progress), so it
 * is the first of this run's files not finished yet: in flight, left for
 * later, or not started. */
static struct file *report_first(struct worker *w, struct file *f, struct file *none)
{
	struct file *first = NULL;
	for (int i = 0; i < w->parallel; i++)
		if (w->slot[i].busy && (first == NULL || w->slot[i].pos < first->pos))
			first = &w->slot[i];
	size_t pos = w->next_pos < w->low_later ? w->next_pos : w->low_later;
	if (first != NULL && first->pos < pos)
		return first;
	if (pos >= w->nfiles)
		return f;   /* all finished: the last one */
	/* not in flight: by its index, nothing received yet */
	json_t *fj = json_array_get(json_object_get(w->spec, "files"), pos);
	*none = (struct file){ .w = w, .total = -1,
	                       .idx = (int)json_integer_value(json_object_get(fj, "idx")) };
	return none;
}

/* Progress for display, at most twice a second (and on demand). */
static void report(struct file *f, const char *state, bool now)
{
	struct worker *w = f->w;
	int64_t ms = timeu_mono_ms();
	int64_t moved = f->par ? w->moved : f->done_bytes;
	if (ms - w->rate_ms >= 1000) {
		int64_t d = moved - w->rate_bytes;
		w->measured_rate = ms > w->rate_ms && d >= 0 ? d * 1000 / (ms - w->rate_ms) : 0;
		w->rate_ms = ms;
		w->rate_bytes = moved;
	}
	if (!now && ms - w->progress_ms < 500)
		return;
	w->progress_ms = ms;
	struct file none;
	if (f->par && w->slot != NULL)
		f = report_first(w, f, &none);
	put_json(w, "progress.json", json_pack("{s:i,s:I,s:I,s:I,s:s,s:O}", "idx", f->idx,
	         "bytes", (json_int_t)f->done_bytes, "total", (json_int_t)f->total,
	         "rate", (json_int_t)w->measured_rate, "state", state, "notes", w->notes), false);
}

/* The current rate limit (tetherd rewrites it when priorities or settings
 * change), checked once a second. */
static void check_rate(struct worker *w)
{
	int64_t ms = timeu_mono_ms();
	if (w->rate_checked_ms != 0 && ms - w->rate_checked_ms < 1000)
		return;
	w->rate_checked_ms = ms;
	char *t = fileio_read(w->rate_file, 32, NULL);
	int64_t r = t ? strtoll(t, NULL, 10) : 0;
	free(t);
	if (r < 0)
		r = 0;
	if (r != w->rate) {
		w->rate = r;
		w->window_ms = ms;
		w->window_bytes = 0;
	}
}

/* Sleep as needed to keep to the rate limit after moving n more bytes. */
static void throttle(struct worker *w, size_t n)
{
	check_rate(w);
	if (w->rate <= 0)
		return;
	if (w->window_ms == 0)
		w->window_ms = timeu_mono_ms();
	w->window_bytes += (int64_t)n;
	for (;;) {
		int64_t due = w->window_ms + w->window_bytes * 1000 / w->rate;
		int64_t wait = due - timeu_mono_ms();
		if (wait <= 0 || stopping)
			return;
		struct timespec ts = { 0, (wait > 200 ? 200 : wait) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* Case-insensitive "Name:" prefix of a header line; returns the value. */
static const char *header_value(const char *line, size_t len, const char *name, char *out,
                                size_t outsz)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	const char *v = line + n + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	size_t vl = (size_t)(end - v) < outsz - 1 ? (size_t)(end - v) : outsz - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
	return out;
}

/* Headers of each response (a new status line starts a new response: auth
 * retries and redirects each have their own). */
static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct file *f = arg;
	size_t len = size * n;
	char v[256];
	if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);
		f->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		f->etag[0] = f->lastmod[0] = f->crange[0] = '\0';
		f->clen = -1;
	} else if (header_value(buf, len, "ETag", f->etag, sizeof f->etag)) {
	} else if (header_value(buf, len, "Last-Modified", f->lastmod, sizeof f->lastmod)) {
	} else if (header_value(buf, len, "Content-Range", f->crange, sizeof f->crange)) {
	} else if (header_value(buf, len, "Content-Length", v, sizeof v)) {
		f->clen = strtoll(v, NULL, 10);
	} else if (header_value(buf, len, "Retry-After", v, sizeof v)) {
		if (isdigit((unsigned char)v[0]))
			f->w->retry_after = strtoll(v, NULL, 10);
	}
	return len;
}

static bool is_http(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* Start the partial over from zero (the remote file is not the one the
 * bytes on disk came from, or the server would not resume). */
static int restart_partial(struct file *f, const char *why)
{
	char text[256];
	if (f->offset > 0 || f->done_bytes > 0) {
		snprintf(text, sizeof text, "%s: %s restarted from zero", why, f->url);
		note(f->w, text);
	}
	f->offset = f->done_bytes = f->flushed = f->reserved = 0;
	if (ftruncate(f->fd, 0) != 0) {
		f->werrno = errno;
		return -1;
	}
	return 0;
}

static void dio_buffered(void);

/* The first body byte of a download: decide whether it continues the
 * partial, replaces it, or is not the file at all. */
static int decide(struct file *f)
{
	f->decided = true;
	if (!is_http(f->url))
		return 0;   /* checked before the request (see prepare_resume) */
	if (f->status != 200 && f->status != 206)
		return 0;   /* an error page: discarded, judged after the request */
	if (f->par) {
		/* in parallel, only files under DIO_SMALL (buffered writes, no
		 * helper thread); a larger or unsized one is dropped before its
		 * first byte and fetched alone afterwards (download_many) */
		long long start = -1, end = -1, total = -1, left = f->clen;
		if (f->status == 206)
			left = sscanf(f->crange, "bytes %lld-%lld/%lld", &start, &end, &total) == 3
			       ? total - f->offset : -1;
		if (left < 0 || left >= DIO_SMALL) {
			f->defer = true;
			return -1;
		}
	}
	char v[512];
	snprintf(v, sizeof v, "%s", f->etag[0] ? f->etag : f->lastmod);
	if (f->status == 206) {
		long long start = -1, end = -1, total = -1;
		if (sscanf(f->crange, "bytes %lld-%lld/%lld", &start, &end, &total) < 2 ||
		    start != f->offset) {
			f->restart = true;   /* not the range asked for: try again from zero */
			return -1;
		}
		f->total = total >= 0 ? total : -1;
	} else {
		if (f->offset > 0)
			restart_partial(f, strcmp(v, f->validator) != 0 || !v[0]
			                ? "the remote file changed" : "the server ignored Range");
		f->total = f->clen >= 0 ? f->clen : -1;
	}
	if (f->total >= 0 && f->total - f->offset < DIO_SMALL)
		dio_buffered();
	snprintf(f->validator, sizeof f->validator, "%s", v);
	/* before the first byte: the bytes say whose they are. Durable when the
	 * partial already had bytes; for a fresh one a record lost in a crash
	 * means a restart from zero, and a stale one is caught by If-Range. A
	 * fresh small file of a many-file job has none until it is done (its
	 * done record, batch_flush): each record is a new inode, and on ext4
	 * creating inodes was most of the worker's CPU in a job of small files;
	 * interrupted, such a file (under DIO_SMALL) starts again from zero */
	bool fresh_small = f->offset == 0 && f->w->nfiles > 1 && f->total >= 0 &&
	                   f->total < DIO_SMALL;
	if (!fresh_small)
		save_meta_as(f, false, f->offset > 0);
	return f->werrno ? -1 : 0;
}

/* Writeback of a download is started every FLUSH_STEP so that the fsync
 * that makes the file count as transferred has little left to do. A helper
 * thread starts it: sync_file_range() walks and submits the pages in its
 * caller's time, and on a fast link the receiving thread is the bottleneck
 * (a 1 GiB HTTPS download on a 2-CPU VM: 8% less CPU in that thread). With
 * direct I/O (below) the same thread writes the full buffers instead. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	pthread_t       thread;
	bool            running, quit;
	int             fd;
	int64_t         from, to;   /* started up to from; asked up to to */
	/* one direct write handed over (wlen > 0 until it is done) */
	int             dfd;
	const char     *wbuf;
	size_t          wlen;
	int64_t         woff;
	int             werr;       /* errno of a failed write; sticks */
	bool            refused;    /* a direct write got EINVAL: buffered from then on */
} flusher = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static int dio_pwrite(int dfd, int fd, const char *p, size_t len, int64_t off, bool *refused);

/* The handed-over direct write, done outside the lock (called with it held). */
static void flusher_do_write(void)
{
	int dfd = flusher.dfd, fd = flusher.fd;
	const char *p = flusher.wbuf;
	size_t len = flusher.wlen;
	int64_t off = flusher.woff;
	bool refused = flusher.refused, failed = flusher.werr != 0;
	pthread_mutex_unlock(&flusher.lock);
	/* after a failed write, none: it would leave a hole */
	int err = failed ? 0 : dio_pwrite(dfd, fd, p, len, off, &refused);
	pthread_mutex_lock(&flusher.lock);
	if (err && !flusher.werr)
		flusher.werr = err;
	flusher.refused = refused;
	flusher.wlen = 0;
	pthread_cond_broadcast(&flusher.cond);   /* the receiving thread may wait for it */
}

static void *flusher_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&flusher.lock);
	for (;;) {
		while (!flusher.quit && flusher.to <= flusher.from && flusher.wlen == 0)
			pthread_cond_wait(&flusher.cond, &flusher.lock);
		if (flusher.wlen > 0) {
			flusher_do_write();
			continue;
		}
		if (flusher.quit)
			break;   /* the fsync that follows does the rest */
		int64_t from = flusher.from, to = flusher.to;
		flusher.from = to;
		pthread_mutex_unlock(&flusher.lock);
		sync_file_range(flusher.fd, from, to - from, SYNC_FILE_RANGE_WRITE);
		pthread_mutex_lock(&flusher.lock);
	}
	pthread_mutex_unlock(&flusher.lock);
	return NULL;
}

/* Start the helper thread for fd if it is not running (lock held); false
 * if it cannot be started: the caller then does the work itself. */
static bool flusher_start(int fd, int64_t from)
{
	if (!flusher.running) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);   /* signals stay the main thread's */
		flusher.fd = fd;
		flusher.from = flusher.to = from;
		flusher.quit = false;
		flusher.running = pthread_create(&flusher.thread, NULL, flusher_main, NULL) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	return flusher.running;
}

/* Start writing back [from, to) of fd, without waiting for it. */
static void flusher_ask(int fd, int64_t from, int64_t to)
{
	pthread_mutex_lock(&flusher.lock);
	bool alone = !flusher_start(fd, from);   /* no thread: start the writeback here */
	if (!alone) {
		if (from < flusher.from)
			flusher.from = from;   /* the partial restarted from zero */
		if (to > flusher.to)
			flusher.to = to;
		pthread_cond_signal(&flusher.cond);
	}
	pthread_mutex_unlock(&flusher.lock);
	if (alone)
		sync_file_range(fd, from, to - from, SYNC_FILE_RANGE_WRITE);
}

/* Have len bytes of p written at off through dfd (O_DIRECT; fd, the
 * buffered descriptor, if refused), without waiting for it; the previous
 * write must be done (dio_wait). */
static void flusher_write(int fd, int dfd, const char *p, size_t len, int64_t off)
{
	pthread_mutex_lock(&flusher.lock);
	bool alone = !flusher_start(fd, 0);
	flusher.dfd = dfd;
	flusher.wbuf = p;
	flusher.wlen = len;
	flusher.woff = off;
	if (alone)
		flusher_do_write();   /* no thread: write it here */
	else
		pthread_cond_signal(&flusher.cond);
	pthread_mutex_unlock(&flusher.lock);
}

/* Before the file is fsync'd and closed: the helper thread ends (after the
 * direct write it may have in hand). */
static void flusher_stop(void)
{
	pthread_mutex_lock(&flusher.lock);
	bool running = flusher.running;
	flusher.quit = true;
	flusher.running = false;
	pthread_cond_signal(&flusher.cond);
	pthread_mutex_unlock(&flusher.lock);
	if (running)
		pthread_join(flusher.thread, NULL);
}

/* ---- direct I/O for downloads ----
 *
 * Buffered writes cost the page cache and then its writeback about 250 ms
 * of CPU per GiB on the 2-CPU development VM, CPUs that TLS keeps busy
 * (curl, writing a file that is deleted before writeback, never pays it).
 * So a download is gathered in two aligned DIO_BUF buffers and written with
 * O_DIRECT by the helper thread while the receiving thread fills the other
 * buffer. The partial's size stays the progress: what does not fill a
 * block is written buffered (the head up to the first block boundary when
 * a resume starts mid-block, the tail at the end of every attempt), and
 * every attempt, cut or stopped, ends with all it received in the file. A
 * SIGKILL loses at most the two buffers (1 MiB), fetched again on resume.
 * Where O_DIRECT is refused (EINVAL: ramfs, tmpfs before Linux 6.6) the
 * download is written buffered as before. Linux allows mixing the two on
 * one file: a direct write flushes and drops cached pages of its range. */
#define DIO_ALIGN 4096            /* a multiple of every logical block size in use */
#define DIO_BUF   (512 << 10)

static struct {
	int      fd;        /* the partial opened again with O_DIRECT; -1: buffered */
	char    *buf[2];
	int      cur;       /* the buffer being filled */
	size_t   fill;      /* bytes in it */
	int64_t  base;      /* the file offset of its first byte */
} dio = { .fd = -1 };

/* Write len bytes at off through dfd with O_DIRECT; if the filesystem
 * refuses (EINVAL: *refused set), or a short write leaves the rest
 * unaligned, through fd buffered instead. 0 or an errno. */
static int dio_pwrite(int dfd, int fd, const char *p, size_t len, int64_t off, bool *refused)
{
	while (len > 0 && !*refused) {
		ssize_t n = pwrite(dfd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL)
			*refused = true;
		else if (n <= 0)
			return n < 0 ? errno : EIO;
		else if (n % DIO_ALIGN != 0)
			*refused = true;   /* short: the rest is not aligned any more */
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			off += n;
		}
	}
	if (len > 0 && fileio_pwrite_all(fd, p, len, off) != 0)
		return errno ? errno : EIO;
	return 0;
}

/* Prepare direct writes of the partial fd (opened again through /proc: the
 * same inode whatever happens to its path); without O_DIRECT or memory the
 * download is written buffered. */
static void dio_open(int fd)
{
	char path[64];
	void *a = NULL, *b = NULL;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	pthread_mutex_lock(&flusher.lock);
	flusher.werr = 0;   /* a new file: no failure yet */
	flusher.refused = false;
	pthread_mutex_unlock(&flusher.lock);
	dio.cur = 0;
	dio.fill = 0;
	if (dio.buf[0] == NULL) {   /* kept from one file to the next */
		if (posix_memalign(&a, DIO_ALIGN, DIO_BUF) != 0 ||
		    posix_memalign(&b, DIO_ALIGN, DIO_BUF) != 0) {
			free(a);
			return;
		}
		dio.buf[0] = a;
		dio.buf[1] = b;
	}
	dio.fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

/* This file is written buffered (before anything was gathered). */
static void dio_buffered(void)
{
	if (dio.fd >= 0 && dio.fill == 0) {
		close(dio.fd);
		dio.fd = -1;
	}
}

static void dio_close(void)
{
	if (dio.fd >= 0)
		close(dio.fd);
	dio.fd = -1;
}

/* The buffers go at the end of the run. */
static void dio_free(void)
{
	free(dio.buf[0]);
	free(dio.buf[1]);
	dio.buf[0] = dio.buf[1] = NULL;
}

/* Wait until the helper's write in hand is done; 0 or the errno a write
 * failed with. After a refused direct write the rest goes buffered. */
static int dio_wait(void)
{
	pthread_mutex_lock(&flusher.lock);
	while (flusher.wlen > 0)
		pthread_cond_wait(&flusher.cond, &flusher.lock);
	int err = flusher.werr;
	bool refused = flusher.refused;
	pthread_mutex_unlock(&flusher.lock);
	if (refused && dio.fd >= 0) {
		close(dio.fd);
		dio.fd = -1;
	}
	return err;
}

/* The filled buffer goes to the helper thread (once the previous one is
 * written) and the other is filled meanwhile; 0 or an errno. */
static int dio_submit(struct file *f)
{
	int err = dio_wait();
	if (err == 0 && dio.fd < 0 && fileio_pwrite_all(f->fd, dio.buf[dio.cur], dio.fill,
	                                                dio.base) != 0)
		err = errno ? errno : EIO;   /* refused meanwhile: this one buffered */
	else if (err == 0 && dio.fd >= 0)
		flusher_write(f->fd, dio.fd, dio.buf[dio.cur], dio.fill, dio.base);
	dio.cur ^= 1;
	dio.fill = 0;
	return err;
}

/* Take len received bytes that belong at off (the end of what came): up to
 * the first block boundary written at once, then gathered; 0 or an errno. */
static int dio_put(struct file *f, const char *p, size_t len, int64_t off)
{
	while (len > 0) {
		size_t k = len;
		if (dio.fd < 0) {   /* direct writes refused meanwhile */
			if (fileio_pwrite_all(f->fd, p, k, off) != 0)
				return errno ? errno : EIO;
		} else if (dio.fill == 0 && off % DIO_ALIGN != 0) {
			k = DIO_ALIGN - (size_t)(off % DIO_ALIGN);
			k = k < len ? k : len;
			if (fileio_pwrite_all(f->fd, p, k, off) != 0)
				return errno ? errno : EIO;
		} else {
			if (dio.fill == 0)
				dio.base = off;
			k = DIO_BUF - dio.fill < len ? DIO_BUF - dio.fill : len;
			memcpy(dio.buf[dio.cur] + dio.fill, p, k);
			dio.fill += k;
		}
		p += k;
		len -= k;
		off += (int64_t)k;
		int err = dio.fill == DIO_BUF ? dio_submit(f) : 0;
		if (err != 0)
			return err;
	}
	return 0;
}

/* End of an attempt (done, cut, stopped or failed): what is gathered goes
 * to the file, whole blocks direct, the tail buffered, so that the file
 * holds every byte received. After a failed write nothing more is written
 * (it would leave a hole) and done_bytes becomes the file's size again. */
static void dio_drain(struct file *f)
{
	int err = dio_wait();
	size_t whole = dio.fd >= 0 ? dio.fill / DIO_ALIGN * DIO_ALIGN : 0;
	bool refused = false;
	if (err == 0 && whole > 0)
		err = dio_pwrite(dio.fd, f->fd, dio.buf[dio.cur], whole, dio.base, &refused);
	if (err == 0 && dio.fill > whole &&
	    fileio_pwrite_all(f->fd, dio.buf[dio.cur] + whole, dio.fill - whole,
	                      dio.base + (int64_t)whole) != 0)
		err = errno ? errno : EIO;
	dio.fill = 0;
	struct stat st;
	if (err != 0) {
		if (f->werrno == 0)
			f->werrno = err;
		if (fstat(f->fd, &st) == 0)
			f->done_bytes = st.st_size;
	}
}

static size_t on_write(char *buf, size_t size, size_t n, void *arg)
{
	struct file *f = arg;
	size_t len = size * n;
	if (!f->decided && decide(f) != 0)
		return 0;
	if (is_http(f->url) && f->status != 200 && f->status != 206)
		return len;   /* body of an error response */
	/* at done_bytes, not the descriptor's offset: direct writes move none */
	int err = !f->par && dio.fd >= 0 ? dio_put(f, buf, len, f->done_bytes)
	          : fileio_pwrite_all(f->fd, buf, len, f->done_bytes) != 0 ? (errno ? errno : EIO)
	          : 0;
	if (err != 0) {
		f->werrno = err;
		return 0;
	}
	f->done_bytes += (int64_t)len;
	f->w->moved += (int64_t)len;
	throttle(f->w, len);
	/* here as well as in on_progress: libcurl's file:// (and FTP) reader
	 * can deliver a whole file without calling the progress function */
	report(f, "Transferring", false);
	if (!f->par && f->done_bytes >= f->reserved && f->total > f->done_bytes) {
		/* allocate the next blocks at once, ahead of the data (cheaper
		 * for the page cache and the writeback than block by block, and
		 * never more than FLUSH_STEP past what came, whatever the
		 * server claims); EOF stays at the data: its size is the progress */
		int64_t ahead = f->total - f->done_bytes < FLUSH_STEP ? f->total - f->done_bytes
		                                                       : FLUSH_STEP;
		fallocate(f->fd, FALLOC_FL_KEEP_SIZE, f->done_bytes, ahead);   /* best effort */
		f->reserved = f->done_bytes + ahead;
	}
	if (!f->par && dio.fd < 0 && f->done_bytes - f->flushed >= FLUSH_STEP) {
		flusher_ask(f->fd, f->flushed, f->done_bytes);
		f->flushed = f->done_bytes;
	}
	int64_t ms = timeu_mono_ms();
	if (ms - f->w->sync_ms >= 5000) {   /* bound what a host crash can lose */
		fdatasync(f->fd);
		f->w->sync_ms = ms;
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct file *f = arg;
	ssize_t r = read(f->fd, buf, size * n);
	if (r < 0) {
		f->werrno = errno;
		return CURL_READFUNC_ABORT;
	}
	f->done_bytes += r;
	throttle(f->w, (size_t)r);
	report(f, "Transferring", false);
	return (size_t)r;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct file *f = arg;
	(void)dt; (void)dn; (void)un;
	if (f->w->upload && ut > 0)
		f->total = ut;
	report(f, f->decided || (f->w->upload && un > 0) ? "Transferring" : "Connecting", false);
	return stopping ? 1 : 0;
}

/* sftp: accept only host keys the user's known_hosts has, unless told
 * --insecure. */
static int on_sshkey(CURL *c, const struct curl_khkey *known, const struct curl_khkey *found,
                     enum curl_khmatch match, void *arg)
{
	(void)c; (void)known; (void)found;
	struct worker *w = arg;
	if (match == CURLKHMATCH_OK)
		return CURLKHSTAT_FINE;
	if (json_is_true(json_object_get(w->options, "insecure")))
		return CURLKHSTAT_FINE;
	return CURLKHSTAT_REJECT;
}

/* The proxy the options say to use now: NULL for libcurl's default (the
 * environment's), "" for none, or the --proxy-list entry in use. */
static const char *proxy_in_use(struct worker *w)
{
	json_t *proxy = json_object_get(w->options, "proxy");
	const char *usage = json_string_value(json_object_get(proxy, "usage"));
	if (usage != NULL && strcmp(usage, "none") == 0)
		return "";
	if (usage == NULL || strcmp(usage, "override") != 0)
		return NULL;
	const char *p = json_string_value(json_array_get(json_object_get(proxy, "list"),
	                                                 w->proxy_idx));
	return p ? p : "";
}

/* proxy (the one in use) could not be reached, or refused the tunnel
 * (why): the next entry of an override --proxy-list, noted, or NULL when
 * there is none or the job is stopping. Also libtether's next_proxy hook. */
static const char *next_proxy(void *arg, const char *proxy, const char *why)
{
	struct worker *w = arg;
	json_t *p = json_object_get(w->options, "proxy");
	const char *usage = json_string_value(json_object_get(p, "usage"));
	const char *next = json_string_value(json_array_get(json_object_get(p, "list"),
	                                                    w->proxy_idx + 1));
	if (stopping || usage == NULL || strcmp(usage, "override") != 0 || next == NULL)
		return NULL;
	char text[600];
	snprintf(text, sizeof text, "proxy %s failed (%s): using %s", proxy ? proxy : "", why,
	         next);
	note(w, text);
	w->proxy_idx++;
	return next;
}

/* The password the file's URL had (xfer-create.c took it out and sealed
 * it), with the URL's user name: they override --user for this file. */
static void url_credentials(CURL *c, struct worker *w, struct file *f)
{
	char k[24];
	snprintf(k, sizeof k, "%d", f->idx);
	const char *pass = json_string_value(json_object_get(w->url_passwords, k));
	CURLU *u = pass ? curl_url() : NULL;
	char *user = NULL;
	if (u != NULL && curl_url_set(u, CURLUPART_URL, f->url, CURLU_NON_SUPPORT_SCHEME) ==
	    CURLUE_OK && curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK) {
		curl_easy_setopt(c, CURLOPT_USERNAME, user);   /* libcurl copies both */
		curl_easy_setopt(c, CURLOPT_PASSWORD, pass);
	}
	curl_free(user);
	curl_url_cleanup(u);
}

/* Options every request of this job shares. */
static void common_opts(CURL *c, struct worker *w, struct file *f, char *errbuf)
{
	json_t *o = w->options;
	curl_easy_setopt(c, CURLOPT_URL, f->url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* large reads: a quarter of the write calls at 64 KiB, far fewer at 512;
	 * a small file in parallel needs no more than 64 (and libcurl would
	 * allocate the 512 for each) */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, f->par ? 64L * 1024 : 512L * 1024);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,ftp,ftps,sftp,smb,smbs,file");
	/* a redirect must never reach local files */
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https,ftp,ftps,sftp");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, XFER_CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);     /* a stalled connection */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, XFER_STALL_TIMEOUT);   /* is transient */
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, XFER_USER_AGENT);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	const char *user = json_string_value(json_object_get(o, "user"));
	if (user != NULL) {
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, w->have_password ? w->password : "");
		const char *auth = json_string_value(json_object_get(o, "auth"));
		long a = CURLAUTH_BASIC;
		if (auth != NULL && strcmp(auth, "digest") == 0)
			a = CURLAUTH_DIGEST;
		else if (auth != NULL && strcmp(auth, "ntlm") == 0)
			a = CURLAUTH_NTLM;
		else if (auth != NULL && strcmp(auth, "negotiate") == 0)
			a = CURLAUTH_NEGOTIATE;
		else if (auth != NULL && strcmp(auth, "any") == 0)
			a = CURLAUTH_ANY;
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, a);
	}
	const char *ca = json_string_value(json_object_get(o, "cacert"));
	if (ca != NULL) {
		struct curl_blob blob = { (void *)ca, strlen(ca), CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (json_is_true(json_object_get(o, "insecure"))) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	/* ftp: use TLS when the URL says ftps, or upgrade when it is offered */
	curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	const char *home = json_string_value(json_object_get(w->spec, "home"));
	if (home != NULL) {
		char kh[BOUND_PATH + 32];
		snprintf(kh, sizeof kh, "%s/.ssh/known_hosts", home);
		curl_easy_setopt(c, CURLOPT_SSH_KNOWNHOSTS, kh);   /* copied by libcurl */
	}
	curl_easy_setopt(c, CURLOPT_SSH_KEYFUNCTION, on_sshkey);
	curl_easy_setopt(c, CURLOPT_SSH_KEYDATA, w);
	url_credentials(c, w, f);
	const char *proxy = proxy_in_use(w);
	if (proxy != NULL)
		curl_easy_setopt(c, CURLOPT_PROXY, proxy);
	const char *puser = json_string_value(json_object_get(json_object_get(o, "proxy"), "user"));
	if (puser != NULL) {   /* any proxy: the list's, or the system's */
		curl_easy_setopt(c, CURLOPT_PROXYUSERNAME, puser);
		curl_easy_setopt(c, CURLOPT_PROXYPASSWORD, w->proxy_password);
	}
	const char *bypass = json_string_value(json_object_get(json_object_get(o, "proxy"),
	                                                       "bypass"));
	if (bypass != NULL)
		curl_easy_setopt(c, CURLOPT_NOPROXY, bypass);
}

/* curl_easy_perform; when the proxy in use cannot be reached (or refuses
 * the tunnel), the next one of an override --proxy-list is tried, as BITS
 * tries its proxies in turn. Nothing has been transferred in that case. */
static CURLcode perform(struct worker *w, CURL *c)
{
	for (;;) {
		CURLcode rc = curl_easy_perform(c);
		const char *why = tether_curl_proxy_failure(c, rc);
		const char *next = why != NULL ? next_proxy(w, proxy_in_use(w), why) : NULL;
		if (next == NULL)
			return rc;
		curl_easy_setopt(c, CURLOPT_PROXY, next);
	}
}

/* Non-HTTP downloads: the remote size and time stand in for a validator;
 * returns -1 if they cannot be had (the download then starts from zero). */
static int prepare_resume(struct file *f)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = curl_easy_init();
	if (c == NULL)
		return -1;
	common_opts(c, f->w, f, errbuf);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
	CURLcode rc = perform(f->w, c);
	curl_off_t size = -1, mtime = -1;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &size);
		curl_easy_getinfo(c, CURLINFO_FILETIME_T, &mtime);
	}
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || size < 0)
		return -1;
	char v[128];
	snprintf(v, sizeof v, "size=%" CURL_FORMAT_CURL_OFF_T " mtime=%" CURL_FORMAT_CURL_OFF_T,
	         size, mtime);
	if (f->offset > 0 && strcmp(v, f->validator) != 0)
		restart_partial(f, "the remote file changed");
	snprintf(f->validator, sizeof f->validator, "%s", v);
	f->total = size;
	save_meta(f, false);
	return 0;
}

/* Is this curl failure worth retrying later? */
static bool transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL: case CURLE_URL_MALFORMAT:
	case CURLE_REMOTE_ACCESS_DENIED: case CURLE_REMOTE_FILE_NOT_FOUND:
	case CURLE_LOGIN_DENIED: case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_CERTPROBLEM:
	case CURLE_FILE_COULDNT_READ_FILE: case CURLE_WRITE_ERROR:
	case CURLE_READ_ERROR: case CURLE_REMOTE_DISK_FULL: case CURLE_REMOTE_FILE_EXISTS:
	case CURLE_FILESIZE_EXCEEDED: case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_UPLOAD_FAILED: case CURLE_AUTH_ERROR: case CURLE_SSH:
	case CURLE_BAD_CONTENT_ENCODING: case CURLE_NOT_BUILT_IN:
		return false;
	default:
		return true;   /* connections refused, cut, timed out, name lookups... */
	}
}

/* A short stable code for a curl failure. */
static const char *curl_code(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT: return "connect_failed";
	case CURLE_COULDNT_RESOLVE_HOST: return "resolve_failed";
	case CURLE_COULDNT_RESOLVE_PROXY: return "proxy_resolve_failed";
	case CURLE_OPERATION_TIMEDOUT: return "timeout";
	case CURLE_PARTIAL_FILE: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING: return "connection_cut";
	case CURLE_PEER_FAILED_VERIFICATION: return "tls_verify_failed";
	case CURLE_SSL_CONNECT_ERROR: return "tls_failed";
	case CURLE_REMOTE_FILE_NOT_FOUND: case CURLE_FILE_COULDNT_READ_FILE: return "not_found";
	case CURLE_LOGIN_DENIED: case CURLE_AUTH_ERROR: return "auth_failed";
	case CURLE_REMOTE_ACCESS_DENIED: return "access_denied";
	case CURLE_UNSUPPORTED_PROTOCOL: return "unsupported_protocol";
	case CURLE_TOO_MANY_REDIRECTS: return "too_many_redirects";
	default: return "transfer_failed";
	}
}

/* Judge a finished attempt; true if the file is complete. */
/* A file:// source libcurl could not read: why, as the owner sees it
 * (libcurl says only that it could not open it). True if failed with
 * that reason. */
static bool local_source_failed(struct file *f)
{
	CURLU *u = curl_url();
	char *path = NULL;
	bool said = false;
	if (u != NULL && curl_url_set(u, CURLUPART_URL, f->url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK) {
		struct stat st;
		int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		int err = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : S_ISREG(st.st_mode) ? -1 : 0;
		if (fd >= 0)
			close(fd);
		if (err >= 0) {
			fail(f->w, "error", f->url, xfer_errno_code(err), "cannot read %s: %s", path,
			     err ? strerror(err) : "not a regular file");
			said = true;
		}
	}
	curl_free(path);
	curl_url_cleanup(u);
	return said;
}

static bool judge(struct file *f, CURLcode rc, const char *errbuf)
{
	struct worker *w = f->w;
	const char *name = w->upload ? f->path : f->url;
	if (stopping && rc != CURLE_OK) {
		fail(w, "stopped", name, "stopped", "stopped");
		return false;
	}
	if (f->werrno != 0) {
		fail(w, "error", name, f->werrno == ENOSPC ? "disk_full" : "write_failed",
		     "%s %s: %s", w->upload ? "cannot read" : "cannot write",
		     w->upload ? f->path : f->partial, strerror(f->werrno));
		return false;
	}
	if (f->restart) {
		restart_partial(f, "the server sent a different range");
		fail(w, "transient", name, "bad_range", "the server sent a range that was "
		     "not asked for; the file restarts from zero");
		return false;
	}
	if (is_http(f->url) && f->status >= 300) {
		long s = f->status;
		if (s == 416 && !w->upload && f->offset > 0) {
			long long total = -1;
			sscanf(f->crange, "bytes */%lld", &total);
			if (total == f->offset) {
				f->total = total;
				return true;   /* everything was already here */
			}
			restart_partial(f, "the remote file shrank");
			fail(w, "transient", name, "http_416", "range not satisfiable");
			return false;
		}
		bool transient = s == 408 || s == 429 || s >= 500;
		const char *why = s == 401 ? (json_object_get(w->options, "user")
		                              ? "the server refused the credentials"
		                              : "the server requires credentials (--user)")
		                : s == 403 ? "access forbidden" : s == 404 ? "not found"
		                : transient ? "server busy or failing" : "refused by the server";
		char code[32];
		snprintf(code, sizeof code, "http_%ld", s);
		fail(w, transient ? "transient" : "error", name, code, "HTTP %ld: %s", s, why);
		return false;
	}
	if (rc == CURLE_FILE_COULDNT_READ_FILE && local_source_failed(f))
		return false;
	if (rc != CURLE_OK) {
		fail(w, transient_curl(rc) ? "transient" : "error", name, curl_code(rc), "%s%s%s",
		     curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf);
		return false;
	}
	if (!w->upload && f->total >= 0 && f->done_bytes != f->total) {
		fail(w, "transient", name, "connection_cut", "got %lld of %lld bytes",
		     (long long)f->done_bytes, (long long)f->total);
		return false;
	}
	return true;
}

/* SHA-256 of a file, as hex. */
static int file_sha256(int fd, char hex[2 * CRYPTO_SHA256_LEN + 1])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	static char buf[1 << 16];
	ssize_t n;
	int ok = m != NULL && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
	         lseek(fd, 0, SEEK_SET) == 0;
	while (ok && (n = read(fd, buf, sizeof buf)) > 0)
		ok = EVP_DigestUpdate(m, buf, (size_t)n) == 1;
	uint8_t md[CRYPTO_SHA256_LEN];
	ok = ok && n == 0 && EVP_DigestFinal_ex(m, md, NULL) == 1;
	EVP_MD_CTX_free(m);
	if (ok)
		crypto_hex(md, sizeof md, hex);
	return ok ? 0 : -1;
}

/* The run's one download handle, reset for each file: its connection cache
 * keeps the server's connection (HTTP keep-alive, no new TCP or TLS
 * handshake) and its TLS session cache from one file to the next. */
static CURL *job_handle(struct worker *w)
{
	if (w->easy == NULL)
		w->easy = curl_easy_init();
	else
		curl_easy_reset(w->easy);
	return w->easy;
}

/* ---- many files: durability in batches ----
 *
 * A file counts as done (its file-N.json, or a done-K.json naming it, says
 * so, and the next worker skips it) only once its bytes are on disk. One
 * fsync per file costs a device round trip per file, most of the time of
 * a job of small files; so in a job of several files a finished
 * download's record waits in memory, and batch_flush() syncs every
 * filesystem written to (syncfs) once per BATCH_FILES files and at the end
 * of the run, whatever its outcome, before the records are written: the
 * whole batch as one file, done-K.json (K = 0, 1, ... over the job's
 * runs; one new inode per batch rather than per file, which on ext4 was
 * much of the worker's CPU). A worker killed before that loses only the
 * records: the next one asks for those files again (with a Range from
 * their size where they had a record before, and the server's 416 says
 * they are complete; a small file without one starts again from zero). */

/* How many of the run's notes a batch file carries (the last ones). */
#define BATCH_NOTES 16

/* Take f's filesystem into the batch; false if f must be fsync'd alone. */
static bool batch_add(struct file *f)
{
	struct worker *w = f->w;
	struct stat st;
	if (w->nfiles < 2 || fstat(f->fd, &st) != 0)
		return false;
	for (int i = 0; i < w->nsync; i++)
		if (w->sync_dev[i] == st.st_dev)
			return true;
	if (w->nsync == BATCH_DEVS)
		return false;
	int fd = dup(f->fd);   /* any open file names its filesystem to syncfs */
	if (fd < 0)
		return false;
	w->sync_fd[w->nsync] = fd;
	w->sync_dev[w->nsync++] = st.st_dev;
	return true;
}

/* Queue f's done record for the next batch_flush. */
static void batch_pend(struct file *f)
{
	struct worker *w = f->w;
	if (w->pending == NULL)
		w->pending = json_array();
	json_array_append_new(w->pending, json_pack("{s:i,s:I}", "idx", f->idx,
	                      "total", (json_int_t)f->total));
}

/* The last BATCH_NOTES of the run's notes: they ride along in a batch, as
 * in file-N.json, news even if this worker is killed before it reports. */
static json_t *batch_notes(struct worker *w)
{
	json_t *notes = json_array();
	size_t nn = json_array_size(w->notes);
	for (size_t i = nn > BATCH_NOTES ? nn - BATCH_NOTES : 0; i < nn; i++)
		json_array_append_new(notes, json_deep_copy(json_array_get(w->notes, i)));
	return notes;
}

/* Sync the filesystems fds name, then write recs (with notes) as the job's
 * next done-K.json. 0, or -1 with *what saying which step failed (errno
 * set). Touches nothing of w but batch_seq (one batch at a time). */
static int batch_commit(struct worker *w, const int *fds, int nfds, json_t *recs,
                        json_t *notes, const char **what)
{
	for (int i = 0; i < nfds; i++)
		if (syncfs(fds[i]) != 0) {
			*what = "flush";
			return -1;
		}
	char path[BOUND_PATH + 64];
	if (w->batch_seq < 0) {   /* after the earlier runs' batches */
		struct stat st;
		w->batch_seq = 0;
		for (;;) {
			snprintf(path, sizeof path, "%s/done-%d.json", w->workdir, w->batch_seq);
			if (lstat(path, &st) != 0 || w->batch_seq == INT32_MAX)
				break;
			w->batch_seq++;
		}
	}
	json_t *doc = json_pack("{s:O,s:O}", "done", recs, "notes", notes);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	snprintf(path, sizeof path, "%s/done-%d.json", w->workdir, w->batch_seq);
	/* not fsync'd: after the data; lost in a crash, it costs a new fetch */
	int rc = text != NULL ? fileio_replace(path, text, strlen(text), 0600, false) : -1;
	free(text);
	if (rc != 0) {
		*what = "record";
		if (errno == 0)
			errno = ENOMEM;
		return -1;
	}
	w->batch_seq++;
	return 0;
}

/* A failed batch_commit as the run's outcome. */
static void batch_failed(struct worker *w, const char *what, int err)
{
	fail(w, "error", NULL, "write_failed", "cannot %s the downloaded files: %s",
	     strcmp(what, "flush") == 0 ? "flush" : "record", strerror(err));
}

/* ---- a batch committed beside the transfers ----
 *
 * In the middle of a parallel run (download_many) a batch's syncfs (40-60
 * ms for 1,024 small files here) would hold up every transfer in flight;
 * so a helper thread syncs and records it while the next batch's files
 * arrive. One batch at a time: the next one (and the last, which the run
 * waits for) starts after it. A failure is the run's outcome when the
 * worker next looks (syncer_wait). */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	pthread_t       thread;
	bool            running, busy, quit;
	struct worker  *w;
	json_t         *recs, *notes;   /* the batch handed over */
	int             fds[BATCH_DEVS];
	int             nfds;
	const char     *what;           /* of a failure not yet reported */
	int             err;
} syncer = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *syncer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&syncer.lock);
	for (;;) {
		while (!syncer.busy && !syncer.quit)
			pthread_cond_wait(&syncer.cond, &syncer.lock);
		if (!syncer.busy)
			break;
		pthread_mutex_unlock(&syncer.lock);
		const char *what = NULL;
		int rc = batch_commit(syncer.w, syncer.fds, syncer.nfds, syncer.recs, syncer.notes,
		                      &what);
		int err = errno;
		pthread_mutex_lock(&syncer.lock);
		if (rc != 0 && syncer.what == NULL) {
			syncer.what = what;
			syncer.err = err;
		}
		json_decref(syncer.recs);
		json_decref(syncer.notes);
		syncer.recs = syncer.notes = NULL;
		syncer.busy = false;
		pthread_cond_broadcast(&syncer.cond);
	}
	pthread_mutex_unlock(&syncer.lock);
	return NULL;
}

/* Wait for the batch in hand, if any; -1 (outcome recorded) if one failed. */
static int syncer_wait(struct worker *w)
{
	pthread_mutex_lock(&syncer.lock);
	while (syncer.busy)
		pthread_cond_wait(&syncer.cond, &syncer.lock);
	const char *what = syncer.what;
	int err = syncer.err;
	syncer.what = NULL;
	pthread_mutex_unlock(&syncer.lock);
	if (what != NULL)
		batch_failed(w, what, err);
	return what != NULL ? -1 : 0;
}

/* The thread ends (after the batch in hand). */
static void syncer_stop(struct worker *w)
{
	syncer_wait(w);
	pthread_mutex_lock(&syncer.lock);
	bool running = syncer.running;
	syncer.quit = true;
	syncer.running = false;
	pthread_cond_broadcast(&syncer.cond);
	pthread_mutex_unlock(&syncer.lock);
	if (running)
		pthread_join(syncer.thread, NULL);
}

/* Sync the batch's filesystems, then write its done records; a failed sync
 * fails the run and its files stay not done. 0 or -1. */
static int batch_flush(struct worker *w)
{
	int rc = syncer_wait(w);
	size_t n = json_array_size(w->pending);
	const char *what = NULL;
	json_t *notes = n > 0 ? batch_notes(w) : NULL;
	if (rc == 0 && n > 0 && batch_commit(w, w->sync_fd, w->nsync, w->pending, notes,
	                                     &what) != 0) {
		batch_failed(w, what, errno);
		rc = -1;
	}
	json_decref(notes);
	json_array_clear(w->pending);
	return rc;
}

/* batch_flush, the sync and the records left to the helper thread (or done
 * here, without it); -1 if an earlier batch failed (outcome recorded). */
static int batch_flush_beside(struct worker *w)
{
	if (syncer_wait(w) != 0) {
		json_array_clear(w->pending);
		return -1;
	}
	pthread_mutex_lock(&syncer.lock);
	if (!syncer.running) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);   /* signals stay the main thread's */
		syncer.w = w;
		syncer.quit = false;
		syncer.running = pthread_create(&syncer.thread, NULL, syncer_main, NULL) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	bool beside = syncer.running && json_array_size(w->pending) > 0;
	if (beside) {
		syncer.recs = w->pending;   /* the next batch gets a new array */
		w->pending = json_array();
		syncer.notes = batch_notes(w);
		memcpy(syncer.fds, w->sync_fd, sizeof syncer.fds);
		syncer.nfds = w->nsync;
		syncer.busy = true;
		pthread_cond_broadcast(&syncer.cond);
	}
	pthread_mutex_unlock(&syncer.lock);
	return beside ? 0 : batch_flush(w);
}

/* Open f's partial and work out where it resumes; false if it cannot be
 * opened (outcome recorded). */
static bool dl_open(struct file *f)
{
	struct worker *w = f->w;
	if (f->fd < 0)   /* else opened ahead (opener) */
		f->fd = open(f->partial, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (f->fd < 0) {
		fail(w, "error", f->url, errno == ENOSPC ? "disk_full" : "write_failed",
		     "cannot create %s: %s", f->partial, strerror(errno));
		return false;
	}
	struct stat st;
	fstat(f->fd, &st);
	load_meta(f);
	f->offset = f->done_bytes = st.st_size;
	bool http = is_http(f->url);
	if (f->offset > 0 && http && !f->validator[0])
		restart_partial(f, "no validator to resume against");
	if (f->offset > 0 && (strncasecmp(f->url, "smb://", 6) == 0 ||
	                      strncasecmp(f->url, "smbs://", 7) == 0))
		restart_partial(f, "libcurl's SMB client cannot resume");   /* it ignores offsets */
	return true;
}

/* The request for f's download on handle c (reset or new). */
static void dl_request(CURL *c, struct file *f)
{
	f->errbuf[0] = '\0';
	common_opts(c, f->w, f, f->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	if (f->offset > 0 && is_http(f->url)) {
		/* RANGE, not RESUME_FROM: libcurl would fail a 200 answer itself,
		 * and a 200 is exactly what a changed file (or a server
		 * without ranges) sends; decide() restarts the file then */
		char r[32], range[600];
		snprintf(r, sizeof r, "%lld-", (long long)f->offset);
		curl_easy_setopt(c, CURLOPT_RANGE, r);
		snprintf(range, sizeof range, "If-Range: %s", f->validator);
		f->hdrs = curl_slist_append(f->hdrs, range);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, f->hdrs);
	} else if (f->offset > 0) {
		curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)f->offset);
	}
	f->decided = !is_http(f->url);
}

/* The handle outlives this file's error buffer and header list. */
static void dl_release(CURL *c, struct file *f)
{
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(f->hdrs);
	f->hdrs = NULL;
}

/* After the attempt (ok: judged complete): the checksum, then the file
 * made durable (alone or in the batch) and marked done; f is closed.
 * True if it is done. */
static bool dl_finish(struct file *f, bool ok, bool now)
{
	struct worker *w = f->w;
	const char *want = json_string_value(json_object_get(w->options, "sha256"));
	char got[2 * CRYPTO_SHA256_LEN + 1];
	if (ok && want != NULL) {
		report(f, "Transferring", true);
		if (file_sha256(f->fd, got) != 0) {
			fail(w, "error", f->url, "write_failed", "cannot read back %s", f->partial);
			ok = false;
		} else if (strcasecmp(got, want) != 0) {
			fail(w, "error", f->url, "checksum_mismatch", "SHA-256 is %s, expected %s; "
			     "the partial file was discarded", got, want);
			restart_partial(f, "checksum mismatch");
			ok = false;
		}
	}
	bool batched = ok && batch_add(f);
	if (ok && !batched && fsync(f->fd) != 0) {
		fail(w, "error", f->url, "write_failed", "cannot flush %s: %s", f->partial,
		     strerror(errno));
		ok = false;
	}
	if (ok) {
		f->total = f->done_bytes;
		if (batched)
			batch_pend(f);
		else
			save_meta(f, true);
	}
	f->busy = false;
	report(f, "Transferring", now);
	if (!f->par)
		dio_close();
	close(f->fd);
	f->fd = -1;
	return ok;
}

/* Download one file into its partial; true when it is complete. */
static bool download(struct file *f)
{
	struct worker *w = f->w;
	if (!dl_open(f))
		return false;
	dio_open(f->fd);
	/* a job of many files reports at most twice a second (and its first and last) */
	bool now = w->pos == 0 || w->pos + 1 >= w->nfiles;
	report(f, "Connecting", now);
	bool http = is_http(f->url);
	if (!http && prepare_resume(f) != 0 && f->offset > 0)
		restart_partial(f, "the remote size and time are unknown");
	bool ok = false;
	if (!http && f->total >= 0 && f->offset == f->total) {
		ok = true;   /* all here already */
	} else {
		CURL *c = job_handle(w);
		if (c == NULL) {
			fail(w, "transient", f->url, "internal", "out of memory");
			close(f->fd);
			dio_close();
			return false;
		}
		dl_request(c, f);
		CURLcode rc = perform(w, c);
		dio_drain(f);
		flusher_stop();
		ok = judge(f, rc, f->errbuf);
		dl_release(c, f);
	}
	return dl_finish(f, ok, now);
}

/* ---- several files in flight ----
 *
 * A job of many files spends most of its time, one file after the other,
 * waiting for each request's round trip. So the HTTP(S) files of a download
 * job go through one curl multi handle, up to w->parallel (the daemon's
 * transfer_parallel_files) at a time, each with its own handle, partial and
 * write state; the multi handle's connection cache keeps the connections
 * (and TLS sessions) from one file to the next, and HTTP/2 multiplexes them
 * where the server offers it. They are written through the page cache and
 * made durable in the batches above. Only files under DIO_SMALL go this
 * way: one that turns out larger (or of unknown size) is dropped at its
 * first byte and fetched alone afterwards, with direct I/O and the
 * writeback helper, as are the job's files of other protocols. Files start
 * in the job's order; the first failure stops new starts, and the files in
 * flight finish (or fail) as they would. */

/* ---- partials opened ahead ----
 *
 * Creating a file is not free: on ext4 without a journal, in a directory
 * whose group has many recently deleted inodes (a job that follows the
 * removal of thousands of files), each create walks past them, and that
 * was most of the worker's CPU in such a job; on a network filesystem
 * each is a round trip. Done in the loop that drives the transfers, each
 * create stalls all of them. So while files go in parallel a helper
 * thread creates the next OPEN_AHEAD partials, in the job's order, and
 * download_many takes their descriptors as it starts each file. An
 * unused one (a stop, a failure) is closed; the empty partial it leaves
 * is what any worker stopped before a file's first byte leaves. */
#define OPEN_AHEAD 32

static struct {
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	pthread_t       thread;
	bool            running, quit;
	json_t         *files;          /* the spec's (read only while the thread runs) */
	size_t          nfiles;
	size_t          next;           /* the next position to open */
	size_t          taken;          /* positions below this are the main thread's */
	int             fd[OPEN_AHEAD]; /* position p's at p % OPEN_AHEAD; -1: none */
} opener = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *opener_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&opener.lock);
	while (!opener.quit && opener.next < opener.nfiles) {
		if (opener.next - opener.taken >= OPEN_AHEAD) {
			pthread_cond_wait(&opener.cond, &opener.lock);
			continue;
		}
		size_t pos = opener.next;
		pthread_mutex_unlock(&opener.lock);
		json_t *fj = json_array_get(opener.files, pos);
		const char *url = json_string_value(json_object_get(fj, "url"));
		const char *partial = json_string_value(json_object_get(fj, "partial"));
		/* only what goes in parallel; a failure is met again, and
		 * reported, when the file starts */
		int fd = url != NULL && partial != NULL && is_http(url)
		         ? open(partial, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666) : -1;
		pthread_mutex_lock(&opener.lock);
		opener.fd[pos % OPEN_AHEAD] = fd;
		opener.next = pos + 1;
		pthread_cond_broadcast(&opener.cond);
	}
	pthread_mutex_unlock(&opener.lock);
	return NULL;
}

/* Start opening this run's partials ahead (without the thread, each file
 * opens its own). */
static void opener_start(struct worker *w)
{
	sigset_t all, old;
	opener.files = json_object_get(w->spec, "files");
	opener.nfiles = w->nfiles;
	opener.next = opener.taken = 0;
	opener.quit = false;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);   /* signals stay the main thread's */
	opener.running = pthread_create(&opener.thread, NULL, opener_main, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The descriptor opened for position pos (taken in order), or -1. */
static int opener_take(size_t pos)
{
	int fd = -1;
	pthread_mutex_lock(&opener.lock);
	while (opener.running && !opener.quit && opener.next <= pos && pos < opener.nfiles)
		pthread_cond_wait(&opener.cond, &opener.lock);
	if (opener.running && pos >= opener.taken && pos < opener.next) {
		fd = opener.fd[pos % OPEN_AHEAD];
		opener.taken = pos + 1;
		pthread_cond_broadcast(&opener.cond);
	}
	pthread_mutex_unlock(&opener.lock);
	return fd;
}

/* The thread ends; what it opened and nobody took is closed. */
static void opener_stop(void)
{
	pthread_mutex_lock(&opener.lock);
	bool running = opener.running;
	opener.quit = true;
	pthread_cond_broadcast(&opener.cond);
	pthread_mutex_unlock(&opener.lock);
	if (!running)
		return;
	pthread_join(opener.thread, NULL);
	for (size_t p = opener.taken; p < opener.next; p++)
		if (opener.fd[p % OPEN_AHEAD] >= 0)
			close(opener.fd[p % OPEN_AHEAD]);
	opener.running = false;
}

/* This run's file at pos as a struct file (its slot's handle kept); false
 * if the spec is damaged (outcome recorded). */
static bool file_at(struct worker *w, size_t pos, struct file *f)
{
	json_t *fj = json_array_get(json_object_get(w->spec, "files"), pos);
	CURL *keep = f->easy;
	*f = (struct file){
		.w = w, .fd = -1, .total = -1, .clen = -1, .pos = pos, .easy = keep,
		.idx = (int)json_integer_value(json_object_get(fj, "idx")),
		.url = json_string_value(json_object_get(fj, "url")),
		.path = json_string_value(json_object_get(fj, "path")),
		.partial = json_string_value(json_object_get(fj, "partial")),
	};
	if (f->url == NULL || f->path == NULL || (!w->upload && f->partial == NULL)) {
		fail(w, "error", NULL, "internal", "damaged transfer spec");
		return false;
	}
	return true;
}

/* May this job's downloads go several at a time? */
static bool parallel_ok(struct worker *w)
{
	const char *usage = json_string_value(json_object_get(json_object_get(w->options,
	                                                                      "proxy"), "usage"));
	/* a --proxy-list is tried entry by entry, one request at a time (perform) */
	return !w->upload && w->nfiles > 1 && w->parallel > 1 &&
	       (usage == NULL || strcmp(usage, "override") != 0) &&
	       json_object_get(w->options, "sha256") == NULL;
}

/* Start f (a slot's file) on m; false if it could not (outcome recorded). */
static bool par_start(CURLM *m, struct file *f)
{
	struct worker *w = f->w;
	f->par = true;
	if (!dl_open(f))
		return false;
	if (f->easy == NULL)
		f->easy = curl_easy_init();
	else
		curl_easy_reset(f->easy);
	if (f->easy == NULL) {
		fail(w, "transient", f->url, "internal", "out of memory");
		close(f->fd);
		return false;
	}
	dl_request(f->easy, f);
	curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
	if (curl_multi_add_handle(m, f->easy) != CURLM_OK) {
		fail(w, "transient", f->url, "internal", "cannot start the request");
		dl_release(f->easy, f);
		close(f->fd);
		return false;
	}
	f->busy = true;
	report(f, "Connecting", false);
	return true;
}

/* f's request ended with rc: judged and finished, or (too large to go in
 * parallel) left for later. */
static void par_end(CURLM *m, struct file *f, CURLcode rc, size_t *later, size_t *nlater)
{
	struct worker *w = f->w;
	curl_multi_remove_handle(m, f->easy);
	if (f->defer && !stopping) {
		dl_release(f->easy, f);
		close(f->fd);
		f->fd = -1;
		f->busy = false;
		later[(*nlater)++] = f->pos;
		if (f->pos < w->low_later)
			w->low_later = f->pos;
		return;
	}
	bool ok = judge(f, rc, f->errbuf);
	dl_release(f->easy, f);
	dl_finish(f, ok, false);
}

static int by_pos(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Download this run's HTTP(S) files, up to w->parallel at a time; the
 * positions of those left for one at a time (other protocols, large files)
 * go in later (in order). False if the run failed or is stopping. */
static bool download_many(struct worker *w, size_t *later, size_t *nlater)
{
	CURLM *m = curl_multi_init();
	w->slot = calloc((size_t)w->parallel, sizeof *w->slot);
	w->next_pos = 0;
	w->low_later = SIZE_MAX;
	if (m == NULL || w->slot == NULL) {
		fail(w, "transient", NULL, "internal", "out of memory");
		free(w->slot);
		w->slot = NULL;
		curl_multi_cleanup(m);
		return false;
	}
	int inflight = 0;
	opener_start(w);
	for (;;) {
		for (int i = 0; i < w->parallel && w->outcome == NULL && !stopping &&
		     w->next_pos < w->nfiles; i++) {
			struct file *f = &w->slot[i];
			if (f->busy)
				continue;
			size_t pos = w->next_pos++;
			int fd = opener_take(pos);
			if (!file_at(w, pos, f)) {
				if (fd >= 0)
					close(fd);
				break;
			}
			f->fd = fd;
			if (!is_http(f->url)) {
				later[(*nlater)++] = pos;
				if (pos < w->low_later)
					w->low_later = pos;
				i--;   /* this slot is still free */
				continue;
			}
			if (!par_start(m, f))
				break;
			inflight++;
		}
		if (stopping)
			fail(w, "stopped", NULL, "stopped", "stopped");
		if (inflight == 0)
			break;
		int running = 0;
		CURLMcode mc = curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left, ended = 0;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			char *priv = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			par_end(m, (struct file *)priv, msg->data.result, later, nlater);
			inflight--;
			ended++;
		}
		if (mc != CURLM_OK) {
			fail(w, "transient", NULL, "internal", "curl: %s", curl_multi_strerror(mc));
			for (int i = 0; i < w->parallel; i++)
				if (w->slot[i].busy) {
					curl_multi_remove_handle(m, w->slot[i].easy);
					dl_release(w->slot[i].easy, &w->slot[i]);
					dl_finish(&w->slot[i], false, false);
				}
			break;
		}
		if (json_array_size(w->pending) >= BATCH_FILES)
			batch_flush_beside(w);   /* a failure is the run's outcome: no new starts */
		if (running > 0 && ended == 0)   /* slots freed: fill them first */
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	opener_stop();
	for (int i = 0; i < w->parallel; i++)
		if (w->slot[i].easy != NULL)
			curl_easy_cleanup(w->slot[i].easy);
	curl_multi_cleanup(m);
	if (w->slot[0].w != NULL) {   /* names the first file not finished, if any */
		w->slot[0].par = true;
		report(&w->slot[0], "Transferring", true);
	}
	free(w->slot);
	w->slot = NULL;
	qsort(later, *nlater, sizeof *later, by_pos);
	return w->outcome == NULL;
}

/* Upload one file (restarted from zero on any failure). */
static bool upload(struct file *f)
{
	struct worker *w = f->w;
	f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (f->fd < 0 || fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fail(w, "error", f->path, xfer_errno_code(f->fd < 0 ? errno : 0), "cannot read %s: %s",
		     f->path, f->fd < 0 ? strerror(errno) : "not a regular file");
		if (f->fd >= 0)
			close(f->fd);
		return false;
	}
	f->total = st.st_size;
	f->done_bytes = 0;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = curl_easy_init();
	common_opts(c, w, f, errbuf);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, f);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	curl_easy_setopt(c, CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR);
	report(f, "Connecting", true);
	CURLcode rc = perform(w, c);
	bool ok = judge(f, rc, errbuf);
	curl_easy_cleanup(c);
	close(f->fd);
	if (ok)
		save_meta(f, true);
	report(f, "Transferring", true);
	return ok;
}

/* ---- uploads to another tetherd: tether://HOST[:PORT]/PATH ----
 *
 * The receiving tetherd's resumable upload endpoint (api-upload.c), spoken
 * through libtether (client/lib/upload.c) with a client that keeps nothing
 * on disk: log in as --user, create the upload (or find the one this file
 * already has), then append chunks at the offset the server holds, each
 * with its SHA-256. The server moves its offset only for whole, verified,
 * durable chunks, so an interruption costs at most the chunk in flight,
 * and a new worker resumes where the server says. The per-file record's
 * validator names the upload and the local file's size and time: a
 * changed local file starts a new upload. */

#define TUS_CHUNK_MIN  (256LL << 10)
#define TUS_CHUNK_MAX  (16LL << 20)

struct tus {
	struct file   *f;
	tether_client *c;
	char           host[BOUND_HOSTSPEC + 16];   /* HOST:PORT */
	char           rpath[BOUND_PATH];   /* the path on the receiving host */
	char           id[TETHER_UPLOAD_ID_MAX + 1];
	bool           logged_in;
	int64_t        offset;        /* the server's */
	size_t         sent;          /* of the chunk in flight */
};

static bool is_tether(const char *url)
{
	return strncasecmp(url, "tether://", 9) == 0;
}

/* libtether's progress hook for a chunk: pace it and show it. */
static int tus_progress(void *arg, size_t sent)
{
	struct tus *t = arg;
	size_t k = sent - t->sent;
	t->sent = sent;
	t->f->done_bytes = t->offset + (int64_t)sent;   /* for display */
	throttle(t->f->w, k);
	return 0;
}

/* Record t's failed call as the run's outcome; false. */
static bool tus_fail(struct tus *t, const char *doing)
{
	struct worker *w = t->f->w;
	const char *name = t->f->path;
	long status = tether_last_http_status(t->c);
	if (stopping) {
		fail(w, "stopped", name, "stopped", "stopped");
		return false;
	}
	if (status == 0) {
		CURLcode rc = (CURLcode)tether_last_transport_error(t->c);
		fail(w, rc != CURLE_OK && transient_curl(rc) ? "transient" : "error", name,
		     curl_code(rc), "%s: %s", doing, tether_last_error(t->c));
		return false;
	}
	const char *wire = tether_last_error_code(t->c);
	bool transient = status == 408 || status == 429 || status >= 500 ||
	                 strcmp(wire, "checksum_mismatch") == 0;
	char code[48];
	snprintf(code, sizeof code, "%s", status == 507 ? "remote_disk_full"
	         : status == 401 ? "auth_failed" : "");
	if (!code[0])
		snprintf(code, sizeof code, "http_%ld", status);
	fail(w, transient ? "transient" : "error", name, code, "%s: HTTP %ld: %s", doing,
	     status, wire[0] ? tether_last_error(t->c)
	                     : "unexpected reply from the receiving tetherd");
	return false;
}

/* Log in as --user with the stored password. */
static bool tus_login(struct tus *t)
{
	struct worker *w = t->f->w;
	const char *user = json_string_value(json_object_get(w->options, "user"));
	if (user == NULL || !w->have_password) {
		fail(w, "error", t->f->path, "auth_failed", "a tether:// destination needs the "
		     "account on the receiving tetherd: --user and a password");
		return false;
	}
	struct tether_login_opts lo = { .user = user, .password = w->password };
	tether_err e = tether_login(t->c, t->host, &lo, NULL);
	if (e == TETHER_E_USAGE) {   /* a name no tetherd has */
		fail(w, "error", t->f->path, "auth_failed", "logging in to the receiving "
		     "tetherd: %s", tether_last_error(t->c));
		return false;
	}
	t->logged_in = e == TETHER_E_OK;
	return t->logged_in || tus_fail(t, "logging in to the receiving tetherd");
}

/* The server's view of upload t->id: 1 found (offset set, *done), 0 gone,
 * -1 failed (outcome recorded). */
static int tus_query(struct tus *t, bool *done)
{
	if (tether_upload_query(t->c, t->host, t->id, &t->offset, done) == TETHER_E_OK)
		return 1;
	if (tether_last_http_status(t->c) == 404)
		return 0;
	tus_fail(t, "asking the receiving tetherd for the offset");
	return -1;
}

/* A new upload for this file; its id goes in the durable record first. */
static bool tus_create(struct tus *t, const char *local_id)
{
	struct file *f = t->f;
	struct stat st;   /* the receiver makes the file no wider than its source */
	int mode = (f->fd >= 0 ? fstat(f->fd, &st) : stat(f->path, &st)) == 0
	           ? (int)(st.st_mode & 0777) : -1;
	const char *sha = json_string_value(json_object_get(f->w->options, "sha256"));
	if (tether_upload_create(t->c, t->host, t->rpath, f->total, mode, sha, t->id) !=
	    TETHER_E_OK)
		return tus_fail(t, "creating the upload");
	t->offset = 0;
	snprintf(f->validator, sizeof f->validator, "tus %s %s", t->id, local_id);
	save_meta(f, false);
	return true;
}

/* Append from t->offset to the end, chunk by chunk. */
static bool tus_send(struct tus *t, bool done)
{
	struct file *f = t->f;
	int64_t chunk = TUS_CHUNK_MIN;
	char *buf = malloc((size_t)TUS_CHUNK_MAX);
	const struct tether_upload_io io = { .progress = tus_progress, .ctx = t };
	int conflicts = 0;
	bool ok = buf != NULL;
	/* an empty append commits a file whose bytes are all in */
	while (ok && !done && !stopping) {
		int64_t n = f->total - t->offset < chunk ? f->total - t->offset : chunk;
		ssize_t got = n > 0 ? pread(f->fd, buf, (size_t)n, t->offset) : 0;
		if (got != n) {
			f->werrno = got < 0 ? errno : EIO;
			fail(f->w, "error", f->path, "read_failed", "cannot read %s: %s", f->path,
			     got < 0 ? strerror(errno) : "the file shrank");
			ok = false;
			break;
		}
		t->sent = 0;
		tether_err e = tether_upload_append(t->c, t->host, t->id, t->offset, buf,
		                                    (size_t)n, &io);
		long s = tether_last_http_status(t->c);
		if (e == TETHER_E_OK) {
			t->offset += n;
			f->done_bytes = t->offset;
			done = t->offset == f->total;
			if (chunk < TUS_CHUNK_MAX)
				chunk *= 2;
			report(f, "Transferring", false);
		} else if (s == 409 && conflicts++ < 3) {
			/* another offset on the server (an append we thought lost) */
			if (tus_query(t, &done) != 1) {
				ok = false;
				if (f->w->outcome == NULL)
					fail(f->w, "transient", f->path, "upload_gone",
					     "the receiving tetherd no longer has the upload");
			}
		} else if (s == 413 && chunk > 64 * 1024) {
			chunk /= 2;
		} else {
			ok = tus_fail(t, "sending");
		}
	}
	if (ok && stopping) {
		fail(f->w, "stopped", f->path, "stopped", "stopped");
		ok = false;
	}
	free(buf);
	return ok && done;
}

/* Parse f->url into t->host and t->rpath ("/~/x" is ~/x); false if it
 * is not a tether://HOST[:PORT]/PATH URL (outcome recorded). */
static bool tus_where(struct tus *t)
{
	struct file *f = t->f;
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *rpath = NULL;
	bool ok = u != NULL && !curl_url_set(u, CURLUPART_URL, f->url, CURLU_NON_SUPPORT_SCHEME) &&
	          !curl_url_get(u, CURLUPART_HOST, &host, 0) &&
	          !curl_url_get(u, CURLUPART_PATH, &rpath, CURLU_URLDECODE) && strlen(rpath) >= 2;
	if (ok) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		snprintf(t->host, sizeof t->host, "%s:%s", host, port ? port : "7443");
		snprintf(t->rpath, sizeof t->rpath, "%s", strncmp(rpath, "/~/", 3) == 0
		         ? rpath + 3 : rpath);
	} else {
		fail(f->w, "error", f->path, "bad_url", "not a tether://HOST[:PORT]/PATH URL: %s",
		     f->url);
	}
	curl_free(host);
	curl_free(port);
	curl_free(rpath);
	curl_url_cleanup(u);
	return ok;
}

/* A libtether client for this job's route and trust: the CAs and
 * --insecure of the options, the proxy in use, nothing on disk. */
static tether_client *tus_client(struct worker *w)
{
	json_t *o = w->options;
	json_t *proxy = json_object_get(o, "proxy");
	const char *usage = json_string_value(json_object_get(proxy, "usage"));
	struct tether_remote_opts ro = {
		.cacert_pem = json_string_value(json_object_get(o, "cacert")),
		.insecure = json_is_true(json_object_get(o, "insecure")),
		.proxy = proxy_in_use(w),
		.noproxy = json_string_value(json_object_get(proxy, "bypass")),
		.proxy_user = json_string_value(json_object_get(proxy, "user")),
		.proxy_password = w->proxy_password,
		.user_agent = XFER_USER_AGENT,
		.connect_timeout = XFER_CONNECT_TIMEOUT,
		.io_timeout = XFER_STALL_TIMEOUT,
		.next_proxy = usage != NULL && strcmp(usage, "override") == 0 ? next_proxy : NULL,
		.proxy_ctx = w,
	};
	tether_client *c = NULL;
	if (tether_client_new_remote(&c, &ro) != TETHER_E_OK) {
		tether_client_free(c);
		return NULL;
	}
	return c;
}

/* Upload one file to another tetherd, resuming where it holds the upload. */
static bool tus_upload(struct file *f)
{
	struct worker *w = f->w;
	struct tus t = { .f = f };
	bool ok = false, done = false;
	f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (f->fd < 0 || fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fail(w, "error", f->path, xfer_errno_code(f->fd < 0 ? errno : 0), "cannot read %s: %s",
		     f->path, f->fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	f->total = st.st_size;
	char local_id[96];
	snprintf(local_id, sizeof local_id, "%lld %lld.%09ld", (long long)st.st_size,
	         (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (!tus_where(&t))
		goto out;
	const char *want = json_string_value(json_object_get(w->options, "sha256"));
	char got[2 * CRYPTO_SHA256_LEN + 1];
	if (want != NULL && (file_sha256(f->fd, got) != 0 || strcasecmp(got, want) != 0)) {
		fail(w, "error", f->path, "checksum_mismatch", "SHA-256 of %s is %s, not %s",
		     f->path, got, want);
		goto out;
	}
	t.c = tus_client(w);
	report(f, "Connecting", true);
	if (t.c == NULL) {
		fail(w, "transient", f->path, "transfer_failed", "cannot set up the connection");
		goto out;
	}
	if (!tus_login(&t))
		goto out;
	/* the upload this file already has, if its bytes are still this file's */
	load_meta(f);
	f->total = st.st_size;
	char id[64] = "", was[96] = "";
	if (sscanf(f->validator, "tus %63s %95[^\n]", id, was) == 2 &&
	    strspn(id, "0123456789abcdef") == strlen(id)) {
		snprintf(t.id, sizeof t.id, "%s", id);
		if (strcmp(was, local_id) != 0) {
			/* the receiver's partial holds the old bytes: let it go now
			 * rather than at its expiry (a failure here changes nothing) */
			tether_upload_remove(t.c, t.host, t.id);
			note(w, "the local file changed: its upload restarted from zero");
			t.id[0] = '\0';
		} else {
			int q = tus_query(&t, &done);
			if (q < 0)
				goto out;
			if (q == 0) {
				note(w, "the receiving tetherd no longer had the upload: restarted "
				     "from zero");
				t.id[0] = '\0';
			}
		}
	}
	if (t.id[0] == '\0' && !tus_create(&t, local_id))
		goto out;
	f->done_bytes = t.offset;
	report(f, "Transferring", true);
	ok = tus_send(&t, done);
	if (ok)
		save_meta(f, true);
out:
	if (t.logged_in)
		tether_logout(t.c, t.host);
	tether_client_free(t.c);
	report(f, "Transferring", true);
	if (f->fd >= 0)
		close(f->fd);
	return ok;
}

/* Zero and free the unsealed URL and proxy passwords. */
static void wipe_url_passwords(struct worker *w)
{
	crypto_wipe(w->proxy_password, sizeof w->proxy_password);
	const char *k;
	json_t *v;
	json_object_foreach(w->url_passwords, k, v)
		if (json_is_string(v))
			crypto_wipe((char *)json_string_value(v), json_string_length(v));
	json_decref(w->url_passwords);
	w->url_passwords = NULL;
}

/* Read the spec and the credentials, then become the job's owner. */
static int setup(struct worker *w, const char *jobdir)
{
	char path[BOUND_PATH + 32];
	snprintf(path, sizeof path, "%s/spec.json", jobdir);
	w->spec = json_load_file(path, 0, NULL);
	if (!json_is_object(w->spec))
		return -1;
	w->options = json_object_get(w->spec, "options");
	w->upload = json_is_true(json_object_get(w->spec, "upload"));
	w->workdir = json_string_value(json_object_get(w->spec, "workdir"));
	w->rate_file = json_string_value(json_object_get(w->spec, "rate_file"));
	const char *sealed = json_string_value(json_object_get(w->spec, "credentials"));
	const char *key = json_string_value(json_object_get(w->spec, "key_path"));
	if (w->workdir == NULL || w->rate_file == NULL)
		return -1;
	if (sealed != NULL && key != NULL)
		w->have_password = secrets_open(key, sealed, w->password, sizeof w->password) >= 0;
	const char *psealed = json_string_value(json_object_get(w->options, "proxy_password"));
	if (psealed != NULL && key != NULL &&
	    secrets_open(key, psealed, w->proxy_password, sizeof w->proxy_password) < 0)
		w->proxy_password[0] = '\0';
	/* the URLs' own passwords: unsealed now, while the key can be read */
	const char *idx;
	json_t *v;
	w->url_passwords = json_object();
	json_object_foreach(json_object_get(w->options, "url_passwords"), idx, v) {
		char pw[SECRETS_MAX + 1];
		if (key != NULL && json_is_string(v) &&
		    secrets_open(key, json_string_value(v), pw, sizeof pw) >= 0)
			json_object_set_new(w->url_passwords, idx, json_string(pw));
		crypto_wipe(pw, sizeof pw);
	}
	struct account acct;
	if (account_from_spec(w->spec, &acct) != 0 || account_become(&acct) != 0)
		return -1;   /* never transfer as root */
	umask(sysacct_login_umask());   /* the owner's, as a login would set */
	return 0;
}

int xfer_worker_main(const char *jobdir)
{
	struct worker w = { .rate = -1 };
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (setup(&w, jobdir) != 0) {
		wipe_url_passwords(&w);
		json_decref(w.spec);
		return 1;
	}
	w.notes = json_array();
	char pid[32];
	snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	char path[BOUND_PATH + 32];
	struct stat st;
	snprintf(path, sizeof path, "%s/pid", w.workdir);
	int wrote = fileio_replace(path, pid, strlen(pid), 0600, false);
	/* the pid file first, then the spec: a job stopped (removed,
	 * suspended, completed) while this worker was starting has lost its
	 * spec, and its worker must not touch a file (xfer.c stop_worker) */
	snprintf(path, sizeof path, "%s/spec.json", jobdir);
	if (wrote != 0 || lstat(path, &st) != 0) {
		crypto_wipe(w.password, sizeof w.password);
		wipe_url_passwords(&w);
		json_decref(w.spec);
		return 0;
	}
	if (w.have_password && !json_object_get(w.options, "user"))
		w.have_password = false;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	w.nfiles = json_array_size(json_object_get(w.spec, "files"));
	json_t *par = json_object_get(w.spec, "parallel");
	w.parallel = json_is_integer(par) && json_integer_value(par) >= 1 &&
	             json_integer_value(par) <= 64 ? (int)json_integer_value(par) : 1;
	w.batch_seq = -1;
	/* the files left for one at a time after the parallel ones (all, if none) */
	size_t *later = NULL, nlater = w.nfiles;
	if (parallel_ok(&w) && (later = malloc(w.nfiles * sizeof *later)) != NULL) {
		nlater = 0;
		w.rate_ms = timeu_mono_ms();
		if (!download_many(&w, later, &nlater))
			nlater = 0;
	}
	for (size_t k = 0; k < nlater; k++) {
		size_t i = later != NULL ? later[k] : k;
		w.pos = i;
		if (stopping) {
			fail(&w, "stopped", NULL, "stopped", "stopped");
			break;
		}
		struct file f = { 0 };
		if (!file_at(&w, i, &f))
			break;
		w.rate_ms = timeu_mono_ms();
		w.rate_bytes = 0;
		if (!(w.upload ? (is_tether(f.url) ? tus_upload(&f) : upload(&f)) : download(&f)))
			break;
		if (json_array_size(w.pending) >= BATCH_FILES && batch_flush(&w) != 0)
			break;
	}
	free(later);
	batch_flush(&w);
	syncer_stop(&w);
	for (int k = 0; k < w.nsync; k++)
		close(w.sync_fd[k]);
	json_decref(w.pending);
	if (w.easy != NULL)
		curl_easy_cleanup(w.easy);
	dio_free();
	crypto_wipe(w.password, sizeof w.password);
	wipe_url_passwords(&w);
	json_t *res = json_pack("{s:s,s:I,s:O}", "outcome", w.outcome ? w.outcome : "transferred",
	                        "retry_after", (json_int_t)w.retry_after, "notes", w.notes);
	if (w.outcome != NULL)
		json_object_set_new(res, "error", json_pack("{s:s,s:s,s:s}", "code", w.code,
		                    "message", w.message, "file", w.file));
	put_json(&w, "result.json", res, true);
	json_decref(w.notes);
	json_decref(w.spec);
	curl_global_cleanup();
	return 0;
}
