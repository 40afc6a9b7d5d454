/*
 * shim.c - the job supervisor's whole life (see shim.h).
 *
 * The spec is written by tetherd (trusted), but the command's output is
 * not: it is copied in bounded chunks and never interpreted. The shim
 * ignores the signals a terminal or an init system might send its session,
 * so only the command's own death ends it; signals for the job go to the
 * command's process group. After the command exits, output still held by
 * its descendants is drained until the pipes close or the group is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "outcap.h"
#include "outlog.h"
#include "proto.h"
#include "shim.h"
#include "fileio.h"
#include "spool.h"

#define SPEC_MAX (1024 * 1024)

/* Append one record (header and payload in one write, O_APPEND). */
static void append_record(struct outcap *oc, int stream, const char *data, size_t len)
{
	char rec[OUTLOG_HDR + 65536];
	outlog_header((uint8_t *)rec, stream, (uint32_t)len);
	memcpy(rec + OUTLOG_HDR, data, len);
	if (fileio_write_all(oc->logfd, rec, OUTLOG_HDR + len) == 0)
		outcap_appended(oc, OUTLOG_HDR + len);
}

/* Build a NULL-terminated string vector from a JSON array of strings. */
static char **strv(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	char **v = calloc(n + 1, sizeof *v);
	json_t *s;
	if (v == NULL)
		return NULL;
	json_array_foreach(arr, i, s) {
		if (!json_is_string(s))
			return NULL;
		v[i] = (char *)json_string_value(s);
	}
	return v;
}

/* In the child: become the job's process, then exec. Never returns. */
static void child(json_t *spec, int out, int err)
{
	setpgid(0, 0);
	int devnull = open("/dev/null", O_RDONLY);
	dup2(devnull, 0);
	dup2(out, 1);
	dup2(err, 2);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	json_int_t uid = json_integer_value(json_object_get(spec, "uid"));
	json_int_t gid = json_integer_value(json_object_get(spec, "gid"));
	const char *user = json_string_value(json_object_get(spec, "user"));
	if (geteuid() == 0) {
		/* drop to the session owner before any user code runs */
		if (uid <= 0 || user == NULL || initgroups(user, (gid_t)gid) != 0 ||
		    setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0 || setuid(0) == 0) {
			dprintf(2, "tether: cannot switch to the session's account\n");
			_exit(126);
		}
	}
	const char *cwd = json_string_value(json_object_get(spec, "cwd"));
	if (cwd == NULL || chdir(cwd) != 0)
		if (chdir("/") != 0)
			_exit(126);
	char **argv = strv(json_object_get(spec, "argv"));
	char **envp = strv(json_object_get(spec, "env"));
	if (argv == NULL || argv[0] == NULL || envp == NULL)
		_exit(126);
	execve(argv[0], argv, envp);
	dprintf(2, "tether: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Copy what is readable on the pipes into the log; returns open pipe count.
 * capped: hold off while the output cap says so (block mode). */
static int pump(struct outcap *oc, int fds[2], int timeout_ms, bool capped)
{
	struct pollfd p[2];
	int n = 0;
	if (capped && !outcap_may_read(oc)) {
		/* blocked: the cursor moves when a receiver acknowledges */
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		return (fds[0] >= 0) + (fds[1] >= 0);
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0) {
			p[n].fd = fds[i];
			p[n].events = POLLIN;
			n++;
		}
	if (n == 0)
		return 0;
	int r = poll(p, (nfds_t)n, timeout_ms);
	if (r <= 0)
		return n;
	for (int k = 0; k < n; k++) {
		if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		char buf[65536];
		ssize_t got = read(p[k].fd, buf, sizeof buf);
		int which = p[k].fd == fds[0] ? 0 : 1;
		if (got > 0) {
			append_record(oc, which == 0 ? OUTLOG_STDOUT : OUTLOG_STDERR, buf,
			              (size_t)got);
		} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
			close(fds[which]);
			fds[which] = -1;
		}
	}
	return (fds[0] >= 0) + (fds[1] >= 0);
}

/* Run the supervisor for jobdir. */
int shim_main(const char *jobdir)
{
	char path[BOUND_PATH + 32];
	static const int ignored[] = { SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGTSTP,
	                               SIGTTIN, SIGTTOU };
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		signal(ignored[i], SIG_IGN);
	umask(077);
	snprintf(path, sizeof path, "%s/spec.json", jobdir);
	json_error_t jerr;
	json_t *spec = json_load_file(path, 0, &jerr);
	if (spec == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/output.log", jobdir);
	int logfd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int outp[2], errp[2];
	if (logfd < 0 || pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0)
		return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		child(spec, outp[1], errp[1]);
	setpgid(pid, pid);   /* also done in the child: no race either way */
	close(outp[1]);
	close(errp[1]);
	char pidtext[64];
	int n = snprintf(pidtext, sizeof pidtext, "%d %d\n", (int)getpid(), (int)pid);
	snprintf(path, sizeof path, "%s/pid", jobdir);
	fileio_write_atomic(path, pidtext, (size_t)n, 0600);

	struct outcap oc;
	json_t *capv = json_object_get(spec, "output_cap");
	int mode = proto_buffering_parse(json_string_value(json_object_get(spec, "buffering")));
	outcap_open(&oc, jobdir, logfd, json_is_integer(capv) ? json_integer_value(capv)
	                                                     : OUTCAP_DEFAULT,
	            mode < 0 ? BUFFERING_BLOCK : mode);
	int fds[2] = { outp[0], errp[0] };
	int status = 0;
	int exited = 0;
	while (!exited) {
		pump(&oc, fds, 200, true);
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			exited = 1;
	}
	/* Drain: descendants may still hold the pipes. Wait for EOF while the
	 * command's process group lives; once it is gone, take only what is
	 * already buffered (a daemonised grandchild may keep a pipe forever). */
	while (pump(&oc, fds, 100, true) > 0) {
		if (kill(-pid, 0) == 0 || errno != ESRCH)
			continue;
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				fcntl(fds[i], F_SETFL, O_NONBLOCK);
		/* at most a pipe's worth each: taken even past the cap */
		while (pump(&oc, fds, 0, false) > 0) {
			struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
			if (poll(p, 2, 0) <= 0)
				break;
		}
		break;
	}
	fsync(logfd);
	close(logfd);
	snprintf(path, sizeof path, "%s/blocked", jobdir);
	unlink(path);
	json_t *st = WIFSIGNALED(status)
		? json_pack("{s:i}", "signal", WTERMSIG(status))
		: json_pack("{s:i}", "exit_code", WEXITSTATUS(status));
	char *text = json_dumps(st, JSON_COMPACT);
	snprintf(path, sizeof path, "%s/status", jobdir);
	int rc = text && fileio_write_atomic(path, text, strlen(text), 0600) == 0 ? 0 : 1;
	free(text);
	json_decref(st);
	json_decref(spec);
	return rc;
}
