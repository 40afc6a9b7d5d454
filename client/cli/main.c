/*
 * main.c - tether: find the command, handle the global flags, parse the
 * rest by the command's spec (args.c) and expand its TARGETS, run it.
 *
 * Commands are one or two words ("login", "session new"). --json and
 * -h/--help are accepted anywhere before a "--" (after it everything belongs
 * to the remote command).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-int.h"
#include "cmd.h"
#include "control.h"
#include "hostconfig.h"
#include "proto.h"

static const struct cmd_entry *const commands[] = {
	&cmd_login_entry,
	&cmd_logout_entry,
	&cmd_session_new_entry,
	&cmd_session_set_entry,
	&cmd_session_list_entry,
	&cmd_session_remove_entry,
	&cmd_session_connect_entry,
	&cmd_session_disconnect_entry,
	&cmd_session_receive_entry,
	&cmd_enter_entry,
	&cmd_invoke_entry,
	&cmd_copy_entry,
	&cmd_job_start_entry,
	&cmd_job_list_entry,
	&cmd_job_receive_entry,
	&cmd_job_wait_entry,
	&cmd_job_stop_entry,
	&cmd_job_remove_entry,
	&cmd_transfer_start_entry,
	&cmd_transfer_list_entry,
	&cmd_transfer_wait_entry,
	&cmd_transfer_show_entry,
	&cmd_transfer_complete_entry,
	&cmd_transfer_suspend_entry,
	&cmd_transfer_resume_entry,
	&cmd_transfer_remove_entry,
	&cmd_transfer_set_entry,
	&cmd_targets_entry,
	&cmd_control_check_entry,
	&cmd_control_stop_entry,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The general help. */
static void usage(FILE *f)
{
	fprintf(f, "usage: tether COMMAND [ARGS] [--json] [--inventory FILE] [-v] [-h]\n\n"
	        "Persistent remote sessions and jobs over TLS. Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-18s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\nHOST is [USER@]NAME[:PORT] (default port %d); SESSION is HOST/NAME "
	        "or HOST/ID.\nTARGETS (fleets): HOST,HOST..., ranges web[01-40], @GROUP of the "
	        "inventory,\n@FILE; TARGETS/NAME is session NAME on each (docs/fleet.md).\n"
	        "Client state: $TETHER_HOME (default ~/.config/tether and "
	        "~/.local/state/tether).\nTETHER_CONTROL_PERSIST=SECONDS: later commands "
	        "share one warm control master\n(like ssh's ControlPersist; docs/cli.md).\n"
	        "-v, --verbose: how each connection and request "
	        "went, on stderr\n(TLS, the server's key, timings; never a secret).\n"
	        "Run 'tether COMMAND --help' for a command's options.\n", TETHER_DEFAULT_PORT);
}

/* Find the command named by argv[1] (and argv[2]); sets *words used. */
static const struct cmd_entry *lookup(int argc, char **argv, int *words)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *n = commands[i]->name;
		const char *sp = strchr(n, ' ');
		if (sp == NULL && strcmp(argv[1], n) == 0) {
			*words = 1;
			return commands[i];
		}
		if (sp != NULL && argc > 2 && strncmp(argv[1], n, (size_t)(sp - n)) == 0 &&
		    argv[1][sp - n] == '\0' && strcmp(argv[2], sp + 1) == 0) {
			*words = 2;
			return commands[i];
		}
	}
	return NULL;
}

/* Expand what the entry names as its TARGETS (-s, or the operand when it
 * is the only one) into x->target, once. */
static void expand_target(struct cmd_ctx *x, const struct cmd_entry *ce, const struct args *a)
{
	if (ce->target == CMD_TARGET_SESSION_OPTION) {
		const char *session = args_get(a, "session");
		if (session != NULL)
			fleet_target_session(x, &x->target, session, false);
		return;
	}
	if (a->argc != 1)
		return;
	switch (ce->target) {
	case CMD_TARGET_HOST:
		fleet_target_expand(x, &x->target, a->argv[0]);
		break;
	case CMD_TARGET_SESSION:
		fleet_target_session(x, &x->target, a->argv[0], false);
		break;
	case CMD_TARGET_HOST_NAME:
		fleet_target_session(x, &x->target, a->argv[0], true);
		break;
	case CMD_TARGET_NONE:
	case CMD_TARGET_SESSION_OPTION:
		break;
	}
}

/* How long a control master should stay (docs/cli.md, "Connection
 * sharing"): $TETHER_CONTROL_PERSIST, else the configuration's
 * ControlPersist. 0, or -1 (said on stderr) for a malformed variable. */
static int control_persist(const tether_client *c, long *secs)
{
	const char *v = getenv("TETHER_CONTROL_PERSIST");
	*secs = c->control_persist;
	if (v == NULL || v[0] == '\0' || hostconfig_persist(v, secs) == 0)
		return 0;
	fprintf(stderr, "tether: TETHER_CONTROL_PERSIST must be 'no' or a number of seconds "
	        "(1-86400), not '%.40s'\n", v);
	return -1;
}

/* See cmd.h. */
int cli_main(int argc, char **argv)
{
	struct cmd_ctx x = { 0 };
	int help = 0, words = 0;
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("tether %s (API v%d)\n", TETHER_VERSION, TETHER_API_VERSION);
		return 0;
	}
	const struct cmd_entry *ce = lookup(argc, argv, &words);
	if (ce == NULL) {
		fprintf(stderr, "tether: unknown command '%s%s%s'\n", argv[1],
		        argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
		usage(stderr);
		return EXIT_USAGE;
	}
	/* strip global flags (before any "--") into x, keep the rest */
	char **args = calloc((size_t)argc + 1, sizeof *args);
	int nargs = 0;
	if (args == NULL) {
		fprintf(stderr, "tether: out of memory\n");
		return EXIT_TETHER;
	}
	args[nargs++] = argv[0];
	int dashdash = 0, verbose = 0;
	for (int i = 1 + words; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--json") == 0)
			x.json = 1;
		else if (!dashdash && (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0))
			verbose = 1;
		else if (!dashdash && strcmp(argv[i], "--inventory") == 0 && i + 1 < argc)
			x.inventory = argv[++i];
		else if (!dashdash && strncmp(argv[i], "--inventory=", 12) == 0)
			x.inventory = argv[i] + 12;
		else if (!dashdash && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0))
			help = 1;
		else
			args[nargs++] = argv[i];
		if (strcmp(argv[i], "--") == 0)
			dashdash = 1;
	}
	args[nargs] = NULL;
	if (help) {
		printf("usage: tether %s %s\n\n%s\n", ce->name, ce->usage, ce->summary);
		if (ce->help)
			printf("\n%s", ce->help);
		free(args);
		return 0;
	}
	struct args a;
	char err[600];
	int rc;
	if (args_parse(&ce->args, nargs, args, &a, err, sizeof err) != 0) {
		rc = out_usage(ce, "%s", err);
	} else {
		tether_err e = tether_client_new(&x.c);
		long persist = 0;
		if (e != TETHER_E_OK) {
			rc = out_fail(&x, e);
		} else if (control_persist(x.c, &persist) != 0) {
			rc = EXIT_USAGE;
		} else {
			tether_client_set_verbose(x.c, verbose);
			if (ctl_shareable(argv[1]))
				control_spawn(persist);
			expand_target(&x, ce, &a);
			rc = ce->exec(&x, &a);
		}
	}
	fleet_target_free(&x.target);
	tether_client_free(x.c);
	args_free(&a);
	free(args);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "__control") == 0)
		return control_master(argv[2]);
	return cli_main(argc, argv);
}
