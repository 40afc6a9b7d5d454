/*
 * files.h - a user's files by path, touched as the user's OS account: the
 * engine under `tether copy` (docs/copy.md; the HTTP face is api-file.c).
 *
 * Root never opens, lists or changes a user-named path itself: each call
 * forks a child that has become the owner (account.h), so the kernel
 * judges every component, symlinks included, with the owner's rights, and
 * another user's files are the operating system's business. What comes
 * back is a small JSON answer, or a byte stream on a socket that the daemon
 * reads with deadlines: root never reads a user's file itself, so a file
 * on a stalled file system stalls only that child.
 */
#ifndef TETHER_FILES_H
#define TETHER_FILES_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "account.h"

/* Entries one listing call returns at most (the caller pages with after). */
#define FILES_LIST_MAX 500


/* What a reader child says first about its path. */
struct files_head {
	int32_t err;     /* errno of the open or fstat; 0: the rest holds */
	uint32_t mode;   /* st_mode */
	int64_t size;
	int64_t mtime;
};

/* What a reader child sends after the head. */
enum files_what {
	FILES_HEAD,      /* nothing */
	FILES_SHA256,    /* a regular file's SHA-256 (CRYPTO_SHA256_LEN bytes) */
	FILES_BYTES,     /* a regular file's bytes [from, to] (to -1: the end) */
};

/* A path being read by the owner's account (account_channel): root reads
 * only the channel, each read with a deadline, and never the file. */
struct files_reader {
	int fd;          /* the daemon's end of the channel */
	pid_t pid;
	struct files_head head;
	int64_t from, len;   /* FILES_BYTES: the range the child sends */
};

/* As o: open path (a FIFO or device is described, never read), say what it
 * is, then send what is asked. 0 with rd->head filled (head.err may be an
 * errno: the path could not be opened), or -1 with *err an errno (the
 * child could not start or said nothing in time). A range starting past
 * the end is sent as nothing (rd->len 0). Always end with files_end. */
int files_start(const struct account *o, const char *path, enum files_what what,
                int64_t from, int64_t to, struct files_reader *rd, int *err);

/* Read exactly n bytes of what follows the head, waiting at most idle_ms
 * for each part of it: 0, or -1 (cut short, or out of time). */
int files_read_all(struct files_reader *rd, void *buf, size_t n, int idle_ms);

/* Read up to n bytes, waiting at most idle_ms: the count, 0 at the end of
 * the stream, -1 on an error or out of time. */
ssize_t files_read(struct files_reader *rd, void *buf, size_t n, int idle_ms);

/* How long a child may take to hash size bytes: user_io_timeout plus 32
 * MB/s, a slow disk's pace. */
int files_hash_ms(int64_t size);

/* Close the channel and end the child (killed if it still runs). */
void files_end(struct files_reader *rd);

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
