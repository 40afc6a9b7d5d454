/*
 * cmd-session-list.c - tether session list [HOST...]: sessions on the named
 * hosts, or on every host this client is logged in to.
 */
#include <stdio.h>

#include "cmd.h"
#include "targets.h"

static int exec_session_list(struct cmd_ctx *x, int argc, char **argv);

const struct cmd_entry cmd_session_list_entry = {
	"session list", "[HOST... | TARGETS]",
	"list your sessions (on every host you are logged in to if none is named)",
	NULL, exec_session_list,
};

static int exec_session_list(struct cmd_ctx *x, int argc, char **argv)
{
	json_t *hosts = NULL, *all = json_array();
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-') {
			json_decref(all);
			return out_usage(&cmd_session_list_entry, "unknown option %s", argv[i]);
		}
	if (argc == 2 && !fleet_is_single(x, argv[1])) {   /* TARGETS */
		struct fleet_hosts fh = { NULL, 0 };
		struct tether_fleet_req req = { .verb = TETHER_FLEET_SESSION_LIST };
		int rc = fleet_targets(x, &cmd_session_list_entry, argv[1], &fh);
		if (rc == 0)
			rc = fleet_exec(x, &fh, &req, FLEET_PREFIX);
		fleet_hosts_free(&fh);
		json_decref(all);
		return rc;
	}
	if (argc > 1) {
		hosts = json_array();
		for (int i = 1; i < argc; i++)
			json_array_append_new(hosts, json_string(argv[i]));
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
