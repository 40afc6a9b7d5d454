/*
 * files.c - a user's files by path, as the user's account (files.h).
 *
 * Each function hands one small job to an account child (account_fd for a
 * descriptor, account_run for a JSON answer); what runs in the child is
 * the static *_child functions below, and nothing else in them trusts a
 * path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "files.h"

/* What one listing's answer may hold, under account_run's bound. */
#define FILES_LIST_BYTES (BOUND_BODY_COMMAND * 3 / 4)

/* ---- what the owner's child does ---- */

/* Open a path to read or, for anything but a file or directory, to look at. */
static int open_child(void *arg)
{
	const char *path = arg;
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return open(path, O_PATH | O_CLOEXEC);
	/* swapped for a FIFO or a device since the stat, it still opens at
	 * once and the daemon sees what it is with fstat */
	return open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

/* {"errno": N} for a failed child operation. */
static json_t *errno_answer(int e)
{
	return json_pack("{s:i}", "errno", e ? e : EIO);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* {"path", "after"} -> {"entries", "more"} or {"errno"} */
static json_t *list_child(json_t *arg)
{
	const char *path = json_string_value(json_object_get(arg, "path"));
	const char *after = json_string_value(json_object_get(arg, "after"));
	DIR *d = path ? opendir(path) : NULL;
	if (d == NULL)
		return errno_answer(path ? errno : EINVAL);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	json_t *res = NULL;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (after != NULL && strcmp(de->d_name, after) <= 0))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			char **nn = realloc(names, nc * sizeof *nn);
			if (nn == NULL)
				goto out;
			names = nn;
			cap = nc;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto out;
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof *names, name_cmp);
	json_t *entries = json_array();
	size_t k, room = FILES_LIST_BYTES;   /* the answer fits account_run's bound */
	for (k = 0; k < n && k < FILES_LIST_MAX; k++) {
		struct stat st;
		size_t cost = strlen(names[k]) * 6 + 128;   /* escaped, with its fields */
		if (cost > room)
			break;
		room -= cost;
		if (fstatat(dirfd(d), names[k], &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;   /* gone since */
		json_array_append_new(entries, json_pack("{s:s,s:s,s:I,s:i,s:I}", "name", names[k],
		                                         "type", files_type(st.st_mode),
		                                         "size", (json_int_t)st.st_size,
		                                         "mode", (int)(st.st_mode & 07777),
		                                         "mtime", (json_int_t)st.st_mtime));
	}
	res = json_pack("{s:o,s:b}", "entries", entries, "more", k < n);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return res ? res : errno_answer(ENOMEM);
}

/* {"path", "mode"} -> {"created": bool} or {"errno"} */
static json_t *mkdir_child(json_t *arg)
{
	const char *path = json_string_value(json_object_get(arg, "path"));
	mode_t mode = (mode_t)json_integer_value(json_object_get(arg, "mode"));
	struct stat st;
	if (path == NULL)
		return errno_answer(EINVAL);
	if (mkdir(path, mode & 07777) == 0)
		return json_pack("{s:b}", "created", 1);
	int e = errno;
	if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return json_pack("{s:b}", "created", 0);
	return errno_answer(e);   /* EEXIST: a file is there */
}

/* {"path", "mode"?, "mtime"?} -> {} or {"errno"} */
static json_t *set_child(json_t *arg)
{
	const char *path = json_string_value(json_object_get(arg, "path"));
	json_t *mode = json_object_get(arg, "mode"), *mtime = json_object_get(arg, "mtime");
	if (path == NULL)
		return errno_answer(EINVAL);
	if (mode != NULL && chmod(path, (mode_t)json_integer_value(mode) & 07777) != 0)
		return errno_answer(errno);
	if (mtime != NULL) {
		struct timespec ts[2] = { { (time_t)json_integer_value(mtime), 0 },
		                          { (time_t)json_integer_value(mtime), 0 } };
		if (utimensat(AT_FDCWD, path, ts, 0) != 0)
			return errno_answer(errno);
	}
	return json_object();
}

/* ---- the daemon's side ---- */

/* Run fn as o; its answer, or NULL with *err the errno it reported. */
static json_t *run_as(const struct account *o, json_t *(*fn)(json_t *), json_t *arg, int *err)
{
	json_t *res = arg ? account_run(o, fn, arg) : NULL;
	json_decref(arg);
	json_t *e = json_object_get(res, "errno");
	if (res == NULL || e != NULL) {
		*err = e ? (int)json_integer_value(e) : EIO;
		json_decref(res);
		return NULL;
	}
	return res;
}

int files_open(const struct account *o, const char *path, int *err)
{
	return account_fd(o, open_child, (void *)path, err);
}

json_t *files_list(const struct account *o, const char *path, const char *after, int *err)
{
	json_t *arg = json_pack("{s:s}", "path", path);
	if (arg != NULL && after != NULL && after[0] != '\0')
		json_object_set_new(arg, "after", json_string(after));
	return run_as(o, list_child, arg, err);
}

int files_mkdir(const struct account *o, const char *path, mode_t mode, int *created,
                int *err)
{
	json_t *res = run_as(o, mkdir_child, json_pack("{s:s,s:i}", "path", path, "mode",
	                                               (int)mode), err);
	if (res == NULL)
		return -1;
	*created = json_is_true(json_object_get(res, "created"));
	json_decref(res);
	return 0;
}

int files_set(const struct account *o, const char *path, int mode, int64_t mtime, int *err)
{
	json_t *arg = json_pack("{s:s}", "path", path);
	if (arg != NULL && mode >= 0)
		json_object_set_new(arg, "mode", json_integer(mode));
	if (arg != NULL && mtime >= 0)
		json_object_set_new(arg, "mtime", json_integer(mtime));
	json_t *res = run_as(o, set_child, arg, err);
	json_decref(res);
	return res ? 0 : -1;
}

const char *files_type(mode_t m)
{
	return S_ISREG(m) ? "file" : S_ISDIR(m) ? "directory" : S_ISLNK(m) ? "symlink" : "other";
}
