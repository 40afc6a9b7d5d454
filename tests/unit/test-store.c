/*
 * test-store.c - the store's checkpointer (store_checkpoint_start): with it
 * running, the WAL is checkpointed and started over while a writer goes
 * on, so it stays bounded; the store closes with it running.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define WRITES 12000

static long long wal_size(const char *dir)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof path, "%s/t.db-wal", dir);
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void test_checkpointer_bounds_the_wal(void **state)
{
	(void)state;
	char dir[] = "/tmp/tether-store-XXXXXX", path[512], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.db", dir);
	struct store *st = NULL;
	assert_int_equal(store_open(path, &st, err, sizeof err), 0);
	assert_int_equal(store_checkpoint_start(st), 0);
	/* each a commit of its own: a page or more of WAL each, several
	 * times STORE_CHECKPOINT_PAGES in all */
	long long most = 0;
	for (int i = 0; i < WRITES; i++) {
		store_audit(st, "test", "someone", "127.0.0.1", "a line of detail to fill the page");
		long long now = wal_size(dir);
		if (now > most)
			most = now;
	}
	/* without checkpoints (or with ones that do nothing, as on a
	 * connection that never read the database) it reaches 100 MB; with
	 * them it stayed under 15 MB here */
	assert_true(most > 0);
	assert_true(most < 40LL * 1024 * 1024);
	store_close(st);
	assert_int_equal(wal_size(dir), -1);   /* the last connection's close checkpoints it away */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checkpointer_bounds_the_wal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
