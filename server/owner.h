/*
 * owner.h - doing things to a user's files as that user.
 *
 * tetherd runs as root (or its own account) but must never judge a user's
 * path with its own rights: a symlink in the user's tree must lead only
 * where the user could go anyway. So every touch of a user path happens in
 * a forked child that has taken the user's uid and groups; the kernel does
 * the judging. A child answers with JSON, or hands back an open descriptor
 * (SCM_RIGHTS) that the daemon then reads or writes.
 */
#ifndef TETHER_OWNER_H
#define TETHER_OWNER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bounds.h"
#include "error.h"
#include "store.h"

struct owner {
	uid_t  uid;
	gid_t  gid;
	gid_t  groups[64];
	int    ngroups;
	char   home[BOUND_PATH];
};

/* The OS account behind a tether user (jobs_account's rules). */
tether_err owner_of(const struct user_rec *u, struct owner *o, char *err, size_t errsz);

/* Run fn(arg) as the owner in a child; fn's JSON answer is returned (NULL if
 * the child failed). The answer is bounded by BOUND_BODY_COMMAND bytes. */
json_t *owner_run(const struct owner *o, json_t *(*fn)(json_t *arg), json_t *arg);

/* Run fn(arg) as the owner in a child; fn returns an open descriptor (or -1
 * with errno set), which is passed back. Returns the descriptor (close-on-
 * exec) or -1 with *err the child's errno. */
int owner_fd(const struct owner *o, int (*fn)(void *arg), void *arg, int *err);

/* In an owner child: move a finished partial file over dest, atomically
 * and durably (the directory is fsync'd); a file being replaced keeps its
 * mode. 0, or -1 with errno set. */
int owner_commit(const char *partial, const char *dest);

/* True if p has a ".." path component. */
bool path_has_dotdot(const char *p);

/* p made absolute: relative paths are under home. */
void path_absolute(char *out, size_t outsz, const char *home, const char *p);

#endif
