/*
 * cmd-transfer.h - what the transfer verbs' files share: cmd-transfer.c (the
 * verbs, their options and their printing), transfer-spec.c (arguments and
 * a --csv file made into create requests) and transfer-wait.c (the watch
 * loop and progress line of a synchronous start).
 */
#ifndef TETHER_CMD_TRANSFER_H
#define TETHER_CMD_TRANSFER_H

#include <jansson.h>
#include <stdint.h>

#include "cmd.h"

#define EXIT_INTERRUPTED 130

/* What transfer start and transfer set take; -1 numbers are "not given". */
struct transfer_opts {
	const char *session, *name, *priority, *user, *auth, *proxy_usage, *proxy_list,
	           *proxy_bypass, *proxy_user, *csv, *sha256, *cacert, *notify_cmd;
	int         upload, async, suspended, password_stdin, insecure;
	int64_t     retry_delay, no_progress_timeout, max_rate;
};

/* cmd-transfer.c: a string field of a job object, or "-". */
const char *transfer_str(json_t *o, const char *k);
/* An integer field (-1 if absent or null: "not known"). */
int64_t transfer_num(json_t *o, const char *k);

/* transfer-spec.c: put the options start and set share into a request body. */
void transfer_put_tunables(json_t *body, const struct transfer_opts *o);
/* Gather the job specs ({"sources", "destination"[, "name"]}) from the
 * arguments or the --csv file into *specs (the caller releases it, whatever
 * the return); 0, or EXIT_USAGE after a usage message. */
int transfer_gather_specs(const struct transfer_opts *o, const struct args *a,
                          json_t **specs);
/* The password for --user: stdin's first line, or asked on the terminal;
 * 0, or EXIT_USAGE after a usage message. */
int transfer_get_password(const struct transfer_opts *o, char *pw, size_t pwsz);
/* The password for --proxy-user: the next line of stdin (after --user's
 * with --password-stdin) unless stdin is a terminal and no --password-stdin
 * was given: then asked there. 0, or EXIT_USAGE after a usage message. */
int transfer_get_proxy_password(const struct transfer_opts *o, char *pw, size_t pwsz);
/* The create request common to every job of this start (all but sources,
 * destination, name), with --user's password pw and --proxy-user's ppw;
 * NULL after a usage message. */
json_t *transfer_base_request(const struct transfer_opts *o, const char *pw, const char *ppw);
/* Zero the passwords inside a request before it is freed. */
void transfer_wipe_request(json_t *req);

/* transfer-wait.c: one job a synchronous start waits for. */
enum waited_end { W_RUNNING, W_DONE, W_FAILED };
struct waited {
	json_t         *job;      /* the latest object seen */
	char            ref[24];  /* its id, to ask for it */
	enum waited_end end;
};

/* What a wait came to, for the final document. */
struct outcome {
	int  rc;
	char code[48];
	char msg[512];
	int  timed_out;   /* the deadline passed with jobs still running */
};

/* How a watch treats its jobs: a synchronous start owns them (completes
 * each once Transferred; a stop signal cancels the unfinished; a job that
 * fails makes oc's failure), transfer wait only looks (a job ends at
 * Transferred, Acknowledged, Error or Cancelled; a stop signal leaves them
 * running). */
struct watch_mode {
	int     own;        /* the start's way */
	int64_t deadline;   /* cmd_wait_deadline's, or 0: none */
};

/* Catch SIGINT and SIGTERM without SA_RESTART, so a wait ends at once. */
void transfer_catch_stop_signals(void);
/* The signal that asked a synchronous start to stop, or 0. */
int transfer_stopped(void);
/* The state of a job object ("" if none). */
const char *transfer_state_of(json_t *t);
/* A job's name for messages. */
const char *transfer_name_of(const struct waited *w);
/* Poll until every job is done or failed (drawing progress on a terminal),
 * a signal says stop, or m's deadline passes (oc->timed_out); m says what
 * is done to the jobs on the way. The first failure goes to oc. */
void transfer_wait_all(struct cmd_ctx *x, const char *session, struct waited *w, size_t n,
                       const struct watch_mode *m, struct outcome *oc);
/* Print the server's notes on the jobs ("file 1 restarted from zero"). */
void transfer_print_notes(struct waited *w, size_t n);

#endif
