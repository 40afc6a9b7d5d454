/*
 * session.h - ending sessions: the one place a session is torn down.
 *
 * A session's work runs detached from the daemon (job supervisors,
 * transfer workers), so ending a session must stop all of it before its
 * rows and spool go: transfers cancelled (workers stopped, partial files
 * deleted), running jobs stopped (TERM, stop_grace, KILL), then the rows,
 * then the spool. Users ending a session (DELETE /v1/sessions/{id}), the
 * monitor expiring an idle one and an administrator removing a user all
 * come here.
 */
#ifndef TETHER_SESSION_H
#define TETHER_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tetherd.h"

/* Stop everything in session (of user_id) and delete it with its spool. */
tether_err session_remove(struct server *srv, int64_t user_id, int64_t session);

/* Remove every session of a user, as session_remove does one; *removed
 * counts them. */
void session_remove_user(struct server *srv, int64_t user_id, size_t *removed);

/* Do the user removals an administrator asked of this serving daemon
 * (store_user_removal_request): each user's sessions, then the user. */
void session_remove_requested_users(struct server *srv);

#endif
