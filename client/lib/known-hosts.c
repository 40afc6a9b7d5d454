/*
 * known-hosts.c - pinned server keys, ssh style.
 *
 * One line per server: "HOST:PORT SHA256:<base64>" pins the SHA-256 of the
 * server's public key; "HOST:PORT cacert:/abs/path" says that server is
 * verified against a CA file instead. Lines starting with '#' are kept.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "client-int.h"
#include "fileio.h"

/* Path of the known_hosts file. */
static void kh_path(tether_client *c, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/known_hosts", c->config_dir);
}

/* Look key up. 0 found, 1 absent, -1 error. */
int known_hosts_get(tether_client *c, const char *key, char *value, size_t valuesz)
{
	char path[BOUND_PATH + 16], line[BOUND_PATH + 400];
	kh_path(c, path, sizeof path);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 1;
	int rc = 1;
	size_t klen = strlen(key);
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			snprintf(value, valuesz, "%s", line + klen + 1);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* Record (or replace) key's entry. */
int known_hosts_set(tether_client *c, const char *key, const char *value)
{
	char path[BOUND_PATH + 16], line[BOUND_PATH + 400];
	struct buf out;
	buf_init(&out, BOUND_STATE_FILE);
	kh_path(c, path, sizeof path);
	size_t klen = strlen(key);
	FILE *f = fopen(path, "re");
	if (f != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
				continue;
			if (buf_puts(&out, line) != 0)
				break;
		}
		fclose(f);
	}
	int rc = buf_printf(&out, "%s %s\n", key, value);
	if (rc == 0)
		rc = fileio_write_atomic(path, buf_cstr(&out), out.len, 0600);
	buf_free(&out);
	return rc;
}
