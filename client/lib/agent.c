/*
 * agent.c - a client of ssh-agent (draft-miller-ssh-agent): list its keys,
 * have it sign.
 *
 * One request per connection: connect to the unix socket, send the framed
 * request (uint32 length, type byte, payload), read one framed reply. The
 * agent is trusted with the keys but not with our memory or time: a reply
 * longer than AGENT_REPLY_MAX is refused before it is read, every wait
 * has a deadline, and replies are parsed with the bounded sshwire reader.
 * Messages never include key or signature bytes.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sshkey.h"
#include "sshwire.h"
#include "timeu.h"

#define SSH_AGENT_FAILURE             5
#define SSH2_AGENTC_REQUEST_IDENTITIES 11
#define SSH2_AGENT_IDENTITIES_ANSWER   12
#define SSH2_AGENTC_SIGN_REQUEST       13
#define SSH2_AGENT_SIGN_RESPONSE       14
#define AGENT_REQUEST_MAX (SSHKEY_BLOB_MAX + 64 * 1024)

static int agent_timeout_ms = AGENT_TIMEOUT_MS;

/* Set the deadline of each agent request (default AGENT_TIMEOUT_MS). */
void agent_set_timeout(int ms)
{
	agent_timeout_ms = ms > 0 ? ms : AGENT_TIMEOUT_MS;
}

/* Format an error, if the caller wants one. */
static void seterr(char *err, size_t errsz, const char *msg)
{
	if (err && errsz)
		snprintf(err, errsz, "ssh-agent: %s", msg);
}

/* Wait until fd is ready for events, or the deadline passes; 0 or -1. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - timeu_mono_ms();
		int rc;

		if (left <= 0)
			return -1;
		rc = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* Connect to the agent's socket (non-blocking, close-on-exec); fd or -1. */
static int agent_connect(const char *sock, char *err, size_t errsz)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (!sock || !*sock) {
		seterr(err, errsz, "no agent (SSH_AUTH_SOCK is not set)");
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof sa.sun_path) {
		seterr(err, errsz, "the agent's socket path is too long");
		return -1;
	}
	memcpy(sa.sun_path, sock, strlen(sock));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		seterr(err, errsz, "cannot make a socket");
		return -1;
	}
	do
		rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		char msg[160];

		snprintf(msg, sizeof msg, "cannot connect to the agent's socket: %s",
		         errno == EAGAIN ? "the agent is not accepting connections" : strerror(errno));
		seterr(err, errsz, msg);
		close(fd);
		return -1;
	}
	return fd;
}

/* Send all n bytes before the deadline; 0 or -1. */
static int send_all(int fd, const unsigned char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Read exactly n bytes before the deadline; 0, -1 (error or timeout) or
 * -2 (the agent closed the connection). */
static int recv_all(int fd, unsigned char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r == 0) {
			return -2;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(fd, POLLIN, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* One request (type and payload) and its reply: the type in *type, the
 * rest in *body (malloc'd, the caller frees; NULL if empty). 0 or -1. */
static int agent_call(const char *sock, uint8_t reqtype, const struct buf *payload,
                      uint8_t *type, unsigned char **body, size_t *bodylen,
                      char *err, size_t errsz)
{
	unsigned char hdr[5], *p = NULL;
	size_t plen = payload ? payload->len : 0;
	uint32_t len = 0;
	int64_t deadline;
	int fd, rc;

	*body = NULL;
	*bodylen = 0;
	fd = agent_connect(sock, err, errsz);
	if (fd < 0)
		return -1;
	deadline = timeu_mono_ms() + agent_timeout_ms;
	len = (uint32_t)(plen + 1);
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	hdr[4] = reqtype;
	if (send_all(fd, hdr, sizeof hdr, deadline) < 0 ||
	    (plen && send_all(fd, (const unsigned char *)payload->data, plen, deadline) < 0)) {
		seterr(err, errsz, "cannot send the request to the agent");
		goto fail;
	}
	rc = recv_all(fd, hdr, 4, deadline);
	if (rc == 0) {
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
		if (len == 0 || len > AGENT_REPLY_MAX) {
			seterr(err, errsz, "the agent's reply is empty or too long");
			goto fail;
		}
		rc = recv_all(fd, type, 1, deadline);
	}
	if (rc == 0 && len > 1) {
		p = malloc(len - 1);   /* at most AGENT_REPLY_MAX, checked above */
		if (!p) {
			seterr(err, errsz, "out of memory");
			goto fail;
		}
		rc = recv_all(fd, p, len - 1, deadline);
	}
	if (rc != 0) {
		seterr(err, errsz, rc == -2 ? "the agent closed the connection" :
		       "no reply from the agent in time");
		goto fail;
	}
	close(fd);
	*body = p;
	*bodylen = len - 1;
	return 0;
fail:
	free(p);
	close(fd);
	return -1;
}

/* Copy a comment, bounded, control bytes replaced. */
static void copy_comment(const unsigned char *p, size_t n, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; i < n && i + 1 < outsz; i++)
		out[i] = p[i] < 0x20 || p[i] == 0x7f ? '?' : (char)p[i];
	out[i] = '\0';
}

/* Free a key list. */
void agent_keys_free(struct agent_key *keys, int n)
{
	if (!keys)
		return;
	for (int i = 0; i < n; i++)
		free(keys[i].blob);
	free(keys);
}

/* The agent's keys that sshkey supports (at most AGENT_KEYS_MAX). */
int agent_list(const char *sock, struct agent_key **keys, int *n, char *err, size_t errsz)
{
	unsigned char *reply;
	size_t replylen;
	struct sshwire r;
	struct agent_key *out = NULL;
	uint32_t count;
	uint8_t type = 0;
	int got = 0;

	*keys = NULL;
	*n = 0;
	if (agent_call(sock, SSH2_AGENTC_REQUEST_IDENTITIES, NULL, &type, &reply, &replylen, err,
	               errsz) < 0)
		return -1;
	if (type != SSH2_AGENT_IDENTITIES_ANSWER) {
		seterr(err, errsz, type == SSH_AGENT_FAILURE ? "the agent refused to list its keys" :
		       "unexpected reply from the agent");
		goto fail;
	}
	sshwire_init(&r, reply, replylen);
	/* each key takes at least 8 bytes, so count is bounded by the reply */
	if (sshwire_u32(&r, &count) < 0 || count > r.left / 8) {
		seterr(err, errsz, "malformed key list from the agent");
		goto fail;
	}
	out = calloc(AGENT_KEYS_MAX, sizeof *out);
	if (!out) {
		seterr(err, errsz, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *b, *c;
		size_t bl, cl;
		struct sshkey *k;

		if (sshwire_string(&r, &b, &bl) < 0 || sshwire_string(&r, &c, &cl) < 0) {
			seterr(err, errsz, "malformed key list from the agent");
			goto fail;
		}
		if (got == AGENT_KEYS_MAX)
			continue;
		k = sshkey_from_blob(b, bl, NULL, 0);
		if (!k)
			continue;   /* a type we do not support (or a broken blob): leave it out */
		sshkey_free(k);
		out[got].blob = malloc(bl);
		if (!out[got].blob) {
			seterr(err, errsz, "out of memory");
			goto fail;
		}
		memcpy(out[got].blob, b, bl);
		out[got].len = bl;
		copy_comment(c, cl, out[got].comment, sizeof out[got].comment);
		got++;
	}
	if (!sshwire_done(&r)) {
		seterr(err, errsz, "malformed key list from the agent");
		goto fail;
	}
	free(reply);
	*keys = out;
	*n = got;
	return 0;
fail:
	agent_keys_free(out, got);
	free(reply);
	return -1;
}

/* Have the agent sign data with the key of this blob. */
int agent_sign(const char *sock, const unsigned char *blob, size_t bloblen,
               const unsigned char *data, size_t len, uint32_t flags,
               struct buf *sig, char *err, size_t errsz)
{
	struct buf req;
	unsigned char *reply = NULL;
	size_t replylen;
	struct sshwire r;
	const unsigned char *s;
	size_t sl;
	uint8_t type = 0;
	int rc = -1;

	if (!blob || bloblen == 0 || bloblen > SSHKEY_BLOB_MAX || len > AGENT_REQUEST_MAX) {
		seterr(err, errsz, "key or data too long to sign");
		return -1;
	}
	buf_init(&req, AGENT_REQUEST_MAX + SSHKEY_BLOB_MAX + 16);
	if (sshwire_put_string(&req, blob, bloblen) < 0 ||
	    sshwire_put_string(&req, data ? (const void *)data : "", len) < 0 ||
	    sshwire_put_u32(&req, flags) < 0) {
		seterr(err, errsz, "out of memory");
		goto done;
	}
	if (agent_call(sock, SSH2_AGENTC_SIGN_REQUEST, &req, &type, &reply, &replylen, err,
	               errsz) < 0)
		goto done;
	if (type == SSH_AGENT_FAILURE) {
		seterr(err, errsz, "the agent refused to sign (the key is not in the agent, "
		       "or confirmation was declined)");
		goto done;
	}
	if (type != SSH2_AGENT_SIGN_RESPONSE) {
		seterr(err, errsz, "unexpected reply from the agent");
		goto done;
	}
	sshwire_init(&r, reply, replylen);
	if (sshwire_string(&r, &s, &sl) < 0 || !sshwire_done(&r) || sl == 0 ||
	    sl > SSHKEY_SIG_MAX) {
		seterr(err, errsz, "malformed signature from the agent");
		goto done;
	}
	if (buf_append(sig, s, sl) < 0) {
		seterr(err, errsz, "signature too long");
		goto done;
	}
	rc = 0;
done:
	buf_free(&req);
	free(reply);
	return rc;
}
