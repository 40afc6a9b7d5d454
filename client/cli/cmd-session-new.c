/*
 * cmd-session-new.c - tether session new HOST: create a persistent session;
 * tether session set SESSION: change its options later. They share the
 * options, so they share this file.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "proto.h"
#include "strparse.h"

static int exec_session_new(struct cmd_ctx *x, const struct args *a);
static int exec_session_set(struct cmd_ctx *x, const struct args *a);

#define BUFFERING_WORD(n, s) s,
static const char *const bufferings[] = { TETHER_OUTPUT_BUFFERING_MAP(BUFFERING_WORD) NULL };

/* Both take the same options (set refuses --name, with a reason). */
static const struct args_opt session_opts[] = {
	{ 0, "name", ARG_VALUE, "NAME", NULL },
	{ 0, "idle-timeout", ARG_VALUE, "SECONDS", NULL },
	{ 0, "output-buffering", ARG_VALUE, "MODE", bufferings },
	{ 0, NULL, 0, NULL, NULL },
};

#define OPTIONS_HELP \
	"  --idle-timeout SECONDS   remove the session after this long disconnected\n" \
	"                           with nothing running (default 7200)\n" \
	"  --output-buffering MODE  what happens when a job's unreceived output\n" \
	"                           reaches the server's cap (default 1 GiB): block\n" \
	"                           (default; the job waits, shown Blocked, until a\n" \
	"                           receive drains it) or drop (the oldest unreceived\n" \
	"                           output is discarded; a receive says how much)\n"

const struct cmd_entry cmd_session_new_entry = {
	"session new", "HOST|TARGETS [--name NAME] [--idle-timeout SECONDS] "
	"[--output-buffering block|drop]",
	"create a session on HOST that outlives this client",
	"  --name NAME              a name unique among your sessions (default SessionN)\n"
	OPTIONS_HELP,
	{ session_opts, 1, 1, "expected exactly one HOST", 0 }, CMD_TARGET_HOST, exec_session_new,
};

const struct cmd_entry cmd_session_set_entry = {
	"session set", "SESSION [--idle-timeout SECONDS] [--output-buffering block|drop]",
	"change a session's options (running jobs follow a new buffering at once)",
	OPTIONS_HELP,
	{ session_opts, 1, 1, "expected exactly one SESSION", 0 }, CMD_TARGET_NONE, exec_session_set,
};

/* The idle timeout given (0 if none) into *idle; 0, or -1 after a usage error. */
static int idle_timeout(const struct cmd_entry *ce, const struct args *a, uint64_t *idle)
{
	const char *v = args_get(a, "idle-timeout");
	*idle = 0;
	if (v != NULL && strparse_u64(v, 1, TETHER_IDLE_TIMEOUT_MAX, idle) != 0) {
		out_usage(ce, "--idle-timeout takes seconds between 1 and %d", TETHER_IDLE_TIMEOUT_MAX);
		return -1;
	}
	return 0;
}

static int exec_session_new(struct cmd_ctx *x, const struct args *a)
{
	const struct cmd_entry *ce = &cmd_session_new_entry;
	const char *name = args_get(a, "name"), *buffering = args_get(a, "output-buffering");
	uint64_t idle;
	if (idle_timeout(ce, a, &idle) != 0)
		return EXIT_USAGE;
	if (x->target.fleet) {   /* TARGETS: the session NAME on each */
		if (name == NULL)
			return out_usage(ce, "a session on several hosts needs --name, the name it "
			                 "is addressed by (TARGETS/NAME)");
		int rc = fleet_target_hosts(ce, &x->target);
		if (rc != 0)
			return rc;
		struct tether_fleet_req req = { .verb = TETHER_FLEET_SESSION_NEW, .session = name,
		                                .idle_timeout = (int64_t)idle,
		                                .buffering = buffering };
		return fleet_exec(x, &x->target.hosts, &req, FLEET_PREFIX);
	}
	json_t *s = NULL;
	tether_err e = tether_session_new(x->c, a->argv[0], name, (int64_t)idle, buffering, &s);
	return out_result(x, e, s, out_sessions_table);
}

static int exec_session_set(struct cmd_ctx *x, const struct args *a)
{
	const struct cmd_entry *ce = &cmd_session_set_entry;
	const char *buffering = args_get(a, "output-buffering");
	uint64_t idle;
	if (args_has(a, "name"))
		return out_usage(ce, "a session's name cannot be changed");
	if (idle_timeout(ce, a, &idle) != 0)
		return EXIT_USAGE;
	if (idle == 0 && buffering == NULL)
		return out_usage(ce, "nothing to change: give --idle-timeout or --output-buffering");
	json_t *s = NULL;
	tether_err e = tether_session_set(x->c, a->argv[0], (int64_t)idle, buffering, &s);
	return out_result(x, e, s, out_sessions_table);
}
