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
tether_err api_session_list(struct req *r);
tether_err api_session_create(struct req *r);
tether_err api_session_get(struct req *r);
tether_err api_session_remove(struct req *r);

#endif
