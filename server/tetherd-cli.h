/*
 * tetherd-cli.h - the daemon's command-line subcommands besides serving.
 */
#ifndef TETHER_TETHERD_CLI_H
#define TETHER_TETHERD_CLI_H

#include "srvconf.h"

/* Prepare the state dir (mode 0700) and open the store in it. 0 or -1
 * (message printed). */
struct store;
int tetherd_open_state(const struct srvconf *c, struct store **st);

/* tetherd user add|list|remove|passwd ...; argv starts after "user".
 * Returns the process exit status. */
int admin_user_main(const struct srvconf *c, int argc, char **argv, int json);

#endif
