/*
 * api.h - the route table and the handlers it names (one api-*.c per area).
 */
#ifndef TETHER_API_H
#define TETHER_API_H

#include <stddef.h>

#include "http.h"
#include "router.h"

extern const struct route api_routes[];
extern const size_t api_nroutes;

/* api-misc.c */
tether_err api_health(struct req *r);
tether_err api_metrics(struct req *r);

/* api-auth.c */
tether_err api_login(struct req *r);
tether_err api_login_challenge(struct req *r);

/* Size the login hashing slots from login_concurrency; once, before the
 * listeners start. 0 or -1. */
int api_auth_init(const struct server *srv);
tether_err api_logout(struct req *r);
tether_err api_whoami(struct req *r);

/* api-session.c */
/* Load the session named by route parameter 0, or record a 404. Renews the
 * lease when this client holds the session. */
tether_err api_load_session(struct req *r, struct session_rec *s);
/* Require that this client holds the session (Opened by it; or Disconnected
 * for silence while it held it, which reconnects it); else 409. */
tether_err api_require_holder(struct req *r, struct session_rec *s);
/* Read ?all_users=0|1 into *all; 1 from a non-administrator records a 403
 * (docs/security.md). */
tether_err api_all_users(struct req *r, bool *all);
/* api_load_session, but with an administrator's ?all_users=1 a numeric
 * {ref} names any user's session; owner gets the session's owner. */
tether_err api_load_session_any(struct req *r, struct session_rec *s,
                                struct user_rec *owner);
/* Audit and log an administrator's action on another user's object. */
void api_audit_admin(struct req *r, const char *event, const struct user_rec *owner,
                     const struct session_rec *s, const char *object);
tether_err api_session_connect(struct req *r);
tether_err api_session_disconnect(struct req *r);
tether_err api_session_list(struct req *r);
tether_err api_session_create(struct req *r);
tether_err api_session_get(struct req *r);
tether_err api_session_remove(struct req *r);
tether_err api_session_set(struct req *r);

/* api-job.c */
struct jobs_pty;
/* A job's state as users see it: a running job held at the output cap is
 * Blocked (the supervisor says so in its directory). */
int api_job_visible_state(int64_t job, int state);
/* The JSON form of a job (docs/cli.md). */
json_t *api_job_json(struct req *r, const struct session_rec *s, const struct job_rec *j);
/* Load the job named by route parameter 1 in s (settled if it ended), or
 * record a 404. */
tether_err api_load_job(struct req *r, const struct session_rec *s, struct job_rec *j);
/* Record and start a job ("invoke", "shell" or "background"), or record
 * the error (409 if an exclusive job finds the session busy); flags as
 * jobs_start's (JOBS_SAVE_STATE, JOBS_STDIN). */
tether_err api_create_job(struct req *r, struct session_rec *s, enum job_type type,
                          const char *cmd, const char *name, const struct jobs_pty *pty,
                          unsigned flags, struct job_rec *j);
/* The ?wait= (0-60) and ?remove= (0, 1) of a start, checked before
 * anything starts (or a 400 recorded). */
tether_err api_start_query(struct req *r, int64_t *wait);
/* Start a job of type in s, checked and held by the caller, and answer:
 * 201 with the job, or for an invoke with wait > 0 the output route's
 * first answer (docs/api.md, the invoke route). */
tether_err api_start_in(struct req *r, struct session_rec *s, enum job_type type,
                        const char *cmd, const char *name, unsigned flags, int64_t wait);
tether_err api_invoke(struct req *r);
tether_err api_job_get(struct req *r);
tether_err api_job_list(struct req *r);
tether_err api_job_start(struct req *r);
tether_err api_job_remove(struct req *r);
tether_err api_job_output(struct req *r);
tether_err api_job_stop(struct req *r);
tether_err api_session_receive(struct req *r);

/* api-shell.c */
tether_err api_shell_open(struct req *r);
tether_err api_shell_input(struct req *r);

/* api-transfer.c */
tether_err api_transfer_start(struct req *r);
tether_err api_transfer_list(struct req *r);
tether_err api_transfer_get(struct req *r);
tether_err api_transfer_complete(struct req *r);
tether_err api_transfer_suspend(struct req *r);
tether_err api_transfer_resume(struct req *r);
tether_err api_transfer_remove(struct req *r);
tether_err api_transfer_set(struct req *r);

/* api-upload.c */
tether_err api_upload_create(struct req *r);
tether_err api_upload_options(struct req *r);
tether_err api_upload_get(struct req *r);
tether_err api_upload_remove(struct req *r);
tether_err api_upload_append_begin(struct req *r);
tether_err api_upload_append_data(struct req *r, const char *data, size_t len);
tether_err api_upload_append(struct req *r);
/* Record err (an errno met as the owner doing what to path) as the error a
 * user can act on: not_found, forbidden, conflict, ... */
tether_err api_errno_error(struct req *r, int err, const char *what, const char *path);

/* api-file.c */
tether_err api_file_stat(struct req *r);
tether_err api_file_content(struct req *r);
tether_err api_file_mkdir(struct req *r);
tether_err api_file_set(struct req *r);

#endif
