/*
 * term.h - reading secrets from a terminal or from standard input.
 *
 * Passwords never travel in argv (visible in ps) or the environment: they
 * are typed at a prompt with echo off, or piped in with --password-stdin.
 */
#ifndef TETHER_TERM_H
#define TETHER_TERM_H

#include <stdbool.h>
#include <stddef.h>

/* The terminal to prompt on: a new descriptor (close-on-exec) of the one
 * term_use gave, else of /dev/tty; -1 if there is none. */
int term_open(void);

/* Prompt on fd from now on (a control master's child has the front's
 * terminal but none of its own: docs/cli.md, "Connection sharing"). */
void term_use(int fd);

/* Read one line (without its newline) from fd into out (size outsz).
 * Returns the length, or -1 if the line is too long, contains a NUL byte,
 * or nothing could be read. */
long term_read_line(int fd, char *out, size_t outsz);

/* Prompt on /dev/tty and read a line with echo off. -1 if there is no
 * terminal or reading failed. */
long term_prompt_secret(const char *prompt, char *out, size_t outsz);

/* Prompt on /dev/tty and read a line with echo on (for yes/no questions). */
long term_prompt(const char *prompt, char *out, size_t outsz);

/* True if standard input is a terminal. */
bool term_stdin_is_tty(void);

#endif
