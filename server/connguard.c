/*
 * connguard.c - connection caps with early drop (see connguard.h).
 *
 * A fixed table of BOUND_CONNECTIONS slots under one mutex; every operation
 * is a short scan, cheap beside the TLS handshake each connection costs.
 * A dropped connection keeps its slot, marked, until libmicrohttpd reports
 * it closed, so its descriptor is never touched again (nor reused under us).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "bounds.h"
#include "connguard.h"

struct connguard_slot {
	bool    used, authed, dropped;
	int     fd;
	int64_t since_ms;
	unsigned char addr[16];   /* IPv4 mapped into 16 bytes, or IPv6 */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct connguard_slot slots[BOUND_CONNECTIONS];
static unsigned max_unauth = BOUND_CONNECTIONS / 4, per_addr = 64;
static int64_t grace = 10000;
static void (*on_first)(void);

void connguard_init(unsigned max_unauthenticated, unsigned per_address, int64_t grace_ms)
{
	pthread_mutex_lock(&mu);
	max_unauth = max_unauthenticated;
	per_addr = per_address;
	grace = grace_ms;
	pthread_mutex_unlock(&mu);
}

/* The source address as 16 bytes. */
static void addr_key(const struct sockaddr *sa, unsigned char out[16])
{
	memset(out, 0, 16);
	if (sa != NULL && sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

/* Counted: in use and not already dropped. */
static bool live(const struct connguard_slot *s)
{
	return s->used && !s->dropped;
}

/* Drop a connection: its thread sees the socket end and closes it. */
static void drop(struct connguard_slot *s)
{
	s->dropped = true;
	shutdown(s->fd, SHUT_RDWR);
}

/* The oldest live unauthenticated slot (of addr if given), or NULL. */
static struct connguard_slot *oldest_unauth(const unsigned char *addr)
{
	struct connguard_slot *o = NULL;
	for (size_t i = 0; i < BOUND_CONNECTIONS; i++) {
		struct connguard_slot *s = &slots[i];
		if (live(s) && !s->authed && (addr == NULL || memcmp(s->addr, addr, 16) == 0) &&
		    (o == NULL || s->since_ms < o->since_ms))
			o = s;
	}
	return o;
}

struct connguard_slot *connguard_open(int fd, const struct sockaddr *sa, int64_t now_ms)
{
	unsigned char a[16];
	unsigned from_addr = 0, unauth = 0;
	struct connguard_slot *free_slot = NULL;
	addr_key(sa, a);
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < BOUND_CONNECTIONS; i++) {
		struct connguard_slot *s = &slots[i];
		if (!s->used) {
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (!live(s))
			continue;
		from_addr += memcmp(s->addr, a, 16) == 0;
		unauth += !s->authed;
	}
	struct connguard_slot *victim = NULL;
	if (from_addr >= per_addr) {
		/* the address's own oldest unauthenticated connection gives way */
		victim = oldest_unauth(a);
		if (victim == NULL)
			free_slot = NULL;   /* all its connections are in use: refuse */
	} else if (unauth >= max_unauth) {
		victim = oldest_unauth(NULL);
	}
	if (victim != NULL && free_slot != NULL)
		drop(victim);
	if (free_slot != NULL) {
		memset(free_slot, 0, sizeof *free_slot);
		free_slot->used = true;
		free_slot->fd = fd;
		free_slot->since_ms = now_ms;
		memcpy(free_slot->addr, a, 16);
	}
	void (*wake)(void) = free_slot != NULL && unauth == 0 ? on_first : NULL;
	pthread_mutex_unlock(&mu);
	if (wake != NULL)
		wake();
	return free_slot;
}

void connguard_authed(struct connguard_slot *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&mu);
	s->authed = true;
	pthread_mutex_unlock(&mu);
}

void connguard_close(struct connguard_slot *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&mu);
	memset(s, 0, sizeof *s);
	pthread_mutex_unlock(&mu);
}

unsigned connguard_sweep(int64_t now_ms)
{
	unsigned n = 0;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < BOUND_CONNECTIONS; i++)
		if (live(&slots[i]) && !slots[i].authed && now_ms - slots[i].since_ms > grace) {
			drop(&slots[i]);
			n++;
		}
	pthread_mutex_unlock(&mu);
	return n;
}

/* See connguard.h. */
void connguard_on_first(void (*fn)(void))
{
	pthread_mutex_lock(&mu);
	on_first = fn;
	pthread_mutex_unlock(&mu);
}

/* See connguard.h. */
int64_t connguard_next_due(void)
{
	pthread_mutex_lock(&mu);
	struct connguard_slot *o = oldest_unauth(NULL);
	/* the sweep drops what is past grace, strictly */
	int64_t due = o != NULL ? o->since_ms + grace + 1 : -1;
	pthread_mutex_unlock(&mu);
	return due;
}

void connguard_counts(unsigned *open, unsigned *unauthenticated)
{
	unsigned o = 0, u = 0;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < BOUND_CONNECTIONS; i++)
		if (live(&slots[i])) {
			o++;
			u += !slots[i].authed;
		}
	pthread_mutex_unlock(&mu);
	*open = o;
	*unauthenticated = u;
}
