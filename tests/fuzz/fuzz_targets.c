/*
 * fuzz_targets.c - TARGETS as a user types them (client/lib/targets.c):
 * nodeset ranges, lists, user@ and :port, then the fold back. Inputs that
 * would name files or groups (@...) are left out: those read files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = malloc(size + 1), err[300];
	struct fleet_hosts h = { NULL, 0 };
	if (spec == NULL)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	if (strchr(spec, '@') == NULL &&
	    targets_expand(spec, "/nonexistent", NULL, &h, err, sizeof err) == 0) {
		char **names = malloc((h.n + 1) * sizeof *names), *folded = NULL;
		for (size_t i = 0; names != NULL && i < h.n; i++)
			names[i] = h.v[i].name;
		if (names != NULL && nodeset_fold(names, h.n, &folded) == 0)
			free(folded);
		free(names);
		fleet_hosts_free(&h);
	}
	free(spec);
	return 0;
}
