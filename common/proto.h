/*
 * proto.h - the wire contract between tether and tetherd.
 *
 * API version, paths, headers, states and their spellings live here and
 * nowhere else (tmux's tmux-protocol.h). Both sides include this header;
 * docs/cli.md is the user-facing statement of the same contract.
 */
#ifndef TETHER_PROTO_H
#define TETHER_PROTO_H

#define TETHER_VERSION          "0.1.0"
#define TETHER_API_VERSION      1
#define TETHER_DEFAULT_PORT     7443
#define TETHER_API_PREFIX       "/v1"

#define TETHER_HDR_CLIENT_ID    "X-Tether-Client"
#define TETHER_HDR_API_VERSION  "X-Tether-Api"

#define TETHER_CLIENT_ID_LEN    32  /* hex characters */

/* Session state and availability (docs/cli.md "States"). */
#define TETHER_SESSION_STATE_MAP(X) \
	X(OPENED, "Opened") X(DISCONNECTED, "Disconnected") \
	X(BROKEN, "Broken") X(CLOSED, "Closed")
#define TETHER_AVAILABILITY_MAP(X) \
	X(AVAILABLE, "Available") X(BUSY, "Busy") X(NONE, "None")
#define TETHER_JOB_STATE_MAP(X) \
	X(NOTSTARTED, "NotStarted") X(RUNNING, "Running") \
	X(COMPLETED, "Completed") X(FAILED, "Failed") X(STOPPED, "Stopped") \
	X(BLOCKED, "Blocked") X(DISCONNECTED, "Disconnected")
#define TETHER_OUTPUT_BUFFERING_MAP(X) X(BLOCK, "block") X(DROP, "drop")
/* A job's "type" (docs/cli.md "JSON fields"); invokes and shells are
 * exclusive (one at a time in a session), background jobs are not. */
#define TETHER_JOB_TYPE_MAP(X) \
	X(INVOKE, "invoke") X(BACKGROUND, "background") X(SHELL, "shell") \
	X(TRANSFER, "transfer")
#define TETHER_XFER_STATE_MAP(X) \
	X(QUEUED, "Queued") X(CONNECTING, "Connecting") X(TRANSFERRING, "Transferring") \
	X(SUSPENDED, "Suspended") X(TRANSIENTERROR, "TransientError") X(ERROR, "Error") \
	X(TRANSFERRED, "Transferred") X(ACKNOWLEDGED, "Acknowledged") \
	X(CANCELLED, "Cancelled")
/* In scheduling order: a lower value runs first. */
#define TETHER_XFER_PRIORITY_MAP(X) \
	X(FOREGROUND, "foreground") X(HIGH, "high") X(NORMAL, "normal") X(LOW, "low")


enum session_state {
#define X(n, s) SESSION_##n,
	TETHER_SESSION_STATE_MAP(X)
#undef X
};
enum session_avail {
#define X(n, s) AVAIL_##n,
	TETHER_AVAILABILITY_MAP(X)
#undef X
};
enum job_state {
#define X(n, s) JOB_##n,
	TETHER_JOB_STATE_MAP(X)
#undef X
};
enum job_type {
#define X(n, s) JOB_TYPE_##n,
	TETHER_JOB_TYPE_MAP(X)
#undef X
};
enum output_buffering {
#define X(n, s) BUFFERING_##n,
	TETHER_OUTPUT_BUFFERING_MAP(X)
#undef X
};

enum xfer_state {
#define X(n, s) XFER_##n,
	TETHER_XFER_STATE_MAP(X)
#undef X
};
enum xfer_priority {
#define X(n, s) XPRIO_##n,
	TETHER_XFER_PRIORITY_MAP(X)
#undef X
};

/* Spelling of each state on the wire; NULL for an out-of-range value. */
const char *proto_session_state_str(int s);
const char *proto_availability_str(int a);
const char *proto_job_state_str(int s);
const char *proto_job_type_str(int t);
const char *proto_buffering_str(int b);
const char *proto_xfer_state_str(int s);
const char *proto_xfer_priority_str(int p);

/* Parse a spelling back (exact match); returns the value or -1. */
int proto_session_state_parse(const char *s);
int proto_buffering_parse(const char *s);
int proto_job_type_parse(const char *s);
int proto_xfer_state_parse(const char *s);
int proto_xfer_priority_parse(const char *s);

#define TETHER_IDLE_TIMEOUT_DEFAULT  7200      /* seconds, 2 hours */
#define TETHER_IDLE_TIMEOUT_MAX      (365 * 86400)

#endif
