/*
 * connguard.h - who may hold one of the daemon's connections.
 *
 * With one thread per connection, a stranger who opens connections and
 * never finishes the TLS handshake (or never sends a request) could fill
 * every slot and lock everyone out. The guard does what OpenSSH's
 * MaxStartups and LoginGraceTime do: a connection is "unauthenticated"
 * until a request on it passes token authentication; at most
 * max_unauthenticated of those exist at once, and a new arrival over the
 * cap drops the oldest one (so the newest, a legitimate client among
 * them, gets its turn); one source address holds at most
 * max_connections_per_address connections (its own oldest unauthenticated
 * one gives way first); and an unauthenticated connection is closed after
 * login_grace_time seconds. Dropping is shutdown(2) of the socket: its
 * thread then ends the connection. See docs/security.md.
 */
#ifndef TETHER_CONNGUARD_H
#define TETHER_CONNGUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct connguard_slot;

/* Set the limits (called once, before listening). */
void connguard_init(unsigned max_unauthenticated, unsigned per_address,
                    int64_t grace_ms);

/* A connection arrived on fd from sa: its slot, or NULL if it must be
 * refused (the caller shuts it down). May drop older connections. */
struct connguard_slot *connguard_open(int fd, const struct sockaddr *sa, int64_t now_ms);

/* A request on the slot's connection passed authentication. */
void connguard_authed(struct connguard_slot *s);

/* The connection closed; the slot is free again. */
void connguard_close(struct connguard_slot *s);

/* Drop unauthenticated connections older than the grace time; returns how
 * many were dropped. */
unsigned connguard_sweep(int64_t now_ms);

/* Call fn (from the thread of the arriving connection, no lock held)
 * whenever an unauthenticated connection arrives while no other one is
 * waiting: the sweeper has a new deadline (see connguard_next_due). */
void connguard_on_first(void (*fn)(void));

/* When the oldest unauthenticated connection's grace ends (the clock of
 * connguard_open's now_ms), or -1 if none is waiting. */
int64_t connguard_next_due(void);

/* Counts, for tests and logs. */
void connguard_counts(unsigned *open, unsigned *unauthenticated);

#endif
