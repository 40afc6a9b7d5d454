/*
 * store-key.c - the public keys users log in with.
 *
 * Keys are public: nothing here is secret. A key is identified by its
 * SHA-256 fingerprint, and a lookup also compares the whole blob, so two
 * keys can never be confused through their fingerprints. A user whose
 * removal is under way (user_removals) has no usable key.
 */
#include <string.h>

#include "store-int.h"

/* Add a key; CONFLICT if the user has it already. */
tether_err store_key_add(struct store *st, int64_t user_id, const struct key_rec *k,
                         const unsigned char *blob, size_t len)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"INSERT INTO user_keys(user_id, type, bits, fingerprint, blob, comment, added) "
		"VALUES(?, ?, ?, ?, ?, ?, ?)");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_text(s, 2, k->type, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, k->bits);
	sqlite3_bind_text(s, 4, k->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, blob, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, k->comment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, k->added);
	if (sqlite3_step(s) == SQLITE_DONE)
		e = TETHER_E_OK;
	else if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE)
		e = TETHER_E_CONFLICT;
	else
		e = store_fail(st, "key_add");
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Fill a key_rec from (type, bits, fingerprint, comment, added). */
static void key_from_row(sqlite3_stmt *s, struct key_rec *k)
{
	store_col_text(s, 0, k->type, sizeof k->type);
	k->bits = sqlite3_column_int(s, 1);
	store_col_text(s, 2, k->fingerprint, sizeof k->fingerprint);
	store_col_text(s, 3, k->comment, sizeof k->comment);
	k->added = sqlite3_column_int64(s, 4);
}

/* Call cb for each of a user's keys, oldest first. */
tether_err store_key_list(struct store *st, int64_t user_id, store_key_cb cb, void *ctx)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"SELECT type, bits, fingerprint, comment, added FROM user_keys "
		"WHERE user_id = ? ORDER BY id");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, user_id);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct key_rec k;
		key_from_row(s, &k);
		cb(ctx, &k);
	}
	e = rc == SQLITE_DONE ? TETHER_E_OK : store_fail(st, "key_list");
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Remove a user's key by fingerprint; NOT_FOUND if they have none such. */
tether_err store_key_remove(struct store *st, int64_t user_id, const char *fingerprint)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"DELETE FROM user_keys WHERE user_id = ? AND fingerprint = ?");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_text(s, 2, fingerprint, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		e = store_fail(st, "key_remove");
	else
		e = sqlite3_changes(st->db) > 0 ? TETHER_E_OK : TETHER_E_NOT_FOUND;
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Find a user's key by fingerprint, checking the whole blob. */
tether_err store_key_find(struct store *st, int64_t user_id, const char *fingerprint,
                          const unsigned char *blob, size_t len, struct key_rec *k)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"SELECT k.type, k.bits, k.fingerprint, k.comment, k.added, k.blob "
		"FROM user_keys k JOIN users u ON u.id = k.user_id "
		"WHERE k.user_id = ? AND k.fingerprint = ? AND NOT EXISTS "
		"(SELECT 1 FROM user_removals r WHERE r.name = u.name AND r.done = 0)");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_text(s, 2, fingerprint, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(s, 5);
		int n = sqlite3_column_bytes(s, 5);
		if (b != NULL && n >= 0 && (size_t)n == len && memcmp(b, blob, len) == 0) {
			key_from_row(s, k);
			e = TETHER_E_OK;
		} else {
			e = TETHER_E_NOT_FOUND;
		}
	} else {
		e = rc == SQLITE_DONE ? TETHER_E_NOT_FOUND : store_fail(st, "key_find");
	}
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}
