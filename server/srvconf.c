/*
 * srvconf.c - defaults and config-file keys for tetherd.
 *
 * The key table below is the single list of settings, each row with its
 * type, default, range and reload flag: srvconf_defaults, srvconf_set and
 * srvconf_reload all walk it, and tools/gendocs.py turns it into
 * docs/config.md. The config file and the command line both go through
 * srvconf_set, so a setting is validated the same way wherever it comes
 * from. The main file may be followed by drop-ins, conf.d/NAME.conf beside
 * it, read in name order so that a package's defaults and an
 * administrator's overrides can live in separate files (docs/config.md).
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "joblog.h"
#include "proto.h"
#include "srvconf.h"
#include "strparse.h"

/* One row per setting; the key is the field's name. */
#define NUM(f, def, min, max, reload, unit, doc) \
	{ #f, SRVCONF_NUMBER, offsetof(struct srvconf, f), sizeof(((struct srvconf *)0)->f), \
	  def, min, max, reload, unit, NULL, doc }
#define STR(f, type, def, reload, shown, doc) \
	{ #f, type, offsetof(struct srvconf, f), sizeof(((struct srvconf *)0)->f), \
	  def, 0, 0, reload, "", shown, doc }

/* The settings: type, default, range, and whether SIGHUP applies them
 * (reload: the daemon reads the field on each use; the rest are taken once
 * at start, like the listeners and the state dir). docs/config.md is
 * generated from this table by tools/gendocs.py. */
const struct srvconf_key srvconf_keys[] = {
	STR(listen,    SRVCONF_LISTEN, 0, false, "127.0.0.1:7443",
	    "an address to serve on, ADDR[:PORT] or [V6][:PORT]; repeat the key for "
	    "several (at most 8); --listen on the command line replaces them all"),
	STR(state_dir, SRVCONF_PATH, 0, false,
	    "/var/lib/tether as root, else ~/.local/state/tetherd",
	    "the database, key pair, spool and lock (non-root: $XDG_STATE_HOME/tetherd "
	    "if that is set)"),
	STR(cert,      SRVCONF_PATH, 0, false, "STATE_DIR/cert.pem, generated",
	    "the server certificate (PEM); give key too"),
	STR(key,       SRVCONF_PATH, 0, false, "STATE_DIR/key.pem, generated",
	    "the server's private key (PEM)"),
	STR(log_level, SRVCONF_LEVEL, LOG_INFO, true, "info",
	    "debug, info, warn or error (the log goes to stderr)"),
	STR(auth,      SRVCONF_AUTH, SRVCONF_AUTH_BUILTIN, false, "builtin",
	    "where passwords are checked: builtin (tether's users table) or pam (the "
	    "PAM service pam_service; see security.md)"),
	STR(pam_service, SRVCONF_WORD, 0, false, "tether",
	    "the PAM service (/etc/pam.d/NAME) used with auth = pam"),
	NUM(token_ttl,             30 * 86400, 1, 365 * 86400, true, "s",
	    "how long a login token lives"),
	NUM(lockout_threshold,     5, 1, 1000, false, "",
	    "failed logins (per user name, per source address) that start a lockout"),
	NUM(lockout_window,        900, 1, 86400, false, "s",
	    "how far back failed logins are counted"),
	NUM(lockout_duration,      300, 1, 86400, false, "s",
	    "how long a lockout lasts"),
	STR(authorized_keys, SRVCONF_BOOL, 0, true, "no",
	    "also accept the public keys in the mapped OS account's ~/.ssh/authorized_keys "
	    "(read as that account, with OpenSSH's ownership and mode checks; lines with "
	    "options are refused)"),
	NUM(login_concurrency,     4, 1, 64, false, "",
	    "password checks at once (scrypt, ~32 MiB each, or PAM), and authorized_keys "
	    "reads for key logins"),
	NUM(audit_retention,       90, 1, 36500, false, "days",
	    "how long audit records are kept"),
	NUM(max_sessions_per_user, 1000, 1, 1000000, true, "",
	    "sessions one user may have"),
	NUM(idle_timeout,          TETHER_IDLE_TIMEOUT_DEFAULT, 1, TETHER_IDLE_TIMEOUT_MAX, true, "s",
	    "a new session's idle timeout when the client gives none"),
	NUM(connection_timeout,    300, 1, 86400, false, "s",
	    "an idle HTTP connection is closed after this long"),
	NUM(max_unauthenticated,   128, 1, BOUND_CONNECTIONS, false, "",
	    "connections not yet authenticated (over it, the oldest is dropped)"),
	NUM(max_connections_per_address, 64, 1, BOUND_CONNECTIONS, false, "",
	    "connections from one source address"),
	NUM(login_grace_time,      10, 1, 3600, false, "s",
	    "time a connection has to authenticate"),
	NUM(keepalive,             240, 1, 86400, false, "s",
	    "a client silent this long loses its hold on a session (Disconnected)"),
	NUM(stop_grace,            5, 0, 600, false, "s",
	    "between SIGTERM and SIGKILL when a job is stopped"),
	NUM(output_cap,            OUTCAP_DEFAULT, OUTCAP_MIN, INT64_MAX / 2, true, "bytes",
	    "unreceived output kept per job before it blocks or drops"),
	NUM(session_output_cap,    OUTCAP_SESSION_DEFAULT, OUTCAP_MIN, INT64_MAX / 2, true,
	    "bytes", "unreceived output kept per session (all its jobs) before its running jobs "
	    "block or drop"),
	NUM(user_output_cap,       OUTCAP_USER_DEFAULT, OUTCAP_MIN, INT64_MAX / 2, true, "bytes",
	    "unreceived output kept per user (all their sessions) before their running jobs "
	    "block or drop"),
	NUM(transfer_jobs_per_user,   60, 1, 100000, false, "",
	    "transfer jobs a user may have at once (BITS' MaxJobsPerUser)"),
	NUM(transfer_files_per_job,   200, 1, 100000, false, "",
	    "files in one transfer job (BITS' MaxFilesPerJob)"),
	NUM(transfer_concurrency,     2, 1, 1000, false, "",
	    "background transfers running at once"),
	NUM(transfer_parallel_files,  16, 1, 64, false, "",
	    "files of one download job fetched at once (HTTP(S) files under 4 MiB)"),
	NUM(transfer_slice,           60, 1, 86400, false, "s",
	    "how long a background transfer runs while others of its class wait"),
	NUM(transfer_background_rate, 0, 0, INT64_MAX / 2, false, "bytes/s",
	    "shared by background transfers; 0: no cap"),
	NUM(uploads_per_user,         60, 1, 100000, false, "",
	    "unfinished resumable uploads a user may have"),
	NUM(upload_expiry,            7 * 86400, 60, 365 * 86400, false, "s",
	    "an untouched upload is removed after this long"),
	NUM(user_io_timeout,          60, 1, 3600, false, "s",
	    "how long a read, write or flush of a user's file (by the owner's child) may "
	    "take before the request gives up: a stalled NFS or FUSE mount costs this"),
};

const size_t srvconf_nkeys = sizeof srvconf_keys / sizeof srvconf_keys[0];

/* The field a row describes, inside c. */
static void *field(struct srvconf *c, const struct srvconf_key *k)
{
	return (char *)c + k->off;
}

/* Built-in defaults: each row's, then the state dir for this user. */
void srvconf_defaults(struct srvconf *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < srvconf_nkeys; i++) {
		const struct srvconf_key *k = &srvconf_keys[i];
		if (k->type == SRVCONF_NUMBER)
			*(int64_t *)field(c, k) = k->def;
		else if (k->type == SRVCONF_LEVEL || k->type == SRVCONF_BOOL ||
		         k->type == SRVCONF_AUTH)
			*(int *)field(c, k) = (int)k->def;
	}
	snprintf(c->pam_service, sizeof c->pam_service, "tether");
	const char *home = getenv("HOME");
	const char *xdg = getenv("XDG_STATE_HOME");
	if (geteuid() == 0 || home == NULL)
		snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/tether");
	else if (xdg != NULL && xdg[0] == '/')
		snprintf(c->state_dir, sizeof c->state_dir, "%s/tetherd", xdg);
	else
		snprintf(c->state_dir, sizeof c->state_dir, "%s/.local/state/tetherd", home);
}

/* Copy the reload rows from fresh into live. */
void srvconf_reload(struct srvconf *live, const struct srvconf *fresh)
{
	for (size_t i = 0; i < srvconf_nkeys; i++) {
		const struct srvconf_key *k = &srvconf_keys[i];
		if (k->reload)
			memcpy(field(live, k), (const char *)fresh + k->off, k->size);
	}
}

/* Copy a path setting, refusing relative paths and overlong ones. */
static int set_path(char *dst, size_t dstsz, const char *key, const char *value,
                    char *err, size_t errsz)
{
	if (value[0] != '/') {
		snprintf(err, errsz, "%s: must be an absolute path", key);
		return -1;
	}
	if (strparse_copy(dst, dstsz, value) != 0) {
		snprintf(err, errsz, "%s: path too long", key);
		return -1;
	}
	return 0;
}

/* Apply one setting. */
int srvconf_set(struct srvconf *c, const char *key, const char *value,
                char *err, size_t errsz)
{
	const struct srvconf_key *k = NULL;
	for (size_t i = 0; i < srvconf_nkeys && k == NULL; i++)
		if (strcmp(key, srvconf_keys[i].key) == 0)
			k = &srvconf_keys[i];
	if (k == NULL) {
		snprintf(err, errsz, "unknown setting '%.64s'", key);
		return -1;
	}
	switch (k->type) {
	case SRVCONF_NUMBER: {
		int64_t v;
		if (strparse_i64(value, k->min, k->max, &v) != 0) {
			snprintf(err, errsz, "%s: expected a number between %lld and %lld",
			         key, (long long)k->min, (long long)k->max);
			return -1;
		}
		*(int64_t *)field(c, k) = v;
		return 0;
	}
	case SRVCONF_PATH:
		return set_path(field(c, k), k->size, key, value, err, errsz);
	case SRVCONF_LEVEL: {
		int lv = log_level_parse(value);
		if (lv < 0) {
			snprintf(err, errsz, "%s: expected debug, info, warn or error", key);
			return -1;
		}
		*(int *)field(c, k) = lv;
		return 0;
	}
	case SRVCONF_BOOL: {
		bool b;
		if (strparse_bool(value, &b) != 0) {
			snprintf(err, errsz, "%s: expected yes or no", key);
			return -1;
		}
		*(int *)field(c, k) = b;
		return 0;
	}
	case SRVCONF_AUTH:
		if (strcmp(value, "builtin") == 0 || strcmp(value, "pam") == 0) {
			*(int *)field(c, k) = value[0] == 'p' ? SRVCONF_AUTH_PAM : SRVCONF_AUTH_BUILTIN;
			return 0;
		}
		snprintf(err, errsz, "%s: expected builtin or pam", key);
		return -1;
	case SRVCONF_WORD:
		if (value[0] == '\0' || strlen(value) >= k->size ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                  "0123456789._-") != strlen(value) || value[0] == '.') {
			snprintf(err, errsz, "%s: expected a name of letters, digits, '.', '_' or "
			         "'-' (at most %zu)", key, k->size - 1);
			return -1;
		}
		snprintf(field(c, k), k->size, "%s", value);
		return 0;
	case SRVCONF_LISTEN: {
		char addr[BOUND_HOSTSPEC];
		uint16_t port;
		if (srvconf_parse_listen(value, addr, sizeof addr, &port, err, errsz) != 0)
			return -1;
		if (c->nlisten >= SRVCONF_MAX_LISTEN) {
			snprintf(err, errsz, "listen: at most %d addresses", SRVCONF_MAX_LISTEN);
			return -1;
		}
		strparse_copy(c->listen[c->nlisten++], BOUND_HOSTSPEC, value);
		return 0;
	}
	}
	snprintf(err, errsz, "%s: cannot be set", key);
	return -1;
}

/* config_parse callback adapter. */
static int conf_cb(void *ctx, const char *key, const char *value, char *err, size_t errsz)
{
	return srvconf_set(ctx, key, value, err, errsz);
}

/* Read a config file. */
int srvconf_load(struct srvconf *c, const char *path, char *err, size_t errsz)
{
	char why[512];
	if (config_parse_file(path, conf_cb, c, why, sizeof why) != 0) {
		snprintf(err, errsz, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

/* qsort comparison of two file names (byte order, as ls with LC_ALL=C). */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True if name is a drop-in: "*.conf", not hidden. */
static bool is_dropin(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

/* Read the main file, then its conf.d drop-ins in name order. */
int srvconf_load_all(struct srvconf *c, const char *path, char *err, size_t errsz)
{
	char dir[BOUND_PATH], file[BOUND_PATH];
	char *names[SRVCONF_MAX_DROPINS];
	size_t n = 0;
	int rc = -1;
	if (srvconf_load(c, path, err, errsz) != 0)
		return -1;
	const char *slash = strrchr(path, '/');
	int dl = slash == NULL ? snprintf(dir, sizeof dir, "conf.d")
	                       : snprintf(dir, sizeof dir, "%.*s/conf.d", (int)(slash - path), path);
	if (dl < 0 || (size_t)dl >= sizeof dir) {
		snprintf(err, errsz, "%s: path too long", path);
		return -1;
	}
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;   /* no drop-ins */
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_dropin(e->d_name))
			continue;
		if (n >= SRVCONF_MAX_DROPINS) {
			snprintf(err, errsz, "%s: more than %d *.conf files", dir, SRVCONF_MAX_DROPINS);
			goto out;
		}
		if ((names[n] = strdup(e->d_name)) == NULL) {
			snprintf(err, errsz, "%s: out of memory", dir);
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof names[0], name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (snprintf(file, sizeof file, "%s/%s", dir, names[i]) >= (int)sizeof file) {
			snprintf(err, errsz, "%s/%.64s: path too long", dir, names[i]);
			goto out;
		}
		if (srvconf_load(c, file, err, errsz) != 0)
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	closedir(d);
	return rc;
}

/* Split a listen address into address and port. */
int srvconf_parse_listen(const char *s, char *addr, size_t addrsz, uint16_t *port,
                         char *err, size_t errsz)
{
	const char *portstr = NULL;
	size_t alen;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL) {
			snprintf(err, errsz, "listen '%.64s': missing ']'", s);
			return -1;
		}
		alen = (size_t)(close - s - 1);
		s++;
		if (close[1] == ':')
			portstr = close + 2;
		else if (close[1] != '\0')
			goto bad;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon) {
			snprintf(err, errsz, "listen '%.64s': write IPv6 addresses in brackets", s);
			return -1;
		}
		alen = colon ? (size_t)(colon - s) : strlen(s);
		if (colon)
			portstr = colon + 1;
	}
	if (alen == 0 || alen >= addrsz)
		goto bad;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	*port = TETHER_DEFAULT_PORT;
	if (portstr != NULL) {
		uint64_t p;
		if (strparse_u64(portstr, 0, 65535, &p) != 0)
			goto bad;
		*port = (uint16_t)p;
	}
	return 0;
bad:
	snprintf(err, errsz, "listen '%.64s': expected ADDR:PORT", s);
	return -1;
}
