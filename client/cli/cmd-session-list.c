/*
 * cmd-session-list.c - tether session list [HOST...]: sessions on the named
 * hosts, or on every host this client is logged in to.
 */
#include <stdio.h>

#include "cmd.h"

#define LIST_PAGE 2000   /* sessions per request for a table */
#define TABLE_FIELDS "id,name,state,availability,idle_timeout"   /* its columns */

static int exec_session_list(struct cmd_ctx *x, const struct args *a);

static const struct args_opt list_opts[] = {
	{ 0, "all-users", 0, NULL, NULL },
	{ 0, NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_session_list_entry = {
	"session list", "[HOST... | TARGETS] [--all-users]",
	"list your sessions (on every host you are logged in to if none is named)",
	"  --all-users             every user's sessions, with an OWNER column\n"
	"                          (administrators only); address another user's\n"
	"                          session as HOST/ID with the --all-users verbs\n",
	{ list_opts, 0, -1, NULL, 0 }, CMD_TARGET_HOST, exec_session_list,
};

static int exec_session_list(struct cmd_ctx *x, const struct args *a)
{
	json_t *hosts = NULL, *all;
	bool all_users = args_has(a, "all-users");
	if (x->target.fleet && all_users)
		return out_usage(&cmd_session_list_entry, "--all-users takes HOSTs, not TARGETS");
	tether_set_all_users(x->c, all_users);
	if (x->target.fleet) {   /* TARGETS */
		struct tether_fleet_req req = { .verb = TETHER_FLEET_SESSION_LIST };
		int rc = fleet_target_hosts(&cmd_session_list_entry, &x->target);
		return rc != 0 ? rc : fleet_exec(x, &x->target.hosts, &req, FLEET_PREFIX);
	}
	if (a->argc > 0) {
		hosts = json_array();
		for (int i = 0; i < a->argc; i++)
			json_array_append_new(hosts, json_string(a->argv[i]));
	} else {
		tether_hosts(x->c, &hosts);
	}
	/* a table is printed a page at a time, as the pages come: no list of
	 * every session is held (--json is one document: it is) */
	all = json_array();
	bool header = false;
	size_t i;
	json_t *h;
	json_array_foreach(hosts, i, h) {
		int64_t after = 0, next;
		do {
			json_t *list = NULL;
			/* a table asks for its columns only: a third of the bytes to parse */
			tether_err e = tether_session_list_page(x->c, json_string_value(h), after,
			                                        x->json ? 0 : LIST_PAGE,
			                                        x->json ? NULL : all_users
			                                        ? TABLE_FIELDS ",owner" : TABLE_FIELDS,
			                                        &list, &next);
			if (e != TETHER_E_OK) {
				/* keep listing the other hosts; fail the command at the end */
				out_fail_multi(x, e);
				break;
			}
			if (x->json)
				json_array_extend(all, list);
			else
				out_sessions_rows(list, all_users, &header);
			json_decref(list);
			after = next;
		} while (after > 0);
	}
	if (!x->json && !header)
		fprintf(stderr, "no sessions\n");   /* a note, not a row: stdout stays empty */
	int rc = out_finish_multi(x, all, NULL);
	json_decref(all);
	json_decref(hosts);
	return rc;
}
