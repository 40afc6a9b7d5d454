/*
 * launcher.h - the process that starts detached workers for tetherd.
 *
 * Starting a job supervisor used to be a fork of the (multi-threaded,
 * large) daemon plus an exec of the whole tetherd binary, whose dynamic
 * linking alone cost more CPU than the rest of a short job. The launcher
 * is started once, at daemon start before any thread exists: forked, then
 * exec'd as "tetherd __launcher" so it holds none of the daemon's state
 * (database, keys, TLS, heap). tetherd sends it "spawn ID VERB DIR" over a
 * SOCK_SEQPACKET socketpair, many in flight at once; it forks, and the
 * child (setsid) runs VERB's function directly (see launcher_find), already
 * linked, then exits. It answers "ID ok PID" or "ID error REASON", in
 * order.
 *
 * The launcher is its own small program, tetherd-launcher (launcher-bin.c,
 * installed beside tetherd or in its libexec directory), linked with libc
 * and jansson only: what a supervisor forked from it maps is what it runs
 * with, and the fork copies the page tables of a few mappings, not of
 * tetherd's forty libraries. Its command line is "tetherd __launcher EXE
 * STAMP PADDING": EXE is tetherd's own path, exec'd for a worker whose verb
 * the launcher does not run itself (transfers need libcurl); STAMP is
 * LAUNCHER_STAMP, and a tetherd-launcher of another build hands itself over
 * to EXE; so does a missing one (tetherd then execs itself as the
 * launcher, as before the split).
 *
 * The launcher ends when tetherd does (end of file on its socket, and a
 * parent-death signal for a daemon killed outright); the workers it started
 * are in sessions of their own and are not its children, so they live on,
 * as they always have. Without a launcher (never started, as for the admin
 * subcommands, or gone), workers are started the old way (jobs.c).
 */
#ifndef TETHER_LAUNCHER_H
#define TETHER_LAUNCHER_H

#include <sys/types.h>

#include "bounds.h"
#include "proto.h"

/* The verb of the launcher process itself: "tetherd __launcher ...". */
#define LAUNCHER_VERB "__launcher"

/* The version and launcher protocol a launcher must have to serve this
 * tetherd (its argv[3]): the "-1" counts changes of the protocol or of the
 * supervisor's spec within a version. */
#define LAUNCHER_STAMP "tether-launcher-" TETHER_VERSION "-1"

/* The small launcher's file name (beside tetherd, or in TETHER_LIBEXECDIR). */
#define LAUNCHER_PROGRAM "tetherd-launcher"

/* The launcher's end of the socket, in the launcher process. */
#define LAUNCHER_FD 3

/* Largest request ("spawn ID VERB DIR") and answer. */
#define LAUNCHER_MSG_MAX   (BOUND_PATH + 64)
#define LAUNCHER_REPLY_MAX 256

/* A worker: the whole life of "tetherd VERB DIR"; returns its exit status. */
typedef int (*launcher_fn)(const char *dir);

/* The function behind a worker verb ("__shim", ...), or NULL: tetherd's
 * (workers.c) runs every verb, tetherd-launcher's (launcher-bin.c) only the
 * supervisor; main() and the launcher share it, so a verb added there runs
 * either way. */
launcher_fn launcher_find(const char *verb);

/* Start the launcher. Call from the main thread before the daemon starts
 * any other (the parent-death signal follows the thread that forked it,
 * so that thread must live as long as the daemon). 0, or -1 (then workers
 * are started without it). */
int launcher_start(void);

/* The descriptor a worker finds what came with its request on. */
#define LAUNCHER_WORKER_FD 3

/* Ask the launcher to start "tetherd VERB DIR" detached, with fd (unless
 * -1; the caller keeps its own) as the worker's LAUNCHER_WORKER_FD. 0:
 * started, *pid the worker's; -1: the launcher could not start it; 1: there
 * is no working launcher, the caller should start it itself. Safe from any
 * thread. */
int launcher_spawn(const char *verb, const char *dir, int fd, pid_t *pid);

/* The launcher's pid, or -1 while there is none. */
int launcher_pid(void);

/* Let the launcher go (it exits on end of file) and reap it. */
void launcher_stop(void);

/* Entry point of the launcher process ("tetherd __launcher EXE STAMP
 * PADDING"), in tetherd and in tetherd-launcher. */
int launcher_main(int argc, char **argv);

#endif
