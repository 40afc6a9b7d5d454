/*
 * store-int.h - what the store-*.c files share and nobody else sees.
 */
#ifndef TETHER_STORE_INT_H
#define TETHER_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

#include "store.h"

/* Prepared statements kept for reuse (store_prepare, store_release). */
#define STORE_STMT_CACHE 64

struct store {
	sqlite3        *db;
	pthread_mutex_t lock;
	pthread_mutex_t cache_lock;   /* guards cache[] only */
	struct {
		uint32_t      hash;       /* of the statement's SQL text */
		sqlite3_stmt *s;          /* idle, reset, no bindings; NULL: free */
	} cache[STORE_STMT_CACHE];
	int             reserve_fd;   /* STORE_RESERVE bytes held for a full disk, or -1 */
	bool            reserve_held;
	/* the checkpointer (store_checkpoint_start): its own connection, and
	 * the flags it sleeps on */
	char           *path;         /* the database's, for the checkpointer's connection */
	sqlite3        *ckpt_db;
	pthread_t       ckpt_thread;
	pthread_mutex_t ckpt_lock;
	pthread_cond_t  ckpt_cond;
	bool            ckpt_due, ckpt_stop;   /* the thread runs while ckpt_db is set */
};

/* Space the store holds back (a file beside the database) so that a job's
 * end can still be recorded when the disk fills: released on the first
 * such write that fails, taken again once there is room. */
#define STORE_RESERVE (4 << 20)

/* Release the reserve (if held) so a failed essential write can be retried;
 * true if it was released now. Call with st->lock not held. */
bool store_use_reserve(struct store *st);

/* Prepare a statement, or take an idle one of the same SQL text from the
 * cache; logs and returns NULL on failure. Give it back with
 * store_release(), never sqlite3_finalize(). */
sqlite3_stmt *store_prepare(struct store *st, const char *sql);

/* Reset s, clear its bindings and keep it for the next store_prepare of its
 * SQL (finalized if the cache is full); NULL is ignored. */
void store_release(struct store *st, sqlite3_stmt *s);

/* Log an sqlite failure with context and return TETHER_E_INTERNAL. */
tether_err store_fail(struct store *st, const char *what);

/* Copy a text column into a fixed buffer ("" for NULL). */
void store_col_text(sqlite3_stmt *s, int col, char *dst, size_t dstsz);

/* Run a statement-less SQL string (BEGIN, COMMIT...); 0 or -1. */
int store_exec(struct store *st, const char *sql);

/* End the transaction a write began: COMMIT if e is TETHER_E_OK and return
 * OK only if the COMMIT succeeded (else 507 insufficient_storage on a full
 * disk, 500 otherwise); ROLLBACK and return e if not. Nothing is
 * acknowledged that is not durable. */
tether_err store_end(struct store *st, tether_err e);

#endif
