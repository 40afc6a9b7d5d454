/*
 * fileio.c - careful small-file I/O (see fileio.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "fileio.h"

/* Write everything. */
int fileio_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Wait until fd is ready for events, at most ms; 0, or -1 with errno. */
static int await(int fd, short events, int ms)
{
	struct pollfd p = { fd, events, 0 };
	int n;
	while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	if (n == 0)
		errno = ETIMEDOUT;
	return n > 0 ? 0 : -1;
}

ssize_t fileio_read_ms(int fd, void *buf, size_t len, int idle_ms)
{
	for (;;) {
		if (await(fd, POLLIN, idle_ms) != 0)
			return -1;
		ssize_t n = read(fd, buf, len);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			return n;
	}
}

int fileio_read_full_ms(int fd, void *buf, size_t len, int idle_ms)
{
	for (size_t done = 0; done < len; ) {
		ssize_t n = fileio_read_ms(fd, (char *)buf + done, len - done, idle_ms);
		if (n == 0)
			errno = EPIPE;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

int fileio_write_full_ms(int fd, const void *buf, size_t len, int idle_ms)
{
	const char *p = buf;
	struct stat st;
	bool sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	while (len > 0) {
		if (await(fd, POLLOUT, idle_ms) != 0)
			return -1;
		ssize_t w = sock ? send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT)
		                 : write(fd, p, len);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int fileio_pwrite_all(int fd, const void *buf, size_t len, int64_t off)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		off += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Replace a file atomically (the temporary name is unique per call, so
 * threads replacing the same file never share one). */
int fileio_replace(const char *path, const void *data, size_t len, mode_t mode, bool durable)
{
	static _Atomic unsigned seq;
	char tmp[4200];
	if (snprintf(tmp, sizeof tmp, "%s.%d.%u.tmp", path, (int)getpid(), seq++) >=
	    (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	int ok = fileio_write_all(fd, data, len) == 0 && fchmod(fd, mode) == 0 &&
	         (!durable || fsync(fd) == 0);
	int saved = errno;
	if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
		saved = ok ? errno : saved;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return fileio_replace(path, data, len, mode, true);
}

/* Read what is left of an open file, up to max bytes. */
char *fileio_read_fd(int fd, size_t max, size_t *lenp)
{
	/* room for what fstat says is there (and a byte to see it grew), not
	 * for max: a 1 MiB bound read for a 300-byte file cost an mmap, and a
	 * merge of the heap's free chunks, per read (docs/performance.md) */
	struct stat st;
	size_t cap = max + 1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (uint64_t)st.st_size < max)
		cap = (size_t)st.st_size + 2;
	char *buf = malloc(cap);
	size_t n = 0;
	while (buf != NULL && n <= max) {
		if (n == cap) {   /* it grew since: double, up to the bound */
			size_t more = cap > (max + 1) / 2 ? max + 1 : cap * 2;
			char *b = realloc(buf, more);
			if (b == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap = more;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (buf == NULL || n > max) {
		free(buf);
		errno = buf ? EFBIG : ENOMEM;
		return NULL;
	}
	buf[n] = '\0';   /* n < cap: the loop ends on a read short of it */
	if (lenp != NULL)
		*lenp = n;
	return buf;
}

int fileio_open_regular(const char *path, bool single_link)
{
	/* O_NONBLOCK: a FIFO put in the file's place must not stall the open */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (single_link && st.st_nlink != 1)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* Read a small regular file through fileio_open_regular. */
static char *read_regular(const char *path, bool single_link, size_t max, size_t *lenp)
{
	int fd = fileio_open_regular(path, single_link);
	if (fd < 0)
		return NULL;
	char *buf = fileio_read_fd(fd, max, lenp);
	int saved = errno;
	close(fd);
	errno = saved;
	return buf;
}

/* Read a small file. */
char *fileio_read(const char *path, size_t max, size_t *lenp)
{
	return read_regular(path, false, max, lenp);
}

/* Read a small file in a directory a user can write. */
char *fileio_read_untrusted(const char *path, size_t max, size_t *lenp)
{
	return read_regular(path, true, max, lenp);
}

int fileio_mkdirs(const char *path, mode_t parents, mode_t last)
{
	char tmp[BOUND_PATH];
	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, parents) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return (mkdir(tmp, last) == 0 || errno == EEXIST) ? 0 : -1;
}
