/*
 * list-sessions.c - libtether's smallest useful program: list your sessions
 * on one host, through a login saved by "tether login" (the same
 * $TETHER_HOME, so it needs no password and asks nothing).
 *
 * Build against the installed library (docs/install.md):
 *   cc list-sessions.c $(pkg-config --cflags --libs tether) -o list-sessions
 *   ./list-sessions alice@server
 * Prints one "ID NAME STATE" line per session; exits 0, 1 on a failure
 * (with tether's reason on stderr), 2 on a usage error.
 */
#include <stdio.h>

#include <tether/tether.h>

int main(int argc, char **argv)
{
	tether_client *c = NULL;
	json_t *sessions = NULL, *s;
	size_t i;
	tether_err e;

	if (argc != 2) {
		fprintf(stderr, "usage: %s [USER@]HOST[:PORT]\n", argv[0]);
		return 2;
	}
	e = tether_client_new(&c);
	if (e == TETHER_E_OK)
		e = tether_session_list(c, argv[1], &sessions);
	if (e != TETHER_E_OK) {
		const char *why = c != NULL ? tether_last_error(c) : "";
		fprintf(stderr, "list-sessions: %s: %s\n", argv[1],
		        why[0] != '\0' ? why : tether_strerror(e));
		tether_client_free(c);
		return 1;
	}
	json_array_foreach(sessions, i, s) {
		printf("%lld %s %s\n", (long long)json_integer_value(json_object_get(s, "id")),
		       json_string_value(json_object_get(s, "name")),
		       json_string_value(json_object_get(s, "state")));
	}
	json_decref(sessions);
	tether_client_free(c);
	return 0;
}
