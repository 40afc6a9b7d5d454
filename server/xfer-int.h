/*
 * xfer-int.h - what the transfer engine's files share among themselves
 * (xfer.c the scheduler and verbs, xfer-create.c creation, xfer-plan.c the
 * owner-side planning); not for other modules.
 */
#ifndef TETHER_XFER_INT_H
#define TETHER_XFER_INT_H

#include <jansson.h>

#include "bounds.h"
#include "store.h"
#include "tetherd.h"

/* Where the key that seals credentials lives. */
void xfer_key_path(char out[BOUND_PATH + 32], const struct server *srv);

/* The job object of docs/cli.md "transfer" for t in session (state: the
 * state to show). */
json_t *xfer_job_json(const struct xfer_rec *t, const char *session, int state);

/* Log an event about t (job, user, state, files). */
void xfer_log(const struct xfer_rec *t, const char *event);

/* The error code for a local file or directory the owner could not use
 * (errno err; 0: it is there but not the right kind): a permission refused
 * is not a file missing (docs/transfers.md). */
const char *xfer_errno_code(int err);

/* In an owner child (account_run): work out a transfer's files: expand
 * local sources, resolve the destination, check the directories are there
 * and writable. arg: {"upload","sources","destination","home"}. Answer:
 * {"files":[{"source","destination"}]} or {"error", "code"} (code as
 * xfer_errno_code's, or absent: invalid_argument). */
json_t *xfer_plan_files(json_t *arg);

/* In an owner child: rename finished downloads into place and delete the
 * other partial files, or (commit false) delete every partial. arg:
 * {"commit", "files":[{"partial","destination","done"}]}. Answer:
 * {"committed": N} or {"error"}. */
json_t *xfer_finish_files(json_t *arg);

#endif
