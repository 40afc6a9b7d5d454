/*
 * fuzz_router.c - the request line as a client sends it: "METHOD PATH"
 * through router_method and router_match over the daemon's real route
 * table (server/routes.c), path parameters included.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

extern const struct route api_routes[];
extern const size_t api_nroutes;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *path = strchr(text, ' ');
	if (path != NULL)
		*path++ = '\0';
	const struct route *rt = NULL;
	struct route_params params;
	int allowed = 0;
	char allow[128];
	int m = router_method(text);
	router_match(api_routes, api_nroutes, m ? m : 1, path ? path : text, &rt, &params,
	             &allowed);
	router_allow_header(allowed, allow, sizeof allow);
	free(text);
	return 0;
}
