/*
 * client-int.h - libtether's internals, shared by its files only.
 */
#ifndef TETHER_CLIENT_INT_H
#define TETHER_CLIENT_INT_H

#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>

#include "addr.h"
#include "buf.h"
#include "bounds.h"
#include "crypto.h"
#include "proto.h"
#include "tether.h"

struct tether_client {
	char   config_dir[BOUND_PATH];   /* client_id, known_hosts */
	char   state_dir[BOUND_PATH];    /* credentials.json, jobs */
	char   client_id[TETHER_CLIENT_ID_LEN + 1];
	char   errmsg[512];
	bool   job_error;   /* the last job stream saw X-Tether-Error */
	char   errcode[48];
	CURL  *curl;                     /* reused: keeps connections alive */
	json_t *creds;                   /* credentials.json, loaded lazily */
	volatile sig_atomic_t *interrupt;   /* raised by the caller's SIGINT */
	long   connect_timeout;          /* seconds to connect, TLS included */
	long   io_timeout;               /* seconds a request may go silent */
	/* tether_client_new_remote: nothing under $TETHER_HOME is read or
	 * written; trust and the route are the caller's, tokens live here */
	bool   remote;
	bool   insecure;                 /* verify nothing (the caller's choice) */
	bool   all_users;                /* tether_set_all_users */
	bool   no_state;                 /* tether_invoke_host: nothing to save */
	bool   remove_at_end;            /* tether_invoke_host: polls ask ?remove=1 */
	bool   removed;                  /* ... and a reply said it removed it */
	char  *cacert_pem;               /* CAs as PEM text, or NULL: the system's */
	char  *proxy;                    /* NULL: libcurl's default; "": none */
	char  *noproxy;
	char  *proxy_user, *proxy_password;   /* remote clients: the proxy's login */
	char  *user_agent;
	const char *(*next_proxy)(void *ctx, const char *proxy, const char *why);
	void  *proxy_ctx;
	int    verbose;                  /* tether_client_set_verbose */
	char  *hostconf;                 /* $TETHER_HOME/config's text, or NULL */
	int    dflt_throttle;            /* its defaults for fleets (0: none) */
	long   dflt_timeout;
	long   control_persist;          /* the config's ControlPersist (seconds; 0: none) */
	size_t hostconf_len;
	/* how the last exchange ended */
	long   last_status;              /* HTTP status, 0 if no reply came */
	int    last_transport;           /* the libcurl code, 0 if none */
};

/* Timeouts (docs/sessions.md, "Timeouts"): connecting, TLS handshake
 * included, and a request that receives nothing at all; the second outlasts
 * the longest long poll (60 s) the client asks for. */
#define CLIENT_CONNECT_TIMEOUT_DEFAULT 10
#define CLIENT_IO_TIMEOUT_DEFAULT      90

/* What the X-Tether-* headers of an output reply said. */
struct reply_info {
	int64_t next, size;
	int     exit_code;   /* -1 if not given */
	int     signal;
	bool    done;
	bool    job_error;   /* the job has an error to read in its object */
	bool    removed;     /* ?remove=1 removed the session with this reply */
	bool    delivered;   /* the job's output is all delivered: no acknowledgement */
	int64_t job;         /* an invoke?wait reply: the job started */
	char    state[24];
};

/* How a request trusts the server. */
enum trust_mode {
	TRUST_PIN, TRUST_CA, TRUST_PROBE,
	TRUST_SYSTEM,   /* remote clients: the system's CAs, or the client's PEM */
	TRUST_NONE,     /* remote clients told to be insecure */
};

/* A resolved host: address, the user we act as, token and trust. */
struct target {
	struct hostspec hs;
	char   key[300];                /* "host:port", known_hosts/credentials key */
	char   user[BOUND_NAME + 1];
	char   token[BOUND_TOKEN + 1];
	enum trust_mode trust;
	char   pin[CRYPTO_FP_MAX];      /* TRUST_PIN */
	char   cacert[BOUND_PATH];      /* TRUST_CA */
	char   seen_fp[CRYPTO_FP_MAX];  /* TRUST_PROBE: what the server presented */
	/* a key login's channel binding (keylogin.h), read while a request
	 * with want_binding set is answered */
	bool          want_binding, have_binding;
	unsigned char binding[32];
};

struct hostconfig;
/* What the client's configuration file says for alias ("" for the lines
 * that apply to every host): all zero without a file; a malformed file is
 * a usage failure naming it and its line. */
tether_err client_hostconfig(tether_client *c, const char *alias, struct hostconfig *out);

/* From now on the clients this process opens share one pool of
 * connections (and DNS answers): a connection a client leaves open serves
 * the next client's requests to the same server with the same TLS
 * settings (the pinned key among them). For a control master's workers
 * (docs/cli.md, "Connection sharing"), which run many commands, one after
 * another. */
void client_share_connections(void);

/* Record a failure on c and return e (printf-style message). */
tether_err client_fail(tether_client *c, tether_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Resolve HOST for an authenticated call: user, token and trust. */
tether_err client_target(tether_client *c, const char *host, struct target *t);

/* Parse HOST (no credentials needed) and fill key and trust from known_hosts. */
tether_err client_target_parse(tether_client *c, const char *host, struct target *t);

/* One HTTPS request. body may be NULL; *out (may be NULL) gets the decoded
 * JSON reply on success. HTTP errors become the server's tether_err with
 * its message recorded on c. */
tether_err client_request(tether_client *c, struct target *t, const char *method,
                          const char *path, json_t *body, json_t **out);

/* client_request with bytes as the body (application/octet-stream).
 * probe: ask with "Expect: 100-continue" first, so that a server refusing
 * the body (an older one: 413, 415) says so before it is sent, rather than
 * closing the connection under it. */
tether_err client_request_bytes(tether_client *c, struct target *t, const char *method,
                                const char *path, const void *data, size_t len,
                                bool probe, json_t **out);

/* client_request with an optional binary reply (raw, handed over; the
 * caller frees it) and X-Tether-* headers (ri). */
tether_err client_exchange(tether_client *c, struct target *t, const char *method,
                           const char *path, json_t *body, json_t **out,
                           struct buf *raw, struct reply_info *ri);

/* Stdin goes to a command's input in pieces of up to BOUND_INPUT_DATA, as
 * the bytes themselves; a tetherd older than that takes only JSON bodies
 * of 64 KiB, so pieces of CLIENT_STDIN_SMALL in base64 (docs/sessions.md,
 * "stdin"). A fleet's pieces are small: its hosts may be of any age. */
#define CLIENT_STDIN_CHUNK BOUND_INPUT_DATA
#define CLIENT_STDIN_SMALL (45 * 1024)

/* A request in flight on an easy handle, for callers that perform it
 * themselves (the fleet engine, on a multi handle). */
struct request {
	struct target     *t;
	CURL              *h;
	tether_client     *c;
	bool               tls_check;   /* tlscache_note() due at the first bytes */
	struct curl_slist *hdrs;
	char              *text;     /* the encoded body */
	struct buf         reply;
	char               errbuf[CURL_ERROR_SIZE];
};

/* Offer t's TLS session saved by an earlier process, if t is pinned
 * (tlscache.c); r must live until the transfer ends. */
void tlscache_prepare(tether_client *c, CURL *h, struct request *r);

/* From the reply's first bytes: after a full handshake, save the session
 * for the next process; after a resumed one, nothing (-v says so). */
void tlscache_note(struct request *r);

/* Set h up for METHOD path on t (r holds what must outlive the call; ri,
 * if not NULL, gets the X-Tether-* headers). Release r with
 * request_release() whatever happens. */
tether_err request_prepare(tether_client *c, CURL *h, struct target *t, const char *method,
                           const char *path, json_t *body, struct request *r,
                           struct reply_info *ri);

/* Judge the performed request (rc: how libcurl ended it) as client_exchange
 * does: *out the decoded reply, or raw the bytes; failures recorded on c. */
tether_err request_finish(tether_client *c, CURL *h, struct request *r, CURLcode rc,
                          json_t **out, struct buf *raw);

/* curl_easy_perform(h), going on to the remote client's next proxy while
 * the one in use cannot be reached (nothing has been sent then). */
CURLcode request_perform(tether_client *c, CURL *h);

/* Free what r holds (wiping the token and body) and unhook it from h. */
void request_release(CURL *h, struct request *r);

/* Did h's last request go out, so that the server may have acted on it
 * (a host never reached has done nothing)? */
bool request_sent(CURL *h);

/* A temporary session made with its command in one exchange (POST
 * /v1/sessions with "command", docs/api.md): a random "tether-run-" name
 * into name (so that a timeout or an interrupt before the answer still
 * knows what to stop and remove), the path (first output within wait
 * seconds; remove: ?remove=1) into path, and the body. NULL (reason
 * recorded on c) if no random bytes could be had. */
json_t *client_run_request(tether_client *c, const char *command, long wait, bool remove,
                           char name[BOUND_NAME + 1], char *path, size_t pathsz);

/* Split SESSION into a target and a reference. */
tether_err client_resolve_session(tether_client *c, const char *session,
                                  struct target *t, char ref[BOUND_NAME + 1]);

/* Where job_stream puts each reply: len bytes of whole output-log records
 * read from offset in the job's log, and what the reply's headers said
 * (the chunk may be empty). ri->next, where the next read starts, is
 * offset + len, except when output was dropped there: the chunk is then a
 * marker record standing for the log up to ri->next. Returns TETHER_E_OK,
 * or a failure recorded on c, which ends the stream. */
struct job_sink {
	tether_err (*chunk)(void *ctx, tether_client *c, int64_t offset, const uint8_t *raw,
	                    size_t len, const struct reply_info *ri);
	void       *ctx;
};

/* Read job's output from offset (-1: from the server's delivered cursor)
 * into sink: what is there now, or (follow) until the job ends. Each request
 * acknowledges what came before it unless keep; the end is acknowledged
 * too. A raised interrupt flag stops the remote job (INT, then KILL) and
 * streaming goes on. *status: the exit status once the job has ended
 * (128+N for signal N), else -1. */
tether_err job_stream(tether_client *c, struct target *t, const char *ref, int64_t job,
                      int64_t offset, bool keep, bool follow, const struct job_sink *sink,
                      int *status);

/* METHOD on SESSION's path, or on sub below it ("shell", "jobs/7/input");
 * t gets the target used. */
tether_err client_session_request(tether_client *c, const char *method, const char *session,
                                  const char *sub, json_t *body, json_t **out,
                                  struct target *t);

/* True if job is a job reference (a numeric id or a name) that can go into
 * a request path as it is. */
bool client_job_ref_ok(const char *job);

/* job_stream with the records decoded for a caller's writer. */
tether_err job_stream_to(tether_client *c, struct target *t, const char *ref, int64_t job,
                         int64_t offset, bool keep, bool follow,
                         const struct tether_output *out, int *status);

/* cursor.c: a small notes file of this client's state dir (file, 0600):
 * a JSON object whose entries each carry "saved" (Unix seconds). Loaded
 * whole (an empty object if absent or unreadable; at most 256 KiB);
 * stored atomically, less entries older than 7 days and the oldest over
 * 256. */
json_t *notes_load(tether_client *c, const char *file);
void notes_store(tether_client *c, const char *file, json_t *all);

/* cursor.c: the byte this client had written of a job's output when its
 * stream broke, for the next receive to start at (at most once delivery). */
void cursor_save(tether_client *c, const struct target *t, int64_t job, int64_t offset);
/* The noted offset (and forget it), or -1. */
int64_t cursor_take(tether_client *c, const struct target *t, int64_t job);

/* known_hosts: look up (0 found, 1 absent, -1 error) and record. value is
 * "SHA256:..." or "cacert:/path". */
int known_hosts_get(tether_client *c, const char *key, char *value, size_t valuesz);
int known_hosts_set(tether_client *c, const char *key, const char *value);

/* credentials.json: token per host and user, and the host's default user. */
int creds_get(tether_client *c, const char *key, const char *user, char *userout,
              size_t usersz, char *token, size_t tokensz);
int creds_set(tether_client *c, const char *key, const char *user, const char *token,
              const char *expires);
int creds_remove(tether_client *c, const char *key, const char *user);


#endif
