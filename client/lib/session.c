/*
 * session.c - session calls: new, list, get, remove.
 *
 * The server reports its own hostname; the client replaces "host" with the
 * HOST:PORT it used, so SESSION strings it prints can be typed back.
 */
#include <stdio.h>
#include <string.h>

#include "client-int.h"
#include "proto.h"

/* Set a session object's "host" to how this client addresses it. */
static void set_host(json_t *s, const struct target *t)
{
	if (json_is_object(s))
		json_object_set_new(s, "host", json_string(t->key));
}

/* Make a request path "/v1/sessions/REF". */
static void session_path(char *out, size_t outsz, const char *ref)
{
	snprintf(out, outsz, "%s/sessions/%s", TETHER_API_PREFIX, ref);
}

/* Resolve SESSION into a target and a reference. */
tether_err client_resolve_session(tether_client *c, const char *session,
                                  struct target *t, char ref[BOUND_NAME + 1])
{
	char why[200], host[BOUND_HOSTSPEC];
	struct hostspec hs;
	if (addr_parse_session(session, &hs, ref, why, sizeof why) != 0)
		return client_fail(c, TETHER_E_USAGE, "%s", why);
	const char *slash = strrchr(session, '/');
	size_t n = (size_t)(slash - session);
	if (n >= sizeof host)
		return client_fail(c, TETHER_E_USAGE, "host too long in '%s'", session);
	memcpy(host, session, n);
	host[n] = '\0';
	return client_target(c, host, t);
}

/* Create a session. */
tether_err tether_session_new(tether_client *c, const char *host, const char *name,
                              int64_t idle_timeout, const char *buffering,
                              json_t **session)
{
	struct target t;
	tether_err e = client_target(c, host, &t);
	if (e != TETHER_E_OK)
		return e;
	json_t *body = json_object();
	if (name != NULL)
		json_object_set_new(body, "name", json_string(name));
	if (idle_timeout > 0)
		json_object_set_new(body, "idle_timeout", json_integer(idle_timeout));
	if (buffering != NULL)
		json_object_set_new(body, "output_buffering", json_string(buffering));
	e = client_request(c, &t, "POST", TETHER_API_PREFIX "/sessions", body, session);
	json_decref(body);
	if (e == TETHER_E_OK)
		set_host(*session, &t);
	return e;
}

/* List a host's sessions (an array). */
tether_err tether_session_list(tether_client *c, const char *host, json_t **sessions)
{
	int64_t next;
	return tether_session_list_page(c, host, 0, 0, NULL, sessions, &next);
}

/* limit 0: every session, in one reply. */
tether_err tether_session_list_page(tether_client *c, const char *host, int64_t after,
                                    int64_t limit, const char *fields, json_t **sessions,
                                    int64_t *next)
{
	struct target t;
	json_t *reply = NULL;
	char path[400];
	*next = 0;
	if (fields != NULL && (strlen(fields) > 200 || strspn(fields,
	    "abcdefghijklmnopqrstuvwxyz_,") != strlen(fields)))
		return client_fail(c, TETHER_E_USAGE, "invalid session fields '%s'", fields);
	int n = snprintf(path, sizeof path, "%s/sessions?all_users=%d", TETHER_API_PREFIX,
	                 c->all_users ? 1 : 0);
	if (limit > 0)
		n += snprintf(path + n, sizeof path - (size_t)n, "&limit=%lld&after=%lld",
		              (long long)limit, (long long)after);
	if (fields != NULL)
		snprintf(path + n, sizeof path - (size_t)n, "&fields=%s", fields);
	tether_err e = client_target(c, host, &t);
	if (e == TETHER_E_OK)
		e = client_request(c, &t, "GET", path, NULL, &reply);
	if (e != TETHER_E_OK)
		return e;
	json_t *arr = json_object_get(reply, "sessions");
	if (!json_is_array(arr)) {
		json_decref(reply);
		return client_fail(c, TETHER_E_PROTOCOL, "reply without sessions");
	}
	json_int_t more = json_integer_value(json_object_get(reply, "next"));
	if (limit > 0 && more > after)   /* forward only: a reply cannot loop us */
		*next = more;
	size_t i;
	json_t *s;
	json_array_foreach(arr, i, s)
		set_host(s, &t);
	*sessions = json_incref(arr);
	json_decref(reply);
	return TETHER_E_OK;
}

/* Do METHOD on a session, or on what is below it (sub: "shell", ...). */
tether_err client_session_request(tether_client *c, const char *method, const char *session,
                                  const char *sub, json_t *body, json_t **out,
                                  struct target *t)
{
	char ref[BOUND_NAME + 1], path[BOUND_URL];
	tether_err e = client_resolve_session(c, session, t, ref);
	if (e != TETHER_E_OK)
		return e;
	session_path(path, sizeof path, ref);
	if (sub != NULL) {
		size_t n = strlen(path);
		snprintf(path + n, sizeof path - n, "/%s", sub);
	}
	return client_request(c, t, method, path, body, out);
}

/* The same for calls that answer with the session object. */
static tether_err session_call(tether_client *c, const char *method, const char *session,
                               const char *verb, json_t *body, json_t **out)
{
	struct target t;
	tether_err e = client_session_request(c, method, session, verb, body, out, &t);
	if (e == TETHER_E_OK && out != NULL)
		set_host(*out, &t);
	return e;
}

/* Change a session's options. */
tether_err tether_session_set(tether_client *c, const char *session, int64_t idle_timeout,
                              const char *buffering, json_t **out)
{
	json_t *body = json_object();
	if (idle_timeout > 0)
		json_object_set_new(body, "idle_timeout", json_integer(idle_timeout));
	if (buffering != NULL)
		json_object_set_new(body, "output_buffering", json_string(buffering));
	tether_err e = session_call(c, "PATCH", session, NULL, body, out);
	json_decref(body);
	return e;
}

/* Get one session. */
tether_err tether_session_get(tether_client *c, const char *session, json_t **out)
{
	return session_call(c, "GET", session, NULL, NULL, out);
}

/* Remove one session. */
tether_err tether_session_remove(tether_client *c, const char *session, json_t **out)
{
	return session_call(c, "DELETE", session, NULL, NULL, out);
}

/* Connect this client to a session. */
tether_err tether_session_connect(tether_client *c, const char *session, int force,
                                  json_t **out)
{
	json_t *body = json_pack("{s:b}", "force", force);
	tether_err e = session_call(c, "POST", session, "connect", body, out);
	json_decref(body);
	return e;
}

/* Disconnect this client from a session, leaving its work running. */
tether_err tether_session_disconnect(tether_client *c, const char *session, json_t **out)
{
	return session_call(c, "POST", session, "disconnect", NULL, out);
}
