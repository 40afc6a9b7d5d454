/*
 * args.c - parse a command's arguments once, by the spec in its table entry
 * (see args.h). It walks argv one time: options into per-option value lists,
 * everything else into operands (and COMMAND words); then the checks that
 * need the whole line (required options, their allowed words, the number of
 * operands). Every mistake comes back as one message, for main.c to print
 * with the command's usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

/* Print a message into err; returns -1. */
__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/* The index of the option called name (exact, else an unambiguous prefix
 * of len bytes); -1 if none, -2 if ambiguous. */
static int find_long(const struct args_spec *spec, const char *name, size_t len)
{
	int found = -1;
	for (int k = 0; spec->opts != NULL && spec->opts[k].name != NULL; k++) {
		if (strncmp(spec->opts[k].name, name, len) != 0)
			continue;
		if (spec->opts[k].name[len] == '\0')
			return k;
		found = found == -1 ? k : -2;
	}
	return found;
}

/* The index of the option with letter c, or -1. */
static int find_letter(const struct args_spec *spec, char c)
{
	for (int k = 0; spec->opts != NULL && spec->opts[k].name != NULL; k++)
		if (spec->opts[k].letter != 0 && spec->opts[k].letter == c)
			return k;
	return -1;
}

/* Record one use of option k (as typed: label) with value v. */
static int add(struct args *a, int k, const char *label, const char *v, char *err,
               size_t errsz)
{
	const struct args_opt *o = &a->spec->opts[k];
	struct args_val *val = &a->val[k];
	if (val->n > 0 && (o->flags & ARG_VALUE) && !(o->flags & ARG_REPEAT))
		return fail(err, errsz, "option %s given more than once", label);
	const char **grown = realloc(val->v, ((size_t)val->n + 1) * sizeof *grown);
	if (grown == NULL)
		return fail(err, errsz, "out of memory");
	val->v = grown;
	val->v[val->n++] = v;
	return 0;
}

/* One "--name[=value]" argument at argv[*i]. */
static int parse_long(struct args *a, int argc, char **argv, int *i, char *err,
                      size_t errsz)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	int k = find_long(a->spec, name, len);
	if (k == -1)
		return fail(err, errsz, "unknown option --%.*s", (int)len, name);
	if (k == -2)
		return fail(err, errsz, "option --%.*s is ambiguous", (int)len, name);
	char label[80];
	snprintf(label, sizeof label, "--%s", a->spec->opts[k].name);
	if (!(a->spec->opts[k].flags & ARG_VALUE)) {
		if (eq != NULL)
			return fail(err, errsz, "option %s takes no value", label);
		return add(a, k, label, NULL, err, errsz);
	}
	if (eq != NULL)
		return add(a, k, label, eq + 1, err, errsz);
	if (*i + 1 >= argc)
		return fail(err, errsz, "option %s needs a value", label);
	return add(a, k, label, argv[++*i], err, errsz);
}

/* One "-abc" cluster of letters at argv[*i] (the last may take a value). */
static int parse_short(struct args *a, int argc, char **argv, int *i, char *err,
                       size_t errsz)
{
	const char *s = argv[*i];
	for (size_t j = 1; s[j] != '\0'; j++) {
		int k = find_letter(a->spec, s[j]);
		char label[3] = { '-', s[j], '\0' };
		if (k < 0)
			return fail(err, errsz, "unknown option %s", label);
		if (!(a->spec->opts[k].flags & ARG_VALUE)) {
			if (add(a, k, label, NULL, err, errsz) != 0)
				return -1;
			continue;
		}
		if (s[j + 1] != '\0')
			return add(a, k, label, s + j + 1, err, errsz);
		if (*i + 1 >= argc)
			return fail(err, errsz, "option %s needs a value", label);
		return add(a, k, label, argv[++*i], err, errsz);
	}
	return 0;
}

/* "--name takes a, b or c" for an option with choices. */
static int bad_choice(const struct args_opt *o, char *err, size_t errsz)
{
	size_t n = 0, len;
	while (o->choices[n] != NULL)
		n++;
	snprintf(err, errsz, "--%s takes ", o->name);
	for (size_t k = 0; k < n && (len = strlen(err)) < errsz; k++)
		snprintf(err + len, errsz - len, "%s%s", k == 0 ? "" : k + 1 == n ? " or " : ", ",
		         o->choices[k]);
	return -1;
}

/* The checks on the whole line: required options, their words, operands. */
static int check(struct args *a, int nops, char *err, size_t errsz)
{
	const struct args_spec *spec = a->spec;
	for (int k = 0; spec->opts != NULL && spec->opts[k].name != NULL; k++) {
		const struct args_opt *o = &spec->opts[k];
		if ((o->flags & ARG_REQUIRED) && a->val[k].n == 0) {
			if (o->letter != 0)
				return fail(err, errsz, "-%c %s is required", o->letter, o->meta);
			return fail(err, errsz, "--%s %s is required", o->name, o->meta);
		}
		for (int v = 0; o->choices != NULL && v < a->val[k].n; v++) {
			int ok = 0;
			for (size_t c = 0; o->choices[c] != NULL; c++)
				ok |= strcmp(o->choices[c], a->val[k].v[v]) == 0;
			if (!ok)
				return bad_choice(o, err, errsz);
		}
	}
	a->argc = nops;
	if (spec->flags & ARGS_WORDS) {
		a->argc = spec->max >= 0 && nops > spec->max ? spec->max : nops;
		a->words = a->argv + a->argc;
		a->nwords = nops - a->argc;
	}
	if (spec->max == 0 && a->argc > 0)
		return fail(err, errsz, "unexpected argument %s", a->argv[0]);
	if (a->argc < spec->min || (spec->max >= 0 && a->argc > spec->max))
		return fail(err, errsz, "%s", spec->count_msg);
	return 0;
}

/* Parse argv by spec; see args.h. */
int args_parse(const struct args_spec *spec, int argc, char **argv, struct args *a,
               char *err, size_t errsz)
{
	int nops = 0, opts_done = 0, rc = 0;
	size_t nspec = 0;
	memset(a, 0, sizeof *a);
	a->spec = spec;
	a->before_dashdash = -1;
	while (spec->opts != NULL && spec->opts[nspec].name != NULL)
		nspec++;
	if (nspec > ARGS_OPTS_MAX)
		abort();   /* a command table mistake, not the user's */
	a->argv = calloc(argc > 0 ? (size_t)argc : 1, sizeof *a->argv);
	if (a->argv == NULL)
		return fail(err, errsz, "out of memory");
	for (int i = 1; i < argc && rc == 0; i++) {
		char *s = argv[i];
		if (opts_done || s[0] != '-' || s[1] == '\0') {
			a->argv[nops++] = s;
			opts_done |= (spec->flags & ARGS_IN_ORDER) != 0;
		} else if (strcmp(s, "--") == 0) {
			opts_done = 1;
			a->before_dashdash = nops;
		} else if (s[1] == '-') {
			rc = parse_long(a, argc, argv, &i, err, errsz);
		} else {
			rc = parse_short(a, argc, argv, &i, err, errsz);
		}
	}
	if (rc == 0)
		rc = check(a, nops, err, errsz);
	return rc;
}

/* Release what args_parse allocated. */
void args_free(struct args *a)
{
	for (int k = 0; k < ARGS_OPTS_MAX; k++)
		free(a->val[k].v);
	free(a->argv);
	memset(a, 0, sizeof *a);
}

/* The index of option name in a's spec; a name the spec lacks is a bug. */
static int index_of(const struct args *a, const char *name)
{
	for (int k = 0; a->spec->opts != NULL && a->spec->opts[k].name != NULL; k++)
		if (strcmp(a->spec->opts[k].name, name) == 0)
			return k;
	fprintf(stderr, "tether: internal error: no option --%s in this command\n", name);
	abort();
}

/* True if the option was given; see args.h. */
bool args_has(const struct args *a, const char *name)
{
	return a->val[index_of(a, name)].n > 0;
}

/* The option's value; see args.h. */
const char *args_get(const struct args *a, const char *name)
{
	const struct args_val *v = &a->val[index_of(a, name)];
	return v->n > 0 ? v->v[v->n - 1] : NULL;
}

/* The option's values; see args.h. */
const char *const *args_values(const struct args *a, const char *name, int *n)
{
	const struct args_val *v = &a->val[index_of(a, name)];
	*n = v->n;
	return v->v;
}
