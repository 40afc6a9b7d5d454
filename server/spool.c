/*
 * spool.c - paths and small-file primitives for the spool (see spool.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

/* shorter than BOUND_PATH so every spool path below fits */
static char root[BOUND_PATH - 256];

#define SPOOL_RMTREE_DEPTH 64   /* deeper trees are left (and reported) */
#define SPOOL_RMTREE_TRIES 16   /* passes over a dir the owner keeps filling */

/* Set up the spool under the state dir. */
int spool_init(const char *state_dir)
{
	char p[BOUND_PATH + 32];
	if (snprintf(root, sizeof root, "%s/spool", state_dir) >= (int)sizeof root)
		return -1;
	if (mkdir(root, 0711) != 0 && errno != EEXIST)
		return -1;
	/* 0711: a transfer worker reaches its own report dir (spool/jobs/N/w);
	 * every job dir itself stays closed to others */
	snprintf(p, sizeof p, "%s/jobs", root);
	if ((mkdir(p, 0711) != 0 && errno != EEXIST) || chmod(p, 0711) != 0)
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

/* Remove the entry name of directory dfd and, if it is a directory,
 * everything under it, on descriptors alone: each directory is opened
 * O_NOFOLLOW relative to its parent's descriptor, so swapping a directory
 * for a symlink mid-walk makes that open fail (and the symlink itself is
 * removed), never leads the walk out of the tree. A directory on another
 * device (a mount the user made) is not entered. */
static int rm_at(int dfd, const char *name, dev_t dev, int depth)
{
	for (int tries = 0; tries < SPOOL_RMTREE_TRIES; tries++) {
		if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno != EISDIR && errno != EPERM)
			return -1;
		if (depth >= SPOOL_RMTREE_DEPTH)
			return -1;
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK |
		                           O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				return 0;
			if (errno == ELOOP || errno == ENOTDIR)
				continue;   /* swapped for a symlink or file: unlink that */
			return -1;
		}
		struct stat st;
		DIR *d = NULL;
		if (fstat(fd, &st) != 0 || st.st_dev != dev || (d = fdopendir(fd)) == NULL) {
			close(fd);
			return -1;
		}
		struct dirent *e;
		/* an entry that cannot go shows in the rmdir below */
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				rm_at(dirfd(d), e->d_name, dev, depth + 1);
		closedir(d);
		if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOTDIR)
			return -1;
		/* the owner added or swapped entries while we walked: another
		 * pass (a symlink now in its place is unlinked), bounded */
	}
	errno = EBUSY;
	return -1;
}

/* Remove a tree without ever following a symlink (see rm_at): safe as root
 * on a tree whose inner directories a user owns. The path down to the
 * tree's parent is the daemon's own. */
int spool_rmtree(const char *path)
{
	char parent[BOUND_PATH];
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash[1] == '\0' || (size_t)(slash - path) >= sizeof parent) {
		errno = EINVAL;
		return -1;
	}
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	int pfd = open(parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	int rc = fstat(pfd, &st) == 0 ? rm_at(pfd, slash + 1, st.st_dev, 0) : -1;
	int e = errno;
	close(pfd);
	errno = e;
	return rc;
}

/* Size of a file. */
int64_t spool_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}
