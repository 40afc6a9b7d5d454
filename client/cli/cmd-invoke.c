/*
 * cmd-invoke.c - tether invoke -s SESSION -- COMMAND...: run a command in a
 * persistent session and stream its output; exit with its status.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "cmd.h"

static int exec_invoke(struct cmd_ctx *x, int argc, char **argv);

const struct cmd_entry cmd_invoke_entry = {
	"invoke", "-s SESSION -- COMMAND...",
	"run a command in a session's saved shell state, streaming its output",
	"  -s, --session SESSION   the session (HOST/NAME or HOST/ID), connected by\n"
	"                          this client\n"
	"COMMAND runs with bash; its words are joined with spaces (as ssh does).\n"
	"cd, variables, functions and aliases persist to the next invoke.\n"
	"Ctrl-C interrupts the remote command (twice: kills it). The exit status is\n"
	"the command's, 128+N if a signal N killed it, 255 if tether failed.\n",
	exec_invoke,
};

static int exec_invoke(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "session", required_argument, NULL, 's' },
		{ "hosts", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *session = NULL;
	int ch;
	while ((ch = cmd_getopt(&cmd_invoke_entry, argc, argv, "+s:H:", longopts)) != -1) {
		switch (ch) {
		case 's': session = optarg; break;
		case 'H':
			return out_usage(&cmd_invoke_entry, "-H (temporary sessions and fleets) "
			                 "is not implemented yet; use -s SESSION");
		default: return EXIT_USAGE;
		}
	}
	if (session == NULL)
		return out_usage(&cmd_invoke_entry, "-s SESSION is required");
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		return out_usage(&cmd_invoke_entry, "no COMMAND given");
	struct buf cmd;
	buf_init(&cmd, BOUND_BODY_COMMAND - 1024);
	for (int i = optind; i < argc; i++)
		if (buf_printf(&cmd, "%s%s", i > optind ? " " : "", argv[i]) != 0) {
			buf_free(&cmd);
			return out_usage(&cmd_invoke_entry, "COMMAND is too long");
		}
	struct stream_out so;
	stream_out_init(&so, x);
	int status = 0;
	json_t *job = NULL;
	tether_err e = tether_invoke(x->c, session, buf_cstr(&cmd), &so.cb, &status, &job);
	buf_free(&cmd);
	if (e != TETHER_E_OK) {
		so.json = 0;
		stream_out_finish(&so, 0, NULL);
		return out_fail(x, e);
	}
	stream_out_finish(&so, status, job);
	json_decref(job);
	return status;
}
