/*
 * wire.c - the control master's messages and address; see control.h.
 * Linked into the front and the full client alike: libc only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "fdpass.h"

/* See control.h. */
int ctl_shareable(const char *cmd)
{
	return strcmp(cmd, "enter") != 0 && strcmp(cmd, "login") != 0 &&
	       strcmp(cmd, "control") != 0;
}

/* See control.h. */
int ctl_address(const char *state_dir, struct sockaddr_un *sa, int *dirfd)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	*dirfd = -1;
	int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/%s", state_dir, CTL_SOCKET);
	if (n > 0 && (size_t)n < sizeof sa->sun_path)
		return 0;
	*dirfd = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return -1;
	snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", *dirfd, CTL_SOCKET);
	return 0;
}

/* See control.h. */
bool ctl_answers(const char *state_dir)
{
	struct sockaddr_un sa;
	int dirfd;
	if (ctl_address(state_dir, &sa, &dirfd) != 0)
		return false;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool up = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (s >= 0)
		close(s);   /* the master takes it for a request that never came */
	if (dirfd >= 0)
		close(dirfd);
	return up;
}

/* See control.h. */
int ctl_send(int sock, const struct ctl_msg *m, const char *strings, const int *fds, int nfds)
{
	struct iovec iov[2] = { { (void *)m, sizeof *m }, { (void *)strings, m->len } };
	int iovcnt = strings != NULL && m->len > 0 ? 2 : 1;
	if (nfds > CTL_FDS) {
		errno = EINVAL;
		return -1;
	}
	size_t total = sizeof *m + (iovcnt == 2 ? m->len : 0);
	ssize_t w = fdpass_send(sock, iov, iovcnt, fds, nfds);
	if (w < 0)
		return -1;
	/* the descriptors went with the first byte; the rest is plain data */
	size_t done = (size_t)w;
	while (done < total) {
		const char *p;
		size_t left;
		if (done < sizeof *m) {
			p = (const char *)m + done;
			left = sizeof *m - done;
		} else {
			p = strings + (done - sizeof *m);
			left = total - done;
		}
		w = send(sock, p, left, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

/* See control.h. */
int ctl_read_all(int sock, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = recv(sock, (char *)buf + done, len - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/* See control.h. */
int ctl_recv(int sock, struct ctl_msg *m, int *fds, int *nfds)
{
	int want = nfds != NULL ? *nfds : 0, got = want;
	ssize_t r = fdpass_recv(sock, m, sizeof *m, 0, fds, &got);
	if (r == 0)
		return 1;
	if (r < 0)
		return -1;
	if (got > want)
		got = want;   /* the rest were closed */
	if (got < 0)
		got = 0;      /* cut: all were closed */
	if (nfds != NULL)
		*nfds = got;
	if ((size_t)r < sizeof *m && ctl_read_all(sock, (char *)m + r, sizeof *m - (size_t)r) != 0)
		goto fail;
	if (m->magic != CTL_MAGIC)
		goto fail;
	return 0;
fail:
	for (int i = 0; i < got; i++)
		close(fds[i]);
	if (nfds != NULL)
		*nfds = 0;
	errno = EPROTO;
	return -1;
}
