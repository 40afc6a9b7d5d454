/*
 * cmd-session-receive.c - tether session receive SESSION: connect if needed
 * and stream what the session's latest command produced, from where the
 * last receiver stopped, until it ends; exit with its status.
 */
#include <stdio.h>

#include "cmd.h"

static int exec_receive(struct cmd_ctx *x, const struct args *a);

const struct cmd_entry cmd_session_receive_entry = {
	"session receive", "SESSION",
	"output of what ran while disconnected (connects if needed)", NULL,
	{ NULL, 1, 1, "expected exactly one SESSION", 0 }, CMD_TARGET_SESSION, exec_receive,
};

static int exec_receive(struct cmd_ctx *x, const struct args *a)
{
	struct tether_fleet_req req = { 0 };
	int rc;
	if (fleet_session_verb(x, &cmd_session_receive_entry, &x->target, TETHER_FLEET_RECEIVE,
	                       &req, &rc))
		return rc;
	struct stream_out so;
	stream_out_init(&so, x);
	int status = 0;
	json_t *job = NULL;
	tether_err e = tether_session_receive(x->c, a->argv[0], &so.cb, &status, &job);
	return stream_out_done(x, &so, e, status, job);
}
