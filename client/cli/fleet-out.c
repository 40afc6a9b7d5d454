/*
 * fleet-out.c - a verb on several targets, as the user sees it
 * (docs/fleet.md): output lines prefixed "HOST: " and never torn, or
 * gathered (identical outputs once, under the nodeset of their hosts, like
 * clush -b), or one JSON array of per-host objects; a live status line on a
 * terminal; a per-host summary of what failed. The fan-out itself is
 * libtether's (tether_fleet_run); this file only presents it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "cmd.h"
#include "fileio.h"
#include "targets.h"
#include "timeu.h"

#define FLEET_LINE_MAX    (64u * 1024)         /* an unfinished line is cut here */
#define FLEET_COLLECT_MAX (4u * 1024 * 1024)   /* per host, for --gather and --json */
#define FLEET_SLOWEST     3                    /* hosts named on the status line */

struct hostio {
	struct host_lines lines;    /* printed by whole lines */
	struct buf        all[2];   /* everything (--gather: stdout; --json: both) */
	bool              truncated;
};

struct fleet_out {
	struct cmd_ctx               *x;
	const struct fleet_hosts     *hosts;
	struct tether_fleet_result   *res;
	struct hostio                *io;
	enum fleet_mode               mode;
	bool                          streams;   /* the verb has output */
	bool                          status;    /* a live line on stderr */
	bool                          shown;     /* it is on the screen now */
};

/* Take the status line off the screen before other output. */
static void status_clear(struct fleet_out *fo)
{
	if (fo->shown) {
		fileio_write_all(2, "\r\033[K", 4);
		fo->shown = false;
	}
}

/* Write one whole line to fd, after the prefix (if any). */
static int put_line(struct host_lines *h, int fd, const char *p, size_t len)
{
	struct buf line;
	buf_init(&line, FLEET_LINE_MAX + BOUND_HOSTSPEC + 8);
	if (h->prefix != NULL) {
		buf_puts(&line, h->prefix);
		buf_puts(&line, ": ");
	}
	buf_append(&line, p, len);
	buf_puts(&line, "\n");
	if (h->before != NULL)
		h->before(h->ctx);
	int rc = fileio_write_all(fd, line.data, line.len);
	buf_free(&line);
	return rc;
}

/* Print the whole lines of stream s (0 stdout, 1 stderr); all: the rest too. */
static int flush_lines(struct host_lines *h, int s, bool all)
{
	struct buf *b = &h->part[s];
	size_t start = 0;
	for (size_t k = 0; k < b->len; k++)
		if (b->data[k] == '\n') {
			if (put_line(h, s + 1, b->data + start, k - start) != 0)
				return -1;
			start = k + 1;
		}
	if ((all || b->len - start >= FLEET_LINE_MAX) && b->len > start) {
		if (put_line(h, s + 1, b->data + start, b->len - start) != 0)
			return -1;
		start = b->len;
	}
	if (start > 0) {   /* keep the unfinished rest */
		memmove(b->data, b->data + start, b->len - start);
		b->len -= start;
		b->data[b->len] = '\0';
	}
	return 0;
}

/* Set up whole-line output for one host; see cmd.h. */
void host_lines_init(struct host_lines *h, const char *prefix)
{
	memset(h, 0, sizeof *h);
	h->prefix = prefix;
	buf_init(&h->part[0], FLEET_LINE_MAX);
	buf_init(&h->part[1], FLEET_LINE_MAX);
}

/* Take a chunk of a host's output; see cmd.h. */
int host_lines_write(struct host_lines *h, int stream, const void *data, size_t len)
{
	if (stream == 3) {   /* a notice from tether itself */
		char note[600];
		int n = snprintf(note, sizeof note, "tether: %.*s", (int)len, (const char *)data);
		return put_line(h, 2, note, n > 0 ? (size_t)n : 0) == 0 ? 0 : -1;
	}
	int s = stream == 2 ? 1 : 0;
	const char *p = data;
	while (len > 0) {   /* bounded: an endless line is cut at FLEET_LINE_MAX */
		size_t room = FLEET_LINE_MAX - h->part[s].len, take = len < room ? len : room;
		if (buf_append(&h->part[s], p, take) != 0 || flush_lines(h, s, false) != 0)
			return -1;
		p += take;
		len -= take;
	}
	return 0;
}

/* Print what is left and free; see cmd.h. */
void host_lines_finish(struct host_lines *h)
{
	flush_lines(h, 0, true);
	flush_lines(h, 1, true);
	buf_free(&h->part[0]);
	buf_free(&h->part[1]);
}

/* tether_output writer over host_lines. */
static int lines_cb(void *ctx, int stream, const void *data, size_t len)
{
	return host_lines_write(ctx, stream, data, len);
}

/* A tether_output that writes through h; see cmd.h. */
struct tether_output host_lines_output(struct host_lines *h)
{
	struct tether_output o = { lines_cb, h };
	return o;
}

/* status_clear for host_lines' before-write hook. */
static void clear_hook(void *ctx)
{
	status_clear(ctx);
}

/* The library's writer: collect, or print by whole lines. */
static int on_write(void *ctx, size_t i, int stream, const void *data, size_t len)
{
	struct fleet_out *fo = ctx;
	struct hostio *h = &fo->io[i];
	int s = stream == 2 ? 1 : 0;
	bool keep = stream != 3 && (fo->x->json || (fo->mode == FLEET_GATHER && s == 0));
	if (keep) {
		if (buf_append(&h->all[s], data, len) != 0)
			h->truncated = true;
		return 0;
	}
	return host_lines_write(&h->lines, stream, data, len);
}

/* A host has ended: print what is left of its lines. */
static void on_done(void *ctx, size_t i)
{
	struct fleet_out *fo = ctx;
	host_lines_finish(&fo->io[i].lines);
}

/* The live line: counts and the slowest hosts still running. */
static void on_tick(void *ctx)
{
	struct fleet_out *fo = ctx;
	size_t done = 0, failed = 0, running = 0, waiting = 0, slow[FLEET_SLOWEST];
	size_t nslow = 0;
	for (size_t i = 0; i < fo->hosts->n; i++) {
		const struct tether_fleet_result *r = &fo->res[i];
		if (r->state == TETHER_FLEET_WAITING) {
			waiting++;
		} else if (r->state == TETHER_FLEET_RUNNING) {
			running++;
			size_t k = nslow;   /* insert by start time, keeping the oldest few */
			if (k == FLEET_SLOWEST) {
				if (r->started_ms >= fo->res[slow[k - 1]].started_ms)
					continue;
				k--;
			} else {
				nslow++;
			}
			while (k > 0 && fo->res[slow[k - 1]].started_ms > r->started_ms) {
				slow[k] = slow[k - 1];
				k--;
			}
			slow[k] = i;
		} else if (r->err != TETHER_E_OK || (fo->streams && r->exit_code != 0)) {
			failed++;
		} else {
			done++;
		}
	}
	char line[400];
	int n = snprintf(line, sizeof line, "\r\033[K%zu done, %zu failed, %zu running, "
	                 "%zu waiting", done, failed, running, waiting);
	int64_t now = timeu_now() * 1000;
	for (size_t k = 0; k < nslow && n > 0 && (size_t)n < sizeof line; k++)
		n += snprintf(line + n, sizeof line - (size_t)n, "%s %s %llds", k ? "," : "; slowest:",
		              fo->hosts->v[slow[k]].name,
		              (long long)((now - fo->res[slow[k]].started_ms) / 1000));
	if (n > 0 && (size_t)n >= sizeof line)
		n = sizeof line - 1;
	if (n > 0) {
		fileio_write_all(2, line, (size_t)n);
		fo->shown = true;
	}
}

/* True if host i did all that was asked (and its command exited 0). */
static bool host_ok(const struct fleet_out *fo, size_t i)
{
	const struct tether_fleet_result *r = &fo->res[i];
	return r->err == TETHER_E_OK && (!fo->streams || r->exit_code == 0);
}

/* An RFC 3339 time, or JSON null for 0. */
static json_t *time_json(int64_t ms)
{
	char t[TIMEU_RFC3339_LEN];
	if (ms <= 0)
		return json_null();
	timeu_rfc3339(ms / 1000, t);
	return json_string(t);
}

/* The per-host JSON object (docs/cli.md "Fleets"). */
static json_t *host_json(const struct fleet_out *fo, size_t i, const char *key)
{
	const struct tether_fleet_result *r = &fo->res[i];
	json_t *o = json_pack("{s:s}", "host", fo->hosts->v[i].name);
	if (fo->streams) {
		json_object_set_new(o, "exit_code", r->exit_code >= 0 ? json_integer(r->exit_code)
		                                                      : json_null());
		stream_out_put_bytes(o, "stdout", &fo->io[i].all[0]);
		stream_out_put_bytes(o, "stderr", &fo->io[i].all[1]);
		if (fo->io[i].truncated)
			json_object_set_new(o, "output_truncated", json_true());
	} else if (key != NULL) {
		json_object_set(o, key, r->object ? r->object : json_null());
	}
	json_object_set_new(o, "error", r->err == TETHER_E_OK ? json_null()
	                    : json_pack("{s:s,s:s}", "code", r->code, "message", r->message));
	json_object_set_new(o, "started", time_json(r->started_ms));
	json_object_set_new(o, "ended", time_json(r->ended_ms));
	return o;
}

/* One line on why host i is not a success, as the summary and headers say it. */
static void host_outcome(const struct fleet_out *fo, size_t i, char *out, size_t outsz)
{
	const struct tether_fleet_result *r = &fo->res[i];
	if (r->err != TETHER_E_OK)
		snprintf(out, outsz, "%s", r->message);
	else if (fo->streams)
		snprintf(out, outsz, "exit %d", r->exit_code);
	else
		snprintf(out, outsz, "ok");
}

/* --gather: each distinct stdout once, under the nodeset that printed it. */
static void print_gathered(struct fleet_out *fo)
{
	size_t n = fo->hosts->n;
	bool *seen = calloc(n ? n : 1, sizeof *seen);
	char **names = calloc(n ? n : 1, sizeof *names);
	if (seen == NULL || names == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (seen[i])
			continue;
		char what[600], other[600];
		size_t k = 0;
		host_outcome(fo, i, what, sizeof what);
		const struct buf *b = &fo->io[i].all[0];
		for (size_t j = i; j < n; j++) {
			const struct buf *bj = &fo->io[j].all[0];
			host_outcome(fo, j, other, sizeof other);
			if (seen[j] || bj->len != b->len || strcmp(what, other) != 0 ||
			    (b->len > 0 && memcmp(bj->data, b->data, b->len) != 0))
				continue;
			seen[j] = true;
			names[k++] = fo->hosts->v[j].name;
		}
		char *set = NULL;
		nodeset_fold(names, k, &set);
		printf("----------------\n%s (%zu%s, %s)\n----------------\n",
		       set ? set : fo->hosts->v[i].name, k, k == 1 ? " host" : " hosts", what);
		free(set);
		fflush(stdout);
		if (b->len > 0) {
			fileio_write_all(1, b->data, b->len);
			if (b->data[b->len - 1] != '\n')
				fileio_write_all(1, "\n", 1);
		}
		if (fo->io[i].truncated)
			printf("tether: output cut at %u bytes per host\n", FLEET_COLLECT_MAX);
		fflush(stdout);
	}
out:
	free(seen);
	free(names);
}

/* Print the per-host summary of failures on stderr; returns how many. */
static size_t print_summary(struct fleet_out *fo)
{
	size_t bad = 0;
	for (size_t i = 0; i < fo->hosts->n; i++)
		bad += !host_ok(fo, i);
	if (bad == 0)
		return 0;
	fprintf(stderr, "tether: %zu of %zu hosts failed:\n", bad, fo->hosts->n);
	for (size_t i = 0; i < fo->hosts->n; i++) {
		char what[600];
		if (host_ok(fo, i))
			continue;
		host_outcome(fo, i, what, sizeof what);
		fprintf(stderr, "  %s: %s\n", fo->hosts->v[i].name, what);
	}
	return bad;
}

/* The objects of the successful hosts (an array; lists are flattened). */
static json_t *gather_objects(const struct fleet_out *fo)
{
	json_t *all = json_array();
	for (size_t i = 0; i < fo->hosts->n; i++) {
		json_t *o = fo->res[i].object;
		if (json_is_array(o))
			json_array_extend(all, o);
		else if (o != NULL)
			json_array_append(all, o);
	}
	return all;
}

/* The key of a verb's object in its per-host JSON. */
static const char *object_key(enum tether_fleet_verb v)
{
	switch (v) {
	case TETHER_FLEET_SESSION_LIST: return "sessions";
	case TETHER_FLEET_JOB_START:    return "job";
	default:                        return "session";
	}
}

/* Run req on hosts and present it; see cmd.h. */
int fleet_exec(struct cmd_ctx *x, const struct fleet_hosts *hosts,
               const struct tether_fleet_req *req, enum fleet_mode mode)
{
	size_t n = hosts->n;
	struct fleet_out fo = { x, hosts, NULL, NULL, mode, false, false, false };
	const char **addrs = calloc(n ? n : 1, sizeof *addrs);
	fo.res = calloc(n ? n : 1, sizeof *fo.res);
	fo.io = calloc(n ? n : 1, sizeof *fo.io);
	if (addrs == NULL || fo.res == NULL || fo.io == NULL) {
		free(addrs);
		free(fo.res);
		free(fo.io);
		fprintf(stderr, "tether: out of memory for %zu hosts\n", n);
		return EXIT_TETHER;
	}
	fo.streams = req->verb == TETHER_FLEET_INVOKE || req->verb == TETHER_FLEET_RECEIVE;
	fo.status = !x->json && isatty(2);
	for (size_t i = 0; i < n; i++) {
		addrs[i] = hosts->v[i].addr;
		host_lines_init(&fo.io[i].lines, mode == FLEET_HIDE_HOST ? NULL : hosts->v[i].name);
		fo.io[i].lines.before = clear_hook;
		fo.io[i].lines.ctx = &fo;
		for (int s = 0; s < 2; s++)
			buf_init(&fo.io[i].all[s], FLEET_COLLECT_MAX);
	}
	struct tether_fleet_io io = { on_write, on_done, fo.status ? on_tick : NULL, &fo };
	if (fo.streams)
		stream_out_catch_sigint(x);
	tether_err e = tether_fleet_run(x->c, addrs, n, req, &io, fo.res);
	status_clear(&fo);
	int rc;
	if (e != TETHER_E_OK) {
		rc = out_fail(x, e);
	} else {
		if (x->json) {
			json_t *arr = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(arr, host_json(&fo, i, object_key(req->verb)));
			out_json(arr);
			json_decref(arr);
		} else if (mode == FLEET_GATHER && fo.streams) {
			print_gathered(&fo);
		} else if (!fo.streams) {
			json_t *all = gather_objects(&fo);
			if (json_array_size(all) > 0) {
				if (req->verb == TETHER_FLEET_JOB_START)
					out_jobs_table(all);
				else if (req->verb != TETHER_FLEET_SESSION_REMOVE)
					out_sessions_table(all);
			}
			json_decref(all);
		}
		rc = print_summary(&fo) == 0 ? 0 : 1;
	}
	for (size_t i = 0; i < n; i++) {
		host_lines_finish(&fo.io[i].lines);   /* nothing left by now: frees */
		for (int s = 0; s < 2; s++)
			buf_free(&fo.io[i].all[s]);
	}
	tether_fleet_free(fo.res, n);
	free(fo.res);
	free(fo.io);
	free(addrs);
	return rc;
}

/* Expand TARGETS once; see cmd.h. */
void fleet_target_expand(struct cmd_ctx *x, struct fleet_target *t, const char *spec)
{
	free(t->spec);
	fleet_hosts_free(&t->hosts);
	t->err[0] = '\0';
	t->spec = strdup(spec);
	if (t->spec == NULL) {
		snprintf(t->err, sizeof t->err, "out of memory");
		t->fleet = true;
		return;
	}
	if (targets_expand(spec, x->inventory, tether_client_config_dir(x->c), &t->hosts, t->err,
	                   sizeof t->err) != 0) {
		t->hosts.v = NULL;
		t->hosts.n = 0;
		t->fleet = true;
		return;
	}
	t->fleet = !(t->hosts.n == 1 && strcmp(t->hosts.v[0].name, spec) == 0 &&
	             strcmp(t->hosts.v[0].addr, spec) == 0);
}

/* Split a SESSION argument and expand its TARGETS; see cmd.h. */
void fleet_target_session(struct cmd_ctx *x, struct fleet_target *t, const char *arg,
                          bool host_alone)
{
	const char *slash = strrchr(arg, '/');
	if (slash == NULL || slash == arg) {   /* no TARGETS/NAME */
		if (host_alone)
			fleet_target_expand(x, t, slash == NULL ? arg : "");
		return;   /* else one host's SESSION (or none: the library says why) */
	}
	char *spec = strndup(arg, (size_t)(slash - arg));
	if (spec == NULL) {
		snprintf(t->err, sizeof t->err, "out of memory");
		t->fleet = true;
		return;
	}
	fleet_target_expand(x, t, spec);
	free(spec);
	t->name = slash + 1;
}

/* The hosts of t, or a usage error; see cmd.h. */
int fleet_target_hosts(const struct cmd_entry *ce, const struct fleet_target *t)
{
	if (t->err[0] != '\0')
		return out_usage(ce, "%s", t->err);
	if (t->hosts.n == 0)
		return out_usage(ce, "'%s' names no host", t->spec ? t->spec : "");
	return 0;
}

/* Release t's expansion. */
void fleet_target_free(struct fleet_target *t)
{
	free(t->spec);
	fleet_hosts_free(&t->hosts);
	memset(t, 0, sizeof *t);
}

/* Run a verb on a fleet session argument; see cmd.h. */
bool fleet_session_verb(struct cmd_ctx *x, const struct cmd_entry *ce,
                        const struct fleet_target *t, enum tether_fleet_verb verb,
                        struct tether_fleet_req *req, int *rc)
{
	if (!t->fleet)
		return false;
	if ((*rc = fleet_target_hosts(ce, t)) != 0)
		return true;
	req->verb = verb;
	req->session = t->name;
	*rc = fleet_exec(x, &t->hosts, req, FLEET_PREFIX);
	return true;
}
