/*
 * cmd-targets.c - tether targets TARGETS...: show the hosts TARGETS names
 * (what ClusterShell's nodeset -e and -f are), to check a nodeset, a group
 * or an inventory before a fleet command uses it. Nothing is contacted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "targets.h"

static int exec_targets(struct cmd_ctx *x, const struct args *a);

static const struct args_opt targets_opts[] = {
	{ 'i', "inventory", ARG_VALUE, "FILE", NULL },
	{ 'f', "fold", 0, NULL, NULL },
	{ 0, NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_targets_entry = {
	"targets", "TARGETS... [--inventory FILE] [--fold]",
	"show the hosts TARGETS names (nodesets, @GROUP, @FILE), without contacting them",
	"  TARGETS                 comma-separated (several arguments add up): HOST,\n"
	"                          ranges such as web[01-40] or rack[1-3]-n[01-16],\n"
	"                          @GROUP of the inventory, @PATH (a file, one host\n"
	"                          per line) when PATH holds a '/'\n"
	"  -i, --inventory FILE    the Ansible INI inventory for @GROUP (default\n"
	"                          $TETHER_INVENTORY, else $TETHER_HOME/inventory)\n"
	"  -f, --fold              print the hosts folded into one nodeset\n"
	"                          (web[01-03,07],db1), as nodeset -f does\n"
	"Prints one host per line: its name, and the address tether connects to\n"
	"when the inventory gives another (ansible_host=, ansible_port=). With\n"
	"--json: [{\"host\": NAME, \"address\": ADDR}, ...], or with --fold\n"
	"{\"nodeset\": ..., \"count\": N}. A malformed TARGETS exits 2.\n",
	{ targets_opts, 1, -1, "no TARGETS given", 0 }, CMD_TARGET_NONE, exec_targets,
};

/* Print the folded nodeset; 0 or the exit status of a failure. */
static int print_fold(struct cmd_ctx *x, const struct fleet_hosts *h)
{
	char **names = calloc(h->n, sizeof *names), *folded = NULL;

	if (names == NULL) {
		fprintf(stderr, "tether: out of memory\n");
		return EXIT_TETHER;
	}
	for (size_t i = 0; i < h->n; i++)
		names[i] = h->v[i].name;
	int rc = nodeset_fold(names, h->n, &folded);
	free(names);
	if (rc < 0) {
		fprintf(stderr, "tether: out of memory\n");
		return EXIT_TETHER;
	}
	if (x->json) {
		json_t *doc = json_pack("{s:s,s:I}", "nodeset", folded, "count",
		                        (json_int_t)h->n);
		out_json(doc);
		json_decref(doc);
	} else {
		printf("%s\n", folded);
	}
	free(folded);
	return 0;
}

static int exec_targets(struct cmd_ctx *x, const struct args *a)
{
	const char *inventory = args_get(a, "inventory");   /* -i, or the global --inventory */
	if (inventory == NULL)
		inventory = x->inventory;
	struct buf spec;
	buf_init(&spec, 1024 * 1024);
	for (int i = 0; i < a->argc; i++)
		if (buf_printf(&spec, "%s%s", i > 0 ? "," : "", a->argv[i]) != 0) {
			buf_free(&spec);
			return out_usage(&cmd_targets_entry, "TARGETS is too long");
		}
	struct fleet_hosts h;
	char err[512];
	int rc = targets_expand(buf_cstr(&spec), inventory, tether_client_config_dir(x->c), &h,
	                        err, sizeof err);
	buf_free(&spec);
	if (rc < 0) {
		fprintf(stderr, "tether: %s\n", err);
		return EXIT_USAGE;
	}
	if (args_has(a, "fold")) {
		rc = print_fold(x, &h);
	} else if (x->json) {
		json_t *doc = json_array();
		for (size_t i = 0; i < h.n; i++)
			json_array_append_new(doc, json_pack("{s:s,s:s}", "host", h.v[i].name,
			                                     "address", h.v[i].addr));
		out_json(doc);
		json_decref(doc);
	} else {
		for (size_t i = 0; i < h.n; i++) {
			if (strcmp(h.v[i].name, h.v[i].addr) == 0)
				printf("%s\n", h.v[i].name);
			else
				printf("%s %s\n", h.v[i].name, h.v[i].addr);
		}
	}
	fleet_hosts_free(&h);
	return rc;
}
