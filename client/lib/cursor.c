/*
 * cursor.c - where this client stopped in a job's output when a stream
 * broke (docs/security.md, "Output after a daemon crash").
 *
 * The server moves a job's delivered cursor when the next request
 * acknowledges a reply, so after a crash its cursor lags what this client
 * has already written by up to one reply. When a stream breaks, the byte
 * this client had reached is noted here ($TETHER_HOME state dir,
 * cursors.json, 0600), keyed by host and job; the next receive of that job
 * from this client starts there, so no byte is delivered twice. Entries are
 * taken when used and bounded in number. The notes file below serves
 * copies.json too (copy.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client-int.h"
#include "fileio.h"
#include "jsonu.h"

#define CURSOR_FILE  "cursors.json"
#define NOTES_MAX    256                    /* entries kept; the oldest go first */
#define NOTES_TTL    (7 * 24 * 3600)        /* seconds an entry is trusted */
#define NOTES_BYTES  (256 * 1024)           /* the file is never larger */

/* ---- a notes file: entries keyed by name, each with its "saved" time ---- */

json_t *notes_load(tether_client *c, const char *file)
{
	char path[BOUND_PATH + 32], why[160];
	size_t len = 0;
	snprintf(path, sizeof path, "%s/%s", c->state_dir, file);
	char *text = fileio_read(path, NOTES_BYTES, &len);
	json_t *all = text ? jsonu_parse_object(text, len, why, sizeof why) : NULL;
	free(text);
	return all ? all : json_object();
}

void notes_store(tether_client *c, const char *file, json_t *all)
{
	char path[BOUND_PATH + 32];
	const char *k;
	json_t *v, *tmp;
	int64_t now = (int64_t)time(NULL);
	json_object_foreach_safe(all, tmp, k, v) {
		int64_t at = json_integer_value(json_object_get(v, "saved"));
		if (now - at > NOTES_TTL || at > now + 60)
			json_object_del(all, k);
	}
	while (json_object_size(all) > NOTES_MAX) {
		const char *oldest = NULL;
		int64_t t_old = INT64_MAX;
		json_object_foreach(all, k, v) {
			int64_t at = json_integer_value(json_object_get(v, "saved"));
			if (at < t_old) {
				t_old = at;
				oldest = k;
			}
		}
		json_object_del(all, oldest);
	}
	snprintf(path, sizeof path, "%s/%s", c->state_dir, file);
	char *text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
	if (text != NULL)
		fileio_write_atomic(path, text, strlen(text), 0600);
	free(text);
}

/* ---- job output cursors ---- */

/* The entry key: "host:port#job". */
static void cursor_key(const struct target *t, int64_t job, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s#%lld", t->key, (long long)job);
}

/* Note that job's output on t was written up to offset; see client-int.h. */
void cursor_save(tether_client *c, const struct target *t, int64_t job, int64_t offset)
{
	char key[sizeof t->key + 24];
	json_t *all = notes_load(c, CURSOR_FILE);
	cursor_key(t, job, key, sizeof key);
	json_object_set_new(all, key, json_pack("{s:I,s:I}", "offset", (json_int_t)offset,
	                                        "saved", (json_int_t)time(NULL)));
	notes_store(c, CURSOR_FILE, all);
	json_decref(all);
}

/* Take the noted offset of job on t; see client-int.h. */
int64_t cursor_take(tether_client *c, const struct target *t, int64_t job)
{
	char key[sizeof t->key + 24];
	json_t *all = notes_load(c, CURSOR_FILE);
	cursor_key(t, job, key, sizeof key);
	json_t *v = json_object_get(all, key);
	int64_t offset = -1;
	if (v != NULL) {
		json_t *o = json_object_get(v, "offset");
		if (json_is_integer(o) && json_integer_value(o) >= 0)
			offset = json_integer_value(o);
		json_object_del(all, key);
		notes_store(c, CURSOR_FILE, all);
	}
	json_decref(all);
	return offset;
}
