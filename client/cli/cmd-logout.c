/*
 * cmd-logout.c - tether logout HOST: revoke and forget the token.
 */
#include <stdio.h>

#include "cmd.h"

static int exec_logout(struct cmd_ctx *x, int argc, char **argv);

const struct cmd_entry cmd_logout_entry = {
	"logout", "HOST", "revoke this client's token for HOST and forget it", NULL,
	exec_logout,
};

static int exec_logout(struct cmd_ctx *x, int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return out_usage(&cmd_logout_entry, "expected exactly one HOST");
	tether_err e = tether_logout(x->c, argv[1]);
	if (e != TETHER_E_OK)
		return out_fail(x, e);
	if (x->json) {
		json_t *doc = json_pack("{s:s,s:b}", "host", argv[1], "logged_out", 1);
		out_json(doc);
		json_decref(doc);
	} else {
		printf("logged out of %s\n", argv[1]);
	}
	return 0;
}
