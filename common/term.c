/*
 * term.c - secret and line input, with echo control on /dev/tty.
 *
 * Input is read a byte at a time so that nothing past the first line is
 * consumed from a pipe (a script may feed more after the password).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "term.h"

static int tty_given = -1;   /* term_use's terminal */

/* See term.h. */
void term_use(int fd)
{
	tty_given = fd;
}

/* See term.h. */
int term_open(void)
{
	if (tty_given >= 0)
		return fcntl(tty_given, F_DUPFD_CLOEXEC, 3);
	return open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
}

/* Read one line from fd. */
long term_read_line(int fd, char *out, size_t outsz)
{
	size_t n = 0;
	bool got = false;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got = true;
		if (c == '\n')
			break;
		if (c == '\0' || n + 1 >= outsz) {
			memset(out, 0, outsz);
			return -1;
		}
		out[n++] = c;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	return got ? (long)n : -1;
}

/* Prompt on the terminal, optionally with echo off. */
static long prompt_tty(const char *prompt, char *out, size_t outsz, bool secret)
{
	int fd = term_open();
	if (fd < 0)
		return -1;
	struct termios old, raw;
	bool restore = false;
	if (secret && tcgetattr(fd, &old) == 0) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		raw.c_lflag |= ICANON;
		restore = tcsetattr(fd, TCSAFLUSH, &raw) == 0;
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		/* the prompt is a courtesy; reading still works */
	}
	long n = term_read_line(fd, out, outsz);
	if (restore) {
		tcsetattr(fd, TCSAFLUSH, &old);
		if (write(fd, "\n", 1) < 0) {
			/* as above */
		}
	}
	close(fd);
	return n;
}

/* Prompt for a secret. */
long term_prompt_secret(const char *prompt, char *out, size_t outsz)
{
	return prompt_tty(prompt, out, outsz, true);
}

/* Prompt for an ordinary answer. */
long term_prompt(const char *prompt, char *out, size_t outsz)
{
	return prompt_tty(prompt, out, outsz, false);
}

/* Is stdin a terminal? */
bool term_stdin_is_tty(void)
{
	return isatty(STDIN_FILENO) == 1;
}
