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
#include <grp.h>
#include <sys/wait.h>
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

/* Remove a tree as its owner: a root daemon must not walk a directory a
 * user controls (a directory swapped for a symlink mid-walk could point it
 * at anything), so the walk runs in a child with the owner's identity. */
int spool_rmtree_as_owner(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (geteuid() != 0 || st.st_uid == 0 || !S_ISDIR(st.st_mode))
		return spool_rmtree(path);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0)
			_exit(1);
		_exit(spool_rmtree(path) == 0 ? 0 : 1);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* the directory itself sits in a root-owned parent */
	rmdir(path);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
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
