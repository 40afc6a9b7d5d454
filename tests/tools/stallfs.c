/*
 * stallfs.c - a FUSE file system whose one file never answers a read: the
 * hostile mount (or hung NFS server) that tetherd, running as root, must
 * never wait on itself (tests/integration/test_keylogin.py mounts it as a
 * user's ~/.ssh; see docs/security.md).
 *
 *   stallfs MOUNTPOINT UID GID [NAME]
 *
 * The root directory belongs to UID:GID with mode 0700 and holds one file,
 * NAME (default authorized_keys), UID's, mode 0600, 4096 bytes. Opening and
 * looking at it answer at once; a read of it waits until the file system
 * goes away (or 300 s). Files may be created there too (at most 64, empty,
 * UID's): they open at once, and a write or flush to disk of any of them
 * waits the same way (an upload's writer). Runs in the foreground,
 * multithreaded, mounted allow_other so that UID's processes may use it.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uid_t owner;
static gid_t group;
static char fname[256] = "authorized_keys";
static char made[64][256];   /* files created since the mount */
static int nmade;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* True if path names NAME or a file created here. */
static bool known(const char *path)
{
	if (path[0] != '/')
		return false;
	if (strcmp(path + 1, fname) == 0)
		return true;
	bool found = false;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nmade && !found; i++)
		found = strcmp(path + 1, made[i]) == 0;
	pthread_mutex_unlock(&lock);
	return found;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	st->st_uid = owner;
	st->st_gid = group;
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 2;
		return 0;
	}
	if (known(path)) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = strcmp(path + 1, fname) == 0 ? 4096 : 0;
		return 0;
	}
	return -ENOENT;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, fname, NULL, 0, 0);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	(void)fi;
	return known(path) ? 0 : -ENOENT;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	if (path[0] != '/' || strchr(path + 1, '/') != NULL || strlen(path + 1) >= sizeof made[0])
		return -EINVAL;
	if (known(path))
		return 0;
	pthread_mutex_lock(&lock);
	int rc = nmade < (int)(sizeof made / sizeof made[0]) ? 0 : -ENOSPC;
	if (rc == 0)
		snprintf(made[nmade++], sizeof made[0], "%s", path + 1);
	pthread_mutex_unlock(&lock);
	return rc;
}

/* The stall: no answer while the mount lives (bounded, so a test that
 * forgets us still ends). */
static int stall(void)
{
	for (int i = 0; i < 3000; i++)
		usleep(100000);
	return -EIO;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
	(void)path;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	return stall();
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	(void)path;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	return stall();
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	return stall();
}

/* Sizes and times of created files: accepted, nothing kept. */
static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)size;
	(void)fi;
	return known(path) ? 0 : -ENOENT;
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	return known(path) ? 0 : -ENOENT;
}

static const struct fuse_operations ops = {
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read = fs_read,
	.create = fs_create,
	.write = fs_write,
	.fsync = fs_fsync,
	.truncate = fs_truncate,
	.utimens = fs_utimens,
};

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: stallfs MOUNTPOINT UID GID [NAME]\n");
		return 2;
	}
	owner = (uid_t)strtoul(argv[2], NULL, 10);
	group = (gid_t)strtoul(argv[3], NULL, 10);
	if (argc == 5)
		snprintf(fname, sizeof fname, "%s", argv[4]);
	char *fargv[] = { argv[0], "-f", "-o", "allow_other,auto_unmount", argv[1], NULL };
	return fuse_main(5, fargv, &ops, NULL);
}
