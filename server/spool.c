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

/* Size of a file. */
int64_t spool_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}
