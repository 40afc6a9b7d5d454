/*
 * store-user.c - users and bearer-token hashes.
 *
 * Passwords arrive here already hashed (crypto_pw_hash) and tokens only as
 * the SHA-256 of their text, so nothing in the database can be replayed.
 * Changing a password revokes every token of that user.
 */
#include <string.h>

#include "store-int.h"

/* Fill a user_rec from a row of (id, name, os_user, admin, created). */
static void user_from_row(sqlite3_stmt *s, struct user_rec *u)
{
	u->id = sqlite3_column_int64(s, 0);
	store_col_text(s, 1, u->name, sizeof u->name);
	store_col_text(s, 2, u->os_user, sizeof u->os_user);
	u->admin = sqlite3_column_int(s, 3) != 0;
	u->created = sqlite3_column_int64(s, 4);
}

/* Add a user; CONFLICT if the name exists. */
tether_err store_user_add(struct store *st, const char *name, const char *pwhash,
                          bool admin, const char *os_user)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"INSERT INTO users(name, pwhash, admin, os_user, created) "
		"VALUES(?, ?, ?, ?, strftime('%s','now'))");
	if (s == NULL)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, pwhash, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, admin ? 1 : 0);
	sqlite3_bind_text(s, 4, os_user ? os_user : "", -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		e = TETHER_E_OK;
	else if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE)
		e = TETHER_E_CONFLICT;
	else
		e = store_fail(st, "user_add");
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Look a user up by name, optionally with the password hash. */
tether_err store_user_get(struct store *st, const char *name, struct user_rec *out,
                          char *pwhash, size_t pwhashsz)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"SELECT id, name, os_user, admin, created, pwhash FROM users WHERE name = ?");
	if (s == NULL)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		user_from_row(s, out);
		if (pwhash != NULL)
			store_col_text(s, 5, pwhash, pwhashsz);
		e = TETHER_E_OK;
	} else if (rc == SQLITE_DONE) {
		e = TETHER_E_NOT_FOUND;
	} else {
		e = store_fail(st, "user_get");
	}
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Run a one-statement update bound to a user name; NOT_FOUND if no row. */
static tether_err user_update(struct store *st, const char *sql, const char *name,
                              const char *arg, const char *what)
{
	tether_err e = TETHER_E_INTERNAL;
	sqlite3_stmt *s = store_prepare(st, sql);
	if (s == NULL)
		return e;
	int i = 1;
	if (arg != NULL)
		sqlite3_bind_text(s, i++, arg, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, i, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		e = store_fail(st, what);
	else
		e = sqlite3_changes(st->db) > 0 ? TETHER_E_OK : TETHER_E_NOT_FOUND;
	store_release(st, s);
	return e;
}

/* Remove a user and (by cascade) their tokens and sessions. */
tether_err store_user_remove(struct store *st, const char *name)
{
	pthread_mutex_lock(&st->lock);
	tether_err e = user_update(st, "DELETE FROM users WHERE name = ?", name, NULL,
	                           "user_remove");
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Replace a password hash and revoke the user's tokens, atomically. */
tether_err store_user_set_password(struct store *st, const char *name,
                                   const char *pwhash)
{
	pthread_mutex_lock(&st->lock);
	tether_err e = TETHER_E_INTERNAL;
	if (store_exec(st, "BEGIN IMMEDIATE") != 0)
		goto out;
	e = user_update(st, "UPDATE users SET pwhash = ? WHERE name = ?", name, pwhash,
	                "user_passwd");
	if (e == TETHER_E_OK) {
		/* a user without tokens is fine: only a failure matters here */
		tether_err r = user_update(st, "UPDATE tokens SET revoked = 1 WHERE "
		                           "user_id = (SELECT id FROM users WHERE name = ?)",
		                           name, NULL, "token_revoke_all");
		if (r == TETHER_E_INTERNAL)
			e = r;
	}
	e = store_end(st, e);
out:
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Call cb for every user, in name order. */
tether_err store_user_list(struct store *st, store_user_cb cb, void *ctx)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"SELECT id, name, os_user, admin, created FROM users ORDER BY name");
	if (s == NULL)
		goto out;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct user_rec u;
		user_from_row(s, &u);
		cb(ctx, &u);
	}
	e = rc == SQLITE_DONE ? TETHER_E_OK : store_fail(st, "user_list");
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Record a new token hash. */
tether_err store_token_add(struct store *st, int64_t user_id, const char *hash,
                           const char *client_id, int64_t now, int64_t expires)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"INSERT INTO tokens(user_id, hash, client_id, created, expires, last_used) "
		"VALUES(?, ?, ?, ?, ?, ?)");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, client_id ? client_id : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int64(s, 5, expires);
	sqlite3_bind_int64(s, 6, now);
	e = sqlite3_step(s) == SQLITE_DONE ? TETHER_E_OK : store_fail(st, "token_add");
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Validate a token hash and return its user. */
tether_err store_token_check(struct store *st, const char *hash, int64_t now,
                             struct user_rec *user, int64_t *expires)
{
	tether_err e = TETHER_E_INTERNAL;
	int64_t tid = 0, last_used = 0;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"SELECT u.id, u.name, u.os_user, u.admin, u.created, t.id, t.expires, "
		"t.last_used FROM tokens t JOIN users u ON u.id = t.user_id "
		"WHERE t.hash = ? AND t.revoked = 0 AND t.expires > ?");
	if (s == NULL)
		goto out;
	sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		user_from_row(s, user);
		tid = sqlite3_column_int64(s, 5);
		*expires = sqlite3_column_int64(s, 6);
		last_used = sqlite3_column_int64(s, 7);
		e = TETHER_E_OK;
	} else {
		e = rc == SQLITE_DONE ? TETHER_E_UNAUTHORIZED : store_fail(st, "token_check");
	}
	store_release(st, s);
	s = NULL;
	if (e == TETHER_E_OK && now - last_used >= 60) {
		s = store_prepare(st, "UPDATE tokens SET last_used = ? WHERE id = ?");
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, now);
			sqlite3_bind_int64(s, 2, tid);
			if (sqlite3_step(s) != SQLITE_DONE)
				store_fail(st, "token_touch");
		}
	}
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Revoke one token. */
tether_err store_token_revoke(struct store *st, const char *hash)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, "UPDATE tokens SET revoked = 1 WHERE hash = ?");
	if (s != NULL) {
		sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_DONE)
			e = sqlite3_changes(st->db) > 0 ? TETHER_E_OK : TETHER_E_NOT_FOUND;
		else
			e = store_fail(st, "token_revoke");
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Look a user up by id (the transfer scheduler knows owners by id). */
tether_err store_user_by_id(struct store *st, int64_t id, struct user_rec *out)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"SELECT id, name, os_user, admin, created FROM users WHERE id = ?");
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, id);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			user_from_row(s, out);
			e = TETHER_E_OK;
		} else {
			e = rc == SQLITE_DONE ? TETHER_E_NOT_FOUND : store_fail(st, "user_by_id");
		}
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

/* Ask the serving daemon to remove a user: the password stops working and
 * the tokens are revoked at once, and a removal row waits for the daemon
 * (a second request starts it again). NOT_FOUND if no such user. */
tether_err store_user_removal_request(struct store *st, const char *name)
{
	pthread_mutex_lock(&st->lock);
	tether_err e = TETHER_E_INTERNAL;
	if (store_exec(st, "BEGIN IMMEDIATE") != 0)
		goto out;
	e = user_update(st, "UPDATE users SET pwhash = '!' WHERE name = ?", name, NULL,
	                "user_disable");
	if (e == TETHER_E_OK && user_update(st, "UPDATE tokens SET revoked = 1 WHERE user_id = "
	                                    "(SELECT id FROM users WHERE name = ?)", name, NULL,
	                                    "token_revoke_all") == TETHER_E_INTERNAL)
		e = TETHER_E_INTERNAL;
	if (e == TETHER_E_OK &&
	    user_update(st, "INSERT OR REPLACE INTO user_removals(name, requested) "
	                "VALUES(?, strftime('%s','now'))", name, NULL, "removal_add") != TETHER_E_OK)
		e = TETHER_E_INTERNAL;
	store_exec(st, e == TETHER_E_OK ? "COMMIT" : "ROLLBACK");
out:
	pthread_mutex_unlock(&st->lock);
	return e;
}

tether_err store_user_removals_pending(struct store *st, store_name_cb cb, void *ctx)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, "SELECT name FROM user_removals WHERE done = 0 "
	                                "ORDER BY requested LIMIT 64");
	char names[64][BOUND_NAME + 1];
	size_t n = 0;
	int rc = SQLITE_DONE;
	while (s != NULL && n < 64 && (rc = sqlite3_step(s)) == SQLITE_ROW)
		store_col_text(s, 0, names[n++], sizeof names[0]);
	if (s != NULL)
		e = rc == SQLITE_ROW || rc == SQLITE_DONE ? TETHER_E_OK : store_fail(st, "removals");
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	for (size_t i = 0; i < n; i++)   /* outside the lock: cb may use the store */
		cb(ctx, names[i]);
	return e;
}

tether_err store_user_removal_finish(struct store *st, const char *name, int64_t sessions)
{
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)sessions);
	pthread_mutex_lock(&st->lock);
	tether_err e = user_update(st, "UPDATE user_removals SET done = 1, sessions = ? "
	                           "WHERE name = ?", name, num, "removal_done");
	pthread_mutex_unlock(&st->lock);
	return e;
}

tether_err store_user_removal_result(struct store *st, const char *name, bool *done,
                                     int64_t *sessions)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, "SELECT done, sessions FROM user_removals "
	                                "WHERE name = ?");
	if (s == NULL)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*done = sqlite3_column_int(s, 0) != 0;
		*sessions = sqlite3_column_int64(s, 1);
		e = TETHER_E_OK;
	} else {
		e = rc == SQLITE_DONE ? TETHER_E_NOT_FOUND : store_fail(st, "removal_get");
	}
	store_release(st, s);
	s = NULL;
	if (e == TETHER_E_OK && *done)
		user_update(st, "DELETE FROM user_removals WHERE name = ?", name, NULL,
		            "removal_forget");
out:
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}
