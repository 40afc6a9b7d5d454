/*
 * cmd-session-remove.c - tether session remove SESSION...: close sessions and
 * delete their state.
 */
#include <stdio.h>

#include "cmd.h"

static int exec_session_remove(struct cmd_ctx *x, const struct args *a);

const struct cmd_entry cmd_session_remove_entry = {
	"session remove", "SESSION...",
	"remove sessions (SESSION is HOST/NAME, HOST/ID or TARGETS/NAME)", NULL,
	{ NULL, 1, -1, "expected at least one SESSION", 0 }, CMD_TARGET_SESSION,
	exec_session_remove,
};

/* Remove one SESSION (out_each_fn), saying so in a table-less run. */
static tether_err remove_one(struct cmd_ctx *x, void *ctx, const char *session, json_t **s)
{
	(void)ctx;
	tether_err e = tether_session_remove(x->c, session, s);
	if (e == TETHER_E_OK && !x->json)
		printf("removed %s\n", session);
	return e;
}

static int exec_session_remove(struct cmd_ctx *x, const struct args *a)
{
	struct tether_fleet_req req = { 0 };
	int rc;
	if (fleet_session_verb(x, &cmd_session_remove_entry, &x->target,
	                       TETHER_FLEET_SESSION_REMOVE, &req, &rc))
		return rc;
	return out_each(x, a, remove_one, NULL, NULL);
}
