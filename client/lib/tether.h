/*
 * tether.h - libtether, the C client API for tetherd.
 *
 * One prefix (tether_), one error type (tether_err, shared with the server
 * through common/error.h). Results are jansson objects in the JSON shapes of
 * docs/cli.md; the caller owns every json_t handed back through an out-pointer
 * and releases it with json_decref(). A tether_client holds this client
 * machine's identity and trust ($TETHER_HOME: client id, known_hosts,
 * tokens) and reuses TLS connections between calls. It is not thread-safe:
 * use one per thread.
 *
 * HOST is "[USER@]NAME[:PORT]"; SESSION is "HOST/NAME" or "HOST/ID".
 */
#ifndef TETHER_H
#define TETHER_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct tether_client tether_client;

/* Open this client's state (creating $TETHER_HOME and a client id on first
 * use). On failure *out is still set when possible so tether_last_error()
 * can explain; free it with tether_client_free(). */
tether_err tether_client_new(tether_client **out);
void tether_client_free(tether_client *c);

/* A client for a program that talks to one tetherd on a user's behalf
 * without being that user's tether client (tetherd's transfer worker): it
 * reads and writes nothing under $TETHER_HOME, sends no client id, keeps
 * the token of a tether_login in memory only (tether_logout drops it), and
 * trusts the server as these options say, never through known_hosts. */
struct tether_remote_opts {
	const char *cacert_pem;    /* verify against these CAs (PEM text); NULL: the system's */
	int         insecure;      /* verify nothing */
	const char *proxy;         /* NULL: libcurl's default (the environment); "": none */
	const char *noproxy;       /* hosts reached directly, or NULL */
	const char *proxy_user;    /* log in to the proxy (any in use) as this, or NULL */
	const char *proxy_password;   /* with proxy_user; copied, zeroed when freed */
	const char *user_agent;    /* or NULL */
	long        connect_timeout;   /* seconds (0: the default) */
	long        io_timeout;        /* seconds a request may go silent (0: the default) */
	/* When the proxy in use cannot be reached (or refuses the tunnel) and
	 * nothing was sent: the next proxy to try for this and later requests,
	 * or NULL to fail. why is libcurl's reason. May be NULL. */
	const char *(*next_proxy)(void *ctx, const char *proxy, const char *why);
	void       *proxy_ctx;
};
tether_err tether_client_new_remote(tether_client **out, const struct tether_remote_opts *o);

/* How the last exchange on c ended: the HTTP status of the reply (0 if
 * none came), and the libcurl code (a CURLcode; 0 if libcurl succeeded). */
long tether_last_http_status(const tether_client *c);
int tether_last_transport_error(const tether_client *c);

/* A one-line explanation of the last failure on c ("" if none). */
const char *tether_last_error(const tether_client *c);

/* The server's error code of the last failure, or "" if it was local. */
const char *tether_last_error_code(const tether_client *c);

/* This client machine's id (32 hex characters). */
const char *tether_client_id(const tether_client *c);

/* This client's configuration directory ($TETHER_HOME, else
 * ~/.config/tether), where the fleet inventory lives (docs/fleet.md). */
const char *tether_client_config_dir(const tether_client *c);

/* How a login decides to trust the server's key. */
struct tether_login_opts {
	const char *user;          /* NULL: USER@ of host, else $USER */
	const char *password;      /* or NULL: ask get_password once the key is trusted */
	int       (*get_password)(void *ctx, char *buf, size_t bufsz);   /* 0 or -1 */
	void       *password_ctx;
	int         accept_new;    /* pin an unknown key without asking */
	const char *fingerprint;   /* "SHA256:..." the key must have */
	const char *cacert;        /* verify against this CA instead of pinning */
	const char *cacert_default; /* the same ($TETHER_CACERT), but only for a host
	                              with no known_hosts entry and when none of
	                              accept_new, fingerprint, cacert is set */
	/* Asked about an unknown key when neither accept_new nor fingerprint is
	 * set; returns 1 to trust and pin it. NULL means refuse. */
	int       (*confirm)(void *ctx, const char *host, const char *fingerprint);
	void       *confirm_ctx;
	/* Public keys are tried before the password: identity's (an OpenSSH
	 * private key file), then ssh-agent's ($SSH_AUTH_SOCK) unless no_agent.
	 * get_passphrase is asked for an encrypted identity (0 or -1). */
	const char *identity;
	int         no_agent;
	int       (*get_passphrase)(void *ctx, const char *file, char *buf, size_t bufsz);
	void       *passphrase_ctx;
};

/* Verbose diagnostics on stderr (level 1): each connection's TLS and
 * server key, each request's status and timings; never a token or a body. */
void tether_client_set_verbose(tether_client *c, int level);

/* Log in, pinning or verifying the server key, and store the token (0600):
 * with a public key if one is accepted, else with the password (if
 * o->password or o->get_password gives one). *info (optional) gets
 * {"user","host","expires","fingerprint","method","key"}. */
tether_err tether_login(tether_client *c, const char *host,
                        const struct tether_login_opts *o, json_t **info);

/* Revoke the token on the server and forget it here. */
tether_err tether_logout(tether_client *c, const char *host);

/* Hosts this client holds tokens for: an array of "USER@HOST:PORT". */
tether_err tether_hosts(tether_client *c, json_t **hosts);

/* Sessions. idle_timeout 0 and buffering NULL mean the server's default. */
tether_err tether_session_new(tether_client *c, const char *host, const char *name,
                              int64_t idle_timeout, const char *buffering,
                              json_t **session);
/* Change a session's idle timeout / output buffering (0 / NULL: unchanged). */
tether_err tether_session_set(tether_client *c, const char *session, int64_t idle_timeout,
                              const char *buffering, json_t **out);
tether_err tether_session_list(tether_client *c, const char *host, json_t **sessions);
/* One page of them: at most limit sessions with an id above after; *next
 * is the after of the next page, or 0 when there is none (a tetherd
 * without pages answers every session at once, with no next). fields:
 * the JSON fields each session needs, comma-separated ("id,name,state"),
 * or NULL for all of them (an older tetherd may send all anyway); "host"
 * is always set. */
tether_err tether_session_list_page(tether_client *c, const char *host, int64_t after,
                                    int64_t limit, const char *fields, json_t **sessions,
                                    int64_t *next);
tether_err tether_session_get(tether_client *c, const char *session, json_t **out);
tether_err tether_session_remove(tether_client *c, const char *session, json_t **out);

/* Connect this client to a session (force: take it from another client). */
tether_err tether_session_connect(tether_client *c, const char *session, int force,
                                  json_t **out);
/* Disconnect, leaving everything in the session running. */
tether_err tether_session_disconnect(tether_client *c, const char *session, json_t **out);

/* Where streamed output goes: stream 1 is stdout, 2 stderr, 3 a notice from
 * tether itself. Return 0, or -1 to stop streaming (TETHER_E_IO). */
struct tether_output {
	int  (*write)(void *ctx, int stream, const void *data, size_t len);
	void  *ctx;
};

/* A flag the caller raises from its SIGINT handler. While a call streams
 * output, raising it sends the remote command's process group SIGINT (a
 * second time: SIGKILL) and streaming goes on until the command ends. */
void tether_set_interrupt(tether_client *c, volatile sig_atomic_t *flag);

/* tether_invoke, with the bytes read from fd (until its end) streamed to
 * the command's stdin, as ssh does; fd < 0: stdin is /dev/null. */
tether_err tether_invoke_stdin(tether_client *c, const char *session, const char *command,
                               int fd, const struct tether_output *out, int *status,
                               json_t **job);

/* tether_invoke_stdin in a new temporary session on HOST, removed when the
 * command has ended (by the reply that ends its output, where the server
 * can), as `tether invoke -H HOST` does; its state is not saved. A failed
 * removal is a notice on stream 3. */
tether_err tether_invoke_host(tether_client *c, const char *host, const char *command,
                              int fd, const struct tether_output *out, int *status,
                              json_t **job);

/* on: session, job and transfer lists, job stop/remove and transfer
 * suspend/resume/remove ask for every user's (an administrator's
 * --all-users, docs/security.md): lists name each object's owner, and a
 * numeric session id may be anyone's. */
void tether_set_all_users(tether_client *c, int on);

/* Run command with bash in SESSION's saved state and stream its output
 * until it ends. *status gets its exit status (128+N for a death by signal
 * N); *job (optional) the final job object. */
tether_err tether_invoke(tether_client *c, const char *session, const char *command,
                         const struct tether_output *out, int *status, json_t **job);

/* Start command in SESSION without waiting for it; *job gets the job. */
tether_err tether_invoke_start(tether_client *c, const char *session, const char *command,
                               json_t **job);

/* Connect if needed and stream the output of the session's latest command
 * from where the last receiver acknowledged, until it ends. *status as for
 * tether_invoke (0 if the session has run nothing). */
tether_err tether_session_receive(tether_client *c, const char *session,
                                  const struct tether_output *out, int *status,
                                  json_t **job);

/* Background jobs kept on the remote host (JOB: a numeric id or a name). */
tether_err tether_job_start(tether_client *c, const char *session, const char *name,
                            const char *command, json_t **job);
tether_err tether_job_list(tether_client *c, const char *session, json_t **jobs);
tether_err tether_job_get(tether_client *c, const char *session, const char *job,
                          json_t **out);
tether_err tether_job_stop(tether_client *c, const char *session, const char *job,
                           json_t **out);
tether_err tether_job_remove(tether_client *c, const char *session, const char *job,
                             int force, json_t **out);
/* Stream the job's undelivered output: what is there now, or (wait) until
 * it ends. keep: leave it undelivered. *status: the job's exit status once
 * it has ended, else -1. *final (optional): the job afterwards. */
tether_err tether_job_receive(tether_client *c, const char *session, const char *job,
                              int keep, int wait, const struct tether_output *out,
                              int *status, json_t **final);

/* Local jobs (invoke --as-job): the job object lives in this client's job
 * table under $TETHER_HOME while its command runs as an invoke in a remote
 * session, and receive copies the output here. JOB is a local id or name.
 * Job objects have the docs/cli.md fields, with "location" the HOST and
 * "session" the SESSION the command runs in, and "remote" naming the
 * remote job ({"host","user","session","session_id","job_id","location"}).
 * A job whose host cannot be asked shows as "Disconnected", with the reason
 * in "error" and its "last_known_state". */

/* Start command as an invoke in SESSION (held by this client) and add a
 * local job for it, returning at once. name NULL: "Job<ID>"; a name must
 * be valid (TETHER_E_USAGE) and not in use here (TETHER_E_CONFLICT). */
tether_err tether_local_job_start(tether_client *c, const char *session, const char *name,
                                  const char *command, json_t **job);

/* Every local job, with the state of unfinished ones asked of their hosts.
 * A host that cannot be reached is not a failure: its jobs are Disconnected. */
tether_err tether_local_job_list(tether_client *c, json_t **jobs);

/* One local job, refreshed. If its host cannot be asked, the failure is
 * returned and *out (when possible) still gets the job, Disconnected. */
tether_err tether_local_job_get(tether_client *c, const char *job, json_t **out);

/* Stop the job's remote command (TERM, grace, KILL to its group); *out:
 * the job afterwards. A job that has ended is left as it is. */
tether_err tether_local_job_stop(tether_client *c, const char *job, json_t **out);

/* Remove the remote job (force: stop it first if it runs; else a running
 * job is refused, TETHER_E_CONFLICT), then the local job and its copied
 * output. With force a host that cannot be reached does not keep the local
 * job: *out then has a "warning". *out: the job as it was. */
tether_err tether_local_job_remove(tether_client *c, const char *job, int force,
                                   json_t **out);

/* A fleet job (invoke --as-job on several hosts, docs/fleet.md): one local
 * parent job and a child local job per session (sessions[i], shown as
 * labels[i]; own[i]: the session was made for the job and is removed with
 * its child). The parent's "children" are its children's objects and its
 * state is theirs combined (Running while any runs, then Failed if any
 * failed, else Completed); get, stop and remove on the parent act on every
 * child. Hosts where the command could not start are left out and listed in
 * *failures ({"index","host","error"}); none started is a failure. */
tether_err tether_local_job_start_fleet(tether_client *c, size_t n,
                                        const char *const *sessions,
                                        const char *const *labels, const bool *own,
                                        const char *name, const char *command,
                                        json_t **job, json_t **failures);

/* A fleet job's children as [{"id","name","host"}], or NULL for another job. */
tether_err tether_local_job_children(tether_client *c, const char *job, json_t **kids);

/* Copy the remote job's new output here (acknowledging it remotely) and
 * write this copy's undelivered output to out: what there is now, or
 * (wait) until the job ends. keep: leave it undelivered here. *status: the
 * job's exit status once it has ended, else -1. If the remote cannot be
 * read, what is held here is written anyway; without wait that counts as
 * success if anything was written: *local_only is then 1 and
 * tether_last_error() says why. *final (optional): the job afterwards. */
tether_err tether_local_job_receive(tether_client *c, const char *job, int keep, int wait,
                                    const struct tether_output *out, int *status,
                                    int *local_only, json_t **final);

/* Transfer jobs (BITS-style): the server downloads or uploads files on its
 * own host and keeps going with no client connected. Objects are the
 * server's transfer objects as sent (docs/cli.md fields, plus "rate",
 * "retry_at", "notes" and "options"). JOB is a numeric id or a name
 * (TETHER_E_USAGE otherwise). *out is NULL after a failure. */

/* Create a transfer job from request, the body of the create call
 * ({"sources": [...], "destination": "...", ...}; the caller keeps it and
 * should wipe any "credentials" password in it afterwards). *out: the job. */
tether_err tether_transfer_start(tether_client *c, const char *session, json_t *request,
                                 json_t **out);
/* The session's transfer jobs (an array), Acknowledged and Cancelled ones
 * excepted. */
tether_err tether_transfer_list(tether_client *c, const char *session, json_t **transfers);
tether_err tether_transfer_get(tether_client *c, const char *session, const char *job,
                               json_t **out);
/* The same, but while the job is Queued, Connecting or Transferring the
 * server may hold the answer up to wait seconds (0-60), until its worker
 * ends (a server without the wait parameter answers at once). */
tether_err tether_transfer_wait(tether_client *c, const char *session, const char *job,
                                int wait, json_t **out);
/* action: "complete" (take the files: Transferred -> Acknowledged),
 * "suspend", "resume", or "remove" (cancel: -> Cancelled, files dropped).
 * *out: the job afterwards. */
tether_err tether_transfer_action(tether_client *c, const char *session, const char *job,
                                  const char *action, json_t **out);
/* Change what a running job may change: changes holds any of "priority",
 * "max_rate", "retry_delay", "no_progress_timeout" (the caller keeps it). */
tether_err tether_transfer_set(tether_client *c, const char *session, const char *job,
                               json_t *changes, json_t **out);

/* Resumable uploads into a tetherd's files (docs/transfers.md; the
 * server's /v1/uploads): the server holds an upload's bytes and an offset
 * it moves only for whole, checksummed, durable chunks, so a cut costs at
 * most the chunk in flight. HOST is logged in (tether_login). ID is the
 * upload's id, at most TETHER_UPLOAD_ID_MAX hex digits. */
#define TETHER_UPLOAD_ID_MAX 63

/* Start an upload of length bytes into path there (mode: the file's
 * permission bits, or -1; sha256: the whole file's hex digest the server
 * checks at the end, or NULL). id gets the upload's id. */
tether_err tether_upload_create(tether_client *c, const char *host, const char *path,
                                int64_t length, int mode, const char *sha256,
                                char id[TETHER_UPLOAD_ID_MAX + 1]);
/* The server's offset for the upload, and whether it is done (committed).
 * A gone upload is TETHER_E_NOT_FOUND (HTTP 404). */
tether_err tether_upload_query(tether_client *c, const char *host, const char *id,
                               int64_t *offset, bool *done);

/* Told as a chunk goes out: sent, bytes of it handed to the connection so
 * far. Return 0 to go on, else the append is abandoned (TETHER_E_INTERRUPTED). */
struct tether_upload_io {
	int  (*progress)(void *ctx, size_t sent);
	void  *ctx;
};
/* Append len bytes at offset (the server's), sent with their SHA-256; an
 * empty append at the end commits the file. io may be NULL. A wrong offset
 * is HTTP 409, a chunk too large for the server HTTP 413. */
tether_err tether_upload_append(tether_client *c, const char *host, const char *id,
                                int64_t offset, const void *data, size_t len,
                                const struct tether_upload_io *io);
/* Drop the upload and the bytes the server holds for it. */
tether_err tether_upload_remove(tether_client *c, const char *host, const char *id);

/* Files on a tetherd's host, as the OS account of the user logged in there
 * (tether copy; docs/copy.md; the server's /v1/files). A relative PATH is
 * under that account's home; the account's rights decide everything. */

/* What PATH is: {"path" (absolute), "type" ("file", "directory",
 * "symlink", "other"), "size", "mode", "mtime"}; with TETHER_FILE_SHA256 a
 * file's "sha256", with TETHER_FILE_ENTRIES a directory's "entries" (all of
 * them: [{"name","type","size","mode","mtime"}], a symlink not followed). */
#define TETHER_FILE_SHA256  0x1
#define TETHER_FILE_ENTRIES 0x2
tether_err tether_file_stat(tether_client *c, const char *host, const char *path, int flags,
                            json_t **out);
/* Make directory PATH (mode before the account's umask, or -1); one that
 * exists is fine. */
tether_err tether_file_mkdir(tether_client *c, const char *host, const char *path, int mode);
/* Set PATH's permission bits (mode >= 0) and modification time (mtime >= 0). */
tether_err tether_file_set(tether_client *c, const char *host, const char *path, int mode,
                           int64_t mtime);

/* How one file is copied: preserve keeps its mode and modification time;
 * progress (may be NULL) hears done of total bytes as they move. */
struct tether_copy_opts {
	int    preserve;
	void (*progress)(void *ctx, int64_t done, int64_t total);
	void  *ctx;
};
/* Copy the local file to the file remote there, as the account (the
 * resumable uploads above): after a cut, the same copy again goes on from
 * the server's offset; the whole file's SHA-256 is checked there and the
 * file renamed into place. *resumed_from (may be NULL): where it went on. */
tether_err tether_copy_to(tether_client *c, const char *host, const char *local,
                          const char *remote, const struct tether_copy_opts *o,
                          int64_t *resumed_from);
/* Copy the file remote there to the local file: its bytes go to a hidden
 * partial file beside it (.NAME.tether-part) that the same copy again goes
 * on from; checked against the server's SHA-256 (a mismatch deletes it,
 * TETHER_E_CHECKSUM_MISMATCH) and renamed into place. */
tether_err tether_copy_from(tether_client *c, const char *host, const char *remote,
                            const char *local, const struct tether_copy_opts *o,
                            int64_t *resumed_from);

/* The interactive shell of SESSION (tether enter). Open one, or re-attach to
 * the one running there: *job gets the shell job, *offset where to start
 * reading its output (0 for a new shell; for a re-attach, about the last
 * 64 KiB). rows/cols 0 and term NULL mean the server's defaults. */
tether_err tether_shell_open(tether_client *c, const char *session, int rows, int cols,
                             const char *term, json_t **job, int64_t *offset);
/* Keystrokes for the shell's terminal (at most TETHER_SHELL_INPUT_MAX bytes
 * a call), and a new window size. */
#define TETHER_SHELL_INPUT_MAX 4096
tether_err tether_shell_input(tether_client *c, const char *session, int64_t job,
                              const void *data, size_t len);
tether_err tether_shell_resize(tether_client *c, const char *session, int64_t job, int rows,
                               int cols);
/* Follow the shell's output from offset until it exits; *status as for
 * tether_invoke. */
tether_err tether_shell_output(tether_client *c, const char *session, int64_t job,
                               int64_t offset, const struct tether_output *out, int *status);


/* Fleets (docs/fleet.md): one verb on many hosts at once. The requests of
 * every host go out from this thread on libcurl's multi interface, at most
 * throttle hosts in flight; a host that is dead, refusing or hanging costs
 * its own timeouts and never delays the others. Each host is authoritative
 * for its own sessions: a fleet session is the session of one NAME on each
 * host. Hosts are HOST specs ("[USER@]NAME[:PORT]"), each logged in. */
enum tether_fleet_verb {
	TETHER_FLEET_INVOKE,              /* command in session, or a temporary one */
	TETHER_FLEET_RECEIVE,             /* output of the session's latest command */
	TETHER_FLEET_SESSION_NEW,         /* create session (a name, or NULL) */
	TETHER_FLEET_SESSION_REMOVE,
	TETHER_FLEET_SESSION_CONNECT,
	TETHER_FLEET_SESSION_DISCONNECT,
	TETHER_FLEET_SESSION_LIST,        /* every session of ours (session unused) */
	TETHER_FLEET_JOB_START,           /* a background job in session */
	TETHER_FLEET_LOGIN,               /* tether_login on each host (login) */
};

struct tether_fleet_req {
	enum tether_fleet_verb verb;
	const char *session;         /* the session's name on every host; NULL with
	                              * INVOKE: a temporary session, removed after */
	const char *command;         /* INVOKE, JOB_START */
	const char *job_name;        /* JOB_START, or NULL */
	int         force;           /* SESSION_CONNECT */
	int64_t     idle_timeout;    /* SESSION_NEW (0: the server's default) */
	const char *buffering;       /* SESSION_NEW (NULL: the server's default) */
	int         throttle;        /* hosts in flight (0: 32) */
	long        connect_timeout; /* per host, seconds (0: the client's) */
	long        timeout;         /* per host, seconds for it all (0: none); on
	                              * expiry the command is stopped */
	const struct tether_login_opts *login;   /* LOGIN: as for tether_login */
	int         has_stdin;       /* INVOKE: stdin_fd's bytes go to every host's
	                              * command (each gets them all, paced by the
	                              * slowest); else the commands' stdin is /dev/null */
	int         stdin_fd;
};

enum tether_fleet_state { TETHER_FLEET_WAITING, TETHER_FLEET_RUNNING, TETHER_FLEET_DONE };

struct tether_fleet_result {
	enum tether_fleet_state state;
	int        exit_code;        /* the command's status (128+N: signal N), -1 if none */
	tether_err err;              /* why the host failed, or TETHER_E_OK */
	char       code[48];         /* err's wire code ("" when OK) */
	char       message[512];
	int64_t    started_ms;       /* wall clock, ms since the epoch; 0: not started */
	int64_t    ended_ms;
	json_t    *object;           /* the verb's reply (session, job, array) or NULL */
};

/* Where a fleet's output goes as it arrives: chunks of host's stream (1
 * stdout, 2 stderr, 3 a notice from tether), not cut at lines; done when a
 * host has finished; tick about five times a second. write returns 0, or -1
 * to stop that host. Any callback may be NULL. */
struct tether_fleet_io {
	int  (*write)(void *ctx, size_t host, int stream, const void *data, size_t len);
	void (*done)(void *ctx, size_t host);
	void (*tick)(void *ctx);
	void  *ctx;
};

/* Run req on hosts[0..n-1], filling results[0..n-1] (zeroed by the caller
 * or not: every field is set). Per-host failures are in results; the
 * return is a failure only if the fleet could not run at all (file
 * descriptor limit, memory). The interrupt flag (tether_set_interrupt)
 * stops every host's command. Release results with tether_fleet_free. */
tether_err tether_fleet_run(tether_client *c, const char *const *hosts, size_t n,
                            const struct tether_fleet_req *req,
                            const struct tether_fleet_io *io,
                            struct tether_fleet_result *results);
void tether_fleet_free(struct tether_fleet_result *results, size_t n);

#endif
