/*
 * account.h - the OS account a tether user acts as, and the one place
 * tetherd changes privileges.
 *
 * A root daemon runs a user's code as the OS account mapped to that user
 * (sysacct.h says which accounts qualify), and never judges a user's path
 * with its own rights: a symlink in the user's tree must lead only where
 * the user could go anyway. So every touch of a user path happens in a
 * forked child that has become the user's account (account_run,
 * account_channel), and job supervisors and transfer workers become it before
 * any user input is acted on (account_become). Nothing else in the daemon
 * calls setuid, setgid, setgroups or initgroups (tests/structure checks
 * that). A daemon that is not root already is its only account: every
 * change here is then a no-op. See docs/security.md.
 */
#ifndef TETHER_ACCOUNT_H
#define TETHER_ACCOUNT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bounds.h"
#include "error.h"
#include "store.h"

#define ACCOUNT_GROUPS_MAX 256

struct account {
	uid_t uid;
	gid_t gid;
	gid_t groups[ACCOUNT_GROUPS_MAX];
	int   ngroups;     /* -1: more than fit; account_become asks initgroups() */
	char  name[256];
	char  home[BOUND_PATH];
};

/* The OS account u acts as: the mapped account, else the one of u's name
 * if it is a login account (sysacct_default_ok), never root; a non-root
 * daemon's own account. Groups are looked up here, where the daemon has
 * its NSS modules loaded for good. TETHER_E_FORBIDDEN (or _INTERNAL) with
 * a reason for the user in err. An account found is kept for the next call
 * while /etc/passwd, /etc/group and the other account files are unchanged
 * (checked on every call); a refusal is never kept. */
tether_err account_of(const struct user_rec *u, struct account *a, char *err, size_t errsz);

/* Become a for good: groups, gid, uid, then verify that neither root nor
 * any other id can be regained. With a->ngroups >= 0 it makes system calls
 * only, so a vfork() child may call it. A non-root caller is left as it
 * is. 0, or -1 (the caller must not go on). */
int account_become(const struct account *a);

/* Put a's identity in a supervisor's or worker's spec ("uid", "gid",
 * "user", "home", "groups"), and read it back there. account_from_spec:
 * 0, or -1 if the spec lacks it or names root. */
void account_to_spec(const struct account *a, json_t *spec);
int account_from_spec(json_t *spec, struct account *a);

/* Run fn(arg) as a in a forked child (with the umask a login of a would
 * get); fn's JSON answer is returned, NULL if the child failed, or took
 * more than 30 s (it is then killed: a caller never hangs on a child).
 * The answer is bounded by BOUND_BODY_COMMAND bytes. */
json_t *account_run(const struct account *a, json_t *(*fn)(json_t *arg), json_t *arg);

/* Run fn(arg, fd) as a in a forked child that talks over fd, a stream
 * socket, and exits with fn's return value: for file I/O that may block as
 * long as a user's file system likes (a FUSE mount, a hung NFS server),
 * which root must never wait on itself. Returns the daemon's end
 * (close-on-exec) with the child's pid in *pid, or -1. The caller reads
 * and writes it with deadlines of its own (never a bare blocking call) and
 * always ends with account_channel_end. */
int account_channel(const struct account *a, int (*fn)(void *arg, int fd), void *arg,
                    pid_t *pid);

/* Kill a channel's child if it still runs, and reap it. */
void account_channel_end(pid_t pid);

/* For tests: how long a run-as child may take before it is killed and the
 * call fails (30 s by default). */
void account_test_child_ms(int ms);

/* How long the daemon waits on one exchange with a channel's child that
 * reads or writes a user's file (user_io_timeout; 60 s until set). */
void account_set_io_ms(int ms);
int account_io_ms(void);

#endif
