/*
 * test-ticker.c - the deadline- and event-driven pass thread: with nothing
 * due it never runs, a deadline the pass asked for is kept, a kick runs a
 * pass and a burst of kicks runs few, and a readable watched fd runs one.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ticker.h"

static atomic_int passes;
static atomic_int next_wait = TICKER_IDLE;
static int pipefd[2] = { -1, -1 };

/* A pass: count it, empty the pipe, ask for the wait the test set. */
static int pass(void *arg)
{
	char buf[64];
	(void)arg;
	atomic_fetch_add(&passes, 1);
	while (pipefd[0] >= 0 && read(pipefd[0], buf, sizeof buf) > 0)
		;
	return atomic_exchange(&next_wait, TICKER_IDLE);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait (bounded) until at least n passes ran; the count then. */
static int await_passes(int n)
{
	for (int i = 0; i < 500 && atomic_load(&passes) < n; i++)
		sleep_ms(10);
	return atomic_load(&passes);
}

static void test_idle_deadline_kick_and_fd(void **state)
{
	struct ticker t = { 0 };
	(void)state;
	assert_int_equal(pipe2(pipefd, O_NONBLOCK), 0);
	assert_int_equal(ticker_start(&t, pass, NULL, 100), 0);
	assert_int_equal(await_passes(1), 1);   /* the first pass, at once */
	sleep_ms(300);
	assert_int_equal(atomic_load(&passes), 1);   /* nothing due: no pass */

	atomic_store(&next_wait, 50);   /* the next pass asks for a deadline */
	ticker_kick(&t);
	assert_true(await_passes(3) >= 3);   /* the kick's pass, then the deadline's */
	sleep_ms(300);
	int n = atomic_load(&passes);
	assert_int_equal(n, 3);

	for (int i = 0; i < 100; i++)   /* a burst costs a pass or two */
		ticker_kick(&t);
	assert_true(await_passes(n + 1) >= n + 1);
	sleep_ms(300);
	assert_true(atomic_load(&passes) <= n + 2);

	n = atomic_load(&passes);
	assert_int_equal(ticker_watch(&t, pipefd[0]), 0);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	assert_true(await_passes(n + 1) >= n + 1);
	sleep_ms(300);   /* the pass emptied the pipe: no more passes */
	assert_int_equal(atomic_load(&passes), n + 1);

	ticker_unwatch(&t, pipefd[0]);
	ticker_stop(&t);
	close(pipefd[0]);
	close(pipefd[1]);
	pipefd[0] = pipefd[1] = -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_deadline_kick_and_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
