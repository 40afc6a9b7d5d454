/*
 * store-session.c - session rows.
 *
 * Every query is scoped by user id: another user's session is simply not
 * found, which is how isolation shows up on the wire (404, never 403, so ids
 * do not leak). A session reference is an id if it is all digits, else a name.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"
#include "strparse.h"

#define SESSION_COLS "id, user_id, name, state, availability, client_id, created, " \
	"last_activity, idle_timeout, output_buffering, lease_expires, " \
	"EXISTS(SELECT 1 FROM jobs j WHERE j.session_id = sessions.id AND " \
	"j.state IN (1, 5) AND j.type IN ('invoke', 'shell')), " \
	"EXISTS(SELECT 1 FROM jobs j WHERE j.session_id = sessions.id AND j.state IN (1, 5))"

/* Lists take the same columns without the two subqueries per row (a
 * session list of 100,000 sessions spent most of its time in them): the
 * running-job flags come from one query over the running jobs instead
 * (running_load, running_mark). */
#define SESSION_LIST_COLS "id, user_id, name, state, availability, client_id, created, " \
	"last_activity, idle_timeout, output_buffering, lease_expires, 0, 0"

/* Sessions with a running or blocked job, by id: whether one of those is
 * an invoke or shell (busy). */
struct running {
	int64_t *ids;
	bool    *busy;
	size_t   n, cap;
};

/* Fill a session_rec from a row of SESSION_COLS. */
static void session_from_row(sqlite3_stmt *s, struct session_rec *r)
{
	r->id = sqlite3_column_int64(s, 0);
	r->user_id = sqlite3_column_int64(s, 1);
	store_col_text(s, 2, r->name, sizeof r->name);
	r->state = sqlite3_column_int(s, 3);
	r->availability = sqlite3_column_int(s, 4);
	store_col_text(s, 5, r->client_id, sizeof r->client_id);
	r->created = sqlite3_column_int64(s, 6);
	r->last_activity = sqlite3_column_int64(s, 7);
	r->idle_timeout = sqlite3_column_int64(s, 8);
	r->output_buffering = sqlite3_column_int(s, 9);
	r->lease_expires = sqlite3_column_int64(s, 10);
	r->busy = sqlite3_column_int(s, 11) != 0;
	r->active = sqlite3_column_int(s, 12) != 0;
}

/* Load the sessions (of user_id, or every user's if it is negative) that
 * have a running or blocked job, in id order; 0 or -1 (lock held). */
static int running_load(struct store *st, int64_t user_id, struct running *rs)
{
	sqlite3_stmt *s = store_prepare(st, user_id >= 0
		? "SELECT j.session_id, MAX(j.type IN ('invoke', 'shell')) FROM jobs j "
		  "JOIN sessions s ON s.id = j.session_id WHERE j.state IN (1, 5) AND "
		  "s.user_id = ? GROUP BY j.session_id ORDER BY j.session_id"
		: "SELECT session_id, MAX(type IN ('invoke', 'shell')) FROM jobs "
		  "WHERE state IN (1, 5) GROUP BY session_id ORDER BY session_id");
	if (s == NULL)
		return -1;
	if (user_id >= 0)
		sqlite3_bind_int64(s, 1, user_id);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (rs->n == rs->cap) {
			size_t cap = rs->cap ? rs->cap * 2 : 64;
			int64_t *ids = realloc(rs->ids, cap * sizeof *ids);
			if (ids != NULL)
				rs->ids = ids;
			bool *busy = ids ? realloc(rs->busy, cap * sizeof *busy) : NULL;
			if (busy == NULL)
				break;
			rs->busy = busy;
			rs->cap = cap;
		}
		rs->ids[rs->n] = sqlite3_column_int64(s, 0);
		rs->busy[rs->n++] = sqlite3_column_int(s, 1) != 0;
	}
	store_release(st, s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Set r's running-job flags from rs (a binary search by id). */
static void running_mark(const struct running *rs, struct session_rec *r)
{
	size_t lo = 0, hi = rs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rs->ids[mid] < r->id)
			lo = mid + 1;
		else
			hi = mid;
	}
	r->active = lo < rs->n && rs->ids[lo] == r->id;
	r->busy = r->active && rs->busy[lo];
}

static void running_free(struct running *rs)
{
	free(rs->ids);
	free(rs->busy);
}

/* Call cb for each session of the query (SESSION_LIST_COLS; user_id bound
 * as ?1 when it is not negative, after as ?2 and limit as ?3), with its
 * running-job flags. */
static tether_err session_each(struct store *st, const char *sql, int64_t user_id,
                               int64_t after, int64_t limit, store_session_cb cb, void *ctx,
                               const char *what)
{
	tether_err e = TETHER_E_INTERNAL;
	struct running rs = { .n = 0 };
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = running_load(st, user_id, &rs) == 0 ? store_prepare(st, sql) : NULL;
	if (s != NULL) {
		if (user_id >= 0)
			sqlite3_bind_int64(s, 1, user_id);
		sqlite3_bind_int64(s, 2, after);
		sqlite3_bind_int64(s, 3, limit);
		int rc;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct session_rec r;
			session_from_row(s, &r);
			running_mark(&rs, &r);
			cb(ctx, &r);
		}
		e = rc == SQLITE_DONE ? TETHER_E_OK : store_fail(st, what);
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	running_free(&rs);
	return e;
}

/* Count a user's sessions, or -1. */
static int64_t session_count(struct store *st, int64_t user_id)
{
	int64_t n = -1;
	sqlite3_stmt *s = store_prepare(st, "SELECT count(*) FROM sessions WHERE user_id = ?");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, user_id);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	store_release(st, s);
	return n;
}

/* Insert the row; CONFLICT if the name is taken. */
static tether_err session_insert(struct store *st, struct session_rec *r)
{
	sqlite3_stmt *s = store_prepare(st,
		"INSERT INTO sessions(user_id, name, state, availability, client_id, "
		"created, last_activity, idle_timeout, output_buffering, lease_expires) "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (s == NULL)
		return TETHER_E_INTERNAL;
	sqlite3_bind_int64(s, 1, r->user_id);
	sqlite3_bind_text(s, 2, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, r->state);
	sqlite3_bind_int(s, 4, r->availability);
	sqlite3_bind_text(s, 5, r->client_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, r->created);
	sqlite3_bind_int64(s, 7, r->last_activity);
	sqlite3_bind_int64(s, 8, r->idle_timeout);
	sqlite3_bind_int(s, 9, r->output_buffering);
	sqlite3_bind_int64(s, 10, r->lease_expires);
	tether_err e = TETHER_E_OK;
	if (sqlite3_step(s) != SQLITE_DONE)
		e = sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE
		    ? TETHER_E_CONFLICT : store_fail(st, "session_insert");
	else
		r->id = sqlite3_last_insert_rowid(st->db);
	store_release(st, s);
	return e;
}

/* Give a just-inserted session the first free generated name. */
static tether_err session_name_generated(struct store *st, struct session_rec *r)
{
	for (int attempt = 1; attempt <= 100; attempt++) {
		if (attempt == 1)
			snprintf(r->name, sizeof r->name, "Session%lld", (long long)r->id);
		else
			snprintf(r->name, sizeof r->name, "Session%lld-%d", (long long)r->id, attempt);
		sqlite3_stmt *s = store_prepare(st, "UPDATE sessions SET name = ? WHERE id = ?");
		if (s == NULL)
			return TETHER_E_INTERNAL;
		sqlite3_bind_text(s, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, r->id);
		int rc = sqlite3_step(s);
		int ext = sqlite3_extended_errcode(st->db);
		store_release(st, s);
		if (rc == SQLITE_DONE)
			return TETHER_E_OK;
		if (ext != SQLITE_CONSTRAINT_UNIQUE)
			return store_fail(st, "session_name");
	}
	return TETHER_E_CONFLICT;
}

/* Create a session; an empty name gets a generated one. */
tether_err store_session_create(struct store *st, struct session_rec *r,
                                int64_t max_per_user)
{
	tether_err e = TETHER_E_INTERNAL;
	bool generate = r->name[0] == '\0';
	pthread_mutex_lock(&st->lock);
	if (store_exec(st, "BEGIN IMMEDIATE") != 0)
		goto out;
	int64_t n = session_count(st, r->user_id);
	if (n < 0) {
		e = TETHER_E_INTERNAL;
	} else if (n >= max_per_user) {
		e = TETHER_E_LIMIT_EXCEEDED;
	} else {
		if (generate)   /* a placeholder no user can choose: names start with a letter */
			snprintf(r->name, sizeof r->name, ".pending");
		e = session_insert(st, r);
		if (e == TETHER_E_OK && generate)
			e = session_name_generated(st, r);
	}
	e = store_end(st, e);
out:
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Find a user's session by id or name. */
tether_err store_session_get(struct store *st, int64_t user_id, const char *ref,
                             struct session_rec *out)
{
	tether_err e = TETHER_E_INTERNAL;
	uint64_t id = 0;
	bool by_id = strparse_is_digits(ref);
	if (by_id && strparse_u64(ref, 1, INT64_MAX, &id) != 0)
		return TETHER_E_NOT_FOUND;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, by_id
		? "SELECT " SESSION_COLS " FROM sessions WHERE user_id = ? AND id = ?"
		: "SELECT " SESSION_COLS " FROM sessions WHERE user_id = ? AND name = ?");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, user_id);
	if (by_id)
		sqlite3_bind_int64(s, 2, (int64_t)id);
	else
		sqlite3_bind_text(s, 2, ref, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		session_from_row(s, out);
		e = TETHER_E_OK;
	} else {
		e = rc == SQLITE_DONE ? TETHER_E_NOT_FOUND : store_fail(st, "session_get");
	}
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Read any user's session by its id (an administrator's --all-users). */
tether_err store_session_by_id(struct store *st, int64_t id, struct session_rec *out)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"SELECT " SESSION_COLS " FROM sessions WHERE id = ?");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		session_from_row(s, out);
		e = TETHER_E_OK;
	} else {
		e = rc == SQLITE_DONE ? TETHER_E_NOT_FOUND : store_fail(st, "session_by_id");
	}
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Call cb for each of a user's sessions, oldest first. */
tether_err store_session_list(struct store *st, int64_t user_id,
                              store_session_cb cb, void *ctx)
{
	return store_session_page(st, user_id < 0 ? 0 : user_id, 0, -1, cb, ctx);
}

tether_err store_session_page(struct store *st, int64_t user_id, int64_t after,
                              int64_t limit, store_session_cb cb, void *ctx)
{
	if (user_id < 0)
		return session_each(st, "SELECT " SESSION_LIST_COLS " FROM sessions WHERE id > ?2 "
		                    "ORDER BY id LIMIT ?3", -1, after, limit, cb, ctx,
		                    "session_list_all");
	return session_each(st, "SELECT " SESSION_LIST_COLS " FROM sessions WHERE user_id = ?1 "
	                    "AND id > ?2 ORDER BY id LIMIT ?3", user_id, after, limit, cb, ctx,
	                    "session_list");
}

/* Delete a user's session (and by cascade its jobs). */
tether_err store_session_remove(struct store *st, int64_t user_id, int64_t id)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"DELETE FROM sessions WHERE user_id = ? AND id = ?");
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, user_id);
		sqlite3_bind_int64(s, 2, id);
		if (sqlite3_step(s) == SQLITE_DONE)
			e = sqlite3_changes(st->db) > 0 ? TETHER_E_OK : TETHER_E_NOT_FOUND;
		else
			e = store_fail(st, "session_remove");
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Run an UPDATE on one session row. */
static tether_err session_update(struct store *st, const char *sql, int n,
                                 const int64_t *ints, const char *text, int64_t id)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, sql);
	if (s != NULL) {
		int i = 1;
		for (int k = 0; k < n; k++)
			sqlite3_bind_int64(s, i++, ints[k]);
		if (text != NULL)
			sqlite3_bind_text(s, i++, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, i, id);
		if (sqlite3_step(s) == SQLITE_DONE)
			e = sqlite3_changes(st->db) > 0 ? TETHER_E_OK : TETHER_E_NOT_FOUND;
		else
			e = store_fail(st, "session_update");
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Set who holds a session. */
tether_err store_session_set_conn(struct store *st, int64_t id, int state,
                                  const char *client_id, int64_t lease_expires)
{
	int64_t v[2] = { state, lease_expires };
	return session_update(st, "UPDATE sessions SET state = ?, lease_expires = ?, "
	                      "client_id = ? WHERE id = ?", 2, v, client_id, id);
}

/* Renew the lease and record activity. */
tether_err store_session_touch(struct store *st, int64_t id, int64_t lease_expires,
                               int64_t now)
{
	int64_t v[2] = { lease_expires, now };
	return session_update(st, "UPDATE sessions SET lease_expires = CASE WHEN ?1 > 0 "
	                      "THEN ?1 ELSE lease_expires END, last_activity = ?2 WHERE id = ?3",
	                      2, v, NULL, id);
}

/* Change a session's idle timeout and output buffering. */
tether_err store_session_set_options(struct store *st, int64_t id, int64_t idle_timeout,
                                     int buffering)
{
	int64_t v[2] = { idle_timeout, buffering };
	return session_update(st, "UPDATE sessions SET idle_timeout = ?1, "
	                      "output_buffering = ?2 WHERE id = ?3", 2, v, NULL, id);
}

/* Every session (for the monitor). */
tether_err store_session_list_all(struct store *st, store_session_cb cb, void *ctx)
{
	return store_session_page(st, -1, 0, -1, cb, ctx);
}
