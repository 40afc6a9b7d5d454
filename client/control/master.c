/*
 * master.c - the control master (control.h; docs/cli.md, "Connection
 * sharing"): one process per user and state directory, started by the
 * full client when ControlPersist asks for it, that hands each command a
 * `tether` front sends to one of its workers (worker.c): processes forked
 * from it that run commands one after another, as the full client would,
 * on the front's descriptors, directory, umask and environment, keeping
 * their connections open between them. The master relays the front's
 * signals and reports how the command ended. A worker that is free takes
 * the next command; one is forked when none is (at most
 * CTL_WORKERS_MAX at once); one free for CTL_WORKER_IDLE seconds is let
 * go, and so is one free for CTL_SURPLUS_IDLE while more than CTL_IDLE_MAX
 * are.
 *
 * The master only ever talks to processes of its own user (SO_PEERCRED;
 * its socket is 0600 in the 0700 state directory), holds a lock for its
 * lifetime so that one serves a directory, and leaves when it has been
 * idle for its persist time, when its executable was replaced (an
 * upgrade: it refuses new commands and ends after the running ones), or
 * on SIGTERM (the same, sooner).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "cmd.h"
#include "control.h"
#include "homedir.h"
#include "strparse.h"
#include "term.h"

#define CTL_WORKERS_MAX 256   /* commands at once; more run in their fronts */
#define CTL_IDLE_MAX    8     /* free workers kept at most: each holds a connection */
#define CTL_WORKER_IDLE 30    /* seconds a free worker is kept */
/* Seconds a free worker past CTL_IDLE_MAX is kept: long enough for the
 * next command of a client that runs one after another (a few ms later),
 * short enough that a burst's connections are soon given back. Let go at
 * once, each of 50 clients' commands in a row forked a worker and made a
 * connection: 839 forks for 1,000 commands (docs/performance.md). */
#define CTL_SURPLUS_IDLE 1.0
#define CTL_WORKER_USES 1000  /* commands a worker runs before it leaves */
#define CTL_READ_MS     2000  /* a request's bytes must all be there by then */

static bool in_worker;   /* this process runs the fronts' commands */

struct worker {
	pid_t pid;
	int   ctl;     /* its socket; -1 once it is gone or let go */
	int   front;   /* the front whose command it runs; -1: none */
	bool  busy;    /* a command runs, or the worker dies under one */
	struct timespec freed;   /* when its last command ended */
};

struct master {
	int            listen_fd, sig_fd, lock_fd;
	char           sock_path[PATH_MAX];
	struct stat    sock_st;   /* to remove only our own socket */
	char           self[PATH_MAX];
	struct worker  w[CTL_WORKERS_MAX];
	int            nw, nbusy;
	bool           draining;  /* not taking commands any more */
	long           persist;
	struct timespec idle_since;
};

static double since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* The executable this process runs; "" if it cannot be read. */
static void self_path(char *out, size_t sz)
{
	ssize_t n = readlink("/proc/self/exe", out, sz - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* Stop taking commands: the socket goes (if it is still ours). */
static void drain(struct master *ms)
{
	struct stat st;
	if (ms->draining)
		return;
	ms->draining = true;
	if (stat(ms->sock_path, &st) == 0 && st.st_ino == ms->sock_st.st_ino &&
	    st.st_dev == ms->sock_st.st_dev)
		unlink(ms->sock_path);
	close(ms->listen_fd);
	ms->listen_fd = -1;
}

static void reply(int sock, enum ctl_type type, int value)
{
	struct ctl_msg m = { .magic = CTL_MAGIC, .type = (uint32_t)type, .value = value };
	ctl_send(sock, &m, NULL, NULL, 0);
}

/* A worker of its own for a command: a free one, else a new one. NULL
 * when CTL_WORKERS_MAX run or fork fails. */
static struct worker *free_worker(struct master *ms)
{
	for (int i = 0; i < ms->nw; i++)
		if (!ms->w[i].busy && ms->w[i].ctl >= 0)
			return &ms->w[i];
	int sv[2];
	if (ms->nw == CTL_WORKERS_MAX ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return NULL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		in_worker = true;
		control_worker(sv[1], CTL_WORKER_USES);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return NULL;
	}
	ms->w[ms->nw] = (struct worker){ .pid = pid, .ctl = sv[0], .front = -1 };
	return &ms->w[ms->nw++];
}

/* Let a free worker go (it leaves when its socket closes). */
static void let_go(struct worker *w)
{
	close(w->ctl);
	w->ctl = -1;
}

/* Take one request from a front on sock; the socket is kept (its command
 * runs) or closed. */
static void take(struct master *ms, int sock)
{
	struct ucred cr;
	socklen_t crlen = sizeof cr;
	struct ctl_msg m;
	int fds[CTL_FDS], nfds = CTL_FDS;
	char *buf = NULL;
	struct timeval tv = { CTL_READ_MS / 1000, (CTL_READ_MS % 1000) * 1000 };
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 || cr.uid != getuid()) {
		close(sock);
		return;
	}
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (ctl_recv(sock, &m, fds, &nfds) != 0) {
		close(sock);
		return;
	}
	int why = 0;
	uint64_t nstr = 1 + (uint64_t)m.argc + m.envc;
	if (m.type != CTL_REQUEST || m.len == 0 || m.len > CTL_PAYLOAD_MAX || m.argc < 1 ||
	    nstr > CTL_STRINGS_MAX || m.ntty > 1 || nfds != 4 + (int)m.ntty)
		why = CTL_WHY_BAD;
	if (why == 0 && (buf = malloc(m.len)) == NULL)
		why = CTL_WHY_BUSY;
	if (why == 0 && (ctl_read_all(sock, buf, m.len) != 0 || buf[m.len - 1] != '\0'))
		why = CTL_WHY_BAD;
	/* exactly 1 + argc + envc strings: the worker relies on it */
	uint64_t k = 0;
	for (size_t off = 0; why == 0 && off < m.len; off += strlen(buf + off) + 1)
		k++;
	if (why == 0 && k != nstr)
		why = CTL_WHY_BAD;
	/* a front of another build, or this executable replaced: not ours to run */
	char self[PATH_MAX];
	self_path(self, sizeof self);
	if (why == 0 && (strcmp(self, ms->self) != 0 || strcmp(buf, ms->self) != 0))
		why = CTL_WHY_OTHER_CLIENT;
	struct worker *w = NULL;
	/* a worker that died while free fails the send: once more, with a new one */
	for (int tries = 0; why == 0 && tries < 2; tries++) {
		w = free_worker(ms);
		if (w == NULL)
			why = CTL_WHY_BUSY;
		else if (ctl_send(w->ctl, &m, buf, fds, nfds) == 0)
			break;
		else
			let_go(w);
		w = NULL;
	}
	if (why == 0 && w == NULL)
		why = CTL_WHY_BUSY;
	if (why != 0) {
		reply(sock, CTL_REFUSED, why);
		if (strcmp(self, ms->self) != 0)
			drain(ms);
	} else {
		reply(sock, CTL_ACCEPTED, (int)w->pid);
		w->busy = true;
		w->front = sock;
		ms->nbusy++;
		sock = -1;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	free(buf);
	if (sock >= 0)
		close(sock);
}

/* The command on w ended: tell its front (m: the worker's word, else
 * status from waitpid). */
static void ended(struct master *ms, struct worker *w, const struct ctl_msg *m, int status)
{
	if (w->front >= 0) {
		if (m != NULL)
			reply(w->front, CTL_EXITED, m->value);
		else if (WIFSIGNALED(status))
			reply(w->front, CTL_SIGNALED, WTERMSIG(status));
		else
			reply(w->front, CTL_EXITED, WEXITSTATUS(status));
		close(w->front);
		w->front = -1;
	}
	if (w->busy)
		ms->nbusy--;
	w->busy = false;
	clock_gettime(CLOCK_MONOTONIC, &w->freed);
	if (ms->nbusy == 0)
		clock_gettime(CLOCK_MONOTONIC, &ms->idle_since);
}

/* A worker's word: its command's end; or its socket's end (it died). */
static void from_worker(struct master *ms, struct worker *w)
{
	struct ctl_msg m;
	if (ctl_recv(w->ctl, &m, NULL, NULL) == 0 && m.type == CTL_EXITED && w->busy) {
		ended(ms, w, &m, 0);
		if (ms->draining)
			let_go(w);
		return;
	}
	let_go(w);   /* reaped, and its command's end told, on SIGCHLD */
}

/* A front's message: a signal to pass on, or its end (it was killed:
 * the command goes too, as it would have with it, and its worker). */
static void from_front(struct worker *w)
{
	struct ctl_msg m;
	if (ctl_recv(w->front, &m, NULL, NULL) == 0) {
		if (m.type == CTL_SIG && m.value > 0 && m.value < NSIG)
			kill(w->pid, m.value);
		return;
	}
	kill(w->pid, SIGKILL);
	close(w->front);
	w->front = -1;
}

/* Reap the workers that ended; a command that ended its worker ends. */
static void reap(struct master *ms)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < ms->nw; i++) {
			struct worker *w = &ms->w[i];
			if (w->pid != pid)
				continue;
			if (w->busy && w->ctl >= 0)
				from_worker(ms, w);   /* its last word may be waiting */
			if (w->busy)
				ended(ms, w, NULL, status);
			if (w->ctl >= 0)
				close(w->ctl);
			ms->w[i] = ms->w[--ms->nw];
			break;
		}
	}
}

/* Listen on the state directory's socket, holding its lock. 0, or -1 when
 * another master has it (or it cannot be made). */
static int open_socket(struct master *ms, const char *state)
{
	char lock[PATH_MAX];
	int w = snprintf(lock, sizeof lock, "%s/%s", state, CTL_LOCK);
	if (w < 0 || (size_t)w >= sizeof lock)
		return -1;
	w = snprintf(ms->sock_path, sizeof ms->sock_path, "%s/%s", state, CTL_SOCKET);
	if (w < 0 || (size_t)w >= sizeof ms->sock_path)
		return -1;
	ms->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (ms->lock_fd < 0 || flock(ms->lock_fd, LOCK_EX | LOCK_NB) != 0)
		return -1;
	char pidtext[32];
	int n = snprintf(pidtext, sizeof pidtext, "%ld\n", (long)getpid());
	if (ftruncate(ms->lock_fd, 0) != 0 || pwrite(ms->lock_fd, pidtext, (size_t)n, 0) != n)
		return -1;
	struct sockaddr_un sa;
	int dirfd;
	if (ctl_address(state, &sa, &dirfd) != 0)
		return -1;
	/* holding the lock, a socket left there is a dead master's */
	unlink(sa.sun_path);
	ms->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old = umask(0177);
	int rc = ms->listen_fd >= 0 && bind(ms->listen_fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	         stat(sa.sun_path, &ms->sock_st) == 0 && listen(ms->listen_fd, 128) == 0 ? 0 : -1;
	umask(old);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

/* Have OpenSSL fetch what a client connection uses (its ciphers, digests
 * and key exchanges, cached in its default library context), so that
 * every worker finds them fetched. */
static void warm_tls(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return;
	SSL *ssl = SSL_new(ctx);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

/* See control.h. */
int control_master(const char *persist)
{
	struct master *ms = calloc(1, sizeof *ms);
	char config[PATH_MAX], state[PATH_MAX];
	int64_t secs;
	if (ms == NULL || strparse_i64(persist, 1, 86400, &secs) != 0 ||
	    homedir_paths(config, state, sizeof state) != 0) {
		free(ms);
		return EXIT_USAGE;
	}
	ms->persist = (long)secs;
	ms->listen_fd = ms->lock_fd = -1;
	self_path(ms->self, sizeof ms->self);
	if (ms->self[0] == '\0' || open_socket(ms, state) != 0) {
		free(ms);   /* another master serves this directory */
		return 0;
	}
	unsetenv("LD_BIND_NOW");
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ms->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ms->sig_fd < 0) {
		drain(ms);
		free(ms);
		return EXIT_TETHER;
	}
	/* what every command would set up first, done once here */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	OPENSSL_init_ssl(0, NULL);
	warm_tls();
	clock_gettime(CLOCK_MONOTONIC, &ms->idle_since);
	while (!(ms->draining && ms->nbusy == 0)) {
		/* wake for the persist time's end, and for the next free worker
		 * to let go */
		double left = ms->nbusy == 0 ? (double)ms->persist - since(&ms->idle_since) : -1;
		if (ms->nbusy == 0 && left <= 0)
			break;
		int nfree = 0;
		for (int i = 0; i < ms->nw; i++)
			nfree += !ms->w[i].busy && ms->w[i].ctl >= 0;
		for (int i = 0; i < ms->nw; i++) {
			struct worker *w = &ms->w[i];
			if (w->busy || w->ctl < 0)
				continue;
			double wl = (nfree > CTL_IDLE_MAX ? CTL_SURPLUS_IDLE : CTL_WORKER_IDLE) -
			            since(&w->freed);
			if (wl <= 0) {
				let_go(w);
				nfree--;
			} else if (left < 0 || wl < left) {
				left = wl;
			}
		}
		int timeout = left < 0 ? -1 : (int)(left * 1000) + 1;
		struct pollfd p[2 + 2 * CTL_WORKERS_MAX];
		struct { pid_t pid; bool front; } who[2 + 2 * CTL_WORKERS_MAX];
		int np = 0;
		p[np++] = (struct pollfd){ ms->sig_fd, POLLIN, 0 };
		p[np++] = (struct pollfd){ ms->listen_fd, POLLIN, 0 };   /* -1 once draining */
		for (int i = 0; i < ms->nw; i++) {
			struct worker *w = &ms->w[i];
			if (w->ctl >= 0) {
				who[np].pid = w->pid, who[np].front = false;
				p[np++] = (struct pollfd){ w->ctl, POLLIN, 0 };
			}
			if (w->front >= 0) {
				who[np].pid = w->pid, who[np].front = true;
				p[np++] = (struct pollfd){ w->front, POLLIN, 0 };
			}
		}
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(ms->sig_fd, &si, sizeof si) == sizeof si)
				if (si.ssi_signo != SIGCHLD)
					drain(ms);
			reap(ms);
		}
		/* the workers' words and the fronts', in the order polled (a
		 * worker reaped above is no longer found) */
		for (int i = 2; i < np; i++) {
			if (p[i].revents == 0)
				continue;
			for (int j = 0; j < ms->nw; j++) {
				struct worker *w = &ms->w[j];
				if (w->pid != who[i].pid)
					continue;
				if (who[i].front && w->front == p[i].fd)
					from_front(w);
				else if (!who[i].front && w->ctl == p[i].fd)
					from_worker(ms, w);
				break;
			}
		}
		if (ms->listen_fd >= 0 && (p[1].revents & POLLIN)) {
			int s;
			while (!ms->draining && (s = accept4(ms->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
				take(ms, s);
		}
	}
	/* the free workers leave as their sockets close */
	for (int i = 0; i < ms->nw; i++)
		if (ms->w[i].ctl >= 0)
			let_go(&ms->w[i]);
	drain(ms);
	close(ms->sig_fd);
	close(ms->lock_fd);
	free(ms);
	return 0;
}

/* See control.h. */
void control_spawn(long persist)
{
	char config[PATH_MAX], state[PATH_MAX], arg[32];
	if (persist <= 0 || in_worker || homedir_paths(config, state, sizeof state) != 0 ||
	    ctl_answers(state))
		return;
	snprintf(arg, sizeof arg, "%ld", persist);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		/* a session of its own, and not this command's child */
		if (setsid() < 0 || fork() != 0)
			_exit(0);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0)
			_exit(0);
		for (int i = 0; i < 3; i++)
			dup2(null, i);
		close_range(3, ~0U, 0);
		setenv("LD_BIND_NOW", "1", 1);
		char *argv[] = { "tether", "__control", arg, NULL };
		execv("/proc/self/exe", argv);
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}
