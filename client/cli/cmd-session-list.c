/*
 * cmd-session-list.c - tether session list [HOST...]: sessions on the named
 * hosts, or on every host this client is logged in to.
 */
#include <stdio.h>

#include "cmd.h"

static int exec_session_list(struct cmd_ctx *x, const struct args *a);

const struct cmd_entry cmd_session_list_entry = {
	"session list", "[HOST... | TARGETS]",
	"list your sessions (on every host you are logged in to if none is named)",
	NULL, { NULL, 0, -1, NULL, 0 }, CMD_TARGET_HOST, exec_session_list,
};

static int exec_session_list(struct cmd_ctx *x, const struct args *a)
{
	json_t *hosts = NULL, *all;
	if (x->target.fleet) {   /* TARGETS */
		struct tether_fleet_req req = { .verb = TETHER_FLEET_SESSION_LIST };
		int rc = fleet_target_hosts(&cmd_session_list_entry, &x->target);
		return rc != 0 ? rc : fleet_exec(x, &x->target.hosts, &req, FLEET_PREFIX);
	}
	all = json_array();
	if (a->argc > 0) {
		hosts = json_array();
		for (int i = 0; i < a->argc; i++)
			json_array_append_new(hosts, json_string(a->argv[i]));
	} else {
		tether_hosts(x->c, &hosts);
	}
	size_t i;
	json_t *h;
	json_array_foreach(hosts, i, h) {
		json_t *list = NULL;
		tether_err e = tether_session_list(x->c, json_string_value(h), &list);
		if (e != TETHER_E_OK) {
			/* keep listing the other hosts; fail the command at the end */
			out_fail_multi(x, e);
			continue;
		}
		json_array_extend(all, list);
		json_decref(list);
	}
	int rc = out_finish_multi(x, all, out_sessions_table);
	json_decref(all);
	json_decref(hosts);
	return rc;
}
