/*
 * stream-out.c - where streamed remote output goes: straight to our stdout
 * and stderr for people, or collected for one JSON document with --json.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "cmd.h"
#include "crypto.h"
#include "fileio.h"

static volatile sig_atomic_t interrupted;

/* SIGINT: ask the library to stop the remote command. */
static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* The library's writer. */
static int write_cb(void *ctx, int stream, const void *data, size_t len)
{
	struct stream_out *so = ctx;
	if (so->json) {
		struct buf *b = stream == 1 ? &so->out : &so->err;
		return buf_append(b, data, len);
	}
	if (stream == 3) {
		fprintf(stderr, "tether: %.*s\n", (int)len, (const char *)data);
		return 0;
	}
	return fileio_write_all(stream == 1 ? 1 : 2, data, len);
}

/* Set up output and Ctrl-C handling for a streaming command. */
void stream_out_init(struct stream_out *so, struct cmd_ctx *x)
{
	memset(so, 0, sizeof *so);
	so->json = x->json;
	buf_init(&so->out, BOUND_RESPONSE);
	buf_init(&so->err, BOUND_RESPONSE);
	so->cb.write = write_cb;
	so->cb.ctx = so;
	stream_out_catch_sigint(x);
}

/* Ctrl-C raises the library's interrupt flag; see cmd.h. */
void stream_out_catch_sigint(struct cmd_ctx *x)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;   /* a control master's worker runs many commands */
	sigaction(SIGINT, &sa, NULL);   /* no SA_RESTART: interrupt the wait */
	tether_set_interrupt(x->c, &interrupted);
}

/* A JSON string for collected bytes; see cmd.h. */
void stream_out_put_bytes(json_t *doc, const char *key, const struct buf *b)
{
	json_t *s = json_stringn(b->data ? b->data : "", b->len);
	if (s != NULL) {
		json_object_set_new(doc, key, s);
		return;
	}
	char k[32], *enc = malloc(b->len * 4 / 3 + 8);
	snprintf(k, sizeof k, "%s_base64", key);
	if (enc != NULL) {
		crypto_b64_encode((const uint8_t *)b->data, b->len, false, true, enc,
		                  b->len * 4 / 3 + 8);
		json_object_set_new(doc, k, json_string(enc));
	}
	free(enc);
}

/* Print the --json result and release buffers. */
static void stream_out_finish(struct stream_out *so, int exit_code, json_t *job)
{
	if (so->json) {
		json_t *doc = json_object();
		stream_out_put_bytes(doc, "stdout", &so->out);
		stream_out_put_bytes(doc, "stderr", &so->err);
		if (so->job_exit_set)
			exit_code = so->job_exit;
		json_object_set_new(doc, "exit_code",
		                    exit_code >= 0 ? json_integer(exit_code) : json_null());
		if (job != NULL)
			json_object_set(doc, "job", job);
		out_json(doc);
		json_decref(doc);
	}
	buf_free(&so->out);
	buf_free(&so->err);
}

/* Finish a streaming command; returns the exit status (releases job). */
int stream_out_done(struct cmd_ctx *x, struct stream_out *so, tether_err e, int status,
                    json_t *job)
{
	if (e != TETHER_E_OK) {
		so->json = 0;   /* the failure is the one document */
		stream_out_finish(so, 0, NULL);
		json_decref(job);
		return out_fail(x, e);
	}
	/* what went wrong beside the command itself (output lost on a full
	 * disk, a vanished supervisor) is said, not only kept in the job */
	const char *why = json_string_value(json_object_get(job, "error"));
	if (!so->json && why != NULL && why[0] != '\0')
		fprintf(stderr, "tether: job '%s': %s\n",
		        json_string_value(json_object_get(job, "name")), why);
	stream_out_finish(so, status, job);
	json_decref(job);
	return status;
}
