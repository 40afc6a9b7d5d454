/*
 * spool.c - paths and small-file primitives for the spool (see spool.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

/* shorter than BOUND_PATH so every spool path below fits */
static char root[BOUND_PATH - 256];

/* Set up the spool under the state dir. */
int spool_init(const char *state_dir)
{
	char p[BOUND_PATH + 32];
	if (snprintf(root, sizeof root, "%s/spool", state_dir) >= (int)sizeof root)
		return -1;
	if (mkdir(root, 0711) != 0 && errno != EEXIST)
		return -1;
	snprintf(p, sizeof p, "%s/jobs", root);
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(p, sizeof p, "%s/sessions", root);
	if (mkdir(p, 0711) != 0 && errno != EEXIST)
		return -1;
	/* job accounts must traverse state dir and spool to reach their session */
	chmod(state_dir, 0711);
	chmod(root, 0711);
	chmod(p, 0711);
	return 0;
}

void spool_job_dir(char out[BOUND_PATH], int64_t job)
{
	snprintf(out, BOUND_PATH, "%s/jobs/%lld", root, (long long)job);
}

void spool_job_file(char out[BOUND_PATH], int64_t job, const char *name)
{
	snprintf(out, BOUND_PATH, "%s/jobs/%lld/%.64s", root, (long long)job, name);
}

void spool_session_dir(char out[BOUND_PATH], int64_t session)
{
	snprintf(out, BOUND_PATH, "%s/sessions/%lld", root, (long long)session);
}

void spool_session_file(char out[BOUND_PATH], int64_t session, const char *name)
{
	snprintf(out, BOUND_PATH, "%s/sessions/%lld/%.64s", root, (long long)session, name);
}

/* Make a private directory for an account. */
int spool_mkdir(const char *path, uid_t uid, gid_t gid)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) != 0)
		return -1;
	return 0;
}

/* nftw callback: remove one entry. */
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Remove a tree without following symlinks. */
int spool_rmtree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* Write a file atomically. */
int spool_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[BOUND_PATH + 16];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	const char *p = data;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	int ok = off == len && fsync(fd) == 0;
	if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Read a small file. */
char *spool_read(const char *path, size_t max, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	char *buf = malloc(max + 1);
	size_t n = 0;
	while (buf != NULL && n <= max) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (buf == NULL || n > max) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (lenp)
		*lenp = n;
	return buf;
}

/* Size of a file. */
int64_t spool_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}
