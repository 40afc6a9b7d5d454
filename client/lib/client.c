/*
 * client.c - the client's identity and local state under $TETHER_HOME.
 *
 * With $TETHER_HOME set everything lives there; otherwise configuration
 * (client id, known_hosts) goes to ~/.config/tether and state (tokens, the
 * local job table) to ~/.local/state/tether. Directories are 0700, files
 * holding secrets 0600 from the moment they exist, and every write is
 * atomic (temporary file + rename), so a crash never leaves half a token
 * file. Two TETHER_HOMEs are two client machines.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client-int.h"
#include "fileio.h"
#include "homedir.h"
#include "hostconfig.h"
#include "jsonu.h"
#include "proto.h"
#include "strparse.h"
#include "term.h"

/* Record a failure. */
tether_err client_fail(tether_client *c, tether_err e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
	va_end(ap);
	return e;
}

/* The last failure's message. */
const char *tether_last_error(const tether_client *c)
{
	return c ? c->errmsg : "out of memory";
}

/* The last failure's server code. */
const char *tether_last_error_code(const tether_client *c)
{
	return c ? c->errcode : "";
}

/* The last exchange's HTTP status. */
long tether_last_http_status(const tether_client *c)
{
	return c->last_status;
}

/* The last exchange's libcurl code. */
int tether_last_transport_error(const tether_client *c)
{
	return c->last_transport;
}

/* This client's id. */
const char *tether_client_id(const tether_client *c)
{
	return c->client_id;
}

/* The configuration directory. */
const char *tether_client_config_dir(const tether_client *c)
{
	return c->config_dir;
}

/* Load this client's id, making one on first use. */
static tether_err load_client_id(tether_client *c)
{
	char path[BOUND_PATH + 16], text[80];
	snprintf(path, sizeof path, "%s/client_id", c->config_dir);
	size_t n = 0;
	char *got = fileio_read(path, sizeof text - 1, &n);
	if (got != NULL)
		memcpy(text, got, n + 1);
	free(got);
	if (got != NULL && n >= TETHER_CLIENT_ID_LEN) {
		memcpy(c->client_id, text, TETHER_CLIENT_ID_LEN);
		c->client_id[TETHER_CLIENT_ID_LEN] = '\0';
		bool ok = true;
		for (int i = 0; i < TETHER_CLIENT_ID_LEN; i++)
			if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
				ok = false;
		if (ok)
			return TETHER_E_OK;
	}
	uint8_t raw[TETHER_CLIENT_ID_LEN / 2];
	if (crypto_random(raw, sizeof raw) != 0)
		return client_fail(c, TETHER_E_IO, "cannot get random bytes");
	crypto_hex(raw, sizeof raw, c->client_id);
	snprintf(text, sizeof text, "%s\n", c->client_id);
	if (fileio_write_atomic(path, text, strlen(text), 0600) != 0)
		return client_fail(c, TETHER_E_IO, "cannot write %s: %s", path, strerror(errno));
	return TETHER_E_OK;
}

/* Connections kept between the clients of this process (a control
 * master's worker: client_share_connections), else NULL. */
static CURLSH *conn_share;

/* A timeout from the environment variable name, else def; a value that is
 * not a number of seconds in 1..86400 is reported. */
static tether_err env_seconds(tether_client *c, const char *name, long def, long *out)
{
	const char *v = getenv(name);
	int64_t n;
	*out = def;
	if (v == NULL || v[0] == '\0')
		return TETHER_E_OK;
	if (strparse_i64(v, 1, 86400, &n) != 0)
		return client_fail(c, TETHER_E_USAGE, "%s must be a number of seconds (1-86400), "
		                   "not '%.40s'", name, v);
	*out = (long)n;
	return TETHER_E_OK;
}

/* Read the configuration file, if there is one (bounded), and check it:
 * *dflt gets what applies to every host. */
static tether_err load_hostconf(tether_client *c, struct hostconfig *dflt)
{
	char path[BOUND_PATH + 16];
	snprintf(path, sizeof path, "%s/config", c->config_dir);
	memset(dflt, 0, sizeof *dflt);
	/* the user's own file: a symlink is fine (dotfiles), a FIFO is not waited on */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 && errno == ENOENT)
		return client_hostconfig(c, "", dflt);
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)))
		errno = EINVAL;
	else if (fd >= 0)
		c->hostconf = fileio_read_fd(fd, HOSTCONFIG_MAX, &c->hostconf_len);
	int err = errno;
	if (fd >= 0)
		close(fd);
	if (c->hostconf == NULL)
		return client_fail(c, TETHER_E_USAGE, "cannot read %s: %s", path,
		                   err == EFBIG ? "larger than 256 KiB" :
		                   err == EINVAL ? "not a regular file" : strerror(err));
	return client_hostconfig(c, "", dflt);
}

/* See client-int.h. */
tether_err client_hostconfig(tether_client *c, const char *alias, struct hostconfig *out)
{
	char why[400];
	memset(out, 0, sizeof *out);
	if (c->hostconf == NULL)
		return TETHER_E_OK;
	if (hostconfig_lookup(c->hostconf, c->hostconf_len, alias, getenv("HOME"), out, why,
	                      sizeof why) != 0)
		return client_fail(c, TETHER_E_USAGE, "%s/config: %s", c->config_dir, why);
	return TETHER_E_OK;
}

/* Open the client's state. */
tether_err tether_client_new(tether_client **out)
{
	tether_client *c = calloc(1, sizeof *c);
	*out = c;
	if (c == NULL)
		return TETHER_E_NOMEM;
	if (homedir_paths(c->config_dir, c->state_dir, sizeof c->config_dir) != 0)
		return client_fail(c, TETHER_E_IO, "set HOME or TETHER_HOME");
	if (fileio_mkdirs(c->config_dir, 0700, 0700) != 0 ||
	    fileio_mkdirs(c->state_dir, 0700, 0700) != 0)
		return client_fail(c, TETHER_E_IO, "cannot create %s: %s", c->config_dir,
		                   strerror(errno));
	tether_err e = load_client_id(c);
	struct hostconfig dflt;
	if (e == TETHER_E_OK)
		e = load_hostconf(c, &dflt);
	c->dflt_throttle = dflt.throttle;
	c->dflt_timeout = dflt.timeout;
	c->control_persist = dflt.control_persist > 0 ? dflt.control_persist : 0;
	if (e == TETHER_E_OK)
		e = env_seconds(c, "TETHER_CONNECT_TIMEOUT", dflt.connect_timeout > 0
		                ? dflt.connect_timeout : CLIENT_CONNECT_TIMEOUT_DEFAULT,
		                &c->connect_timeout);
	if (e == TETHER_E_OK)
		e = env_seconds(c, "TETHER_IO_TIMEOUT", CLIENT_IO_TIMEOUT_DEFAULT, &c->io_timeout);
	if (e != TETHER_E_OK)
		return e;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c->curl = curl_easy_init();
	if (c->curl == NULL)
		return client_fail(c, TETHER_E_NOMEM, "cannot initialise libcurl");
	if (conn_share != NULL)
		curl_easy_setopt(c->curl, CURLOPT_SHARE, conn_share);
	return TETHER_E_OK;
}

/* libcurl takes the locks of different kinds of shared data nested: a
 * mutex per kind */
static pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	(void)h; (void)a; (void)u;
	pthread_mutex_lock(&share_mu[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *u)
{
	(void)h; (void)u;
	pthread_mutex_unlock(&share_mu[d]);
}

/* See client-int.h. */
void client_share_connections(void)
{
	if (conn_share != NULL || (conn_share = curl_share_init()) == NULL)
		return;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_mu[i], NULL);
	curl_share_setopt(conn_share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(conn_share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(conn_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(conn_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

/* See tether.h. */
void tether_client_set_verbose(tether_client *c, int level)
{
	c->verbose = level;
}

/* strdup, with NULL for NULL; false if memory ran out. */
static bool dup_opt(const char *s, char **out)
{
	*out = s != NULL ? strdup(s) : NULL;
	return s == NULL || *out != NULL;
}

/* Open a client that keeps nothing on disk; see tether.h. */
tether_err tether_client_new_remote(tether_client **out, const struct tether_remote_opts *o)
{
	tether_client *c = calloc(1, sizeof *c);
	*out = c;
	if (c == NULL)
		return TETHER_E_NOMEM;
	c->remote = true;
	c->insecure = o->insecure != 0;
	c->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout
	                                            : CLIENT_CONNECT_TIMEOUT_DEFAULT;
	c->io_timeout = o->io_timeout > 0 ? o->io_timeout : CLIENT_IO_TIMEOUT_DEFAULT;
	c->next_proxy = o->next_proxy;
	c->proxy_ctx = o->proxy_ctx;
	c->creds = json_object();
	if (c->creds == NULL || !dup_opt(o->cacert_pem, &c->cacert_pem) ||
	    !dup_opt(o->proxy, &c->proxy) || !dup_opt(o->noproxy, &c->noproxy) ||
	    !dup_opt(o->proxy_user, &c->proxy_user) ||
	    !dup_opt(o->proxy_password, &c->proxy_password) ||
	    !dup_opt(o->user_agent, &c->user_agent))
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c->curl = curl_easy_init();
	if (c->curl == NULL)
		return client_fail(c, TETHER_E_NOMEM, "cannot initialise libcurl");
	return TETHER_E_OK;
}

/* Release the client. */
void tether_client_free(tether_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	json_decref(c->creds);
	free(c->cacert_pem);
	free(c->proxy);
	free(c->noproxy);
	free(c->proxy_user);
	if (c->proxy_password != NULL)
		crypto_wipe(c->proxy_password, strlen(c->proxy_password));
	free(c->proxy_password);
	free(c->user_agent);
	free(c->hostconf);
	crypto_wipe(c, sizeof *c);
	free(c);
}

/* Path of credentials.json. */
static void creds_path(tether_client *c, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/credentials.json", c->state_dir);
}

/* Load credentials.json once (an empty document if absent). */
static json_t *creds_load(tether_client *c)
{
	if (c->creds != NULL)
		return c->creds;
	char path[BOUND_PATH + 32];
	creds_path(c, path, sizeof path);
	json_error_t jerr;
	c->creds = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (c->creds == NULL || !json_is_object(c->creds)) {
		json_decref(c->creds);
		c->creds = json_object();
	}
	return c->creds;
}

/* Write credentials.json back, 0600 (a remote client's stay in memory). */
static int creds_save(tether_client *c)
{
	if (c->remote)
		return 0;
	char path[BOUND_PATH + 32];
	creds_path(c, path, sizeof path);
	char *text = json_dumps(c->creds, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL)
		return -1;
	int rc = fileio_write_atomic(path, text, strlen(text), 0600);
	crypto_wipe(text, strlen(text));
	free(text);
	return rc;
}

/* Find the token for key and user (user NULL/"" = the host's default user). */
int creds_get(tether_client *c, const char *key, const char *user, char *userout,
              size_t usersz, char *token, size_t tokensz)
{
	json_t *host = json_object_get(creds_load(c), key);
	if (user == NULL || user[0] == '\0')
		user = json_string_value(json_object_get(host, "default_user"));
	if (user == NULL)
		return -1;
	json_t *entry = json_object_get(json_object_get(host, "tokens"), user);
	const char *tok = json_string_value(json_object_get(entry, "token"));
	if (tok == NULL || strlen(tok) >= tokensz)
		return -1;
	snprintf(userout, usersz, "%s", user);
	snprintf(token, tokensz, "%s", tok);
	return 0;
}

/* Store a token and make user the host's default. */
int creds_set(tether_client *c, const char *key, const char *user, const char *token,
              const char *expires)
{
	json_t *all = creds_load(c);
	json_t *host = json_object_get(all, key);
	if (!json_is_object(host)) {
		host = json_object();
		json_object_set_new(all, key, host);
	}
	json_t *tokens = json_object_get(host, "tokens");
	if (!json_is_object(tokens)) {
		tokens = json_object();
		json_object_set_new(host, "tokens", tokens);
	}
	json_object_set_new(tokens, user, json_pack("{s:s,s:s}", "token", token,
	                                            "expires", expires ? expires : ""));
	json_object_set_new(host, "default_user", json_string(user));
	return creds_save(c);
}

/* Forget a token. */
int creds_remove(tether_client *c, const char *key, const char *user)
{
	json_t *all = creds_load(c);
	json_t *host = json_object_get(all, key);
	json_t *tokens = json_object_get(host, "tokens");
	json_object_del(tokens, user);
	const char *def = json_string_value(json_object_get(host, "default_user"));
	if (def != NULL && strcmp(def, user) == 0) {
		const char *other = NULL;
		json_t *v;
		json_object_foreach(tokens, other, v)
			break;
		if (other != NULL)
			json_object_set_new(host, "default_user", json_string(other));
		else
			json_object_del(all, key);
	}
	return creds_save(c);
}

/* Parse HOST and find how to trust it. */
/* An alias of the configuration file (docs/cli.md, "Client configuration"):
 * its HostName, and its Port and User unless the host names them. */
static tether_err apply_alias(tether_client *c, struct hostspec *hs)
{
	struct hostconfig hc;
	char spec[BOUND_NAME + 300], why[200];
	if (c->remote || hs->ipv6)
		return TETHER_E_OK;
	tether_err e = client_hostconfig(c, hs->host, &hc);
	if (e != TETHER_E_OK || (hc.hostname[0] == '\0' && hc.port == 0 && hc.user[0] == '\0'))
		return e;
	const char *user = hs->user[0] ? hs->user : hc.user;
	const char *name = hc.hostname[0] ? hc.hostname : hs->host;
	bool v6 = strchr(name, ':') != NULL, port = hs->port_given || hc.port != 0;
	snprintf(spec, sizeof spec, "%s%s%s%s%s%s%u", user, user[0] ? "@" : "", v6 ? "[" : "",
	         name, v6 ? "]" : "", port ? ":" : "",
	         hs->port_given ? hs->port : hc.port);
	if (!port)   /* no port at all: none printed */
		spec[strlen(spec) - 1] = '\0';
	if (addr_parse_host(spec, hs, why, sizeof why) != 0)
		return client_fail(c, TETHER_E_USAGE, "%s/config: %s", c->config_dir, why);
	return TETHER_E_OK;
}

tether_err client_target_parse(tether_client *c, const char *host, struct target *t)
{
	char why[200], kh[BOUND_PATH + 16];
	memset(t, 0, sizeof *t);
	if (addr_parse_host(host, &t->hs, why, sizeof why) != 0)
		return client_fail(c, TETHER_E_USAGE, "%s", why);
	tether_err e = apply_alias(c, &t->hs);
	if (e != TETHER_E_OK)
		return e;
	addr_host_key(&t->hs, t->key, sizeof t->key);
	snprintf(t->user, sizeof t->user, "%s", t->hs.user);
	t->trust = TRUST_PROBE;
	if (c->remote) {   /* the caller's trust, never known_hosts */
		t->trust = c->insecure ? TRUST_NONE : TRUST_SYSTEM;
		return TETHER_E_OK;
	}
	int k = known_hosts_get(c, t->key, kh, sizeof kh);
	if (k < 0)
		return client_fail(c, TETHER_E_IO, "cannot read known_hosts");
	if (k == 0 && strncmp(kh, "cacert:", 7) == 0) {
		t->trust = TRUST_CA;
		if (strparse_copy(t->cacert, sizeof t->cacert, kh + 7) != 0)
			k = -1;
	} else if (k == 0) {
		t->trust = TRUST_PIN;
		if (strparse_copy(t->pin, sizeof t->pin, kh) != 0)
			k = -1;
	}
	if (k < 0)
		return client_fail(c, TETHER_E_IO, "malformed entry for %s in %s/known_hosts",
		                   t->key, c->config_dir);
	return TETHER_E_OK;
}

/* Resolve HOST for an authenticated call. */
tether_err client_target(tether_client *c, const char *host, struct target *t)
{
	tether_err e = client_target_parse(c, host, t);
	if (e != TETHER_E_OK)
		return e;
	if (creds_get(c, t->key, t->hs.user, t->user, sizeof t->user, t->token,
	              sizeof t->token) != 0)
		return client_fail(c, TETHER_E_NOT_LOGGED_IN,
		                   "not logged in to %s%s%s; run: tether login %s",
		                   t->hs.user[0] ? t->hs.user : "", t->hs.user[0] ? "@" : "",
		                   t->key, host);
	if (t->trust == TRUST_PROBE)
		return client_fail(c, TETHER_E_HOSTKEY_UNKNOWN,
		                   "no pinned key for %s; run: tether login %s", t->key, host);
	return TETHER_E_OK;
}

/* Hosts with tokens, as "USER@HOST:PORT". */
tether_err tether_hosts(tether_client *c, json_t **hosts)
{
	json_t *arr = json_array();
	const char *key;
	json_t *host;
	json_object_foreach(creds_load(c), key, host) {
		const char *def = json_string_value(json_object_get(host, "default_user"));
		if (def == NULL)
			continue;
		char buf[400];
		snprintf(buf, sizeof buf, "%s@%s", def, key);
		json_array_append_new(arr, json_string(buf));
	}
	*hosts = arr;
	return TETHER_E_OK;
}
