/*
 * secrets.h - credentials kept at rest only in sealed form.
 *
 * A transfer's server password must outlive a daemon restart (the worker
 * resumes on its own), so it cannot just be hashed. It is sealed with
 * AES-256-GCM under a key kept in the state dir (secret.key, 0600, made on
 * first use): the database and the job spool hold only the sealed text,
 * which is useless without the key file. The worker unseals it itself,
 * before it gives up root.
 */
#ifndef TETHER_SECRETS_H
#define TETHER_SECRETS_H

#include <stddef.h>

#define SECRETS_KEY_FILE "secret.key"
#define SECRETS_MAX      4096   /* longest secret accepted */

/* Seal plain (len bytes) with the key at key_path (created if absent).
 * Returns malloc'd base64 text, or NULL. */
char *secrets_seal(const char *key_path, const void *plain, size_t len);

/* Unseal text sealed by secrets_seal into out (NUL-terminated, outsz >
 * SECRETS_MAX). Returns the length, or -1 if the key is missing or the text
 * is damaged or forged. */
long secrets_open(const char *key_path, const char *sealed, char *out, size_t outsz);

#endif
