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
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "joblog.h"
#include "outlog.h"
#include "proto.h"
#include "shim.h"
#include "fileio.h"
#include "spool.h"

#define SPEC_MAX (1024 * 1024)

/* Write the job's status through the job's one run file, reserved at the
 * start and named pid since the command started (resname): its block is
 * already allocated, so an exit status is kept even on a full disk. The
 * rename ends the pid file as it makes the status appear. Falls back to a
 * fresh atomic write. 0 or -1. */
static int write_status(const char *jobdir, int resfd, const char *resname,
                        const char *text)
{
	char path[BOUND_PATH + 32], res[BOUND_PATH + 32];
	size_t len = strlen(text);
	snprintf(path, sizeof path, "%s/status", jobdir);
	snprintf(res, sizeof res, "%s/%s", jobdir, resname);
	if (resfd >= 0 && fileio_pwrite_all(resfd, text, len, 0) == 0 &&
	    ftruncate(resfd, (off_t)len) == 0 && fsync(resfd) == 0 && rename(res, path) == 0)
		return 0;
	unlink(res);
	return fileio_write_atomic(path, text, len, 0600);
}

/* The job's spec, from the sealed memory file tetherd made (jobs.c
 * spec_memfd): the seals say it is that file and that no one can change
 * it. Read from its start: a second supervisor started for the same job
 * (it takes the job's lock first) shares the first one's offset. NULL if
 * there is none. */
static json_t *read_spec(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	int need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	if (seals < 0 || (seals & need) != need || lseek(fd, 0, SEEK_SET) != 0)
		return NULL;
	/* read whole, not with json_loadfd(), which reads a byte per call */
	size_t len = 0;
	char *text = fileio_read_fd(fd, SPEC_MAX, &len);
	json_t *spec = text != NULL ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	return spec;
}

/* Build a NULL-terminated string vector from a JSON array of strings,
 * after first if that is not NULL. */
static char **strv(json_t *arr, char *first)
{
	size_t n = json_array_size(arr), i, k = first != NULL;
	char **v = calloc(n + k + 1, sizeof *v);
	json_t *s;
	if (v == NULL)
		return NULL;
	v[0] = first;
	json_array_foreach(arr, i, s) {
		if (!json_is_string(s)) {
			free(v);
			return NULL;
		}
		v[k + i] = (char *)json_string_value(s);
	}
	return v;
}

/* The job's home and working directory: the account's home if it is a
 * directory, else the session's directory (fallback), made for it here as
 * the account's. Looked at by the supervisor, not by tetherd: a home on a
 * hung network file system holds up this job alone. "/" if neither. */
static const char *job_home(const struct account *a, const char *fallback)
{
	struct stat st;
	if (stat(a->home, &st) == 0 && S_ISDIR(st.st_mode))
		return a->home;
	if (fallback != NULL && spool_mkdir(fallback, a->uid, a->gid) == 0)
		return fallback;
	return "/";
}

/* Build the fd-3 pipe carrying bash's rc text (a shell's --rcfile, a
 * command's $BASH_ENV); the read end or -1. System calls only. */
static int rc_pipe(const char *rc, size_t len)
{
	int p[2];
	if (len > 60000 || pipe(p) != 0)
		return -1;
	int ok = fileio_write_all(p[1], rc, len) == 0;   /* fits the pipe */
	close(p[1]);
	if (!ok) {
		close(p[0]);
		return -1;
	}
	return p[0];
}

/* "PWD=" and a path: mapped for the start and unmapped after it, not on
 * the heap, where the page it dirtied would stay with the supervisor for
 * the job's whole life (a page more of private memory per running job). */
#define PWD_ENTRY_SIZE (4 + PATH_MAX)

/* A command that may run without a shell (cmdline.h): its words, and what
 * bash would add to the environment when it execs a program in its own
 * place (PWD, SHLVL one down again, and `_`, the program's path). */
struct direct {
	char  **argv;        /* the words; NULL: bash runs the command */
	char  **envp;        /* the job's environment, then PWD, SHLVL and _ */
	size_t  under_slot;  /* envp's index of `_`, set for each place tried */
	char   *pwd;         /* "PWD=" and room for the working directory */
	char  **under;       /* "_=PATH" for each place to try, NULL-terminated */
};

/* What the job's process becomes, all taken from the spec before the fork:
 * the child of a vfork() shares our memory and may only make system calls
 * (the direct run's pwd and envp are its to fill: memory made for it). */
struct launch {
	char         **argv, **envp;
	struct direct  direct;
	const char    *cwd, *ptyname;   /* cwd: the job's home */
	char          *home_env;   /* "HOME=" it, first in envp (on the heap: 4 KiB
	                            * more of stack was a page more per job) */
	const char    *rc;         /* bash's rc text for fd 3, or NULL */
	size_t         rclen;
	struct account acct;       /* groups unknown: a fork, not a vfork (NSS) */
	int            out, err;   /* the pipes' write ends (no pty) */
	int            in;         /* stdin's read end, or -1: /dev/null (no pty) */
};

static void direct_free(struct direct *d)
{
	for (size_t i = 0; d->under != NULL && d->under[i] != NULL; i++)
		free(d->under[i]);
	free(d->under);
	free(d->argv);
	free(d->envp);
	if (d->pwd != NULL)
		munmap(d->pwd, PWD_ENTRY_SIZE);
	memset(d, 0, sizeof *d);
}

static void launch_free(struct launch *l)
{
	direct_free(&l->direct);
	free(l->argv);
	free(l->envp);
	free(l->home_env);
}

/* envp's entry for name ("NAME="), or NULL. */
static const char *env_entry(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], name, n) == 0)
			return envp[i] + n;
	return NULL;
}

/* "_=" dir "/" prog, or "_=" prog if dir is NULL. */
static char *under_entry(const char *dir, size_t dirlen, const char *prog)
{
	size_t n = 2 + dirlen + 1 + strlen(prog) + 1;
	char *e = malloc(n);
	if (e != NULL && dir != NULL)
		snprintf(e, n, "_=%.*s/%s", (int)dirlen, dir, prog);
	else if (e != NULL)
		snprintf(e, n, "_=%s", prog);
	return e;
}

/* Make ready to run the words without a shell: the places PATH gives for
 * the program (bash's search: an empty element is the working directory; a
 * name with a slash is not searched) and the environment bash would pass.
 * An environment that names PWD or SHLVL, or has no PATH, is bash's to
 * handle; d->argv stays NULL then. 0, or -1 if memory ran out. */
static int direct_init(struct direct *d, json_t *words, char *const *envp)
{
	memset(d, 0, sizeof *d);
	const char *path = env_entry(envp, "PATH=");
	if (!json_is_array(words) || json_array_size(words) == 0 || path == NULL ||
	    env_entry(envp, "PWD=") != NULL || env_entry(envp, "SHLVL=") != NULL)
		return 0;
	size_t nenv = 0, places = 1;
	while (envp[nenv] != NULL)
		nenv++;
	for (const char *p = path; *p != '\0'; p++)
		places += *p == ':';
	d->argv = strv(words, NULL);
	d->envp = calloc(nenv + 4, sizeof *d->envp);
	void *pwd = mmap(NULL, PWD_ENTRY_SIZE, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	d->pwd = pwd != MAP_FAILED ? pwd : NULL;
	d->under = calloc(places + 1, sizeof *d->under);
	if (d->argv == NULL || d->envp == NULL || d->pwd == NULL || d->under == NULL) {
		direct_free(d);
		return -1;
	}
	const char *prog = d->argv[0];
	memcpy(d->envp, envp, nenv * sizeof *envp);
	memcpy(d->pwd, "PWD=", 4);
	d->envp[nenv] = d->pwd;
	d->envp[nenv + 1] = (char *)"SHLVL=0";   /* bash -c's 1, less the exec's */
	d->under_slot = nenv + 2;
	bool slash = strchr(prog, '/') != NULL;
	const char *p = path;
	for (size_t i = 0; i < (slash ? 1 : places); i++) {
		size_t len = strcspn(p, ":");
		d->under[i] = slash ? under_entry(NULL, 0, prog)
		                    : len > 0 ? under_entry(p, len, prog) : under_entry(".", 1, prog);
		if (d->under[i] == NULL) {
			direct_free(d);
			return -1;
		}
		p += len + (p[len] == ':');
	}
	return 0;
}

/* Fill l from the spec; 0, or -1 if the spec lacks what a start needs. */
static int launch_init(struct launch *l, json_t *spec, int in, int out, int err,
                       const char *ptyname)
{
	memset(l, 0, sizeof *l);
	l->in = in;
	l->rc = json_string_value(json_object_get(spec, "rc"));
	l->rclen = l->rc != NULL ? strlen(l->rc) : 0;
	l->ptyname = ptyname;
	l->out = out;
	l->err = err;
	if (account_from_spec(spec, &l->acct) != 0)
		return -1;
	l->cwd = job_home(&l->acct, json_string_value(json_object_get(spec, "home_fallback")));
	size_t n = strlen(l->cwd) + sizeof "HOME=";
	l->home_env = malloc(n);
	if (l->home_env != NULL)
		snprintf(l->home_env, n, "HOME=%s", l->cwd);
	l->argv = strv(json_object_get(spec, "argv"), NULL);
	l->envp = strv(json_object_get(spec, "env"), l->home_env);
	if (l->home_env == NULL || l->argv == NULL || l->argv[0] == NULL || l->envp == NULL ||
	    direct_init(&l->direct, json_object_get(spec, "exec"), l->envp) != 0) {
		launch_free(l);
		return -1;
	}
	return 0;
}

/* A fixed message on stderr and the end of the child (vfork-safe). */
__attribute__((noreturn)) static void child_fail(const char *what, const char *arg, int code)
{
	const char *why = strerror(errno);
	struct iovec v[] = {
		{ (void *)"tether: ", 8 }, { (void *)what, strlen(what) },
		{ (void *)arg, strlen(arg) }, { (void *)": ", 2 },
		{ (void *)why, strlen(why) }, { (void *)"\n", 1 },
	};
	ssize_t ignored = writev(2, v, 6);
	(void)ignored;
	_exit(code);
}

/* In the child, in the job's directory: exec the program as bash would in
 * its own place, from the first place PATH gives where the account may run
 * it. Returns if nothing ran, or if what was found is for bash to judge (a
 * file with no #! line is a script to it; other errors are its to report,
 * in its words): bash then runs the command. */
static void run_direct(const struct direct *d)
{
	if (getcwd(d->pwd + 4, PWD_ENTRY_SIZE - 4) == NULL)
		return;
	for (size_t i = 0; d->under[i] != NULL; i++) {
		d->envp[d->under_slot] = d->under[i];
		execve(d->under[i] + 2, d->argv, d->envp);
		if (errno != ENOENT && errno != EACCES && errno != ENOTDIR && errno != ELOOP &&
		    errno != ENAMETOOLONG)
			return;
	}
}

/* In the child: become the job's process, then exec. Never returns. With a
 * pty (ptyname set) the command leads a new session with the pty as its
 * controlling terminal; otherwise it gets its own process group and the
 * pipes. Only system calls unless forked (see start_child). */
__attribute__((noreturn)) static void child(const struct launch *l)
{
	if (l->ptyname != NULL) {
		setsid();
		int tty = open(l->ptyname, O_RDWR);
		if (tty < 0 || ioctl(tty, TIOCSCTTY, 0) != 0)
			_exit(126);
		if (geteuid() == 0 && l->acct.uid > 0)
			fchown(tty, l->acct.uid, (gid_t)-1);   /* the user's terminal */
		dup2(tty, 0);
		dup2(tty, 1);
		dup2(tty, 2);
	} else {
		setpgid(0, 0);
		dup2(l->in >= 0 ? l->in : open("/dev/null", O_RDONLY), 0);
		dup2(l->out, 1);
		dup2(l->err, 2);
	}
	/* one call, not a thousand (a cost every job pays) */
	if (close_range(3, ~0u, 0) != 0)   /* kernels before 5.9 */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	/* the session owner's account before any user code runs */
	if (account_become(&l->acct) != 0)
		child_fail("cannot switch to the session's account", "", 126);
	if (l->rc != NULL) {
		/* made after the switch, so the shell may open /dev/fd/3 */
		int rcfd = rc_pipe(l->rc, l->rclen);
		if (rcfd < 0 || (rcfd != 3 && (dup2(rcfd, 3) != 3 || close(rcfd) != 0)))
			_exit(126);
	}
	if (l->cwd == NULL || chdir(l->cwd) != 0)
		if (chdir("/") != 0)
			_exit(126);
	if (l->direct.argv != NULL)
		run_direct(&l->direct);
	execve(l->argv[0], l->argv, l->envp);
	child_fail("cannot run ", l->argv[0], 127);
}

/* Start the job's process. A plain job's child is made with vfork(): no copy
 * of our page tables and no copy-on-write faults before its exec, the
 * largest cost of a short job's supervisor after its own fork. A shell on
 * a pty, or an account whose groups the spec does not list, needs more
 * than system calls in the child, so it is forked. We are single-threaded,
 * so the set*id() calls in the child need no help from other threads. */
static pid_t start_child(const struct launch *l)
{
	pid_t pid = l->ptyname == NULL && l->acct.ngroups >= 0 ? vfork() : fork();
	if (pid == 0)
		child(l);
	return pid;
}

/* Keystrokes and window sizes for a pty job, or a command's stdin, arrive
 * on the job's input FIFO as records (shim.h); bytes wait in pend until the
 * pty (or the stdin pipe) takes them, so a program that does not read
 * never stalls the output. A full pend stops the FIFO being read, and the
 * daemon's writes then take less: that is the flow control. */
#define STDIN_PIPE_SIZE (1024 * 1024)   /* the kernel's default pipe-max-size */

struct input {
	int     fd;            /* the FIFO, or -1 */
	int     master;        /* the pty master, or the stdin pipe's write end */
	bool    pty;
	bool    eof;           /* a command's stdin ends once pend is written */
	uint8_t in[65536];     /* unparsed FIFO bytes */
	size_t  inlen;
	uint8_t pend[65536];   /* terminal input not yet written */
	size_t  pendlen;
};

/* Parse complete records out of in->in. */
static void input_parse(struct input *in)
{
	size_t off = 0;
	while (in->inlen - off >= SHIM_INPUT_HDR) {
		const uint8_t *h = in->in + off;
		size_t len = (size_t)h[1] | (size_t)h[2] << 8;
		if (in->inlen - off < SHIM_INPUT_HDR + len)
			break;
		const uint8_t *p = h + SHIM_INPUT_HDR;
		if (h[0] == SHIM_INPUT_DATA) {
			if (len > sizeof in->pend - in->pendlen)
				break;   /* wait for the pty to take what is pending */
			memcpy(in->pend + in->pendlen, p, len);
			in->pendlen += len;
		} else if (h[0] == SHIM_INPUT_EOF && !in->pty) {
			in->eof = true;
		} else if (h[0] == SHIM_INPUT_WINSIZE && len == 4 && in->pty) {
			struct winsize ws = { .ws_row = (unsigned short)(p[0] | p[1] << 8),
			                      .ws_col = (unsigned short)(p[2] | p[3] << 8) };
			ioctl(in->master, TIOCSWINSZ, &ws);
		}
		off += SHIM_INPUT_HDR + len;
	}
	memmove(in->in, in->in + off, in->inlen - off);
	in->inlen -= off;
}

/* Move input along: FIFO -> pending -> pty, as far as each will go now. */
static void input_pump(struct input *in, bool readable)
{
	if (readable && in->inlen < sizeof in->in) {
		ssize_t got = read(in->fd, in->in + in->inlen, sizeof in->in - in->inlen);
		if (got > 0)
			in->inlen += (size_t)got;
	}
	input_parse(in);
	if (in->pendlen > 0 && in->master >= 0) {
		ssize_t w = write(in->master, in->pend, in->pendlen);
		if (w > 0) {
			memmove(in->pend, in->pend + w, in->pendlen - (size_t)w);
			in->pendlen -= (size_t)w;
		} else if (w < 0 && errno == EPIPE) {
			in->pendlen = 0;   /* the command closed its stdin: the rest is dropped */
			in->eof = true;
		}
	}
	if (in->master < 0)
		in->pendlen = 0;
	if (!in->pty && in->eof && in->pendlen == 0 && in->master >= 0) {
		close(in->master);   /* the command reads its end of file */
		in->master = -1;
	}
}

/* Copy what is readable on the output fds into the log, and feed a pty its
 * input; returns the count of output fds still open. capped: hold off
 * reading output while the output cap says so (block mode). */
static int pump(struct joblog *oc, int fds[2], struct input *in, int timeout_ms,
                bool capped)
{
	struct pollfd p[4];   /* stdout, stderr, the input FIFO, the command's stdin */
	int n = 0, open_fds = (fds[0] >= 0) + (fds[1] >= 0);
	bool reading = !capped || joblog_may_read(oc);
	if (reading)
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0) {
				p[n].fd = fds[i];
				p[n].events = POLLIN;
				n++;
			}
	int ini = -1;
	if (in != NULL && in->fd >= 0) {
		ini = n;
		p[n].fd = in->fd;
		p[n].events = POLLIN;
		n++;
		if (in->pendlen > 0 && in->master >= 0) {
			p[n].fd = in->master;   /* writable: the pty takes input again */
			p[n].events = POLLOUT;
			n++;
		}
	}
	if (n == 0 && open_fds == 0)
		return 0;
	/* blocked: the cursor moves when a receiver acknowledges */
	int r = poll(p, (nfds_t)n, reading ? timeout_ms : 20);
	if (r <= 0)
		return open_fds;
	if (ini >= 0)
		input_pump(in, p[ini].revents & POLLIN);
	for (int k = 0; k < n; k++) {
		if (k == ini || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)) ||
		    (p[k].fd != fds[0] && p[k].fd != fds[1]))
			continue;
		char buf[65536];
		ssize_t got = read(p[k].fd, buf, sizeof buf);
		int which = p[k].fd == fds[0] ? 0 : 1;
		if (got > 0) {
			joblog_append(oc, which == 0 ? OUTLOG_STDOUT : OUTLOG_STDERR, buf,
			              (size_t)got);
		} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
			/* EOF, or EIO from a pty whose last user closed it */
			if (in == NULL || fds[which] != in->master)
				close(fds[which]);
			fds[which] = -1;
		}
	}
	return (fds[0] >= 0) + (fds[1] >= 0);
}

/* Open a pty master sized from the spec; *name gets the slave's path. */
static int open_pty(json_t *pty, char *name, size_t namesz)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, namesz) != 0) {
		if (m >= 0)
			close(m);
		return -1;
	}
	struct winsize ws = {
		.ws_row = (unsigned short)json_integer_value(json_object_get(pty, "rows")),
		.ws_col = (unsigned short)json_integer_value(json_object_get(pty, "cols")),
	};
	ioctl(m, TIOCSWINSZ, &ws);
	return m;
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
	/* One supervisor per job, holding this lock for its life: a start that
	 * was in doubt (the launcher vanished mid-request, launcher.c) is
	 * repeated, and the second supervisor finds the lock, or the status
	 * the first one left, and goes without running anything. The lock is
	 * on the job's directory (tetherd's own), which costs no file. */
	int dirfd = open(jobdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd < 0 || flock(dirfd, LOCK_EX | LOCK_NB) != 0)
		return 1;
	snprintf(path, sizeof path, "%s/status", jobdir);
	if (access(path, F_OK) == 0)
		return 1;
	json_t *spec = read_spec(SHIM_SPEC_FD);
	close(SHIM_SPEC_FD);   /* not for the command */
	if (spec == NULL)
		return 1;
	/* The job's run file: room for the status, taken now while there is
	 * some, that carries the pids under the name pid while the command
	 * runs and becomes the status at the end (one file, not three). The
	 * room is allocated past the end of the empty file, so a reader sees
	 * only what is written. */
	const char *resname = "status.reserved";
	snprintf(path, sizeof path, "%s/%s", jobdir, resname);
	int resfd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (resfd >= 0 && fallocate(resfd, FALLOC_FL_KEEP_SIZE, 0, 4096) != 0 &&
	    errno != EOPNOTSUPP) {
		close(resfd);   /* no room now: the status takes its chance later */
		unlink(path);
		resfd = -1;
	}
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, inp[2] = { -1, -1 };
	/* fields one by one: an initializer would zero the 128 KiB of buffers,
	 * private stack pages for the job's whole life that a command without
	 * input never needs */
	struct input input;
	input.fd = input.master = -1;
	input.pty = input.eof = false;
	input.inlen = input.pendlen = 0;
	char ptyname[128];
	json_t *pty = json_object_get(spec, "pty");
	bool with_stdin = json_is_true(json_object_get(spec, "stdin"));
	snprintf(path, sizeof path, "%s/input", jobdir);
	input.pty = json_is_object(pty);
	if (input.pty) {
		input.master = open_pty(pty, ptyname, sizeof ptyname);
		input.fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);   /* no EOF */
		if (input.master < 0 || input.fd < 0)
			return 1;
	} else if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		return 1;
	} else if (with_stdin) {
		input.fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
		if (input.fd < 0 || pipe2(inp, O_CLOEXEC) != 0)
			return 1;
		input.master = inp[1];
		/* room for a whole post of stdin (BOUND_INPUT_DATA and its records)
		 * in the FIFO, and as much on its way to the command: one post per
		 * round trip, not one per 64 KiB; best effort (a user over the
		 * kernel's pipe-user-pages limits keeps the default) */
		fcntl(input.fd, F_SETPIPE_SZ, STDIN_PIPE_SIZE);
		fcntl(inp[1], F_SETPIPE_SZ, STDIN_PIPE_SIZE);
	}
	struct launch launch;
	if (launch_init(&launch, spec, inp[0], outp[1], errp[1],
	                input.pty ? ptyname : NULL) != 0)
		return 1;
	pid_t pid = start_child(&launch);
	launch_free(&launch);
	if (pid < 0)
		return 1;
	if (!input.pty) {
		setpgid(pid, pid);   /* also done in the child: no race either way */
		close(outp[1]);
		close(errp[1]);
		if (inp[0] >= 0)
			close(inp[0]);
	}
	if (input.master >= 0)
		fcntl(input.master, F_SETFL, O_NONBLOCK);
	char pidtext[64];
	/* the uid too: what tetherd kills a vanished supervisor's leftovers by
	 * (jobs.c kill_orphans) */
	int n = snprintf(pidtext, sizeof pidtext, "%d %d %lu\n", (int)getpid(), (int)pid,
	                 (unsigned long)launch.acct.uid);
	snprintf(path, sizeof path, "%s/pid", jobdir);
	/* Not fsync'd: the pid file means something only while these processes
	 * live, and a host crash that could lose it ends them too (the job is
	 * then settled as vanished either way). The rename makes it appear
	 * whole to tetherd's readers (jobs.c read_pids). */
	char res[BOUND_PATH + 32];
	snprintf(res, sizeof res, "%s/%s", jobdir, resname);
	if (resfd >= 0 && fileio_pwrite_all(resfd, pidtext, (size_t)n, 0) == 0 &&
	    rename(res, path) == 0) {
		resname = "pid";
	} else {
		fileio_replace(path, pidtext, (size_t)n, 0600, false);
	}

	struct joblog oc;
	json_t *capv = json_object_get(spec, "output_cap");
	int mode = proto_buffering_parse(json_string_value(json_object_get(spec, "buffering")));
	joblog_open(&oc, jobdir, json_is_integer(capv) ? json_integer_value(capv)
	                                                     : OUTCAP_DEFAULT,
	            mode < 0 ? BUFFERING_BLOCK : mode);
	oc.marks = input.pty;   /* a shell is re-attached from its tail */
	int fds[2] = { input.pty ? input.master : outp[0], errp[0] };
	struct input *in = input.fd >= 0 ? &input : NULL;
	int status = 0;
	int exited = 0;
	while (!exited) {
		/* with nothing left to read (the command closed its output), just
		 * wait for it: never spin */
		bool idle = pump(&oc, fds, in, 200, true) == 0 && in == NULL;
		pid_t w = waitpid(pid, &status, idle ? 0 : WNOHANG);
		if (w == pid)
			exited = 1;
	}
	/* Drain: descendants may still hold the pipes. Wait for EOF while the
	 * command's process group lives; once it is gone, take only what is
	 * already buffered (a daemonised grandchild may keep a pipe forever). */
	while (pump(&oc, fds, in, 100, true) > 0) {
		if (kill(-pid, 0) == 0 || errno != ESRCH)
			continue;
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				fcntl(fds[i], F_SETFL, O_NONBLOCK);
		/* at most a pipe's worth each: taken even past the cap */
		while (pump(&oc, fds, NULL, 0, false) > 0) {
			struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
			if (poll(p, 2, 0) <= 0)
				break;
		}
		break;
	}
	joblog_close(&oc);   /* synced before the status */
	snprintf(path, sizeof path, "%s/blocked", jobdir);
	unlink(path);
	json_t *st = WIFSIGNALED(status)
		? json_pack("{s:i}", "signal", WTERMSIG(status))
		: json_pack("{s:i}", "exit_code", WEXITSTATUS(status));
	if (oc.lost > 0) {
		char why[160];
		snprintf(why, sizeof why, "%lld bytes of output could not be kept: %s",
		         (long long)oc.lost, strerror(oc.lost_errno));
		json_object_set_new(st, "output_error", json_string(why));
	}
	char *text = json_dumps(st, JSON_COMPACT);
	int rc = text && write_status(jobdir, resfd, resname, text) == 0 ? 0 : 1;
	if (resfd >= 0)
		close(resfd);
	free(text);
	json_decref(st);
	json_decref(spec);
	close(dirfd);   /* the status is there: a late second start goes */
	return rc;
}
