/*
 * test-remote-client.c - libtether's remote client (tetherd's transfer
 * worker uses it for tether:// uploads): it keeps nothing on disk, checks
 * upload ids before sending anything, reports how an exchange ended, and
 * walks its proxies through the caller's hook. Network use is loopback
 * only, to ports nothing listens on (refused at once).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tether.h"
#include "tether-curl.h"

static char home[64];

/* A loopback port nothing listens on (bound, then let go). */
static int closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

/* Entries in dir besides . and .. (-1 if it cannot be read). */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof home, "/tmp/tether-remote-XXXXXX");
	const char *t = getenv("TMPDIR");
	if (t != NULL && strlen(t) < 40)
		snprintf(home, sizeof home, "%s/tether-remote-XXXXXX", t);
	if (mkdtemp(home) == NULL)
		return -1;
	setenv("TETHER_HOME", home, 1);
	setenv("HOME", home, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(home);   /* fails, and so the test, if anything was written */
}

/* No client id, no files; bad ids and unknown hosts fail before the network. */
static void test_nothing_on_disk(void **state)
{
	(void)state;
	struct tether_remote_opts o = { 0 };
	tether_client *c = NULL;
	char id[TETHER_UPLOAD_ID_MAX + 1];
	int64_t off = -1;
	bool done = false;
	assert_int_equal(tether_client_new_remote(&c, &o), TETHER_E_OK);
	assert_string_equal(tether_client_id(c), "");
	assert_int_equal(tether_upload_query(c, "127.0.0.1:1", "../x", &off, &done),
	                 TETHER_E_USAGE);
	assert_int_equal(tether_upload_remove(c, "127.0.0.1:1", ""), TETHER_E_USAGE);
	assert_int_equal(tether_upload_append(c, "127.0.0.1:1", "ABC", 0, "", 0, NULL),
	                 TETHER_E_USAGE);
	assert_int_equal(tether_upload_create(c, "127.0.0.1:1", "/tmp/x", 1, -1, NULL, id),
	                 TETHER_E_NOT_LOGGED_IN);
	assert_int_equal(off, -1);
	assert_int_equal(tether_last_http_status(c), 0);
	tether_client_free(c);
	assert_int_equal(entries(home), 0);
}

/* A login to a closed port: a transport failure, told as libcurl's code. */
static void test_transport_failure(void **state)
{
	(void)state;
	struct tether_remote_opts o = { .connect_timeout = 5, .io_timeout = 5 };
	tether_client *c = NULL;
	char host[32];
	snprintf(host, sizeof host, "127.0.0.1:%d", closed_port());
	assert_int_equal(tether_client_new_remote(&c, &o), TETHER_E_OK);
	struct tether_login_opts lo = { .user = "alice", .password = "pw" };
	assert_int_equal(tether_login(c, host, &lo, NULL), TETHER_E_CONNECT);
	assert_int_equal(tether_last_transport_error(c), CURLE_COULDNT_CONNECT);
	assert_int_equal(tether_last_http_status(c), 0);
	assert_non_null(strstr(tether_last_error(c), host));
	tether_client_free(c);
	assert_int_equal(entries(home), 0);
}

struct hops {
	int  calls;
	char proxies[4][64];
	char next[64];
};

/* next_proxy hook: one more proxy the first time, then give up. */
static const char *hop(void *ctx, const char *proxy, const char *why)
{
	struct hops *h = ctx;
	assert_non_null(why);
	snprintf(h->proxies[h->calls % 4], sizeof h->proxies[0], "%s", proxy);
	return h->calls++ == 0 ? h->next : NULL;
}

/* Unreachable proxies are walked through the hook, in order. */
static void test_proxy_walk(void **state)
{
	(void)state;
	struct hops h = { 0 };
	char first[64], host[32];
	snprintf(first, sizeof first, "http://127.0.0.1:%d", closed_port());
	snprintf(h.next, sizeof h.next, "http://127.0.0.1:%d", closed_port());
	snprintf(host, sizeof host, "127.0.0.1:%d", closed_port());
	struct tether_remote_opts o = { .proxy = first, .next_proxy = hop, .proxy_ctx = &h,
	                                .connect_timeout = 5, .io_timeout = 5 };
	tether_client *c = NULL;
	assert_int_equal(tether_client_new_remote(&c, &o), TETHER_E_OK);
	struct tether_login_opts lo = { .user = "alice", .password = "pw" };
	assert_int_equal(tether_login(c, host, &lo, NULL), TETHER_E_CONNECT);
	assert_int_equal(h.calls, 2);
	assert_string_equal(h.proxies[0], first);
	assert_string_equal(h.proxies[1], h.next);
	tether_client_free(c);
}

/* The proxy judgment itself: only failures that sent nothing. */
static void test_proxy_failure_judgment(void **state)
{
	(void)state;
	CURL *h = curl_easy_init();
	assert_non_null(h);
	assert_null(tether_curl_proxy_failure(h, CURLE_OK));
	assert_non_null(tether_curl_proxy_failure(h, CURLE_COULDNT_CONNECT));
	assert_non_null(tether_curl_proxy_failure(h, CURLE_COULDNT_RESOLVE_PROXY));
	assert_null(tether_curl_proxy_failure(h, CURLE_RECV_ERROR));
	assert_null(tether_curl_proxy_failure(h, CURLE_PEER_FAILED_VERIFICATION));
	curl_easy_cleanup(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_on_disk),
		cmocka_unit_test(test_transport_failure),
		cmocka_unit_test(test_proxy_walk),
		cmocka_unit_test(test_proxy_failure_judgment),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
