/*
 * notify.h - telling systemd how the daemon is doing (Type=notify).
 *
 * systemd's readiness protocol is one datagram of "KEY=VALUE" lines sent
 * to the unix socket named by $NOTIFY_SOCKET (sd_notify(3), a documented
 * stable interface). It is small enough to speak directly, so tetherd
 * needs no libsystemd at build or run time and behaves the same wherever
 * it was built; without $NOTIFY_SOCKET every call does nothing.
 */
#ifndef TETHER_NOTIFY_H
#define TETHER_NOTIFY_H

/* Take $NOTIFY_SOCKET and remove it from the environment, so that no job
 * or worker started later inherits it. Call once, before any thread. */
void notify_init(void);

/* Send a state string ("READY=1", "STOPPING=1", ...); "RELOADING=1" gets
 * the MONOTONIC_USEC= systemd asks of it. 0, or -1 (nothing is done on
 * failure but logging it at debug level). */
int notify_send(const char *state);

#endif
