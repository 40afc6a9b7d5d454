/*
 * fuzz_common.c - the shared setup of the libFuzzer targets that need the
 * daemon's context (see fuzz_common.h).
 */
#include "fuzz_common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "account.h"
#include "userfile.h"
#include "spool.h"
#include "store.h"

/* Report a broken invariant and abort. */
void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
	abort();
}

/* Copy data into a fresh NUL-terminated string. */
char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Point the log at /dev/null. */
void fuzz_quiet(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		abort();
	log_setup(LOG_ERROR, fd);
}

/* Make the private directory once. */
const char *fuzz_state_dir(void)
{
	static char dir[512];
	if (dir[0] != '\0')
		return dir;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/tether-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return dir;
}

/* Build the daemon context once. */
struct server *fuzz_server(void)
{
	static struct server srv;
	static int made;
	char db[600], err[256];
	if (made)
		return &srv;
	fuzz_quiet();
	srvconf_defaults(&srv.conf);
	snprintf(srv.conf.state_dir, sizeof srv.conf.state_dir, "%s", fuzz_state_dir());
	snprintf(srv.hostname, sizeof srv.hostname, "fuzzhost");
	snprintf(db, sizeof db, "%s/tether.db", srv.conf.state_dir);
	if (spool_init(srv.conf.state_dir) != 0 || store_open(db, &srv.store, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz: cannot set up %s: %s\n", srv.conf.state_dir, err);
		abort();
	}
	made = 1;
	return &srv;
}

/* Ask account_of() about the fuzz user once. */
int fuzz_owner_refused(void)
{
	struct user_rec u = { .id = 1, .name = "fuzz", .os_user = FUZZ_OS_USER };
	struct account o;
	char why[256];
	return account_of(&u, &o, why, sizeof why) != TETHER_E_OK;
}
