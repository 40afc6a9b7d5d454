/*
 * worker.c - a control master's worker (docs/cli.md, "Connection
 * sharing"): a process forked from the master that runs the fronts'
 * commands one after another, each as the full client would run it, and
 * keeps its connections to the servers open between them, so that a
 * command after the first pays neither a process's start nor a TLS
 * handshake.
 *
 * The master sends a command (control.h's request: argv, environment,
 * umask, with the front's standard descriptors, directory and terminal
 * attached) over the worker's socket; the worker takes them on, runs
 * cli_main, gives them back (its descriptors 0-2 go to /dev/null, so that
 * a pipe to the front's reader ends), and answers EXITED. A command that
 * ends the process (a signal, exit) ends the worker: the master reports
 * that as the command's end and forks another. Between commands every
 * signal is blocked and its disposition reset, so that nothing of one
 * command reaches the next; after WORKER_USES commands the worker leaves.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client-int.h"
#include "cmd.h"
#include "control.h"
#include "term.h"

#define WORKER_CTL  3   /* the worker's socket to the master */
#define WORKER_TTY  4   /* the front's terminal, while a command runs */

extern char **environ;

/* Block every signal, or let them all through. */
static void mask_all(int how)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(how, &all, NULL);
}

/* Forget what the last command did with signals: pending ones dropped,
 * dispositions back to the defaults of a new process. */
static void fresh_signals(void)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_IGN;
	sigemptyset(&dfl.sa_mask);
	for (int s = 1; s < NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		sigaction(s, &dfl, NULL);   /* ignoring a signal discards it if pending */
	}
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
}

/* Take on the front's descriptors, directory, terminal, umask and
 * environment. 0, or -1. */
static int take_on(const struct ctl_msg *m, char **strings, const int *fds)
{
	fflush(NULL);
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			return -1;
	if (fchdir(fds[3]) != 0)
		return -1;
	if (m->ntty) {
		if (dup2(fds[4], WORKER_TTY) < 0)
			return -1;
		term_use(WORKER_TTY);
	}
	/* stdio decides a stream's buffering at its first use: start afresh */
	stdin = fdopen(0, "r");
	stdout = fdopen(1, "w");
	stderr = fdopen(2, "w");
	if (stdin == NULL || stdout == NULL || stderr == NULL)
		return -1;
	setvbuf(stderr, NULL, _IONBF, 0);
	umask((mode_t)m->umask);
	environ = strings + 2 + m->argc;   /* past argv and its NULL */
	return 0;
}

/* Give the front's descriptors back: nothing of the command stays open
 * on them, and the directory is let go. */
static void give_back(void)
{
	fflush(NULL);
	fclose(stdin);
	fclose(stdout);
	fclose(stderr);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3; i++)
		dup2(null, i);
	dup2(null, WORKER_TTY);   /* held, so no descriptor received lands on it */
	if (null > WORKER_TTY)
		close(null);
	term_use(-1);
	if (chdir("/") != 0) {
		/* only a reference to the front's directory is lost */
	}
}

/* Receive one command: 0 with its strings and descriptors, 1 when the
 * master has gone (or sends nonsense). */
static int receive(struct ctl_msg *m, char **buf, char ***strings, int *fds)
{
	int nfds = CTL_FDS;
	if (ctl_recv(WORKER_CTL, m, fds, &nfds) != 0)
		return 1;
	uint32_t nstr = 1 + m->argc + m->envc;
	*buf = malloc(m->len);
	*strings = calloc(nstr + 2, sizeof **strings);
	if (m->type != CTL_REQUEST || nfds != 4 + (int)m->ntty || *buf == NULL ||
	    *strings == NULL || ctl_read_all(WORKER_CTL, *buf, m->len) != 0)
		return 1;
	/* the master checked the strings; argv ends with a NULL of its own */
	size_t off = 0;
	for (uint32_t k = 0, slot = 0; k < nstr; k++) {
		(*strings)[slot++] = *buf + off;
		off += strlen(*buf + off) + 1;
		if (k == m->argc)   /* after argv: its NULL, then the environment */
			(*strings)[slot++] = NULL;
	}
	return 0;
}

/* See control.h. */
void control_worker(int ctl, int uses)
{
	if (dup2(ctl, WORKER_CTL) < 0)
		_exit(EXIT_TETHER);
	fcntl(WORKER_CTL, F_SETFD, FD_CLOEXEC);
	close_range(WORKER_CTL + 1, ~0U, 0);   /* the master's sockets, lock, listener */
	if (open("/dev/null", O_RDWR | O_CLOEXEC) != WORKER_TTY)
		_exit(EXIT_TETHER);
	client_share_connections();
	for (int n = 0; n < uses; n++) {
		struct ctl_msg m;
		char *buf = NULL, **strings = NULL;
		int fds[CTL_FDS];
		mask_all(SIG_BLOCK);
		if (receive(&m, &buf, &strings, fds) != 0)
			_exit(0);
		fresh_signals();
		int ok = take_on(&m, strings, fds);
		for (int i = 0; i < 4 + (int)m.ntty; i++)
			close(fds[i]);
		int rc = EXIT_TETHER;
		if (ok == 0) {
			mask_all(SIG_UNBLOCK);
			rc = cli_main((int)m.argc, strings + 1);
			mask_all(SIG_BLOCK);
		}
		give_back();
		environ = NULL;
		free(strings);
		free(buf);
		struct ctl_msg done = { .magic = CTL_MAGIC, .type = CTL_EXITED, .value = rc };
		if (ctl_send(WORKER_CTL, &done, NULL, NULL, 0) != 0)
			_exit(0);
	}
	_exit(0);
}
