/*
 * test-outwatch.c - the daemon's one watcher of job directories: a change
 * wakes its waiters (long before their poll interval), an unwatchable
 * directory is polled, many waiters share a watch, and ended jobs'
 * watches go.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "outwatch.h"
#include "timeu.h"

static char dir[256];

static bool exists(void *ctx)
{
	return access(ctx, F_OK) == 0;
}

struct later {
	const char *path;
	int         ms;
};

/* Create a file after a pause (a thread). */
static void *create_later(void *arg)
{
	const struct later *l = arg;
	struct timespec ts = { l->ms / 1000, (l->ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	int fd = open(l->path, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "%s/outwatch-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	return outwatch_start();
}

static int teardown(void **state)
{
	(void)state;
	outwatch_stop();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A file created in the directory wakes the waiter at once: its poll
 * interval (60 s) would otherwise hold it for a minute. */
static void test_change_wakes(void **state)
{
	(void)state;
	char path[300];
	snprintf(path, sizeof path, "%s/status", dir);
	struct later l = { path, 100 };
	pthread_t t;
	pthread_create(&t, NULL, create_later, &l);
	int64_t t0 = timeu_mono_ms();
	assert_true(outwatch_wait(1, dir, 120000, 60000, exists, path));
	assert_true(timeu_mono_ms() - t0 < 30000);   /* woken, not polled */
	pthread_join(t, NULL);
	outwatch_forget(1);
}

/* Already done: no wait at all; never done: false at the timeout. */
static void test_done_and_timeout(void **state)
{
	(void)state;
	assert_true(outwatch_wait(2, dir, 50, 10, exists, dir));
	char path[300];
	snprintf(path, sizeof path, "%s/never", dir);
	assert_false(outwatch_wait(2, dir, 200, 50, exists, path));
	outwatch_forget(2);
}

struct waiter {
	const char *path;
	bool        got;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	w->got = outwatch_wait(3, dir, 120000, 60000, exists, (void *)w->path);
	return NULL;
}

/* Many waiters on one job all wake on one change. */
static void test_many_waiters(void **state)
{
	(void)state;
	char path[300];
	snprintf(path, sizeof path, "%s/many", dir);
	struct waiter w[8];
	pthread_t t[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct waiter){ path, false };
		pthread_create(&t[i], NULL, wait_thread, &w[i]);
	}
	struct later l = { path, 200 };
	create_later(&l);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_true(w[i].got);
	}
	outwatch_forget(3);
}

/* A directory that cannot be watched (absent) is polled. */
static void test_unwatchable_polls(void **state)
{
	(void)state;
	char missing[300], path[300];
	snprintf(missing, sizeof missing, "%s/no-such-dir", dir);
	snprintf(path, sizeof path, "%s/polled", dir);
	struct later l = { path, 100 };
	pthread_t t;
	pthread_create(&t, NULL, create_later, &l);
	assert_true(outwatch_wait(4, missing, 10000, 50, exists, path));
	pthread_join(t, NULL);
}

/* Jobs that ended and that nobody waits on give their watch back: far
 * more jobs than OUTWATCH_MAX come and go. */
static void test_forgotten_watches_go(void **state)
{
	(void)state;
	for (int64_t job = 100; job < 100 + 3 * OUTWATCH_MAX; job++) {
		assert_true(outwatch_wait(job, dir, 1000, 100, exists, dir));
		outwatch_forget(job);
	}
	/* a new job is still watched (woken, not polled) */
	char path[300];
	snprintf(path, sizeof path, "%s/after", dir);
	struct later l = { path, 100 };
	pthread_t t;
	pthread_create(&t, NULL, create_later, &l);
	int64_t t0 = timeu_mono_ms();
	assert_true(outwatch_wait(99999, dir, 120000, 60000, exists, path));
	assert_true(timeu_mono_ms() - t0 < 30000);
	pthread_join(t, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_change_wakes),
		cmocka_unit_test(test_done_and_timeout),
		cmocka_unit_test(test_many_waiters),
		cmocka_unit_test(test_unwatchable_polls),
		cmocka_unit_test(test_forgotten_watches_go),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
