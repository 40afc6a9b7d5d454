/*
 * cmd-logout.c - tether logout HOST: revoke and forget the token.
 */
#include <stdio.h>

#include "cmd.h"

static int exec_logout(struct cmd_ctx *x, const struct args *a);

const struct cmd_entry cmd_logout_entry = {
	"logout", "HOST", "revoke this client's token for HOST and forget it", NULL,
	{ NULL, 1, 1, "expected exactly one HOST", 0 }, CMD_TARGET_NONE, exec_logout,
};

static int exec_logout(struct cmd_ctx *x, const struct args *a)
{
	const char *host = a->argv[0];
	tether_err e = tether_logout(x->c, host);
	if (e != TETHER_E_OK)
		return out_fail(x, e);
	if (x->json) {
		json_t *doc = json_pack("{s:s,s:b}", "host", host, "logged_out", 1);
		out_json(doc);
		json_decref(doc);
	} else {
		printf("logged out of %s\n", host);
	}
	return 0;
}
