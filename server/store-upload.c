/*
 * store-upload.c - resumable uploads received: one row per upload.
 *
 * The row's `received` is the promise: that many bytes of the partial file
 * are verified and on disk. Anything the file holds beyond it is the rest
 * of an append that did not finish, and is cut off by the next append.
 */
#include <stdio.h>
#include <string.h>

#include "store-int.h"

#define UPLOAD_COLS "id, user_id, path, partial, length, received, sha256, done, created, " \
                    "modified"

static void read_row(sqlite3_stmt *s, struct upload_rec *u)
{
	store_col_text(s, 0, u->id, sizeof u->id);
	u->user_id = sqlite3_column_int64(s, 1);
	store_col_text(s, 2, u->path, sizeof u->path);
	store_col_text(s, 3, u->partial, sizeof u->partial);
	u->length = sqlite3_column_int64(s, 4);
	u->received = sqlite3_column_int64(s, 5);
	store_col_text(s, 6, u->sha256, sizeof u->sha256);
	u->done = sqlite3_column_int(s, 7) != 0;
	u->created = sqlite3_column_int64(s, 8);
	u->modified = sqlite3_column_int64(s, 9);
}

tether_err store_upload_create(struct store *st, const struct upload_rec *u, int64_t max_open)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	if (store_exec(st, "BEGIN IMMEDIATE") != 0)
		goto out;
	sqlite3_stmt *s = store_prepare(st, "SELECT count(*) FROM uploads WHERE user_id = ? "
	                                "AND done = 0");
	if (s == NULL)
		goto rollback;
	sqlite3_bind_int64(s, 1, u->user_id);
	int64_t open = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	store_release(st, s);
	if (open < 0) {
		e = store_fail(st, "upload_count");
		goto rollback;
	}
	if (open >= max_open) {
		e = TETHER_E_LIMIT_EXCEEDED;
		goto rollback;
	}
	s = store_prepare(st, "INSERT INTO uploads(" UPLOAD_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?)");
	if (s == NULL)
		goto rollback;
	sqlite3_bind_text(s, 1, u->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, u->user_id);
	sqlite3_bind_text(s, 3, u->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, u->partial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, u->length);
	sqlite3_bind_int64(s, 6, u->received);
	sqlite3_bind_text(s, 7, u->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, u->done);
	sqlite3_bind_int64(s, 9, u->created);
	sqlite3_bind_int64(s, 10, u->modified);
	e = sqlite3_step(s) == SQLITE_DONE ? TETHER_E_OK : store_fail(st, "upload_create");
	store_release(st, s);
rollback:
	e = store_end(st, e);
out:
	pthread_mutex_unlock(&st->lock);
	return e;
}

tether_err store_upload_get(struct store *st, const char *id, int64_t user_id,
                            struct upload_rec *out)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ? "
	                                "AND user_id = ?");
	if (s != NULL) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, user_id);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			read_row(s, out);
			e = TETHER_E_OK;
		} else {
			e = rc == SQLITE_DONE ? TETHER_E_NOT_FOUND : store_fail(st, "upload_get");
		}
		store_release(st, s);
	}
	pthread_mutex_unlock(&st->lock);
	return e;
}

tether_err store_upload_set(struct store *st, const char *id, int64_t received, bool done,
                            int64_t now)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, "UPDATE uploads SET received = ?, done = ?, "
	                                "modified = ? WHERE id = ?");
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, received);
		sqlite3_bind_int(s, 2, done);
		sqlite3_bind_int64(s, 3, now);
		sqlite3_bind_text(s, 4, id, -1, SQLITE_STATIC);
		e = sqlite3_step(s) == SQLITE_DONE ? TETHER_E_OK : store_fail(st, "upload_set");
		if (e == TETHER_E_OK && sqlite3_changes(st->db) == 0)
			e = TETHER_E_NOT_FOUND;
		store_release(st, s);
	}
	pthread_mutex_unlock(&st->lock);
	return e;
}

tether_err store_upload_delete(struct store *st, const char *id)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, "DELETE FROM uploads WHERE id = ?");
	if (s != NULL) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		e = sqlite3_step(s) == SQLITE_DONE ? TETHER_E_OK : store_fail(st, "upload_delete");
		store_release(st, s);
	}
	pthread_mutex_unlock(&st->lock);
	return e;
}

tether_err store_upload_stale(struct store *st, int64_t before, struct upload_rec *out,
                              size_t max, size_t *n)
{
	tether_err e = TETHER_E_INTERNAL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, "SELECT " UPLOAD_COLS " FROM uploads WHERE "
	                                "modified < ? ORDER BY modified LIMIT ?");
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, before);
		sqlite3_bind_int64(s, 2, (int64_t)max);
		int rc;
		while (*n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
			read_row(s, &out[(*n)++]);
		e = TETHER_E_OK;
		store_release(st, s);
	}
	pthread_mutex_unlock(&st->lock);
	return e;
}
