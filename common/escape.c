/*
 * escape.c - ssh-style escapes (see escape.h).
 */
#include "escape.h"

enum escape_action escape_filter(struct escape *e, const char *in, size_t n, char *out,
                                 size_t *outn, size_t *used)
{
	size_t o = 0, i;
	enum escape_action act = ESCAPE_NONE;
	for (i = 0; i < n && act == ESCAPE_NONE; i++) {
		char ch = in[i];
		if (e->tilde) {
			e->tilde = false;
			if (ch == '.') {
				act = ESCAPE_DETACH;
				continue;
			}
			if (ch == '?') {
				act = ESCAPE_HELP;
				continue;
			}
			if (ch != '~')
				out[o++] = '~';
		} else if (!e->midline && ch == '~') {
			e->tilde = true;
			continue;
		}
		out[o++] = ch;
		e->midline = !(ch == '\r' || ch == '\n');
	}
	*outn = o;
	*used = i;
	return act;
}
