/*
 * routes.c - every HTTP endpoint tetherd serves, and its policy.
 *
 * Read this table to know the whole attack surface: what needs a token and
 * how large a body each endpoint will even look at.
 */
#include "api.h"
#include "bounds.h"

const struct route api_routes[] = {
	/* method    path                            auth   body limit          handler */
	{ M_GET,    "/v1/health",                 false, 0,                  api_health },
	{ M_POST,   "/v1/login",                  false, BOUND_BODY_PREAUTH, api_login },
	{ M_POST,   "/v1/logout",                 true,  0,                  api_logout },
	{ M_GET,    "/v1/whoami",                 true,  0,                  api_whoami },
	{ M_GET,    "/v1/sessions",               true,  0,                  api_session_list },
	{ M_POST,   "/v1/sessions",               true,  BOUND_BODY_DEFAULT, api_session_create },
	{ M_GET,    "/v1/sessions/{ref}",         true,  0,                  api_session_get },
	{ M_DELETE, "/v1/sessions/{ref}",         true,  0,                  api_session_remove },
	{ M_PATCH,  "/v1/sessions/{ref}",         true,  BOUND_BODY_DEFAULT, api_session_set },
	{ M_POST,   "/v1/sessions/{ref}/connect", true,  BOUND_BODY_DEFAULT, api_session_connect },
	{ M_POST,   "/v1/sessions/{ref}/disconnect", true, 0,                api_session_disconnect },
	{ M_POST,   "/v1/sessions/{ref}/receive", true,  0,                  api_session_receive },
	{ M_POST,   "/v1/sessions/{ref}/invoke",  true,  BOUND_BODY_COMMAND, api_invoke },
	{ M_GET,    "/v1/sessions/{ref}/jobs",    true,  0,                  api_job_list },
	{ M_POST,   "/v1/sessions/{ref}/jobs",    true,  BOUND_BODY_COMMAND, api_job_start },
	{ M_GET,    "/v1/sessions/{ref}/jobs/{job}", true, 0,                api_job_get },
	{ M_DELETE, "/v1/sessions/{ref}/jobs/{job}", true, 0,                api_job_remove },
	{ M_GET,    "/v1/sessions/{ref}/jobs/{job}/output", true, 0,         api_job_output },
	{ M_POST,   "/v1/sessions/{ref}/jobs/{job}/stop", true, BOUND_BODY_DEFAULT, api_job_stop },
	{ M_POST,   "/v1/sessions/{ref}/shell",   true,  BOUND_BODY_DEFAULT, api_shell_open },
	{ M_POST,   "/v1/sessions/{ref}/jobs/{job}/input", true, BOUND_BODY_DEFAULT, api_shell_input },
	{ M_GET,    "/v1/sessions/{ref}/transfers", true, 0,                 api_transfer_list },
	{ M_POST,   "/v1/sessions/{ref}/transfers", true, BOUND_BODY_COMMAND, api_transfer_start },
	{ M_GET,    "/v1/sessions/{ref}/transfers/{job}", true, 0,           api_transfer_get },
	{ M_PATCH,  "/v1/sessions/{ref}/transfers/{job}", true, BOUND_BODY_DEFAULT, api_transfer_set },
	{ M_DELETE, "/v1/sessions/{ref}/transfers/{job}", true, 0,           api_transfer_remove },
	{ M_POST,   "/v1/sessions/{ref}/transfers/{job}/complete", true, 0,  api_transfer_complete },
	{ M_POST,   "/v1/sessions/{ref}/transfers/{job}/suspend", true, 0,   api_transfer_suspend },
	{ M_POST,   "/v1/sessions/{ref}/transfers/{job}/resume", true, 0,    api_transfer_resume },
};

const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];
