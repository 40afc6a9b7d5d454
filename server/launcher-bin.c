/*
 * launcher-bin.c - tetherd-launcher, the small launcher (launcher.h): the
 * launcher process built with the job supervisor only, so that what it
 * forks maps libc and jansson, not tetherd's libraries. Any other worker
 * (a transfer) it execs as "tetherd VERB DIR".
 */
#include <string.h>
#include <unistd.h>

#include "launcher.h"
#include "shim.h"

launcher_fn launcher_find(const char *verb)
{
	return strcmp(verb, "__shim") == 0 ? shim_main : NULL;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], LAUNCHER_VERB) == 0) {
		if (strcmp(argv[3], LAUNCHER_STAMP) == 0)
			return launcher_main(argc, argv);
		/* another build's tetherd: it is its own launcher */
		if (argv[2][0] == '/')
			execv(argv[2], argv);
	}
	return 127;   /* not run by hand: tetherd starts it */
}
