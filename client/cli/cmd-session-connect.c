/*
 * cmd-session-connect.c, -disconnect: attach to sessions and detach from
 * them. (Two small descriptors share this file because they share one shape.)
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static int exec_connect(struct cmd_ctx *x, const struct args *a);
static int exec_disconnect(struct cmd_ctx *x, const struct args *a);

static const struct args_opt connect_opts[] = {
	{ 0, "force", 0, NULL, NULL },
	{ 0, NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_session_connect_entry = {
	"session connect", "SESSION... [--force]",
	"attach this client to sessions (--force takes them from another client)",
	NULL, { connect_opts, 1, -1, "expected at least one SESSION", 0 }, CMD_TARGET_SESSION,
	exec_connect,
};

const struct cmd_entry cmd_session_disconnect_entry = {
	"session disconnect", "SESSION...",
	"detach from sessions, leaving everything in them running", NULL,
	{ NULL, 1, -1, "expected at least one SESSION", 0 }, CMD_TARGET_SESSION, exec_disconnect,
};

/* Run connect or disconnect over every SESSION argument. */
static int each_session(struct cmd_ctx *x, const struct cmd_entry *ce, const struct args *a,
                        int connect)
{
	int force = connect && args_has(a, "force"), rc;
	struct tether_fleet_req req = { .force = force };
	if (fleet_session_verb(x, ce, &x->target, connect ? TETHER_FLEET_SESSION_CONNECT
	                       : TETHER_FLEET_SESSION_DISCONNECT, &req, &rc))
		return rc;
	json_t *all = json_array();
	for (int i = 0; i < a->argc; i++) {
		json_t *s = NULL;
		tether_err e = connect ? tether_session_connect(x->c, a->argv[i], force, &s)
		                       : tether_session_disconnect(x->c, a->argv[i], &s);
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

static int exec_connect(struct cmd_ctx *x, const struct args *a)
{
	return each_session(x, &cmd_session_connect_entry, a, 1);
}

static int exec_disconnect(struct cmd_ctx *x, const struct args *a)
{
	return each_session(x, &cmd_session_disconnect_entry, a, 0);
}
