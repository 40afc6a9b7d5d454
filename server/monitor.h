/*
 * monitor.h - the daemon's housekeeping thread.
 *
 * Twice a second it settles jobs that ended (so a finished job is recorded
 * even if no client is watching), disconnects sessions whose client went
 * silent past the keepalive window (remembering that client, which may
 * reconnect just by using the session again), and removes Disconnected sessions that
 * have had nothing running for longer than their idle timeout.
 */
#ifndef TETHER_MONITOR_H
#define TETHER_MONITOR_H

#include "tetherd.h"

/* Start and stop the thread; 0 or -1. */
int monitor_start(struct server *srv);
void monitor_stop(void);

/* One pass of the work (also used by tests and at start). */
void monitor_pass(struct server *srv);

#endif
