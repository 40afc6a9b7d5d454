/*
 * cmd-copy.c - tether copy: files between this machine and a session's
 * host (PowerShell's Copy-Item -ToSession / -FromSession, scp).
 *
 * libtether copies one file either way, resumably and verified by SHA-256
 * (client/lib/copy.c); this file decides what goes where: a destination
 * that ends in '/' or is a directory keeps each source's name, -r walks
 * directories (making them on the far side), -p keeps modes and times.
 * Files on the session's host are the OS account's of the session's user:
 * a relative REMOTE is under that account's home. A fleet (-H TARGETS, or
 * -s TARGETS/NAME) is copied host by host on --throttle worker threads,
 * each with a libtether client of its own (a client is one thread's):
 * --to sends the same files to every host, --from writes LOCAL/HOST/....
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
	{ 0, "throttle", ARG_VALUE, "N", NULL },
	{ 0, NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_copy_entry = {
	"copy", "(-s SESSION | -H TARGETS) (--to LOCAL... REMOTE | --from REMOTE... LOCAL) "
	"[-r] [-p] [--throttle N]",
	"copy files to or from a session's host or a fleet (resumable, SHA-256 verified)",
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
	"  -H, --hosts TARGETS     every host of TARGETS (logged in; no session needed),\n"
	"                          like -s TARGETS/NAME for a fleet session: --to\n"
	"                          copies to each host, --from into LOCAL/HOST/...\n"
	"  --throttle N            fleet hosts copied at once (default 8)\n"
	"A cut copy goes on where it stopped when run again; each file's SHA-256\n"
	"is checked before it is put in place under its name. Progress shows on\n"
	"a terminal (stderr): the file moving, or for a fleet the hosts done.\n"
	"--json prints what was copied (with \"host\" for a fleet). The exit status\n"
	"is 0 only if everything reached every host. See docs/copy.md.\n",
	{ copy_opts, 2, -1, "give the sources and a destination", 0 },
	CMD_TARGET_SESSION_OPTION,
	exec_copy,
};

struct copy_fleet;

/* One copy run's settings and what it did: one host's. */
struct copy_run {
	struct cmd_ctx *x;
	tether_client  *c;         /* the command's client, or a fleet worker's */
	const char     *host;      /* the HOST spec to reach */
	const char     *name;      /* a fleet's host name, prefixed to messages; or NULL */
	struct copy_fleet *fleet;  /* a fleet's shared state, or NULL */
	bool            failed;
	bool            recursive, preserve;
	struct tether_copy_opts opts;
	bool            tty, drawn;
	const char     *label;     /* the file moving, for the progress line */
	json_t         *done;      /* [{"source","destination","size","resumed_from"}] */
};

/* A fleet copy's shared state; lock guards all of it and stderr. */
struct copy_fleet {
	struct cmd_ctx *x;
	const struct fleet_host *hosts;
	size_t          nhosts;
	const char     *session;   /* -s TARGETS/NAME: NAME (checked on each host), or NULL */
	bool            to, recursive, preserve, tty;
	int             nsrc;
	char          **src;
	const char     *dst;
	pthread_mutex_t lock;
	size_t          next, ndone;
	char          **failed;    /* names of the hosts that failed, nhosts long */
	size_t          nfailed;
	json_t         *done;      /* every host's copied files */
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
	if (cr->fleet != NULL)
		pthread_mutex_lock(&cr->fleet->lock);
	progress_clear(cr);
	fprintf(stderr, "tether: %s%s%s\n", cr->name ? cr->name : "", cr->name ? ": " : "",
	        msg);
	cr->failed = true;
	if (x->first_err == TETHER_E_OK) {
		x->first_err = e;
		snprintf(x->first_msg, sizeof x->first_msg, "%s%s%.500s", cr->name ? cr->name : "",
		         cr->name ? ": " : "", msg);
		snprintf(x->first_code, sizeof x->first_code, "%s", tether_err_code(e));
	}
	if (cr->fleet != NULL)
		pthread_mutex_unlock(&cr->fleet->lock);
}

/* Report a libtether failure and go on. */
static void fail_lib(struct copy_run *cr, tether_err e)
{
	if (cr->fleet == NULL) {
		progress_clear(cr);
		cr->failed = true;
		out_fail_multi(cr->x, e);
		return;
	}
	const char *msg = tether_last_error(cr->c);
	fail_here(cr, e, "%s", msg[0] ? msg : tether_strerror(e));
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
	json_t *o = json_pack("{s:s,s:s,s:I,s:I}", "source", src, "destination", dst, "size",
	                      (json_int_t)size, "resumed_from", (json_int_t)resumed);
	if (cr->name != NULL)
		json_object_set_new(o, "host", json_string(cr->name));
	json_array_append_new(cr->done, o);
}

static void put_file(struct copy_run *cr, const char *local, const char *remote, int64_t size)
{
	int64_t resumed = 0;
	cr->label = local;
	tether_err e = tether_copy_to(cr->c, cr->host, local, remote, &cr->opts, &resumed);
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
	tether_err e = tether_copy_from(cr->c, cr->host, remote, local, &cr->opts, &resumed);
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
	tether_err e = tether_file_mkdir(cr->c, cr->host, remote, (int)(st->st_mode & 0777));
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
		e = tether_file_set(cr->c, cr->host, remote, (int)(st->st_mode & 07777),
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
		tether_err e = tether_file_stat(cr->c, cr->host, remote, 0, &info);
		if (e != TETHER_E_OK && tether_last_http_status(cr->c) != 404) {
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
	tether_err e = tether_file_stat(cr->c, cr->host, remote, TETHER_FILE_ENTRIES, &list);
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
		tether_err e = tether_file_stat(cr->c, cr->host, remote, 0, &followed);
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
		tether_err e = tether_file_stat(cr->c, cr->host, src[i], 0, &info);
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

/* ---- fleets ---- */

/* The fleet's status line (a terminal only; the lock is held). */
static void fleet_status(struct copy_fleet *f)
{
	if (f->tty)
		fprintf(stderr, "\rtether: copy: %zu of %zu hosts done, %zu failed\033[K",
		        f->ndone, f->nhosts, f->nfailed);
}

/* Copy to or from one host of the fleet with c. */
static void fleet_host(struct copy_fleet *f, tether_client *c, const struct fleet_host *h)
{
	struct copy_run cr = { .x = f->x, .c = c, .host = h->addr, .name = h->name,
	                       .fleet = f, .recursive = f->recursive, .preserve = f->preserve,
	                       .done = json_array() };
	cr.opts = (struct tether_copy_opts){ cr.preserve, progress, &cr };
	if (f->session != NULL) {   /* -s TARGETS/NAME: the session is there */
		char ref[BOUND_HOSTSPEC + BOUND_NAME + 2];
		json_t *s = NULL;
		snprintf(ref, sizeof ref, "%s/%s", h->addr, f->session);
		tether_err e = tether_session_get(c, ref, &s);
		json_decref(s);
		if (e != TETHER_E_OK)
			fail_lib(&cr, e);
	}
	if (!cr.failed && f->to) {
		copy_to(&cr, f->nsrc, f->src, f->dst);
	} else if (!cr.failed) {
		char dir[BOUND_PATH], into[BOUND_PATH + 1];
		if (!join(dir, sizeof dir, f->dst, h->name))
			fail_here(&cr, TETHER_E_USAGE, "%s/%s: path too long", f->dst, h->name);
		else if (mkdir(dir, 0777) != 0 && errno != EEXIST)
			fail_here(&cr, TETHER_E_IO, "cannot make directory %s: %s", dir,
			          strerror(errno));
		else if (snprintf(into, sizeof into, "%s/", dir) > 0)   /* a directory: names kept */
			copy_from(&cr, f->nsrc, f->src, into);
	}
	pthread_mutex_lock(&f->lock);
	json_array_extend(f->done, cr.done);
	f->ndone++;
	if (cr.failed)
		f->failed[f->nfailed++] = h->name;
	fleet_status(f);
	pthread_mutex_unlock(&f->lock);
	json_decref(cr.done);
}

/* A worker: the next host not yet taken, until there is none. */
static void *fleet_worker(void *arg)
{
	struct copy_fleet *f = ((void **)arg)[0];
	tether_client *c = ((void **)arg)[1];
	for (;;) {
		pthread_mutex_lock(&f->lock);
		size_t i = f->next++;
		pthread_mutex_unlock(&f->lock);
		if (i >= f->nhosts)
			return NULL;
		fleet_host(f, c, &f->hosts[i]);
	}
}

/* Copy over every host of t, throttle at a time; the exit status. */
static int copy_fleet(struct cmd_ctx *x, const struct fleet_target *t, const char *session,
                      bool to, const struct args *a, int throttle)
{
	struct copy_fleet f = { .x = x, .hosts = t->hosts.v, .nhosts = t->hosts.n,
	                        .session = session, .to = to,
	                        .recursive = args_has(a, "recursive"),
	                        .preserve = args_has(a, "preserve"), .tty = isatty(2) == 1,
	                        .nsrc = a->argc - 1, .src = a->argv,
	                        .dst = a->argv[a->argc - 1], .done = json_array() };
	size_t nw = (size_t)throttle < f.nhosts ? (size_t)throttle : f.nhosts;
	pthread_t *th = calloc(nw, sizeof *th);
	void *(*args)[2] = calloc(nw, sizeof *args);
	f.failed = calloc(f.nhosts, sizeof *f.failed);
	if (th == NULL || args == NULL || f.failed == NULL) {
		free(th);
		free(args);
		free(f.failed);
		json_decref(f.done);
		fprintf(stderr, "tether: out of memory\n");
		return EXIT_TETHER;
	}
	struct stat st;
	if (!to && (stat(f.dst, &st) != 0 || !S_ISDIR(st.st_mode)) && mkdir(f.dst, 0777) != 0) {
		fprintf(stderr, "tether: cannot make directory %s: %s\n", f.dst, strerror(errno));
		free(th);
		free(args);
		free(f.failed);
		json_decref(f.done);
		return EXIT_TETHER;
	}
	pthread_mutex_init(&f.lock, NULL);
	size_t started = 0;
	for (size_t i = 0; i < nw; i++) {   /* clients made here, one thread each */
		tether_client *c = NULL;
		if (tether_client_new(&c) != TETHER_E_OK) {
			tether_client_free(c);
			break;
		}
		args[i][0] = &f;
		args[i][1] = c;
		if (pthread_create(&th[i], NULL, fleet_worker, args[i]) != 0) {
			tether_client_free(c);
			break;
		}
		started++;
	}
	if (started == 0)   /* no thread: this one does it all */
		fleet_worker((void *[2]){ &f, x->c });
	for (size_t i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		tether_client_free(args[i][1]);
	}
	if (f.tty)
		fputs("\r\033[K", stderr);
	if (f.nfailed > 0) {
		char *set = NULL;
		nodeset_fold(f.failed, f.nfailed, &set);
		fprintf(stderr, "tether: copy failed on %zu of %zu hosts: %s\n", f.nfailed,
		        f.nhosts, set ? set : "");
		free(set);
	}
	int rc = out_finish_multi(x, f.done, NULL);
	pthread_mutex_destroy(&f.lock);
	json_decref(f.done);
	free(f.failed);
	free(args);
	free(th);
	return rc == 0 ? 0 : f.nfailed > 0 ? 1 : rc;   /* as invoke on several targets */
}

/* ---- the command ---- */

static int exec_copy(struct cmd_ctx *x, const struct args *a)
{
	const struct cmd_entry *ce = &cmd_copy_entry;
	const char *session = args_get(a, "session");
	bool to = args_has(a, "to"), from = args_has(a, "from");
	int64_t throttle = 8;
	if (cmd_number(ce, a, "throttle", 1, 1024, &throttle) != 0)
		return EXIT_USAGE;
	if (to == from)
		return out_usage(ce, "say which way: --to (here to there) or --from (there to "
		                 "here)");
	if (args_has(a, "hosts") && session != NULL)
		return out_usage(ce, "give -s SESSION or -H TARGETS, not both");
	if (args_has(a, "hosts") || x->target.fleet) {
		struct fleet_target own = { 0 };
		const struct fleet_target *t = &x->target;
		if (args_has(a, "hosts")) {
			fleet_target_expand(x, &own, args_get(a, "hosts"));
			t = &own;
		}
		int rc = fleet_target_hosts(ce, t);
		if (rc == 0)
			rc = copy_fleet(x, t, t == &own ? NULL : t->name, to, a, (int)throttle);
		fleet_target_free(&own);
		return rc;
	}
	if (session == NULL)
		return out_usage(ce, "-s SESSION or -H TARGETS is required");
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
	cr.c = x->c;
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
