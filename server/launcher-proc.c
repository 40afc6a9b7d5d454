/*
 * launcher-proc.c - the launcher process: reads "spawn ID VERB DIR"
 * requests from tetherd, forks a detached worker for each and answers with
 * its pid (the protocol and why: launcher.c, launcher.h). It is built into
 * tetherd ("tetherd __launcher", the fallback) and into the small
 * tetherd-launcher (launcher-bin.c), whose forked supervisors map libc and
 * jansson only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bounds.h"
#include "fdpass.h"
#include "launcher.h"

#define MSG_MAX     LAUNCHER_MSG_MAX
#define REPLY_MAX   LAUNCHER_REPLY_MAX

static char  *title;       /* the argument area, where ps finds the command line */
static size_t title_len;
static char   exe[BOUND_PATH] = "/proc/self/exe";   /* tetherd, for exec'd workers */

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
	execv("/proc/self/exe", argv);   /* tetherd's file was replaced or removed
	                                  * (in tetherd-launcher, which runs only
	                                  * the supervisor, this fails) */
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
	/* tetherd's path, for workers exec'd (launcher.h) */
	if (argc >= 5 && argv[2][0] == '/' && strlen(argv[2]) < sizeof exe)
		memcpy(exe, argv[2], strlen(argv[2]) + 1);
	title_init(argc, argv);
	/* named like the daemon in ps and top (the kernel named us after the
	 * file exec'd); workers inherit the name */
	prctl(PR_SET_NAME, "tetherd");
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
