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
 * goes away (or 300 s). Runs in the foreground, multithreaded, mounted
 * allow_other so that UID's processes may use it.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uid_t owner;
static gid_t group;
static char fname[256] = "authorized_keys";

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
	if (path[0] == '/' && strcmp(path + 1, fname) == 0) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = 4096;
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
	return path[0] == '/' && strcmp(path + 1, fname) == 0 ? 0 : -ENOENT;
}

/* The stall: no answer while the mount lives (bounded, so a test that
 * forgets us still ends). */
static int fs_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
	(void)path;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	for (int i = 0; i < 3000; i++)
		usleep(100000);
	return -EIO;
}

static const struct fuse_operations ops = {
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read = fs_read,
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
