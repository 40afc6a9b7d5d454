/*
 * cmd-session-connect.c, -disconnect, -receive: the session lifecycle verbs.
 * (Three small descriptors share this file because they share one shape.)
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static int exec_connect(struct cmd_ctx *x, int argc, char **argv);
static int exec_disconnect(struct cmd_ctx *x, int argc, char **argv);

const struct cmd_entry cmd_session_connect_entry = {
	"session connect", "SESSION... [--force]",
	"attach this client to sessions (--force takes them from another client)",
	NULL, exec_connect,
};

const struct cmd_entry cmd_session_disconnect_entry = {
	"session disconnect", "SESSION...",
	"detach from sessions, leaving everything in them running", NULL, exec_disconnect,
};

/* Run connect or disconnect over every SESSION argument. */
static int each_session(struct cmd_ctx *x, const struct cmd_entry *ce, int argc,
                        char **argv, int connect)
{
	int force = 0, n = 0;
	for (int i = 1; i < argc; i++) {
		if (connect && strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (argv[i][0] == '-')
			return out_usage(ce, "unknown option %s", argv[i]);
		else
			n++;
	}
	if (n == 0)
		return out_usage(ce, "expected at least one SESSION");
	struct tether_fleet_req req = { .force = force };
	int rc;
	if (n == 1 && fleet_session_verb(x, ce, argv[argc - 1][0] != '-' ? argv[argc - 1]
	                                 : argv[1], connect ? TETHER_FLEET_SESSION_CONNECT
	                                 : TETHER_FLEET_SESSION_DISCONNECT, &req, &rc))
		return rc;
	json_t *all = json_array();
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		json_t *s = NULL;
		tether_err e = connect ? tether_session_connect(x->c, argv[i], force, &s)
		                       : tether_session_disconnect(x->c, argv[i], &s);
		if (e != TETHER_E_OK) {
			out_fail_multi(x, e);
			continue;
		}
		json_array_append_new(all, s);
	}
	rc = out_finish_multi(x, all, out_sessions_table);
	json_decref(all);
	return rc;
}

static int exec_connect(struct cmd_ctx *x, int argc, char **argv)
{
	return each_session(x, &cmd_session_connect_entry, argc, argv, 1);
}

static int exec_disconnect(struct cmd_ctx *x, int argc, char **argv)
{
	return each_session(x, &cmd_session_disconnect_entry, argc, argv, 0);
}
