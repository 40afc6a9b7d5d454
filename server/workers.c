/*
 * workers.c - tetherd's worker verbs (launcher.h): every one runs here,
 * forked by the launcher or exec'd as "tetherd VERB DIR".
 */
#include <string.h>

#include "launcher.h"
#include "shim.h"
#include "xfer-worker.h"

static const struct {
	const char *verb;
	launcher_fn fn;
} workers[] = {
	{ "__shim", shim_main },
	{ "__transfer", xfer_worker_main },
};

launcher_fn launcher_find(const char *verb)
{
	for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++)
		if (strcmp(verb, workers[i].verb) == 0)
			return workers[i].fn;
	return NULL;
}
