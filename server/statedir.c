/*
 * statedir.c - the daemon's state directory (statedir.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "fileio.h"
#include "statedir.h"
#include "store.h"

int statedir_make(const char *dir)
{
	return fileio_mkdirs(dir, 0755, 0700);
}

int statedir_lock(const char *dir)
{
	char path[BOUND_PATH + 16];
	snprintf(path, sizeof path, "%s/tetherd.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int statedir_open_store(const struct srvconf *c, struct store **st)
{
	char path[BOUND_PATH + 16], err[512];
	if (statedir_make(c->state_dir) != 0) {
		fprintf(stderr, "tetherd: cannot create state dir %s: %s\n", c->state_dir,
		        strerror(errno));
		return -1;
	}
	snprintf(path, sizeof path, "%s/tether.db", c->state_dir);
	if (store_open(path, st, err, sizeof err) != 0) {
		fprintf(stderr, "tetherd: %s\n", err);
		return -1;
	}
	return 0;
}
