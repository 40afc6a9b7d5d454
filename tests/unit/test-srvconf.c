/* Unit tests for server/srvconf.c: keys, ranges, listen addresses, the key
 * table's defaults and reload flags, conf.d drop-ins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounds.h"
#include "config.h"
#include "joblog.h"
#include "proto.h"
#include "srvconf.h"

static int cb(void *ctx, const char *k, const char *v, char *err, size_t errsz)
{
	return srvconf_set(ctx, k, v, err, errsz);
}

static void test_defaults_and_keys(void **state)
{
	struct srvconf c;
	char err[256];
	srvconf_defaults(&c);
	assert_int_equal(c.nlisten, 0);
	assert_int_equal(c.idle_timeout, TETHER_IDLE_TIMEOUT_DEFAULT);
	static const char text[] =
		"# comment\n"
		"token_ttl = 60\n"
		"lockout_threshold=2\n"
		"listen = 127.0.0.1:9000\n"
		"listen = [::1]:9001\n"
		"log_level = warn\n"
		"state_dir = \"/tmp/x y\"\n";
	assert_int_equal(config_parse(text, sizeof text - 1, cb, &c, err, sizeof err), 0);
	assert_int_equal(c.token_ttl, 60);
	assert_int_equal(c.lockout_threshold, 2);
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[1], "[::1]:9001");
	assert_int_equal(c.log_level, LOG_WARN);
	assert_string_equal(c.state_dir, "/tmp/x y");
}

/* The password backend and its PAM service. */
static void test_auth(void **state)
{
	struct srvconf c;
	char err[256];
	srvconf_defaults(&c);
	assert_int_equal(c.auth, SRVCONF_AUTH_BUILTIN);
	assert_string_equal(c.pam_service, "tether");
	assert_int_equal(srvconf_set(&c, "auth", "pam", err, sizeof err), 0);
	assert_int_equal(c.auth, SRVCONF_AUTH_PAM);
	assert_int_equal(srvconf_set(&c, "pam_service", "tether-test_1.x", err, sizeof err), 0);
	assert_string_equal(c.pam_service, "tether-test_1.x");
	assert_int_equal(srvconf_set(&c, "auth", "builtin", err, sizeof err), 0);
	assert_int_equal(c.auth, SRVCONF_AUTH_BUILTIN);
}

static void test_rejections(void **state)
{
	struct srvconf c;
	char err[256];
	srvconf_defaults(&c);
	static const char *const bad[][2] = {
		{ "token_ttl", "0" }, { "token_ttl", "abc" }, { "token_ttl", "-1" },
		{ "token_ttl", "99999999999" }, { "state_dir", "relative/path" },
		{ "log_level", "loud" }, { "listen", "::1:80" }, { "listen", "1.2.3.4:99999" },
		{ "listen", "[::1" }, { "no_such_key", "1" }, { "listen", ":80" },
		{ "auth", "PAM" }, { "auth", "" }, { "auth", "pam " }, { "pam_service", "" },
		{ "pam_service", "../etc/x" }, { "pam_service", "a/b" }, { "pam_service", ".x" },
		{ "pam_service", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(srvconf_set(&c, bad[i][0], bad[i][1], err, sizeof err), -1);
		assert_true(strlen(err) > 0);
	}
	assert_int_equal(c.token_ttl, 30 * 86400);   /* unchanged by failures */
	assert_int_equal(c.nlisten, 0);
	assert_int_equal(c.auth, SRVCONF_AUTH_BUILTIN);
	assert_string_equal(c.pam_service, "tether");
	char text[] = "token_ttl = 5\nbogus = 1\n";
	assert_int_equal(config_parse(text, strlen(text), cb, &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 2"));
}

static void test_parse_listen(void **state)
{
	char addr[64], err[128];
	uint16_t port;
	assert_int_equal(srvconf_parse_listen("0.0.0.0:1", addr, sizeof addr, &port, err, sizeof err), 0);
	assert_string_equal(addr, "0.0.0.0");
	assert_int_equal(port, 1);
	assert_int_equal(srvconf_parse_listen("127.0.0.1", addr, sizeof addr, &port, err, sizeof err), 0);
	assert_int_equal(port, TETHER_DEFAULT_PORT);
	assert_int_equal(srvconf_parse_listen("[::1]:0", addr, sizeof addr, &port, err, sizeof err), 0);
	assert_string_equal(addr, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(srvconf_parse_listen("[::1]x", addr, sizeof addr, &port, err, sizeof err), -1);
	assert_int_equal(srvconf_parse_listen("h:", addr, sizeof addr, &port, err, sizeof err), -1);
}

/* Every default, as it was before the table carried them. */
static void test_table_defaults(void **state)
{
	struct srvconf c;
	srvconf_defaults(&c);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(c.token_ttl, 30 * 86400);
	assert_int_equal(c.lockout_threshold, 5);
	assert_int_equal(c.lockout_window, 900);
	assert_int_equal(c.lockout_duration, 300);
	assert_int_equal(c.login_concurrency, 4);
	assert_int_equal(c.audit_retention, 90);
	assert_int_equal(c.max_sessions_per_user, 1000);
	assert_int_equal(c.idle_timeout, TETHER_IDLE_TIMEOUT_DEFAULT);
	assert_int_equal(c.connection_timeout, 300);
	assert_int_equal(c.max_unauthenticated, 128);
	assert_int_equal(c.max_connections_per_address, 64);
	assert_int_equal(c.login_grace_time, 10);
	assert_int_equal(c.keepalive, 240);
	assert_int_equal(c.stop_grace, 5);
	assert_int_equal(c.output_cap, OUTCAP_DEFAULT);
	assert_int_equal(c.session_output_cap, 4 * OUTCAP_DEFAULT);
	assert_int_equal(c.user_output_cap, 16 * OUTCAP_DEFAULT);
	assert_int_equal(c.transfer_jobs_per_user, 60);
	assert_int_equal(c.transfer_files_per_job, 200);
	assert_int_equal(c.transfer_concurrency, 2);
	assert_int_equal(c.transfer_slice, 60);
	assert_int_equal(c.transfer_parallel_files, 16);
	assert_int_equal(c.transfer_background_rate, 0);
	assert_int_equal(c.uploads_per_user, 60);
	assert_int_equal(c.upload_expiry, 7 * 86400);
	assert_string_equal(c.cert, "");
	assert_string_equal(c.key, "");
	assert_true(c.state_dir[0] == '/');
	/* each row fits its field, each key once, every default in range */
	for (size_t i = 0; i < srvconf_nkeys; i++) {
		const struct srvconf_key *k = &srvconf_keys[i];
		if (k->type == SRVCONF_NUMBER) {
			assert_int_equal(k->size, sizeof(int64_t));
			assert_true(k->min <= k->def && k->def <= k->max);
		} else if (k->type == SRVCONF_LEVEL || k->type == SRVCONF_BOOL) {
			assert_int_equal(k->size, sizeof(int));
		} else if (k->type == SRVCONF_PATH) {
			assert_int_equal(k->size, BOUND_PATH);
		} else if (k->type == SRVCONF_AUTH) {
			assert_int_equal(k->size, sizeof(int));
		} else if (k->type == SRVCONF_WORD) {
			assert_int_equal(k->size, SRVCONF_WORD_MAX);
		} else {
			assert_false(k->reload);   /* listeners are set at start only */
		}
		assert_non_null(k->doc);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(k->key, srvconf_keys[j].key);
	}
}

/* srvconf_reload copies exactly the reload rows. */
static void test_reload(void **state)
{
	static const char *const reloadable[] = {
		"log_level", "token_ttl", "max_sessions_per_user", "idle_timeout", "output_cap",
		"session_output_cap", "user_output_cap", "authorized_keys",
	};
	size_t n = 0;
	for (size_t i = 0; i < srvconf_nkeys; i++) {
		int want = 0;
		for (size_t j = 0; j < sizeof reloadable / sizeof reloadable[0]; j++)
			want |= strcmp(srvconf_keys[i].key, reloadable[j]) == 0;
		assert_int_equal(srvconf_keys[i].reload, want);
		n += srvconf_keys[i].reload;
	}
	assert_int_equal(n, sizeof reloadable / sizeof reloadable[0]);

	struct srvconf live, fresh;
	char err[256];
	srvconf_defaults(&live);
	srvconf_defaults(&fresh);
	assert_int_equal(fresh.authorized_keys, 0);
	assert_int_equal(srvconf_set(&fresh, "authorized_keys", "maybe", err, sizeof err), -1);
	assert_non_null(strstr(err, "yes or no"));
	assert_int_equal(srvconf_set(&fresh, "authorized_keys", "yes", err, sizeof err), 0);
	assert_int_equal(fresh.authorized_keys, 1);
	assert_int_equal(srvconf_set(&fresh, "token_ttl", "77", err, sizeof err), 0);
	assert_int_equal(srvconf_set(&fresh, "log_level", "debug", err, sizeof err), 0);
	assert_int_equal(srvconf_set(&fresh, "output_cap", "65536", err, sizeof err), 0);
	assert_int_equal(srvconf_set(&fresh, "session_output_cap", "65535", err, sizeof err), -1);
	assert_int_equal(srvconf_set(&fresh, "user_output_cap", "131072", err, sizeof err), 0);
	assert_int_equal(srvconf_set(&fresh, "lockout_threshold", "9", err, sizeof err), 0);
	assert_int_equal(srvconf_set(&fresh, "keepalive", "33", err, sizeof err), 0);
	assert_int_equal(srvconf_set(&fresh, "state_dir", "/elsewhere", err, sizeof err), 0);
	assert_int_equal(srvconf_set(&fresh, "listen", "127.0.0.1:1", err, sizeof err), 0);
	srvconf_reload(&live, &fresh);
	assert_int_equal(live.token_ttl, 77);
	assert_int_equal(live.log_level, LOG_DEBUG);
	assert_int_equal(live.output_cap, 65536);
	assert_int_equal(live.user_output_cap, 131072);
	assert_int_equal(live.authorized_keys, 1);
	assert_int_equal(live.lockout_threshold, 5);   /* not reloadable */
	assert_int_equal(live.keepalive, 240);
	assert_string_not_equal(live.state_dir, "/elsewhere");
	assert_int_equal(live.nlisten, 0);
}

/* Write text to dir/name. */
static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The main file, then conf.d in name order (later wins); other names and
 * hidden files are ignored; an error names the drop-in and its line. */
static void test_dropins(void **state)
{
	char dir[256], confd[300], main_conf[300], err[600];
	struct srvconf c;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/test-srvconf-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(confd, sizeof confd, "%s/conf.d", dir);
	snprintf(main_conf, sizeof main_conf, "%s/tetherd.conf", dir);
	put(dir, "tetherd.conf", "token_ttl = 10\nstop_grace = 7\n");
	/* no conf.d: the main file alone */
	srvconf_defaults(&c);
	assert_int_equal(srvconf_load_all(&c, main_conf, err, sizeof err), 0);
	assert_int_equal(c.token_ttl, 10);
	assert_int_equal(mkdir(confd, 0700), 0);
	put(confd, "20-b.conf", "token_ttl = 30\n");
	put(confd, "10-a.conf", "token_ttl = 20\nkeepalive = 99\n");
	put(confd, "99-z.conf.bak", "token_ttl = 40\n");
	put(confd, ".30-hidden.conf", "token_ttl = 50\n");
	srvconf_defaults(&c);
	assert_int_equal(srvconf_load_all(&c, main_conf, err, sizeof err), 0);
	assert_int_equal(c.token_ttl, 30);
	assert_int_equal(c.keepalive, 99);
	assert_int_equal(c.stop_grace, 7);
	put(confd, "15-bad.conf", "\nkeepalive = -1\n");
	srvconf_defaults(&c);
	assert_int_equal(srvconf_load_all(&c, main_conf, err, sizeof err), -1);
	char want[400];
	snprintf(want, sizeof want, "%s/15-bad.conf: line 2: keepalive", confd);
	assert_non_null(strstr(err, want));
	const char *names[] = { "10-a.conf", "15-bad.conf", "20-b.conf", "99-z.conf.bak",
	                        ".30-hidden.conf" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char p[400];
		snprintf(p, sizeof p, "%s/%s", confd, names[i]);
		unlink(p);
	}
	rmdir(confd);
	unlink(main_conf);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_keys),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_table_defaults),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_dropins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
