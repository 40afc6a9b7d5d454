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
 * sends "spawn ID VERB DIR" (DIR is the rest of the message and may hold
 * spaces), with at most one descriptor attached (SCM_RIGHTS) that the
 * worker gets as LAUNCHER_WORKER_FD (a supervisor's spec, shim.h); the
 * launcher answers "ID ok PID" once the worker exists, or "ID error
 * REASON". Many requests may be in flight (see waiters below); the
 * launcher serves them in order.
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
#include "fdpass.h"
#include "launcher.h"
#include "log.h"
#include "shim.h"
#include "xfer-worker.h"

#define LAUNCHER_FD 3                            /* the launcher's end of the socket */
#define MSG_MAX     (BOUND_PATH + 64)            /* "spawn ID VERB DIR" */
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

/* Requests are pipelined: each carries an id, the launcher answers them in
 * order with the id first, and many may be in flight. A spawn used to hold
 * a mutex for its whole round trip, so under load every one waited for the
 * launcher to be scheduled, fork, and the answer to be read, once per
 * request in turn (50 concurrent invokes: a median of 24 ms and a p99 of
 * 97 ms in that queue, docs/performance.md). Now a thread sends its request
 * and waits; whichever waiting thread finds no one reading becomes the
 * reader and hands each answer to its owner (waiters, below), so the
 * launcher drains its queue in one go. */
struct waiter {
	uint64_t       id;
	bool           done;
	bool           answered;   /* false: the launcher was lost first */
	char           reply[REPLY_MAX];
	pthread_cond_t wake;       /* done, or its turn to read */
	struct waiter *next;
};
static pthread_cond_t  unread = PTHREAD_COND_INITIALIZER;   /* reading ended */
static struct waiter  *waiters;    /* requests in flight, newest first */
static uint64_t        next_id = 1;
static bool            reading;    /* a thread is reading answers (unlocked) */
static int             shut = -1;  /* the socket given up while being read */

/* Give up on the launcher (lock held): it is gone, or no longer answers.
 * Every request in flight is ended unanswered: its caller starts the worker
 * itself (a worker started twice sees the other's lock, shim.c). */
static void lost(const char *why)
{
	/* a reader still in poll or recv on it: it wakes to end of file and
	 * closes it then (read_one); closed now, its number could be another
	 * file's by the time that reader looks again */
	if (reading) {
		shutdown(sock, SHUT_RDWR);
		shut = sock;
	} else {
		close(sock);
	}
	sock = -1;
	kill(child, SIGKILL);   /* harmless if it has exited already */
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	child = -1;
	for (struct waiter *w = waiters; w != NULL; w = w->next) {
		w->done = true;
		pthread_cond_signal(&w->wake);
	}
	log_msg(LOG_WARN, "launcher_lost", "reason", why);
}

/* Wait (bounded) for the launcher's next answer on fd, unlocked; its
 * length, 0 at end of file, or -1 (errno ETIMEDOUT if none came). */
static ssize_t read_reply(int fd, char *buf, size_t bufsz)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int r;
	while ((r = poll(&p, 1, REPLY_MS)) < 0 && errno == EINTR)
		;
	if (r == 0)
		errno = ETIMEDOUT;
	if (r <= 0)
		return -1;
	ssize_t n;
	while ((n = recv(fd, buf, bufsz - 1, 0)) < 0 && errno == EINTR)
		;
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Read one answer and give it to its waiter (called with the lock held,
 * which is let go while reading). */
static void read_one(void)
{
	char buf[REPLY_MAX];
	int fd = sock;
	reading = true;
	pthread_mutex_unlock(&lock);
	ssize_t got = read_reply(fd, buf, sizeof buf);
	int saved = errno;
	pthread_mutex_lock(&lock);
	reading = false;
	if (shut == fd) {   /* given up meanwhile (lost) */
		close(fd);
		shut = -1;
	}
	char *rest = NULL;
	uint64_t id = got > 0 ? strtoull(buf, &rest, 10) : 0;
	if (got <= 0) {
		if (sock == fd)   /* not already given up on meanwhile */
			lost(got == 0 ? "closed" : strerror(saved));
	} else if (id > 0 && rest != NULL && *rest == ' ') {
		/* answers come in the order of the requests: one still waiting
		 * for an earlier id will have none, and is ended unanswered */
		for (struct waiter *w = waiters; w != NULL; w = w->next)
			if (w->id <= id && !w->done) {
				if (w->id == id) {
					snprintf(w->reply, sizeof w->reply, "%s", rest + 1);
					w->answered = true;
				}
				w->done = true;
				pthread_cond_signal(&w->wake);
			}
	}
	pthread_cond_broadcast(&unread);
}

/* The reader has stopped (lock held): one other waiter takes over (each is
 * woken alone: with fifty in flight, waking all for every answer cost more
 * than the answers). */
static void pass_reading(void)
{
	for (struct waiter *w = waiters; w != NULL; w = w->next)
		if (!w->done) {
			pthread_cond_signal(&w->wake);
			return;
		}
}

/* Send one request, with fd attached unless it is -1 (lock held). */
static bool send_request(const char *msg, size_t len, int fd)
{
	struct iovec iov = { (void *)msg, len };
	return fdpass_send(sock, &iov, 1, &fd, fd >= 0 ? 1 : 0) == (ssize_t)len;
}

int launcher_spawn(const char *verb, const char *dir, int fd, pid_t *pid)
{
	char msg[MSG_MAX];
	*pid = 0;
	if (strchr(verb, ' ') != NULL || strlen(verb) + strlen(dir) + 48 > sizeof msg)
		return 1;   /* not expressible: the caller's own way has no such limit */
	struct waiter w = { 0 };
	pthread_mutex_lock(&lock);
	if (sock < 0) {
		pthread_mutex_unlock(&lock);
		return 1;
	}
	w.id = next_id++;
	int n = snprintf(msg, sizeof msg, "spawn %llu %s %s", (unsigned long long)w.id, verb, dir);
	if (!send_request(msg, (size_t)n, fd)) {
		/* the worker may or may not have started: shim_main takes a lock
		 * on the job, so starting it again is harmless */
		lost(strerror(errno));
		pthread_mutex_unlock(&lock);
		return 1;
	}
	pthread_cond_init(&w.wake, NULL);
	w.next = waiters;
	waiters = &w;
	bool was_reader = false;
	while (!w.done) {
		if (!reading && sock >= 0) {
			was_reader = true;
			read_one();
		} else {
			pthread_cond_wait(&w.wake, &lock);
		}
	}
	for (struct waiter **p = &waiters; *p != NULL; p = &(*p)->next)
		if (*p == &w) {
			*p = w.next;
			break;
		}
	if (was_reader)
		pass_reading();
	pthread_mutex_unlock(&lock);
	pthread_cond_destroy(&w.wake);
	if (!w.answered)
		return 1;
	if (strncmp(w.reply, "ok", 2) != 0) {
		struct logline l;
		log_begin(&l, LOG_WARN, "launcher_failed");
		log_str(&l, "verb", verb);
		log_str(&l, "reply", w.reply);
		log_end(&l);
		return -1;
	}
	if (w.reply[2] == ' ')
		*pid = (pid_t)strtol(w.reply + 3, NULL, 10);
	return 0;
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
	if (sock >= 0 && reading) {
		/* a request still in flight: its reader wakes to end of file and
		 * gives the launcher up (the request's caller starts it itself) */
		shutdown(sock, SHUT_RDWR);
		while (reading)
			pthread_cond_wait(&unread, &lock);
	}
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

/* Serve one request, "spawn ID VERB DIR" (NUL-terminated, len bytes, fd
 * attached or -1), into reply: "ID ok PID" or "ID error REASON". bad, if
 * set, is why the request is refused whatever it says; the answer still
 * carries its id when one can be read (0 if not). */
static void handle(char *req, size_t len, int fd, const char *bad, char *reply,
                   size_t replysz)
{
	char *p = req + 6, *verb = NULL, *sp = NULL;
	unsigned long long id = 0;
	if (strncmp(req, "spawn ", 6) == 0 && *p >= '1' && *p <= '9') {
		id = strtoull(p, &verb, 10);
		if (*verb == ' ')
			sp = strchr(++verb, ' ');
		else
			id = 0;
	}
	if (bad == NULL && (strlen(req) != len || id == 0 || sp == NULL || sp == verb ||
	                    sp[1] != '/'))
		bad = "bad request";
	if (bad != NULL) {
		snprintf(reply, replysz, "%llu error %s", id, bad);
		return;
	}
	*sp = '\0';
	pid_t pid = spawn(verb, sp + 1, fd);
	if (pid < 0)
		snprintf(reply, replysz, "%llu error %s", id, strerror(errno));
	else
		snprintf(reply, replysz, "%llu ok %d", id, (int)pid);
}

/* Receive one request into req (its full length returned, as MSG_TRUNC
 * does), and the descriptor that came with it into *fd: -1 if none, -2 if
 * more than one or the control data was cut (any that came are closed). */
static ssize_t recv_request(char *req, size_t reqsz, int *fd)
{
	int n = 1;
	ssize_t r = fdpass_recv(LAUNCHER_FD, req, reqsz, MSG_TRUNC, fd, &n);
	if (n > 1)
		close(*fd);
	if (r < 0 || n == 0)
		*fd = -1;
	else if (n != 1)
		*fd = -2;
	return r;
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
		if (n < 0)
			return 1;   /* EINTR is retried by fdpass_recv */
		bool whole = (size_t)n < sizeof req;
		req[whole ? (size_t)n : sizeof req - 1] = '\0';
		handle(req, whole ? (size_t)n : sizeof req - 1, fd,
		       !whole ? "request too long" : fd == -2 ? "bad descriptors" : NULL,
		       reply, sizeof reply);
		if (fd >= 0)
			close(fd);   /* the worker has its own */
		if (send(LAUNCHER_FD, reply, strlen(reply), MSG_NOSIGNAL) < 0)
			return 1;
	}
}
