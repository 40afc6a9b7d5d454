/*
 * userfile.c - what an account child does to a user's files (userfile.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "userfile.h"

int userfile_move(const char *partial, const char *dest)
{
	struct stat st;
	/* a file being replaced keeps its mode (a fresh one has the umask's) */
	if (lstat(dest, &st) == 0 && S_ISREG(st.st_mode) &&
	    chmod(partial, st.st_mode & 07777) != 0)
		return -1;
	return rename(partial, dest);
}

void userfile_sync_dir(const char *dest)
{
	char dir[BOUND_PATH];
	const char *slash = strrchr(dest, '/');
	if (slash == NULL)
		return;
	snprintf(dir, sizeof dir, "%.*s", slash == dest ? 1 : (int)(slash - dest), dest);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);   /* the rename itself survives a crash */
		close(fd);
	}
}

int userfile_commit(const char *partial, const char *dest)
{
	if (userfile_move(partial, dest) != 0)
		return -1;
	userfile_sync_dir(dest);
	return 0;
}

bool path_has_dotdot(const char *p)
{
	for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return true;
	return false;
}

void path_absolute(char *out, size_t outsz, const char *home, const char *p)
{
	if (p[0] == '/')
		snprintf(out, outsz, "%s", p);
	else
		snprintf(out, outsz, "%s/%s", home, p);
}
