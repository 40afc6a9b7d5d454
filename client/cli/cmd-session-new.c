/*
 * cmd-session-new.c - tether session new HOST: create a persistent session.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "proto.h"
#include "strparse.h"

static int exec_session_new(struct cmd_ctx *x, int argc, char **argv);

const struct cmd_entry cmd_session_new_entry = {
	"session new", "HOST [--name NAME] [--idle-timeout SECONDS] "
	"[--output-buffering block|drop]",
	"create a session on HOST that outlives this client",
	"  --name NAME              a name unique among your sessions (default SessionN)\n"
	"  --idle-timeout SECONDS   remove the session after this long disconnected\n"
	"                           with nothing running (default 7200)\n"
	"  --output-buffering MODE  block (default) or drop, when output is not received\n",
	exec_session_new,
};

static int exec_session_new(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "output-buffering", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *buffering = NULL;
	uint64_t idle = 0;
	int ch;
	while ((ch = cmd_getopt(&cmd_session_new_entry, argc, argv, "", longopts)) != -1) {
		switch (ch) {
		case 'n': name = optarg; break;
		case 'i':
			if (strparse_u64(optarg, 1, TETHER_IDLE_TIMEOUT_MAX, &idle) != 0)
				return out_usage(&cmd_session_new_entry, "--idle-timeout takes "
				                 "seconds between 1 and %d", TETHER_IDLE_TIMEOUT_MAX);
			break;
		case 'b':
			if (proto_buffering_parse(optarg) < 0)
				return out_usage(&cmd_session_new_entry,
				                 "--output-buffering takes block or drop");
			buffering = optarg;
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return out_usage(&cmd_session_new_entry, "expected exactly one HOST");
	json_t *s = NULL;
	tether_err e = tether_session_new(x->c, argv[optind], name, (int64_t)idle, buffering, &s);
	if (e != TETHER_E_OK)
		return out_fail(x, e);
	if (x->json) {
		out_json(s);
	} else {
		json_t *one = json_pack("[O]", s);
		out_sessions_table(one);
		json_decref(one);
	}
	json_decref(s);
	return 0;
}
