/*
 * localjobs.c - this client's local job table (tether invoke --as-job).
 *
 * PowerShell's Invoke-Command -AsJob keeps the job object on the local
 * computer while the command runs remotely, and brings the results home.
 * Here the table is one JSON file in the client's state dir (jobs.json),
 * each entry pointing at a remote invoke (host, user, session, remote job
 * id). Receive copies the remote output into jobs/<ID>.log in the output
 * log's own record format (common/outlog.h) and delivers it from there, so
 * what has been copied stays readable when the host is not.
 *
 * Several tether processes may share one $TETHER_HOME. Every
 * read-modify-write of the table holds an exclusive flock on jobs.lock, and
 * no lock is ever held across a network request. Each entry records how
 * far the remote log has been copied (fetched) and how much of the copy is
 * valid (log_size): an appender truncates the copy to log_size before
 * writing and skips what another process has copied meanwhile, so
 * concurrent receivers never duplicate output, and a crash between the
 * append and the table write leaves nothing behind. A chunk is fsync'd and
 * recorded before the next request acknowledges it on the remote side.
 *
 * Fleet jobs (a parent with a child per host) live in fleetjobs.c, which
 * reaches the table through localjobs-int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "client-int.h"
#include "fileio.h"
#include "jsonu.h"
#include "localjobs-int.h"
#include "outlog.h"
#include "strparse.h"

#define TABLE_VERSION 1
#define TABLE_FILE    "jobs.json"
#define LOCK_FILE     "jobs.lock"
#define LOG_DIR       "jobs"
#define COPY_CHUNK    (1024 * 1024)   /* bytes of a local copy read at once */
#define MAX_ID        INT32_MAX
#define DOWN_HOSTS    16              /* unreachable hosts remembered by a list */

/* Release one entry's memory. */
void localjobs_clear(struct ljob *j)
{
	free(j->command);
	j->command = NULL;
	free(j->children);
	j->children = NULL;
	j->nchildren = 0;
}

/* Release a table. */
void localjobs_free(struct ltable *t)
{
	for (size_t i = 0; i < t->n; i++)
		localjobs_clear(&t->jobs[i]);
	free(t->jobs);
	memset(t, 0, sizeof *t);
}

/* Deep-copy an entry; 0 or -1 (out of memory). */
static int ljob_copy(struct ljob *dst, const struct ljob *src)
{
	*dst = *src;
	dst->children = NULL;
	dst->command = strdup(src->command ? src->command : "");
	if (dst->command == NULL)
		return -1;
	if (src->nchildren > 0) {
		dst->children = malloc(src->nchildren * sizeof *dst->children);
		if (dst->children == NULL) {
			localjobs_clear(dst);
			return -1;
		}
		memcpy(dst->children, src->children, src->nchildren * sizeof *dst->children);
	}
	return 0;
}

/* True for the states a job never leaves. */
bool localjobs_final_state(const char *s)
{
	return strcmp(s, "Completed") == 0 || strcmp(s, "Failed") == 0 ||
	       strcmp(s, "Stopped") == 0;
}

/* True if s is a job state that can be stored (Disconnected is only shown). */
static bool known_state(const char *s)
{
	for (int i = 0; proto_job_state_str(i) != NULL; i++)
		if (strcmp(s, proto_job_state_str(i)) == 0)
			return i != JOB_DISCONNECTED;
	return false;
}

/* "DIR/leaf" in the client's state dir. */
static void state_path(tether_client *c, char *out, size_t outsz, const char *leaf)
{
	snprintf(out, outsz, "%s/%s", c->state_dir, leaf);
}

/* The path of a job's local copy of its output. */
static void log_path(tether_client *c, int64_t id, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/" LOG_DIR "/%lld.log", c->state_dir, (long long)id);
}

/* SESSION for requests about j: "USER@HOST/ID" (or /NAME if the id is unknown). */
static void remote_session(const struct ljob *j, char *out, size_t outsz)
{
	if (j->session_id > 0)
		snprintf(out, outsz, "%s@%s/%lld", j->user, j->host, (long long)j->session_id);
	else
		snprintf(out, outsz, "%s@%s/%s", j->user, j->host, j->session);
}

/* Take the table lock; returns its descriptor (close it to unlock) or -1. */
static int table_lock(tether_client *c)
{
	char path[BOUND_PATH + 16];
	state_path(c, path, sizeof path, LOCK_FILE);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		client_fail(c, TETHER_E_IO, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		client_fail(c, TETHER_E_IO, "cannot lock %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Copy an optional bounded string field into dst; 0, or -1 (err set). */
static int get_str(json_t *o, const char *key, bool required, char *dst, size_t dstsz,
                   char *err, size_t errsz)
{
	const char *s = NULL;
	int r = jsonu_get_string(o, key, required, dstsz - 1, &s, err, errsz);
	if (r == JSONU_OK)
		strparse_copy(dst, dstsz, s);
	return r == JSONU_BAD ? -1 : 0;
}

/* Read an integer field; 0, or -1 (err set). */
static int get_int(json_t *o, const char *key, bool required, int64_t min, int64_t max,
                   int64_t *out, char *err, size_t errsz)
{
	return jsonu_get_int(o, key, required, min, max, out, err, errsz) == JSONU_BAD ? -1 : 0;
}

/* A parent's "children": an array of ids; 0, or -1 (err set). */
static int children_parse(json_t *o, struct ljob *j, char *err, size_t errsz)
{
	json_t *a = json_object_get(o, "children"), *v;
	size_t i;
	if (!json_is_array(a) || json_array_size(a) > FLEET_CHILDREN_MAX) {
		snprintf(err, errsz, "bad children");
		return -1;
	}
	j->children = calloc(json_array_size(a) + 1, sizeof *j->children);
	if (j->children == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > MAX_ID) {
			snprintf(err, errsz, "bad child id");
			return -1;
		}
		j->children[j->nchildren++] = json_integer_value(v);
	}
	return 0;
}

/* Read one table entry through checked getters; 0, or -1 (err set). */
static int entry_parse(json_t *o, struct ljob *j, char *err, size_t errsz)
{
	const char *cmd = NULL;
	memset(j, 0, sizeof *j);
	j->exit_code = -1;
	if (!json_is_object(o)) {
		snprintf(err, errsz, "not an object");
		return -1;
	}
	if (jsonu_get_bool(o, "fleet", false, &j->fleet, err, errsz) == JSONU_BAD)
		return -1;
	bool remote = !j->fleet;   /* a parent has no remote of its own */
	if (get_int(o, "id", true, 1, MAX_ID, &j->id, err, errsz) != 0 ||
	    get_str(o, "name", true, j->name, sizeof j->name, err, errsz) != 0 ||
	    jsonu_get_string(o, "command", true, BOUND_BODY_COMMAND, &cmd, err, errsz) != 0 ||
	    get_str(o, "host", remote, j->host, sizeof j->host, err, errsz) != 0 ||
	    get_str(o, "user", remote, j->user, sizeof j->user, err, errsz) != 0 ||
	    get_str(o, "session", remote, j->session, sizeof j->session, err, errsz) != 0 ||
	    get_int(o, "parent", false, 0, MAX_ID, &j->parent, err, errsz) != 0 ||
	    get_str(o, "label", false, j->label, sizeof j->label, err, errsz) != 0 ||
	    jsonu_get_bool(o, "own_session", false, &j->own_session, err, errsz) == JSONU_BAD ||
	    get_int(o, "session_id", false, 0, INT64_MAX, &j->session_id, err, errsz) != 0 ||
	    get_int(o, "remote_id", true, 0, INT64_MAX, &j->remote_id, err, errsz) != 0 ||
	    get_str(o, "location", false, j->location, sizeof j->location, err, errsz) != 0 ||
	    get_str(o, "state", true, j->state, sizeof j->state, err, errsz) != 0 ||
	    get_int(o, "exit_code", false, -1, 255, &j->exit_code, err, errsz) != 0 ||
	    get_int(o, "signal", false, 0, 128, &j->signal, err, errsz) != 0 ||
	    get_str(o, "started", false, j->started, sizeof j->started, err, errsz) != 0 ||
	    get_str(o, "ended", false, j->ended, sizeof j->ended, err, errsz) != 0 ||
	    get_str(o, "error", false, j->error, sizeof j->error, err, errsz) != 0 ||
	    jsonu_get_bool(o, "remote_more", true, &j->remote_more, err, errsz) != 0 ||
	    jsonu_get_bool(o, "remote_done", true, &j->remote_done, err, errsz) != 0 ||
	    get_int(o, "fetched", true, 0, INT64_MAX, &j->fetched, err, errsz) != 0 ||
	    get_int(o, "log_size", true, 0, INT64_MAX, &j->log_size, err, errsz) != 0 ||
	    get_int(o, "delivered", true, 0, INT64_MAX, &j->delivered, err, errsz) != 0)
		return -1;
	if (!addr_valid_name(j->name) || (remote && !addr_valid_name(j->user)) ||
	    !known_state(j->state) || j->delivered > j->log_size) {
		snprintf(err, errsz, "inconsistent values");
		return -1;
	}
	j->command = strdup(cmd);
	if (j->command == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return j->fleet ? children_parse(o, j, err, errsz) : 0;
}

/* The entry with this id, or NULL. */
struct ljob *localjobs_find(struct ltable *t, int64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->jobs[i].id == id)
			return &t->jobs[i];
	return NULL;
}

/* The entry with this name, or NULL. */
static struct ljob *find_name(struct ltable *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->jobs[i].name, name) == 0)
			return &t->jobs[i];
	return NULL;
}

/* The entry JOB names (an id or a name), or NULL. */
static struct ljob *find_ref(struct ltable *t, const char *ref)
{
	uint64_t id;
	if (strparse_is_digits(ref))
		return strparse_u64(ref, 1, MAX_ID, &id) == 0 ? localjobs_find(t, (int64_t)id) : NULL;
	return find_name(t, ref);
}

/* Load the table (an empty one if the file does not exist yet). */
static tether_err table_load(tether_client *c, struct ltable *t)
{
	char path[BOUND_PATH + 16], why[200] = "";
	size_t len = 0;
	int64_t version = 0;
	json_t *doc = NULL, *arr;
	memset(t, 0, sizeof *t);
	t->next_id = 1;
	state_path(c, path, sizeof path, TABLE_FILE);
	errno = 0;
	char *text = fileio_read(path, BOUND_STATE_FILE, &len);
	if (text == NULL)
		return errno == ENOENT ? TETHER_E_OK
		                       : client_fail(c, TETHER_E_IO, "cannot read %s: %s", path,
		                                     strerror(errno));
	doc = jsonu_parse_object(text, len, why, sizeof why);
	free(text);
	if (doc == NULL)
		goto bad;
	arr = json_object_get(doc, "jobs");
	if (get_int(doc, "version", true, 1, INT32_MAX, &version, why, sizeof why) != 0 ||
	    get_int(doc, "next_id", true, 1, (int64_t)MAX_ID + 1, &t->next_id, why,
	            sizeof why) != 0)
		goto bad;
	if (version != TABLE_VERSION) {
		json_decref(doc);
		return client_fail(c, TETHER_E_IO, "%s is version %lld of the local job table; "
		                   "this tether reads version %d", path, (long long)version,
		                   TABLE_VERSION);
	}
	if (!json_is_array(arr)) {
		snprintf(why, sizeof why, "no 'jobs' array");
		goto bad;
	}
	t->jobs = calloc(json_array_size(arr) + 1, sizeof *t->jobs);
	if (t->jobs == NULL) {
		json_decref(doc);
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		struct ljob j;
		char ewhy[160];
		if (entry_parse(json_array_get(arr, i), &j, ewhy, sizeof ewhy) != 0) {
			snprintf(why, sizeof why, "job %zu: %s", i + 1, ewhy);
			goto bad;
		}
		if (localjobs_find(t, j.id) || find_name(t, j.name) || j.id >= t->next_id) {
			localjobs_clear(&j);
			snprintf(why, sizeof why, "job %zu: id or name repeated", i + 1);
			goto bad;
		}
		t->jobs[t->n++] = j;
	}
	json_decref(doc);
	return TETHER_E_OK;
bad:
	json_decref(doc);
	localjobs_free(t);
	return client_fail(c, TETHER_E_IO, "the local job table %s is damaged (%s); move it "
	                   "away to start a new one", path, why);
}

/* An entry as the table stores it. */
static json_t *entry_json(const struct ljob *j)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:I,s:I}",
	                      "id", (json_int_t)j->id, "name", j->name, "command", j->command,
	                      "host", j->host, "user", j->user, "session", j->session,
	                      "session_id", (json_int_t)j->session_id,
	                      "remote_id", (json_int_t)j->remote_id, "state", j->state,
	                      "exit_code", (json_int_t)j->exit_code,
	                      "signal", (json_int_t)j->signal);
	if (o == NULL)
		return NULL;
	if (j->location[0])
		json_object_set_new(o, "location", json_string(j->location));
	if (j->started[0])
		json_object_set_new(o, "started", json_string(j->started));
	if (j->ended[0])
		json_object_set_new(o, "ended", json_string(j->ended));
	if (j->error[0])
		json_object_set_new(o, "error", json_string(j->error));
	json_object_set_new(o, "remote_more", json_boolean(j->remote_more));
	json_object_set_new(o, "remote_done", json_boolean(j->remote_done));
	json_object_set_new(o, "fetched", json_integer(j->fetched));
	json_object_set_new(o, "log_size", json_integer(j->log_size));
	json_object_set_new(o, "delivered", json_integer(j->delivered));
	if (j->parent > 0)
		json_object_set_new(o, "parent", json_integer(j->parent));
	if (j->label[0])
		json_object_set_new(o, "label", json_string(j->label));
	if (j->own_session)
		json_object_set_new(o, "own_session", json_true());
	if (j->fleet) {   /* no remote of its own: nothing (empty) to store for it */
		json_t *a = json_array();
		if (!j->host[0])
			json_object_del(o, "host");
		if (!j->user[0])
			json_object_del(o, "user");
		if (!j->session[0])
			json_object_del(o, "session");
		for (size_t i = 0; i < j->nchildren; i++)
			json_array_append_new(a, json_integer(j->children[i]));
		json_object_set_new(o, "fleet", json_true());
		json_object_set_new(o, "children", a);
	}
	return o;
}

/* Write the table back atomically, 0600; refuses to write one it could not
 * read back. */
static tether_err table_save(tether_client *c, const struct ltable *t)
{
	char path[BOUND_PATH + 16];
	json_t *arr = json_array();
	json_t *doc = json_pack("{s:i,s:I,s:o}", "version", TABLE_VERSION,
	                        "next_id", (json_int_t)t->next_id, "jobs", arr);
	if (doc == NULL)
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	for (size_t i = 0; i < t->n; i++)
		if (json_array_append_new(arr, entry_json(&t->jobs[i])) != 0) {
			json_decref(doc);
			return client_fail(c, TETHER_E_NOMEM, "out of memory");
		}
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text == NULL)
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	size_t len = strlen(text);
	tether_err e = TETHER_E_OK;
	state_path(c, path, sizeof path, TABLE_FILE);
	if (len > BOUND_STATE_FILE)
		e = client_fail(c, TETHER_E_LIMIT_EXCEEDED, "the local job table would exceed "
		                "%u bytes; remove some jobs first (tether job remove)",
		                BOUND_STATE_FILE);
	else if (fileio_write_atomic(path, text, len, 0600) != 0)
		e = client_fail(c, TETHER_E_IO, "cannot write %s: %s", path, strerror(errno));
	free(text);
	return e;
}

/* Lock, load, apply fn, save if it succeeded, unlock. */
tether_err localjobs_edit(tether_client *c, ltable_edit_fn fn, void *arg)
{
	struct ltable t;
	int fd = table_lock(c);
	if (fd < 0)
		return TETHER_E_IO;
	tether_err e = table_load(c, &t);
	if (e == TETHER_E_OK) {
		e = fn(c, &t, arg);
		if (e == TETHER_E_OK)
			e = table_save(c, &t);
		localjobs_free(&t);
	}
	close(fd);
	return e;
}

/* A consistent copy of the whole table. */
tether_err localjobs_read(tether_client *c, struct ltable *t)
{
	int fd = table_lock(c);
	if (fd < 0)
		return TETHER_E_IO;
	tether_err e = table_load(c, t);
	close(fd);
	return e;
}

/* Refuse a JOB that is neither an id nor a name. */
static tether_err check_ref(tether_client *c, const char *ref)
{
	if (addr_valid_name(ref) || (strparse_is_digits(ref) && strlen(ref) < 19))
		return TETHER_E_OK;
	return client_fail(c, TETHER_E_USAGE, "invalid job '%s': a local job's id or name", ref);
}

/* A copy of the entry JOB names (the caller clears it). */
tether_err localjobs_snapshot(tether_client *c, const char *ref, struct ljob *out)
{
	struct ltable t;
	tether_err e = check_ref(c, ref);
	if (e == TETHER_E_OK)
		e = localjobs_read(c, &t);
	if (e != TETHER_E_OK)
		return e;
	struct ljob *j = find_ref(&t, ref);
	if (j == NULL)
		e = client_fail(c, TETHER_E_NOT_FOUND, "no local job '%s' (tether job list shows "
		                "this client's jobs)", ref);
	else if (ljob_copy(out, j) != 0)
		e = client_fail(c, TETHER_E_NOMEM, "out of memory");
	localjobs_free(&t);
	return e;
}

/* A string field of a remote object copied into dst ("" if absent or null). */
static void take_str(json_t *o, const char *key, char *dst, size_t dstsz)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (s != NULL && strlen(s) < dstsz)
		snprintf(dst, dstsz, "%s", s);
	else
		dst[0] = '\0';
}

/* Update j from the remote job object r. */
static void take_remote(struct ljob *j, json_t *r)
{
	const char *st = json_string_value(json_object_get(r, "state"));
	json_t *x = json_object_get(r, "exit_code");
	if (st != NULL && known_state(st) &&
	    !(localjobs_final_state(j->state) && !localjobs_final_state(st)))
		snprintf(j->state, sizeof j->state, "%s", st);
	j->exit_code = json_is_integer(x) && json_integer_value(x) >= 0 &&
	               json_integer_value(x) <= 255 ? json_integer_value(x) : -1;
	x = json_object_get(r, "signal");
	j->signal = json_is_integer(x) && json_integer_value(x) > 0 &&
	            json_integer_value(x) <= 128 ? json_integer_value(x) : 0;
	take_str(r, "started", j->started, sizeof j->started);
	take_str(r, "ended", j->ended, sizeof j->ended);
	take_str(r, "location", j->location, sizeof j->location);
	take_str(r, "error", j->error, sizeof j->error);
	j->remote_more = json_is_true(json_object_get(r, "has_more_data"));
}

/* Record that the remote job no longer exists. */
static void mark_gone(struct ljob *j)
{
	if (!localjobs_final_state(j->state))
		snprintf(j->state, sizeof j->state, "Failed");
	snprintf(j->error, sizeof j->error, "the remote job no longer exists on %s "
	         "(it or its session was removed)", j->host);
	j->remote_done = true;
	j->remote_more = false;
}

/* Copy what the remote said about src into dst (the same job in a fresher
 * table), never moving a finished job back to a running state. */
static void copy_remote(struct ljob *dst, const struct ljob *src)
{
	if (localjobs_final_state(dst->state) && !localjobs_final_state(src->state))
		return;
	snprintf(dst->state, sizeof dst->state, "%s", src->state);
	dst->exit_code = src->exit_code;
	dst->signal = src->signal;
	memcpy(dst->started, src->started, sizeof dst->started);
	memcpy(dst->ended, src->ended, sizeof dst->ended);
	memcpy(dst->location, src->location, sizeof dst->location);
	memcpy(dst->error, src->error, sizeof dst->error);
	dst->remote_more = src->remote_more;
	dst->remote_done = dst->remote_done || src->remote_done;
}

/* Store in t what the remote said about src. */
static void store_remote(struct ltable *t, const struct ljob *src)
{
	struct ljob *dst = localjobs_find(t, src->id);
	if (dst != NULL)   /* else removed meanwhile: nothing to keep */
		copy_remote(dst, src);
}

/* localjobs_edit: store what the remote said about the job in arg. */
static tether_err edit_remote(tether_client *c, struct ltable *t, void *arg)
{
	(void)c;
	store_remote(t, arg);
	return TETHER_E_OK;
}

/* True if the remote may still change j's state. */
static bool needs_refresh(const struct ljob *j)
{
	return j->remote_id > 0 && !j->remote_done && !localjobs_final_state(j->state);
}

/* Ask the remote about j and update j (not the table). A remote job that no
 * longer exists is a known outcome, not a failure. */
static tether_err refresh(tether_client *c, struct ljob *j)
{
	char sess[BOUND_HOSTSPEC + BOUND_NAME + 32], id[24];
	json_t *r = NULL;
	remote_session(j, sess, sizeof sess);
	snprintf(id, sizeof id, "%lld", (long long)j->remote_id);
	tether_err e = tether_job_get(c, sess, id, &r);
	if (e == TETHER_E_NOT_FOUND) {
		mark_gone(j);
		return TETHER_E_OK;
	}
	if (e == TETHER_E_OK)
		take_remote(j, r);
	json_decref(r);
	return e;
}

/* The job object users see (docs/cli.md fields). unreachable: why the host could
 * not be asked, which shows the job as Disconnected. */
json_t *localjobs_view(const struct ljob *j, const char *unreachable)
{
	char session[sizeof j->host + BOUND_NAME + 2];
	snprintf(session, sizeof session, "%s/%s", j->host, j->session);
	bool more = j->delivered < j->log_size || (!j->remote_done && j->remote_more);
	json_t *v = json_pack("{s:I,s:s,s:s,s:s,s:b,s:s,s:s,s:o,s:o,s:o,s:s,s:[]}",
	                      "id", (json_int_t)j->id, "name", j->name, "type", "invoke",
	                      "state", unreachable ? "Disconnected" : j->state,
	                      "has_more_data", more, "location", j->host,
	                      "command", j->command,
	                      "exit_code", j->exit_code >= 0 ? json_integer(j->exit_code)
	                                                     : json_null(),
	                      "started", j->started[0] ? json_string(j->started) : json_null(),
	                      "ended", j->ended[0] ? json_string(j->ended) : json_null(),
	                      "session", session, "children");
	if (v == NULL)
		return NULL;
	if (j->signal > 0)
		json_object_set_new(v, "signal", json_integer(j->signal));
	if (j->parent > 0) {
		json_object_set_new(v, "parent", json_integer(j->parent));
		json_object_set_new(v, "host", json_string(j->label[0] ? j->label : j->host));
	}
	if (unreachable != NULL) {
		json_object_set_new(v, "error", json_string(unreachable));
		json_object_set_new(v, "last_known_state", json_string(j->state));
	} else if (j->error[0]) {
		json_object_set_new(v, "error", json_string(j->error));
	}
	json_object_set_new(v, "remote", json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}",
	                    "host", j->host, "user", j->user, "session", j->session,
	                    "session_id", (json_int_t)j->session_id,
	                    "job_id", (json_int_t)j->remote_id, "location", j->location));
	return v;
}

/* The exit status a finished job reports (as tether_invoke's), else -1. */
static int status_of(const struct ljob *j)
{
	if (!localjobs_final_state(j->state))
		return -1;
	return j->signal > 0 ? 128 + (int)j->signal : j->exit_code >= 0 ? (int)j->exit_code : 255;
}

/* ---- starting ---------------------------------------------------------- */

/* localjobs_edit: give the new entry in arg an id (and a default name) and add
 * it, NotStarted, so the name is taken before anything runs. */
tether_err localjobs_reserve(tether_client *c, struct ltable *t, void *arg)
{
	struct ljob *j = arg, *grown;
	int64_t id = t->next_id;
	if (j->name[0] && find_name(t, j->name))
		return client_fail(c, TETHER_E_CONFLICT, "this client already has a local job "
		                   "named '%s'", j->name);
	if (!j->name[0]) {
		char name[BOUND_NAME + 1];
		for (;; id++) {   /* skip ids whose default name someone chose by hand */
			snprintf(name, sizeof name, "Job%lld", (long long)id);
			if (find_name(t, name) == NULL)
				break;
		}
		snprintf(j->name, sizeof j->name, "%s", name);
	}
	if (id > MAX_ID)
		return client_fail(c, TETHER_E_LIMIT_EXCEEDED, "no local job ids left");
	grown = realloc(t->jobs, (t->n + 1) * sizeof *t->jobs);
	if (grown == NULL)
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	t->jobs = grown;
	j->id = id;
	if (ljob_copy(&t->jobs[t->n], j) != 0)
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	t->n++;
	t->next_id = id + 1;
	return TETHER_E_OK;
}

/* localjobs_edit: record that the reserved entry's remote invoke has started. */
static tether_err edit_started(tether_client *c, struct ltable *t, void *arg)
{
	const struct ljob *src = arg;
	struct ljob *dst = localjobs_find(t, src->id);
	if (dst == NULL)
		return client_fail(c, TETHER_E_CONFLICT, "local job %lld was removed while it "
		                   "started; the remote job %lld runs on in %s/%s",
		                   (long long)src->id, (long long)src->remote_id, src->host,
		                   src->session);
	dst->remote_id = src->remote_id;
	copy_remote(dst, src);
	return TETHER_E_OK;
}

/* Drop the entry with this id from t; false if there is none. */
static bool drop_id(struct ltable *t, int64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->jobs[i].id == id) {
			localjobs_clear(&t->jobs[i]);
			memmove(&t->jobs[i], &t->jobs[i + 1], (t->n - i - 1) * sizeof *t->jobs);
			t->n--;
			return true;
		}
	return false;
}

/* localjobs_edit: drop the entry whose id arg points at. */
tether_err localjobs_drop(tether_client *c, struct ltable *t, void *arg)
{
	const int64_t *id = arg;
	if (drop_id(t, *id))
		return TETHER_E_OK;
	return client_fail(c, TETHER_E_NOT_FOUND, "local job %lld was removed meanwhile",
	                   (long long)*id);
}

/* localjobs_edit: drop a reservation whose remote start failed, giving its id
 * back if no other job has been given one since. */
static tether_err edit_unreserve(tether_client *c, struct ltable *t, void *arg)
{
	const int64_t *id = arg;
	tether_err e = localjobs_drop(c, t, arg);
	if (e == TETHER_E_OK && t->next_id == *id + 1)
		t->next_id = *id;
	return e;
}

/* Start a command as a local job. */
tether_err tether_local_job_start(tether_client *c, const char *session, const char *name,
                                  const char *command, json_t **job)
{
	struct ljob j;
	json_t *s = NULL, *r = NULL;
	char sess[BOUND_HOSTSPEC + BOUND_NAME + 32];
	*job = NULL;
	memset(&j, 0, sizeof j);
	if (name != NULL && !addr_valid_name(name))
		return client_fail(c, TETHER_E_USAGE, "invalid job name '%s': a letter, then "
		                   "letters, digits, '.', '_' or '-', at most %u bytes", name,
		                   BOUND_NAME);
	tether_err e = tether_session_get(c, session, &s);
	if (e != TETHER_E_OK)
		return e;
	j.session_id = json_integer_value(json_object_get(s, "id"));
	take_str(s, "host", j.host, sizeof j.host);
	take_str(s, "owner", j.user, sizeof j.user);
	take_str(s, "name", j.session, sizeof j.session);
	json_decref(s);
	if (j.session_id <= 0 || !j.host[0] || !addr_valid_name(j.user) || !j.session[0])
		return client_fail(c, TETHER_E_PROTOCOL, "incomplete session object from the "
		                   "server");
	if (name != NULL)
		snprintf(j.name, sizeof j.name, "%s", name);
	snprintf(j.state, sizeof j.state, "NotStarted");
	j.exit_code = -1;
	j.command = strdup(command);
	if (j.command == NULL)
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	if ((e = localjobs_edit(c, localjobs_reserve, &j)) != TETHER_E_OK)
		goto out;
	remote_session(&j, sess, sizeof sess);
	e = tether_invoke_start(c, sess, command, &r);
	if (e != TETHER_E_OK) {
		char why[sizeof c->errmsg];
		snprintf(why, sizeof why, "%s", c->errmsg);
		localjobs_edit(c, edit_unreserve, &j.id);
		snprintf(c->errmsg, sizeof c->errmsg, "%s", why);   /* e's reason, not this */
		goto out;
	}
	j.remote_id = json_integer_value(json_object_get(r, "id"));
	take_remote(&j, r);
	json_decref(r);
	if ((e = localjobs_edit(c, edit_started, &j)) == TETHER_E_OK)
		*job = localjobs_view(&j, NULL);
out:
	localjobs_clear(&j);
	return e;
}

/* ---- looking ------------------------------------------------------------ */

/* ltable_edit_fn: apply a struct ltable_update to the table as it is now. */
tether_err localjobs_update(tether_client *c, struct ltable *t, void *arg)
{
	const struct ltable_update *u = arg;
	(void)c;
	for (size_t i = 0; i < u->t->n; i++) {
		if (u->fresh != NULL && u->fresh[i])
			store_remote(t, &u->t->jobs[i]);
		if (u->drop != NULL && u->drop[i])
			drop_id(t, u->t->jobs[i].id);
	}
	return TETHER_E_OK;
}

/* This client's local jobs, refreshed. */
tether_err tether_local_job_list(tether_client *c, json_t **jobs)
{
	struct ltable t;
	struct { char host[300]; char why[512]; } down[DOWN_HOSTS];
	size_t ndown = 0;
	*jobs = NULL;
	tether_err e = localjobs_read(c, &t);
	if (e != TETHER_E_OK)
		return e;
	bool *fresh = calloc(t.n + 1, sizeof *fresh);
	json_t *arr = json_array();
	if (fresh == NULL || arr == NULL) {
		e = client_fail(c, TETHER_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < t.n; i++) {
		struct ljob *j = &t.jobs[i];
		const char *why = NULL;
		if (!needs_refresh(j)) {   /* finished (or never started): nobody to ask */
			json_array_append_new(arr, localjobs_view(j, NULL));
			continue;
		}
		for (size_t k = 0; k < ndown && why == NULL; k++)
			if (strcmp(down[k].host, j->host) == 0)
				why = down[k].why;
		if (why == NULL) {
			tether_err re = refresh(c, j);
			if (re == TETHER_E_OK) {
				fresh[i] = true;
			} else {
				why = tether_last_error(c)[0] ? tether_last_error(c) : tether_strerror(re);
				/* a host that cannot be reached is not asked again in this list */
				if ((re == TETHER_E_CONNECT || re == TETHER_E_TLS) && ndown < DOWN_HOSTS) {
					snprintf(down[ndown].host, sizeof down[ndown].host, "%s", j->host);
					snprintf(down[ndown].why, sizeof down[ndown].why, "%s", why);
					why = down[ndown++].why;
				}
			}
		}
		json_array_append_new(arr, localjobs_view(j, why));
	}
	struct ltable_update u = { &t, fresh, NULL };
	e = localjobs_edit(c, localjobs_update, &u);
	if (e == TETHER_E_OK) {
		json_t *nested = fleetjobs_nest(&t, arr);
		json_decref(arr);
		arr = nested;
		if (arr == NULL)
			e = client_fail(c, TETHER_E_NOMEM, "out of memory");
	}
out:
	if (e == TETHER_E_OK)
		*jobs = arr;
	else
		json_decref(arr);
	free(fresh);
	localjobs_free(&t);
	return e;
}

/* Ask the remote about j if it may still change (j only, not the table). */
tether_err localjobs_look(tether_client *c, struct ljob *j, bool *asked)
{
	*asked = needs_refresh(j);
	return *asked ? refresh(c, j) : TETHER_E_OK;
}

/* One local job, refreshed. */
tether_err tether_local_job_get(tether_client *c, const char *job, json_t **out)
{
	struct ljob j;
	bool asked;
	*out = NULL;
	tether_err e = localjobs_snapshot(c, job, &j);
	if (e != TETHER_E_OK)
		return e;
	if (j.fleet) {
		e = fleetjobs_each(c, &j, FLEETJOBS_GET, 0, out);
		localjobs_clear(&j);
		return e;
	}
	e = localjobs_look(c, &j, &asked);
	if (e != TETHER_E_OK) {
		*out = localjobs_view(&j, tether_last_error(c));
		localjobs_clear(&j);
		return e;
	}
	if (asked)
		e = localjobs_edit(c, edit_remote, &j);
	if (e == TETHER_E_OK)
		*out = localjobs_view(&j, NULL);
	localjobs_clear(&j);
	return e;
}

/* ---- stopping and removing ----------------------------------------------- */

/* Stop j's remote command if it may still run (j only, not the table). */
tether_err localjobs_stop_remote(tether_client *c, struct ljob *j, bool *asked)
{
	char sess[BOUND_HOSTSPEC + BOUND_NAME + 32], id[24];
	json_t *r = NULL;
	*asked = needs_refresh(j);
	if (!*asked)   /* it has ended (or never started): nothing to stop */
		return TETHER_E_OK;
	remote_session(j, sess, sizeof sess);
	snprintf(id, sizeof id, "%lld", (long long)j->remote_id);
	tether_err e = tether_job_stop(c, sess, id, &r);
	if (e == TETHER_E_NOT_FOUND) {
		mark_gone(j);
		e = TETHER_E_OK;
	} else if (e == TETHER_E_OK) {
		take_remote(j, r);
	}
	json_decref(r);
	return e;
}

/* Stop a local job's remote command. */
tether_err tether_local_job_stop(tether_client *c, const char *job, json_t **out)
{
	struct ljob j;
	bool asked;
	*out = NULL;
	tether_err e = localjobs_snapshot(c, job, &j);
	if (e != TETHER_E_OK)
		return e;
	if (j.fleet) {
		e = fleetjobs_each(c, &j, FLEETJOBS_STOP, 0, out);
		localjobs_clear(&j);
		return e;
	}
	e = localjobs_stop_remote(c, &j, &asked);
	if (e == TETHER_E_OK && asked)
		e = localjobs_edit(c, edit_remote, &j);
	if (e == TETHER_E_OK)
		*out = localjobs_view(&j, NULL);
	localjobs_clear(&j);
	return e;
}

/* Remove j's remote job; a remote one already gone is no failure. */
tether_err localjobs_remove_remote(tether_client *c, struct ljob *j, int force,
                                   char *warning, size_t warningsz)
{
	char sess[BOUND_HOSTSPEC + BOUND_NAME + 32], id[24], why[512];
	json_t *r = NULL;
	if (j->remote_id <= 0)
		return TETHER_E_OK;
	remote_session(j, sess, sizeof sess);
	snprintf(id, sizeof id, "%lld", (long long)j->remote_id);
	tether_err e = tether_job_remove(c, sess, id, force, &r);
	snprintf(why, sizeof why, "%s", tether_last_error(c));
	if (e == TETHER_E_OK)
		take_remote(j, r);
	json_decref(r);
	if (e == TETHER_E_CONFLICT)
		return client_fail(c, e, "job '%s' is running; stop it first, or remove it "
		                   "with --force", j->name);
	if (e != TETHER_E_OK && e != TETHER_E_NOT_FOUND && force) {
		snprintf(warning, warningsz, "the remote job was not removed: %s", why);
		return TETHER_E_OK;
	}
	if (e != TETHER_E_OK && e != TETHER_E_NOT_FOUND)
		return client_fail(c, e, "%s; local job '%s' is kept (--force forgets it)", why,
		                   j->name);
	return TETHER_E_OK;
}

/* After j has left the table: its own session and its local copy go too. */
void localjobs_forget(tether_client *c, const struct ljob *j)
{
	char sess[BOUND_HOSTSPEC + BOUND_NAME + 32], path[BOUND_PATH + 64];
	if (j->own_session) {   /* made for this job: it goes too */
		remote_session(j, sess, sizeof sess);
		tether_session_remove(c, sess, NULL);
		c->errmsg[0] = '\0';
	}
	log_path(c, j->id, path, sizeof path);
	unlink(path);
}

/* Remove a local job, its remote job and its local output. */
tether_err tether_local_job_remove(tether_client *c, const char *job, int force,
                                   json_t **out)
{
	struct ljob j;
	char warning[600] = "";
	*out = NULL;
	tether_err e = localjobs_snapshot(c, job, &j);
	if (e != TETHER_E_OK)
		return e;
	if (j.fleet) {
		e = fleetjobs_each(c, &j, FLEETJOBS_REMOVE, force, out);
		localjobs_clear(&j);
		return e;
	}
	e = localjobs_remove_remote(c, &j, force, warning, sizeof warning);
	if (e == TETHER_E_OK)
		e = localjobs_edit(c, localjobs_drop, &j.id);
	if (e == TETHER_E_OK) {
		localjobs_forget(c, &j);
		*out = localjobs_view(&j, NULL);
		if (warning[0] && *out != NULL)
			json_object_set_new(*out, "warning", json_string(warning));
	}
	localjobs_clear(&j);
	return e;
}

/* ---- receiving ------------------------------------------------------------ */

/* What a receive call carries between chunks. */
struct recv {
	int64_t                     id;
	bool                        keep;
	int64_t                     shown;     /* copy offset written to out so far */
	int64_t                     written;   /* bytes written to out by this call */
	const struct tether_output *out;
	tether_err                  local_err; /* a failure here, not of the remote */
};

/* outlog_parse callback for a local copy; remembers a failed write. */
struct emit_ctx {
	const struct tether_output *out;
	bool                        write_failed;
};
static int emit_record(void *ctx, int stream, const uint8_t *data, size_t len)
{
	struct emit_ctx *x = ctx;
	if (x->out->write(x->out->ctx, stream, data, len) != 0) {
		x->write_failed = true;
		return 1;
	}
	return 0;
}

/* Write the records of the copy between offsets from and to to out. */
static tether_err emit(tether_client *c, int64_t id, int64_t from, int64_t to,
                       const struct tether_output *out)
{
	char path[BOUND_PATH + 64];
	struct emit_ctx x = { out, false };
	tether_err e = TETHER_E_OK;
	if (from >= to)
		return TETHER_E_OK;
	log_path(c, id, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return client_fail(c, TETHER_E_IO, "cannot read %s: %s", path, strerror(errno));
	uint8_t *buf = malloc(COPY_CHUNK);
	size_t have = 0;
	int64_t pos = from;   /* the copy offset of buf[0] */
	if (buf == NULL) {
		close(fd);
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	}
	while (pos < to) {
		int64_t left = to - pos - (int64_t)have;
		size_t room = COPY_CHUNK - have;
		if (left > 0 && room > 0) {
			size_t want = left < (int64_t)room ? (size_t)left : room;
			ssize_t n = pread(fd, buf + have, want, (off_t)(pos + (int64_t)have));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				e = client_fail(c, TETHER_E_IO, "%s is shorter than the local job table "
				                "says", path);
				break;
			}
			have += (size_t)n;
			left -= n;
		}
		long used = outlog_parse(buf, have, emit_record, &x);
		if (used < 0 || (used == 0 && (left <= 0 || have == COPY_CHUNK))) {
			/* a bad header, or a record that cannot complete */
			e = x.write_failed ? client_fail(c, TETHER_E_IO, "cannot write the output")
			                   : client_fail(c, TETHER_E_IO, "%s is damaged", path);
			break;
		}
		memmove(buf, buf + used, have - (size_t)used);
		have -= (size_t)used;
		pos += used;
	}
	free(buf);
	close(fd);
	return e;
}

/* localjobs_edit: move the job's delivered cursor forward to *arg's offset. */
struct upto { int64_t id, offset; };
static tether_err edit_delivered(tether_client *c, struct ltable *t, void *arg)
{
	const struct upto *u = arg;
	struct ljob *j = localjobs_find(t, u->id);
	(void)c;
	if (j != NULL && j->delivered < u->offset && u->offset <= j->log_size)
		j->delivered = u->offset;
	return TETHER_E_OK;
}

/* Write what the copy holds past what this call has shown, and mark it
 * received unless keep. */
static tether_err show_new(tether_client *c, struct recv *rv, int64_t size)
{
	if (size <= rv->shown)
		return TETHER_E_OK;
	tether_err e = emit(c, rv->id, rv->shown, size, rv->out);
	if (e != TETHER_E_OK)
		return e;
	rv->written += size - rv->shown;
	rv->shown = size;
	if (rv->keep)
		return TETHER_E_OK;
	struct upto u = { rv->id, size };
	return localjobs_edit(c, edit_delivered, &u);
}

/* A chunk of remote output on its way into the copy. */
struct chunk {
	int64_t                  id, offset;
	const uint8_t           *raw;
	size_t                   len;
	const struct reply_info *ri;
	int64_t                  size;   /* out: the copy's size afterwards */
};

/* Append bytes at the copy's valid end (cutting off any remains of a crash). */
static tether_err append_copy(tether_client *c, int64_t id, int64_t at, const uint8_t *p,
                              size_t n)
{
	char path[BOUND_PATH + 64];
	state_path(c, path, sizeof path, LOG_DIR);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return client_fail(c, TETHER_E_IO, "cannot create %s: %s", path, strerror(errno));
	log_path(c, id, path, sizeof path);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return client_fail(c, TETHER_E_IO, "cannot open %s: %s", path, strerror(errno));
	bool ok = ftruncate(fd, (off_t)at) == 0 && lseek(fd, (off_t)at, SEEK_SET) == (off_t)at &&
	          fileio_write_all(fd, p, n) == 0 && fsync(fd) == 0;
	int saved = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	return ok ? TETHER_E_OK
	          : client_fail(c, TETHER_E_IO, "cannot write %s: %s", path, strerror(saved));
}

/* localjobs_edit: add a chunk to the copy, skipping what another receiver has
 * copied already, and record how far the remote log has been copied. */
static tether_err edit_chunk(tether_client *c, struct ltable *t, void *arg)
{
	struct chunk *k = arg;
	struct ljob *j = localjobs_find(t, k->id);
	if (j == NULL)
		return client_fail(c, TETHER_E_NOT_FOUND, "local job %lld was removed meanwhile",
		                   (long long)k->id);
	if (k->offset > j->fetched)
		return client_fail(c, TETHER_E_PROTOCOL, "the remote output of job '%s' has a gap",
		                   j->name);
	int64_t skip = j->fetched - k->offset;
	if (k->ri->next != k->offset + (int64_t)k->len)   /* a drop marker: all or nothing */
		skip = j->fetched >= k->ri->next ? (int64_t)k->len : 0;
	if (skip < (int64_t)k->len) {
		const uint8_t *p = k->raw + skip;
		size_t n = k->len - (size_t)skip;
		if (outlog_parse(p, n, NULL, NULL) != (long)n)
			return client_fail(c, TETHER_E_PROTOCOL, "malformed output from %s", j->host);
		tether_err e = append_copy(c, j->id, j->log_size, p, n);
		if (e != TETHER_E_OK)
			return e;
		j->log_size += (int64_t)n;
	}
	if (k->ri->next > j->fetched)
		j->fetched = k->ri->next;
	if (known_state(k->ri->state) && !localjobs_final_state(j->state))
		snprintf(j->state, sizeof j->state, "%s", k->ri->state);
	if (k->ri->done) {
		j->remote_done = true;
		j->remote_more = false;
		j->exit_code = k->ri->exit_code >= 0 && k->ri->exit_code <= 255 ? k->ri->exit_code
		                                                                : -1;
		j->signal = k->ri->signal > 0 && k->ri->signal <= 128 ? k->ri->signal : 0;
	}
	k->size = j->log_size;
	return TETHER_E_OK;
}

/* job_sink: copy a chunk, then show what is new. */
static tether_err on_chunk(void *ctx, tether_client *c, int64_t offset, const uint8_t *raw,
                           size_t len, const struct reply_info *ri)
{
	struct recv *rv = ctx;
	struct chunk k = { rv->id, offset, raw, len, ri, 0 };
	if (len == 0 && !ri->done)
		return TETHER_E_OK;   /* a long poll that saw nothing */
	tether_err e = localjobs_edit(c, edit_chunk, &k);
	if (e == TETHER_E_OK)
		e = show_new(c, rv, k.size);
	rv->local_err = e;
	return e;
}

/* Receive a local job's output. */
tether_err tether_local_job_receive(tether_client *c, const char *job, int keep, int wait,
                                    const struct tether_output *out, int *status,
                                    int *local_only, json_t **final)
{
	struct ljob j, now;
	char sess[BOUND_HOSTSPEC + BOUND_NAME + 32], ref[BOUND_NAME + 1];
	struct target t;
	*status = -1;
	*local_only = 0;
	if (final != NULL)
		*final = NULL;
	tether_err e = localjobs_snapshot(c, job, &j);
	if (e != TETHER_E_OK)
		return e;
	struct recv rv = { j.id, keep != 0, j.delivered, 0, out, TETHER_E_OK };
	if ((e = show_new(c, &rv, j.log_size)) != TETHER_E_OK)
		goto out;
	tether_err remote = TETHER_E_OK;
	if (!j.remote_done && j.remote_id > 0) {
		struct job_sink sink = { on_chunk, &rv };
		remote_session(&j, sess, sizeof sess);
		remote = client_resolve_session(c, sess, &t, ref);
		if (remote == TETHER_E_OK)
			/* never keep=1 remotely: what is copied here counts as received there */
			remote = job_stream(c, &t, ref, j.remote_id, j.fetched, false, wait != 0,
			                    &sink, status);
		if (rv.local_err != TETHER_E_OK) {
			e = rv.local_err;
			goto out;
		}
	}
	/* the entry as it is now, for the status and the final object */
	localjobs_clear(&j);
	if ((e = localjobs_snapshot(c, job, &j)) != TETHER_E_OK)
		goto out;
	if (remote == TETHER_E_OK) {
		if (*status >= 0 && ljob_copy(&now, &j) == 0) {
			/* just ended: ask once more for what only the job object has (ended) */
			if (refresh(c, &now) == TETHER_E_OK &&
			    localjobs_edit(c, edit_remote, &now) == TETHER_E_OK)
				copy_remote(&j, &now);
			localjobs_clear(&now);
			c->errmsg[0] = '\0';
		}
		if (*status < 0)
			*status = status_of(&j);
		if (final != NULL)
			*final = localjobs_view(&j, NULL);
		goto out;
	}
	/* the remote could not be read: what is held here has been shown */
	char why[512];
	snprintf(why, sizeof why, "%s", tether_last_error(c)[0] ? tether_last_error(c)
	                                                        : tether_strerror(remote));
	if (remote == TETHER_E_NOT_FOUND) {
		mark_gone(&j);
		localjobs_edit(c, edit_remote, &j);
		snprintf(why, sizeof why, "%s", j.error);
	}
	if (final != NULL)
		*final = localjobs_view(&j, remote == TETHER_E_NOT_FOUND ? NULL : why);
	if (wait || rv.written == 0) {
		e = client_fail(c, remote, "%s", why);
	} else {
		*local_only = 1;
		client_fail(c, remote, "%s", why);
	}
out:
	localjobs_clear(&j);
	return e;
}
