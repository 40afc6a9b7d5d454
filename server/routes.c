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
	ROUTE(M_GET,    "/v1/health",                 false, 0,                  api_health),
	/* Prometheus' conventional path, outside /v1; admins only (api-misc.c) */
	ROUTE(M_GET,    "/metrics",                   true,  0,                  api_metrics),
	ROUTE(M_POST,   "/v1/login",                  false, BOUND_BODY_PREAUTH, api_login),
	ROUTE(M_POST,   "/v1/login/challenge",        false, BOUND_BODY_PREAUTH, api_login_challenge),
	ROUTE(M_POST,   "/v1/logout",                 true,  0,                  api_logout),
	ROUTE(M_GET,    "/v1/whoami",                 true,  0,                  api_whoami),
	ROUTE(M_GET,    "/v1/sessions",               true,  0,                  api_session_list),
	ROUTE(M_POST,   "/v1/sessions",               true,  BOUND_BODY_COMMAND, api_session_create),
	ROUTE(M_GET,    "/v1/sessions/{ref}",         true,  0,                  api_session_get),
	ROUTE(M_DELETE, "/v1/sessions/{ref}",         true,  0,                  api_session_remove),
	ROUTE(M_PATCH,  "/v1/sessions/{ref}",         true,  BOUND_BODY_DEFAULT, api_session_set),
	ROUTE(M_POST,   "/v1/sessions/{ref}/connect", true,  BOUND_BODY_DEFAULT, api_session_connect),
	ROUTE(M_POST,   "/v1/sessions/{ref}/disconnect", true, 0,                api_session_disconnect),
	ROUTE(M_POST,   "/v1/sessions/{ref}/receive", true,  0,                  api_session_receive),
	ROUTE(M_POST,   "/v1/sessions/{ref}/invoke",  true,  BOUND_BODY_COMMAND, api_invoke),
	ROUTE(M_GET,    "/v1/sessions/{ref}/jobs",    true,  0,                  api_job_list),
	ROUTE(M_POST,   "/v1/sessions/{ref}/jobs",    true,  BOUND_BODY_COMMAND, api_job_start),
	ROUTE(M_GET,    "/v1/sessions/{ref}/jobs/{job}", true, 0,                api_job_get),
	ROUTE(M_DELETE, "/v1/sessions/{ref}/jobs/{job}", true, 0,                api_job_remove),
	ROUTE(M_GET,    "/v1/sessions/{ref}/jobs/{job}/output", true, 0,         api_job_output),
	ROUTE(M_POST,   "/v1/sessions/{ref}/jobs/{job}/stop", true, BOUND_BODY_DEFAULT, api_job_stop),
	ROUTE(M_POST,   "/v1/sessions/{ref}/shell",   true,  BOUND_BODY_DEFAULT, api_shell_open),
	RAW_OK(M_POST,  "/v1/sessions/{ref}/jobs/{job}/input", true, BOUND_BODY_INPUT, api_shell_input),
	ROUTE(M_GET,    "/v1/sessions/{ref}/transfers", true, 0,                 api_transfer_list),
	ROUTE(M_POST,   "/v1/sessions/{ref}/transfers", true, BOUND_BODY_TRANSFER, api_transfer_start),
	ROUTE(M_GET,    "/v1/sessions/{ref}/transfers/{job}", true, 0,           api_transfer_get),
	ROUTE(M_PATCH,  "/v1/sessions/{ref}/transfers/{job}", true, BOUND_BODY_DEFAULT, api_transfer_set),
	ROUTE(M_DELETE, "/v1/sessions/{ref}/transfers/{job}", true, 0,           api_transfer_remove),
	ROUTE(M_POST,   "/v1/sessions/{ref}/transfers/{job}/complete", true, 0,  api_transfer_complete),
	ROUTE(M_POST,   "/v1/sessions/{ref}/transfers/{job}/suspend", true, 0,   api_transfer_suspend),
	ROUTE(M_POST,   "/v1/sessions/{ref}/transfers/{job}/resume", true, 0,    api_transfer_resume),
	ROUTE(M_POST,   "/v1/uploads",                true,  BOUND_BODY_DEFAULT, api_upload_create),
	ROUTE(M_OPTIONS, "/v1/uploads",               false, 0,                  api_upload_options),
	ROUTE(M_GET,    "/v1/uploads/{id}",           true,  0,                  api_upload_get),
	ROUTE(M_HEAD,   "/v1/uploads/{id}",           true,  0,                  api_upload_get),
	ROUTE(M_DELETE, "/v1/uploads/{id}",           true,  0,                  api_upload_remove),
	/* the body is streamed to the file, never buffered (see struct route) */
	STREAMED(M_PATCH, "/v1/uploads/{id}",     true,  BOUND_UPLOAD_CHUNK, api_upload_append,
	         api_upload_append_begin, api_upload_append_data),
	/* a user's files, opened by the user's OS account (files.h) */
	ROUTE(M_GET,    "/v1/files",                  true,  0,                  api_file_stat),
	ROUTE(M_POST,   "/v1/files",                  true,  BOUND_BODY_DEFAULT, api_file_mkdir),
	ROUTE(M_PATCH,  "/v1/files",                  true,  BOUND_BODY_DEFAULT, api_file_set),
	ROUTE(M_GET,    "/v1/files/content",          true,  0,                  api_file_content),
};

const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];
