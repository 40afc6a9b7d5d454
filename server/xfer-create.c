/*
 * xfer-create.c - creating a transfer job (xfer_create in xfer.h): the
 * request and its options validated into the stored form, the files
 * planned as the owner (xfer-plan.c), the job recorded and the scheduler
 * woken. Source and destination rules are common/xferplan.c's, the same
 * the client applies. A password written inside a URL (user:pass@host) is
 * taken out of it here and sealed like any credentials: the stored URL,
 * and so every listing, log and the worker's spec, has only user@host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "account.h"
#include "addr.h"
#include "crypto.h"
#include "fileio.h"
#include "jsonu.h"
#include "proto.h"
#include "secrets.h"
#include "strparse.h"
#include "timeu.h"
#include "userfile.h"
#include "xfer.h"
#include "xfer-int.h"
#include "xferplan.h"

#define MAX_CACERT      (256 * 1024)
#define MAX_TEXT        4096        /* a source, destination, command... */

/* ---- creating ---- */

/* Text fields: bounded, no control characters. */
static int check_text(const char *what, const char *s, size_t max, char *err, size_t errsz)
{
	size_t n = strlen(s);
	if (n == 0 || n > max) {
		snprintf(err, errsz, "%s must be 1 to %zu characters", what, max);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errsz, "%s must not contain control characters", what);
			return -1;
		}
	return 0;
}

/* Take the password out of a URL: *clean gets the URL without it (the
 * same text if it has none), *pass the password or NULL; both malloc'd
 * (the password zeroed before it is freed, by the caller). 0, or -1. */
static int url_take_password(const char *url, char **clean, char **pass)
{
	CURLU *u = curl_url();
	char *pw = NULL, *out = NULL;
	*clean = *pass = NULL;
	if (u == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		*clean = strdup(url);   /* no password (or not for curl): as given */
		return *clean != NULL ? 0 : -1;
	}
	if (curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
		*clean = strdup(out);
		*pass = strdup(pw);
	}
	crypto_wipe(pw, strlen(pw));
	curl_free(pw);
	curl_free(out);
	curl_url_cleanup(u);
	if (*clean == NULL || *pass == NULL) {
		free(*clean);
		free(*pass);
		*clean = *pass = NULL;
		return -1;
	}
	return 0;
}

/* Seal pass for file idx into opts' "url_passwords" (the worker's, never
 * shown: xfer_job_json). 0, or -1 with err. */
static int seal_url_password(struct server *srv, json_t *opts, size_t idx, const char *pass,
                             char *err, size_t errsz)
{
	char key[BOUND_PATH + 32], k[24];
	xfer_key_path(key, srv);
	char *sealed = secrets_seal(key, pass, strlen(pass));
	if (sealed == NULL) {
		snprintf(err, errsz, "cannot protect the credentials");
		return -1;
	}
	json_t *m = json_object_get(opts, "url_passwords");
	if (m == NULL) {
		m = json_object();
		json_object_set_new(opts, "url_passwords", m);
	}
	snprintf(k, sizeof k, "%zu", idx);
	json_object_set_new(m, k, json_string(sealed));
	free(sealed);
	return 0;
}

/* Validate the request's options into the stored form. */
static int parse_options(struct server *srv, json_t *body, json_t *opts, char **sealed,
                         char *err, size_t errsz)
{
	int64_t v;
	const char *s;
	bool b;
	static const struct { const char *key; int64_t min, max, dflt; } nums[] = {
		{ "retry_delay", 1, 30 * 86400, 600 },
		{ "no_progress_timeout", 1, 3650LL * 86400, 14 * 86400 },
		{ "max_rate", 0, INT64_MAX / 2, 0 },
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		v = nums[i].dflt;
		if (jsonu_get_int(body, nums[i].key, false, nums[i].min, nums[i].max, &v, err,
		                  errsz) < 0)
			return -1;
		json_object_set_new(opts, nums[i].key, json_integer(v));
	}
	b = false;
	if (jsonu_get_bool(body, "insecure", false, &b, err, errsz) < 0)
		return -1;
	json_object_set_new(opts, "insecure", json_boolean(b));
	json_t *ca = json_object_get(body, "cacert");
	if (ca != NULL) {
		s = json_string_value(ca);
		if (s == NULL || strlen(s) > MAX_CACERT || !strstr(s, "-----BEGIN CERTIFICATE-----")) {
			snprintf(err, errsz, "cacert must be PEM certificate text (at most %d bytes)",
			         MAX_CACERT);
			return -1;
		}
		if (b) {
			snprintf(err, errsz, "cacert and insecure exclude each other");
			return -1;
		}
		json_object_set(opts, "cacert", ca);
	}
	json_t *sha = json_object_get(body, "sha256");
	if (sha != NULL) {
		s = json_string_value(sha);
		bool hex = s != NULL && strlen(s) == 64;
		for (size_t i = 0; hex && i < 64; i++)
			hex = strchr("0123456789abcdefABCDEF", s[i]) != NULL;
		if (!hex) {
			snprintf(err, errsz, "sha256 must be 64 hexadecimal digits");
			return -1;
		}
		json_object_set(opts, "sha256", sha);
	}
	json_t *cmd = json_object_get(body, "notify_cmd");
	if (cmd != NULL) {
		if (!json_is_string(cmd) || strlen(json_string_value(cmd)) == 0 ||
		    strlen(json_string_value(cmd)) > MAX_TEXT) {
			snprintf(err, errsz, "notify_cmd must be a command of 1 to %d characters",
			         MAX_TEXT);
			return -1;
		}
		json_object_set(opts, "notify_cmd", cmd);
	}
	json_t *cred = json_object_get(body, "credentials");
	if (cred != NULL) {
		const char *user = NULL, *pass = NULL, *auth = "any";
		if (!json_is_object(cred) ||
		    jsonu_get_string(cred, "user", true, BOUND_NAME * 4, &user, err, errsz) < 0 ||
		    jsonu_get_string(cred, "password", false, SECRETS_MAX, &pass, err, errsz) < 0 ||
		    jsonu_get_string(cred, "auth", false, 16, &auth, err, errsz) < 0) {
			if (!json_is_object(cred))
				snprintf(err, errsz, "credentials must be an object {user, password, auth}");
			return -1;
		}
		if (auth == NULL)
			auth = "any";
		static const char *const auths[] = { "basic", "digest", "ntlm", "negotiate", "any" };
		bool known = false;
		for (size_t i = 0; i < sizeof auths / sizeof auths[0]; i++)
			known = known || strcmp(auth, auths[i]) == 0;
		if (!known || check_text("credentials.user", user, BOUND_NAME * 4, err, errsz) != 0) {
			if (!known)
				snprintf(err, errsz, "credentials.auth must be basic, digest, ntlm, "
				         "negotiate or any");
			return -1;
		}
		json_object_set_new(opts, "user", json_string(user));
		json_object_set_new(opts, "auth", json_string(auth));
		if (pass != NULL) {
			char key[BOUND_PATH + 32];
			xfer_key_path(key, srv);
			*sealed = secrets_seal(key, pass, strlen(pass));
			if (*sealed == NULL) {
				snprintf(err, errsz, "cannot protect the credentials");
				return -1;
			}
		}
	}
	json_t *proxy = json_object_get(body, "proxy");
	if (proxy != NULL) {
		const char *usage = "system";
		if (!json_is_object(proxy) ||
		    jsonu_get_string(proxy, "usage", false, 16, &usage, err, errsz) < 0) {
			if (!json_is_object(proxy))
				snprintf(err, errsz, "proxy must be an object {usage, list, bypass}");
			return -1;
		}
		usage = usage ? usage : "system";
		if (strcmp(usage, "system") && strcmp(usage, "none") && strcmp(usage, "override")) {
			snprintf(err, errsz, "proxy.usage must be system, none or override");
			return -1;
		}
		json_t *list = json_object_get(proxy, "list"), *bypass = json_object_get(proxy, "bypass");
		json_t *out = json_pack("{s:s}", "usage", usage);
		json_object_set_new(opts, "proxy", out);
		size_t i;
		json_t *e;
		if ((list && (!json_is_array(list) || json_array_size(list) > 16)) ||
		    (bypass && (!json_is_array(bypass) || json_array_size(bypass) > 64))) {
			snprintf(err, errsz, "proxy.list (at most 16) and proxy.bypass (at most 64) "
			         "must be arrays of strings");
			return -1;
		}
		json_t *urls = json_array();
		json_object_set_new(out, "list", urls);
		json_array_foreach(list, i, e) {
			/* a bare HOST:PORT is an http proxy, as BITS and curl take it */
			const char *p = json_string_value(e);
			char url[MAX_TEXT + 8];
			if (p != NULL && !xferplan_is_url(p))
				snprintf(url, sizeof url, "http://%s", p);
			else
				snprintf(url, sizeof url, "%s", p ? p : "");
			if (p == NULL || strlen(p) > MAX_TEXT ||
			    xferplan_check_url(url, false, err, errsz) != 0) {
				if (p == NULL || strlen(p) > MAX_TEXT)
					snprintf(err, errsz, "proxy.list must hold URLs or HOST:PORT");
				return -1;
			}
			json_array_append_new(urls, json_string(url));
		}
		if (strcmp(usage, "override") == 0 && json_array_size(list) == 0) {
			snprintf(err, errsz, "proxy usage override needs a proxy list");
			return -1;
		}
		if (list == NULL)
			json_object_del(out, "list");
		const char *puser = NULL, *ppass = NULL;
		if (jsonu_get_string(proxy, "user", false, BOUND_NAME * 4, &puser, err, errsz) < 0 ||
		    jsonu_get_string(proxy, "password", false, SECRETS_MAX, &ppass, err, errsz) < 0)
			return -1;
		if (puser != NULL && (check_text("proxy.user", puser, BOUND_NAME * 4, err, errsz) != 0 ||
		                      strcmp(usage, "none") == 0)) {
			if (strcmp(usage, "none") == 0)
				snprintf(err, errsz, "proxy.user needs a proxy: not with usage none");
			return -1;
		}
		if (ppass != NULL && puser == NULL) {
			snprintf(err, errsz, "proxy.password goes with proxy.user");
			return -1;
		}
		if (puser != NULL) {
			char key[BOUND_PATH + 32];
			xfer_key_path(key, srv);
			char *psealed = secrets_seal(key, ppass ? ppass : "",
			                             ppass ? strlen(ppass) : 0);
			if (psealed == NULL) {
				snprintf(err, errsz, "cannot protect the proxy's credentials");
				return -1;
			}
			json_object_set_new(out, "user", json_string(puser));
			/* sealed, with the options; never shown (xfer_job_json) */
			json_object_set_new(opts, "proxy_password", json_string(psealed));
			free(psealed);
		}
		char joined[MAX_TEXT] = "";
		json_array_foreach(bypass, i, e) {
			const char *h = json_string_value(e);
			if (h == NULL || check_text("proxy.bypass", h, 253, err, errsz) != 0 ||
			    strchr(h, ',') != NULL) {
				if (h == NULL || strchr(h, ','))
					snprintf(err, errsz, "proxy.bypass must hold host names");
				return -1;
			}
			size_t l = strlen(joined);
			snprintf(joined + l, sizeof joined - l, "%s%s", l ? "," : "", h);
		}
		if (joined[0])
			json_object_set_new(out, "bypass", json_string(joined));
	}
	return 0;
}

/* A summary for the job row's command column. */
static char *summary(const struct xfer_rec *t)
{
	size_t len = strlen(t->files[0].source) + strlen(t->files[0].destination) + 64;
	char *s = malloc(len);
	if (s != NULL)
		snprintf(s, len, "%s %s%s -> %s", t->upload ? "upload" : "download",
		         t->files[0].source, t->nfiles > 1 ? " ..." : "", t->files[0].destination);
	return s;
}

/* xfer_create on a body whose URLs have no passwords left (those are in
 * pw: a URL without its password -> the password). */
static tether_err create(struct server *srv, const struct user_rec *u,
                         const struct session_rec *s, json_t *body, json_t *pw,
                         json_t **out, char *err, size_t errsz)
{
	const char *name = NULL, *dir = "download", *prio = "normal", *dest = NULL;
	bool suspended = false;
	if (jsonu_get_string(body, "name", false, BOUND_NAME, &name, err, errsz) < 0 ||
	    jsonu_get_string(body, "direction", false, 16, &dir, err, errsz) < 0 ||
	    jsonu_get_string(body, "priority", false, 16, &prio, err, errsz) < 0 ||
	    jsonu_get_string(body, "destination", true, MAX_TEXT, &dest, err, errsz) < 0 ||
	    jsonu_get_bool(body, "suspended", false, &suspended, err, errsz) < 0)
		return TETHER_E_INVALID_ARGUMENT;
	dir = dir ? dir : "download";
	prio = prio ? prio : "normal";
	if (name != NULL && !addr_valid_name(name)) {
		snprintf(err, errsz, "name must start with a letter or digit, then letters, "
		         "digits, '.', '_' or '-'");
		return TETHER_E_INVALID_ARGUMENT;
	}
	bool upload = strcmp(dir, "upload") == 0;
	if (!upload && strcmp(dir, "download") != 0) {
		snprintf(err, errsz, "direction must be download or upload");
		return TETHER_E_INVALID_ARGUMENT;
	}
	int priority = proto_xfer_priority_parse(prio);
	if (priority < 0) {
		snprintf(err, errsz, "priority must be foreground, high, normal or low");
		return TETHER_E_INVALID_ARGUMENT;
	}
	json_t *sources = json_object_get(body, "sources");
	if (!json_is_array(sources) || json_array_size(sources) == 0 ||
	    json_array_size(sources) > (size_t)srv->conf.transfer_files_per_job) {
		snprintf(err, errsz, "sources must be an array of 1 to %lld files",
		         (long long)srv->conf.transfer_files_per_job);
		return json_is_array(sources) && json_array_size(sources) > 0
		       ? TETHER_E_LIMIT_EXCEEDED : TETHER_E_INVALID_ARGUMENT;
	}
	if (check_text("destination", dest, MAX_TEXT, err, errsz) != 0)
		return TETHER_E_INVALID_ARGUMENT;
	if (xferplan_has_wildcard(dest)) {
		snprintf(err, errsz, "the destination cannot contain wildcards: %s", dest);
		return TETHER_E_INVALID_ARGUMENT;
	}
	if (upload ? xferplan_check_url(dest, true, err, errsz) != 0 : xferplan_is_url(dest)) {
		if (!upload)
			snprintf(err, errsz, "a download's destination is a path on this host, not a "
			         "URL (use upload to send files to a URL)");
		return TETHER_E_INVALID_ARGUMENT;
	}
	if (!upload && path_has_dotdot(dest)) {
		snprintf(err, errsz, "the destination must not contain '..' components");
		return TETHER_E_INVALID_ARGUMENT;
	}
	size_t i;
	json_t *v;
	json_array_foreach(sources, i, v) {
		const char *src = json_string_value(v);
		if (src == NULL) {
			snprintf(err, errsz, "sources must be strings");
			return TETHER_E_INVALID_ARGUMENT;
		}
		if (check_text("a source", src, MAX_TEXT, err, errsz) != 0)
			return TETHER_E_INVALID_ARGUMENT;
		if (xferplan_is_url(src) && (upload || xferplan_check_url(src, false, err, errsz) != 0)) {
			if (upload)
				snprintf(err, errsz, "an upload's sources are paths on this host, not URLs");
			return TETHER_E_INVALID_ARGUMENT;
		}
	}
	struct account o;
	tether_err e = account_of(u, &o, err, errsz);
	if (e != TETHER_E_OK)
		return e;
	struct xfer_rec t = { .session_id = s->id, .user_id = u->id, .upload = upload,
	                      .priority = priority, .options = json_object(),
	                      .notes = json_array() };
	if (parse_options(srv, body, t.options, &t.credentials, err, errsz) != 0) {
		xfer_rec_clear(&t);
		return TETHER_E_INVALID_ARGUMENT;
	}
	if (upload && strncasecmp(dest, "tether://", 9) == 0 &&
	    (t.credentials == NULL || !json_object_get(t.options, "user"))) {
		snprintf(err, errsz, "a tether:// destination needs the account on the receiving "
		         "tetherd: user and password");
		xfer_rec_clear(&t);
		return TETHER_E_INVALID_ARGUMENT;
	}
	json_t *arg = json_pack("{s:b,s:O,s:s,s:s}", "upload", upload, "sources", sources,
	                        "destination", dest, "home", o.home);
	json_t *plan = account_run(&o, xfer_plan_files, arg);
	json_decref(arg);
	json_t *files = json_object_get(plan, "files");
	if (!json_is_array(files) || json_array_size(files) == 0) {
		const char *why = json_string_value(json_object_get(plan, "error"));
		const char *code = json_string_value(json_object_get(plan, "code"));
		tether_err refused = why == NULL ? TETHER_E_INTERNAL
		                   : code && strcmp(code, "forbidden") == 0 ? TETHER_E_FORBIDDEN
		                   : code && strcmp(code, "not_found") == 0 ? TETHER_E_NOT_FOUND
		                   : TETHER_E_INVALID_ARGUMENT;
		snprintf(err, errsz, "%s", why ? why : "cannot examine the files as their owner");
		json_decref(plan);
		xfer_rec_clear(&t);
		return refused;
	}
	t.nfiles = json_array_size(files);
	if (t.nfiles > (size_t)srv->conf.transfer_files_per_job ||
	    (t.nfiles > 1 && json_object_get(t.options, "sha256"))) {
		snprintf(err, errsz, t.nfiles > 1 && json_object_get(t.options, "sha256")
		         ? "sha256 needs a job of exactly one file (this one has %zu)"
		         : "too many files in one job (%zu; at most transfer_files_per_job)", t.nfiles);
		json_decref(plan);
		t.nfiles = 0;
		xfer_rec_clear(&t);
		return TETHER_E_LIMIT_EXCEEDED;
	}
	t.files = calloc(t.nfiles, sizeof *t.files);
	bool made = t.files != NULL;
	json_array_foreach(files, i, v) {
		if (!made)
			break;
		t.files[i].source = strdup(json_string_value(json_object_get(v, "source")));
		t.files[i].destination = strdup(json_string_value(json_object_get(v, "destination")));
		t.files[i].bytes_total = -1;
		made = t.files[i].source != NULL && t.files[i].destination != NULL;
	}
	if (!made) {
		snprintf(err, errsz, "out of memory");
		json_decref(plan);
		if (t.files == NULL)
			t.nfiles = 0;
		xfer_rec_clear(&t);
		return TETHER_E_NOMEM;
	}
	json_decref(plan);
	for (i = 0; i < t.nfiles; i++) {
		/* an upload's files all go to the destination URL (plus a name) */
		const char *pass = json_string_value(json_object_get(pw, upload ? dest
		                                                     : t.files[i].source));
		if (pass != NULL && seal_url_password(srv, t.options, i, pass, err, errsz) != 0) {
			xfer_rec_clear(&t);
			return TETHER_E_INTERNAL;
		}
	}
	int64_t now = timeu_now();
	t.state = suspended ? XFER_SUSPENDED : XFER_QUEUED;
	t.created = t.modified = t.progress_at = now;
	struct job_rec j = { .session_id = s->id, .state = JOB_RUNNING, .exit_code = -1,
	                     .started = now };
	j.type = JOB_TYPE_TRANSFER;
	if (name != NULL)
		snprintf(j.name, sizeof j.name, "%s", name);
	j.command = summary(&t);
	e = store_xfer_create(srv->store, &j, &t, srv->conf.transfer_jobs_per_user);
	free(j.command);
	if (e == TETHER_E_CONFLICT)
		snprintf(err, errsz, "session '%s' already has a job named '%s'", s->name, name);
	else if (e == TETHER_E_LIMIT_EXCEEDED)
		snprintf(err, errsz, "you already have %lld transfer jobs (transfer_jobs_per_user); "
		         "complete or remove some first", (long long)srv->conf.transfer_jobs_per_user);
	else if (e != TETHER_E_OK)
		snprintf(err, errsz, "cannot record the transfer");
	if (e == TETHER_E_OK) {
		xfer_log(&t, "transfer_created");
		*out = xfer_job_json(&t, s->name, t.state);
		xfer_kick();
	}
	xfer_rec_clear(&t);
	return e;
}

/* Take the password out of a URL in body at key (a string, or an array's
 * element i) into pw[clean URL]; 0, or -1 with err. */
static int take_password(json_t *holder, const char *key, size_t i, json_t *pw, char *err,
                         size_t errsz)
{
	json_t *v = key ? json_object_get(holder, key) : json_array_get(holder, i);
	const char *url = json_string_value(v);
	char *clean, *pass;
	if (url == NULL || !xferplan_is_url(url))
		return 0;   /* create() refuses what is not a string */
	if (url_take_password(url, &clean, &pass) != 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	int rc = 0;
	if (pass != NULL && strlen(pass) > SECRETS_MAX) {
		snprintf(err, errsz, "the password in a URL must be at most %d bytes", SECRETS_MAX);
		rc = -1;
	} else if (pass != NULL && strncasecmp(clean, "tether://", 9) == 0) {
		snprintf(err, errsz, "a tether:// URL takes no password: give the account there "
		         "with user and password (--user, --password-stdin)");
		rc = -1;
	} else if (pass != NULL) {
		json_object_set_new(pw, clean, json_string(pass));
		json_t *c = json_string(clean);
		if (key)
			json_object_set_new(holder, key, c);
		else
			json_array_set_new(holder, i, c);
	}
	if (pass != NULL)
		crypto_wipe(pass, strlen(pass));
	free(pass);
	free(clean);
	return rc;
}

/* Zero the passwords held in pw and free it. */
static void wipe_passwords(json_t *pw)
{
	const char *k;
	json_t *v;
	json_object_foreach(pw, k, v)
		if (json_is_string(v))
			crypto_wipe((char *)json_string_value(v), json_string_length(v));
	json_decref(pw);
}

tether_err xfer_create(struct server *srv, const struct user_rec *u,
                       const struct session_rec *s, json_t *body, json_t **out,
                       char *err, size_t errsz)
{
	/* a copy whose URLs lose their passwords: nothing downstream sees them */
	json_t *clean = json_copy(body), *pw = json_object();
	json_t *sources = json_copy(json_object_get(body, "sources"));
	tether_err e = TETHER_E_OK;
	if (clean == NULL || pw == NULL) {
		snprintf(err, errsz, "out of memory");
		e = TETHER_E_NOMEM;
	}
	if (e == TETHER_E_OK && json_is_array(sources)) {
		json_object_set(clean, "sources", sources);
		for (size_t i = 0; e == TETHER_E_OK && i < json_array_size(sources); i++)
			if (take_password(sources, NULL, i, pw, err, errsz) != 0)
				e = TETHER_E_INVALID_ARGUMENT;
	}
	if (e == TETHER_E_OK && take_password(clean, "destination", 0, pw, err, errsz) != 0)
		e = TETHER_E_INVALID_ARGUMENT;
	if (e == TETHER_E_OK)
		e = create(srv, u, s, clean, pw, out, err, errsz);
	json_decref(sources);
	json_decref(clean);
	wipe_passwords(pw);
	return e;
}

/* parse_options, for tests/fuzz/fuzz_transfer.c; see xfer.h. */
int xfer_test_parse_options(struct server *srv, json_t *body, json_t *opts, char **sealed,
                            char *err, size_t errsz)
{
	return parse_options(srv, body, opts, sealed, err, errsz);
}
