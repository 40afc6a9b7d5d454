/*
 * cmd.h - the tether CLI's command table (tmux's cmd-*.c pattern).
 *
 * Each command lives in its own cmd-*.c file and exports one descriptor;
 * main.c holds the table and the lookup. Commands only parse, call
 * libtether and print: no protocol logic lives here.
 */
#ifndef TETHER_CMD_H
#define TETHER_CMD_H

#include <stdbool.h>

#include "buf.h"
#include "tether.h"

struct cmd_ctx {
	tether_client *c;
	int            json;     /* --json: one JSON document on stdout */
	const char    *inventory;   /* --inventory FILE, or NULL */
	tether_err     first_err;          /* multi-target commands */
	char           first_msg[512];
	char           first_code[48];
};

struct cmd_entry {
	const char *name;        /* "session new" */
	const char *usage;       /* arguments after the name */
	const char *summary;     /* one line for the command list */
	const char *help;        /* option details for --help, may be NULL */
	int       (*exec)(struct cmd_ctx *x, int argc, char **argv);
};

extern const struct cmd_entry cmd_login_entry;
extern const struct cmd_entry cmd_logout_entry;
extern const struct cmd_entry cmd_session_new_entry;
extern const struct cmd_entry cmd_session_set_entry;
extern const struct cmd_entry cmd_session_list_entry;
extern const struct cmd_entry cmd_session_remove_entry;
extern const struct cmd_entry cmd_session_connect_entry;
extern const struct cmd_entry cmd_session_disconnect_entry;
extern const struct cmd_entry cmd_session_receive_entry;
extern const struct cmd_entry cmd_enter_entry;
extern const struct cmd_entry cmd_invoke_entry;
extern const struct cmd_entry cmd_job_start_entry;
extern const struct cmd_entry cmd_job_list_entry;
extern const struct cmd_entry cmd_job_receive_entry;
extern const struct cmd_entry cmd_job_wait_entry;
extern const struct cmd_entry cmd_job_stop_entry;
extern const struct cmd_entry cmd_job_remove_entry;
extern const struct cmd_entry cmd_transfer_start_entry;
extern const struct cmd_entry cmd_transfer_list_entry;
extern const struct cmd_entry cmd_transfer_show_entry;
extern const struct cmd_entry cmd_transfer_complete_entry;
extern const struct cmd_entry cmd_transfer_suspend_entry;
extern const struct cmd_entry cmd_transfer_resume_entry;
extern const struct cmd_entry cmd_transfer_remove_entry;
extern const struct cmd_entry cmd_transfer_set_entry;
extern const struct cmd_entry cmd_targets_entry;

/* Exit statuses (CLI.md "Exit status"). */
#define EXIT_USAGE   2
#define EXIT_TETHER  255

/* output.c: printing results and failures. */

/* Print a library failure (one line on stderr, or the JSON error document on
 * stdout with --json); returns the exit status to use. */
int out_fail(struct cmd_ctx *x, tether_err e);

/* Multi-target commands: report each failure, then finish with one
 * document (results, or the first error with the results so far). */
void out_fail_multi(struct cmd_ctx *x, tether_err e);
int out_finish_multi(struct cmd_ctx *x, json_t *results, void (*table)(json_t *));

/* Print a usage error and the command's usage; returns EXIT_USAGE. */
int out_usage(const struct cmd_entry *ce, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print a result: v itself with --json, else as a table (an object as a
 * one-row table). Releases v; returns 0, or e's exit status if e failed. */
int out_result(struct cmd_ctx *x, tether_err e, json_t *v, void (*table)(json_t *));

/* Pretty-print a JSON value on stdout. */
void out_json(json_t *v);

/* Print sessions (an array) as a table. */
void out_sessions_table(json_t *sessions);

/* Print jobs (an array: remote or local job objects) as a table. */
void out_jobs_table(json_t *jobs);

/* stream-out.c: streamed output for invoke and receive. */
struct stream_out {
	struct tether_output cb;
	int                  json;
	struct buf           out, err;   /* collected with --json */
};
void stream_out_init(struct stream_out *so, struct cmd_ctx *x);
/* Finish: the --json document (or the failure); returns the exit status and
 * releases job. */
int stream_out_done(struct cmd_ctx *x, struct stream_out *so, tether_err e, int status,
                    json_t *job);

/* Catch SIGINT (no SA_RESTART) to raise the library's interrupt flag. */
void stream_out_catch_sigint(struct cmd_ctx *x);

/* Put collected bytes in doc under key as a string (base64 under
 * "<key>_base64" if they are not UTF-8). */
void stream_out_put_bytes(json_t *doc, const char *key, const struct buf *b);

/* fleet-out.c: a verb on several targets (docs/fleet.md). */
struct fleet_hosts;
struct tether_fleet_req;
enum fleet_mode {
	FLEET_PREFIX,      /* "HOST: " before each line */
	FLEET_HIDE_HOST,   /* whole lines, no prefix */
	FLEET_GATHER,      /* identical stdout once, under its hosts' nodeset */
};

/* One host's output printed by whole lines (never torn by another host's),
 * each after "PREFIX: " (prefix NULL: none); a line over 64 KiB is cut
 * there. before (optional) runs before each write. */
struct host_lines {
	const char *prefix;
	struct buf  part[2];   /* the unfinished line of stdout, stderr */
	void      (*before)(void *ctx);
	void       *ctx;
};
void host_lines_init(struct host_lines *h, const char *prefix);
/* stream 1 stdout, 2 stderr, 3 a notice (printed "tether: ..." on stderr). */
int host_lines_write(struct host_lines *h, int stream, const void *data, size_t len);
/* Print unfinished lines (with a newline) and free. */
void host_lines_finish(struct host_lines *h);
/* A tether_output that writes through h. */
struct tether_output host_lines_output(struct host_lines *h);

/* Expand TARGETS (with --inventory if given); 0, or EXIT_USAGE after
 * saying why. */
int fleet_targets(struct cmd_ctx *x, const struct cmd_entry *ce, const char *spec,
                  struct fleet_hosts *out);

/* True if spec is one plain HOST (not a list, range, group or file): the
 * single-host behaviour applies. A malformed spec is not (the fleet path
 * reports it). */
bool fleet_is_single(struct cmd_ctx *x, const char *spec);

/* For verbs on SESSION arguments: if arg is a fleet session
 * (TARGETS/NAME), run verb on it (req: the other fields), set *rc to the
 * exit status and return true; false if arg is a one-host SESSION. */
bool fleet_session_verb(struct cmd_ctx *x, const struct cmd_entry *ce, const char *arg,
                        enum tether_fleet_verb verb, struct tether_fleet_req *req, int *rc);

/* Run req on every host, print as mode says (or --json: an array of
 * per-host objects), a per-host summary of failures on stderr; returns 0 if
 * every host did it (and its command exited 0), else 1. */
int fleet_exec(struct cmd_ctx *x, const struct fleet_hosts *hosts,
               const struct tether_fleet_req *req, enum fleet_mode mode);

/* Join COMMAND words from argv[first] (after an optional "--") into cmd
 * (the caller frees it); 0, or -1 after a usage error. */
int cmd_command_words(const struct cmd_entry *ce, int argc, char **argv, int first,
                      struct buf *cmd);

/* Parse argv with getopt_long for a command; returns the option character,
 * -1 at the end, or '?' after printing a usage error. */
struct option;
int cmd_getopt(const struct cmd_entry *ce, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

#endif
