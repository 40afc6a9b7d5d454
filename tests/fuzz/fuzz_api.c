/*
 * fuzz_api.c - libFuzzer target: a request body through the JSON
 * parser and the decoders of the session, job, stop, shell, upload and
 * login endpoints.
 *
 * The bytes are parsed exactly as the dispatcher does (http.c: a non-empty
 * body through jsonu_parse_object, an empty one is no body), then handed to
 * the real handlers with a request context whose route parameters name a
 * session that does not exist, for a user whose OS account does not exist,
 * with a session limit of 0: every handler validates its body and then
 * stops (404, 403 or the limit) before it could change anything. So a
 * handler that answers success has let something through, and that is a
 * failed check too. Login's decoder is two checked getters before the
 * password hash (far too slow to fuzz); it is run as those getters.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fuzz_common.h"
#include "jsonu.h"

static struct server *srv;
static int owner_refused;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	srv = fuzz_server();
	srv->conf.max_sessions_per_user = 0;   /* a valid create stops at the limit */
	owner_refused = fuzz_owner_refused();
	return 0;
}

/* A request context as the dispatcher leaves it for a handler. */
static void req_init(struct req *r, json_t *in, int method)
{
	memset(r, 0, sizeof *r);
	r->srv = srv;
	r->in = in;
	r->method = method;
	r->authed = true;
	r->user.id = 1;
	snprintf(r->user.name, sizeof r->user.name, "fuzz");
	snprintf(r->user.os_user, sizeof r->user.os_user, FUZZ_OS_USER);
	snprintf(r->client_id, sizeof r->client_id, "0123456789abcdef0123456789abcdef");
	snprintf(r->peer, sizeof r->peer, "127.0.0.1");
	r->params.n = 2;
	snprintf(r->params.v[0], sizeof r->params.v[0], "fuzz-session");
	snprintf(r->params.v[1], sizeof r->params.v[1], "1");
}

/* Run one handler; it must refuse, with a message. */
static void run(route_handler h, json_t *in, int method)
{
	struct req r;
	req_init(&r, in, method);
	tether_err e = h(&r);
	fuzz_check(e != TETHER_E_OK && r.err == e);
	fuzz_check(memchr(r.errmsg, '\0', sizeof r.errmsg) != NULL && r.errmsg[0] != '\0');
	json_decref(r.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[200];
	json_t *in = NULL;
	if (size > 0) {
		in = jsonu_parse_object((const char *)data, size, why, sizeof why);
		if (in == NULL) {
			fuzz_check(why[0] != '\0');
			return 0;
		}
		fuzz_check(json_is_object(in));
	}
	run(api_session_create, in, M_POST);     /* and session_options, PATCH's decoder */
	run(api_session_connect, in, M_POST);
	run(api_invoke, in, M_POST);
	run(api_job_start, in, M_POST);
	run(api_job_stop, in, M_POST);
	run(api_shell_open, in, M_POST);
	run(api_shell_input, in, M_POST);
	if (owner_refused)
		run(api_upload_create, in, M_POST);

	/* api_login's decoder */
	const char *user = NULL, *password = NULL;
	if (in != NULL &&
	    jsonu_get_string(in, "user", true, BOUND_NAME, &user, why, sizeof why) == JSONU_OK &&
	    jsonu_get_string(in, "password", true, BOUND_PASSWORD, &password, why,
	                     sizeof why) == JSONU_OK)
		fuzz_check(strlen(user) <= BOUND_NAME && strlen(password) <= BOUND_PASSWORD);
	json_decref(in);
	return 0;
}
