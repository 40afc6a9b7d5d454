/*
 * files.h - a user's files by path, touched as the user's OS account: the
 * engine under `tether copy` (docs/copy.md; the HTTP face is api-file.c).
 *
 * Root never opens, lists or changes a user-named path itself: each call
 * forks a child that has become the owner (account.h), so the kernel
 * judges every component, symlinks included, with the owner's rights, and
 * another user's files are the operating system's business. What comes
 * back is a descriptor the child opened (read by the daemon without a
 * second look at the path) or a small JSON answer.
 */
#ifndef TETHER_FILES_H
#define TETHER_FILES_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "account.h"

/* Entries one listing call returns at most (the caller pages with after). */
#define FILES_LIST_MAX 500

/* As o: open path for reading. A regular file or a directory is opened
 * O_RDONLY (never blocking, never becoming a controlling terminal); any
 * other kind only O_PATH, to be described and not read. The descriptor
 * (close-on-exec), or -1 with *err the errno. */
int files_open(const struct account *o, const char *path, int *err);

/* As o: the entries of directory path after name after ("" for the first),
 * in byte order of their names, at most FILES_LIST_MAX (fewer if their
 * names are long):
 * {"entries": [{"name","type","size","mode","mtime"}], "more": bool}; or
 * NULL with *err the errno. A symlink is listed as "symlink", not
 * followed. */
json_t *files_list(const struct account *o, const char *path, const char *after, int *err);

/* As o: make directory path (mode before the owner's umask); an existing
 * directory is fine (*created 0). 0, or -1 with *err the errno. */
int files_mkdir(const struct account *o, const char *path, mode_t mode, int *created,
                int *err);

/* As o: set path's permission bits (mode >= 0) and modification time
 * (mtime >= 0, seconds since the epoch; the access time too). 0, or -1
 * with *err the errno. */
int files_set(const struct account *o, const char *path, int mode, int64_t mtime, int *err);

/* "file", "directory", "symlink" or "other" for a st_mode. */
const char *files_type(mode_t m);

#endif
