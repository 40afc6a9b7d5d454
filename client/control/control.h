/*
 * control.h - the control master (docs/cli.md, "Connection sharing"): a
 * long-lived tether process per user that runs commands for short-lived
 * `tether` processes, so that they pay neither loading libcurl and
 * OpenSSL, nor their set-up, nor a TLS handshake. Like ssh's ControlMaster
 * and ControlPersist.
 *
 * `tether` (front.c, linked with libc only) connects to the master's
 * socket, $state_dir/control, and sends one request: its argv, environment,
 * umask and the full client it would otherwise run, with its standard
 * descriptors, its working directory and its terminal (if any) attached.
 * The master answers ACCEPTED and hands the request, descriptors and all,
 * to one of its workers (worker.c), which runs the command on them; it
 * relays the signals the front forwards (SIG messages) to that worker, and
 * ends the exchange with EXITED or SIGNALED. The worker answers EXITED on
 * its own socket when the command returns. A master it cannot reach,
 * or one that answers REFUSED, makes the front run the full client itself;
 * once a command is accepted it is never run twice.
 *
 * Wire: each message is a struct ctl_msg (host byte order: both ends are
 * the same machine and user); a request's is followed by len bytes of
 * NUL-terminated strings: the path of the full client the front would run
 * (a master of another build refuses), argc of argv, envc of environment.
 */
#ifndef TETHER_CONTROL_H
#define TETHER_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#define CTL_MAGIC       0x54544331u   /* "TTC1" */
#define CTL_SOCKET      "control"
#define CTL_LOCK        "control.lock"
#define CTL_PAYLOAD_MAX (256 * 1024)  /* argv and environment, bytes */
#define CTL_STRINGS_MAX 8192          /* argv and environment, strings */
#define CTL_FDS         5             /* stdin, stdout, stderr, cwd, tty (or none) */

enum ctl_type {
	CTL_REQUEST = 1,   /* front: argc, envc, umask, len; fds attached */
	CTL_SIG,           /* front: value = a signal to pass on */
	CTL_ACCEPTED,      /* master: the command will run (value = its pid) */
	CTL_REFUSED,       /* master: run it yourself (value = why, CTL_WHY_*) */
	CTL_EXITED,        /* master: value = the exit status */
	CTL_SIGNALED,      /* master: value = the signal that ended it */
};

enum ctl_why { CTL_WHY_BUSY = 1, CTL_WHY_OTHER_CLIENT, CTL_WHY_BAD };

struct ctl_msg {
	uint32_t magic;
	uint32_t type;
	int32_t  value;
	uint32_t argc, envc, umask;
	uint32_t len;      /* bytes of strings that follow a request */
	uint32_t ntty;     /* a request: 1 if a terminal is attached */
};

/* Whether the command named by argv[1] may run in a master: all but
 * enter and login, which need the terminal as their controlling one, and
 * control (check and stop), which are about the master. */
int ctl_shareable(const char *cmd);

/* The control socket's address under state_dir. A path too long for
 * sun_path is reached through an O_PATH descriptor of the directory
 * (*dirfd, to be closed by the caller; -1 when not used). 0, or -1. */
int ctl_address(const char *state_dir, struct sockaddr_un *sa, int *dirfd);

/* Whether a master answers on state_dir's socket (connects, sends
 * nothing). */
bool ctl_answers(const char *state_dir);

/* Send m (and the request's strings, when len > 0) with nfds descriptors
 * attached; 0, or -1 with errno. Never raises SIGPIPE. */
int ctl_send(int sock, const struct ctl_msg *m, const char *strings, const int *fds, int nfds);

/* Receive one message, keeping up to *nfds attached descriptors (set to
 * how many came; extra ones are closed). 0, 1 at end of stream, or -1. */
int ctl_recv(int sock, struct ctl_msg *m, int *fds, int *nfds);

/* Read exactly len bytes; 0, or -1 (error or early end). */
int ctl_read_all(int sock, void *buf, size_t len);

/* ---- in the full client (master.c) ---- */

/* Run the master for the state directory of this environment, persisting
 * for persist seconds after its last command ends (docs/cli.md). */
int control_master(const char *persist);

/* Start a master in the background unless one answers or this process
 * is a master's worker; persist in seconds (0: none wanted). */
void control_spawn(long persist);

/* In a worker forked from the master (worker.c): run the commands the
 * master sends on socket ctl, at most uses of them. Never returns. */
void control_worker(int ctl, int uses);

#endif
