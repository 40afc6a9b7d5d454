/*
 * tetherd-cli.h - the daemon's command-line subcommands besides serving
 * (main.c calls them; they never call back into main.c).
 */
#ifndef TETHER_TETHERD_CLI_H
#define TETHER_TETHERD_CLI_H

#include "srvconf.h"

/* tetherd user add|list|remove|passwd ...; argv starts after "user".
 * Returns the process exit status. */
int admin_user_main(const struct srvconf *c, int argc, char **argv, int json);

/* tetherd user key add|list|remove ...; argv starts after "key". */
int admin_key_main(const struct srvconf *c, int argc, char **argv, int json);

#endif
