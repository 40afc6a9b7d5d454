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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "fdpass.h"
#include "helper.h"
#include "launcher.h"
#include "log.h"

#define MSG_MAX     LAUNCHER_MSG_MAX
#define REPLY_MAX   LAUNCHER_REPLY_MAX
#define REPLY_MS    10000                        /* a fork or two, even on a busy host */
#define TITLE_MAX   (sizeof "tetherd" + 32 + BOUND_PATH)   /* room for "tetherd VERB DIR" */

/* -- in tetherd ----------------------------------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int   sock = -1;   /* tetherd's end; -1 while there is no launcher */
static pid_t child = -1;

/* Whether st (of a path's component) is as safe as tetherd's own file:
 * owned by root or by us, and writable by no one else, unless it is a
 * sticky directory (such as /tmp: others cannot rename what is ours in
 * it). */
static bool trusted(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return false;
	return (st->st_mode & (S_IWGRP | S_IWOTH)) == 0 ||
	       (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) != 0);
}

/* Open the small launcher at path to exec it (fexecve: what was checked is
 * what runs), if it and its directory are trusted; else -1, and a program
 * that is there but not trusted is logged, not run. (The directories
 * above are tetherd's own when it is beside tetherd: whoever could change
 * those could change tetherd.) */
static int open_small(const char *path)
{
	struct stat st;
	char dir[BOUND_PATH];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		return -1;
	slash[slash == dir] = '\0';   /* its directory ("/" for "/x") */
	const char *name = path + (slash - dir) + 1;
	/* the directory first, held open so the file is looked up in what was
	 * checked, and never blocking: what others may have put in a
	 * directory they can write (a FIFO) is not opened at all */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	bool dir_ok = fstat(dfd, &st) == 0 && trusted(&st);
	int fd = dir_ok ? openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -1;
	bool there = fd >= 0 || (!dir_ok && faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0);
	close(dfd);
	if (!there)
		return -1;   /* none there */
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !trusted(&st)) {
		if (fd >= 0)
			close(fd);
		log_msg(LOG_WARN, "launcher_untrusted", "path", path);
		return -1;
	}
	return fd;
}

int launcher_start(void)
{
	static char pad[TITLE_MAX];
	/* tetherd's own path, for the workers a small launcher execs */
	char self[BOUND_PATH] = "/proc/self/exe", small[BOUND_PATH];
	int smallfd = -1;
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len > 0 && self[0] == '/') {
		self[len] = '\0';
		if (helper_path(LAUNCHER_PROGRAM, TETHER_LIBEXECDIR "/" LAUNCHER_PROGRAM, small,
		                sizeof small) == 0)
			smallfd = open_small(small);
	} else {
		snprintf(self, sizeof self, "/proc/self/exe");
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		if (smallfd >= 0)
			close(smallfd);
		return -1;
	}
	memset(pad, ' ', sizeof pad - 1);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		if (smallfd >= 0)
			close(smallfd);
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
		char *argv[] = { "tetherd", LAUNCHER_VERB, self, LAUNCHER_STAMP, pad, NULL };
		if (smallfd >= 0)
			fexecve(smallfd, argv, environ);
		execv("/proc/self/exe", argv);   /* none: tetherd is its own launcher */
		_exit(127);
	}
	if (smallfd >= 0)
		close(smallfd);
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
