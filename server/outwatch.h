/*
 * outwatch.h - one watcher of job directories for the whole daemon.
 *
 * A request waiting for a job's output (the long poll of `invoke`, `job
 * receive`, `enter`) used to make an inotify instance of its own and close
 * it again, and closing one waits for the kernel's RCU grace period: about
 * a millisecond idle and many under load, on every invoke. Here one
 * inotify instance lives as long as the daemon, with a watch per job
 * directory someone waits on; a thread reads its events and wakes the
 * waiters of that job. A watch is dropped by that thread, off any request's
 * path, once its job has ended and nobody waits, or when the directory
 * goes. Without inotify (or past OUTWATCH_MAX watches) waiters poll.
 */
#ifndef TETHER_OUTWATCH_H
#define TETHER_OUTWATCH_H

#include <stdbool.h>
#include <stdint.h>

#define OUTWATCH_MAX 4096   /* job directories watched at once */

/* Start the watcher thread; 0, or -1 (waiters then poll). */
int outwatch_start(void);

/* Wait until done(ctx) is true, at most timeout_ms, waking on any change
 * in job's directory dir (and at least every poll_ms, for what inotify
 * cannot see, such as a process that vanished). Returns done(ctx)'s last
 * answer. */
bool outwatch_wait(int64_t job, const char *dir, int timeout_ms, int poll_ms,
                   bool (*done)(void *ctx), void *ctx);

/* The job has ended: its watch may go once nobody waits on it. */
void outwatch_forget(int64_t job);

/* Stop the thread and release everything (at shutdown, and for tests). */
void outwatch_stop(void);

#endif
