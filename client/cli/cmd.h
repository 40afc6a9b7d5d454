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

#include "args.h"
#include "buf.h"
#include "targets.h"
#include "tether.h"

/* A TARGETS argument (docs/fleet.md), expanded once: one plain HOST keeps
 * the one-host behaviour; anything else is a fleet. */
struct fleet_target {
	bool               fleet;      /* not one plain HOST (or malformed) */
	char              *spec;       /* TARGETS (malloc'd), NULL if none was looked at */
	const char        *name;       /* TARGETS/NAME: NAME, else NULL */
	struct fleet_hosts hosts;      /* the expansion; none if it failed */
	char               err[400];   /* why it failed, or "" */
};

struct cmd_ctx {
	tether_client *c;
	int            json;     /* --json: one JSON document on stdout */
	const char    *inventory;   /* --inventory FILE, or NULL */
	struct fleet_target target;   /* the entry's target, expanded before exec */
	tether_err     first_err;          /* multi-target commands */
	char           first_msg[512];
	char           first_code[48];
};

/* What names a command's TARGETS (its single operand, or -s), for main.c to
 * expand once before exec into x->target; invoke, whose TARGETS come from
 * repeated -H or -s, does it itself. */
enum cmd_target {
	CMD_TARGET_NONE,
	CMD_TARGET_HOST,        /* HOST or TARGETS */
	CMD_TARGET_SESSION,     /* SESSION or TARGETS/NAME */
	CMD_TARGET_HOST_NAME,   /* HOST or HOST/NAME (enter): TARGETS[/NAME] */
	CMD_TARGET_SESSION_OPTION,   /* not an operand: -s SESSION or TARGETS/NAME */
};

struct cmd_entry {
	const char      *name;       /* "session new" */
	const char      *usage;      /* arguments after the name */
	const char      *summary;    /* one line for the command list */
	const char      *help;       /* option details for --help, may be NULL */
	struct args_spec args;       /* its options and operands */
	enum cmd_target  target;     /* what a lone (or first) operand names */
	int            (*exec)(struct cmd_ctx *x, const struct args *a);
};

extern const struct cmd_entry cmd_login_entry;
extern const struct cmd_entry cmd_logout_entry;
extern const struct cmd_entry cmd_control_check_entry;
extern const struct cmd_entry cmd_control_stop_entry;
extern const struct cmd_entry cmd_session_new_entry;
extern const struct cmd_entry cmd_session_set_entry;
extern const struct cmd_entry cmd_session_list_entry;
extern const struct cmd_entry cmd_session_remove_entry;
extern const struct cmd_entry cmd_session_connect_entry;
extern const struct cmd_entry cmd_session_disconnect_entry;
extern const struct cmd_entry cmd_session_receive_entry;
extern const struct cmd_entry cmd_enter_entry;
extern const struct cmd_entry cmd_invoke_entry;
extern const struct cmd_entry cmd_copy_entry;
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
extern const struct cmd_entry cmd_transfer_wait_entry;
extern const struct cmd_entry cmd_targets_entry;

/* Exit statuses (docs/cli.md "Exit status"). */
/* Run the command line argv as `tether` (main.c); a control master's
 * child runs it too (client/control/master.c). The exit status. */
int cli_main(int argc, char **argv);

#define EXIT_USAGE   2
#define EXIT_TETHER  255
#define EXIT_TIMEOUT 1     /* job wait and transfer wait ran out of time */

/* output.c: the --timeout SECONDS of the waits, shared so that every wait
 * parses, measures and reports it alike. */
#define WAIT_TIMEOUT_MAX_MS (365LL * 86400 * 1000)
/* --timeout (seconds, up to three decimals: "0.5") as a deadline on the
 * monotonic clock in *deadline_ms (0 if not given); 0, or -1 after a usage
 * message. */
int cmd_wait_deadline(const struct cmd_entry *ce, const struct args *a, int64_t *deadline_ms);
/* Milliseconds left until deadline_ms (0 when it has passed; INT64_MAX if
 * there is none). */
int64_t cmd_wait_left_ms(int64_t deadline_ms);
/* Say on stderr that --timeout ran out; returns EXIT_TIMEOUT. */
int out_timed_out(const struct args *a);

/* output.c: printing results and failures. */

/* Print a library failure (one line on stderr, or the JSON error document on
 * stdout with --json); returns the exit status to use. */
int out_fail(struct cmd_ctx *x, tether_err e);

/* Multi-target commands: report each failure, then finish with one
 * document (results, or the first error with the results so far). */
void out_fail_multi(struct cmd_ctx *x, tether_err e);
int out_finish_multi(struct cmd_ctx *x, json_t *results, void (*table)(json_t *));

/* One call of a multi-target command on one operand: the library's result,
 * the object made or changed in *out. */
typedef tether_err (*out_each_fn)(struct cmd_ctx *x, void *ctx, const char *arg, json_t **out);

/* Call fn on each operand of a, reporting each failure and going on; then
 * print the objects (as table, if not NULL) and return the exit status. */
int out_each(struct cmd_ctx *x, const struct args *a, out_each_fn fn, void *ctx,
             void (*table)(json_t *));

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
/* Print sessions as rows of that table, the header first unless *header
 * (which is then true); nothing for none. */
void out_sessions_rows(json_t *sessions, bool owners, bool *header);

/* Print jobs (an array: remote or local job objects) as a table. */
void out_jobs_table(json_t *jobs);

/* stream-out.c: streamed output for invoke and receive. */
struct stream_out {
	struct tether_output cb;
	int                  json;
	struct buf           out, err;   /* collected with --json */
	int                  job_exit;   /* --json's exit_code when it is not the
	                                    command's status: -1 null (not ended) */
	bool                 job_exit_set;
};
void stream_out_init(struct stream_out *so, struct cmd_ctx *x);
/* Finish: the --json document (or the failure); returns the exit status and
 * releases job. The document's exit_code is status, or job_exit if set. */
int stream_out_done(struct cmd_ctx *x, struct stream_out *so, tether_err e, int status,
                    json_t *job);

/* Catch SIGINT (no SA_RESTART) to raise the library's interrupt flag. */
void stream_out_catch_sigint(struct cmd_ctx *x);

/* Put collected bytes in doc under key as a string (base64 under
 * "<key>_base64" if they are not UTF-8). */
void stream_out_put_bytes(json_t *doc, const char *key, const struct buf *b);

/* fleet-out.c: a verb on several targets (docs/fleet.md). */
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

/* Expand spec (TARGETS, with --inventory if given) into t, once; t->fleet
 * unless it is one plain HOST. A malformed spec is a fleet whose hosts
 * fleet_target_hosts refuses, so the fleet path reports it. */
void fleet_target_expand(struct cmd_ctx *x, struct fleet_target *t, const char *spec);

/* A SESSION argument: split at its last '/' into TARGETS and NAME and
 * expand TARGETS into t. Without a '/' (or with nothing before it) it is
 * one host's SESSION, not expanded, unless host_alone: then the whole
 * argument is TARGETS (enter's HOST). */
void fleet_target_session(struct cmd_ctx *x, struct fleet_target *t, const char *arg,
                          bool host_alone);

/* 0 if t has hosts; else EXIT_USAGE after saying why (for ce's usage). */
int fleet_target_hosts(const struct cmd_entry *ce, const struct fleet_target *t);

void fleet_target_free(struct fleet_target *t);

/* For verbs on SESSION arguments: if t is a fleet session (TARGETS/NAME),
 * run verb on it (req: the other fields), set *rc to the exit status and
 * return true; false if it is one host's SESSION. */
bool fleet_session_verb(struct cmd_ctx *x, const struct cmd_entry *ce,
                        const struct fleet_target *t, enum tether_fleet_verb verb,
                        struct tether_fleet_req *req, int *rc);

/* Run req on every host, print as mode says (or --json: an array of
 * per-host objects), a per-host summary of failures on stderr; returns 0 if
 * every host did it (and its command exited 0), else 1. */
int fleet_exec(struct cmd_ctx *x, const struct fleet_hosts *hosts,
               const struct tether_fleet_req *req, enum fleet_mode mode);

/* Join a's COMMAND words (after an optional "--") into cmd (the caller
 * frees it); 0, or -1 after a usage error. */
int cmd_command_words(const struct cmd_entry *ce, const struct args *a, struct buf *cmd);

/* The whole number from min to max given to option name into *out (left
 * as it is if the option was not given); 0, or -1 after a usage error
 * "--NAME takes a whole number from MIN to MAX". */
int cmd_number(const struct cmd_entry *ce, const struct args *a, const char *name,
               uint64_t min, uint64_t max, int64_t *out);

#endif
