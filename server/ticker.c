/*
 * ticker.c - a deadline- and event-driven pass thread (see ticker.h).
 *
 * The thread sleeps in epoll_wait on an eventfd (kicks and the stop) and
 * the fds it was asked to watch, with the timeout the last pass returned.
 * A kick sets a flag before it writes the eventfd, so a burst of kicks
 * writes once; the flag is cleared after the eventfd is drained and before
 * the pass reads anything, so a kick is never lost: either the pass sees
 * the change the kicker made, or the kicker writes the eventfd again.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ticker.h"
#include "timeu.h"

/* Empty the kick eventfd. */
static void drain(struct ticker *t)
{
	uint64_t v;
	if (read(t->evfd, &v, sizeof v) < 0) {
		/* EAGAIN: nothing was pending */
	}
}

/* Sleep ms, waking early only to stop (not for watched fds: a readable
 * pidfd stays readable and would make the wait spin). Kicks that come
 * meanwhile are drained: the pass that follows covers them. */
static void nap(struct ticker *t, int64_t ms)
{
	int64_t until = timeu_mono_ms() + ms;
	while (!atomic_load(&t->stopping) && (ms = until - timeu_mono_ms()) > 0) {
		struct pollfd p = { t->evfd, POLLIN, 0 };
		if (poll(&p, 1, (int)ms) > 0)
			drain(t);
	}
}

/* The thread: a pass, then sleep until its deadline, a kick or an fd. */
static void *loop(void *arg)
{
	struct ticker *t = arg;
	struct epoll_event ev[16];
	while (!atomic_load(&t->stopping)) {
		int64_t began = timeu_mono_ms();
		drain(t);
		atomic_store(&t->kicked, false);
		int wait = t->fn(t->arg);
		int n;
		while ((n = epoll_wait(t->epfd, ev, 16, wait < 0 ? -1 : wait)) < 0 && errno == EINTR)
			;
		if (n > 0 && !atomic_load(&t->stopping)) {
			/* an event, not the deadline: keep the gap between passes */
			int64_t gap = began + t->min_gap_ms - timeu_mono_ms();
			if (gap > 0)
				nap(t, gap);
		}
	}
	return NULL;
}

/* See ticker.h. */
int ticker_start(struct ticker *t, int (*fn)(void *), void *arg, int min_gap_ms)
{
	t->fn = fn;
	t->arg = arg;
	t->min_gap_ms = min_gap_ms;
	atomic_init(&t->kicked, false);
	atomic_init(&t->stopping, false);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event e = { .events = EPOLLIN, .data.fd = t->evfd };
	if (t->epfd < 0 || t->evfd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &e) != 0 ||
	    pthread_create(&t->thread, NULL, loop, t) != 0) {
		if (t->epfd >= 0)
			close(t->epfd);
		if (t->evfd >= 0)
			close(t->evfd);
		t->epfd = t->evfd = -1;
		return -1;
	}
	t->running = true;
	return 0;
}

/* Wake the thread (the flag keeps a burst to one write). */
void ticker_kick(struct ticker *t)
{
	uint64_t one = 1;
	if (!t->running || atomic_exchange(&t->kicked, true))
		return;
	if (write(t->evfd, &one, sizeof one) < 0) {
		/* the counter cannot overflow from single increments drained each pass */
	}
}

/* See ticker.h. */
int ticker_watch(struct ticker *t, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };
	return epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &e) == 0 ? 0 : -1;
}

/* See ticker.h. */
void ticker_unwatch(struct ticker *t, int fd)
{
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* See ticker.h. */
void ticker_stop(struct ticker *t)
{
	uint64_t one = 1;
	if (!t->running)
		return;
	atomic_store(&t->stopping, true);
	if (write(t->evfd, &one, sizeof one) < 0) {
		/* it is readable already */
	}
	pthread_join(t->thread, NULL);
	close(t->epfd);
	close(t->evfd);
	t->epfd = t->evfd = -1;
	t->running = false;
}
