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

/* Connect (ctx: &force) or disconnect (ctx: NULL) one SESSION (out_each_fn). */
static tether_err connect_one(struct cmd_ctx *x, void *ctx, const char *session, json_t **s)
{
	const int *force = ctx;
	return force ? tether_session_connect(x->c, session, *force, s)
	             : tether_session_disconnect(x->c, session, s);
}

/* Run connect or disconnect over every SESSION argument. */
static int each_session(struct cmd_ctx *x, const struct cmd_entry *ce, const struct args *a,
                        int connect)
{
	int force = connect && args_has(a, "force"), rc;
	struct tether_fleet_req req = { .force = force };
	if (fleet_session_verb(x, ce, &x->target, connect ? TETHER_FLEET_SESSION_CONNECT
	                       : TETHER_FLEET_SESSION_DISCONNECT, &req, &rc))
		return rc;
	return out_each(x, a, connect_one, connect ? &force : NULL, out_sessions_table);
}

static int exec_connect(struct cmd_ctx *x, const struct args *a)
{
	return each_session(x, &cmd_session_connect_entry, a, 1);
}

static int exec_disconnect(struct cmd_ctx *x, const struct args *a)
{
	return each_session(x, &cmd_session_disconnect_entry, a, 0);
}
