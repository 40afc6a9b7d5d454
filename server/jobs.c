/*
 * jobs.c - the job engine (see jobs.h).
 *
 * Commands run as "bash --noprofile --norc -c COMMAND bash", as ssh runs
 * them, so bash's messages read "bash: line 1: ..." and ps shows the
 * command. Before it, bash runs $BASH_ENV, a prelude handed over on fd 3
 * (shim.c) that restores the session's saved state (variables with their
 * attributes, functions, aliases, working directory) and arms an EXIT trap
 * (so "exit 3" saves too) that writes the state back with declare -p /
 * declare -f / alias -p, whose output bash itself can re-read exactly,
 * whatever quotes, newlines or unicode the values hold.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <pthread.h>

#include "account.h"
#include "cmdline.h"
#include "idlist.h"
#include "jobs.h"
#include "joblog.h"
#include "launcher.h"
#include "outcap.h"
#include "outwatch.h"
#include "shim.h"
#include "log.h"
#include "proto.h"
#include "fileio.h"
#include "spool.h"
#include "sysacct.h"
#include "strparse.h"
#include "timeu.h"

static char self_exe[BOUND_PATH];

/* The last line of a state the prelude finished writing: a comment to bash. */
#define STATE_END "# tether: end of saved state"

/* Restores the session state and arms its saving; shared by commands and
 * interactive shells. */
#define STATE_PRELUDE \
	"__tether_save() {\n" \
	"  local __tether_rc=$? __tether_n\n" \
	"  local -a __tether_v\n" \
	"  [ -n \"$__tether_state_out\" ] || return $__tether_rc\n" \
	"  compgen -v > \"$__tether_state_out\" &&\n" \
	"    mapfile -t __tether_v < \"$__tether_state_out\"\n" \
	"  unset -f __tether_save\n" \
	"  {\n" \
	"    for __tether_n in \"${__tether_v[@]}\"; do\n" \
	"      case $__tether_n in\n" \
	"        BASH*|EUID|PPID|SHELLOPTS|UID|GROUPS|FUNCNAME|RANDOM|SRANDOM|SECONDS|\\\n" \
	"        LINENO|HISTCMD|PIPESTATUS|_|OPTIND|OPTARG|OPTERR|DIRSTACK|COMP_*|\\\n" \
	"        EPOCH*|HOSTNAME|HOSTTYPE|MACHTYPE|OSTYPE|SHLVL|PWD|OLDPWD|PS4|\\\n" \
	"        COLUMNS|LINES|TERM|\\\n" \
	"        __tether_*|TETHER_*) continue;;\n" \
	"      esac\n" \
	"      declare -p \"$__tether_n\" 2>/dev/null\n" \
	"    done\n" \
	"    declare -f\n" \
	"    alias -p\n" \
	"    printf 'cd -- %q 2>/dev/null\\n' \"$PWD\"\n" \
	"  } > \"$__tether_state_out\" &&\n" \
	"    printf '%s\\n' '" STATE_END "' >> \"$__tether_state_out\"\n" \
	"  return $__tether_rc\n" \
	"}\n" \
	"shopt -s expand_aliases\n" \
	"__tether_state_out=$TETHER_STATE_OUT\n" \
	"unset TETHER_STATE_OUT\n" \
	"if [ -r \"$TETHER_STATE_IN\" ]; then . \"$TETHER_STATE_IN\"; fi\n" \
	"unset TETHER_STATE_IN\n"

/* A command that cannot change what is saved has nothing to save: one
 * simple command of plain words (no quotes, expansions, assignments,
 * redirections or operators) whose first word is no alias and no function
 * and either names a program (found in PATH, or a path) or is one of the
 * builtins that change no variable, function, alias or directory. It then
 * leaves no state file, and without the EXIT trap bash execs the program
 * instead of forking for it: most of what an administrator runs
 * (systemctl, df, uptime, true) costs no save (docs/architecture.md,
 * "Session state"). `time` and `coproc` are keywords that run or name
 * what follows, and save. */
#define SKIP_UNCHANGED \
	"__tether_w=${BASH_EXECUTION_STRING%% *}\n" \
	"if [[ $BASH_EXECUTION_STRING =~ ^[A-Za-z0-9_./+-]+(\\ +[A-Za-z0-9_./=:,+@%-]+)*$ ]] &&\n" \
	"   [[ ! -v BASH_ALIASES[$__tether_w] ]] && ! declare -F -- \"$__tether_w\" >/dev/null\n" \
	"then\n" \
	"  case $__tether_w in\n" \
	"    time|coproc) ;;\n" \
	"    true|false|echo|test|pwd|*/*) __tether_state_out= ;;\n" \
	"    *) hash -- \"$__tether_w\" 2>/dev/null && [[ -n ${BASH_CMDS[$__tether_w]} ]] &&\n" \
	"         __tether_state_out= ;;\n" \
	"  esac\n" \
	"fi\n" \
	"unset __tether_w\n"

/* A command's $BASH_ENV (read from fd 3, see shim.c): it leaves nothing
 * behind for the command's own children. */
static const char command_rc[] =
	"exec 3<&-\n"
	"unset BASH_ENV\n"
	STATE_PRELUDE
	SKIP_UNCHANGED
	"[ -z \"$__tether_state_out\" ] || trap __tether_save EXIT\n";

/* An interactive shell's rc file (read from fd 3, see shim.c). */
static const char shell_rc[] =
	"exec 3<&-\n"
	"PS1='\\u@\\h:\\w\\$ '\n"
	STATE_PRELUDE
	"trap __tether_save EXIT\n";


/* True if the file name in dfd (the account's directory) is a regular file
 * that ends with STATE_END. Opened without following links and without
 * blocking, only its tail is read. */
static bool state_complete(int dfd, const char *name)
{
	static const char end[] = STATE_END "\n";
	char tail[sizeof end - 1];
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	          st.st_size >= (off_t)sizeof tail &&
	          pread(fd, tail, sizeof tail, st.st_size - (off_t)sizeof tail) ==
	                  (ssize_t)sizeof tail &&
	          memcmp(tail, end, sizeof tail) == 0;
	close(fd);
	return ok;
}

/* The state a job's shell saved on exit becomes its session's: state.N.sh
 * replaces state.sh if the prelude finished writing it (its last line is
 * then STATE_END; a shell killed mid-save leaves the old state). A marker
 * file, state.N.sh.done, said so before (a job of an older build may still
 * leave one): it cost an inode per invoke. The session directory is the
 * account's: names are resolved in it through a descriptor opened without
 * following links. */
static void take_saved_state(const struct job_rec *j)
{
	char dir[BOUND_PATH], out[48], done[56];
	spool_session_dir(dir, j->session_id);
	snprintf(out, sizeof out, "state.%lld.sh", (long long)j->id);
	snprintf(done, sizeof done, "%s.done", out);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	struct stat st;
	bool complete = state_complete(dfd, out);
	bool marked = !complete && fstatat(dfd, done, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (complete || marked)
		renameat(dfd, out, dfd, "state.sh");
	else
		unlinkat(dfd, out, 0);   /* half written, or never: not a state */
	if (marked)
		unlinkat(dfd, done, 0);
	close(dfd);
}

/* Find our own executable to start shims from. */
int jobs_init(struct server *srv)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		return -1;
	self_exe[n] = '\0';
	if (spool_init(srv->conf.state_dir) != 0)
		return -1;
	jobs_settle_all(srv);
	return 0;
}

/* Record a failure to start. */
static tether_err start_failed(struct server *srv, struct job_rec *j, tether_err e,
                               const char *why)
{
	store_job_finish(srv->store, j->id, JOB_FAILED, -1, 0, timeu_now(), why);
	return e;
}

/* The workers the launcher started whose supervisor has not yet been seen
 * to write its pid file: job and the process the launcher made, in this
 * daemon's memory only (a restarted daemon looks in /proc instead, see
 * shim_starting). A ring: an entry pushed out just costs that look. */
#define STARTING_MAX 256
static struct { int64_t job; pid_t pid; } starting[STARTING_MAX];
static unsigned starting_next;
static pthread_mutex_t starting_lock = PTHREAD_MUTEX_INITIALIZER;

static void starting_set(int64_t job, pid_t pid)
{
	pthread_mutex_lock(&starting_lock);
	unsigned slot = starting_next;
	for (unsigned i = 0; i < STARTING_MAX; i++)
		if (starting[i].job == job || starting[i].job == 0) {
			slot = i;
			break;
		}
	if (slot == starting_next)
		starting_next = (starting_next + 1) % STARTING_MAX;
	starting[slot].job = pid > 0 ? job : 0;
	starting[slot].pid = pid;
	pthread_mutex_unlock(&starting_lock);
}

static pid_t starting_get(int64_t job)
{
	pid_t pid = 0;
	pthread_mutex_lock(&starting_lock);
	for (unsigned i = 0; i < STARTING_MAX && pid == 0; i++)
		if (starting[i].job == job)
			pid = starting[i].pid;
	pthread_mutex_unlock(&starting_lock);
	return pid;
}

static void starting_forget(int64_t job)
{
	pthread_mutex_lock(&starting_lock);
	for (unsigned i = 0; i < STARTING_MAX; i++)
		if (starting[i].job == job)
			starting[i].job = 0;
	pthread_mutex_unlock(&starting_lock);
}

/* Start "tetherd VERB DIR" detached (double fork + setsid), so it outlives
 * the daemon, with fd (unless -1) as its LAUNCHER_WORKER_FD: through the
 * launcher if there is one (*worker gets the pid of the process it made),
 * else by forking the daemon and exec'ing tetherd (slower: the daemon is
 * large and threaded, and the exec links the whole binary again; *worker
 * stays 0). */
static int spawn_detached(const char *verb, const char *dir, int fd, pid_t *worker)
{
	*worker = 0;
	int rc = launcher_spawn(verb, dir, fd, worker);
	if (rc <= 0)
		return rc;
	*worker = 0;
	char *argv[] = { "tetherd", (char *)verb, (char *)dir, NULL };
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* only async-signal-safe calls from here: we are a copy of a
		 * multi-threaded process */
		setsid();
		if (fork() != 0)
			_exit(0);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		/* dup2 clears close-on-exec; a descriptor already in place needs
		 * it cleared by hand */
		int keep = 3;
		if (fd >= 0) {
			if (fd == LAUNCHER_WORKER_FD ? fcntl(fd, F_SETFD, 0) != 0
			                             : dup2(fd, LAUNCHER_WORKER_FD) < 0)
				_exit(127);
			keep = LAUNCHER_WORKER_FD + 1;
		}
		/* all the rest: a busy daemon has connections past 1024 */
		if (close_range((unsigned)keep, ~0u, 0) != 0)   /* kernels before 5.9 */
			for (int i = keep; i < 1024; i++)
				close(i);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(self_exe, argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return 0;
}

int jobs_spawn_detached(const char *verb, const char *dir)
{
	pid_t worker;
	return spawn_detached(verb, dir, -1, &worker);
}

/* The spec as a sealed memory file: what the supervisor reads it from
 * (shim.h). A file in the job directory cost an inode allocation per job,
 * a quarter of the daemon's CPU for a short job on ext4. The descriptor,
 * or -1. */
static int spec_memfd(const char *text)
{
	int fd = memfd_create("tether-spec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (fileio_write_all(fd, text, strlen(text)) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The command's words if it may run without a shell (cmdline.h), else
 * NULL. */
static json_t *direct_words(const char *cmd)
{
	size_t len = strlen(cmd);
	char *buf = malloc(len + 1), *words[CMDLINE_WORDS_MAX];
	size_t n = buf != NULL ? cmdline_direct(cmd, buf, len + 1, words, CMDLINE_WORDS_MAX) : 0;
	json_t *arr = n > 0 ? json_array() : NULL;
	for (size_t i = 0; arr != NULL && i < n; i++)
		json_array_append_new(arr, json_string(words[i]));
	free(buf);
	return arr;
}

/* Start a job. */
tether_err jobs_start(struct server *srv, const struct user_rec *u,
                      const struct session_rec *s, struct job_rec *j, unsigned flags,
                      const struct jobs_pty *pty, char *err, size_t errsz)
{
	bool save_state = (flags & JOBS_SAVE_STATE) != 0;
	struct account acct;
	char sdir[BOUND_PATH], jdir[BOUND_PATH], path[BOUND_PATH];
	char in[BOUND_PATH], out[BOUND_PATH], num[32];
	tether_err e = account_of(u, &acct, err, errsz);
	if (e != TETHER_E_OK)
		return start_failed(srv, j, e, err);
	spool_session_dir(sdir, s->id);
	spool_job_dir(jdir, j->id);
	spool_session_file(in, s->id, "state.sh");
	snprintf(num, sizeof num, "state.%lld.sh", (long long)j->id);
	spool_session_file(out, s->id, num);
	struct stat st;
	/* A command with no state to restore (a new session, or one whose
	 * commands have saved none) and none to save runs without the prelude:
	 * bash reading it is a third of a short job's bash time. Only the name
	 * is looked at (the directory is the account's; lstat opens nothing).
	 * Such a command needs the session's directory only as a home for an
	 * account without one, and the supervisor makes it then (the home is
	 * looked at there, not here: a home on a hung network file system
	 * holds up that job alone, not a request thread): invoke -H's temporary
	 * sessions make none. */
	bool restore = lstat(in, &st) == 0;
	/* a plain command with no state to restore may run without bash; it
	 * has no state to save either (SKIP_UNCHANGED's rule, and a command
	 * bash does not find changes none that matters: the next restores
	 * the same defaults) */
	json_t *direct = pty == NULL && !restore ? direct_words(j->command) : NULL;
	bool prelude = pty != NULL || restore || (save_state && direct == NULL);
	const char *run = direct != NULL ? "direct" : "bash";   /* for the log */
	if ((prelude && spool_mkdir(sdir, acct.uid, acct.gid) != 0) ||
	    spool_mkdir(jdir, (uid_t)-1, (gid_t)-1) != 0) {
		json_decref(direct);
		snprintf(err, errsz, "cannot create the job's spool: %s", strerror(errno));
		return start_failed(srv, j, TETHER_E_INTERNAL, err);
	}
	json_t *env = json_array();
	char kv[BOUND_PATH + 64];
#define ENV(...) do { snprintf(kv, sizeof kv, __VA_ARGS__); \
		json_array_append_new(env, json_string(kv)); } while (0)
	ENV("USER=%s", acct.name);
	ENV("LOGNAME=%s", acct.name);
	ENV("SHELL=/bin/bash");
	ENV("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	ENV("LANG=C.UTF-8");
	if (pty != NULL)
		ENV("TERM=%s", pty->term);
	ENV("TETHER_SESSION=%s", s->name);
	ENV("TETHER_JOB=%lld", (long long)j->id);
	if (prelude) {
		ENV("TETHER_STATE_IN=%s", in);
		ENV("TETHER_STATE_OUT=%s", save_state ? out : "");
	}
	if (pty == NULL && prelude)
		ENV("BASH_ENV=/dev/fd/3");
#undef ENV
	const char *buffering = proto_buffering_str(s->output_buffering);
	json_t *spec = json_pack("{s:o,s:s,s:I,s:s}", "env", env, "home_fallback", sdir,
		"output_cap", (json_int_t)srv->conf.output_cap,
		"buffering", buffering ? buffering : "block");
	account_to_spec(&acct, spec);
	if (pty == NULL) {
		json_object_set_new(spec, "argv", json_pack("[s,s,s,s,s,s]", "/bin/bash",
			"--noprofile", "--norc", "-c", j->command, "bash"));
		if (prelude)
			json_object_set_new(spec, "rc", json_string(command_rc));
		if (direct != NULL)
			json_object_set_new(spec, "exec", direct);
		spool_job_file(path, j->id, "input");
		if ((flags & JOBS_STDIN) != 0 && mkfifo(path, 0600) != 0 && errno != EEXIST) {
			json_decref(spec);
			snprintf(err, errsz, "cannot create the command's input: %s", strerror(errno));
			return start_failed(srv, j, TETHER_E_INTERNAL, err);
		}
		if ((flags & JOBS_STDIN) != 0)
			json_object_set_new(spec, "stdin", json_true());
	} else {
		/* an interactive bash; its rc restores the state (fd 3, shim.c) */
		json_object_set_new(spec, "argv", json_pack("[s,s,s,s,s]", "/bin/bash",
			"--noprofile", "--rcfile", "/dev/fd/3", "-i"));
		json_object_set_new(spec, "rc", json_string(shell_rc));
		json_object_set_new(spec, "pty", json_pack("{s:i,s:i}", "rows", pty->rows,
		                                           "cols", pty->cols));
		spool_job_file(path, j->id, "input");
		if (mkfifo(path, 0600) != 0 && errno != EEXIST) {
			json_decref(spec);
			snprintf(err, errsz, "cannot create the shell's input: %s", strerror(errno));
			return start_failed(srv, j, TETHER_E_INTERNAL, err);
		}
	}
	char *text = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
	json_decref(spec);
	/* the job's share of its session's and user's output caps is in its
	 * directory before it can write: a quick command could otherwise write
	 * past it before the share was set */
	outcap_started(srv, j->id, s->id, s->user_id);
	int specfd = text != NULL ? spec_memfd(text) : -1;
	free(text);
	pid_t worker = 0;
	int spawned = specfd >= 0 ? spawn_detached("__shim", jdir, specfd, &worker) : -1;
	if (specfd >= 0)
		close(specfd);
	if (spawned != 0) {
		snprintf(err, errsz, "cannot start the job's supervisor");
		return start_failed(srv, j, TETHER_E_INTERNAL, err);
	}
	/* which process is starting, for jobs_settle until the supervisor
	 * writes its pid file: kept in memory, not in a file of its own */
	if (worker > 0)
		starting_set(j->id, worker);
	struct logline l;
	log_begin(&l, LOG_INFO, "job_start");
	log_int(&l, "job", j->id);
	log_int(&l, "session", s->id);
	log_str(&l, "type", proto_job_type_str(j->type));
	log_str(&l, "user", u->name);
	log_str(&l, "run", run);
	log_end(&l);
	return TETHER_E_OK;
}

/* Read "SHIMPID CHILDPID [UID]" for a job; 0 or -1. *uid (if not NULL)
 * gets UID, or (uid_t)-1 if the file has none (a supervisor of an older
 * build). */
static int read_pids_uid(int64_t job, pid_t *shim, pid_t *child, uid_t *uid)
{
	char path[BOUND_PATH];
	spool_job_file(path, job, "pid");
	char *t = fileio_read(path, 64, NULL);
	int a = 0, b = 0;
	unsigned long u = 0;
	int got = t != NULL ? sscanf(t, "%d %d %lu", &a, &b, &u) : 0;
	free(t);
	if (got < 2 || a <= 1 || b <= 1)
		return -1;
	*shim = a;
	*child = b;
	if (uid != NULL)
		*uid = got == 3 && u > 0 && u < (uid_t)-1 ? (uid_t)u : (uid_t)-1;
	return 0;
}

static int read_pids(int64_t job, pid_t *shim, pid_t *child)
{
	return read_pids_uid(job, shim, child, NULL);
}

/* True if pid runs "tetherd VERB DIR" (guards against pid reuse). */
bool jobs_proc_is(pid_t pid, const char *verb, const char *dir)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	size_t len = 0;
	char *cmd = fileio_read(path, 8192, &len);
	if (cmd == NULL)
		return false;
	/* argv is "tetherd\0VERB\0DIR\0", exec'd or written by the launcher
	 * (then NULs follow) */
	size_t vl = strlen(verb) + 1;
	const char *a1 = memchr(cmd, '\0', len);
	bool ok = a1 != NULL && (size_t)(a1 + 1 - cmd) + vl < len &&
	          strcmp(a1 + 1, verb) == 0 && memchr(a1 + 1 + vl, '\0',
	                                              len - (size_t)(a1 + 1 + vl - cmd)) &&
	          strcmp(a1 + 1 + vl, dir) == 0;
	free(cmd);
	return ok;
}

/* True if pid is the job's shim or the launcher's fresh child about to
 * become one (it still shows the launcher's command line). */
static bool shim_or_fresh(pid_t pid, const char *jdir)
{
	if (jobs_proc_is(pid, "__shim", jdir))
		return true;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	size_t len = 0;
	char *cmd = fileio_read(path, 64, &len);
	static const char fresh[] = "tetherd\0" LAUNCHER_VERB;   /* NUL included */
	bool launcher = cmd != NULL && len >= sizeof fresh && memcmp(cmd, fresh, sizeof fresh) == 0;
	free(cmd);
	return launcher && pid != launcher_pid();
}

/* A restarted daemon has no memory of what its predecessor launched: look
 * for the job's supervisor among the processes, and for a fresh child of a
 * launcher that is not ours (the old one, killed with its daemon, may have
 * forked it a moment before: it cannot be told which job it serves, so any
 * such process keeps every job without a pid file starting). The pid found,
 * or 0. Costs a walk of /proc: only jobs with neither pid file nor entry in
 * the starting table get here. */
static pid_t find_starting(const char *jdir)
{
	DIR *d = opendir("/proc");
	if (d == NULL)
		return 0;
	pid_t found = 0;
	struct dirent *e;
	while (found == 0 && (e = readdir(d)) != NULL) {
		int64_t pid;
		if (strparse_i64(e->d_name, 2, INT32_MAX, &pid) == 0 &&
		    shim_or_fresh((pid_t)pid, jdir))
			found = (pid_t)pid;
	}
	closedir(d);
	return found;
}

/* True if the process the launcher started for job still lives, as the
 * job's shim or the launcher's fresh child about to become it. */
static bool shim_starting(int64_t job)
{
	char jdir[BOUND_PATH];
	spool_job_dir(jdir, job);
	pid_t pid = starting_get(job);
	if (pid > 1 && shim_or_fresh(pid, jdir))
		return true;
	pid = find_starting(jdir);
	if (pid > 1)
		starting_set(job, pid);   /* the next look is at that process only */
	return pid > 1;
}

/* True if pid is the shim of this job. */
static bool shim_alive(int64_t job, pid_t pid)
{
	char jdir[BOUND_PATH];
	spool_job_dir(jdir, job);
	return jobs_proc_is(pid, "__shim", jdir);
}

/* The uid a job of an older build runs as, from its spec.json (the
 * daemon's own file; a newer supervisor writes it in its pid file). */
static bool spec_uid(int64_t job, uid_t *uid)
{
	char path[BOUND_PATH];
	spool_job_file(path, job, "spec.json");
	char *text = fileio_read(path, BOUND_BODY_COMMAND * 2, NULL);
	json_t *spec = text ? json_loads(text, 0, NULL) : NULL;
	json_t *u = json_object_get(spec, "uid");
	bool ok = json_is_integer(u) && json_integer_value(u) > 0;
	if (ok)
		*uid = (uid_t)json_integer_value(u);
	json_decref(spec);
	free(text);
	return ok;
}

/* Kill what is left of a job whose supervisor vanished: the processes of
 * the job's process group (its command leads it; see shim.c) that run as
 * the job's account. The uid check keeps a group id reused by someone
 * else's processes out of reach. A command that left the group (setsid)
 * is not found; docs/security.md. */
static void kill_orphans(int64_t job, pid_t pgid, uid_t uid)
{
	DIR *d;
	if (pgid <= 1 || (uid == (uid_t)-1 && !spec_uid(job, &uid)) ||
	    (d = opendir("/proc")) == NULL)
		return;
	int killed = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int64_t pid;
		char path[64], stat_line[512];
		if (strparse_i64(e->d_name, 2, INT32_MAX, &pid) != 0)
			continue;
		snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, stat_line, sizeof stat_line - 1);
		struct stat st;
		bool mine = n > 0 && fstat(fd, &st) == 0 && st.st_uid == uid;
		close(fd);
		if (!mine)
			continue;
		stat_line[n] = '\0';
		/* "pid (comm) state ppid pgrp ...": comm may hold anything but ')' last */
		const char *p = strrchr(stat_line, ')');
		char state;
		int ppid, pgrp;
		if (p != NULL && sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
		    pgrp == pgid && kill((pid_t)pid, SIGKILL) == 0)
			killed++;
	}
	closedir(d);
	if (killed > 0) {
		struct logline l;
		log_begin(&l, LOG_WARN, "job_orphans_killed");
		log_int(&l, "job", job);
		log_int(&l, "processes", killed);
		log_end(&l);
	}
}

/* Settle a job if it has ended. */
bool jobs_settle(struct server *srv, const struct job_rec *j)
{
	char path[BOUND_PATH];
	if (j->state != JOB_RUNNING && j->state != JOB_BLOCKED)
		return true;
	if (j->type == JOB_TYPE_TRANSFER)
		return false;   /* the transfer scheduler (xfer.c) owns these */
	spool_job_file(path, j->id, "status");
	char *text = fileio_read(path, 256, NULL);
	if (text != NULL) {
		json_t *st = json_loads(text, 0, NULL);
		free(text);
		int sig = (int)json_integer_value(json_object_get(st, "signal"));
		json_t *ec = json_object_get(st, "exit_code");
		int code = json_is_integer(ec) ? (int)json_integer_value(ec) : -1;
		char oerr[160] = "";
		const char *oe = json_string_value(json_object_get(st, "output_error"));
		if (oe != NULL)   /* the supervisor could not keep all output */
			snprintf(oerr, sizeof oerr, "%s", oe);
		json_decref(st);
		struct job_rec now;   /* a stop may have been asked since j was read */
		bool stopped = j->stop_requested;
		if (store_job_by_id(srv->store, j->id, &now) == TETHER_E_OK) {
			stopped = now.stop_requested;
			job_rec_clear(&now);
		}
		int state = stopped && (sig || code != 0) ? JOB_STOPPED
		          : (code == 0 && !sig) ? JOB_COMPLETED : JOB_FAILED;
		if (j->type == JOB_TYPE_INVOKE || j->type == JOB_TYPE_SHELL)
			take_saved_state(j);
		store_job_finish(srv->store, j->id, state, code, sig, timeu_now(), oerr);
		store_session_touch(srv->store, j->session_id, 0, timeu_now());
		outwatch_forget(j->id);
		starting_forget(j->id);
		struct logline l;
		log_begin(&l, LOG_INFO, "job_end");
		log_int(&l, "job", j->id);
		log_str(&l, "state", proto_job_state_str(state));
		log_int(&l, sig ? "signal" : "exit_code", sig ? sig : code);
		log_end(&l);
		return true;
	}
	pid_t shim, child;
	uid_t uid;
	bool vanished, had_pids = read_pids_uid(j->id, &shim, &child, &uid) == 0;
	if (had_pids) {
		starting_forget(j->id);   /* the supervisor is up: its pid file says */
		vanished = !shim_alive(j->id, shim);
	} else   /* no pid file yet: in the first 10 s the shim is starting;
	        * later, while the process the launcher made lives (a busy
	        * machine can take long) */
		vanished = timeu_now() - j->started > 10 && !shim_starting(j->id);
	if (!vanished)
		return false;
	/* the status may have landed between our two looks */
	if (access(path, F_OK) == 0)
		return jobs_settle(srv, j);
	if (had_pids)
		kill_orphans(j->id, child, uid);
	starting_forget(j->id);
	store_job_finish(srv->store, j->id, JOB_FAILED, -1, 0, timeu_now(),
	                 "supervisor vanished without recording an exit status");
	log_msg(LOG_WARN, "job_lost", "reason", "supervisor vanished");
	return true;
}

/* Signal a job's process group. */
static bool has_status(int64_t job);

int jobs_signal(struct server *srv, int64_t job, int sig)
{
	pid_t shim, child;
	/* the pid file becomes the status at the end (shim.c): none to wait for */
	for (int i = 0; i < 400 && read_pids(job, &shim, &child) != 0 && !has_status(job); i++) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);   /* the shim is just starting */
	}
	if (read_pids(job, &shim, &child) != 0)
		return -1;
	return kill(-child, sig);
}

/* True once the job's status file exists. */
static bool has_status(int64_t job)
{
	char path[BOUND_PATH];
	spool_job_file(path, job, "status");
	return access(path, F_OK) == 0;
}

/* Sleep until the job has a status or ms pass. */
static void wait_status(int64_t job, int ms)
{
	for (int waited = 0; waited < ms && !has_status(job); waited += 10) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* Stop a job: TERM, grace, KILL. */
void jobs_stop(struct server *srv, const struct job_rec *j, int grace_ms)
{
	if (jobs_settle(srv, j))
		return;
	store_job_set_stop(srv->store, j->id);
	/* an interactive bash ignores SIGTERM; SIGHUP ends it and its jobs */
	int first = j->type == JOB_TYPE_SHELL ? SIGHUP : SIGTERM;
	if (jobs_signal(srv, j->id, first) == 0)
		wait_status(j->id, grace_ms);
	if (!has_status(j->id)) {
		jobs_signal(srv, j->id, SIGKILL);
		wait_status(j->id, 5000);
	}
	struct job_rec fresh = *j;
	fresh.stop_requested = true;
	jobs_settle(srv, &fresh);
}

/* Wait for output past offset, or the job's end. */
/* What a wait for output waits for. */
struct output_wait {
	int64_t job, offset;
	bool  (*stay)(void *ctx);
	void   *ctx;
};

static bool output_ready(void *arg)
{
	const struct output_wait *w = arg;
	return joblog_size(w->job) > w->offset || has_status(w->job) ||
	       (w->stay != NULL && !w->stay(w->ctx));
}

int64_t jobs_wait_output(struct server *srv, int64_t job, int64_t offset, int timeout_ms,
                         bool (*stay)(void *ctx), void *ctx)
{
	char dir[BOUND_PATH];
	struct output_wait w = { job, offset, stay, ctx };
	(void)srv;
	if (timeout_ms > 0) {
		spool_job_dir(dir, job);
		/* a second's poll also covers a shim that vanished silently */
		outwatch_wait(job, dir, timeout_ms, 1000, output_ready, &w);
	}
	return joblog_size(job);
}

/* Delete a finished job with its spool. */
tether_err jobs_remove(struct server *srv, int64_t job)
{
	tether_err e = store_job_remove(srv->store, job);
	if (e != TETHER_E_OK)
		return e;
	jobs_discard_spool(job);
	return TETHER_E_OK;
}

void jobs_collect(void *ids, const struct job_rec *j)
{
	idlist_add(ids, j->id);
}

void jobs_discard_spool(int64_t job)
{
	char path[BOUND_PATH];
	outwatch_forget(job);
	spool_job_dir(path, job);
	spool_rmtree(path);
}

/* Settle every running job. */
void jobs_settle_all(struct server *srv)
{
	struct idlist l = { .n = 0 };
	store_job_list_running(srv->store, jobs_collect, &l);
	for (size_t i = 0; i < l.n; i++) {
		struct job_rec j;
		if (store_job_by_id(srv->store, l.ids[i], &j) != TETHER_E_OK)
			continue;
		jobs_settle(srv, &j);
		job_rec_clear(&j);
	}
	free(l.ids);
}

/* See jobs.h. */
int jobs_supervisor_fd(int64_t job)
{
	pid_t shim, child;
	if (read_pids(job, &shim, &child) != 0) {
		errno = EAGAIN;
		return -1;
	}
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, shim, 0);
	if (fd < 0)
		return -1;
	/* opened after the pid was read: it may name a process that reused it */
	if (!shim_alive(job, shim)) {
		close(fd);
		errno = ESRCH;
		return -1;
	}
	return fd;
#else
	errno = ENOSYS;   /* kernels before 5.3: the monitor polls */
	return -1;
#endif
}

/* Write one input record whole (a FIFO write of at most PIPE_BUF is atomic),
 * waiting a little while the shell is slow to read. */
static int input_record(int fd, int type, const uint8_t *p, size_t len)
{
	uint8_t rec[SHIM_INPUT_HDR + SHIM_INPUT_MAX];
	rec[0] = (uint8_t)type;
	rec[1] = (uint8_t)(len & 0xff);
	rec[2] = (uint8_t)(len >> 8);
	if (len > 0)
		memcpy(rec + SHIM_INPUT_HDR, p, len);
	for (int tries = 0; tries < 200; tries++) {
		ssize_t w = write(fd, rec, SHIM_INPUT_HDR + len);
		if (w == (ssize_t)(SHIM_INPUT_HDR + len))
			return 0;
		if (w >= 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		struct pollfd pf = { fd, POLLOUT, 0 };
		poll(&pf, 1, 10);
	}
	errno = EAGAIN;
	return -1;
}

/* Feed a job's input; see jobs.h. */
long jobs_input(int64_t job, const void *data, size_t len, int rows, int cols, bool eof,
                char *err, size_t errsz)
{
	char path[BOUND_PATH];
	spool_job_file(path, job, "input");
	int fd = -1;
	for (int tries = 0; tries < 200 && fd < 0; tries++) {
		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno != ENXIO)
			break;
		if (fd < 0) {   /* the supervisor has not opened it yet */
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (fd < 0) {
		snprintf(err, errsz, "the job is not taking input (%s)", errno == ENOENT
		         ? "it was started without stdin" : strerror(errno));
		return -1;
	}
	int rc = 0;
	long taken = 0;
	if (data == NULL && !eof) {
		uint8_t ws[4] = { (uint8_t)(rows & 0xff), (uint8_t)(rows >> 8),
		                  (uint8_t)(cols & 0xff), (uint8_t)(cols >> 8) };
		rc = input_record(fd, SHIM_INPUT_WINSIZE, ws, sizeof ws);
	}
	for (size_t off = 0; rc == 0 && data != NULL && off < len; off += SHIM_INPUT_MAX) {
		size_t n = len - off < SHIM_INPUT_MAX ? len - off : SHIM_INPUT_MAX;
		rc = input_record(fd, SHIM_INPUT_DATA, (const uint8_t *)data + off, n);
		taken += rc == 0 ? (long)n : 0;
	}
	if (rc == 0 && eof)
		rc = input_record(fd, SHIM_INPUT_EOF, NULL, 0);
	int saved = errno;
	close(fd);
	if (rc != 0 && taken == 0) {
		snprintf(err, errsz, "the job is not taking input (%s)", saved == EAGAIN
		         ? "it has not read what came before" : strerror(saved));
		return saved == EAGAIN ? -2 : -1;
	}
	return taken;
}

/* Lock a job's stdin count; see jobs.h. */
int jobs_input_count_lock(int64_t job, int64_t *count)
{
	char path[BOUND_PATH];
	spool_job_file(path, job, "input.count");
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) != 0) {
		close(fd);
		return -1;
	}
	*count = 0;
	if (pread(fd, count, sizeof *count, 0) != (ssize_t)sizeof *count || *count < 0)
		*count = 0;
	return fd;
}

/* Store a job's stdin count and unlock it; see jobs.h. */
void jobs_input_count_unlock(int fd, int64_t count)
{
	if (pwrite(fd, &count, sizeof count, 0) != (ssize_t)sizeof count)
		log_msg(LOG_WARN, "input_count", "reason", "cannot record a job's stdin count");
	close(fd);
}
