/*
 * homedir.h - where the client keeps its configuration and its state
 * (docs/cli.md, "Client state"): $TETHER_HOME for both, else the XDG base
 * directories under $HOME. Reads the environment only, so the tether
 * front (client/cli/front.c), which links nothing but libc, finds the same
 * directories as libtether.
 */
#ifndef TETHER_HOMEDIR_H
#define TETHER_HOMEDIR_H

#include <stddef.h>

/* Fill config and state (each of size sz); 0, or -1 when neither
 * TETHER_HOME nor an absolute HOME is set. Nothing is created. */
int homedir_paths(char *config, char *state, size_t sz);

#endif
