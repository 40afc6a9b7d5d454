/*
 * fileio.h - the few file operations both sides need, done carefully once.
 *
 * Writes that must never be seen half-done (keys, tokens, job status,
 * client state) go through fileio_write_atomic: a temporary file created
 * with its final mode, fsync'd, then renamed over the target. Reads of
 * small files are bounded.
 */
#ifndef TETHER_FILEIO_H
#define TETHER_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Write all of buf to fd, retrying on EINTR and short writes; 0 or -1. */
int fileio_write_all(int fd, const void *buf, size_t len);

/* pwrite all of buf at off (retrying short writes and EINTR); 0 or -1. */
int fileio_pwrite_all(int fd, const void *buf, size_t len, int64_t off);

/* Read up to len bytes from a pipe or socket, waiting at most idle_ms for
 * any: the count, 0 at its end, or -1 (errno ETIMEDOUT when nothing came
 * in time). For talking to a process that may stall (a child reading a
 * user's file system): never a bare blocking read. */
ssize_t fileio_read_ms(int fd, void *buf, size_t len, int idle_ms);

/* Read exactly len bytes the same way, idle_ms for each part: 0, or -1
 * (errno ETIMEDOUT, or EPIPE if the stream ended first). */
int fileio_read_full_ms(int fd, void *buf, size_t len, int idle_ms);

/* Write all of buf to a pipe or socket, waiting at most idle_ms each time
 * for room (a socket never raises SIGPIPE): 0, or -1 (errno ETIMEDOUT, or
 * the write's). */
int fileio_write_full_ms(int fd, const void *buf, size_t len, int idle_ms);

/* Replace path atomically with len bytes of data, mode applied from the
 * start (never world-readable in between). 0, or -1 with errno set. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* The same, fsync'd only if durable: for hints that are cheap to lose in a
 * crash but must never be read half-written. */
int fileio_replace(const char *path, const void *data, size_t len, mode_t mode, bool durable);

/* Read a whole file of at most max bytes into a malloc'd NUL-terminated
 * buffer (the caller frees it); *lenp (optional) gets the length. NULL if
 * the file is absent, unreadable, a symlink, not a regular file (errno
 * EINVAL: opened without blocking, so a FIFO is refused, not waited on), or
 * larger than max (errno is EFBIG then). */
char *fileio_read(const char *path, size_t max, size_t *lenp);

/* mkdir -p: missing parents made with mode parents, the last component
 * with mode last (existing ones are left as they are). 0, or -1 with errno
 * set (ENAMETOOLONG past BOUND_PATH). */
int fileio_mkdirs(const char *path, mode_t parents, mode_t last);

/* Open a regular file for reading without following a symlink and without
 * blocking (a FIFO, device or directory in its place is refused with
 * EINVAL); with single_link, also refuse a file with other hard links (one
 * linked in from elsewhere by a user). Returns a close-on-exec descriptor
 * (O_NONBLOCK, which a regular file ignores), or -1 with errno set. */
int fileio_open_regular(const char *path, bool single_link);

/* fileio_read for a file a user could have replaced (one in a directory the
 * user can write): regular, not a symlink, FIFO or extra hard link. */
char *fileio_read_untrusted(const char *path, size_t max, size_t *lenp);

/* The same for what is left of an open file (errno EFBIG past max). */
char *fileio_read_fd(int fd, size_t max, size_t *lenp);

#endif
