/*
 * cmd-copy.c - tether copy: files between this machine and a session's
 * host (PowerShell's Copy-Item -ToSession / -FromSession, scp).
 *
 * libtether copies one file either way, resumably and verified by SHA-256
 * (client/lib/copy.c); this file decides what goes where: a destination
 * that ends in '/' or is a directory keeps each source's name, -r walks
 * directories (making them on the far side), -p keeps modes and times.
 * Files on the session's host are the OS account's of the session's user:
 * a relative REMOTE is under that account's home. Fleets are not done yet.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "cmd.h"
#include "transfer-util.h"

#define COPY_DEPTH_MAX 64   /* directory levels -r goes down (symlink loops end) */

static int exec_copy(struct cmd_ctx *x, const struct args *a);

static const struct args_opt copy_opts[] = {
	{ 's', "session", ARG_VALUE, "SESSION", NULL },
	{ 'H', "hosts", ARG_VALUE, "TARGETS", NULL },
	{ 0, "to", 0, NULL, NULL },
	{ 0, "from", 0, NULL, NULL },
	{ 'r', "recursive", 0, NULL, NULL },
	{ 'p', "preserve", 0, NULL, NULL },
	{ 0, NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_copy_entry = {
	"copy", "-s SESSION (--to LOCAL... REMOTE | --from REMOTE... LOCAL) [-r] [-p]",
	"copy files to or from a session's host (resumable, SHA-256 verified)",
	"  -s, --session SESSION   the session (HOST/NAME or HOST/ID) whose host and\n"
	"                          account the files are on\n"
	"  --to LOCAL... REMOTE    copy local files to REMOTE there\n"
	"  --from REMOTE... LOCAL  copy files from there to LOCAL here\n"
	"                          A destination ending in / or that is a directory\n"
	"                          keeps each source's name; several sources need one.\n"
	"                          A relative REMOTE is under the home of the session\n"
	"                          user's OS account, and files there are read and\n"
	"                          written as that account (its rights, its umask).\n"
	"  -r, --recursive         copy directories and what they hold\n"
	"  -p, --preserve          keep each file's mode and modification time\n"
	"  -H, --hosts TARGETS     fleets: not yet (copy to one session at a time)\n"
	"A cut copy goes on where it stopped when run again; each file's SHA-256\n"
	"is checked before it is put in place under its name. Progress shows on\n"
	"a terminal (stderr). --json prints what was copied. See docs/copy.md.\n",
	{ copy_opts, 2, -1, "give the sources and a destination", 0 },
	CMD_TARGET_SESSION_OPTION,
	exec_copy,
};

/* One copy run's settings and what it did. */
struct copy_run {
	struct cmd_ctx *x;
	const char     *host;
	bool            recursive, preserve;
	struct tether_copy_opts opts;
	bool            tty, drawn;
	const char     *label;     /* the file moving, for the progress line */
	json_t         *done;      /* [{"source","destination","size","resumed_from"}] */
};

/* ---- output ---- */

/* Wipe the progress line, so a message can take its place. */
static void progress_clear(struct copy_run *cr)
{
	if (cr->drawn)
		fputs("\r\033[K", stderr);
	cr->drawn = false;
}

/* The progress line of the file moving (a terminal only). */
static void progress(void *ctx, int64_t done, int64_t total)
{
	struct copy_run *cr = ctx;
	static int64_t last_ms;
	struct timespec ts;
	struct winsize ws;
	char line[512];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (!cr->tty || (done < total && now - last_ms < 200))
		return;
	last_ms = now;
	struct transfer_progress p = { .label = cr->label, .state = "Transferring",
	                               .bytes_done = done, .bytes_total = total };
	int width = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
	transfer_progress_line(&p, width - 1, line, sizeof line);
	fprintf(stderr, "\r%s\033[K", line);
	cr->drawn = true;
}

/* Report a failure found here (not by libtether) and go on. */
static void fail_here(struct copy_run *cr, tether_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail_here(struct copy_run *cr, tether_err e, const char *fmt, ...)
{
	struct cmd_ctx *x = cr->x;
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	progress_clear(cr);
	fprintf(stderr, "tether: %s\n", msg);
	if (x->first_err == TETHER_E_OK) {
		x->first_err = e;
		snprintf(x->first_msg, sizeof x->first_msg, "%.500s", msg);
		snprintf(x->first_code, sizeof x->first_code, "%s", tether_err_code(e));
	}
}

/* Report a libtether failure and go on. */
static void fail_lib(struct copy_run *cr, tether_err e)
{
	progress_clear(cr);
	out_fail_multi(cr->x, e);
}

/* ---- paths ---- */

/* dir joined with name into out; false if it does not fit. */
static bool join(char *out, size_t outsz, const char *dir, const char *name)
{
	size_t n = strlen(dir);
	const char *sep = n > 0 && dir[n - 1] == '/' ? "" : "/";
	return snprintf(out, outsz, "%s%s%s", dir, sep, name) < (int)outsz;
}

/* The last component of p, trailing slashes ignored, into out. */
static void base_name(const char *p, char *out, size_t outsz)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	size_t s = n;
	while (s > 0 && p[s - 1] != '/')
		s--;
	snprintf(out, outsz, "%.*s", (int)(n - s), p + s);
}

static bool ends_in_slash(const char *p)
{
	size_t n = strlen(p);
	return n > 0 && p[n - 1] == '/';
}

/* ---- one file ---- */

static void note(struct copy_run *cr, const char *src, const char *dst, int64_t size,
                 int64_t resumed)
{
	json_array_append_new(cr->done, json_pack("{s:s,s:s,s:I,s:I}", "source", src,
	                                          "destination", dst, "size", (json_int_t)size,
	                                          "resumed_from", (json_int_t)resumed));
}

static void put_file(struct copy_run *cr, const char *local, const char *remote, int64_t size)
{
	int64_t resumed = 0;
	cr->label = local;
	tether_err e = tether_copy_to(cr->x->c, cr->host, local, remote, &cr->opts, &resumed);
	progress_clear(cr);
	if (e != TETHER_E_OK)
		fail_lib(cr, e);
	else
		note(cr, local, remote, size, resumed);
}

static void get_file(struct copy_run *cr, const char *remote, const char *local, int64_t size)
{
	int64_t resumed = 0;
	cr->label = remote;
	tether_err e = tether_copy_from(cr->x->c, cr->host, remote, local, &cr->opts, &resumed);
	progress_clear(cr);
	if (e != TETHER_E_OK)
		fail_lib(cr, e);
	else
		note(cr, remote, local, size, resumed);
}

/* ---- to the host ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_path(struct copy_run *cr, const char *local, const char *remote, int depth);

/* A local directory to remote (made there), what it holds after it. */
static void put_dir(struct copy_run *cr, const char *local, const struct stat *st,
                    const char *remote, int depth)
{
	if (depth >= COPY_DEPTH_MAX) {
		fail_here(cr, TETHER_E_USAGE, "%s: more than %d directory levels (a symlink "
		          "loop?); not copied", local, COPY_DEPTH_MAX);
		return;
	}
	tether_err e = tether_file_mkdir(cr->x->c, cr->host, remote, (int)(st->st_mode & 0777));
	if (e != TETHER_E_OK) {
		fail_lib(cr, e);
		return;
	}
	DIR *d = opendir(local);
	if (d == NULL) {
		fail_here(cr, TETHER_E_IO, "cannot read directory %s: %s", local, strerror(errno));
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *nn);
			if (nn == NULL)
				break;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n; i++) {
		char l[BOUND_PATH], r[BOUND_PATH];
		if (!join(l, sizeof l, local, names[i]) || !join(r, sizeof r, remote, names[i]))
			fail_here(cr, TETHER_E_USAGE, "%s/%s: path too long", local, names[i]);
		else
			put_path(cr, l, r, depth + 1);
		free(names[i]);
	}
	free(names);
	if (cr->preserve) {   /* after its contents, which move its time */
		e = tether_file_set(cr->x->c, cr->host, remote, (int)(st->st_mode & 07777),
		                    st->st_mtime);
		if (e != TETHER_E_OK)
			fail_lib(cr, e);
	}
}

/* One local path (symlinks followed) to remote. */
static void put_path(struct copy_run *cr, const char *local, const char *remote, int depth)
{
	struct stat st;
	if (stat(local, &st) != 0) {
		fail_here(cr, errno == ENOENT ? TETHER_E_NOT_FOUND : TETHER_E_IO, "%s: %s", local,
		          strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		if (cr->recursive)
			put_dir(cr, local, &st, remote, depth);
		else
			fail_here(cr, TETHER_E_USAGE, "%s is a directory (copy it with -r)", local);
	} else if (!S_ISREG(st.st_mode)) {
		fail_here(cr, TETHER_E_USAGE, "%s is not a regular file; not copied", local);
	} else {
		put_file(cr, local, remote, st.st_size);
	}
}

static void copy_to(struct copy_run *cr, int nsrc, char **src, const char *remote)
{
	json_t *info = NULL;
	bool into = ends_in_slash(remote);
	if (!into) {
		tether_err e = tether_file_stat(cr->x->c, cr->host, remote, 0, &info);
		if (e != TETHER_E_OK && tether_last_http_status(cr->x->c) != 404) {
			fail_lib(cr, e);
			return;
		}
		const char *type = json_string_value(json_object_get(info, "type"));
		into = type != NULL && strcmp(type, "directory") == 0;
		json_decref(info);
	}
	if (nsrc > 1 && !into) {
		fail_here(cr, TETHER_E_USAGE, "%s is not a directory there: several sources need "
		          "one (end it in / to say so, or make it first)", remote);
		return;
	}
	for (int i = 0; i < nsrc; i++) {
		char base[256], r[BOUND_PATH];
		base_name(src[i], base, sizeof base);
		if (!into)
			snprintf(r, sizeof r, "%s", remote);
		else if (!join(r, sizeof r, remote, base)) {
			fail_here(cr, TETHER_E_USAGE, "%s: path too long", src[i]);
			continue;
		}
		put_path(cr, src[i], r, 0);
	}
}

/* ---- from the host ---- */

static void get_path(struct copy_run *cr, const char *remote, json_t *info, const char *local,
                     int depth);

/* A remote directory to local (made here), what it holds after it. */
static void get_dir(struct copy_run *cr, const char *remote, json_t *info, const char *local,
                    int depth)
{
	json_t *list = NULL, *ent;
	size_t i;
	int mode = (int)json_integer_value(json_object_get(info, "mode"));
	if (depth >= COPY_DEPTH_MAX) {
		fail_here(cr, TETHER_E_USAGE, "%s: more than %d directory levels (a symlink "
		          "loop?); not copied", remote, COPY_DEPTH_MAX);
		return;
	}
	if (mkdir(local, (mode_t)(mode & 0777) | 0700) != 0 && errno != EEXIST) {
		fail_here(cr, TETHER_E_IO, "cannot make directory %s: %s", local, strerror(errno));
		return;
	}
	tether_err e = tether_file_stat(cr->x->c, cr->host, remote, TETHER_FILE_ENTRIES, &list);
	if (e != TETHER_E_OK) {
		fail_lib(cr, e);
		return;
	}
	json_array_foreach(json_object_get(list, "entries"), i, ent) {
		const char *name = json_string_value(json_object_get(ent, "name"));
		char l[BOUND_PATH], r[BOUND_PATH];
		if (name == NULL || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
		    strcmp(name, "..") == 0) {
			fail_here(cr, TETHER_E_PROTOCOL, "%s: the server listed a bad name", remote);
			continue;
		}
		if (!join(l, sizeof l, local, name) || !join(r, sizeof r, remote, name)) {
			fail_here(cr, TETHER_E_USAGE, "%s/%s: path too long", remote, name);
			continue;
		}
		get_path(cr, r, ent, l, depth + 1);
	}
	json_decref(list);
	if (cr->preserve) {
		struct timespec ts[2] = { { (time_t)json_integer_value(json_object_get(info, "mtime")), 0 } };
		ts[1] = ts[0];
		if (chmod(local, (mode_t)mode & 07777) != 0 || utimensat(AT_FDCWD, local, ts, 0) != 0)
			fail_here(cr, TETHER_E_IO, "cannot set the mode and time of %s: %s", local,
			          strerror(errno));
	}
}

/* One remote path (info: what it is, a symlink followed here) to local. */
static void get_path(struct copy_run *cr, const char *remote, json_t *info, const char *local,
                     int depth)
{
	json_t *followed = NULL;
	const char *type = json_string_value(json_object_get(info, "type"));
	if (type != NULL && strcmp(type, "symlink") == 0) {
		tether_err e = tether_file_stat(cr->x->c, cr->host, remote, 0, &followed);
		if (e != TETHER_E_OK) {
			fail_lib(cr, e);
			return;
		}
		info = followed;
		type = json_string_value(json_object_get(info, "type"));
	}
	if (type != NULL && strcmp(type, "directory") == 0) {
		if (cr->recursive)
			get_dir(cr, remote, info, local, depth);
		else
			fail_here(cr, TETHER_E_INVALID_ARGUMENT, "%s is a directory (copy it with -r)",
			          remote);
	} else if (type != NULL && strcmp(type, "file") == 0) {
		get_file(cr, remote, local, json_integer_value(json_object_get(info, "size")));
	} else {
		fail_here(cr, TETHER_E_INVALID_ARGUMENT, "%s is not a regular file; not copied",
		          remote);
	}
	json_decref(followed);
}

static void copy_from(struct copy_run *cr, int nsrc, char **src, const char *local)
{
	struct stat st;
	bool into = ends_in_slash(local) || (stat(local, &st) == 0 && S_ISDIR(st.st_mode));
	if (nsrc > 1 && !into) {
		fail_here(cr, TETHER_E_USAGE, "%s is not a directory: several sources need one",
		          local);
		return;
	}
	for (int i = 0; i < nsrc; i++) {
		json_t *info = NULL;
		char base[256], l[BOUND_PATH];
		tether_err e = tether_file_stat(cr->x->c, cr->host, src[i], 0, &info);
		if (e != TETHER_E_OK) {
			fail_lib(cr, e);
			continue;
		}
		base_name(json_string_value(json_object_get(info, "path")), base, sizeof base);
		if (!into)
			snprintf(l, sizeof l, "%s", local);
		else if (!join(l, sizeof l, local, base)) {
			fail_here(cr, TETHER_E_USAGE, "%s: path too long", src[i]);
			json_decref(info);
			continue;
		}
		get_path(cr, src[i], info, l, 0);
		json_decref(info);
	}
}

/* ---- the command ---- */

static int exec_copy(struct cmd_ctx *x, const struct args *a)
{
	const struct cmd_entry *ce = &cmd_copy_entry;
	const char *session = args_get(a, "session");
	bool to = args_has(a, "to"), from = args_has(a, "from");
	if (args_has(a, "hosts") || x->target.fleet)
		return out_usage(ce, "copying to or from a fleet (-H TARGETS, or -s TARGETS/NAME) "
		                 "is not supported yet: copy with -s one session at a time");
	if (session == NULL)
		return out_usage(ce, "-s SESSION is required");
	if (to == from)
		return out_usage(ce, "say which way: --to (here to there) or --from (there to "
		                 "here)");
	json_t *s = NULL;
	tether_err e = tether_session_get(x->c, session, &s);
	json_decref(s);
	if (e != TETHER_E_OK)
		return out_fail(x, e);
	char host[BOUND_HOSTSPEC];
	const char *slash = strrchr(session, '/');
	snprintf(host, sizeof host, "%.*s", (int)(slash - session), session);
	struct copy_run cr = { .x = x, .host = host, .recursive = args_has(a, "recursive"),
	                       .preserve = args_has(a, "preserve"), .tty = isatty(2) == 1,
	                       .done = json_array() };
	cr.opts = (struct tether_copy_opts){ cr.preserve, progress, &cr };
	if (to)
		copy_to(&cr, a->argc - 1, a->argv, a->argv[a->argc - 1]);
	else
		copy_from(&cr, a->argc - 1, a->argv, a->argv[a->argc - 1]);
	progress_clear(&cr);
	int rc = out_finish_multi(x, cr.done, NULL);
	json_decref(cr.done);
	return rc;
}
