/*
 * userfile.h - what a child that has become a user's account (account.h)
 * does to that user's files, and the path rules for user-named paths.
 */
#ifndef TETHER_USERFILE_H
#define TETHER_USERFILE_H

#include <stdbool.h>
#include <stddef.h>

/* In an account child: move a finished partial file over dest, atomically
 * and durably (the directory is fsync'd); a file being replaced keeps its
 * mode. 0, or -1 with errno set. */
int userfile_commit(const char *partial, const char *dest);

/* userfile_commit without the directory's fsync: the caller fsyncs each
 * directory once after moving many files (userfile_sync_dir). */
int userfile_move(const char *partial, const char *dest);

/* fsync the directory dest is in (best effort). */
void userfile_sync_dir(const char *dest);

/* True if p has a ".." path component. */
bool path_has_dotdot(const char *p);

/* p made absolute: relative paths are under home. */
void path_absolute(char *out, size_t outsz, const char *home, const char *p);

#endif
