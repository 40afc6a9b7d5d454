/*
 * cmd-session-new.c - tether session new HOST: create a persistent session;
 * tether session set SESSION: change its options later. They share the
 * options, so they share this file.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "proto.h"
#include "strparse.h"
#include "targets.h"

static int exec_session_new(struct cmd_ctx *x, int argc, char **argv);
static int exec_session_set(struct cmd_ctx *x, int argc, char **argv);

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
	exec_session_new,
};

const struct cmd_entry cmd_session_set_entry = {
	"session set", "SESSION [--idle-timeout SECONDS] [--output-buffering block|drop]",
	"change a session's options (running jobs follow a new buffering at once)",
	OPTIONS_HELP,
	exec_session_set,
};

struct session_opts {
	const char *name, *buffering;
	uint64_t    idle;
};

/* Shared parsing; returns optind, or -1 after a usage message. */
static int parse(const struct cmd_entry *ce, int argc, char **argv, struct session_opts *o)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "output-buffering", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof *o);
	int ch;
	while ((ch = cmd_getopt(ce, argc, argv, "", longopts)) != -1) {
		switch (ch) {
		case 'n':
			if (ce != &cmd_session_new_entry) {
				out_usage(ce, "a session's name cannot be changed");
				return -1;
			}
			o->name = optarg;
			break;
		case 'i':
			if (strparse_u64(optarg, 1, TETHER_IDLE_TIMEOUT_MAX, &o->idle) != 0) {
				out_usage(ce, "--idle-timeout takes seconds between 1 and %d",
				          TETHER_IDLE_TIMEOUT_MAX);
				return -1;
			}
			break;
		case 'b':
			if (proto_buffering_parse(optarg) < 0) {
				out_usage(ce, "--output-buffering takes block or drop");
				return -1;
			}
			o->buffering = optarg;
			break;
		default: return -1;
		}
	}
	if (optind != argc - 1) {
		out_usage(ce, ce == &cmd_session_new_entry ? "expected exactly one HOST"
		                                           : "expected exactly one SESSION");
		return -1;
	}
	return optind;
}

static int exec_session_new(struct cmd_ctx *x, int argc, char **argv)
{
	struct session_opts o;
	int i = parse(&cmd_session_new_entry, argc, argv, &o);
	if (i < 0)
		return EXIT_USAGE;
	if (!fleet_is_single(x, argv[i])) {   /* TARGETS: the session NAME on each */
		struct fleet_hosts hosts = { NULL, 0 };
		if (o.name == NULL)
			return out_usage(&cmd_session_new_entry, "a session on several hosts needs "
			                 "--name, the name it is addressed by (TARGETS/NAME)");
		int rc = fleet_targets(x, &cmd_session_new_entry, argv[i], &hosts);
		if (rc != 0)
			return rc;
		struct tether_fleet_req req = { .verb = TETHER_FLEET_SESSION_NEW,
		                                .session = o.name, .idle_timeout = (int64_t)o.idle,
		                                .buffering = o.buffering };
		rc = fleet_exec(x, &hosts, &req, FLEET_PREFIX);
		fleet_hosts_free(&hosts);
		return rc;
	}
	json_t *s = NULL;
	tether_err e = tether_session_new(x->c, argv[i], o.name, (int64_t)o.idle, o.buffering, &s);
	return out_result(x, e, s, out_sessions_table);
}

static int exec_session_set(struct cmd_ctx *x, int argc, char **argv)
{
	struct session_opts o;
	int i = parse(&cmd_session_set_entry, argc, argv, &o);
	if (i < 0)
		return EXIT_USAGE;
	if (o.idle == 0 && o.buffering == NULL)
		return out_usage(&cmd_session_set_entry,
		                 "nothing to change: give --idle-timeout or --output-buffering");
	json_t *s = NULL;
	tether_err e = tether_session_set(x->c, argv[i], (int64_t)o.idle, o.buffering, &s);
	return out_result(x, e, s, out_sessions_table);
}
