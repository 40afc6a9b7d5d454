/*
 * srvconf.h - tetherd's settings: defaults, the config file, the command line.
 *
 * Precedence is defaults < config file < command line. Every tunable the
 * daemon has is a field here with its config-file key, and one row of
 * srvconf.c's key table says its type, default, range and whether SIGHUP
 * applies it to a running daemon; defaults, reload and docs/config.md
 * (tools/gendocs.py) all come from that table.
 */
#ifndef TETHER_SRVCONF_H
#define TETHER_SRVCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "log.h"

#define SRVCONF_MAX_LISTEN 8
#define SRVCONF_WORD_MAX   64   /* a WORD setting, with its NUL */
#define SRVCONF_MAX_DROPINS 64  /* conf.d/NAME.conf files read */

/* Where password logins are checked (the auth key). */
enum srvconf_auth {
	SRVCONF_AUTH_BUILTIN,   /* the scrypt hash in tether's users table */
	SRVCONF_AUTH_PAM,       /* the PAM service pam_service (pamauth.h) */
};

struct srvconf {
	char     state_dir[BOUND_PATH];
	char     cert[BOUND_PATH];          /* "" = state_dir/cert.pem, generated */
	char     key[BOUND_PATH];           /* "" = state_dir/key.pem, generated */
	char     listen[SRVCONF_MAX_LISTEN][BOUND_HOSTSPEC];
	int      nlisten;                   /* 0 = 127.0.0.1:TETHER_DEFAULT_PORT */
	int      log_level;
	int      auth;                      /* enum srvconf_auth: the password backend */
	char     pam_service[SRVCONF_WORD_MAX];   /* with auth = pam */
	int64_t  token_ttl;                 /* seconds a login token lives */
	int64_t  lockout_threshold;         /* failures before a lockout */
	int64_t  lockout_window;            /* seconds failures are counted over */
	int64_t  lockout_duration;          /* seconds a lockout lasts */
	int      authorized_keys;           /* also ~/.ssh/authorized_keys (yes/no) */
	int64_t  login_concurrency;         /* password hashes (~32 MiB each) at once */
	int64_t  audit_retention;           /* days audit records are kept */
	int64_t  max_sessions_per_user;
	int64_t  idle_timeout;              /* default for new sessions */
	int64_t  connection_timeout;        /* idle HTTP connection, seconds */
	int64_t  max_unauthenticated;       /* connections not yet authenticated */
	int64_t  max_connections_per_address;
	int64_t  login_grace_time;          /* seconds to authenticate a connection */
	int64_t  keepalive;                 /* a silent client is disconnected after */
	int64_t  stop_grace;                /* seconds between SIGTERM and SIGKILL */
	int64_t  output_cap;                /* bytes of unreceived output per job */
	int64_t  session_output_cap;        /* ... per session, all its jobs */
	int64_t  user_output_cap;           /* ... per user, all their sessions */
	int64_t  transfer_jobs_per_user;    /* transfer jobs a user may have at once */
	int64_t  transfer_files_per_job;
	int64_t  transfer_concurrency;      /* background transfers running at once */
	int64_t  transfer_parallel_files;   /* files of one download job in flight at once */
	int64_t  transfer_slice;            /* seconds a background transfer runs while
	                                       others of its class wait */
	int64_t  transfer_background_rate;  /* bytes/s shared by background transfers, 0 = no cap */
	int64_t  uploads_per_user;          /* unfinished resumable uploads a user may have */
	int64_t  upload_expiry;             /* seconds an untouched upload is kept */
	int64_t  user_io_timeout;           /* seconds to wait on a user's file */
};

/* What a setting holds, and so how it is parsed. */
enum srvconf_type {
	SRVCONF_NUMBER,   /* int64_t field, min..max */
	SRVCONF_PATH,     /* absolute path, char[BOUND_PATH] */
	SRVCONF_LEVEL,    /* log level name, int field */
	SRVCONF_LISTEN,   /* ADDR[:PORT], repeatable, up to SRVCONF_MAX_LISTEN */
	SRVCONF_BOOL,     /* yes or no (strparse_bool's spellings), int field */
	SRVCONF_AUTH,     /* builtin or pam, int field (enum srvconf_auth) */
	SRVCONF_WORD,     /* letters, digits, '.', '_', '-', char[SRVCONF_WORD_MAX] */
};

/* One config key: its field, default, range and reload flag. */
struct srvconf_key {
	const char       *key;      /* the config-file key, also the field's name */
	enum srvconf_type type;
	size_t            off, size;   /* the field in struct srvconf */
	int64_t           def;      /* NUMBER, LEVEL and AUTH; others start empty */
	int64_t           min, max; /* NUMBER */
	bool              reload;   /* SIGHUP applies it to the running daemon */
	const char       *unit;     /* "s", "bytes", ... for docs; "" if none */
	const char       *shown;    /* the default as docs show it, NULL: def */
	const char       *doc;      /* one line for docs/config.md */
};

extern const struct srvconf_key srvconf_keys[];
extern const size_t srvconf_nkeys;

/* Fill in the built-in defaults (state dir depends on the effective uid). */
void srvconf_defaults(struct srvconf *c);

/* Apply one "key = value" setting; 0, or -1 with a reason in err. */
int srvconf_set(struct srvconf *c, const char *key, const char *value,
                char *err, size_t errsz);

/* Copy the reloadable settings (the table's reload rows) from fresh into
 * live; the rest of live is left as it is. */
void srvconf_reload(struct srvconf *live, const struct srvconf *fresh);

/* Read a config file into c; 0, or -1 with "FILE: line N: reason" in err. */
int srvconf_load(struct srvconf *c, const char *path, char *err, size_t errsz);

/* Read the config file at path, then every conf.d/NAME.conf in path's
 * directory in byte order of their names (later settings win; a hidden
 * file or one not ending in .conf is ignored; no conf.d is fine). 0, or -1
 * with "FILE: line N: reason" in err, FILE the one at fault. */
int srvconf_load_all(struct srvconf *c, const char *path, char *err, size_t errsz);

/* Split "ADDR:PORT" / "[V6]:PORT" / "ADDR" into a numeric address and port.
 * 0 or -1 (err set). */
int srvconf_parse_listen(const char *s, char *addr, size_t addrsz, uint16_t *port,
                         char *err, size_t errsz);

#endif
