/*
 * account.c - the OS account of a tether user, and becoming it (account.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "account.h"
#include "fileio.h"
#include "sysacct.h"
#include "timeu.h"

/* The passwd entry u acts as, with the policy of account_of. */
static tether_err lookup(const struct user_rec *u, struct passwd *pw, char *buf, size_t bufsz,
                         char *err, size_t errsz)
{
	struct passwd *res = NULL;
	if (geteuid() != 0) {
		getpwuid_r(geteuid(), pw, buf, bufsz, &res);
	} else {
		const char *name = u->os_user[0] ? u->os_user : u->name;
		char why[256];
		getpwnam_r(name, pw, buf, bufsz, &res);
		if (res != NULL && res->pw_uid == 0)
			res = NULL;   /* never act as root for a user */
		if (res == NULL) {
			snprintf(err, errsz, "user '%s' has no OS account to run as (other than "
			         "root); an administrator can set one with tetherd user add "
			         "--os-user", u->name);
			return TETHER_E_FORBIDDEN;
		}
		/* by name, only a login account: a user called "daemon" is not daemon */
		if (u->os_user[0] == '\0' && !sysacct_default_ok(res, why, sizeof why)) {
			snprintf(err, errsz, "user '%s' is not mapped to an OS account, and %s; an "
			         "administrator can map it explicitly with tetherd user add --os-user",
			         u->name, why);
			return TETHER_E_FORBIDDEN;
		}
	}
	if (res == NULL) {
		snprintf(err, errsz, "cannot find the daemon's own account");
		return TETHER_E_INTERNAL;
	}
	return TETHER_E_OK;
}

tether_err account_of(const struct user_rec *u, struct account *a, char *err, size_t errsz)
{
	struct passwd pw;
	char buf[4096];
	tether_err e = lookup(u, &pw, buf, sizeof buf, err, errsz);
	if (e != TETHER_E_OK)
		return e;
	if (strlen(pw.pw_name) >= sizeof a->name || strlen(pw.pw_dir) >= sizeof a->home) {
		snprintf(err, errsz, "the OS account of user '%s' has a name or home too long",
		         u->name);
		return TETHER_E_FORBIDDEN;
	}
	a->uid = pw.pw_uid;
	a->gid = pw.pw_gid;
	snprintf(a->name, sizeof a->name, "%s", pw.pw_name);
	snprintf(a->home, sizeof a->home, "%s", pw.pw_dir);
	a->ngroups = ACCOUNT_GROUPS_MAX;
	if (getgrouplist(pw.pw_name, pw.pw_gid, a->groups, &a->ngroups) < 0)
		a->ngroups = -1;
	return TETHER_E_OK;
}

int account_become(const struct account *a)
{
	if (geteuid() != 0)
		return 0;   /* not root: already the only account we can be */
	if (a->uid == 0)
		return -1;
	int groups = a->ngroups >= 0 ? setgroups((size_t)a->ngroups, a->groups)
	                             : initgroups(a->name, a->gid);
	if (groups != 0 || setgid(a->gid) != 0 || setuid(a->uid) != 0)
		return -1;
	/* for good: no way back to root or to the saved ids */
	if (setuid(0) == 0 || getuid() != a->uid || geteuid() != a->uid ||
	    getgid() != a->gid || getegid() != a->gid)
		return -1;
	return 0;
}

void account_to_spec(const struct account *a, json_t *spec)
{
	json_object_set_new(spec, "uid", json_integer((json_int_t)a->uid));
	json_object_set_new(spec, "gid", json_integer((json_int_t)a->gid));
	json_object_set_new(spec, "user", json_string(a->name));
	json_object_set_new(spec, "home", json_string(a->home));
	if (a->ngroups >= 0) {
		json_t *g = json_array();
		for (int i = 0; i < a->ngroups; i++)
			json_array_append_new(g, json_integer((json_int_t)a->groups[i]));
		json_object_set_new(spec, "groups", g);
	}   /* else the supervisor asks initgroups() */
}

int account_from_spec(json_t *spec, struct account *a)
{
	json_t *uid = json_object_get(spec, "uid"), *gid = json_object_get(spec, "gid");
	const char *name = json_string_value(json_object_get(spec, "user"));
	const char *home = json_string_value(json_object_get(spec, "home"));
	memset(a, 0, sizeof *a);
	if (!json_is_integer(uid) || !json_is_integer(gid) || name == NULL ||
	    json_integer_value(uid) < 0 || json_integer_value(gid) < 0 ||
	    snprintf(a->name, sizeof a->name, "%s", name) >= (int)sizeof a->name)
		return -1;
	snprintf(a->home, sizeof a->home, "%s", home ? home : "/");
	a->uid = (uid_t)json_integer_value(uid);
	a->gid = (gid_t)json_integer_value(gid);
	json_t *groups = json_object_get(spec, "groups"), *g;
	size_t i, n = json_array_size(groups);
	a->ngroups = json_is_array(groups) && n <= ACCOUNT_GROUPS_MAX ? (int)n : -1;
	if (a->ngroups >= 0)
		json_array_foreach(groups, i, g)
			a->groups[i] = (gid_t)json_integer_value(g);
	return geteuid() == 0 && a->uid == 0 ? -1 : 0;
}

/* How long a run-as child may take before it is killed: a child of a
 * threaded process can hang (an allocator lock another thread held at the
 * fork, as under AddressSanitizer), and the request must not hang with it. */
static int child_ms = 30000;

void account_test_child_ms(int ms)
{
	child_ms = ms;
}

/* Wait until fd is readable or the deadline (timeu_mono_ms) passes; true
 * if readable. */
static bool await_readable(int fd, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - timeu_mono_ms();
		if (left <= 0)
			return false;
		struct pollfd p = { fd, POLLIN, 0 };
		int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return false;
	}
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
static pid_t fork_as(const struct account *a, int pair[2])
{
	/* read here: the child of a threaded process does as little as it can
	 * before fn (no file reads, no allocation) */
	mode_t mask = sysacct_login_umask();
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
		/* a copy of a threaded process may not load NSS modules: with
		 * more groups than fit, the primary group alone (less access) */
		struct account b = *a;
		if (b.ngroups < 0) {
			b.groups[0] = b.gid;
			b.ngroups = 1;
		}
		if (account_become(&b) != 0)
			_exit(1);
		umask(mask);   /* the owner's, as a login would set */
		return 0;
	}
	close(pair[1]);
	return pid;
}

json_t *account_run(const struct account *a, json_t *(*fn)(json_t *arg), json_t *arg)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return NULL;
	pid_t pid = fork_as(a, p);
	if (pid < 0)
		return NULL;
	if (pid == 0) {
		json_t *res = fn(arg);
		char *text = res ? json_dumps(res, JSON_COMPACT) : NULL;
		if (text != NULL)
			fileio_write_all(p[1], text, strlen(text));
		_exit(text ? 0 : 1);
	}
	/* a transfer plan of many files can be megabytes; the pages are
	 * touched only as the answer comes */
	char *buf = malloc(BOUND_ACCOUNT_ANSWER + 1);
	size_t len = 0;
	bool whole = false;   /* the child closed its end: the answer is all here */
	int64_t deadline = timeu_mono_ms() + child_ms;
	while (buf != NULL && len < BOUND_ACCOUNT_ANSWER && await_readable(p[0], deadline)) {
		ssize_t n = read(p[0], buf + len, BOUND_ACCOUNT_ANSWER - len);
		if (n > 0)
			len += (size_t)n;
		else if (n == 0 || errno != EINTR) {
			whole = n == 0;
			break;
		}
	}
	if (!whole)
		kill(pid, SIGKILL);   /* out of time or of room: no answer */
	close(p[0]);
	int rc = reap(pid);
	json_t *res = buf && whole && rc == 0 ? json_loadb(buf, len, 0, NULL) : NULL;
	free(buf);
	return res;
}

int account_fd(const struct account *a, int (*fn)(void *arg), void *arg, int *err)
{
	int sv[2];
	*err = EIO;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
		*err = errno;
		return -1;
	}
	pid_t pid = fork_as(a, sv);
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
	ssize_t n = -1;
	int64_t deadline = timeu_mono_ms() + child_ms;
	while (await_readable(sv[0], deadline) &&
	       (n = recvmsg(sv[0], &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0)
		kill(pid, SIGKILL);   /* out of time: no descriptor */
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

