/*
 * cmd-login.c - tether login HOST: trust the server's key, get a token.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "cmd.h"
#include "crypto.h"
#include "term.h"

static int exec_login(struct cmd_ctx *x, const struct args *a);

static const struct args_opt login_opts[] = {
	{ 0, "user", ARG_VALUE, "U", NULL },
	{ 0, "password-stdin", 0, NULL, NULL },
	{ 0, "accept-new", 0, NULL, NULL },
	{ 0, "fingerprint", ARG_VALUE, "FP", NULL },
	{ 0, "cacert", ARG_VALUE, "FILE", NULL },
	{ 'i', "identity", ARG_VALUE, "FILE", NULL },
	{ 0, "throttle", ARG_VALUE, "N", NULL },
	{ 0, NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_login_entry = {
	"login", "HOST|TARGETS [--user U] [--password-stdin] [-i|--identity FILE] "
	"[--accept-new | --fingerprint SHA256:... | --cacert FILE] [--throttle N]",
	"log in to a tetherd and remember its key and a token",
	"  --user U            log in as U (default: USER@ in HOST, else $USER)\n"
	"  -i, --identity FILE log in with this OpenSSH private key (its passphrase is\n"
	"                      asked on the terminal if it has one)\n"
	"  --password-stdin    read the password from the first line of stdin\n"
	"  --accept-new        pin the server key on first contact without asking\n"
	"  --fingerprint FP    require the server key to have fingerprint FP\n"
	"                      (see 'tetherd fingerprint' on the server)\n"
	"  --cacert FILE       verify the server certificate against this CA instead\n"
	"                      (TETHER_CACERT=FILE: the same for hosts not in\n"
	"                      known_hosts, when no flag above is given)\n"
	"Public keys are tried first: --identity's, then those of ssh-agent\n"
	"($SSH_AUTH_SOCK); the password is asked for only if the server accepts\n"
	"none of them (docs/authentication.md).\n"
	"A server key that differs from the pinned one is refused (exit 255).\n"
	"TARGETS (several hosts, docs/fleet.md): every host with the same\n"
	"credentials, --throttle N at a time (default 32), a password asked at most\n"
	"once; exit 1 if any host failed.\n",
	{ login_opts, 1, 1, "expected exactly one HOST or TARGETS", 0 }, CMD_TARGET_HOST,
	exec_login,
};

/* Ask on the terminal whether to trust an unknown key (ssh's question). */
static int confirm_key(void *ctx, const char *host, const char *fp)
{
	char answer[16];
	int tty = term_open();
	if (tty < 0)
		return 0;   /* nobody to ask: the library explains the refusal */
	close(tty);
	fprintf(stderr, "The authenticity of host '%s' can't be established.\n"
	        "Key fingerprint is %s.\n", host, fp);
	for (;;) {
		if (term_prompt("Are you sure you want to continue connecting (yes/no)? ",
		                answer, sizeof answer) < 0)
			return 0;
		if (strcmp(answer, "yes") == 0)
			return 1;
		if (strcmp(answer, "no") == 0)
			return 0;
		fprintf(stderr, "Please type 'yes' or 'no'.\n");
	}
}

/* The password, asked on the terminal the first time it is needed (a
 * fleet login asks once for every host). */
struct asked {
	const char *host;
	bool        have;
	char        pw[BOUND_PASSWORD + 2];
};

/* Prompt for the password, once the server's key is trusted and no public
 * key was accepted. */
static int ask_password(void *ctx, char *buf, size_t bufsz)
{
	struct asked *a = ctx;
	char prompt[BOUND_HOSTSPEC + 32];
	if (!a->have) {
		snprintf(prompt, sizeof prompt, "Password for %s: ", a->host);
		if (term_prompt_secret(prompt, a->pw, sizeof a->pw) < 0)
			return -1;
		a->have = true;
	}
	return snprintf(buf, bufsz, "%s", a->pw) < (int)bufsz ? 0 : -1;
}

/* Prompt for an encrypted key file's passphrase. */
static int ask_passphrase(void *ctx, const char *file, char *buf, size_t bufsz)
{
	char prompt[BOUND_PATH + 40];
	(void)ctx;
	snprintf(prompt, sizeof prompt, "Enter passphrase for key '%s': ", file);
	return term_prompt_secret(prompt, buf, bufsz) < 0 ? -1 : 0;
}

/* Is there a terminal to ask on? */
static bool have_tty(void)
{
	int tty = term_open();
	if (tty < 0)
		return false;
	close(tty);
	return true;
}

/* True if fp is "SHA256:" and the unpadded base64 of 32 bytes. */
static int valid_fingerprint(const char *fp)
{
	uint8_t raw[64];
	return strncmp(fp, "SHA256:", 7) == 0 && strlen(fp + 7) == 43 &&
	       crypto_b64_decode(fp + 7, raw, sizeof raw) == 32;
}

/* A fleet login's presentation: each host's line as it ends. */
struct login_out {
	struct cmd_ctx             *x;
	const struct fleet_hosts   *hosts;
	struct tether_fleet_result *res;
};

/* A host has ended: say so (its failure on stderr). */
static void login_done(void *ctx, size_t i)
{
	struct login_out *lo = ctx;
	const struct tether_fleet_result *r = &lo->res[i];
	const char *name = lo->hosts->v[i].name;
	if (r->err != TETHER_E_OK)
		fprintf(stderr, "tether: %s: %s\n", name, r->message);
	else if (!lo->x->json)
		printf("%s: logged in as %s (token expires %s)\n", name,
		       json_string_value(json_object_get(r->object, "user")),
		       json_string_value(json_object_get(r->object, "expires")));
	fflush(stdout);
}

/* login TARGETS: every host with the same credentials, --throttle at a
 * time over libtether's fleet engine, the password asked (at most) once; a
 * host that fails does not stop the rest. */
static int login_fleet(struct cmd_ctx *x, const struct args *a, struct tether_login_opts *o)
{
	int64_t throttle = 0;
	if (cmd_number(&cmd_login_entry, a, "throttle", 1, 4096, &throttle) != 0)
		return EXIT_USAGE;
	const struct fleet_hosts *hosts = &x->target.hosts;
	int rc = fleet_target_hosts(&cmd_login_entry, &x->target);
	if (rc != 0)
		return rc;
	size_t n = hosts->n, failed = 0;
	const char **addrs = calloc(n, sizeof *addrs);
	struct tether_fleet_result *res = calloc(n, sizeof *res);
	if (addrs == NULL || res == NULL) {
		free(addrs);
		free(res);
		fprintf(stderr, "tether: out of memory for %zu hosts\n", n);
		return EXIT_TETHER;
	}
	for (size_t i = 0; i < n; i++)
		addrs[i] = hosts->v[i].addr;
	struct login_out lo = { x, hosts, res };
	struct tether_fleet_io io = { NULL, login_done, NULL, &lo };
	struct tether_fleet_req req = { .verb = TETHER_FLEET_LOGIN, .login = o,
	                                .throttle = (int)throttle };
	tether_err e = tether_fleet_run(x->c, addrs, n, &req, &io, res);
	if (e != TETHER_E_OK) {
		rc = out_fail(x, e);
		goto out;
	}
	json_t *all = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *item = json_object();
		failed += res[i].err != TETHER_E_OK;
		if (res[i].err == TETHER_E_OK) {
			json_object_update(item, res[i].object);
			json_object_set_new(item, "error", json_null());
		} else {
			json_object_set_new(item, "error", json_pack("{s:s,s:s}", "code", res[i].code,
			                                             "message", res[i].message));
		}
		json_object_set_new(item, "host", json_string(hosts->v[i].name));
		json_array_append_new(all, item);
	}
	if (x->json)
		out_json(all);
	if (failed > 0)
		fprintf(stderr, "tether: %zu of %zu hosts failed\n", failed, n);
	json_decref(all);
	rc = failed > 0 ? 1 : 0;
out:
	tether_fleet_free(res, n);
	free(res);
	free(addrs);
	return rc;
}

static int exec_login(struct cmd_ctx *x, const struct args *a)
{
	struct tether_login_opts o = { 0 };
	o.user = args_get(a, "user");
	o.accept_new = args_has(a, "accept-new");
	o.fingerprint = args_get(a, "fingerprint");
	o.cacert = args_get(a, "cacert");
	o.cacert_default = getenv("TETHER_CACERT");   /* flags and pins beat it */
	if (o.cacert_default != NULL && o.cacert_default[0] == '\0')
		o.cacert_default = NULL;
	if (o.fingerprint && (o.accept_new || o.cacert))
		return out_usage(&cmd_login_entry, "--fingerprint excludes --accept-new and --cacert");
	if (o.fingerprint && !valid_fingerprint(o.fingerprint))
		return out_usage(&cmd_login_entry, "--fingerprint takes SHA256:... as printed by "
		                 "'tetherd fingerprint'");
	const char *host = a->argv[0];
	struct asked asked = { .host = host };
	bool tty = have_tty();
	if (o.fingerprint && x->target.fleet)
		return out_usage(&cmd_login_entry, "--fingerprint names one server's key; for "
		                 "several hosts use --accept-new, --cacert or answer per host");
	o.identity = args_get(a, "identity");
	if (args_has(a, "password-stdin")) {
		if (term_read_line(0, asked.pw, sizeof asked.pw) < 0)
			return out_usage(&cmd_login_entry, "no password line on stdin");
		o.password = asked.pw;
	} else if (tty) {
		o.get_password = ask_password;
		o.password_ctx = &asked;
	}
	if (tty)
		o.get_passphrase = ask_passphrase;
	o.confirm = confirm_key;
	if (x->target.fleet) {
		int rc = login_fleet(x, a, &o);
		crypto_wipe(asked.pw, sizeof asked.pw);
		return rc;
	}
	json_t *info = NULL;
	tether_err e = tether_login(x->c, host, &o, &info);
	crypto_wipe(asked.pw, sizeof asked.pw);
	if (e != TETHER_E_OK)
		return out_fail(x, e);
	if (x->json)
		out_json(info);
	else
		printf("logged in to %s as %s%s%s (token expires %s)\n",
		       json_string_value(json_object_get(info, "host")),
		       json_string_value(json_object_get(info, "user")),
		       json_string_value(json_object_get(info, "key"))[0] ? " with key " : "",
		       json_string_value(json_object_get(info, "key")),
		       json_string_value(json_object_get(info, "expires")));
	json_decref(info);
	return 0;
}
