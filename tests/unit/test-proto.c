/*
 * test-proto.c - unit tests for the wire spellings of protocol enums.
 *
 * The spellings are part of the contract in docs/cli.md, so they are checked
 * literally, along with the out-of-range and exact-match behaviour.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto.h"

/* Every spelling is as documented. */
static void test_spellings(void **state)
{
	assert_string_equal(proto_session_state_str(SESSION_OPENED), "Opened");
	assert_string_equal(proto_session_state_str(SESSION_DISCONNECTED), "Disconnected");
	assert_string_equal(proto_session_state_str(SESSION_BROKEN), "Broken");
	assert_string_equal(proto_session_state_str(SESSION_CLOSED), "Closed");
	assert_string_equal(proto_availability_str(AVAIL_AVAILABLE), "Available");
	assert_string_equal(proto_availability_str(AVAIL_BUSY), "Busy");
	assert_string_equal(proto_availability_str(AVAIL_NONE), "None");
	assert_string_equal(proto_job_state_str(JOB_NOTSTARTED), "NotStarted");
	assert_string_equal(proto_job_state_str(JOB_RUNNING), "Running");
	assert_string_equal(proto_job_state_str(JOB_COMPLETED), "Completed");
	assert_string_equal(proto_job_state_str(JOB_FAILED), "Failed");
	assert_string_equal(proto_job_state_str(JOB_STOPPED), "Stopped");
	assert_string_equal(proto_job_state_str(JOB_BLOCKED), "Blocked");
	assert_string_equal(proto_job_state_str(JOB_DISCONNECTED), "Disconnected");
	assert_string_equal(proto_buffering_str(BUFFERING_BLOCK), "block");
	assert_string_equal(proto_buffering_str(BUFFERING_DROP), "drop");
	assert_string_equal(proto_job_type_str(JOB_TYPE_INVOKE), "invoke");
	assert_string_equal(proto_job_type_str(JOB_TYPE_BACKGROUND), "background");
	assert_string_equal(proto_job_type_str(JOB_TYPE_SHELL), "shell");
	assert_string_equal(proto_job_type_str(JOB_TYPE_TRANSFER), "transfer");
}

/* Values outside each enum give NULL. */
static void test_out_of_range(void **state)
{
	assert_null(proto_session_state_str(-1));
	assert_null(proto_session_state_str(SESSION_CLOSED + 1));
	assert_null(proto_session_state_str(INT_MAX));
	assert_null(proto_session_state_str(INT_MIN));
	assert_null(proto_availability_str(-1));
	assert_null(proto_availability_str(AVAIL_NONE + 1));
	assert_null(proto_job_state_str(-1));
	assert_null(proto_job_state_str(JOB_DISCONNECTED + 1));
	assert_null(proto_buffering_str(-1));
	assert_null(proto_buffering_str(BUFFERING_DROP + 1));
	assert_null(proto_job_type_str(-1));
	assert_null(proto_job_type_str(JOB_TYPE_TRANSFER + 1));
}

/* Parsing round-trips every value. */
static void test_parse_round_trip(void **state)
{
	for (int s = SESSION_OPENED; s <= SESSION_CLOSED; s++)
		assert_int_equal(proto_session_state_parse(proto_session_state_str(s)), s);
	for (int b = BUFFERING_BLOCK; b <= BUFFERING_DROP; b++)
		assert_int_equal(proto_buffering_parse(proto_buffering_str(b)), b);
}

/* Parsing is an exact, case-sensitive match. */
static void test_parse_exact(void **state)
{
	assert_int_equal(proto_session_state_parse("opened"), -1);
	assert_int_equal(proto_session_state_parse("OPENED"), -1);
	assert_int_equal(proto_session_state_parse("Opened "), -1);
	assert_int_equal(proto_session_state_parse(" Opened"), -1);
	assert_int_equal(proto_session_state_parse("Open"), -1);
	assert_int_equal(proto_session_state_parse(""), -1);
	assert_int_equal(proto_session_state_parse(NULL), -1);
	assert_int_equal(proto_session_state_parse("Running"), -1);
	assert_int_equal(proto_buffering_parse("Block"), -1);
	assert_int_equal(proto_buffering_parse("dro"), -1);
	assert_int_equal(proto_buffering_parse(""), -1);
	assert_int_equal(proto_buffering_parse(NULL), -1);
	for (int t = JOB_TYPE_INVOKE; t <= JOB_TYPE_TRANSFER; t++)
		assert_int_equal(proto_job_type_parse(proto_job_type_str(t)), t);
	assert_int_equal(proto_job_type_parse("Invoke"), -1);
}

/* Run the tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_parse_round_trip),
		cmocka_unit_test(test_parse_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
