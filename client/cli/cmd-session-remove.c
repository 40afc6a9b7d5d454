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

static int exec_session_remove(struct cmd_ctx *x, const struct args *a)
{
	struct tether_fleet_req req = { 0 };
	int rc;
	if (fleet_session_verb(x, &cmd_session_remove_entry, &x->target,
	                       TETHER_FLEET_SESSION_REMOVE, &req, &rc))
		return rc;
	json_t *removed = json_array();
	for (int i = 0; i < a->argc; i++) {
		json_t *s = NULL;
		tether_err e = tether_session_remove(x->c, a->argv[i], &s);
		if (e != TETHER_E_OK) {
			out_fail_multi(x, e);
			continue;
		}
		if (!x->json)
			printf("removed %s\n", a->argv[i]);
		json_array_append_new(removed, s);
	}
	rc = out_finish_multi(x, removed, NULL);
	json_decref(removed);
	return rc;
}
