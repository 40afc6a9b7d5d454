/*
 * cmdline.c - which commands may run without a shell (see cmdline.h).
 */
#include <stdbool.h>
#include <string.h>

#include "cmdline.h"

/* bash 5's keywords made only of letters, and its builtins (`help` lists
 * them; `:`, `[` and `[[` cannot be plain words). A first word among them
 * means bash itself, not a program. */
static const char *const shell_words[] = {
	"case", "coproc", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if",
	"in", "select", "then", "time", "until", "while",
	".", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen",
	"complete", "compopt", "continue", "declare", "dirs", "disown", "echo", "enable",
	"eval", "exec", "exit", "export", "false", "fc", "fg", "getopts", "hash", "help",
	"history", "jobs", "kill", "let", "local", "logout", "mapfile", "popd", "printf",
	"pushd", "pwd", "read", "readarray", "readonly", "return", "set", "shift", "shopt",
	"source", "suspend", "test", "times", "trap", "true", "type", "typeset", "ulimit",
	"umask", "unalias", "unset", "wait",
};

static bool plain_char(char ch, bool first)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	if (ch != '\0' && strchr("_./+-", ch) != NULL)
		return true;
	return !first && ch != '\0' && strchr("=:,@%", ch) != NULL;
}

static bool shell_word(const char *w)
{
	for (size_t i = 0; i < sizeof shell_words / sizeof shell_words[0]; i++)
		if (strcmp(w, shell_words[i]) == 0)
			return true;
	return false;
}

size_t cmdline_direct(const char *cmd, char *buf, size_t bufsz, char **words,
                      size_t maxwords)
{
	size_t len = strlen(cmd), n = 0;
	if (len == 0 || len >= bufsz || cmd[0] == ' ' || cmd[len - 1] == ' ')
		return 0;
	for (size_t i = 0; i < len; i++)   /* every character first: nothing half done */
		if (cmd[i] != ' ' && !plain_char(cmd[i], n == 0))
			return 0;
		else if (cmd[i] == ' ' && cmd[i + 1] != ' ' && ++n >= maxwords)
			return 0;
	memcpy(buf, cmd, len + 1);
	char *tmp[CMDLINE_WORDS_MAX];
	n = 0;
	for (char *p = buf; *p != '\0'; ) {
		if (n == CMDLINE_WORDS_MAX)
			return 0;
		tmp[n++] = p;
		p += strcspn(p, " ");
		while (*p == ' ')
			*p++ = '\0';
	}
	if (n == 0)
		return 0;
	bool bare_true = n == 1 && (strcmp(tmp[0], "true") == 0 || strcmp(tmp[0], "false") == 0);
	if (shell_word(tmp[0]) && !bare_true)
		return 0;
	memcpy(words, tmp, n * sizeof *words);
	return n;
}
