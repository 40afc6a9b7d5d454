/*
 * store-transfer.c - transfer jobs: the transfers row and its files.
 *
 * A transfer is a job (jobs row of type "transfer", which keeps its session
 * active) plus a transfers row with the scheduling state and one
 * transfer_files row per file. The state is stored by its wire spelling so
 * the database reads plainly; options and notes are JSON text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

/* Live transfers: everything but the two final states. */
#define XFER_LIVE "state NOT IN ('Acknowledged', 'Cancelled')"

/* Free what an xfer_rec owns. */
void xfer_rec_clear(struct xfer_rec *t)
{
	json_decref(t->options);
	json_decref(t->notes);
	free(t->credentials);
	for (size_t i = 0; i < t->nfiles; i++) {
		free(t->files[i].source);
		free(t->files[i].destination);
	}
	free(t->files);
	t->options = t->notes = NULL;
	t->credentials = NULL;
	t->files = NULL;
	t->nfiles = 0;
}

/* Bind a JSON value as compact text. */
static void bind_json(sqlite3_stmt *s, int col, const json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	if (text != NULL)
		sqlite3_bind_text(s, col, text, -1, free);
	else
		sqlite3_bind_text(s, col, v && json_is_array(v) ? "[]" : "{}", -1, SQLITE_STATIC);
}

/* Write the files of t (all rows, replacing). Store locked. */
static tether_err write_files(struct store *st, struct xfer_rec *t)
{
	sqlite3_stmt *s = store_prepare(st, "INSERT OR REPLACE INTO transfer_files(job_id, idx, "
	                                "source, destination, bytes_total, bytes_transferred, "
	                                "done) VALUES(?,?,?,?,?,?,?)");
	if (s == NULL)
		return TETHER_E_INTERNAL;
	tether_err e = TETHER_E_OK;
	for (size_t i = 0; i < t->nfiles && e == TETHER_E_OK; i++) {
		struct xfer_file *f = &t->files[i];
		if (f->stored && f->stored_total == f->bytes_total &&
		    f->stored_transferred == f->bytes_transferred && f->stored_done == f->done)
			continue;   /* the row holds this already */
		sqlite3_bind_int64(s, 1, t->job_id);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_text(s, 3, f->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, f->destination, -1, SQLITE_STATIC);
		if (f->bytes_total >= 0)
			sqlite3_bind_int64(s, 5, f->bytes_total);
		else
			sqlite3_bind_null(s, 5);
		sqlite3_bind_int64(s, 6, f->bytes_transferred);
		sqlite3_bind_int(s, 7, f->done);
		if (sqlite3_step(s) != SQLITE_DONE)
			e = store_fail(st, "transfer_files");
		sqlite3_reset(s);
		f->stored = true;   /* if the transaction ends well: see forget_stored */
		f->stored_total = f->bytes_total;
		f->stored_transferred = f->bytes_transferred;
		f->stored_done = f->done;
	}
	store_release(st, s);
	return e;
}

/* A write that was rolled back: what the store has is no longer known. */
static void forget_stored(struct xfer_rec *t, tether_err e)
{
	for (size_t i = 0; e != TETHER_E_OK && i < t->nfiles; i++)
		t->files[i].stored = false;
}

/* Bind the mutable columns shared by insert and update (from column 1). */
static void bind_mutable(sqlite3_stmt *s, const struct xfer_rec *t)
{
	sqlite3_bind_text(s, 1, proto_xfer_state_str(t->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, t->priority);
	bind_json(s, 3, t->options);
	if (t->credentials != NULL)
		sqlite3_bind_text(s, 4, t->credentials, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 4);
	sqlite3_bind_int64(s, 5, t->retry_at);
	sqlite3_bind_text(s, 6, t->error_code, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, t->error_message, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, t->error_file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, t->modified);
	sqlite3_bind_int64(s, 10, t->completed);
	sqlite3_bind_int64(s, 11, t->progress_at);
	sqlite3_bind_int64(s, 12, t->last_start);
	bind_json(s, 13, t->notes);
}

/* Create a transfer with its job row. */
tether_err store_xfer_create(struct store *st, struct job_rec *j, struct xfer_rec *t,
                             int64_t max_per_user)
{
	tether_err e = store_job_create(st, j, false);
	if (e != TETHER_E_OK)
		return e;
	t->job_id = j->id;
	snprintf(t->name, sizeof t->name, "%s", j->name);
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = NULL;
	e = TETHER_E_INTERNAL;
	if (store_exec(st, "BEGIN IMMEDIATE") != 0)
		goto unlock;
	s = store_prepare(st, "SELECT count(*) FROM transfers WHERE user_id = ? AND " XFER_LIVE);
	if (s == NULL || (sqlite3_bind_int64(s, 1, t->user_id), sqlite3_step(s)) != SQLITE_ROW)
		goto out;
	if (sqlite3_column_int64(s, 0) >= max_per_user) {
		e = TETHER_E_LIMIT_EXCEEDED;
		goto out;
	}
	store_release(st, s);
	s = store_prepare(st, "INSERT INTO transfers(state, priority, options, credentials, "
	                  "retry_at, error_code, error_message, error_file, modified, completed, "
	                  "progress_at, last_start, notes, job_id, direction, created, user_id) "
	                  "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (s == NULL)
		goto out;
	bind_mutable(s, t);
	sqlite3_bind_int64(s, 14, t->job_id);
	sqlite3_bind_text(s, 15, t->upload ? "upload" : "download", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 16, t->created);
	sqlite3_bind_int64(s, 17, t->user_id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_fail(st, "transfer_insert");
		goto out;
	}
	e = write_files(st, t);
out:
	store_release(st, s);
	e = store_end(st, e);
	forget_stored(t, e);
unlock:
	pthread_mutex_unlock(&st->lock);
	if (e != TETHER_E_OK)
		store_job_remove(st, j->id);
	return e;
}

/* Parse JSON text from a column, or make an empty container. */
static json_t *col_json(sqlite3_stmt *s, int col, bool array)
{
	const char *text = (const char *)sqlite3_column_text(s, col);
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;
	if (v == NULL || (array ? !json_is_array(v) : !json_is_object(v))) {
		json_decref(v);
		v = array ? json_array() : json_object();
	}
	return v;
}

/* Load the files of a transfer. Store locked. */
static tether_err read_files(struct store *st, struct xfer_rec *t)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT source, destination, bytes_total, "
	                                "bytes_transferred, done FROM transfer_files WHERE "
	                                "job_id = ? ORDER BY idx");
	if (s == NULL)
		return TETHER_E_INTERNAL;
	sqlite3_bind_int64(s, 1, t->job_id);
	tether_err e = TETHER_E_OK;
	size_t cap = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (t->nfiles == cap) {
			cap = cap ? cap * 2 : 4;
			struct xfer_file *f = realloc(t->files, cap * sizeof *f);
			if (f == NULL) {
				e = TETHER_E_INTERNAL;
				break;
			}
			t->files = f;
		}
		struct xfer_file *f = &t->files[t->nfiles++];
		f->source = strdup((const char *)sqlite3_column_text(s, 0));
		f->destination = strdup((const char *)sqlite3_column_text(s, 1));
		if (f->source == NULL || f->destination == NULL) {
			e = TETHER_E_NOMEM;   /* xfer_rec_clear frees what was made */
			break;
		}
		f->bytes_total = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1
		               : sqlite3_column_int64(s, 2);
		f->bytes_transferred = sqlite3_column_int64(s, 3);
		f->done = sqlite3_column_int(s, 4) != 0;
		f->stored = true;
		f->stored_total = f->bytes_total;
		f->stored_transferred = f->bytes_transferred;
		f->stored_done = f->done;
	}
	store_release(st, s);
	return e;
}

/* Load one transfer. */
tether_err store_xfer_get(struct store *st, int64_t job_id, struct xfer_rec *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&st->lock);
	tether_err e = TETHER_E_INTERNAL;
	sqlite3_stmt *s = store_prepare(st, "SELECT t.state, t.priority, t.options, "
		"t.credentials, t.retry_at, t.error_code, t.error_message, t.error_file, "
		"t.modified, t.completed, t.progress_at, t.last_start, t.notes, t.direction, "
		"t.created, t.user_id, j.session_id, j.name FROM transfers t JOIN jobs j ON "
		"j.id = t.job_id WHERE t.job_id = ?");
	if (s == NULL)
		goto unlock;
	sqlite3_bind_int64(s, 1, job_id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		e = rc == SQLITE_DONE ? TETHER_E_NOT_FOUND : store_fail(st, "transfer_get");
		goto out;
	}
	out->job_id = job_id;
	int state = proto_xfer_state_parse((const char *)sqlite3_column_text(s, 0));
	out->state = state < 0 ? XFER_ERROR : state;
	out->priority = sqlite3_column_int(s, 1);
	out->options = col_json(s, 2, false);
	const unsigned char *cred = sqlite3_column_text(s, 3);
	out->credentials = cred ? strdup((const char *)cred) : NULL;
	out->retry_at = sqlite3_column_int64(s, 4);
	store_col_text(s, 5, out->error_code, sizeof out->error_code);
	store_col_text(s, 6, out->error_message, sizeof out->error_message);
	store_col_text(s, 7, out->error_file, sizeof out->error_file);
	out->modified = sqlite3_column_int64(s, 8);
	out->completed = sqlite3_column_int64(s, 9);
	out->progress_at = sqlite3_column_int64(s, 10);
	out->last_start = sqlite3_column_int64(s, 11);
	out->notes = col_json(s, 12, true);
	const unsigned char *dir = sqlite3_column_text(s, 13);
	out->upload = dir && strcmp((const char *)dir, "upload") == 0;
	out->created = sqlite3_column_int64(s, 14);
	out->user_id = sqlite3_column_int64(s, 15);
	out->session_id = sqlite3_column_int64(s, 16);
	store_col_text(s, 17, out->name, sizeof out->name);
	e = read_files(st, out);
out:
	store_release(st, s);
unlock:
	pthread_mutex_unlock(&st->lock);
	if (e != TETHER_E_OK)
		xfer_rec_clear(out);
	return e;
}

/* Ids of a session's transfers, or of all live ones. */
tether_err store_xfer_ids(struct store *st, int64_t session_id, int64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, session_id > 0
		? "SELECT t.job_id FROM transfers t JOIN jobs j ON j.id = t.job_id "
		  "WHERE j.session_id = ? ORDER BY t.job_id"
		: "SELECT job_id FROM transfers WHERE " XFER_LIVE " ORDER BY job_id");
	tether_err e = s ? TETHER_E_OK : TETHER_E_INTERNAL;
	size_t cap = 0;
	if (s != NULL && session_id > 0)
		sqlite3_bind_int64(s, 1, session_id);
	while (e == TETHER_E_OK && sqlite3_step(s) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			int64_t *p = realloc(*ids, cap * sizeof *p);
			if (p == NULL) {
				e = TETHER_E_INTERNAL;
				break;
			}
			*ids = p;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(s, 0);
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	if (e != TETHER_E_OK) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return e;
}

/* Write back a transfer's mutable state and its files. */
tether_err store_xfer_update(struct store *st, struct xfer_rec *t)
{
	pthread_mutex_lock(&st->lock);
	tether_err e = TETHER_E_INTERNAL;
	sqlite3_stmt *s = NULL;
	if (store_exec(st, "BEGIN IMMEDIATE") != 0)
		goto unlock;
	s = store_prepare(st, "UPDATE transfers SET state = ?, priority = ?, options = ?, "
	                  "credentials = ?, retry_at = ?, error_code = ?, error_message = ?, "
	                  "error_file = ?, modified = ?, completed = ?, progress_at = ?, "
	                  "last_start = ?, notes = ? WHERE job_id = ?");
	if (s == NULL)
		goto out;
	bind_mutable(s, t);
	sqlite3_bind_int64(s, 14, t->job_id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_fail(st, "transfer_update");
		goto out;
	}
	e = sqlite3_changes(st->db) == 0 ? TETHER_E_NOT_FOUND : write_files(st, t);
out:
	store_release(st, s);
	e = store_end(st, e);
	forget_stored(t, e);
unlock:
	pthread_mutex_unlock(&st->lock);
	return e;
}
