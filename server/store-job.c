/*
 * store-job.c - job rows and their delivered-output cursors.
 *
 * "One command at a time per session" is enforced here, inside one
 * IMMEDIATE transaction that checks for a running exclusive job and inserts
 * the new one, so two racing invokes cannot both start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"
#include "strparse.h"

_Static_assert(JOB_RUNNING == 1 && JOB_BLOCKED == 5, "RUNNING_STATES is out of date");

#define JOB_COLS "j.id, j.session_id, j.name, j.type, j.state, j.command, " \
	"j.exit_code, j.term_signal, j.started, j.ended, j.error, j.stop_requested, " \
	"COALESCE((SELECT delivered FROM output_cursors c WHERE c.job_id = j.id AND " \
	"c.reader = 'default'), 0)"

#define EXCLUSIVE_TYPES "('invoke', 'shell')"
/* JOB_RUNNING and JOB_BLOCKED (proto.h) as an SQL list */
#define RUNNING_STATES "(1, 5)"

/* Free a job record's command. */
void job_rec_clear(struct job_rec *j)
{
	free(j->command);
	j->command = NULL;
}

/* Fill a job_rec from a row of JOB_COLS. */
static void job_from_row(sqlite3_stmt *s, struct job_rec *j)
{
	memset(j, 0, sizeof *j);
	j->id = sqlite3_column_int64(s, 0);
	j->session_id = sqlite3_column_int64(s, 1);
	store_col_text(s, 2, j->name, sizeof j->name);
	char type[16];
	store_col_text(s, 3, type, sizeof type);
	j->type = proto_job_type_parse(type);
	if (j->type < 0)
		j->type = JOB_TYPE_BACKGROUND;   /* never written by tetherd: the plainest kind */
	j->state = sqlite3_column_int(s, 4);
	const unsigned char *cmd = sqlite3_column_text(s, 5);
	j->command = strdup(cmd ? (const char *)cmd : "");
	j->exit_code = sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 6);
	j->term_signal = sqlite3_column_int(s, 7);
	j->started = sqlite3_column_int64(s, 8);
	j->ended = sqlite3_column_int64(s, 9);
	store_col_text(s, 10, j->error, sizeof j->error);
	j->stop_requested = sqlite3_column_int(s, 11) != 0;
	j->delivered = sqlite3_column_int64(s, 12);
}

/* Create a job. */
tether_err store_job_create(struct store *st, struct job_rec *j, bool exclusive)
{
	tether_err e = TETHER_E_INTERNAL;
	sqlite3_stmt *s = NULL;
	bool named = j->name[0] != '\0';
	pthread_mutex_lock(&st->lock);
	if (store_exec(st, "BEGIN IMMEDIATE") != 0)
		goto unlock;
	if (exclusive) {
		s = store_prepare(st, "SELECT count(*) FROM jobs WHERE session_id = ? AND "
		                  "state IN " RUNNING_STATES " AND type IN " EXCLUSIVE_TYPES);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, j->session_id);
		if (sqlite3_step(s) != SQLITE_ROW)
			goto out;
		if (sqlite3_column_int(s, 0) > 0) {
			e = TETHER_E_CONFLICT;
			goto out;
		}
		store_release(st, s);
	}
	s = store_prepare(st, "INSERT INTO jobs(session_id, name, type, state, command, "
	                  "started) VALUES(?, ?, ?, ?, ?, ?)");
	if (s == NULL)
		goto out;
	char placeholder[32];
	snprintf(placeholder, sizeof placeholder, ".pending%lld", (long long)j->started);
	sqlite3_bind_int64(s, 1, j->session_id);
	sqlite3_bind_text(s, 2, named ? j->name : placeholder, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, proto_job_type_str(j->type), -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, j->state);
	sqlite3_bind_text(s, 5, j->command, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, j->started);
	if (sqlite3_step(s) != SQLITE_DONE) {
		e = sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE
		    ? TETHER_E_CONFLICT : store_fail(st, "job_insert");
		if (e == TETHER_E_CONFLICT && !named)
			e = TETHER_E_INTERNAL;
		goto out;
	}
	j->id = sqlite3_last_insert_rowid(st->db);
	store_release(st, s);
	s = NULL;
	if (!named) {
		snprintf(j->name, sizeof j->name, "Job%lld", (long long)j->id);
		s = store_prepare(st, "UPDATE jobs SET name = ? WHERE id = ?");
		if (s == NULL)
			goto out;
		sqlite3_bind_text(s, 1, j->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, j->id);
		if (sqlite3_step(s) != SQLITE_DONE) {
			/* a user already named a job "Job<id>": keep a unique variant */
			snprintf(j->name, sizeof j->name, "Job%lld-%lld", (long long)j->id,
			         (long long)j->started);
			sqlite3_reset(s);
			if (sqlite3_step(s) != SQLITE_DONE)
				goto out;
		}
	}
	e = TETHER_E_OK;
out:
	store_release(st, s);
	e = store_end(st, e);
unlock:
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Run a job query returning at most one row. */
static tether_err job_one(struct store *st, const char *sql, int64_t a, const char *b,
                          int64_t c, struct job_rec *out)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, sql);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, a);
		if (b != NULL)
			sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(s, 2, c);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			job_from_row(s, out);
			e = TETHER_E_OK;
		} else {
			e = rc == SQLITE_DONE ? TETHER_E_NOT_FOUND : store_fail(st, "job_get");
		}
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Find a session's job by id or name. */
tether_err store_job_get(struct store *st, int64_t session_id, const char *ref,
                         struct job_rec *out)
{
	uint64_t id;
	if (strparse_is_digits(ref)) {
		if (strparse_u64(ref, 1, INT64_MAX, &id) != 0)
			return TETHER_E_NOT_FOUND;
		return job_one(st, "SELECT " JOB_COLS " FROM jobs j WHERE j.session_id = ? "
		               "AND j.id = ?", session_id, NULL, (int64_t)id, out);
	}
	return job_one(st, "SELECT " JOB_COLS " FROM jobs j WHERE j.session_id = ? AND "
	               "j.name = ?", session_id, ref, 0, out);
}

/* The latest exclusive job of a session. */
tether_err store_job_latest(struct store *st, int64_t session_id, struct job_rec *out)
{
	return job_one(st, "SELECT " JOB_COLS " FROM jobs j WHERE j.session_id = ? AND "
	               "j.type IN " EXCLUSIVE_TYPES " AND j.id > ? ORDER BY j.id DESC LIMIT 1",
	               session_id, NULL, 0, out);
}

/* Iterate jobs matching a query with one integer parameter (or none). */
static tether_err job_iter(struct store *st, const char *sql, int64_t param, bool bind,
                           store_job_cb cb, void *ctx)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, sql);
	if (s != NULL) {
		if (bind)
			sqlite3_bind_int64(s, 1, param);
		int rc;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct job_rec j;
			job_from_row(s, &j);
			cb(ctx, &j);
			job_rec_clear(&j);
		}
		e = rc == SQLITE_DONE ? TETHER_E_OK : store_fail(st, "job_list");
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

tether_err store_job_list_running(struct store *st, store_job_cb cb, void *ctx)
{
	return job_iter(st, "SELECT " JOB_COLS " FROM jobs j WHERE j.state IN " RUNNING_STATES
	                " ORDER BY j.id", 0, false, cb, ctx);
}

tether_err store_job_briefs(struct store *st, int64_t user, int64_t session,
                            store_brief_cb cb, void *ctx)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, "SELECT j.session_id, j.id, j.name, j.type, j.state, "
		"COALESCE(t.state, '') FROM jobs j JOIN sessions s ON s.id = j.session_id "
		"LEFT JOIN transfers t ON t.job_id = j.id WHERE (?1 < 0 OR s.user_id = ?1) AND "
		"(?2 = 0 OR j.session_id = ?2) ORDER BY j.session_id, j.id DESC");
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, user);
		sqlite3_bind_int64(s, 2, session);
		int rc;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct job_brief b;
			char type[16];
			b.session_id = sqlite3_column_int64(s, 0);
			b.id = sqlite3_column_int64(s, 1);
			store_col_text(s, 2, b.name, sizeof b.name);
			store_col_text(s, 3, type, sizeof type);
			b.type = proto_job_type_parse(type);
			if (b.type < 0)
				b.type = JOB_TYPE_BACKGROUND;   /* as job_from_row */
			b.state = sqlite3_column_int(s, 4);
			store_col_text(s, 5, b.xstate, sizeof b.xstate);
			cb(ctx, &b);
		}
		e = rc == SQLITE_DONE ? TETHER_E_OK : store_fail(st, "job_briefs");
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

tether_err store_job_list_session(struct store *st, int64_t session_id,
                                  store_job_cb cb, void *ctx)
{
	return job_iter(st, "SELECT " JOB_COLS " FROM jobs j WHERE j.session_id = ? "
	                "ORDER BY j.id", session_id, true, cb, ctx);
}

/* Run an UPDATE with integer/text parameters; changes() == 0 is fine. */
static tether_err job_update(struct store *st, const char *what, const char *sql,
                             int n, const int64_t *ints, const char *text)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, sql);
	if (s != NULL) {
		int i = 1;
		if (text != NULL)
			sqlite3_bind_text(s, i++, text, -1, SQLITE_STATIC);
		for (int k = 0; k < n; k++)
			sqlite3_bind_int64(s, i++, ints[k]);
		e = sqlite3_step(s) == SQLITE_DONE ? TETHER_E_OK : store_fail(st, what);
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Record a job's end; a job already finished keeps its first ending. */
tether_err store_job_finish(struct store *st, int64_t id, int state, int exit_code,
                            int term_signal, int64_t ended, const char *error)
{
	int64_t v[5] = { state, exit_code, term_signal, ended, id };
	static const char sql[] = "UPDATE jobs SET error = ?, state = ?, "
	                          "exit_code = NULLIF(?, -1), term_signal = ?, ended = ? "
	                          "WHERE id = ? AND state IN " RUNNING_STATES;
	tether_err e = job_update(st, "job_finish", sql, 5, v, error ? error : "");
	/* a job's end is never lost to a full disk: the reserve pays for it */
	if (e == TETHER_E_INSUFFICIENT_STORAGE && store_use_reserve(st))
		e = job_update(st, "job_finish", sql, 5, v, error ? error : "");
	return e;
}

tether_err store_job_set_stop(struct store *st, int64_t id)
{
	return job_update(st, "job_stop", "UPDATE jobs SET stop_requested = 1 WHERE id = ?",
	                  1, &id, NULL);
}

tether_err store_job_set_delivered(struct store *st, int64_t id, int64_t offset)
{
	int64_t v[2] = { id, offset };
	return job_update(st, "job_delivered", "INSERT INTO output_cursors(job_id, reader, "
	                  "delivered) VALUES(?, 'default', ?) ON CONFLICT(job_id, reader) "
	                  "DO UPDATE SET delivered = max(delivered, excluded.delivered)",
	                  2, v, NULL);
}

/* Any job by id (daemon-internal: no user scoping). */
tether_err store_job_by_id(struct store *st, int64_t id, struct job_rec *out)
{
	return job_one(st, "SELECT " JOB_COLS " FROM jobs j WHERE j.id = ? AND j.id = ?",
	               id, NULL, id, out);
}

/* Delete a job row. */
tether_err store_job_remove(struct store *st, int64_t id)
{
	return job_update(st, "job_remove", "DELETE FROM jobs WHERE id = ?", 1, &id, NULL);
}
