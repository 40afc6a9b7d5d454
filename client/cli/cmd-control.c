/*
 * cmd-control.c - tether control check|stop: whether this client state
 * directory's control master runs, and stopping it (docs/cli.md,
 * "Connection sharing"; ssh -O check and -O exit). These run in the full
 * client, never in the master (control.h, ctl_shareable).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client-int.h"
#include "cmd.h"
#include "control.h"

#define STOP_WAIT_MS 10000   /* for the master to finish its commands and go */

static int exec_check(struct cmd_ctx *x, const struct args *a);
static int exec_stop(struct cmd_ctx *x, const struct args *a);

const struct cmd_entry cmd_control_check_entry = {
	"control check", "", "say whether a control master runs (exit 1 if none)", NULL,
	{ NULL, 0, 0, "expected no operands", 0 }, CMD_TARGET_NONE, exec_check,
};

const struct cmd_entry cmd_control_stop_entry = {
	"control stop", "", "stop the control master once its commands end (exit 1 if none)",
	NULL, { NULL, 0, 0, "expected no operands", 0 }, CMD_TARGET_NONE, exec_stop,
};

/* The running master's pid, or 0 if none answers on its socket (the
 * lock file's pid is that master's: it writes it, holding the lock, before
 * it listens). Asked without taking the lock, which a master starting at
 * the same moment would then miss. */
static pid_t master_pid(const tether_client *c)
{
	char path[BOUND_PATH + 16], text[32];
	snprintf(path, sizeof path, "%s/%s", c->state_dir, CTL_LOCK);
	int fd = ctl_answers(c->state_dir) ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	long v = strtol(text, NULL, 10);
	return v > 1 ? (pid_t)v : 0;
}

static int report(struct cmd_ctx *x, pid_t pid, const char *what)
{
	if (x->json) {
		json_t *doc = pid ? json_pack("{s:b,s:I}", "running", 1, "pid", (json_int_t)pid)
		                  : json_pack("{s:b}", "running", 0);
		out_json(doc);
		json_decref(doc);
	} else if (pid) {
		printf("%s (pid %ld)\n", what, (long)pid);
	} else {
		fprintf(stderr, "tether: no control master runs for %s\n", x->c->state_dir);
	}
	return pid ? 0 : 1;
}

static int exec_check(struct cmd_ctx *x, const struct args *a)
{
	(void)a;
	return report(x, master_pid(x->c), "control master running");
}

static int exec_stop(struct cmd_ctx *x, const struct args *a)
{
	(void)a;
	pid_t pid = master_pid(x->c);
	if (pid == 0 || kill(pid, SIGTERM) != 0)
		return report(x, 0, "");
	/* it stops taking commands at once, and leaves when they end */
	for (int waited = 0; waited < STOP_WAIT_MS && master_pid(x->c) == pid; waited += 20) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return report(x, pid, master_pid(x->c) == pid ? "control master stopping, commands "
	              "still running" : "control master stopped");
}
