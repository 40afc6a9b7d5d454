/*
 * test-targets.c - unit tests for TARGETS expansion and nodeset folding.
 *
 * Cases are data: a TARGETS string (and an inventory or host file where it
 * needs one) and the hosts it must give, in order, or the words its error
 * must contain. Inventories are checked against what Ansible's INI plugin
 * does with the same text (tests/integration/test_fleet_targets.py runs
 * ansible-inventory itself).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "targets.h"

static char tmpdir[64];

/* Write text to tmpdir/name and return its path (static buffer per call slot). */
static const char *write_file(const char *name, const char *text)
{
	static char paths[8][256];
	static int slot;
	char *p = paths[slot++ % 8];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

/* Expand spec and check the hosts: each "NAME" or "NAME=ADDR", NULL-ended. */
static void expect_hosts(const char *spec, const char *inv, ...)
{
	struct fleet_hosts h;
	char err[512] = "";
	va_list ap;
	size_t i = 0;

	if (targets_expand(spec, inv, NULL, &h, err, sizeof err) != 0)
		fail_msg("'%s' failed: %s", spec, err);
	va_start(ap, inv);
	for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
		const char *eq = strchr(want, '=');
		size_t nlen = eq ? (size_t)(eq - want) : strlen(want);
		if (i >= h.n)
			fail_msg("'%s': only %zu hosts, wanted %s", spec, h.n, want);
		if (strlen(h.v[i].name) != nlen || strncmp(h.v[i].name, want, nlen) != 0 ||
		    strcmp(h.v[i].addr, eq ? eq + 1 : want) != 0)
			fail_msg("'%s': host %zu is %s=%s, wanted %s", spec, i, h.v[i].name,
			         h.v[i].addr, want);
	}
	va_end(ap);
	if (h.n != i)
		fail_msg("'%s': %zu hosts, wanted %zu (extra: %s)", spec, h.n, i, h.v[i].name);
	fleet_hosts_free(&h);
}

/* Expand spec and check that it fails with a reason containing want. */
static void expect_error(const char *spec, const char *inv, const char *want)
{
	struct fleet_hosts h = { (void *)1, 7 };
	char err[512] = "";

	if (targets_expand(spec, inv, NULL, &h, err, sizeof err) == 0)
		fail_msg("'%s' expanded to %zu hosts, wanted an error", spec, h.n);
	assert_null(h.v);
	assert_int_equal(h.n, 0);
	if (strstr(err, want) == NULL)
		fail_msg("'%s': error '%s' lacks '%s'", spec, err, want);
	assert_null(strchr(err, '\n'));
}

/* Ranges keep their zero padding; unpadded ranges grow naturally. */
static void test_ranges(void **state)
{
	(void)state;
	expect_hosts("web[01-03]", NULL, "web01", "web02", "web03", NULL);
	expect_hosts("web[08-11]", NULL, "web08", "web09", "web10", "web11", NULL);
	expect_hosts("web[9-11]", NULL, "web9", "web10", "web11", NULL);
	expect_hosts("n[001-002].example.com", NULL, "n001.example.com", "n002.example.com",
	             NULL);
	expect_hosts("x[1-7/3]", NULL, "x1", "x4", "x7", NULL);
	expect_hosts("[1-2]x", NULL, "1x", "2x", NULL);
	expect_hosts("host", NULL, "host", NULL);
}

/* Several brackets are a cartesian product, left to right. */
static void test_multi_bracket(void **state)
{
	(void)state;
	expect_hosts("rack[1-2]-n[01-02]", NULL, "rack1-n01", "rack1-n02", "rack2-n01",
	             "rack2-n02", NULL);
	expect_hosts("a[1-2]b[1,3]c", NULL, "a1b1c", "a1b3c", "a2b1c", "a2b3c", NULL);
}

/* Comma lists inside brackets; commas there do not split TARGETS. */
static void test_comma_lists(void **state)
{
	(void)state;
	expect_hosts("n[1-2,7,10-11]", NULL, "n1", "n2", "n7", "n10", "n11", NULL);
	expect_hosts("a, n[1,2] ,b", NULL, "a", "n1", "n2", "b", NULL);
	expect_hosts("a,,b,", NULL, "a", "b", NULL);
}

/* An IPv6 literal in brackets is an address, never a range. */
static void test_ipv6_literal(void **state)
{
	(void)state;
	expect_hosts("[::1]:4433", NULL, "[::1]:4433", NULL);
	expect_hosts("admin@[fe80::1]:22,[::1]", NULL, "admin@[fe80::1]:22", "[::1]", NULL);
	expect_error("[::1", NULL, "missing ']'");
}

/* USER@ and :PORT may surround a ranged name. */
static void test_user_port(void **state)
{
	(void)state;
	expect_hosts("admin@web[1-2]:8443", NULL, "admin@web1:8443", "admin@web2:8443", NULL);
	expect_hosts("web[1-2]:22", NULL, "web1:22", "web2:22", NULL);
	expect_error("web1:99999", NULL, "invalid port");
	expect_error("bad_name", NULL, "invalid host name");
}

/* Malformed ranges fail with the offending text. */
static void test_malformed(void **state)
{
	(void)state;
	expect_error("web[3-1]", NULL, "web[3-1]");
	expect_error("web[3-1]", NULL, "ends before it starts");
	expect_error("web[1-", NULL, "missing ']' in 'web[1-'");
	expect_error("web[a-b]", NULL, "malformed range '[a-b]' in 'web[a-b]'");
	expect_error("web[]", NULL, "empty range '[]' in 'web[]'");
	expect_error("web[1,]", NULL, "malformed range");
	expect_error("web[1-2/0]", NULL, "malformed range");
	expect_error("web1]", NULL, "unmatched ']'");
	expect_error("web[1[2]]", NULL, "'[' inside a range");
	expect_error("web[1:3]", NULL, "write A-B");
	expect_error("web[1234567890123456789]", NULL, "malformed range");
	expect_error("", NULL, "empty TARGETS");
	expect_error(" , ", NULL, "empty TARGETS");
	expect_error("@", NULL, "'@' needs a GROUP or a PATH");
}

/* A hostile range fails at once, before anything is generated. */
static void test_hostile(void **state)
{
	struct fleet_hosts h;
	char err[256];
	(void)state;

	expect_error("x[0-999999999]", NULL, "has more than 100000 hosts");
	expect_error("x[0-18446744073709551615]", NULL, "malformed range");
	expect_error("x[1-50000,1-50000,1-50000]", NULL, "more than 100000 hosts");
	expect_error("x[1-1000]y[1-1000]", NULL, "expands to more than 100000 hosts");
	expect_error("x[0-99999],y1", NULL, "more than 100000 hosts");
	/* exactly the limit is fine */
	assert_int_equal(targets_expand("x[0-99999]", NULL, NULL, &h, err, sizeof err), 0);
	assert_int_equal(h.n, TARGETS_MAX);
	assert_string_equal(h.v[h.n - 1].name, "x99999");
	fleet_hosts_free(&h);
	/* duplicates do not count toward the host limit, but are bounded */
	assert_int_equal(targets_expand("x[0-99999],x[0-99999]", NULL, NULL, &h, err,
	                                sizeof err), 0);
	assert_int_equal(h.n, TARGETS_MAX);
	fleet_hosts_free(&h);
	char many[400];
	size_t used = 0;
	for (int i = 0; i < 9; i++)
		used += (size_t)snprintf(many + used, sizeof many - used, "x[0-99999],");
	expect_error(many, NULL, "duplicates included");
}

/* Duplicates are dropped, first order kept. */
static void test_dedup(void **state)
{
	(void)state;
	expect_hosts("b,a,b,a[1-2],a1,a", NULL, "b", "a", "a1", "a2", NULL);
}

/* qsort order for names. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fold the names spec expands to; check the text and that it expands back
 * to the same hosts in the same set. */
static void expect_fold(const char *spec, const char *want)
{
	struct fleet_hosts h, back;
	char err[256], **names, *folded;

	assert_int_equal(targets_expand(spec, NULL, NULL, &h, err, sizeof err), 0);
	names = calloc(h.n, sizeof *names);
	assert_non_null(names);
	for (size_t i = 0; i < h.n; i++)
		names[i] = h.v[i].name;
	assert_int_equal(nodeset_fold(names, h.n, &folded), 0);
	if (want != NULL && strcmp(folded, want) != 0)
		fail_msg("fold of '%s' is '%s', wanted '%s'", spec, folded, want);
	if (targets_expand(folded, NULL, NULL, &back, err, sizeof err) != 0)
		fail_msg("fold '%s' does not expand: %s", folded, err);
	assert_int_equal(back.n, h.n);
	char **again = calloc(back.n, sizeof *again);
	assert_non_null(again);
	for (size_t i = 0; i < back.n; i++)
		again[i] = back.v[i].name;
	qsort(names, h.n, sizeof *names, name_cmp);
	qsort(again, back.n, sizeof *again, name_cmp);
	for (size_t i = 0; i < h.n; i++)
		if (strcmp(names[i], again[i]) != 0)
			fail_msg("fold '%.200s' of '%s' gives %s where %s was", folded, spec,
			         again[i], names[i]);
	free(again);
	free(folded);
	free(names);
	fleet_hosts_free(&h);
	fleet_hosts_free(&back);
}

/* Folding gives the nodeset notation and round-trips. */
static void test_fold(void **state)
{
	char *out;
	(void)state;

	expect_fold("web01,web02,web03,web07,db1", "db1,web[01-03,07]");
	expect_fold("rack[1-3]-n[01-16]", "rack[1-3]-n[01-16]");
	expect_fold("web[08-11]", "web[08-11]");
	expect_fold("web9,web10,web11", "web[9-11]");
	expect_fold("web1", "web1");
	expect_fold("a,b,a", "a,b");
	expect_fold("10.0.0.[1-5],10.0.1.[1-5]", "10.0.[0-1].[1-5]");
	expect_fold("web[01-03],web[1-3]", NULL);
	expect_fold("web9,web09,web10,web010", NULL);
	expect_fold("admin@web[1-2]:8443,root@web1", NULL);
	expect_fold("[::1]:4433,[::2]:4433,a1b2c3,a1b2c4,a2b2c3", NULL);
	expect_fold("n[1-3,7,10-12],m[5-6]x[1-2],x123456789012345678901", NULL);
	expect_fold("rack[1-2]-n[01-04],rack3-n[01-02]", NULL);
	/* a long run folds in one piece (and not in quadratic time) */
	expect_fold("x[0-99999]", "x[0-99999]");
	expect_fold("a[1-300]b[1-300]", "a[1-300]b[1-300]");
	assert_int_equal(nodeset_fold(NULL, 0, &out), 0);
	assert_string_equal(out, "");
	free(out);
}

/* @PATH reads a host file: comments, blank lines, ranges, nesting. */
static void test_host_file(void **state)
{
	char spec[300];
	(void)state;

	const char *inner = write_file("inner.txt", "deep1\n");
	char outer_text[400];
	snprintf(outer_text, sizeof outer_text, "# web tier\nweb[1-2]   # two\n\n  db1,db2 \n"
	         "@%s\nweb1\n", inner);
	const char *outer = write_file("hosts.txt", outer_text);
	snprintf(spec, sizeof spec, "first,@%s", outer);
	expect_hosts(spec, NULL, "first", "web1", "web2", "db1", "db2", "deep1", NULL);

	snprintf(spec, sizeof spec, "@%s/missing.txt", tmpdir);
	expect_error(spec, NULL, "cannot read host file");
	snprintf(spec, sizeof spec, "@%s", tmpdir);
	expect_error(spec, NULL, "not a regular file");

	const char *bad = write_file("bad.txt", "ok1\nweb[3-1]\n");
	snprintf(spec, sizeof spec, "@%s", bad);
	expect_error(spec, NULL, "bad.txt:2: range '3-1'");

	char loop_text[300];
	snprintf(loop_text, sizeof loop_text, "@%s/loop.txt\n", tmpdir);
	write_file("loop.txt", loop_text);
	snprintf(spec, sizeof spec, "@%s/loop.txt", tmpdir);
	expect_error(spec, NULL, "nested more than");
}

static const char inventory[] =
	"# a fleet\n"
	"solo1\n"
	"solo2 ansible_port=2201\n"
	"moved ansible_host=10.9.9.9\n"
	"\n"
	"[web]\n"
	"web[01:03]\n"
	"web-extra.example.com:8443 ansible_user=deploy  # a comment\n"
	"moved\n"
	"\n"
	"[db]\n"
	"db[0:20:10] ansible_host=10.0.0.5 ansible_port=5432\n"
	"db-[a:c]\n"
	"v6db ansible_host=fd00::5 ansible_port=\"2222\"\n"
	"[::7]:2207\n"
	"\n"
	"[db:vars]\n"
	"ansible_port=9999\n"
	"ntp=pool.example.org\n"
	"\n"
	"; children of children\n"
	"[backend:children]\n"
	"db\n"
	"cache   # declared later\n"
	"\n"
	"[cache]\n"
	"redis[1:2] ansible_host='10.1.0.1'\n"
	"\n"
	"[prod:children]\n"
	"web\n"
	"backend\n"
	"\n"
	"[empty]\n"
	"[all:vars]\n"
	"x=1\n";

/* The inventory: groups, children of children, ranges, variables. */
static void test_inventory(void **state)
{
	(void)state;
	const char *inv = write_file("inventory", inventory);

	expect_hosts("@web", inv, "web01", "web02", "web03",
	             "web-extra.example.com=web-extra.example.com:8443", "moved=10.9.9.9", NULL);
	expect_hosts("@db", inv, "db0=10.0.0.5:5432", "db10=10.0.0.5:5432",
	             "db20=10.0.0.5:5432", "db-a", "db-b", "db-c", "v6db=[fd00::5]:2222",
	             "::7=[::7]:2207", NULL);
	expect_hosts("@cache", inv, "redis1=10.1.0.1", "redis2=10.1.0.1", NULL);
	expect_hosts("@backend", inv, "db0=10.0.0.5:5432", "db10=10.0.0.5:5432",
	             "db20=10.0.0.5:5432", "db-a", "db-b", "db-c", "v6db=[fd00::5]:2222",
	             "::7=[::7]:2207", "redis1=10.1.0.1", "redis2=10.1.0.1", NULL);
	/* hosts before any section that are in no other group */
	expect_hosts("@ungrouped", inv, "solo1", "solo2=solo2:2201", NULL);
	expect_hosts("@prod,solo1", inv, "web01", "web02", "web03",
	             "web-extra.example.com=web-extra.example.com:8443", "moved=10.9.9.9",
	             "db0=10.0.0.5:5432", "db10=10.0.0.5:5432", "db20=10.0.0.5:5432", "db-a",
	             "db-b", "db-c", "v6db=[fd00::5]:2222", "::7=[::7]:2207",
	             "redis1=10.1.0.1", "redis2=10.1.0.1", "solo1", NULL);
	expect_hosts("@all", inv, "solo1", "solo2=solo2:2201", "moved=10.9.9.9", "web01",
	             "web02", "web03", "web-extra.example.com=web-extra.example.com:8443",
	             "db0=10.0.0.5:5432", "db10=10.0.0.5:5432", "db20=10.0.0.5:5432", "db-a",
	             "db-b", "db-c", "v6db=[fd00::5]:2222", "::7=[::7]:2207",
	             "redis1=10.1.0.1", "redis2=10.1.0.1", NULL);
	/* a host named directly is used as written, not looked up */
	expect_hosts("@cache,redis1,web[01-02]", inv, "redis1=10.1.0.1", "redis2=10.1.0.1",
	             "web01", "web02", NULL);
	expect_error("@nosuch", inv, "unknown group '@nosuch'");
	expect_error("@empty", inv, "no hosts");
}

/* Where the inventory comes from: the argument, $TETHER_INVENTORY, home. */
static void test_inventory_location(void **state)
{
	struct fleet_hosts h;
	char err[512], home[128];
	(void)state;

	const char *a = write_file("inv-a", "[g]\nfrom-a\n");
	const char *b = write_file("inv-b", "[g]\nfrom-b\n");
	snprintf(home, sizeof home, "%s/home", tmpdir);
	assert_int_equal(mkdir(home, 0700), 0);
	write_file("home/inventory", "[g]\nfrom-home\n");

	setenv("TETHER_INVENTORY", b, 1);
	assert_int_equal(targets_expand("@g", a, home, &h, err, sizeof err), 0);
	assert_string_equal(h.v[0].name, "from-a");
	fleet_hosts_free(&h);
	assert_int_equal(targets_expand("@g", NULL, home, &h, err, sizeof err), 0);
	assert_string_equal(h.v[0].name, "from-b");
	fleet_hosts_free(&h);
	unsetenv("TETHER_INVENTORY");
	assert_int_equal(targets_expand("@g", NULL, home, &h, err, sizeof err), 0);
	assert_string_equal(h.v[0].name, "from-home");
	fleet_hosts_free(&h);
	/* no inventory at all: a clear reason, and plain hosts need none */
	snprintf(home, sizeof home, "%s/nohome", tmpdir);
	assert_int_equal(targets_expand("@g", NULL, home, &h, err, sizeof err), -1);
	assert_non_null(strstr(err, "no inventory at"));
	assert_int_equal(targets_expand("@g", NULL, NULL, &h, err, sizeof err), -1);
	assert_non_null(strstr(err, "needs an inventory"));
	assert_int_equal(targets_expand("plain1", NULL, NULL, &h, err, sizeof err), 0);
	fleet_hosts_free(&h);
}

/* Inventory mistakes Ansible refuses are refused, with file and line. */
static void test_inventory_errors(void **state)
{
	(void)state;
	expect_error("@a", write_file("cyc", "[a:children]\nb\n[b:children]\nc\n"
	             "[c:children]\na\n"), "contains itself");
	expect_error("@a", write_file("self", "[a:children]\na\n"), "its own child");
	expect_error("@a", write_file("undef", "[a]\nh1\n[a:children]\nghost\n"),
	             "undef:4: section [a:children] includes undefined group: ghost");
	expect_error("@a", write_file("undefvars", "[a]\nh1\n[nogroup:vars]\nx=1\n"),
	             "section [nogroup:vars] is for an undefined group");
	expect_error("@a", write_file("badtype", "[a:hostz]\nh1\n"), "unknown type: hostz");
	expect_error("@a", write_file("badsec", "[a b]\nh1\n"), "invalid section entry");
	expect_error("@a", write_file("badvar", "[a]\nh1 novalue\n"),
	             "expected key=value host variable assignment, got: novalue");
	expect_error("@a", write_file("badquote", "[a]\nh1 x='open\n"), "no closing quotation");
	expect_error("@a", write_file("badrange", "[a]\nweb[1-3]\n"),
	             "must be begin:end or begin:end:step");
	expect_error("@a", write_file("badpad", "[a]\nweb[01:100]\n"), "equal-length");
	expect_error("@a", write_file("huge", "[a]\nx[0:999999999]\n"), "more than 100000");
	expect_error("@a", write_file("colon", "[a]\nweb1:\n"), "ending in ':'");
	expect_error("@a", write_file("noaddr", "[a]\nbad_name\n"), "give it ansible_host=");
	/* a group that is only referenced later is fine once declared */
	expect_hosts("@p", write_file("later", "[p:children]\nq\n[q:vars]\nx=1\n[q]\nq1\n"),
	             "q1", NULL);
}

/* Ansible's own range syntax in inventory hosts: colon, stride, letters. */
static void test_inventory_ranges(void **state)
{
	(void)state;
	const char *inv = write_file("ranges",
	                             "[a]\nweb[01:03]\nn[0:20:10]x\n[b]\nh[a:c]\nh[Y:Z]\n"
	                             "[c]\nr[1:2]-[a:b]:2200\n[d]\nz[:2]\nz[3:1]\n");
	expect_hosts("@a", inv, "web01", "web02", "web03", "n0x", "n10x", "n20x", NULL);
	expect_hosts("@b", inv, "ha", "hb", "hc", "hY", "hZ", NULL);
	expect_hosts("@c", inv, "r1-a=r1-a:2200", "r1-b=r1-b:2200", "r2-a=r2-a:2200",
	             "r2-b=r2-b:2200", NULL);
	/* an empty begin is 0; a backwards numeric range is empty, as in Ansible */
	expect_hosts("@d", inv, "z0", "z1", "z2", NULL);
}

/* Create the temporary directory. */
static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test-targets.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

/* Remove it. */
static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_multi_bracket),
		cmocka_unit_test(test_comma_lists),
		cmocka_unit_test(test_ipv6_literal),
		cmocka_unit_test(test_user_port),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_host_file),
		cmocka_unit_test(test_inventory),
		cmocka_unit_test(test_inventory_location),
		cmocka_unit_test(test_inventory_errors),
		cmocka_unit_test(test_inventory_ranges),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
