/*
 * cmdline.h - which commands may run without a shell (docs/architecture.md,
 * "Commands without a shell").
 *
 * A command is bash's -c script. One that is a single simple command of
 * plain words, whose first word bash would look up in PATH (no keyword and
 * no builtin), means to bash exactly "run this program with these
 * arguments": bash would find it in PATH and exec it in its own place. The
 * supervisor then does that itself, and saves the job bash's start (about
 * a millisecond of CPU); whatever it cannot do the same way it leaves to
 * bash (shim.c).
 *
 * Pure: no I/O, no allocation.
 */
#ifndef TETHER_CMDLINE_H
#define TETHER_CMDLINE_H

#include <stddef.h>

/* Words at most in a command run without a shell (more: bash runs it). */
#define CMDLINE_WORDS_MAX 64

/* If cmd may run without a shell, split it into words in buf (bufsz bytes,
 * at least strlen(cmd) + 1), point words[0..n-1] into it and return n (at
 * least 1, at most maxwords); else return 0 and leave words alone.
 *
 * Plain words are those docs/architecture.md "Session state" calls plain:
 * the first word of letters, digits and _./+-, the others also of =:,@%,
 * one or more spaces between them and none before or after. The first
 * word must not be a bash keyword or builtin, except `true` and `false`
 * with no arguments, which do what /usr/bin/true and false do. */
size_t cmdline_direct(const char *cmd, char *buf, size_t bufsz, char **words,
                      size_t maxwords);

#endif
