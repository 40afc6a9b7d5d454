/*
 * xfer-plan.c - what a transfer's owner-side child does (xfer-int.h):
 * expand local sources, resolve the destination and check it as the owner
 * sees it, and later move finished files into place. Runs in a child that
 * has become the owner's account (account_run), never as root.
 */
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bounds.h"
#include "userfile.h"
#include "xfer-int.h"
#include "xferplan.h"

__attribute__((format(printf, 1, 2)))
static json_t *answer_error(const char *fmt, ...)
{
	char msg[2 * BOUND_PATH + 512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "error", msg);
}

const char *xfer_errno_code(int err)
{
	return err == EACCES || err == EPERM ? "forbidden"
	     : err == ENOENT || err == ENOTDIR ? "not_found" : "invalid_argument";
}

/* answer_error for a failure with errno err, its code beside it. */
__attribute__((format(printf, 2, 3)))
static json_t *answer_errno(int err, const char *fmt, ...)
{
	char msg[2 * BOUND_PATH + 512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return json_pack("{s:s,s:s}", "error", msg, "code", xfer_errno_code(err));
}

/* Add one source (with the name its destination takes) to the plan. */
static json_t *plan_add(json_t *plan, const char *src, const char *name)
{
	if (!xferplan_good_name(name))
		return answer_error("cannot name a destination file after '%s'; give a file "
		                    "name as the destination", src);
	json_array_append_new(plan, json_pack("{s:s,s:s}", "source", src, "name", name));
	return NULL;
}

/* Local sources, with wildcards expanded, as the owner sees them. */
static json_t *plan_local(json_t *plan, const char *home, const char *src)
{
	char path[BOUND_PATH];
	struct stat st;
	path_absolute(path, sizeof path, home, src);
	if (!xferplan_has_wildcard(path)) {
		if (stat(path, &st) != 0)
			return answer_errno(errno, "cannot read '%s': %s", src, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return answer_error("'%s' is not a regular file", src);
		if (access(path, R_OK) != 0)
			return answer_errno(errno, "cannot read '%s': %s", src, strerror(errno));
		const char *slash = strrchr(path, '/');
		return plan_add(plan, path, slash + 1);
	}
	glob_t g;
	int rc = glob(path, GLOB_ERR, NULL, &g);
	if (rc != 0) {
		globfree(&g);
		return rc == GLOB_NOMATCH ? answer_error("no files match '%s'", src)
		                          : answer_error("cannot list '%s'", src);
	}
	json_t *err = NULL;
	size_t n = 0;
	for (size_t i = 0; i < g.gl_pathc && err == NULL; i++) {
		if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode))
			continue;   /* directories and the like are not files to move */
		const char *slash = strrchr(g.gl_pathv[i], '/');
		err = plan_add(plan, g.gl_pathv[i], slash + 1);
		n++;
	}
	globfree(&g);
	if (err == NULL && n == 0)
		err = answer_error("no regular files match '%s'", src);
	return err;
}

/* Work out a transfer's files as the owner: expand local sources, resolve
 * the destination, check the directories are there and writable.
 * arg: {"upload","sources","destination","home"}.
 * Answer: {"files":[{"source","destination"}]} or {"error"}. */
json_t *xfer_plan_files(json_t *arg)
{
	bool upload = json_is_true(json_object_get(arg, "upload"));
	const char *home = json_string_value(json_object_get(arg, "home"));
	const char *dest = json_string_value(json_object_get(arg, "destination"));
	json_t *plan = json_array(), *err = NULL, *v;
	size_t i;
	json_array_foreach(json_object_get(arg, "sources"), i, v) {
		const char *src = json_string_value(v);
		char name[BOUND_PATH];
		if (xferplan_is_url(src)) {
			xferplan_url_name(src, name, sizeof name);
			err = plan_add(plan, src, name);
		} else {
			err = plan_local(plan, home, src);
		}
		if (err != NULL)
			break;
	}
	json_t *files = json_array(), *seen = json_object();
	size_t n = json_array_size(plan);
	char d[BOUND_PATH], path[BOUND_PATH];
	struct stat st;
	bool dir_mode = dest[strlen(dest) - 1] == '/';
	if (err == NULL && !upload) {
		path_absolute(d, sizeof d, home, dest);
		if (!dir_mode && stat(d, &st) == 0 && S_ISDIR(st.st_mode))
			dir_mode = true;
		if (dir_mode) {
			size_t l = strlen(d);
			while (l > 1 && d[l - 1] == '/')
				d[--l] = '\0';
			snprintf(path, sizeof path, "%s", d);
		} else {
			const char *slash = strrchr(d, '/');
			snprintf(path, sizeof path, "%.*s", slash == d ? 1 : (int)(slash - d), d);
		}
		if (stat(path, &st) != 0)
			err = answer_errno(errno, "destination directory '%s': %s", path,
			                   strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			err = answer_error("'%s' is not a directory", path);
		else if (access(path, W_OK | X_OK) != 0)
			err = answer_errno(errno, "cannot write in '%s': %s", path, strerror(errno));
	}
	if (err == NULL && !dir_mode && n != 1)
		err = answer_error("%s files need a directory destination (end it with '/')",
		                   n > 1 ? "several" : "no");
	json_array_foreach(plan, i, v) {
		if (err != NULL)
			break;
		const char *src = json_string_value(json_object_get(v, "source"));
		const char *name = json_string_value(json_object_get(v, "name"));
		char out[BOUND_PATH + 256];
		if (upload && dir_mode) {
			char *esc = curl_easy_escape(NULL, name, 0);
			snprintf(out, sizeof out, "%s%s", dest, esc ? esc : name);
			curl_free(esc);
		} else if (upload) {
			snprintf(out, sizeof out, "%s", dest);
		} else if (dir_mode) {
			snprintf(out, sizeof out, "%s/%s", strcmp(d, "/") ? d : "", name);
		} else {
			snprintf(out, sizeof out, "%s", d);
		}
		/* a set of the destinations so far (a job may have 100,000 files) */
		if (json_object_getn(seen, out, strlen(out)) != NULL)
			err = answer_error("two sources would both be written to '%s'", out);
		json_object_setn_new_nocheck(seen, out, strlen(out), json_true());
		json_array_append_new(files, json_pack("{s:s,s:s}", "source", src,
		                                       "destination", out));
	}
	json_decref(plan);
	json_decref(seen);
	if (err != NULL) {
		json_decref(files);
		return err;
	}
	return json_pack("{s:o}", "files", files);
}

/* Rename finished downloads into place, delete the rest; or (discard)
 * delete every partial. arg: {"commit", "files":[{"partial","destination","done"}]}.
 * Answer: {"committed": N} or {"error"}. */
json_t *xfer_finish_files(json_t *arg)
{
	bool commit = json_is_true(json_object_get(arg, "commit"));
	size_t i, n = 0;
	json_t *v;
	/* each directory is fsync'd once, after its files are renamed into it */
	json_t *dirs = json_object();
	json_t *err = NULL;
	json_array_foreach(json_object_get(arg, "files"), i, v) {
		const char *part = json_string_value(json_object_get(v, "partial"));
		const char *dest = json_string_value(json_object_get(v, "destination"));
		if (commit && json_is_true(json_object_get(v, "done"))) {
			if (userfile_move(part, dest) != 0) {
				err = answer_error("cannot move the file into place at '%s': %s", dest,
				                   strerror(errno));
				break;
			}
			const char *slash = strrchr(dest, '/');
			if (slash != NULL)
				json_object_setn_new(dirs, dest, (size_t)(slash - dest + 1),
				                     json_string(dest));
			n++;
		} else {
			unlink(part);
		}
	}
	const char *k;
	json_object_foreach(dirs, k, v)
		userfile_sync_dir(json_string_value(v));
	json_decref(dirs);
	return err != NULL ? err : json_pack("{s:I}", "committed", (json_int_t)n);
}

