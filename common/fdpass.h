/*
 * fdpass.h - descriptors sent along with bytes over a unix socket
 * (SCM_RIGHTS). libc only: the `tether` front links it too.
 */
#ifndef TETHER_FDPASS_H
#define TETHER_FDPASS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define FDPASS_MAX 8   /* descriptors per message, either way */

/* sendmsg() of iov with nfds (at most FDPASS_MAX) descriptors attached,
 * retried on EINTR, never raising SIGPIPE; its result (-1 with EINVAL for
 * too many descriptors). The descriptors go with the first byte sent. */
ssize_t fdpass_send(int sock, const struct iovec *iov, int iovcnt, const int *fds, int nfds);

/* recvmsg() of at most len bytes into buf (flags as recvmsg's; the
 * descriptors come close-on-exec), retried on EINTR; its result. Of the
 * descriptors that came, up to *nfds are kept in fds and the rest closed;
 * *nfds is then how many came in all, or -1 if the control data was cut
 * (every one that came is closed then). */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int flags, int *fds, int *nfds);

#endif
