/*
 * monitor.c - housekeeping (see monitor.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "jobs.h"
#include "log.h"
#include "monitor.h"
#include "proto.h"
#include "timeu.h"

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool running, stopping;

#define MAX_ACTIONS 1024

struct actions {
	int64_t disconnect[MAX_ACTIONS];
	char    holder[MAX_ACTIONS][TETHER_CLIENT_ID_LEN + 1];
	size_t  ndisconnect;
	int64_t expire[MAX_ACTIONS][2];   /* session, user */
	size_t  nexpire;
	int64_t now;
};

/* Decide what to do with a session (the store is locked: only collect). */
static void check_session(void *ctx, const struct session_rec *s)
{
	struct actions *a = ctx;
	if (s->state == SESSION_OPENED && s->lease_expires > 0 && s->lease_expires < a->now &&
	    a->ndisconnect < MAX_ACTIONS) {
		memcpy(a->holder[a->ndisconnect], s->client_id, sizeof s->client_id);
		a->disconnect[a->ndisconnect++] = s->id;
	}
	if (s->state == SESSION_DISCONNECTED && !s->active &&
	    s->last_activity + s->idle_timeout < a->now && a->nexpire < MAX_ACTIONS) {
		a->expire[a->nexpire][0] = s->id;
		a->expire[a->nexpire++][1] = s->user_id;
	}
}

/* One pass. */
void monitor_pass(struct server *srv)
{
	static struct actions a;
	jobs_settle_all(srv);
	a.ndisconnect = a.nexpire = 0;
	a.now = timeu_now();
	store_session_list_all(srv->store, check_session, &a);
	for (size_t i = 0; i < a.ndisconnect; i++) {
		/* the silent client stays on record: it may come back transparently */
		store_session_set_conn(srv->store, a.disconnect[i], SESSION_DISCONNECTED,
		                       a.holder[i], 0);
		struct logline l;
		log_begin(&l, LOG_INFO, "session_keepalive_expired");
		log_int(&l, "session", a.disconnect[i]);
		log_end(&l);
	}
	for (size_t i = 0; i < a.nexpire; i++) {
		jobs_remove_session(srv, a.expire[i][1], a.expire[i][0]);
		struct logline l;
		log_begin(&l, LOG_INFO, "session_idle_removed");
		log_int(&l, "session", a.expire[i][0]);
		log_end(&l);
	}
}

/* The thread: a pass every 500 ms until stopped. */
static void *loop(void *arg)
{
	struct server *srv = arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		pthread_mutex_unlock(&lock);
		monitor_pass(srv);
		pthread_mutex_lock(&lock);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!stopping)
			pthread_cond_timedwait(&cond, &lock, &ts);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int monitor_start(struct server *srv)
{
	if (pthread_create(&thread, NULL, loop, srv) != 0)
		return -1;
	running = true;
	return 0;
}

void monitor_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = false;
}
