/*
 * cmd-enter.c - tether enter HOST[/NAME]: an interactive shell in a session
 * (PowerShell's Enter-PSSession, with tmux's detach and re-attach).
 *
 * The local terminal goes raw; keystrokes go to the remote pty as they are
 * typed, its output comes back on a second thread with its own connection.
 * "~." at the start of a line detaches (the shell keeps running in the
 * Disconnected session); "tether enter" on that session re-attaches and
 * replays the recent output. "exit" ends the shell; a session made just for
 * it (HOST alone) is removed then, a named one stays with the saved state.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "bounds.h"
#include "cmd.h"
#include "escape.h"
#include "fileio.h"

static int exec_enter(struct cmd_ctx *x, const struct args *a);

static const struct args_opt enter_opts[] = {
	{ 0, "force", 0, NULL, NULL },
	{ 0, NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_enter_entry = {
	"enter", "HOST[/NAME] [--force]",
	"an interactive shell in a session (exit ends it, ~. detaches)",
	"  HOST         a new session just for this shell, removed when it exits\n"
	"  HOST/NAME    the named session (made if absent); its saved state is\n"
	"               restored and saved back when the shell exits; a shell left\n"
	"               running there (detached) is re-attached, with its recent output\n"
	"  --force      take the session even if another client holds it; a shell\n"
	"               attached there is detached (like tmux attach -d)\n"
	"Escapes, typed at the start of a line:\n"
	"  ~.   detach: the shell keeps running, the session shows Disconnected/Busy\n"
	"  ~?   list the escapes\n"
	"  ~~   send one '~'\n",
	{ enter_opts, 1, 1, "expected one HOST or HOST/NAME", 0 }, CMD_TARGET_HOST_NAME, exec_enter,
};

static volatile sig_atomic_t winched;
static int wake[2] = { -1, -1 };   /* self-pipe: window change, output ended */

static void on_winch(int sig)
{
	(void)sig;
	winched = 1;
	int saved = errno;
	if (write(wake[1], "w", 1) < 0) {
		/* the loop looks at the flag anyway */
	}
	errno = saved;
}

/* The terminal: raw while attached, restored on every way out. */
static struct termios saved_tio;
static int raw_on;

static void term_raw(void)
{
	struct termios t;
	if (!isatty(0) || tcgetattr(0, &saved_tio) != 0)
		return;
	t = saved_tio;
	cfmakeraw(&t);
	if (tcsetattr(0, TCSAFLUSH, &t) == 0)
		raw_on = 1;
}

static void term_restore(void)
{
	if (raw_on)
		tcsetattr(0, TCSAFLUSH, &saved_tio);
	raw_on = 0;
}

/* A line on stderr (CR LF while the terminal is raw). */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0) {
		fileio_write_all(2, line, strlen(line));
		fileio_write_all(2, raw_on ? "\r\n" : "\n", raw_on ? 2 : 1);
	}
}

/* The output thread: its own client, following the shell to its end. */
struct reader {
	const char *session;
	int64_t     job, offset;
	tether_err  err;
	int         status;
	char        msg[512];
};

static int write_out(void *ctx, int stream, const void *data, size_t len)
{
	(void)ctx;
	if (stream == 3) {   /* a notice from tether (output dropped) */
		char note[300];
		snprintf(note, sizeof note, "%.*s", (int)(len < 299 ? len : 299), (const char *)data);
		say("tether: %s", note);
		return 0;
	}
	return fileio_write_all(1, data, len) == 0 ? 0 : -1;
}

static void *read_shell(void *arg)
{
	struct reader *r = arg;
	tether_client *c = NULL;
	struct tether_output out = { write_out, NULL };
	r->err = tether_client_new(&c);
	if (r->err == TETHER_E_OK)
		r->err = tether_shell_output(c, r->session, r->job, r->offset, &out, &r->status);
	if (r->err != TETHER_E_OK)
		snprintf(r->msg, sizeof r->msg, "%s", c ? tether_last_error(c) : "out of memory");
	tether_client_free(c);
	if (write(wake[1], "o", 1) < 0) {
		/* the main loop also polls for this thread's end */
	}
	return NULL;
}

/* The window size of our terminal (24x80 when there is none). */
static void window(int *rows, int *cols)
{
	struct winsize ws;
	*rows = 24;
	*cols = 80;
	if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* Find or make the session; *temporary if made just for this shell. */
static tether_err open_session(struct cmd_ctx *x, const char *arg, char *session,
                               size_t sessionsz, int *temporary, int force)
{
	json_t *s = NULL;
	tether_err e;
	*temporary = strchr(arg, '/') == NULL;
	if (*temporary) {
		e = tether_session_new(x->c, arg, NULL, 0, NULL, &s);
		if (e == TETHER_E_OK)
			snprintf(session, sessionsz, "%s/%s", arg,
			         json_string_value(json_object_get(s, "name")));
		json_decref(s);
		return e;
	}
	snprintf(session, sessionsz, "%s", arg);
	e = tether_session_connect(x->c, session, force, &s);
	if (e == TETHER_E_NOT_FOUND) {   /* the server has no such session: make it */
		char host[BOUND_HOSTSPEC];
		const char *slash = strrchr(arg, '/');
		snprintf(host, sizeof host, "%.*s", (int)(slash - arg), arg);
		e = tether_session_new(x->c, host, slash + 1, 0, NULL, &s);
	}
	json_decref(s);
	return e;
}

/* Send what was typed, minus escapes; returns 1 to detach, -1 on failure. */
static int typed(struct cmd_ctx *x, const char *session, int64_t job, struct escape *esc,
                 const char *in, size_t n)
{
	char out[4096 + 1];
	while (n > 0) {
		size_t outn, used;
		enum escape_action a = escape_filter(esc, in, n, out, &outn, &used);
		if (outn > 0 && tether_shell_input(x->c, session, job, out, outn) != TETHER_E_OK)
			return -1;
		in += used;
		n -= used;
		if (a == ESCAPE_DETACH)
			return 1;
		if (a == ESCAPE_HELP)
			say("Escapes (at the start of a line): ~. detach, ~? this list, ~~ send ~");
	}
	return 0;
}

static int exec_enter(struct cmd_ctx *x, const struct args *a)
{
	if (x->json)
		return out_usage(&cmd_enter_entry, "an interactive shell has no --json form");
	if (x->target.fleet)   /* TARGETS[/NAME] */
		return out_usage(&cmd_enter_entry, "an interactive shell goes to one host; "
		                 "for several use invoke -H TARGETS");
	char session[BOUND_HOSTSPEC + BOUND_NAME + 2];
	int temporary, rows, cols;
	tether_err e = open_session(x, a->argv[0], session, sizeof session, &temporary,
	                            args_has(a, "force"));
	if (e != TETHER_E_OK)
		return out_fail(x, e);
	window(&rows, &cols);
	const char *term = getenv("TERM");
	json_t *job = NULL;
	struct reader rd = { .session = session };
	e = tether_shell_open(x->c, session, rows, cols, term && *term ? term : NULL, &job,
	                      &rd.offset);
	if (e == TETHER_E_INVALID_ARGUMENT && term != NULL)   /* an odd TERM: use ours */
		e = tether_shell_open(x->c, session, rows, cols, NULL, &job, &rd.offset);
	if (e != TETHER_E_OK) {
		int rc = out_fail(x, e);
		if (temporary)
			tether_session_remove(x->c, session, NULL);
		return rc;
	}
	rd.job = json_integer_value(json_object_get(job, "id"));
	json_decref(job);

	pthread_t th;
	if (pipe(wake) != 0 || pthread_create(&th, NULL, read_shell, &rd) != 0) {
		say("tether: cannot start: %s", strerror(errno));
		return EXIT_TETHER;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_winch;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, NULL);
	if (isatty(0))
		say("tether: in %s (exit to end it, ~. to detach)", session);
	term_raw();

	struct escape esc = { 0 };
	int detach = 0, failed = 0, stdin_open = 1;
	for (;;) {
		struct pollfd p[2] = { { wake[0], POLLIN, 0 }, { stdin_open ? 0 : -1, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			char w[16];
			ssize_t got = read(wake[0], w, sizeof w);
			if (got > 0 && memchr(w, 'o', (size_t)got) != NULL)
				break;   /* the shell ended, or its stream failed */
		}
		if (winched) {
			winched = 0;
			window(&rows, &cols);
			tether_shell_resize(x->c, session, rd.job, rows, cols);
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			char buf[4096];
			ssize_t got = read(0, buf, sizeof buf);
			if (got <= 0) {
				/* input ended (not a terminal): end of input for the shell */
				stdin_open = 0;
				if (tether_shell_input(x->c, session, rd.job, "\004", 1) != TETHER_E_OK)
					failed = 1;
			} else {
				int t = typed(x, session, rd.job, &esc, buf, (size_t)got);
				detach = t > 0;
				failed = t < 0;
			}
			if (detach || failed)
				break;
		}
	}
	term_restore();
	if (detach || failed) {
		/* the reader may sit in a long poll: leave it, the shell stays */
		if (detach)
			tether_session_disconnect(x->c, session, NULL);
		else
			say("tether: %s", tether_last_error(x->c));
		say("tether: detached; the shell keeps running in %s", session);
		say("tether: re-attach with: tether enter %s", session);
		fflush(NULL);
		_exit(detach ? 0 : EXIT_TETHER);
	}
	pthread_join(th, NULL);
	if (rd.err == TETHER_E_CONFLICT) {   /* another client took the session */
		say("tether: detached: %s", rd.msg);
		return 0;
	}
	if (rd.err != TETHER_E_OK) {
		say("tether: %s", rd.msg);
		say("tether: the shell may still be running; re-attach with: tether enter %s",
		    session);
		return EXIT_TETHER;
	}
	if (temporary)
		tether_session_remove(x->c, session, NULL);
	return rd.status;
}
