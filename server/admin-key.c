/*
 * admin-key.c - "tetherd user key add|list|remove": the public keys a user
 * logs in with (docs/authentication.md).
 *
 * `key add` takes OpenSSH public key lines (a .pub file, or several lines
 * of one) from FILE or stdin; it adds all of them or, if any line is
 * malformed, unsupported or carries options, none. Removing a key stops
 * new logins with it; tokens already issued live out their time (revoke
 * them with `tetherd user passwd`).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "sshkey.h"
#include "statedir.h"
#include "store.h"
#include "tetherd-cli.h"
#include "timeu.h"

#define KEYS_INPUT_MAX (1024 * 1024)
#define KEYS_ADD_MAX   256

static const char usage[] =
	"usage: tetherd user key add NAME [FILE]    (OpenSSH public key lines; stdin if no FILE)\n"
	"       tetherd user key list NAME [--json]\n"
	"       tetherd user key remove NAME SHA256:...\n"
	"(all take --state-dir DIR and --config FILE)\n";

/* The whole of FILE, or of stdin for NULL or "-". */
static char *read_input(const char *file, size_t *len)
{
	if (file != NULL && strcmp(file, "-") != 0)
		return fileio_read(file, KEYS_INPUT_MAX, len);
	return fileio_read_fd(0, KEYS_INPUT_MAX, len);
}

/* Parse every line of text into keys[]; 0, or -1 after saying what is wrong. */
static int parse_keys(const char *text, size_t len, const char *from, struct sshkey **keys,
                      char comments[][SSHKEY_COMMENT_MAX], int *n)
{
	const char *p = text, *end = text + len;
	*n = 0;
	for (int line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char why[160];
		if (*n == KEYS_ADD_MAX) {
			fprintf(stderr, "tetherd: %s: more than %d keys\n", from, KEYS_ADD_MAX);
			return -1;
		}
		int rc = l < SSHKEY_LINE_MAX
			? sshkey_parse_line(p, l, &keys[*n], comments[*n], SSHKEY_COMMENT_MAX,
			                    why, sizeof why)
			: (snprintf(why, sizeof why, "line too long"), -1);
		if (rc == 1)
			(*n)++;
		else if (rc < 0) {
			fprintf(stderr, "tetherd: %s line %d: %s%s; no key added\n", from, line, why,
			        rc == -2 ? " (tether does not honour key options: give the bare key)"
			                 : "");
			return -1;
		}
		p += l + 1;
	}
	if (*n == 0) {
		fprintf(stderr, "tetherd: %s: no public key found\n", from);
		return -1;
	}
	return 0;
}

/* key add NAME [FILE] */
static int key_add(struct store *st, const struct user_rec *u, const char *file)
{
	static struct sshkey *keys[KEYS_ADD_MAX];
	static char comments[KEYS_ADD_MAX][SSHKEY_COMMENT_MAX];
	const char *from = file && strcmp(file, "-") ? file : "stdin";
	size_t len = 0;
	char *text = read_input(file, &len);
	if (text == NULL) {
		perror(from);
		return 1;
	}
	int n = 0, rc = 0;
	bool ok = parse_keys(text, len, from, keys, comments, &n) == 0;
	free(text);
	for (int i = 0; !ok && i < n; i++)
		sshkey_free(keys[i]);
	if (!ok)
		return 1;
	for (int i = 0; i < n; i++) {
		struct key_rec k = { .bits = sshkey_bits(keys[i]), .added = timeu_now() };
		size_t bloblen;
		const unsigned char *blob = sshkey_blob(keys[i], &bloblen);
		snprintf(k.type, sizeof k.type, "%s", sshkey_type(keys[i]));
		snprintf(k.comment, sizeof k.comment, "%.*s", (int)sizeof k.comment - 1, comments[i]);
		sshkey_fingerprint(keys[i], k.fingerprint);
		tether_err e = store_key_add(st, u->id, &k, blob, bloblen);
		if (e == TETHER_E_OK) {
			store_audit(st, "key_add", u->name, "local", k.fingerprint);
			printf("added %s %s%s%s for %s\n", k.type, k.fingerprint,
			       k.comment[0] ? " " : "", k.comment, u->name);
		} else if (e == TETHER_E_CONFLICT) {
			printf("%s already has %s\n", u->name, k.fingerprint);
		} else {
			fprintf(stderr, "tetherd: cannot add %s\n", k.fingerprint);
			rc = 1;
		}
		sshkey_free(keys[i]);
	}
	return rc;
}

/* Print one key (list callback). */
static void print_key(void *ctx, const struct key_rec *k)
{
	json_t *arr = ctx;
	char added[TIMEU_RFC3339_LEN];
	timeu_rfc3339(k->added, added);
	if (arr != NULL)
		json_array_append_new(arr, json_pack("{s:s,s:i,s:s,s:s,s:s}", "type", k->type,
		                      "bits", k->bits, "fingerprint", k->fingerprint,
		                      "comment", k->comment, "added", added));
	else
		printf("%-20s %5d %-51s %-20s %s\n", k->type, k->bits, k->fingerprint, added,
		       k->comment);
}

/* key list NAME */
static int key_list(struct store *st, const struct user_rec *u, int json)
{
	json_t *arr = json ? json_array() : NULL;
	if (!json)
		printf("%-20s %5s %-51s %-20s %s\n", "TYPE", "BITS", "FINGERPRINT", "ADDED",
		       "COMMENT");
	tether_err e = store_key_list(st, u->id, print_key, arr);
	if (json) {
		json_t *doc = json_pack("{s:s,s:o}", "user", u->name, "keys", arr);
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(doc);
	}
	return e == TETHER_E_OK ? 0 : 1;
}

/* key remove NAME SHA256:... */
static int key_remove(struct store *st, const struct user_rec *u, const char *fp)
{
	if (strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) >= SSHKEY_FP_LEN) {
		fprintf(stderr, "tetherd: expected a fingerprint SHA256:... as `key list` shows "
		        "it, not '%.80s'\n", fp);
		return 2;
	}
	tether_err e = store_key_remove(st, u->id, fp);
	if (e == TETHER_E_NOT_FOUND) {
		fprintf(stderr, "tetherd: %s has no key %s\n", u->name, fp);
		return 1;
	}
	if (e != TETHER_E_OK) {
		fprintf(stderr, "tetherd: cannot remove %s\n", fp);
		return 1;
	}
	store_audit(st, "key_remove", u->name, "local", fp);
	printf("removed %s from %s; new logins with it are refused\n", fp, u->name);
	return 0;
}

/* See tetherd-cli.h. */
int admin_key_main(const struct srvconf *c, int argc, char **argv, int json)
{
	const char *verb = argc > 0 ? argv[0] : "";
	bool add = !strcmp(verb, "add"), list = !strcmp(verb, "list"),
	     rm = !strcmp(verb, "remove");
	if ((!add && !list && !rm) || argc < 2 || argv[1][0] == '-' ||
	    (add && argc > 3) || (list && argc > 2) || (rm && argc != 3)) {
		fputs(usage, stderr);
		return 2;
	}
	struct store *st;
	if (statedir_open_store(c, &st) != 0)
		return 1;
	struct user_rec u;
	int rc = 1;
	if (store_user_get(st, argv[1], &u, NULL, 0) != TETHER_E_OK)
		fprintf(stderr, "tetherd: no user '%s'\n", argv[1]);
	else if (add)
		rc = key_add(st, &u, argc > 2 ? argv[2] : NULL);
	else if (list)
		rc = key_list(st, &u, json);
	else
		rc = key_remove(st, &u, argv[2]);
	store_close(st);
	return rc;
}
