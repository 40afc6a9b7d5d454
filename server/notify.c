/*
 * notify.c - the NOTIFY_SOCKET datagram protocol, spoken directly.
 *
 * The address is a path, or an abstract socket when it starts with '@'
 * (sd_notify(3)); each message is one datagram. The socket is opened per
 * message: notifications are a handful per daemon lifetime, and keeping
 * no descriptor means none can leak into a job.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "strparse.h"

static char notify_addr[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

/* Remember the socket's address and unset the variable. */
void notify_init(void)
{
	const char *v = getenv("NOTIFY_SOCKET");
	notify_addr[0] = '\0';
	if (v != NULL && (v[0] == '/' || v[0] == '@') &&
	    strparse_copy(notify_addr, sizeof notify_addr, v) != 0)
		notify_addr[0] = '\0';   /* too long to be a unix socket address */
	unsetenv("NOTIFY_SOCKET");
}

/* Send one datagram to the remembered address. */
int notify_send(const char *state)
{
	struct sockaddr_un sa;
	char msg[128];
	size_t alen = strlen(notify_addr);
	if (alen == 0 || alen > sizeof sa.sun_path)
		return 0;
	int n;
	if (strcmp(state, "RELOADING=1") == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld",
		             (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	} else {
		n = snprintf(msg, sizeof msg, "%s", state);
	}
	if (n < 0 || (size_t)n >= sizeof msg)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, notify_addr, alen);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';   /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	ssize_t w = sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa,
	                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen));
	int saved = errno;
	close(fd);
	errno = saved;
	if (w == n)
		return 0;
fail:
	log_msg(LOG_DEBUG, "notify_failed", "error", strerror(errno));
	return -1;
}
