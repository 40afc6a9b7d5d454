/*
 * fuzz_cmdline.c - a job's command as a client sends it, through
 * cmdline_direct() (server/cmdline.c), which decides whether it runs
 * without bash. A command it accepts must be exactly its words: each
 * non-empty and of plain characters, the first with no '=', and joined by
 * single spaces the command with its runs of spaces made one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

static int plain(char ch, int first)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return 1;
	return strchr(first ? "_./+-" : "_./+-=:,@%", ch) != NULL && ch != '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cmd = malloc(size + 1), *buf = malloc(size + 1), *joined = malloc(size + 1);
	char *words[CMDLINE_WORDS_MAX];
	if (cmd == NULL || buf == NULL || joined == NULL)
		goto out;
	memcpy(cmd, data, size);
	cmd[size] = '\0';
	size_t n = cmdline_direct(cmd, buf, size + 1, words, CMDLINE_WORDS_MAX);
	if (n == 0)
		goto out;
	if (n > CMDLINE_WORDS_MAX)
		abort();
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (words[i][0] == '\0')
			abort();
		for (const char *p = words[i]; *p != '\0'; p++)
			if (!plain(*p, i == 0))
				abort();
		if (i > 0)
			joined[len++] = ' ';
		memcpy(joined + len, words[i], strlen(words[i]));
		len += strlen(words[i]);
	}
	joined[len] = '\0';
	/* the command, runs of spaces made one */
	size_t k = 0;
	for (size_t i = 0; cmd[i] != '\0'; i++)
		if (cmd[i] != ' ' || cmd[i + 1] != ' ')
			cmd[k++] = cmd[i];
	cmd[k] = '\0';
	if (strcmp(cmd, joined) != 0)
		abort();
out:
	free(cmd);
	free(buf);
	free(joined);
	return 0;
}
