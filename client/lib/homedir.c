/*
 * homedir.c - the client's configuration and state directories; see
 * homedir.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "homedir.h"

/* See homedir.h. */
int homedir_paths(char *config, char *state, size_t sz)
{
	const char *home = getenv("TETHER_HOME");
	const char *uhome = getenv("HOME");
	const char *xconf = getenv("XDG_CONFIG_HOME"), *xstate = getenv("XDG_STATE_HOME");
	if (home != NULL && home[0] != '\0') {
		snprintf(config, sz, "%s", home);
		snprintf(state, sz, "%s", home);
		return 0;
	}
	if (uhome == NULL || uhome[0] != '/')
		return -1;
	/* the XDG base directories, when set to absolute paths (as the
	 * specification says; others are ignored) */
	if (xconf != NULL && xconf[0] == '/')
		snprintf(config, sz, "%s/tether", xconf);
	else
		snprintf(config, sz, "%s/.config/tether", uhome);
	if (xstate != NULL && xstate[0] == '/')
		snprintf(state, sz, "%s/tether", xstate);
	else
		snprintf(state, sz, "%s/.local/state/tether", uhome);
	return 0;
}
