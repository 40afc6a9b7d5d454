/*
 * srvconf.c - defaults and config-file keys for tetherd.
 *
 * The key table below is the single list of settings; the config file and
 * the command line both go through srvconf_set, so a setting is validated
 * the same way wherever it comes from.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "joblog.h"
#include "proto.h"
#include "srvconf.h"
#include "strparse.h"

/* Built-in defaults. */
void srvconf_defaults(struct srvconf *c)
{
	memset(c, 0, sizeof *c);
	const char *home = getenv("HOME");
	const char *xdg = getenv("XDG_STATE_HOME");
	if (geteuid() == 0 || home == NULL)
		snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/tether");
	else if (xdg != NULL && xdg[0] == '/')
		snprintf(c->state_dir, sizeof c->state_dir, "%s/tetherd", xdg);
	else
		snprintf(c->state_dir, sizeof c->state_dir, "%s/.local/state/tetherd", home);
	c->log_level = LOG_INFO;
	c->token_ttl = 30 * 86400;
	c->lockout_threshold = 5;
	c->lockout_window = 900;
	c->lockout_duration = 300;
	c->login_concurrency = 4;
	c->audit_retention = 90;
	c->max_sessions_per_user = 1000;
	c->idle_timeout = TETHER_IDLE_TIMEOUT_DEFAULT;
	c->connection_timeout = 300;
	c->max_unauthenticated = 128;
	c->max_connections_per_address = 64;
	c->login_grace_time = 10;
	c->keepalive = 240;
	c->stop_grace = 5;
	c->output_cap = OUTCAP_DEFAULT;
	c->transfer_jobs_per_user = 60;      /* BITS' MaxJobsPerUser */
	c->transfer_files_per_job = 200;     /* BITS' MaxFilesPerJob */
	c->transfer_concurrency = 2;
	c->transfer_slice = 60;
	c->transfer_background_rate = 0;
	c->uploads_per_user = 60;
	c->upload_expiry = 7 * 86400;
}

struct numkey {
	const char *key;
	size_t      off;
	int64_t     min, max;
};

static const struct numkey numkeys[] = {
	{ "token_ttl",             offsetof(struct srvconf, token_ttl),             1, 365 * 86400 },
	{ "lockout_threshold",     offsetof(struct srvconf, lockout_threshold),     1, 1000 },
	{ "lockout_window",        offsetof(struct srvconf, lockout_window),        1, 86400 },
	{ "lockout_duration",      offsetof(struct srvconf, lockout_duration),      1, 86400 },
	{ "login_concurrency",     offsetof(struct srvconf, login_concurrency),     1, 64 },
	{ "audit_retention",       offsetof(struct srvconf, audit_retention),       1, 36500 },
	{ "max_sessions_per_user", offsetof(struct srvconf, max_sessions_per_user), 1, 1000000 },
	{ "idle_timeout",          offsetof(struct srvconf, idle_timeout),          1, TETHER_IDLE_TIMEOUT_MAX },
	{ "connection_timeout",    offsetof(struct srvconf, connection_timeout),    1, 86400 },
	{ "max_unauthenticated",   offsetof(struct srvconf, max_unauthenticated),   1, BOUND_CONNECTIONS },
	{ "max_connections_per_address", offsetof(struct srvconf, max_connections_per_address), 1, BOUND_CONNECTIONS },
	{ "login_grace_time",      offsetof(struct srvconf, login_grace_time),      1, 3600 },
	{ "keepalive",             offsetof(struct srvconf, keepalive),             1, 86400 },
	{ "stop_grace",            offsetof(struct srvconf, stop_grace),            0, 600 },
	{ "output_cap",            offsetof(struct srvconf, output_cap),            OUTCAP_MIN,
	                                                                       INT64_MAX / 2 },
	{ "transfer_jobs_per_user",   offsetof(struct srvconf, transfer_jobs_per_user),   1, 100000 },
	{ "transfer_files_per_job",   offsetof(struct srvconf, transfer_files_per_job),   1, 100000 },
	{ "transfer_concurrency",     offsetof(struct srvconf, transfer_concurrency),     1, 1000 },
	{ "transfer_slice",           offsetof(struct srvconf, transfer_slice),           1, 86400 },
	{ "transfer_background_rate", offsetof(struct srvconf, transfer_background_rate), 0,
	                                                                       INT64_MAX / 2 },
	{ "uploads_per_user",         offsetof(struct srvconf, uploads_per_user),         1, 100000 },
	{ "upload_expiry",            offsetof(struct srvconf, upload_expiry),            60,
	                                                                       365 * 86400 },
};

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
	for (size_t i = 0; i < sizeof numkeys / sizeof numkeys[0]; i++) {
		if (strcmp(key, numkeys[i].key) != 0)
			continue;
		int64_t v;
		if (strparse_i64(value, numkeys[i].min, numkeys[i].max, &v) != 0) {
			snprintf(err, errsz, "%s: expected a number between %lld and %lld",
			         key, (long long)numkeys[i].min, (long long)numkeys[i].max);
			return -1;
		}
		*(int64_t *)((char *)c + numkeys[i].off) = v;
		return 0;
	}
	if (strcmp(key, "state_dir") == 0)
		return set_path(c->state_dir, sizeof c->state_dir, key, value, err, errsz);
	if (strcmp(key, "cert") == 0)
		return set_path(c->cert, sizeof c->cert, key, value, err, errsz);
	if (strcmp(key, "key") == 0)
		return set_path(c->key, sizeof c->key, key, value, err, errsz);
	if (strcmp(key, "log_level") == 0) {
		int lv = log_level_parse(value);
		if (lv < 0) {
			snprintf(err, errsz, "log_level: expected debug, info, warn or error");
			return -1;
		}
		c->log_level = lv;
		return 0;
	}
	if (strcmp(key, "listen") == 0) {
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
	snprintf(err, errsz, "unknown setting '%.64s'", key);
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
