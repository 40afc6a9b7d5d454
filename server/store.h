/*
 * store.h - tetherd's durable state in sqlite (WAL).
 *
 * Everything that must survive a crash lives here (or in spool files named
 * from here): users, token hashes, sessions, jobs, output cursors, transfers
 * and the audit trail. Functions return tether_err: user-facing failures
 * (NOT_FOUND, CONFLICT, ...) are returned as such, environmental sqlite
 * failures are logged and become TETHER_E_INTERNAL. One connection guarded
 * by a mutex serves all threads; each call is one short transaction.
 * List callbacks run with the store locked: they must not call the store.
 */
#ifndef TETHER_STORE_H
#define TETHER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bounds.h"
#include "error.h"
#include "proto.h"

struct store;

struct user_rec {
	int64_t id;
	char    name[BOUND_NAME + 1];
	char    os_user[BOUND_NAME + 1];  /* "" = the daemon's own account */
	bool    admin;
	int64_t created;
};

struct session_rec {
	int64_t id;
	int64_t user_id;
	char    name[BOUND_NAME + 1];
	int     state;                     /* enum session_state */
	int     availability;              /* enum session_avail */
	char    client_id[TETHER_CLIENT_ID_LEN + 1];
	int64_t created;
	int64_t last_activity;
	int64_t idle_timeout;
	int     output_buffering;          /* enum output_buffering */
	int64_t lease_expires;             /* Opened: disconnect if not renewed by then */
	bool    busy;                      /* an invoke or shell is running */
	bool    active;                    /* any job is running */
};


struct job_rec {
	int64_t id;
	int64_t session_id;
	char    name[BOUND_NAME + 1];
	int     type;                      /* enum job_type (stored as its spelling) */
	int     state;                     /* enum job_state */
	char   *command;                   /* malloc'd; job_rec_clear frees */
	int     exit_code;                 /* -1 while unknown */
	int     term_signal;               /* 0 unless killed by a signal */
	int64_t started, ended;            /* ended 0 while running */
	char    error[160];                /* why it ended abnormally, if it did */
	int64_t delivered;                 /* output acknowledged by a receiver */
	bool    stop_requested;
};

/* Free what a job_rec owns. */
void job_rec_clear(struct job_rec *j);

/* Open (creating if needed) the database at path and bring its schema up to
 * date. Returns 0 and *out, or -1 with a reason in err. */
int store_open(const char *path, struct store **out, char *err, size_t errsz);

/* Take back the space reserve after it was used (a no-op while held or
 * while the disk is still full); the monitor calls it. False while the
 * reserve is still missing (the monitor tries again). */
bool store_take_reserve(struct store *st);

/* Close the database; NULL is a no-op. */
void store_close(struct store *st);

/* Take WAL checkpoints off the request path: from now on they are made by
 * a thread of their own, on a connection of its own, when a commit leaves
 * STORE_CHECKPOINT_PAGES or more in the WAL (it sleeps otherwise; no
 * timer). Without it (the admin subcommands), sqlite makes them itself,
 * inside the commit that crosses that size, with the store's lock held.
 * 0, or -1 (then sqlite goes on making them). store_close stops it. */
int store_checkpoint_start(struct store *st);

/* The schema version recorded in the database. */
int store_schema_version(struct store *st);

/* Users. pwhash is an encoded crypto_pw_hash string. */
tether_err store_user_add(struct store *st, const char *name, const char *pwhash,
                          bool admin, const char *os_user);
tether_err store_user_get(struct store *st, const char *name, struct user_rec *out,
                          char *pwhash, size_t pwhashsz);
tether_err store_user_by_id(struct store *st, int64_t id, struct user_rec *out);
tether_err store_user_remove(struct store *st, const char *name);
tether_err store_user_set_password(struct store *st, const char *name,
                                   const char *pwhash);
typedef void (*store_user_cb)(void *ctx, const struct user_rec *u);
typedef void (*store_name_cb)(void *ctx, const char *name);

/* Removing a user through a serving daemon (store-user.c): the request
 * disables the user at once; the daemon lists pending ones (at most 64 a
 * call), does them and finishes each with its count of sessions; the
 * result is read (and forgotten, once done) by the verb that asked. */
tether_err store_user_removal_request(struct store *st, const char *name);
tether_err store_user_removals_pending(struct store *st, store_name_cb cb, void *ctx);
tether_err store_user_removal_finish(struct store *st, const char *name, int64_t sessions);
tether_err store_user_removal_result(struct store *st, const char *name, bool *done,
                                     int64_t *sessions);
tether_err store_user_list(struct store *st, store_user_cb cb, void *ctx);

/* A user's public key (store-key.c); blob is the key's SSH wire form. */
#define STORE_KEY_BLOB_MAX 4096
struct key_rec {
	char    type[32];
	int     bits;
	char    fingerprint[64];
	char    comment[256];
	int64_t added;
};
typedef void (*store_key_cb)(void *ctx, const struct key_rec *k);
tether_err store_key_add(struct store *st, int64_t user_id, const struct key_rec *k,
                         const unsigned char *blob, size_t len);
tether_err store_key_list(struct store *st, int64_t user_id, store_key_cb cb, void *ctx);
tether_err store_key_remove(struct store *st, int64_t user_id, const char *fingerprint);
/* Is the key with this fingerprint and blob one of the user's? OK with *k
 * filled, NOT_FOUND if not (or if the user is being removed). */
tether_err store_key_find(struct store *st, int64_t user_id, const char *fingerprint,
                          const unsigned char *blob, size_t len, struct key_rec *k);

/* Tokens: only the hex SHA-256 of a token is ever stored. */
tether_err store_token_add(struct store *st, int64_t user_id, const char *hash,
                           const char *client_id, int64_t now, int64_t expires);
/* Look a token hash up; UNAUTHORIZED if unknown, revoked or expired. Records
 * the last use (at most once a minute, to keep reads cheap). */
tether_err store_token_check(struct store *st, const char *hash, int64_t now,
                             struct user_rec *user, int64_t *expires);
tether_err store_token_revoke(struct store *st, const char *hash);

/* Row counts for the metrics (metrics.c), grouped in the database: by
 * state for sessions and transfers, by state and type for jobs. cb gets
 * each group's state (as a number and as text: sessions' and jobs' are
 * numbers, transfers' text), its type ("" but for jobs) and its count. */
enum store_census { STORE_CENSUS_SESSIONS, STORE_CENSUS_JOBS, STORE_CENSUS_TRANSFERS };
typedef void (*store_census_cb)(void *ctx, int64_t state, const char *state_text,
                                const char *type, int64_t n);
tether_err store_census(struct store *st, enum store_census what, store_census_cb cb,
                        void *ctx);

/* Sessions. A reference is a decimal id or a name, within one user. */
tether_err store_session_create(struct store *st, struct session_rec *s,
                                int64_t max_per_user);
tether_err store_session_get(struct store *st, int64_t user_id, const char *ref,
                             struct session_rec *out);
typedef void (*store_session_cb)(void *ctx, const struct session_rec *s);
tether_err store_session_list(struct store *st, int64_t user_id,
                              store_session_cb cb, void *ctx);
/* One page: the sessions of user_id (every user's if it is negative) with
 * an id above after, in id order, at most limit of them (negative: all). */
tether_err store_session_page(struct store *st, int64_t user_id, int64_t after,
                              int64_t limit, store_session_cb cb, void *ctx);
/* Any user's session by id (an administrator's view, docs/security.md). */
tether_err store_session_by_id(struct store *st, int64_t id, struct session_rec *out);
tether_err store_session_remove(struct store *st, int64_t user_id, int64_t id);

/* Session connection state: set state and holder (client id) and lease. */
tether_err store_session_set_conn(struct store *st, int64_t id, int state,
                                  const char *client_id, int64_t lease_expires);
/* Mark activity, and renew the lease unless lease_expires is 0. */
tether_err store_session_touch(struct store *st, int64_t id, int64_t lease_expires,
                               int64_t now);
/* Set a session's idle timeout and output buffering. */
tether_err store_session_set_options(struct store *st, int64_t id, int64_t idle_timeout,
                                     int buffering);
/* Every session of every user (for the monitor). */
tether_err store_session_list_all(struct store *st, store_session_cb cb, void *ctx);

/* Jobs. Create a job in a session; for exclusive jobs (invoke, shell) the
 * session must not be busy (CONFLICT). j->name "" = "Job<id>". */
tether_err store_job_create(struct store *st, struct job_rec *j, bool exclusive);
tether_err store_job_get(struct store *st, int64_t session_id, const char *ref,
                         struct job_rec *out);
/* The most recent exclusive (invoke/shell) job of a session; NOT_FOUND if none. */
tether_err store_job_by_id(struct store *st, int64_t id, struct job_rec *out);
tether_err store_job_latest(struct store *st, int64_t session_id, struct job_rec *out);
typedef void (*store_job_cb)(void *ctx, const struct job_rec *j);
/* Every job still Running or Blocked, all sessions. */
tether_err store_job_list_running(struct store *st, store_job_cb cb, void *ctx);
/* A job as its session's JSON lists it (docs/api.md, the session object):
 * xstate is a transfer job's state ("" for other types). */
struct job_brief {
	int64_t session_id, id;
	char    name[BOUND_NAME + 1];
	int     type, state;                /* enum job_type, enum job_state */
	char    xstate[24];
};
typedef void (*store_brief_cb)(void *ctx, const struct job_brief *b);
/* The jobs of user's sessions (user -1: everyone's), or of one session
 * (session > 0), by session, newest first. */
tether_err store_job_briefs(struct store *st, int64_t user, int64_t session,
                            store_brief_cb cb, void *ctx);
tether_err store_job_list_session(struct store *st, int64_t session_id,
                                  store_job_cb cb, void *ctx);
/* Record a job's end (only if it is still running; OK either way). */
tether_err store_job_finish(struct store *st, int64_t id, int state, int exit_code,
                            int term_signal, int64_t ended, const char *error);
tether_err store_job_set_stop(struct store *st, int64_t id);
/* Delete a job row (and its cursors). */
tether_err store_job_remove(struct store *st, int64_t id);
/* Advance the delivered cursor (never backwards). */
tether_err store_job_set_delivered(struct store *st, int64_t id, int64_t offset);

/* Transfer jobs (a jobs row of type "transfer" plus its transfer and files). */
struct xfer_file {
	char   *source;                    /* URL or local path; malloc'd */
	char   *destination;               /* path (download) or URL (upload); malloc'd */
	int64_t bytes_total;               /* -1 while unknown */
	int64_t bytes_transferred;
	bool    done;
	/* the row as the store has it, when loaded from there: an update
	 * writes only the rows that changed (a job of 10,000 files is
	 * updated every 250 ms while it runs) */
	bool    stored;
	int64_t stored_total, stored_transferred;
	bool    stored_done;
};

struct xfer_rec {
	int64_t job_id, session_id, user_id;
	char    name[BOUND_NAME + 1];
	bool    upload;
	int     state;                     /* enum xfer_state */
	int     priority;                  /* enum xfer_priority */
	json_t *options;                   /* owned; see xfer.c */
	char   *credentials;               /* sealed (secrets.h), base64; owned; may be NULL */
	int64_t retry_at;                  /* TransientError: next attempt; else 0 */
	int64_t created, modified, completed;
	int64_t progress_at;               /* last time bytes grew (no-progress timeout) */
	int64_t last_start;                /* last time a worker started (round robin) */
	char    error_code[64];
	char    error_message[512];
	char    error_file[1024];
	json_t *notes;                     /* owned array of strings */
	size_t  nfiles;
	struct xfer_file *files;           /* owned */
};

/* Free what an xfer_rec owns. */
void xfer_rec_clear(struct xfer_rec *t);

/* Create the transfer (and its job row, j, of type "transfer") in one go:
 * CONFLICT if the name is taken, LIMIT if the user already has max_per_user
 * live transfers. Sets j->id, j->name, t->job_id and t->name. */
tether_err store_xfer_create(struct store *st, struct job_rec *j, struct xfer_rec *t,
                             int64_t max_per_user);
tether_err store_xfer_get(struct store *st, int64_t job_id, struct xfer_rec *out);
/* Ids of the transfers of a session (session_id > 0), or of every transfer
 * still in the scheduler's hands (session_id 0: not Acknowledged/Cancelled).
 * *ids is malloc'd. */
tether_err store_xfer_ids(struct store *st, int64_t session_id, int64_t **ids, size_t *n);
/* Write back everything mutable in t (state, options, files' progress: of
 * the files, only the rows that changed since t was loaded or written). */
tether_err store_xfer_update(struct store *st, struct xfer_rec *t);

/* Resumable uploads received (api-upload.c). received is how many bytes
 * are verified and durable in the partial file. */
#define UPLOAD_ID_LEN 32                   /* lower-case hex */
struct upload_rec {
	char    id[UPLOAD_ID_LEN + 1];
	int64_t user_id;
	char    path[BOUND_PATH];            /* where the file goes, absolute */
	char    partial[BOUND_PATH];         /* the hidden file being filled */
	int64_t length;
	int64_t received;
	char    sha256[65];                  /* of the whole file, "" if not given */
	bool    done;
	int64_t created;
	int64_t modified;
};

/* Insert u; LIMIT_EXCEEDED if the user has max_open unfinished uploads. */
tether_err store_upload_create(struct store *st, const struct upload_rec *u, int64_t max_open);
/* The upload id of user_id (another user's is NOT_FOUND). */
tether_err store_upload_get(struct store *st, const char *id, int64_t user_id,
                            struct upload_rec *out);
/* Record progress (and completion). */
tether_err store_upload_set(struct store *st, const char *id, int64_t received, bool done,
                            int64_t now);
tether_err store_upload_delete(struct store *st, const char *id);
/* Up to max uploads last modified before `before` (for expiry). */
tether_err store_upload_stale(struct store *st, int64_t before, struct upload_rec *out,
                              size_t max, size_t *n);

/* Append an audit record; failures are logged, never fatal. */
void store_audit(struct store *st, const char *event, const char *user,
                 const char *addr, const char *detail);

/* Delete audit records older than before (unix seconds); *removed gets
 * how many. */
tether_err store_audit_prune(struct store *st, int64_t before, int64_t *removed);

#endif
