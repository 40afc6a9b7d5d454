/*
 * escape.h - ssh-style escape sequences typed into an interactive shell.
 *
 * At the start of a line (the first byte, or after CR or LF), '~' is held
 * back and looked at with the next byte: "~." detaches, "~?" asks for help,
 * "~~" sends one '~', and '~' followed by anything else sends both.
 */
#ifndef TETHER_ESCAPE_H
#define TETHER_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

struct escape {
	bool midline;     /* not at the start of a line */
	bool tilde;       /* a '~' at line start is held back */
};

enum escape_action { ESCAPE_NONE, ESCAPE_DETACH, ESCAPE_HELP };

/* Filter n typed bytes: what to send goes to out (room for n + 1 bytes),
 * its length to *outn. Stops after the first escape and returns it; *used
 * gets how many input bytes were consumed. */
enum escape_action escape_filter(struct escape *e, const char *in, size_t n, char *out,
                                 size_t *outn, size_t *used);

#endif
