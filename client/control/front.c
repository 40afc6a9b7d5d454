/*
 * front.c - the `tether` command as the user runs it: hand the command to
 * the user's control master if one answers (control.h), else run the full
 * client (tether-cli) in this process's place. Linked with libc only, so
 * that a command the master runs costs no more here than a small exec.
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
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "helper.h"
#include "homedir.h"

#define EXIT_TETHER 255

extern char **environ;

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t caught;   /* a signal seen before the master took the command */

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGCONT, SIGUSR1,
                                 SIGUSR2 };
#define NFORWARDED (int)(sizeof forwarded / sizeof forwarded[0])

static void on_signal(int sig)
{
	int e = errno;
	unsigned char b = (unsigned char)sig;
	if (caught == 0 && sig != SIGCONT)
		caught = sig;
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* a full pipe: the signal is already pending there */
	}
	errno = e;
}

static void handle_signals(void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (int i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &sa, NULL);
}

/* Append s (with its NUL) to the request's strings; -1 when over the bound. */
static int add_string(char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s) + 1;
	if (n > CTL_PAYLOAD_MAX - *len)
		return -1;
	memcpy(buf + *len, s, n);
	*len += n;
	return 0;
}

/* Connect to the master and send the request. The socket, or -1 if there
 * is none to use. */
static int send_request(const char *client, int argc, char **argv, char *buf)
{
	char config[PATH_MAX], state[PATH_MAX];
	struct sockaddr_un sa;
	int dirfd = -1, s = -1, fds[CTL_FDS], nfds = 0;
	if (homedir_paths(config, state, sizeof state) != 0 ||
	    ctl_address(state, &sa, &dirfd) != 0)
		return -1;
	/* the strings first: a request over the master's bounds is run here */
	struct ctl_msg m = { .magic = CTL_MAGIC, .type = CTL_REQUEST, .argc = (uint32_t)argc };
	size_t len = 0;
	if (add_string(buf, &len, client) != 0)
		goto fail;
	for (int i = 0; i < argc; i++)
		if (add_string(buf, &len, argv[i]) != 0)
			goto fail;
	for (char **e = environ; *e != NULL; e++, m.envc++)
		if ((uint64_t)argc + m.envc + 2 > CTL_STRINGS_MAX || add_string(buf, &len, *e) != 0)
			goto fail;
	m.len = (uint32_t)len;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
		goto fail;
	mode_t mask = umask(0);
	umask(mask);
	m.umask = (uint32_t)mask;
	/* a closed standard descriptor cannot be passed on: run it here */
	for (int i = 0; i < 3; i++, nfds++)
		if (fcntl(i, F_GETFD) < 0)
			goto fail;
	fds[0] = 0, fds[1] = 1, fds[2] = 2;
	fds[3] = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fds[3] < 0)
		goto fail;
	nfds = 4;
	fds[4] = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fds[4] >= 0) {
		m.ntty = 1;
		nfds = 5;
	}
	if (ctl_send(s, &m, buf, fds, nfds) != 0)
		goto fail;
	for (int i = 3; i < nfds; i++)
		close(fds[i]);
	if (dirfd >= 0)
		close(dirfd);
	return s;
fail:
	for (int i = 3; i < nfds; i++)
		close(fds[i]);
	if (dirfd >= 0)
		close(dirfd);
	if (s >= 0)
		close(s);
	return -1;
}

/* Pass on a signal to the command; Ctrl-Z stops it and then this process. */
static void pass_on(int s, int sig)
{
	struct ctl_msg m = { .magic = CTL_MAGIC, .type = CTL_SIG, .value = sig };
	if (sig == SIGTSTP)
		m.value = SIGSTOP;
	ctl_send(s, &m, NULL, NULL, 0);
	if (sig == SIGTSTP)
		kill(getpid(), SIGSTOP);
}

/* End as the command ended. */
static int finish(const struct ctl_msg *m)
{
	if (m->type == CTL_EXITED)
		return m->value & 0xff;
	handle_signals(SIG_DFL);
	signal(m->value, SIG_DFL);
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	raise(m->value);
	return 128 + m->value;
}

/* Run the command through the master: its exit status, or -1 if the
 * master did not take it (nothing ran; the caller runs it itself). */
static int through_master(const char *client, int argc, char **argv)
{
	char *buf = malloc(CTL_PAYLOAD_MAX);
	if (buf == NULL || pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(buf);
		return -1;
	}
	handle_signals(on_signal);
	int s = send_request(client, argc, argv, buf);
	free(buf);
	struct ctl_msg m;
	if (s < 0 || ctl_recv(s, &m, NULL, NULL) != 0 || m.type != CTL_ACCEPTED) {
		if (s >= 0)
			close(s);
		handle_signals(SIG_DFL);
		if (caught != 0)
			raise(caught);
		close(sig_pipe[0]);
		close(sig_pipe[1]);
		return -1;
	}
	if (caught != 0 && caught != SIGTSTP)
		pass_on(s, caught);
	for (;;) {
		struct pollfd p[2] = { { s, POLLIN, 0 }, { sig_pipe[0], POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents & POLLIN) {
			unsigned char b;
			while (read(sig_pipe[0], &b, 1) == 1)
				pass_on(s, b);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			int rc = ctl_recv(s, &m, NULL, NULL);
			if (rc == 0 && (m.type == CTL_EXITED || m.type == CTL_SIGNALED))
				return finish(&m);
			if (rc == 0)
				continue;
			break;
		}
	}
	fprintf(stderr, "tether: lost the control master; what became of the command is not "
	        "known (docs/cli.md, \"Connection sharing\")\n");
	return EXIT_TETHER;
}

int main(int argc, char **argv)
{
	char client[PATH_MAX];
	if (helper_path("tether-cli", TETHER_FULL_CLIENT, client, sizeof client) != 0) {
		fprintf(stderr, "tether: cannot find the full client tether-cli\n");
		return EXIT_TETHER;
	}
	/* TETHER_CONTROL_PERSIST=no: no master, even one already running */
	const char *persist = getenv("TETHER_CONTROL_PERSIST");
	bool no = persist != NULL && (strcmp(persist, "0") == 0 || strcasecmp(persist, "no") == 0);
	if (argc >= 2 && ctl_shareable(argv[1]) && !no) {
		int rc = through_master(client, argc, argv);
		if (rc >= 0)
			return rc;
	}
	execv(client, argv);
	fprintf(stderr, "tether: cannot run %s: %s\n", client, strerror(errno));
	return EXIT_TETHER;
}
