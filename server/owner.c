/*
 * owner.c - forked children that act as a user (see owner.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysacct.h"
#include "fileio.h"
#include "jobs.h"
#include "owner.h"

tether_err owner_of(const struct user_rec *u, struct owner *o, char *err, size_t errsz)
{
	struct passwd pw;
	char buf[4096];
	tether_err e = jobs_account(u, &pw, buf, sizeof buf, err, errsz);
	if (e != TETHER_E_OK)
		return e;
	o->uid = pw.pw_uid;
	o->gid = pw.pw_gid;
	o->ngroups = (int)(sizeof o->groups / sizeof o->groups[0]);
	if (getgrouplist(pw.pw_name, pw.pw_gid, o->groups, &o->ngroups) < 0)
		o->ngroups = 0;   /* more than we keep: the primary group only */
	snprintf(o->home, sizeof o->home, "%s", pw.pw_dir);
	return TETHER_E_OK;
}

/* In the child: become the owner (a non-root daemon already is). */
static void become(const struct owner *o)
{
	if (geteuid() == 0 && (setgroups((size_t)o->ngroups, o->groups) != 0 ||
	                       setgid(o->gid) != 0 || setuid(o->uid) != 0))
		_exit(1);
	umask(sysacct_login_umask());   /* the owner's, as a login would set */
}

static int reap(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Fork a child that becomes the owner and keeps pair[1]; the parent keeps
 * pair[0]. Returns the pid in the parent, 0 in the child, -1 (both ends
 * closed, errno set) on failure. */
static pid_t fork_as(const struct owner *o, int pair[2])
{
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pair[0]);
		close(pair[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(pair[0]);
		become(o);
		return 0;
	}
	close(pair[1]);
	return pid;
}

json_t *owner_run(const struct owner *o, json_t *(*fn)(json_t *arg), json_t *arg)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return NULL;
	pid_t pid = fork_as(o, p);
	if (pid < 0)
		return NULL;
	if (pid == 0) {
		json_t *res = fn(arg);
		char *text = res ? json_dumps(res, JSON_COMPACT) : NULL;
		if (text != NULL)
			fileio_write_all(p[1], text, strlen(text));
		_exit(text ? 0 : 1);
	}
	char *buf = malloc(BOUND_BODY_COMMAND + 1);
	size_t len = 0;
	ssize_t n;
	while (buf != NULL && len < BOUND_BODY_COMMAND &&
	       ((n = read(p[0], buf + len, BOUND_BODY_COMMAND - len)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	close(p[0]);
	int rc = reap(pid);
	json_t *res = buf && rc == 0 ? json_loadb(buf, len, 0, NULL) : NULL;
	free(buf);
	return res;
}

int owner_fd(const struct owner *o, int (*fn)(void *arg), void *arg, int *err)
{
	int sv[2];
	*err = EIO;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
		*err = errno;
		return -1;
	}
	pid_t pid = fork_as(o, sv);
	if (pid < 0) {
		*err = errno;
		return -1;
	}
	if (pid == 0) {
		int fd = fn(arg);
		int code = fd < 0 ? errno : 0;
		union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
		struct iovec iov = { &code, sizeof code };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (fd >= 0) {
			memset(&u, 0, sizeof u);
			m.msg_control = u.b;
			m.msg_controllen = sizeof u.b;
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof fd);
		}
		_exit(sendmsg(sv[1], &m, 0) == (ssize_t)sizeof code ? 0 : 1);
	}
	int code = EIO, fd = -1;
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &code, sizeof code };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
	                    .msg_controllen = sizeof u.b };
	ssize_t n;
	while ((n = recvmsg(sv[0], &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	close(sv[0]);
	if (n == (ssize_t)sizeof code) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
	}
	if (reap(pid) != 0 && fd >= 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		*err = code ? code : EIO;
	return fd;
}

int owner_commit(const char *partial, const char *dest)
{
	struct stat st;
	/* a file being replaced keeps its mode (a fresh one has the umask's) */
	if (lstat(dest, &st) == 0 && S_ISREG(st.st_mode) &&
	    chmod(partial, st.st_mode & 07777) != 0)
		return -1;
	if (rename(partial, dest) != 0)
		return -1;
	char dir[BOUND_PATH];
	const char *slash = strrchr(dest, '/');
	if (slash == NULL)
		return 0;
	snprintf(dir, sizeof dir, "%.*s", slash == dest ? 1 : (int)(slash - dest), dest);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);   /* the rename itself survives a crash */
		close(fd);
	}
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
