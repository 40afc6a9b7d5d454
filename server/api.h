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

/* api-auth.c */
tether_err api_login(struct req *r);
tether_err api_logout(struct req *r);
tether_err api_whoami(struct req *r);

/* api-session.c */
/* Load the session named by route parameter 0, or record a 404. Renews the
 * lease when this client holds the session. */
tether_err api_load_session(struct req *r, struct session_rec *s);
/* Require that this client holds the session (Opened by it; or Disconnected
 * for silence while it held it, which reconnects it); else 409. */
tether_err api_require_holder(struct req *r, struct session_rec *s);
tether_err api_session_connect(struct req *r);
tether_err api_session_disconnect(struct req *r);
tether_err api_session_list(struct req *r);
tether_err api_session_create(struct req *r);
tether_err api_session_get(struct req *r);
tether_err api_session_remove(struct req *r);
tether_err api_session_set(struct req *r);

/* api-job.c */
tether_err api_invoke(struct req *r);
tether_err api_job_get(struct req *r);
tether_err api_job_list(struct req *r);
tether_err api_job_start(struct req *r);
tether_err api_job_remove(struct req *r);
tether_err api_job_output(struct req *r);
tether_err api_job_stop(struct req *r);
tether_err api_session_receive(struct req *r);

#endif
