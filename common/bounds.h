/*
 * bounds.h - every size limit tether applies to untrusted input, in one place.
 *
 * Limits are named here, not scattered as literals, so that a reviewer can
 * see at a glance how much memory a remote peer can make either side commit.
 * Pre-authentication limits are deliberately tighter than the rest.
 */
#ifndef TETHER_BOUNDS_H
#define TETHER_BOUNDS_H

#define BOUND_BODY_PREAUTH      (32u * 1024)       /* login bodies (keys, signatures) */
#define BOUND_BODY_DEFAULT      (64u * 1024)       /* ordinary API bodies */
#define BOUND_BODY_COMMAND      (256u * 1024)      /* invoke/job bodies */
#define BOUND_BODY_TRANSFER     (4u * 1024 * 1024) /* transfer job bodies (many URLs) */
#define BOUND_INPUT_DATA        (768u * 1024)      /* a command's stdin bytes in one post */
#define BOUND_BODY_INPUT        (BOUND_INPUT_DATA / 3 * 4 + 4096)   /* their base64 + JSON */
#define BOUND_ACCOUNT_ANSWER    (8u * 1024 * 1024) /* an account child's JSON answer */
#define BOUND_RESPONSE          (64u * 1024 * 1024)/* client: one response */
#define BOUND_URL               2048u              /* request path + query */
#define BOUND_NAME              64u                /* user/session/job names */
#define BOUND_PASSWORD          1024u              /* password bytes */
#define BOUND_TOKEN             128u               /* bearer token text */
#define BOUND_HOSTSPEC          512u               /* [USER@]HOST[:PORT] */
#define BOUND_LOG_LINE          2048u              /* one log line */
#define BOUND_LOG_VALUE         160u               /* one client value in a log */
#define BOUND_CONFIG_LINE       4096u              /* one config file line */
#define BOUND_CONFIG_FILE       (1024u * 1024)     /* whole config file */
#define BOUND_STATE_FILE        (4u * 1024 * 1024) /* client state files */
#define BOUND_CONNECTIONS       512u               /* concurrent connections */
#define BOUND_UPLOAD_CHUNK      (64u * 1024 * 1024)/* one append to an upload */
#define BOUND_PATH              4096u              /* filesystem paths */

#endif
