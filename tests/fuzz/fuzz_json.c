/*
 * fuzz_json.c - a request body: every API body goes through
 * jsonu_parse_object and the bounded getters (common/jsonu.c) before a
 * handler sees it; this drives them with the keys the API reads.
 */
#include <stdint.h>
#include <stdlib.h>

#include "jsonu.h"

static const char *const keys[] = {
	"name", "command", "signal", "idle_timeout", "output_buffering", "force",
	"sources", "destination", "priority", "user", "password", "rows", "cols",
	"term", "data", "offset", "size", "sha256", "max_rate", "retry_delay",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[200];
	json_t *o = jsonu_parse_object((const char *)data, size, err, sizeof err);
	if (o == NULL)
		return 0;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *s;
		int64_t n;
		bool b;
		jsonu_get_string(o, keys[i], i % 2 == 0, 64, &s, err, sizeof err);
		jsonu_get_int(o, keys[i], false, -5, 1 << 20, &n, err, sizeof err);
		jsonu_get_bool(o, keys[i], false, &b, err, sizeof err);
	}
	size_t len = 0;
	free(jsonu_dump(o, &len));
	json_decref(o);
	return 0;
}
