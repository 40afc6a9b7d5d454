/*
 * cmd-login.c - tether login HOST: trust the server's key, get a token.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "cmd.h"
#include "crypto.h"
#include "term.h"

static int exec_login(struct cmd_ctx *x, int argc, char **argv);

const struct cmd_entry cmd_login_entry = {
	"login", "HOST [--user U] [--password-stdin] [--accept-new | --fingerprint SHA256:...] "
	"[--cacert FILE]",
	"log in to a tetherd and remember its key and a token",
	"  --user U            log in as U (default: USER@ in HOST, else $USER)\n"
	"  --password-stdin    read the password from the first line of stdin\n"
	"  --accept-new        pin the server key on first contact without asking\n"
	"  --fingerprint FP    require the server key to have fingerprint FP\n"
	"                      (see 'tetherd fingerprint' on the server)\n"
	"  --cacert FILE       verify the server certificate against this CA instead\n"
	"A key that differs from the pinned one is refused (exit 255).\n",
	exec_login,
};

/* Ask on the terminal whether to trust an unknown key (ssh's question). */
static int confirm_key(void *ctx, const char *host, const char *fp)
{
	char answer[16];
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
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

/* Prompt for the password, once the server's key is trusted. */
static int ask_password(void *ctx, char *buf, size_t bufsz)
{
	char prompt[BOUND_HOSTSPEC + 32];
	snprintf(prompt, sizeof prompt, "Password for %s: ", (const char *)ctx);
	return term_prompt_secret(prompt, buf, bufsz) < 0 ? -1 : 0;
}

/* True if fp is "SHA256:" and the unpadded base64 of 32 bytes. */
static int valid_fingerprint(const char *fp)
{
	uint8_t raw[64];
	return strncmp(fp, "SHA256:", 7) == 0 && strlen(fp + 7) == 43 &&
	       crypto_b64_decode(fp + 7, raw, sizeof raw) == 32;
}

static int exec_login(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "password-stdin", no_argument, NULL, 'P' },
		{ "accept-new", no_argument, NULL, 'A' },
		{ "fingerprint", required_argument, NULL, 'F' },
		{ "cacert", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct tether_login_opts o = { 0 };
	int from_stdin = 0, ch;
	while ((ch = cmd_getopt(&cmd_login_entry, argc, argv, "", longopts)) != -1) {
		switch (ch) {
		case 'u': o.user = optarg; break;
		case 'P': from_stdin = 1; break;
		case 'A': o.accept_new = 1; break;
		case 'F': o.fingerprint = optarg; break;
		case 'C': o.cacert = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return out_usage(&cmd_login_entry, "expected exactly one HOST");
	if (o.fingerprint && (o.accept_new || o.cacert))
		return out_usage(&cmd_login_entry, "--fingerprint excludes --accept-new and --cacert");
	if (o.fingerprint && !valid_fingerprint(o.fingerprint))
		return out_usage(&cmd_login_entry, "--fingerprint takes SHA256:... as printed by "
		                 "'tetherd fingerprint'");
	const char *host = argv[optind];
	char pw[BOUND_PASSWORD + 2];
	if (from_stdin) {
		if (term_read_line(0, pw, sizeof pw) < 0)
			return out_usage(&cmd_login_entry, "no password line on stdin");
		o.password = pw;
	} else {
		int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (tty < 0)
			return out_usage(&cmd_login_entry, "no terminal to ask for a password; "
			                 "use --password-stdin");
		close(tty);
		o.get_password = ask_password;
		o.password_ctx = (void *)host;
	}
	o.confirm = confirm_key;
	json_t *info = NULL;
	tether_err e = tether_login(x->c, host, &o, &info);
	crypto_wipe(pw, sizeof pw);
	if (e != TETHER_E_OK)
		return out_fail(x, e);
	if (x->json)
		out_json(info);
	else
		printf("logged in to %s as %s (token expires %s)\n",
		       json_string_value(json_object_get(info, "host")),
		       json_string_value(json_object_get(info, "user")),
		       json_string_value(json_object_get(info, "expires")));
	json_decref(info);
	return 0;
}
