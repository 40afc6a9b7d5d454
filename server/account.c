/*
 * account.c - the OS account of a tether user, and becoming it (account.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/*
 * The accounts found lately, so that a job start does not read /etc/passwd,
 * /etc/group and the userdb again (some 60 system calls). An entry holds
 * only while none of the files below has changed (device, inode, size,
 * mtime, ctime: a rename over them or an edit in place both show), checked
 * on every account_of, and only when nsswitch.conf takes accounts and
 * groups from "files" and "systemd" alone (what these files cover; any
 * other source, LDAP or sss, is asked every time). A refusal is never kept:
 * a removed or changed account is seen by the next request. See
 * docs/architecture.md.
 */
static const char *const watched[] = {
	"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/login.defs",
	"/etc/shells", "/etc/userdb", "/run/userdb",
};
#define NWATCHED (sizeof watched / sizeof watched[0])
#define CACHE_MAX 16

struct stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	bool missing;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stamp cache_stamp[NWATCHED];
static bool cache_ok;             /* nsswitch allows it, and stamps are set */
static struct cached {
	char key[sizeof ((struct user_rec *)0)->name + 2];   /* 'm'/'d' + name */
	struct account a;
} cache[CACHE_MAX];
static size_t ncache, cache_next;

static void stamp_now(struct stamp st[NWATCHED])
{
	for (size_t i = 0; i < NWATCHED; i++) {
		struct stat sb;
		memset(&st[i], 0, sizeof st[i]);
		if (stat(watched[i], &sb) != 0) {
			st[i].missing = true;
			continue;
		}
		st[i].dev = sb.st_dev;
		st[i].ino = sb.st_ino;
		st[i].size = sb.st_size;
		st[i].mtime = sb.st_mtim;
		st[i].ctime = sb.st_ctim;
	}
}

static bool stamps_equal(const struct stamp *x, const struct stamp *y)
{
	for (size_t i = 0; i < NWATCHED; i++)
		if (x[i].missing != y[i].missing || x[i].dev != y[i].dev ||
		    x[i].ino != y[i].ino || x[i].size != y[i].size ||
		    x[i].mtime.tv_sec != y[i].mtime.tv_sec ||
		    x[i].mtime.tv_nsec != y[i].mtime.tv_nsec ||
		    x[i].ctime.tv_sec != y[i].ctime.tv_sec ||
		    x[i].ctime.tv_nsec != y[i].ctime.tv_nsec)
			return false;
	return true;
}

/* Whether nsswitch.conf's passwd and group lines name only sources these
 * stamps cover ("files", "systemd", and [action] items). */
static bool nss_cacheable(void)
{
	char *conf = fileio_read("/etc/nsswitch.conf", 65536, NULL);
	if (conf == NULL)
		return false;
	int seen = 0;
	bool ok = true;
	for (char *save = NULL, *line = strtok_r(conf, "\n", &save); line && ok;
	     line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		size_t kl = strncmp(line, "passwd:", 7) == 0 ? 7 :
		            strncmp(line, "group:", 6) == 0 ? 6 : 0;
		if (kl == 0)
			continue;
		seen++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		for (char *s2 = NULL, *w = strtok_r(line + kl, " \t", &s2); w && ok;
		     w = strtok_r(NULL, " \t", &s2))
			ok = strcmp(w, "files") == 0 || strcmp(w, "systemd") == 0 ||
			     (w[0] == '[' && w[strlen(w) - 1] == ']');
	}
	free(conf);
	return ok && seen == 2;
}

/* The cache's key for u: which name is looked up, and whether by mapping
 * (os_user, no login-account check) or by u's own name. */
static void cache_key(const struct user_rec *u, char *key, size_t keysz)
{
	snprintf(key, keysz, "%c%s", u->os_user[0] ? 'm' : 'd',
	         u->os_user[0] ? u->os_user : u->name);
}

/* a from the cache if it holds u's account and nothing has changed since. */
static bool cache_get(const struct user_rec *u, struct account *a, struct stamp now[NWATCHED])
{
	if (geteuid() != 0)
		return false;
	char key[sizeof cache[0].key];
	cache_key(u, key, sizeof key);
	stamp_now(now);
	bool hit = false;
	pthread_mutex_lock(&cache_lock);
	if (!cache_ok || !stamps_equal(now, cache_stamp)) {
		ncache = cache_next = 0;   /* changed: forget every entry */
		memcpy(cache_stamp, now, sizeof cache_stamp);
		cache_ok = nss_cacheable();
	} else {
		for (size_t i = 0; i < ncache && !hit; i++)
			if (strcmp(cache[i].key, key) == 0) {
				*a = cache[i].a;
				hit = true;
			}
	}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

/* Keep a, looked up for u after cache_get stamped the files as before,
 * unless they changed since (the lookup may have read either version). */
static void cache_put(const struct user_rec *u, const struct account *a,
                      const struct stamp before[NWATCHED])
{
	if (geteuid() != 0)
		return;
	struct stamp now[NWATCHED];
	stamp_now(now);
	pthread_mutex_lock(&cache_lock);
	if (cache_ok && stamps_equal(now, before) && stamps_equal(now, cache_stamp)) {
		struct cached *c = &cache[ncache < CACHE_MAX ? ncache++ : cache_next++ % CACHE_MAX];
		cache_key(u, c->key, sizeof c->key);
		c->a = *a;
	}
	pthread_mutex_unlock(&cache_lock);
}

tether_err account_of(const struct user_rec *u, struct account *a, char *err, size_t errsz)
{
	struct stamp before[NWATCHED];
	if (cache_get(u, a, before))
		return TETHER_E_OK;
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
	cache_put(u, a, before);
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

static int io_ms = 60000;   /* set once at start, before any request */

void account_set_io_ms(int ms)
{
	io_ms = ms;
}

int account_io_ms(void)
{
	return io_ms;
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

/* Children killed but not gone yet: stuck in an uninterruptible wait on a
 * user's file system (a page lock held by a FUSE read that never ends, a
 * flush at exit), which SIGKILL ends only when the file system answers.
 * They are reaped later, never waited on. */
#define LATE_MAX 256
static pthread_mutex_t late_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t late[LATE_MAX];
static size_t nlate;

/* Reap those of the late children that are gone. */
static void reap_late(void)
{
	pthread_mutex_lock(&late_lock);
	for (size_t i = 0; i < nlate; )
		if (waitpid(late[i], NULL, WNOHANG) != 0)
			late[i] = late[--nlate];
		else
			i++;
	pthread_mutex_unlock(&late_lock);
}

/* Reap a child that has finished or is finishing: its exit status (-1 if
 * it did not exit normally). One still there after 50 ms is killed, and
 * if still there 50 ms later left to reap_late: the caller never waits on
 * a user's file system. */
static int reap_soon(pid_t pid)
{
	int st;
	reap_late();
	for (int round = 0; round < 2; round++) {
		/* wait for its end without waiting on it: poll a pidfd */
		int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pfd >= 0) {
			struct pollfd p = { pfd, POLLIN, 0 };
			while (poll(&p, 1, 50) < 0 && errno == EINTR)
				;
			close(pfd);
		}
		pid_t r;
		while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR)
			;
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0)
			return -1;
		kill(pid, SIGKILL);
	}
	pthread_mutex_lock(&late_lock);
	bool kept = nlate < LATE_MAX;
	if (kept)
		late[nlate++] = pid;
	pthread_mutex_unlock(&late_lock);
	if (!kept)
		reap(pid);   /* LATE_MAX stuck already: this thread waits, others go on */
	return -1;
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
	int rc = reap_soon(pid);
	json_t *res = buf && whole && rc == 0 ? json_loadb(buf, len, 0, NULL) : NULL;
	free(buf);
	return res;
}

int account_channel(const struct account *a, int (*fn)(void *arg, int fd), void *arg,
                    pid_t *pid)
{
	int p[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0)
		return -1;
	*pid = fork_as(a, p);
	if (*pid < 0)
		return -1;
	if (*pid == 0)
		_exit(fn(arg, p[1]) == 0 ? 0 : 1);
	return p[0];
}

void account_channel_end(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);   /* done with it, finished or not */
		reap_soon(pid);
	}
}
