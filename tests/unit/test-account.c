/*
 * test-account.c - run-as children: an answer comes back, and a child that
 * hangs is killed so the caller never hangs with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "fileio.h"

/* nobody, when run as root; else this process's own account */
static void some_account(struct account *a)
{
	memset(a, 0, sizeof *a);
	a->uid = geteuid() == 0 ? 65534 : geteuid();
	a->gid = geteuid() == 0 ? 65534 : getegid();
	a->groups[0] = a->gid;
	a->ngroups = 1;
	snprintf(a->name, sizeof a->name, "nobody");
	snprintf(a->home, sizeof a->home, "/");
}

static json_t *whoami(json_t *arg)
{
	(void)arg;
	return json_pack("{s:I}", "uid", (json_int_t)getuid());
}

static json_t *hang(json_t *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int hang_channel(void *arg, int fd)
{
	(void)arg;
	(void)fd;
	for (;;)
		pause();
	return -1;
}

static int say_hello(void *arg, int fd)
{
	(void)arg;
	return write(fd, "hello", 5) == 5 ? 0 : -1;
}

static void test_answer(void **state)
{
	struct account a;
	(void)state;
	some_account(&a);
	json_t *res = account_run(&a, whoami, NULL);
	assert_non_null(res);
	assert_int_equal(json_integer_value(json_object_get(res, "uid")), a.uid);
	json_decref(res);
}

static void test_hung_child_is_killed(void **state)
{
	struct account a;
	int err = 0;
	(void)state;
	some_account(&a);
	account_test_child_ms(300);
	assert_null(account_run(&a, hang, NULL));
	/* a channel's child that says nothing: the read times out, the end
	 * kills it and returns */
	pid_t pid;
	char got[8];
	int fd = account_channel(&a, hang_channel, NULL, &pid);
	assert_true(fd >= 0);
	assert_int_equal(fileio_read_ms(fd, got, sizeof got, 200), -1);
	err = errno;
	assert_int_equal(err, ETIMEDOUT);
	close(fd);
	account_channel_end(pid);
	/* and one that answers is read to its end */
	fd = account_channel(&a, say_hello, NULL, &pid);
	assert_true(fd >= 0);
	assert_int_equal(fileio_read_full_ms(fd, got, 5, 10000), 0);
	assert_memory_equal(got, "hello", 5);
	assert_int_equal(fileio_read_ms(fd, got, sizeof got, 10000), 0);
	close(fd);
	account_channel_end(pid);
	/* (without the kill these calls never return: ctest's timeout fails the test) */
	account_test_child_ms(30000);
}

/* The identity a supervisor or worker is handed: read back whole, and
 * refused when it is incomplete or (for a root daemon) names root. */
static void test_spec(void **state)
{
	struct account a, b;
	(void)state;
	some_account(&a);
	a.ngroups = 2;
	a.groups[1] = 4242;
	json_t *spec = json_object();
	account_to_spec(&a, spec);
	assert_int_equal(account_from_spec(spec, &b), 0);
	assert_int_equal(b.uid, a.uid);
	assert_int_equal(b.gid, a.gid);
	assert_int_equal(b.ngroups, 2);
	assert_int_equal(b.groups[1], 4242);
	assert_string_equal(b.name, "nobody");
	/* more groups than fit: the supervisor asks initgroups() instead */
	json_t *many = json_array();
	for (int i = 0; i <= ACCOUNT_GROUPS_MAX; i++)
		json_array_append_new(many, json_integer(i));
	json_object_set_new(spec, "groups", many);
	assert_int_equal(account_from_spec(spec, &b), 0);
	assert_int_equal(b.ngroups, -1);
	json_object_del(spec, "user");
	assert_int_equal(account_from_spec(spec, &b), -1);
	json_object_set_new(spec, "user", json_string("nobody"));
	json_object_set_new(spec, "uid", json_integer(-1));
	assert_int_equal(account_from_spec(spec, &b), -1);
	json_object_set_new(spec, "uid", json_string("0"));
	assert_int_equal(account_from_spec(spec, &b), -1);
	if (geteuid() == 0) {
		json_object_set_new(spec, "uid", json_integer(0));
		assert_int_equal(account_from_spec(spec, &b), -1);
		/* and becoming root "as a user" is refused outright */
		some_account(&a);
		a.uid = 0;
		assert_int_equal(account_become(&a), -1);
	}
	json_decref(spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_hung_child_is_killed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
