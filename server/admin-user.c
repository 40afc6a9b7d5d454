/*
 * admin-user.c - "tetherd user add|list|remove|passwd": account management
 * run by the administrator directly against the state dir.
 *
 * These commands work whether or not the daemon is running (sqlite WAL lets
 * both write). Passwords are read with echo off on a terminal or from stdin
 * with --password-stdin, never from argv.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "crypto.h"
#include "jobs.h"
#include "session.h"
#include "jsonu.h"
#include "spool.h"
#include "statedir.h"
#include "pwhash.h"
#include "store.h"
#include "sysacct.h"
#include "term.h"
#include "tetherd-cli.h"
#include "timeu.h"

#define PASSWORD_MIN 8

static const char usage[] =
	"usage: tetherd user add NAME [--password-stdin] [--admin] [--os-user NAME]\n"
	"       tetherd user list [--json]\n"
	"       tetherd user remove NAME     (stops and removes their sessions first)\n"
	"       tetherd user passwd NAME [--password-stdin]\n"
	"       tetherd user key add NAME [FILE] | key list NAME | key remove NAME SHA256:...\n"
	"(all take --state-dir DIR and --config FILE)\n";

/* Tell the administrator when a new user's jobs will be refused because
 * the account of the same name is not a login account (a root daemon only
 * maps those by name; see docs/security.md). */
static void warn_default_mapping(const char *name)
{
	struct passwd *pw = getpwnam(name);
	char why[256];
	if (geteuid() != 0)
		return;
	if (pw == NULL)
		fprintf(stderr, "tetherd: note: there is no OS account '%s'; until one exists, "
		        "or the user is added with --os-user ACCOUNT, their jobs are refused\n", name);
	else if (pw->pw_uid == 0 || !sysacct_default_ok(pw, why, sizeof why))
		fprintf(stderr, "tetherd: note: %s; their jobs are refused unless the user is "
		        "added with --os-user ACCOUNT\n",
		        pw->pw_uid == 0 ? "OS account 'root' is never used" : why);
}

/* Read a new password from stdin or, twice, from the terminal. */
static int read_new_password(int from_stdin, char *pw, size_t pwsz)
{
	if (from_stdin) {
		if (term_read_line(0, pw, pwsz) < 0) {
			fprintf(stderr, "tetherd: cannot read a password line from stdin\n");
			return -1;
		}
	} else {
		char again[BOUND_PASSWORD + 2];
		if (term_prompt_secret("New password: ", pw, pwsz) < 0) {
			fprintf(stderr, "tetherd: no terminal to ask for a password; "
			        "use --password-stdin\n");
			return -1;
		}
		long n = term_prompt_secret("Retype password: ", again, sizeof again);
		int same = n >= 0 && strcmp(pw, again) == 0;
		crypto_wipe(again, sizeof again);
		if (!same) {
			fprintf(stderr, "tetherd: passwords do not match\n");
			return -1;
		}
	}
	if (strlen(pw) < PASSWORD_MIN) {
		fprintf(stderr, "tetherd: password too short (at least %d characters)\n",
		        PASSWORD_MIN);
		return -1;
	}
	return 0;
}

/* Hash a freshly read password into out. */
static int new_hash(int from_stdin, char *out, size_t outsz)
{
	char pw[BOUND_PASSWORD + 2];
	int rc = read_new_password(from_stdin, pw, sizeof pw);
	if (rc == 0 && pwhash_make(pw, out, outsz) != 0) {
		fprintf(stderr, "tetherd: cannot hash the password\n");
		rc = -1;
	}
	crypto_wipe(pw, sizeof pw);
	return rc;
}

/* Print one user (list callback). */
static void print_user(void *ctx, const struct user_rec *u)
{
	json_t *arr = ctx;
	char created[TIMEU_RFC3339_LEN];
	timeu_rfc3339(u->created, created);
	if (arr != NULL)
		json_array_append_new(arr, json_pack("{s:s,s:b,s:s,s:s}", "name", u->name,
		                      "admin", u->admin, "os_user", u->os_user,
		                      "created", created));
	else
		printf("%-20s %-5s %-16s %s\n", u->name, u->admin ? "yes" : "no",
		       u->os_user[0] ? u->os_user : "-", created);
}

/* Parse the flags after "user VERB [NAME]". */
struct user_opts {
	int         password_stdin, admin;
	const char *os_user;
};

static int parse_opts(int argc, char **argv, int first, struct user_opts *o)
{
	memset(o, 0, sizeof *o);
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0)
			o->password_stdin = 1;
		else if (strcmp(argv[i], "--admin") == 0)
			o->admin = 1;
		else if (strcmp(argv[i], "--os-user") == 0 && i + 1 < argc)
			o->os_user = argv[++i];
		else {
			fprintf(stderr, "tetherd: unexpected argument '%s'\n%s", argv[i], usage);
			return -1;
		}
	}
	return 0;
}

#define REMOVE_WAIT_MS (10 * 60 * 1000)   /* stop_grace per job, jobs one by one */

/* Say what a removal stopped and that it is done. */
static void removed(const char *name, int64_t sessions)
{
	if (sessions > 0)
		printf("stopped the work of %lld session%s of %s\n", (long long)sessions,
		       sessions == 1 ? "" : "s", name);
	printf("removed user %s\n", name);
}

/* Remove u and their work here, holding the state dir's lock (so no
 * daemon serves meanwhile); 0 or -1. */
static int remove_here(const struct srvconf *c, struct store *st, const struct user_rec *u)
{
	struct server srv = { .conf = *c, .store = st };
	size_t n = 0;
	bool done;
	int64_t ignored;
	if (spool_init(c->state_dir) == 0)   /* the paths; no settling of others' jobs */
		session_remove_user(&srv, u->id, &n);
	if (store_user_remove(st, u->name) != TETHER_E_OK)
		return -1;
	store_audit(st, "user_remove", u->name, "local", "");
	/* a request a daemon left undone (it stopped meanwhile) is done now */
	if (store_user_removal_finish(st, u->name, (int64_t)n) == TETHER_E_OK)
		store_user_removal_result(st, u->name, &done, &ignored);
	removed(u->name, (int64_t)n);
	return 0;
}

/* Remove a user and their work (jobs and transfer workers run detached
 * and would otherwise run on as the account, with nothing left that could
 * see or stop them). With no daemon serving, here (remove_here); beside a
 * serving daemon, by asking it (its engines are the only ones that may act
 * on its jobs) and waiting for it to finish, or taking over if it stops
 * first. Returns the exit status. */
static int remove_user(const struct srvconf *c, struct store *st, const char *name)
{
	struct user_rec u;
	tether_err e = store_user_get(st, name, &u, NULL, 0);
	if (e == TETHER_E_NOT_FOUND) {
		fprintf(stderr, "tetherd: no user '%s'\n", name);
		return 1;
	}
	bool asked = false, done = false;
	int64_t sessions = 0;
	for (int waited = 0; e == TETHER_E_OK; waited += 100) {
		if (asked && store_user_removal_result(st, name, &done, &sessions) == TETHER_E_OK &&
		    done) {
			removed(name, sessions);
			return 0;
		}
		int lock = statedir_lock(c->state_dir);
		if (lock >= 0) {
			int rc = remove_here(c, st, &u);
			close(lock);
			if (rc == 0)
				return 0;
			e = TETHER_E_INTERNAL;
			break;
		}
		if (errno != EWOULDBLOCK) {
			fprintf(stderr, "tetherd: cannot remove user '%s': %s\n", name, strerror(errno));
			return 1;
		}
		if (!asked) {
			e = store_user_removal_request(st, name);
			asked = true;
			continue;
		}
		if (waited >= REMOVE_WAIT_MS) {
			printf("%s can no longer log in; the running tetherd is still stopping their "
			       "work and removes the user when it is done\n", name);
			return 0;
		}
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (e == TETHER_E_NOT_FOUND)
		fprintf(stderr, "tetherd: no user '%s'\n", name);
	else
		fprintf(stderr, "tetherd: cannot remove user '%s'\n", name);
	return 1;
}

/* Entry point for "tetherd user ...". */
int admin_user_main(const struct srvconf *c, int argc, char **argv, int json)
{
	struct user_opts o;
	const char *verb = argc > 0 ? argv[0] : "";
	int needs_name = strcmp(verb, "list") != 0;
	if (strcmp(verb, "key") == 0)
		return admin_key_main(c, argc - 1, argv + 1, json);
	if (argc < 1 || (strcmp(verb, "add") && strcmp(verb, "list") &&
	                 strcmp(verb, "remove") && strcmp(verb, "passwd"))) {
		fputs(usage, stderr);
		return 2;
	}
	if (needs_name && (argc < 2 || argv[1][0] == '-')) {
		fprintf(stderr, "tetherd: user %s needs a NAME\n%s", verb, usage);
		return 2;
	}
	const char *name = needs_name ? argv[1] : NULL;
	if (parse_opts(argc, argv, needs_name ? 2 : 1, &o) != 0)
		return 2;
	if (name != NULL && !addr_valid_name(name)) {
		fprintf(stderr, "tetherd: invalid user name '%s': use a letter, then letters, "
		        "digits, '.', '_' or '-' (at most %u)\n", name, BOUND_NAME);
		return 2;
	}
	if (o.os_user != NULL && getpwnam(o.os_user) == NULL) {
		fprintf(stderr, "tetherd: no OS account named '%s'\n", o.os_user);
		return 1;
	}
	struct store *st;
	if (statedir_open_store(c, &st) != 0)
		return 1;
	int rc = 1;
	char hash[CRYPTO_PWHASH_MAX];
	tether_err e;
	if (strcmp(verb, "list") == 0) {
		json_t *arr = json ? json_array() : NULL;
		if (!json)
			printf("%-20s %-5s %-16s %s\n", "NAME", "ADMIN", "OS_USER", "CREATED");
		e = store_user_list(st, print_user, arr);
		if (json) {
			json_t *doc = json_pack("{s:o}", "users", arr);
			json_dumpf(doc, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(doc);
		}
		rc = e == TETHER_E_OK ? 0 : 1;
	} else if (strcmp(verb, "add") == 0) {
		if (new_hash(o.password_stdin, hash, sizeof hash) != 0)
			goto out;
		e = store_user_add(st, name, hash, o.admin, o.os_user);
		if (e == TETHER_E_CONFLICT)
			fprintf(stderr, "tetherd: user '%s' already exists\n", name);
		else if (e == TETHER_E_OK) {
			store_audit(st, "user_add", name, "local", o.admin ? "admin" : "");
			printf("added user %s\n", name);
			if (o.os_user == NULL)
				warn_default_mapping(name);
			rc = 0;
		}
	} else if (strcmp(verb, "remove") == 0) {
		rc = remove_user(c, st, name);
	} else {
		struct user_rec u;
		if (store_user_get(st, name, &u, NULL, 0) != TETHER_E_OK) {
			fprintf(stderr, "tetherd: no user '%s'\n", name);
			goto out;
		}
		if (new_hash(o.password_stdin, hash, sizeof hash) != 0)
			goto out;
		e = store_user_set_password(st, name, hash);
		if (e == TETHER_E_OK) {
			store_audit(st, "user_passwd", name, "local", "");
			printf("password changed for %s; their tokens are revoked\n", name);
			rc = 0;
		}
	}
out:
	store_close(st);
	return rc;
}
