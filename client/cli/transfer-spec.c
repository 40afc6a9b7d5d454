/*
 * transfer-spec.c - transfer start's create requests, built from its
 * arguments or a --csv file. Everything checkable is checked here, before a
 * job exists: each source and destination against the direction by the
 * rules the daemon applies too (common/xferplan.h), names, credentials,
 * proxy lists, a CA file. The request common to every job of one start
 * holds the password; it is wiped before it is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "bounds.h"
#include "cmd-transfer.h"
#include "crypto.h"
#include "term.h"
#include "transfer-util.h"
#include "xferplan.h"

#define LIST_ITEMS_MAX   32u         /* --proxy-list / --proxy-bypass entries */

/* Put the options start and set share into a request body. */
void transfer_put_tunables(json_t *body, const struct transfer_opts *o)
{
	if (o->priority != NULL)
		json_object_set_new(body, "priority", json_string(o->priority));
	if (o->max_rate >= 0)
		json_object_set_new(body, "max_rate", json_integer(o->max_rate));
	if (o->retry_delay >= 0)
		json_object_set_new(body, "retry_delay", json_integer(o->retry_delay));
	if (o->no_progress_timeout >= 0)
		json_object_set_new(body, "no_progress_timeout", json_integer(o->no_progress_timeout));
}

/* Read a whole small file (regular, at most max bytes) into a malloc'd
 * NUL-terminated buffer; NULL with the reason in why. Symlinks are fine
 * here (CA bundles usually are one), unlike for tether's own state files. */
static char *read_small_file(const char *path, size_t max, size_t *lenp, char *why,
                             size_t whysz)
{
	struct stat st;
	const char *bad = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		bad = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		bad = "not a regular file";
	else if ((uint64_t)st.st_size > max)
		bad = "file too large";
	char *data = bad ? NULL : malloc(max + 1);
	size_t n = 0;
	if (bad == NULL && data == NULL)
		bad = "out of memory";
	while (bad == NULL && n <= max) {   /* to max + 1: a file that grew is too large */
		ssize_t r = read(fd, data + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			bad = strerror(errno);
		else if (r == 0)
			break;
		n += r > 0 ? (size_t)r : 0;
	}
	if (bad == NULL && n > max)
		bad = "file too large";
	if (fd >= 0)
		close(fd);
	if (bad != NULL) {
		snprintf(why, whysz, "cannot read %s: %s", path, bad);
		free(data);
		return NULL;
	}
	data[n] = '\0';
	*lenp = n;
	return data;
}

/* Split "a,b, c" into a JSON array of trimmed, non-empty items; NULL with
 * the reason in why. */
static json_t *split_list(const char *text, char *why, size_t whysz)
{
	json_t *arr = json_array();
	const char *p = text;
	for (;;) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		json_t *item = e > s ? json_stringn(s, (size_t)(e - s)) : NULL;
		if (item == NULL || json_array_size(arr) >= LIST_ITEMS_MAX ||
		    json_array_append_new(arr, item) != 0) {
			snprintf(why, whysz, "%s", item == NULL ? "an empty (or non-UTF-8) item"
			                                        : "too many items");
			json_decref(item);
			json_decref(arr);
			return NULL;
		}
		if (p[n] == '\0')
			return arr;
		p += n + 1;
	}
}

/* Check one source or destination against the direction, by the rules
 * the daemon applies too (common/xferplan.h); NULL if fine, else the
 * reason. */
static const char *bad_location(const char *s, int upload, int is_destination)
{
	static char why[TRANSFER_FIELD_MAX + 160];
	int url = xferplan_is_url(s);
	if (s[0] == '\0')
		return "an empty source or destination";
	if (url && xferplan_has_wildcard(s))
		return "wildcards (* ? [) are not allowed in a URL";
	if (is_destination && xferplan_has_wildcard(s))
		return "wildcards (* ? [) are not allowed in the destination";
	if (upload && is_destination && !url)
		return "with --upload the destination must be a URL";
	if (upload && !is_destination && url)
		return "with --upload the sources are paths on the session's host, not URLs";
	if (!upload && is_destination && url)
		return "the destination of a download is a path on the session's host, not a "
		       "URL (use --upload to send files to a URL)";
	if (url && xferplan_check_url(s, upload && is_destination, why, sizeof why) != 0)
		return why;
	return NULL;
}

/* Where the job specs ({"sources", "destination"[, "name"]}) are gathered. */
struct specs {
	json_t     *arr;
	const char *name;     /* --name: a prefix with --csv */
	int         upload;
};

/* Add one job spec; 0, or -1 with the reason in why. */
static int add_spec(struct specs *sp, const char *const *sources, int nsources,
                    const char *destination, char *why, size_t whysz)
{
	const char *bad = bad_location(destination, sp->upload, 1), *where = destination;
	json_t *spec = json_object(), *srcs = json_array(), *dst = json_string(destination);
	for (int i = 0; bad == NULL && i < nsources; i++) {
		where = sources[i];
		bad = bad_location(where, sp->upload, 0);
		if (bad == NULL && json_array_append_new(srcs, json_string(where)) != 0)
			bad = "not valid UTF-8 text";
	}
	if (bad == NULL && dst == NULL) {
		where = destination;
		bad = "not valid UTF-8 text";
	}
	if (bad != NULL) {
		snprintf(why, whysz, "%s: %s", bad, where);
		json_decref(dst);
		json_decref(srcs);
		json_decref(spec);
		return -1;
	}
	json_object_set_new(spec, "sources", srcs);
	json_object_set_new(spec, "destination", dst);
	json_array_append_new(sp->arr, spec);
	return 0;
}

/* transfer_csv_parse callback: one row, one job. */
static int csv_row(void *ctx, unsigned line, const char *source, const char *destination,
                   char *why, size_t whysz)
{
	char reason[TRANSFER_FIELD_MAX + 160];
	const char *sources[1] = { source };
	if (add_spec(ctx, sources, 1, destination, reason, sizeof reason) == 0)
		return 0;
	snprintf(why, whysz, "line %u: %s", line, reason);
	return -1;
}

/* Name the specs: NAME alone, or NAME-1, NAME-2, ... for a --csv batch;
 * 0, or -1 with the reason in why. */
static int name_specs(struct specs *sp, int csv, char *why, size_t whysz)
{
	size_t i;
	json_t *spec;
	if (sp->name == NULL)
		return 0;
	json_array_foreach(sp->arr, i, spec) {
		char name[BOUND_NAME + 16];
		if (csv)
			snprintf(name, sizeof name, "%s-%zu", sp->name, i + 1);
		else
			snprintf(name, sizeof name, "%s", sp->name);
		if (!addr_valid_name(name)) {
			snprintf(why, whysz, "invalid name '%s': a letter, then letters, digits, "
			         "'.', '_' or '-', at most %u characters", name, BOUND_NAME);
			return -1;
		}
		json_object_set_new(spec, "name", json_string(name));
	}
	return 0;
}

/* Gather the job specs from the arguments or the --csv file into sp; 0, or
 * EXIT_USAGE after a usage message. */
static int gather_specs(const struct transfer_opts *o, const struct args *a, struct specs *sp)
{
	const struct cmd_entry *ce = &cmd_transfer_start_entry;
	char why[TRANSFER_FIELD_MAX + 256];
	sp->arr = json_array();
	sp->name = o->name;
	sp->upload = o->upload;
	if (o->csv != NULL) {
		size_t len = 0;
		if (a->argc > 0)
			return out_usage(ce, "no SOURCE or DESTINATION arguments with --csv "
			                 "(got %s)", a->argv[0]);
		char *text = read_small_file(o->csv, TRANSFER_CSV_MAX, &len, why, sizeof why);
		if (text == NULL)
			return out_usage(ce, "--csv: %s", why);
		int n = transfer_csv_parse(text, len, csv_row, sp, why, sizeof why);
		free(text);
		if (n < 0)
			return out_usage(ce, "--csv %s, %s", o->csv, why);
		if (n == 0)
			return out_usage(ce, "%s has no Source, Destination rows", o->csv);
	} else {
		if (a->argc < 2)
			return out_usage(ce, "expected SOURCE... DESTINATION (or --csv FILE)");
		if (o->sha256 && a->argc > 2)
			return out_usage(ce, "--sha256 goes with a single SOURCE");
		if (add_spec(sp, (const char *const *)a->argv, a->argc - 1, a->argv[a->argc - 1],
		             why, sizeof why) != 0)
			return out_usage(ce, "%s", why);
	}
	if (name_specs(sp, o->csv != NULL, why, sizeof why) != 0)
		return out_usage(ce, "%s", why);
	return 0;
}

/* The password for --user: stdin's first line, or asked on the terminal;
 * 0, or EXIT_USAGE after a usage message. */
int transfer_get_password(const struct transfer_opts *o, char *pw, size_t pwsz)
{
	const struct cmd_entry *ce = &cmd_transfer_start_entry;
	if (o->password_stdin) {
		if (term_read_line(0, pw, pwsz) < 0)
			return out_usage(ce, "--password-stdin: no password line on stdin");
		return 0;
	}
	int tty = term_open();
	if (tty < 0)
		return out_usage(ce, "--user needs a password: no terminal to ask on, so give "
		                 "--password-stdin");
	close(tty);
	char prompt[BOUND_NAME + 64];
	snprintf(prompt, sizeof prompt, "Password for %.*s on the remote web server: ",
	         (int)BOUND_NAME, o->user);
	if (term_prompt_secret(prompt, pw, pwsz) < 0)
		return out_usage(ce, "no password given");
	return 0;
}

/* The password for --proxy-user (see cmd-transfer.h). */
int transfer_get_proxy_password(const struct transfer_opts *o, char *pw, size_t pwsz)
{
	const struct cmd_entry *ce = &cmd_transfer_start_entry;
	if (o->password_stdin || isatty(0) != 1) {
		if (term_read_line(0, pw, pwsz) < 0)
			return out_usage(ce, "--proxy-user: no password line on stdin%s",
			                 o->user && o->password_stdin ? " (after --user's)" : "");
		return 0;
	}
	char prompt[BOUND_NAME + 64];
	snprintf(prompt, sizeof prompt, "Password for %.*s on the proxy: ", (int)BOUND_NAME,
	         o->proxy_user);
	if (term_prompt_secret(prompt, pw, pwsz) < 0)
		return out_usage(ce, "no proxy password given");
	return 0;
}

/* The create request common to every job of this start (all but sources,
 * destination, name); NULL after a usage message. pw and ppw hold the
 * passwords (if any) and must outlive the request. */
json_t *transfer_base_request(const struct transfer_opts *o, const char *pw, const char *ppw)
{
	const struct cmd_entry *ce = &cmd_transfer_start_entry;
	char why[200];
	json_t *req = json_pack("{s:s, s:b}", "direction", o->upload ? "upload" : "download",
	                        "suspended", o->suspended);
	transfer_put_tunables(req, o);
	if (o->priority == NULL)   /* Start-BitsTransfer's defaults */
		json_object_set_new(req, "priority", json_string(o->async ? "normal" : "foreground"));
	if (o->user != NULL) {
		json_t *cred = json_pack("{s:s?, s:s?}", "user", o->user, "password", pw);
		if (cred == NULL) {
			json_decref(req);
			out_usage(ce, "--user and its password must be UTF-8 text");
			return NULL;
		}
		if (o->auth != NULL)
			json_object_set_new(cred, "auth", json_string(o->auth));
		json_object_set_new(req, "credentials", cred);
	}
	if (o->proxy_usage || o->proxy_list || o->proxy_bypass || o->proxy_user) {
		json_t *proxy = json_pack("{s:s}", "usage", o->proxy_usage ? o->proxy_usage
		                          : o->proxy_list || o->proxy_bypass ? "override" : "system");
		if (o->proxy_user != NULL &&
		    (json_object_set_new(proxy, "user", json_string(o->proxy_user)) != 0 ||
		     json_object_set_new(proxy, "password", json_string(ppw ? ppw : "")) != 0)) {
			json_decref(proxy);
			json_decref(req);
			out_usage(ce, "--proxy-user and its password must be UTF-8 text");
			return NULL;
		}
		const char *lists[2][2] = { { "list", o->proxy_list }, { "bypass", o->proxy_bypass } };
		for (int i = 0; i < 2; i++) {
			if (lists[i][1] == NULL)
				continue;
			json_t *arr = split_list(lists[i][1], why, sizeof why);
			if (arr == NULL) {
				json_decref(proxy);
				json_decref(req);
				out_usage(ce, "--proxy-%s: %s", lists[i][0], why);
				return NULL;
			}
			json_object_set_new(proxy, lists[i][0], arr);
		}
		json_object_set_new(req, "proxy", proxy);
	}
	if (o->sha256 != NULL) {
		char hex[65];
		for (int i = 0; i < 64; i++)
			hex[i] = (char)(o->sha256[i] | 0x20);   /* lower case: digits are unchanged */
		hex[64] = '\0';
		json_object_set_new(req, "sha256", json_string(hex));
	}
	if (o->notify_cmd != NULL) {
		json_t *cmd = json_string(o->notify_cmd);
		if (cmd == NULL) {
			json_decref(req);
			out_usage(ce, "--notify-cmd must be UTF-8 text");
			return NULL;
		}
		json_object_set_new(req, "notify_cmd", cmd);
	}
	if (o->insecure)
		json_object_set_new(req, "insecure", json_true());
	if (o->cacert != NULL) {
		size_t len = 0;
		char *pem = read_small_file(o->cacert, TRANSFER_CACERT_MAX, &len, why, sizeof why);
		json_t *text = pem ? json_stringn(pem, len) : NULL;
		free(pem);
		if (text == NULL || strstr(json_string_value(text), "-----BEGIN CERTIFICATE-----")
		                    == NULL) {
			json_decref(text);
			json_decref(req);
			out_usage(ce, "--cacert: %s", pem ? "not a PEM certificate file" : why);
			return NULL;
		}
		json_object_set_new(req, "cacert", text);
	}
	return req;
}

/* Zero the password inside a request before it is freed: jansson frees
 * strings without clearing them, and this one is the user's secret. */
void transfer_wipe_request(json_t *req)
{
	static const char *const holders[] = { "credentials", "proxy" };
	for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++) {
		json_t *pw = json_object_get(json_object_get(req, holders[i]), "password");
		if (json_is_string(pw))
			crypto_wipe((char *)json_string_value(pw), json_string_length(pw));
	}
}

/* Gather the job specs (see cmd-transfer.h). */
int transfer_gather_specs(const struct transfer_opts *o, const struct args *a,
                          json_t **specs)
{
	struct specs sp = { 0 };
	int rc = gather_specs(o, a, &sp);
	*specs = sp.arr;
	return rc;
}
