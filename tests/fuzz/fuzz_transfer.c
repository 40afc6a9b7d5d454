/*
 * fuzz_transfer.c - libFuzzer target: a transfer create or change
 * request body (POST and PATCH .../transfers) through the JSON parser and
 * the transfer engine's validation (server/xfer.c).
 *
 * xfer_create runs for real: it validates name, direction, priority,
 * sources and destination (URLs through libcurl's parser) and then stops at
 * account_of(), since the fuzz user's OS account does not exist; it must
 * never succeed here. Its options (retry and rate numbers, cacert, sha256,
 * notify_cmd, credentials, proxy) are checked after that point, so they are
 * fed to the same parse_options directly. xfer_set validates and then finds
 * no such transfer in the empty store.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "jsonu.h"
#include "xfer.h"

static struct server *srv;
static int owner_refused;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	srv = fuzz_server();
	owner_refused = fuzz_owner_refused();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];
	json_t *in = jsonu_parse_object((const char *)data, size, why, sizeof why);
	if (in == NULL)
		return 0;
	struct user_rec u = { .id = 1, .name = "fuzz", .os_user = FUZZ_OS_USER };
	struct session_rec s = { .id = 1, .user_id = 1, .name = "fuzz-session" };
	json_t *out = NULL;
	if (owner_refused) {
		why[0] = '\0';
		tether_err e = xfer_create(srv, &u, &s, in, &out, why, sizeof why);
		fuzz_check(e != TETHER_E_OK && out == NULL && why[0] != '\0');
	}

	json_t *opts = json_object();
	char *sealed = NULL;
	why[0] = '\0';
	if (xfer_test_parse_options(srv, in, opts, &sealed, why, sizeof why) != 0)
		fuzz_check(why[0] != '\0');
	free(sealed);
	json_decref(opts);

	why[0] = '\0';
	tether_err e = xfer_set(srv, &s, 999, in, &out, why, sizeof why);
	fuzz_check(e != TETHER_E_OK && out == NULL);
	json_decref(in);
	return 0;
}
