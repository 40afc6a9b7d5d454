/*
 * store.c - opening the database, schema migrations, shared helpers, audit.
 *
 * The schema is versioned with PRAGMA user_version and moved forward by an
 * ordered list of migrations, each applied in its own transaction; a
 * database written by a newer tetherd is refused rather than guessed at.
 * Version 1 already has the tables later features fill (jobs, output
 * cursors, transfers), so their arrival is code, not a risky migration.
 */
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store-int.h"
#include "timeu.h"

static const char *const migrations[] = {
	/* 1: the foundation */
	"CREATE TABLE users("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  pwhash TEXT NOT NULL,"
	"  admin INTEGER NOT NULL DEFAULT 0,"
	"  os_user TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE tokens("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  client_id TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX tokens_user ON tokens(user_id);"
	"CREATE TABLE sessions("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  availability INTEGER NOT NULL,"
	"  client_id TEXT NOT NULL DEFAULT '',"
	"  lease_expires INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  last_activity INTEGER NOT NULL,"
	"  idle_timeout INTEGER NOT NULL,"
	"  output_buffering INTEGER NOT NULL,"
	"  shell_state BLOB,"
	"  UNIQUE(user_id, name));"
	"CREATE TABLE jobs("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  command TEXT NOT NULL,"
	"  exit_code INTEGER,"
	"  term_signal INTEGER,"
	"  shim_pid INTEGER,"
	"  child_pgid INTEGER,"
	"  started INTEGER,"
	"  ended INTEGER,"
	"  UNIQUE(session_id, name));"
	"CREATE TABLE output_cursors("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  reader TEXT NOT NULL,"
	"  delivered INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(job_id, reader));"
	"CREATE TABLE transfers("
	"  job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,"
	"  direction TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  priority INTEGER NOT NULL,"
	"  options TEXT NOT NULL DEFAULT '{}',"
	"  credentials BLOB,"
	"  retry_at INTEGER,"
	"  error_code TEXT, error_message TEXT, error_file TEXT,"
	"  created INTEGER NOT NULL,"
	"  modified INTEGER NOT NULL,"
	"  completed INTEGER);"
	"CREATE TABLE transfer_files("
	"  job_id INTEGER NOT NULL REFERENCES transfers(job_id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  source TEXT NOT NULL,"
	"  destination TEXT NOT NULL,"
	"  bytes_total INTEGER,"
	"  bytes_transferred INTEGER NOT NULL DEFAULT 0,"
	"  validator TEXT,"
	"  done INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(job_id, idx));"
	"CREATE TABLE audit("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  ts INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  user_name TEXT NOT NULL DEFAULT '',"
	"  addr TEXT NOT NULL DEFAULT '',"
	"  detail TEXT NOT NULL DEFAULT '');",
	/* 2: the execution core: why a job ended, stop requests, job indexes */
	"ALTER TABLE jobs ADD COLUMN error TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE jobs ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX jobs_session ON jobs(session_id);"
	"CREATE INDEX jobs_state ON jobs(state);",
	/* 3: transfer jobs: owner, scheduling and progress bookkeeping */
	"ALTER TABLE transfers ADD COLUMN user_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE transfers ADD COLUMN progress_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE transfers ADD COLUMN last_start INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE transfers ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';"
	"CREATE INDEX transfers_state ON transfers(state);",
	/* 4: resumable uploads received (POST /v1/uploads) */
	"CREATE TABLE uploads("
	"  id TEXT PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  path TEXT NOT NULL,"
	"  partial TEXT NOT NULL,"
	"  length INTEGER NOT NULL,"
	"  received INTEGER NOT NULL DEFAULT 0,"
	"  sha256 TEXT NOT NULL DEFAULT '',"
	"  done INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  modified INTEGER NOT NULL);"
	"CREATE INDEX uploads_user ON uploads(user_id);"
	"CREATE INDEX uploads_modified ON uploads(modified);",
	/* 5: a session's running jobs by index, not by a walk over all its jobs
	 * (every session read asks whether it has any: SESSION_COLS); jobs_session
	 * stays, for a session's jobs in id order */
	"CREATE INDEX jobs_session_state ON jobs(session_id, state);",
	/* 6: user removals asked of a serving daemon by `tetherd user remove`
	 * (session.c does them; the verb waits for done) */
	"CREATE TABLE user_removals("
	"  name TEXT PRIMARY KEY,"
	"  requested INTEGER NOT NULL,"
	"  done INTEGER NOT NULL DEFAULT 0,"
	"  sessions INTEGER NOT NULL DEFAULT 0);",
	/* 7: public keys a user logs in with (`tetherd user key add`) */
	"CREATE TABLE user_keys("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  type TEXT NOT NULL,"
	"  bits INTEGER NOT NULL,"
	"  fingerprint TEXT NOT NULL,"
	"  blob BLOB NOT NULL,"
	"  comment TEXT NOT NULL DEFAULT '',"
	"  added INTEGER NOT NULL,"
	"  UNIQUE(user_id, fingerprint));",
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* FNV-1a of a statement's SQL text: the cache's first comparison. */
static uint32_t sql_hash(const char *sql)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* Prepare a statement, logging a failure. Parsing and planning was a fifth
 * of the daemon's CPU per request (docs/performance.md), so statements are
 * kept: the SQL is compared in full, never trusted to its pointer. */
sqlite3_stmt *store_prepare(struct store *st, const char *sql)
{
	uint32_t h = sql_hash(sql);
	sqlite3_stmt *s = NULL;
	pthread_mutex_lock(&st->cache_lock);
	for (int i = 0; i < STORE_STMT_CACHE; i++)
		if (st->cache[i].s != NULL && st->cache[i].hash == h &&
		    strcmp(sqlite3_sql(st->cache[i].s), sql) == 0) {
			s = st->cache[i].s;
			st->cache[i].s = NULL;
			break;
		}
	pthread_mutex_unlock(&st->cache_lock);
	if (s != NULL)
		return s;
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(s);
		store_fail(st, "prepare");
		return NULL;
	}
	return s;
}

void store_release(struct store *st, sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	sqlite3_reset(s);            /* ends its read of the database */
	sqlite3_clear_bindings(s);   /* no pointer into a caller's buffer kept */
	uint32_t h = sql_hash(sqlite3_sql(s));
	pthread_mutex_lock(&st->cache_lock);
	for (int i = 0; i < STORE_STMT_CACHE && s != NULL; i++)
		if (st->cache[i].s == NULL) {
			st->cache[i].hash = h;
			st->cache[i].s = s;
			s = NULL;
		}
	pthread_mutex_unlock(&st->cache_lock);
	sqlite3_finalize(s);   /* the cache was full (NULL: a no-op) */
}

/* The error for the connection's last sqlite failure: a full disk is the
 * client's to know about (507), anything else is ours (500). */
static tether_err last_error(struct store *st)
{
	int c = sqlite3_errcode(st->db) & 0xff;
	return c == SQLITE_FULL || c == SQLITE_IOERR ? TETHER_E_INSUFFICIENT_STORAGE
	                                             : TETHER_E_INTERNAL;
}

/* Log the current sqlite error. */
tether_err store_fail(struct store *st, const char *what)
{
	struct logline l;
	log_begin(&l, LOG_ERROR, "store_error");
	log_str(&l, "op", what);
	log_str(&l, "detail", sqlite3_errmsg(st->db));
	log_end(&l);
	return last_error(st);
}

tether_err store_end(struct store *st, tether_err e)
{
	if (e == TETHER_E_OK) {
		if (store_exec(st, "COMMIT") == 0)
			return TETHER_E_OK;
		e = last_error(st);   /* not durable: not acknowledged */
	}
	if (!sqlite3_get_autocommit(st->db))
		store_exec(st, "ROLLBACK");
	return e;
}

/* Copy a text column into a bounded buffer. */
void store_col_text(sqlite3_stmt *s, int col, char *dst, size_t dstsz)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	snprintf(dst, dstsz, "%s", t ? (const char *)t : "");
}

/* Execute SQL without results. */
int store_exec(struct store *st, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		struct logline l;
		log_begin(&l, LOG_ERROR, "store_error");
		log_str(&l, "op", "exec");
		log_str(&l, "detail", msg ? msg : "?");
		log_end(&l);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Read PRAGMA user_version. */
int store_schema_version(struct store *st)
{
	int v = -1;
	sqlite3_stmt *s = store_prepare(st, "PRAGMA user_version");
	if (s && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Apply the migrations the database has not seen yet. */
static int migrate(struct store *st, char *err, size_t errsz)
{
	int have = store_schema_version(st);
	if (have < 0) {
		snprintf(err, errsz, "cannot read schema version: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (have > NMIGRATIONS) {
		snprintf(err, errsz, "database schema %d is newer than this tetherd "
		         "understands (%d); upgrade tetherd", have, NMIGRATIONS);
		return -1;
	}
	for (int v = have; v < NMIGRATIONS; v++) {
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
		if (store_exec(st, "BEGIN IMMEDIATE") != 0)
			goto fail;
		if (store_exec(st, migrations[v]) != 0 || store_exec(st, pragma) != 0) {
			store_exec(st, "ROLLBACK");
			goto fail;
		}
		if (store_exec(st, "COMMIT") != 0)
			goto fail;
		struct logline l;
		log_begin(&l, LOG_INFO, "schema_migrated");
		log_int(&l, "version", v + 1);
		log_end(&l);
	}
	return 0;
fail:
	snprintf(err, errsz, "schema migration failed: %s", sqlite3_errmsg(st->db));
	return -1;
}

/* Open the database and migrate it. */
int store_open(const char *path, struct store **out, char *err, size_t errsz)
{
	struct store *st = calloc(1, sizeof *st);
	if (st == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	st->reserve_fd = -1;
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->cache_lock, NULL);
	pthread_mutex_init(&st->ckpt_lock, NULL);
	pthread_cond_init(&st->ckpt_cond, NULL);
	st->path = strdup(path);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "cannot open %s: %s", path,
		         st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (store_exec(st, "PRAGMA journal_mode=WAL") != 0 ||
	    store_exec(st, "PRAGMA synchronous=NORMAL") != 0 ||
	    store_exec(st, "PRAGMA foreign_keys=ON") != 0) {
		snprintf(err, errsz, "cannot configure %s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (migrate(st, err, errsz) != 0)
		goto fail;
	char rpath[4200];
	snprintf(rpath, sizeof rpath, "%s-reserve", path);
	st->reserve_fd = open(rpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	store_take_reserve(st);
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

/* WAL pages after which a commit asks for a checkpoint (sqlite's own
 * default for its automatic ones). */
#define STORE_CHECKPOINT_PAGES 1000

/* After every commit on the daemon's connection (its mutex and the store's
 * lock held): ask for a checkpoint when the WAL has grown enough. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)db;
	(void)name;
	struct store *st = arg;
	if (pages >= STORE_CHECKPOINT_PAGES) {
		pthread_mutex_lock(&st->ckpt_lock);
		st->ckpt_due = true;
		pthread_cond_signal(&st->ckpt_cond);
		pthread_mutex_unlock(&st->ckpt_lock);
	}
	return SQLITE_OK;
}

/* The checkpointer: the checkpoints sqlite would make in the commit that
 * crossed the size, with the store's lock held, stalling every request
 * behind their copies and fsyncs (50 concurrent invokes: 249-312 invokes/s
 * and a p99 of 339-404 ms with them, 312-341/s and 322-374 ms with this;
 * docs/performance.md). */
static void *checkpointer(void *arg)
{
	struct store *st = arg;
	pthread_mutex_lock(&st->ckpt_lock);
	for (;;) {
		while (!st->ckpt_due && !st->ckpt_stop)
			pthread_cond_wait(&st->ckpt_cond, &st->ckpt_lock);
		if (st->ckpt_stop)
			break;
		st->ckpt_due = false;
		pthread_mutex_unlock(&st->ckpt_lock);
		/* two passive rounds copy what is there and what came meanwhile,
		 * with the daemon's requests going on; a restart then copies the
		 * little left, with the store's lock held so that no request of
		 * the daemon is inside a transaction, and lets the next writer
		 * start the WAL over (passive ones alone never catch up with a
		 * busy writer, and the WAL would grow for as long as it writes).
		 * No busy handler: a restart that another process (an admin
		 * command) holds up says SQLITE_BUSY at once, rather than keep
		 * the store's lock, and the next one due tries again */
		int rc = SQLITE_OK;
		for (int i = 0; i < 2 && rc == SQLITE_OK; i++)
			rc = sqlite3_wal_checkpoint_v2(st->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE,
			                               NULL, NULL);
		if (rc == SQLITE_OK) {
			pthread_mutex_lock(&st->lock);
			rc = sqlite3_wal_checkpoint_v2(st->ckpt_db, NULL, SQLITE_CHECKPOINT_RESTART,
			                               NULL, NULL);
			pthread_mutex_unlock(&st->lock);
		}
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_msg(LOG_WARN, "checkpoint_failed", "reason", sqlite3_errmsg(st->ckpt_db));
		pthread_mutex_lock(&st->ckpt_lock);
	}
	pthread_mutex_unlock(&st->ckpt_lock);
	return NULL;
}

int store_checkpoint_start(struct store *st)
{
	if (st->path == NULL ||
	    sqlite3_open_v2(st->path, &st->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK ||
	    /* a read, so that the connection opens the WAL: until then a
	     * checkpoint on it does nothing */
	    sqlite3_exec(st->ckpt_db, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL,
	                 NULL) != SQLITE_OK) {
		sqlite3_close(st->ckpt_db);
		st->ckpt_db = NULL;
		return -1;
	}
	if (pthread_create(&st->ckpt_thread, NULL, checkpointer, st) != 0) {
		sqlite3_close(st->ckpt_db);
		st->ckpt_db = NULL;
		return -1;
	}
	/* replaces sqlite's automatic checkpoints on the daemon's connection */
	pthread_mutex_lock(&st->lock);
	sqlite3_wal_hook(st->db, wal_hook, st);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

/* Stop the checkpointer, if it runs. */
static void checkpoint_stop(struct store *st)
{
	if (st->ckpt_db == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	sqlite3_wal_hook(st->db, NULL, NULL);
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_lock(&st->ckpt_lock);
	st->ckpt_stop = true;
	pthread_cond_signal(&st->ckpt_cond);
	pthread_mutex_unlock(&st->ckpt_lock);
	pthread_join(st->ckpt_thread, NULL);
	sqlite3_close(st->ckpt_db);
	st->ckpt_db = NULL;
}

bool store_take_reserve(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	if (st->reserve_fd >= 0 && !st->reserve_held &&
	    posix_fallocate(st->reserve_fd, 0, STORE_RESERVE) == 0)
		st->reserve_held = true;
	bool missing = st->reserve_fd >= 0 && !st->reserve_held;
	pthread_mutex_unlock(&st->lock);
	return !missing;
}

bool store_use_reserve(struct store *st)
{
	bool released = false;
	pthread_mutex_lock(&st->lock);
	if (st->reserve_held && ftruncate(st->reserve_fd, 0) == 0) {
		st->reserve_held = false;
		released = true;
	}
	pthread_mutex_unlock(&st->lock);
	if (released)
		log_msg(LOG_WARN, "disk_full", "action", "released the space reserve to record "
		        "job ends; free space in the state dir");
	return released;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	checkpoint_stop(st);
	if (st->reserve_fd >= 0)
		close(st->reserve_fd);
	for (int i = 0; i < STORE_STMT_CACHE; i++)
		sqlite3_finalize(st->cache[i].s);   /* sqlite3_close refuses while any is left */
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->cache_lock);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->ckpt_lock);
	pthread_cond_destroy(&st->ckpt_cond);
	free(st->path);
	free(st);
}

/* Append an audit record. */
void store_audit(struct store *st, const char *event, const char *user,
                 const char *addr, const char *detail)
{
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st,
		"INSERT INTO audit(ts, event, user_name, addr, detail) VALUES(?,?,?,?,?)");
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, timeu_now());
		sqlite3_bind_text(s, 2, event, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, user ? user : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, addr ? addr : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, detail ? detail : "", -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			store_fail(st, "audit");
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
}

/* Count rows by state (and type), one GROUP BY query. */
tether_err store_census(struct store *st, enum store_census what, store_census_cb cb,
                        void *ctx)
{
	static const char *const sql[] = {
		[STORE_CENSUS_SESSIONS]  = "SELECT state, '', COUNT(*) FROM sessions GROUP BY state",
		[STORE_CENSUS_JOBS]      = "SELECT state, type, COUNT(*) FROM jobs GROUP BY state, type",
		[STORE_CENSUS_TRANSFERS] = "SELECT state, '', COUNT(*) FROM transfers GROUP BY state",
	};
	tether_err e = TETHER_E_INTERNAL;
	char state[64], type[64];
	int rc;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, sql[what]);
	if (s != NULL) {
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			store_col_text(s, 0, state, sizeof state);
			store_col_text(s, 1, type, sizeof type);
			cb(ctx, sqlite3_column_int64(s, 0), state, type, sqlite3_column_int64(s, 2));
		}
		if (rc == SQLITE_DONE)
			e = TETHER_E_OK;
		else
			store_fail(st, "census");
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}

tether_err store_audit_prune(struct store *st, int64_t before, int64_t *removed)
{
	tether_err e = TETHER_E_INTERNAL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = store_prepare(st, "DELETE FROM audit WHERE ts < ?");
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, before);
		if (sqlite3_step(s) == SQLITE_DONE) {
			e = TETHER_E_OK;
			*removed = sqlite3_changes(st->db);
		} else {
			store_fail(st, "audit prune");
		}
	}
	store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return e;
}
