/*
 * args.h - a command's arguments, parsed once from the spec its table entry
 * carries (tmux's args template): which options it takes (short and long
 * names, which take a value, which may be repeated, which are required or
 * take one of a few words), how many operands, and whether COMMAND words
 * follow them. main.c parses before the command runs, so a usage mistake is
 * refused in one place, and a command reads its values by long name.
 *
 * As getopt_long: options may come anywhere before "--" (unless the spec
 * says they end at the first operand), a long name may be shortened while it
 * stays unambiguous, values come as "--opt V", "--opt=V", "-oV" or "-o V".
 * An option given twice adds up if it may repeat, else it is a mistake:
 * never does the last one silently win.
 *
 * Pure logic (no I/O), so tests/unit/test-args.c checks it directly.
 */
#ifndef TETHER_ARGS_H
#define TETHER_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define ARGS_OPTS_MAX 24   /* options one command takes */

/* args_opt.flags */
#define ARG_VALUE    0x1   /* takes a value */
#define ARG_REPEAT   0x2   /* may be given again; the values add up in order */
#define ARG_REQUIRED 0x4   /* must be given */

/* One option of a command. */
struct args_opt {
	char               letter;    /* -x, or 0 for none */
	const char        *name;      /* --name, also the key commands read it by */
	int                flags;
	const char        *meta;      /* the value's name in messages ("SESSION") */
	const char *const *choices;   /* the only values it takes (NULL-ended), or NULL */
};

/* args_spec.flags */
#define ARGS_WORDS    0x1   /* COMMAND words follow the operands */
#define ARGS_IN_ORDER 0x2   /* options end at the first operand */

/* What a command takes. */
struct args_spec {
	const struct args_opt *opts;     /* ended by an entry with no name; NULL: none */
	int                    min, max; /* operands (max -1: any number) */
	const char            *count_msg;   /* when their number is wrong */
	int                    flags;
};

/* One option's values, in the order given. */
struct args_val {
	int          n;
	const char **v;
};

/* The parsed arguments. The strings point into the argv given to args_parse. */
struct args {
	const struct args_spec *spec;
	struct args_val         val[ARGS_OPTS_MAX];   /* by the option's index in spec */
	int                     argc;                 /* operands */
	char                  **argv;
	int                     nwords;               /* COMMAND words (ARGS_WORDS) */
	char                  **words;
	int                     before_dashdash;      /* operands before "--"; -1: no "--" */
};

/* Parse argv[1..argc-1] by spec into a (args_free releases it); 0, or -1
 * with the usage message in err. */
int args_parse(const struct args_spec *spec, int argc, char **argv, struct args *a,
               char *err, size_t errsz);
void args_free(struct args *a);

/* True if option name (its long name) was given. */
bool args_has(const struct args *a, const char *name);
/* Option name's value, or NULL if it was not given. */
const char *args_get(const struct args *a, const char *name);
/* Option name's values (a repeatable one), *n of them. */
const char *const *args_values(const struct args *a, const char *name, int *n);

#endif
