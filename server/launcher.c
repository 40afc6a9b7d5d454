/*
 * launcher.c - starting detached workers without an exec each (see launcher.h).
 *
 * A worker's identity is its command line: tetherd recognises a live
 * supervisor by "tetherd\0__shim\0JOBDIR" in /proc/PID/cmdline (jobs.c,
 * shim_alive), and so do people reading ps. A forked worker would show its
 * parent's command line, so the launcher is exec'd with a blank argument
 * long enough for any worker's "tetherd VERB DIR", and each worker writes
 * its own command line over that space before it starts (the kernel reports
 * the argument area as it is in memory). A worker whose line does not fit,
 * or whose verb has no function here, is exec'd as before.
 *
 * Protocol (one SOCK_SEQPACKET message each way, so no framing): tetherd
 * sends "spawn VERB DIR" (DIR is the rest of the message and may hold
 * spaces), with at most one descriptor attached (SCM_RIGHTS) that the
 * worker gets as LAUNCHER_WORKER_FD (a supervisor's spec, shim.h); the
 * launcher answers "ok PID" once the worker exists, or "error REASON". One
 * request at a time: tetherd's threads take a mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "launcher.h"
#include "log.h"
#include "shim.h"
#include "xfer-worker.h"

#define LAUNCHER_FD 3                            /* the launcher's end of the socket */
#define MSG_MAX     (BOUND_PATH + 64)            /* "spawn VERB DIR" */
#define REPLY_MAX   256
#define REPLY_MS    10000                        /* a fork or two, even on a busy host */
#define TITLE_MAX   (sizeof "tetherd" + 32 + BOUND_PATH)   /* room for "tetherd VERB DIR" */

/* The workers that run in a forked launcher child. A verb missing here but
 * known to main() still works: it is exec'd. */
static const struct {
	const char *verb;
	launcher_fn fn;
} workers[] = {
	{ "__shim", shim_main },
	{ "__transfer", xfer_worker_main },
};

launcher_fn launcher_find(const char *verb)
{
	for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++)
		if (strcmp(verb, workers[i].verb) == 0)
			return workers[i].fn;
	return NULL;
}

/* -- in tetherd ----------------------------------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int   sock = -1;   /* tetherd's end; -1 while there is no launcher */
static pid_t child = -1;

int launcher_start(void)
{
	static char pad[TITLE_MAX];
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	memset(pad, ' ', sizeof pad - 1);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* a daemon killed outright takes its launcher along (the setting
		 * survives the exec below; fork clears it for the workers) */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		if (sv[1] == LAUNCHER_FD ? fcntl(sv[1], F_SETFD, 0) != 0
		                         : dup2(sv[1], LAUNCHER_FD) != LAUNCHER_FD)
			_exit(127);
		/* exec keeps the mask and ignored signals: start from defaults */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* resolve every symbol once, here, rather than lazily in each
		 * worker (the launcher never calls most of what they do) */
		setenv("LD_BIND_NOW", "1", 1);
		char *argv[] = { "tetherd", LAUNCHER_VERB, pad, NULL };
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(sv[1]);
	sock = sv[0];
	child = pid;
	struct logline l;
	log_begin(&l, LOG_DEBUG, "launcher_started");
	log_int(&l, "pid", pid);
	log_end(&l);
	return 0;
}

/* Give up on the launcher (lock held): it is gone, or no longer answers. */
static void lost(const char *why)
{
	close(sock);
	sock = -1;
	kill(child, SIGKILL);   /* harmless if it has exited already */
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	child = -1;
	log_msg(LOG_WARN, "launcher_lost", "reason", why);
}

/* Wait (bounded) for the launcher's answer; its length, 0 at end of file,
 * or -1 (errno ETIMEDOUT if it never came). */
static ssize_t read_reply(char *buf, size_t bufsz)
{
	struct pollfd p = { sock, POLLIN, 0 };
	int r;
	while ((r = poll(&p, 1, REPLY_MS)) < 0 && errno == EINTR)
		;
	if (r == 0)
		errno = ETIMEDOUT;
	if (r <= 0)
		return -1;
	ssize_t n;
	while ((n = recv(sock, buf, bufsz - 1, 0)) < 0 && errno == EINTR)
		;
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Send one request, with fd attached unless it is -1. */
static bool send_request(const char *msg, size_t len, int fd)
{
	struct iovec iov = { (void *)msg, len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&ctl, 0, sizeof ctl);
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	ssize_t n;
	while ((n = sendmsg(sock, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n == (ssize_t)len;
}

int launcher_spawn(const char *verb, const char *dir, int fd, pid_t *pid)
{
	char msg[MSG_MAX], reply[REPLY_MAX];
	int n = snprintf(msg, sizeof msg, "spawn %s %s", verb, dir);
	if (n < 0 || (size_t)n >= sizeof msg || strchr(verb, ' ') != NULL)
		return 1;   /* not expressible: the caller's own way has no such limit */
	int rc = 1;
	*pid = 0;
	pthread_mutex_lock(&lock);
	if (sock >= 0) {
		ssize_t got = -1;
		if (send_request(msg, (size_t)n, fd))
			got = read_reply(reply, sizeof reply);
		if (got > 0) {
			rc = strncmp(reply, "ok", 2) == 0 ? 0 : -1;
			if (rc == 0 && reply[2] == ' ')
				*pid = (pid_t)strtol(reply + 3, NULL, 10);
		} else   /* the worker may or may not have started: shim_main takes
		        * a lock on the job, so starting it again is harmless */
			lost(got == 0 ? "closed" : strerror(errno));
	}
	pthread_mutex_unlock(&lock);
	if (rc < 0) {
		struct logline l;
		log_begin(&l, LOG_WARN, "launcher_failed");
		log_str(&l, "verb", verb);
		log_str(&l, "reply", reply);
		log_end(&l);
	}
	return rc;
}

int launcher_pid(void)
{
	pthread_mutex_lock(&lock);
	int pid = sock >= 0 ? (int)child : -1;
	pthread_mutex_unlock(&lock);
	return pid;
}

void launcher_stop(void)
{
	pthread_mutex_lock(&lock);
	if (sock >= 0) {
		close(sock);   /* end of file: the launcher exits */
		sock = -1;
		bool reaped = false;
		for (int i = 0; i < 200 && !reaped; i++) {
			reaped = waitpid(child, NULL, WNOHANG) == child;
			struct timespec ts = { 0, 5 * 1000 * 1000 };
			if (!reaped)
				nanosleep(&ts, NULL);
		}
		if (!reaped) {   /* stuck: never hold up shutdown for it */
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
		}
		child = -1;
	}
	pthread_mutex_unlock(&lock);
}

/* -- in the launcher ------------------------------------------------------------ */

static char  *title;       /* the argument area, where ps finds the command line */
static size_t title_len;
static char   exe[BOUND_PATH] = "/proc/self/exe";   /* for exec'd workers */

/* Find the argument area: the strings exec put end to end. */
static void title_init(int argc, char **argv)
{
	char *end = argv[0];
	for (int i = 0; i < argc; i++) {
		if (argv[i] != end)
			return;   /* not one contiguous area: leave it alone */
		end += strlen(argv[i]) + 1;
	}
	title = argv[0];
	title_len = (size_t)(end - argv[0]);
}

/* Make this process's command line "tetherd VERB DIR"; false if it does not
 * fit. The area ends with a NUL, so the kernel reports all of it, as the
 * separate arguments written here. */
static bool title_set(const char *verb, const char *dir)
{
	size_t n = sizeof "tetherd", v = strlen(verb) + 1, d = strlen(dir) + 1;
	if (title == NULL || n + v + d > title_len)
		return false;
	memset(title, 0, title_len);
	memcpy(title, "tetherd", n);
	memcpy(title + n, verb, v);
	memcpy(title + n + v, dir, d);
	return true;
}

/* The end of a forked worker. What exit() would add is the libraries'
 * destructors (the TLS and crypto libraries tearing down state a worker
 * never used), a visible share of a short job's CPU; a worker's files are
 * written with write(2), and stdio is flushed here. A sanitizer build keeps
 * exit(), whose hooks check for leaks. */
__attribute__((noreturn)) static void worker_exit(int rc)
{
#if defined(__SANITIZE_ADDRESS__)
	exit(rc);
#else
	fflush(NULL);
	_exit(rc);
#endif
}

/* In the forked child: become "tetherd VERB DIR", with fd (if not -1) as
 * LAUNCHER_WORKER_FD. Never returns. */
__attribute__((noreturn)) static void worker(const char *verb, const char *dir, int fd)
{
	int null = open("/dev/null", O_RDWR);
	for (int i = 0; i < 3; i++)
		dup2(null, i);
	if (null > 2)
		close(null);
	/* the only other descriptors the launcher has: its socket, and the
	 * one that came with the request (dup2 clears close-on-exec, for a
	 * worker that is exec'd) */
	close(LAUNCHER_FD);
	if (fd >= 0 && (dup2(fd, LAUNCHER_WORKER_FD) != LAUNCHER_WORKER_FD ||
	                (fd != LAUNCHER_WORKER_FD && close(fd) != 0)))
		_exit(127);
	/* what an exec would have given it: default dispositions, nothing
	 * blocked; the worker sets what it needs itself */
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	launcher_fn fn = launcher_find(verb);
	if (fn != NULL && title_set(verb, dir))
		worker_exit(fn(dir));
	char *argv[] = { "tetherd", (char *)verb, (char *)dir, NULL };
	execv(exe, argv);
	execv("/proc/self/exe", argv);   /* the file was replaced or removed */
	_exit(127);
}

/* Start "tetherd VERB DIR" detached: in a session of its own, so that no
 * terminal's or group's signal reaches it. One fork: the worker is our
 * child while we live (SIGCHLD is ignored, so the kernel reaps it: no
 * zombie is left for tetherd to mistake for a live worker), and init's
 * once we are gone; nothing else ties it to us. Its pid, or -1 with
 * errno. */
static pid_t spawn(const char *verb, const char *dir, int fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		worker(verb, dir, fd);
	}
	return pid;
}

/* Serve one request (NUL-terminated, len bytes, fd attached or -1) into
 * reply. */
static void handle(char *req, size_t len, int fd, char *reply, size_t replysz)
{
	char *verb = req + 6, *sp;
	if (strlen(req) != len || strncmp(req, "spawn ", 6) != 0 ||
	    (sp = strchr(verb, ' ')) == NULL || sp == verb || sp[1] != '/') {
		snprintf(reply, replysz, "error bad request");
		return;
	}
	*sp = '\0';
	pid_t pid = spawn(verb, sp + 1, fd);
	if (pid < 0)
		snprintf(reply, replysz, "error %s", strerror(errno));
	else
		snprintf(reply, replysz, "ok %d", (int)pid);
}

/* Receive one request into req (its full length returned, as MSG_TRUNC
 * does), and the descriptor that came with it into *fd: -1 if none, -2 if
 * more than one or the control data was cut (any that came are closed). */
static ssize_t recv_request(char *req, size_t reqsz, int *fd)
{
	struct iovec iov = { req, reqsz };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	                    .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
	ssize_t n = recvmsg(LAUNCHER_FD, &m, MSG_TRUNC | MSG_CMSG_CLOEXEC);
	*fd = -1;
	if (n < 0)
		return n;
	int count = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
			if (count++ == 0)
				*fd = got;
			else
				close(got);
		}
	}
	if (count > 1 || (m.msg_flags & MSG_CTRUNC)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -2;
	}
	return n;
}

int launcher_main(int argc, char **argv)
{
	title_init(argc, argv);
	/* named like the daemon in ps and top (exec'd as /proc/self/exe, the
	 * kernel named us "exe"); workers inherit the name */
	prctl(PR_SET_NAME, "tetherd");
	char path[BOUND_PATH];
	ssize_t len = readlink("/proc/self/exe", path, sizeof path - 1);
	if (len > 0) {
		path[len] = '\0';
		memcpy(exe, path, (size_t)len + 1);
	}
	unsetenv("LD_BIND_NOW");   /* done its work; not for exec'd workers */
	/* nothing of the daemon's but the socket, and stderr (the daemon's log,
	 * where a sanitizer would report) */
	int null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) != 0 || dup2(null, 1) != 1)
		return 1;
	if (close_range(LAUNCHER_FD + 1, ~0u, 0) != 0)   /* kernels before 5.9 */
		for (int fd = LAUNCHER_FD + 1; fd < 1024; fd++)
			close(fd);
	/* only the daemon ends the launcher: a terminal's or a group's signals
	 * leave it to serve the daemon's last requests */
	static const int ignored[] = { SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGTSTP,
	                               SIGTTIN, SIGTTOU };
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		signal(ignored[i], SIG_IGN);
	signal(SIGCHLD, SIG_IGN);   /* the workers are reaped as they end (spawn) */
	for (;;) {
		char req[MSG_MAX + 1], reply[REPLY_MAX];
		int fd = -1;
		ssize_t n = recv_request(req, sizeof req, &fd);
		if (n == 0)
			return 0;   /* tetherd is gone */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		if ((size_t)n >= sizeof req) {
			snprintf(reply, sizeof reply, "error request too long");
		} else if (fd == -2) {
			snprintf(reply, sizeof reply, "error bad descriptors");
		} else {
			req[n] = '\0';
			handle(req, (size_t)n, fd, reply, sizeof reply);
		}
		if (fd >= 0)
			close(fd);   /* the worker has its own */
		if (send(LAUNCHER_FD, reply, strlen(reply), MSG_NOSIGNAL) < 0)
			return 1;
	}
}
