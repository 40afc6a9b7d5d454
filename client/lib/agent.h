/*
 * agent.h - a client of ssh-agent ($SSH_AUTH_SOCK): list its keys and have
 * it sign. The private keys never leave the agent. Replies are bounded
 * (AGENT_REPLY_MAX bytes, AGENT_KEYS_MAX keys) and every read has a
 * deadline, so a broken agent cannot hang or bloat a login.
 */
#ifndef TETHER_AGENT_H
#define TETHER_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define AGENT_KEYS_MAX   64
#define AGENT_REPLY_MAX  (256 * 1024)
#define AGENT_TIMEOUT_MS 30000   /* a sign may wait for a confirm prompt */

/* The agent's flags for RSA keys (draft-miller-ssh-agent). */
#define AGENT_RSA_SHA2_256 2
#define AGENT_RSA_SHA2_512 4

struct agent_key {
	unsigned char *blob;        /* the public key's wire blob */
	size_t         len;
	char           comment[256];
};

/* The keys the agent at sock holds (at most AGENT_KEYS_MAX; keys of types
 * sshkey.h does not support are left out). 0 with *keys (free with
 * agent_keys_free) and *n, or -1 with err (no agent, refused, malformed). */
int agent_list(const char *sock, struct agent_key **keys, int *n,
               char *err, size_t errsz);

/* Have the agent sign data with the key whose blob this is; flags as
 * above. The SSH signature is appended to sig. 0, or -1 with err (the
 * agent refused: e.g. the user declined a confirm prompt). */
int agent_sign(const char *sock, const unsigned char *blob, size_t bloblen,
               const unsigned char *data, size_t len, uint32_t flags,
               struct buf *sig, char *err, size_t errsz);

void agent_keys_free(struct agent_key *keys, int n);

/* Set the deadline of each later agent request in milliseconds (<= 0:
 * back to AGENT_TIMEOUT_MS); for tests and callers that cannot wait for
 * a confirmation prompt. Process-wide. */
void agent_set_timeout(int ms);

#endif
