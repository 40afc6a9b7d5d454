/*
 * proto.c - wire spellings of the protocol's enumerations.
 *
 * Each table is generated from its X-macro in proto.h, so an enum value and
 * its spelling are declared once. Lookups are bounds-checked in both
 * directions: out-of-range values give NULL, unknown spellings give -1.
 */
#include "proto.h"

#include <stddef.h>
#include <string.h>

#define SPELLING(n, s) s,
static const char *const session_states[] = { TETHER_SESSION_STATE_MAP(SPELLING) };
static const char *const availabilities[] = { TETHER_AVAILABILITY_MAP(SPELLING) };
static const char *const job_states[] = { TETHER_JOB_STATE_MAP(SPELLING) };
static const char *const job_types[] = { TETHER_JOB_TYPE_MAP(SPELLING) };
static const char *const bufferings[] = { TETHER_OUTPUT_BUFFERING_MAP(SPELLING) };
static const char *const xfer_states[] = { TETHER_XFER_STATE_MAP(SPELLING) };
static const char *const xfer_priorities[] = { TETHER_XFER_PRIORITY_MAP(SPELLING) };
#undef SPELLING

#define COUNT(a) (sizeof (a) / sizeof (a)[0])

/* Entry v of a table of n spellings, or NULL if v is out of range. */
static const char *lookup(const char *const *t, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? t[v] : NULL;
}

/* The index of spelling s in a table of n, or -1. */
static int rlookup(const char *const *t, size_t n, const char *s)
{
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(t[i], s) == 0)
			return (int)i;
	return -1;
}

/* The wire spelling of a session state. */
const char *proto_session_state_str(int s)
{
	return lookup(session_states, COUNT(session_states), s);
}

/* The wire spelling of a session availability. */
const char *proto_availability_str(int a)
{
	return lookup(availabilities, COUNT(availabilities), a);
}

/* The wire spelling of a job state. */
const char *proto_job_state_str(int s)
{
	return lookup(job_states, COUNT(job_states), s);
}

/* The wire spelling of a job type. */
const char *proto_job_type_str(int t)
{
	return lookup(job_types, COUNT(job_types), t);
}

/* The job type spelled s, or -1. */
int proto_job_type_parse(const char *s)
{
	return rlookup(job_types, COUNT(job_types), s);
}

/* The wire spelling of an output buffering mode. */
const char *proto_buffering_str(int b)
{
	return lookup(bufferings, COUNT(bufferings), b);
}

/* The session state spelled s, or -1. */
int proto_session_state_parse(const char *s)
{
	return rlookup(session_states, COUNT(session_states), s);
}

/* The output buffering mode spelled s, or -1. */
int proto_buffering_parse(const char *s)
{
	return rlookup(bufferings, COUNT(bufferings), s);
}

/* The wire spelling of a transfer state. */
const char *proto_xfer_state_str(int s)
{
	return lookup(xfer_states, COUNT(xfer_states), s);
}

/* The wire spelling of a transfer priority. */
const char *proto_xfer_priority_str(int p)
{
	return lookup(xfer_priorities, COUNT(xfer_priorities), p);
}

/* The transfer state spelled s, or -1. */
int proto_xfer_state_parse(const char *s)
{
	return rlookup(xfer_states, COUNT(xfer_states), s);
}

/* The transfer priority spelled s, or -1. */
int proto_xfer_priority_parse(const char *s)
{
	return rlookup(xfer_priorities, COUNT(xfer_priorities), s);
}
