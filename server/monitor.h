/*
 * monitor.h - the daemon's housekeeping thread.
 *
 * It settles jobs that ended (so a finished job is recorded even if no
 * client is watching), disconnects sessions whose client went silent past
 * the keepalive window (remembering that client, which may reconnect just
 * by using the session again), removes Disconnected sessions that have had
 * nothing running for longer than their idle timeout, expires untouched
 * uploads, prunes the audit log, drops unauthenticated connections past
 * their grace time, takes back the disk-space reserve and carries out
 * `tetherd user remove` asked beside the daemon.
 *
 * Nothing of this is periodic: each duty says when it is next due, and
 * the thread sleeps until the earliest of those, a supervisor's exit (a
 * pidfd per running job), a change to the database by anyone (inotify on
 * the state dir: the WAL is written), or a kick. An idle daemon's monitor
 * sleeps until the hourly audit prune. See docs/performance.md.
 */
#ifndef TETHER_MONITOR_H
#define TETHER_MONITOR_H

#include "tetherd.h"

/* Start and stop the thread; 0 or -1. */
int monitor_start(struct server *srv);
void monitor_stop(void);

/* Have a pass soon: something one of the duties looks at changed in a way
 * the thread cannot see by itself (cheap; safe from any thread). */
void monitor_kick(void);

/* One pass of the work (also used by tests and at start); returns the ms
 * until the next duty is due, or -1 if none is until an event. */
int monitor_pass(struct server *srv);

#endif
