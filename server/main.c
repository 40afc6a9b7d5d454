/*
 * main.c - tetherd: option parsing, subcommands, and the serve loop.
 *
 * Serving is: take the state dir's lock (one daemon per state dir), start
 * the launcher of job supervisors (launcher.h), open the store, load or
 * generate the TLS key pair, start the HTTPS listeners, then wait for
 * signals in the main thread (all other threads have them blocked):
 * SIGTERM/SIGINT shut down cleanly, SIGHUP re-reads the config. systemd
 * (Type=notify) is told when serving starts, reloads and stops (notify.h).
 * Options are parsed by getopt_long, so --opt=VALUE works too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "api.h"
#include "http.h"
#include "jobs.h"
#include "launcher.h"
#include "monitor.h"
#include "notify.h"
#include "outwatch.h"
#include "xfer.h"
#include "log.h"
#include "proto.h"
#include "statedir.h"
#include "store.h"
#include "tetherd-cli.h"
#include "tetherd.h"
#include "pamauth.h"
#include "tls.h"

static const char usage[] =
	"usage: tetherd [-c|--config FILE] [--listen ADDR:PORT]... [--state-dir DIR]\n"
	"               [--cert FILE --key FILE] [--log-level debug|info|warn|error]\n"
	"       tetherd -t|--test-config [--config FILE] [options]\n"
	"       tetherd user add NAME [--password-stdin] [--admin] [--os-user NAME]\n"
	"       tetherd user list | remove NAME | passwd NAME [--password-stdin]\n"
	"       tetherd user key add NAME [FILE] | key list NAME | key remove NAME SHA256:...\n"
	"       tetherd fingerprint\n"
	"       tetherd --version\n"
	"\n"
	"Serves the tether API over HTTPS (TLS 1.2/1.3 only). Default listen address\n"
	"127.0.0.1:7443; default state dir /var/lib/tether for root, else\n"
	"~/.local/state/tetherd. Without --cert/--key a P-256 key and self-signed\n"
	"certificate are generated in the state dir on first start. The config file\n"
	"is followed by conf.d/*.conf in its directory, in name order. Options take\n"
	"their value as --opt VALUE or --opt=VALUE.\n";

/* Global options, remembered so SIGHUP can re-apply them over the file. */
struct cli {
	const char *config;
	const char *opt_key[16];
	const char *opt_val[16];
	int         nopts;
	char       *rest[64];
	int         nrest;
	int         json;
	int         test;      /* -t: check the configuration and exit */
	int         help, version;
};

/* getopt_long's values for options that have no short form. */
enum {
	OPT_STATE_DIR = 256, OPT_LISTEN, OPT_CERT, OPT_KEY, OPT_LOG_LEVEL, OPT_JSON,
	OPT_VERSION, OPT_PASSWORD_STDIN, OPT_ADMIN, OPT_OS_USER,
};

/* Global options, and the ones of `user` verbs, which are handed on to
 * them (after the verb's words) as they were given. */
static const struct option long_opts[] = {
	{ "config",         required_argument, NULL, 'c' },
	{ "test-config",    no_argument,       NULL, 't' },
	{ "help",           no_argument,       NULL, 'h' },
	{ "state-dir",      required_argument, NULL, OPT_STATE_DIR },
	{ "listen",         required_argument, NULL, OPT_LISTEN },
	{ "cert",           required_argument, NULL, OPT_CERT },
	{ "key",            required_argument, NULL, OPT_KEY },
	{ "log-level",      required_argument, NULL, OPT_LOG_LEVEL },
	{ "json",           no_argument,       NULL, OPT_JSON },
	{ "version",        no_argument,       NULL, OPT_VERSION },
	{ "password-stdin", no_argument,       NULL, OPT_PASSWORD_STDIN },
	{ "admin",          no_argument,       NULL, OPT_ADMIN },
	{ "os-user",        required_argument, NULL, OPT_OS_USER },
	{ NULL, 0, NULL, 0 },
};

/* Append one word to cli->rest; 0 or -1. */
static int add_rest(struct cli *cli, char *word)
{
	if (cli->nrest >= (int)(sizeof cli->rest / sizeof cli->rest[0])) {
		fprintf(stderr, "tetherd: too many arguments\n");
		return -1;
	}
	cli->rest[cli->nrest++] = word;
	return 0;
}

/* Parse argv with getopt_long into global options and the rest (the
 * subcommand's words, then its options); 0, or -1 after a message. */
static int parse_cli(int argc, char **argv, struct cli *cli)
{
	static const struct { int opt; const char *key; } keys[] = {
		{ OPT_STATE_DIR, "state_dir" }, { OPT_LISTEN, "listen" }, { OPT_CERT, "cert" },
		{ OPT_KEY, "key" }, { OPT_LOG_LEVEL, "log_level" },
	};
	char *sub[8];   /* the user verbs' options, in order */
	int nsub = 0, c;
	memset(cli, 0, sizeof *cli);
	opterr = 0;   /* our own messages, then the usage */
	optind = 1;
	/* "-": words come back in place (as 1), so POSIXLY_CORRECT changes nothing */
	while ((c = getopt_long(argc, argv, "-c:th", long_opts, NULL)) != -1) {
		size_t k;
		switch (c) {
		case 1:
			if (add_rest(cli, optarg) != 0)
				return -1;
			continue;
		case 'c': cli->config = optarg; continue;
		case 't': cli->test = 1; continue;
		case 'h': cli->help = 1; continue;
		case OPT_JSON: cli->json = 1; continue;
		case OPT_VERSION: cli->version = 1; continue;
		case OPT_PASSWORD_STDIN:
		case OPT_ADMIN:
		case OPT_OS_USER:
			if (nsub > (int)(sizeof sub / sizeof sub[0]) - 2) {
				fprintf(stderr, "tetherd: too many options\n");
				return -1;
			}
			sub[nsub++] = c == OPT_ADMIN ? "--admin" : c == OPT_OS_USER
			              ? "--os-user" : "--password-stdin";
			if (c == OPT_OS_USER)
				sub[nsub++] = optarg;
			continue;
		case '?':
			if (optopt == 0)
				fprintf(stderr, "tetherd: unknown option '%s'\n", argv[optind - 1]);
			else if (optopt == 'c' || optopt >= 256)
				fprintf(stderr, "tetherd: %s needs a value\n", argv[optind - 1]);
			else
				fprintf(stderr, "tetherd: unknown option '-%c'\n", optopt);
			return -1;
		default:
			break;
		}
		for (k = 0; k < sizeof keys / sizeof keys[0] && keys[k].opt != c; k++)
			;
		if (k == sizeof keys / sizeof keys[0])
			return -1;   /* not reached: every option is handled above */
		if (cli->nopts >= (int)(sizeof cli->opt_key / sizeof cli->opt_key[0])) {
			fprintf(stderr, "tetherd: too many options\n");
			return -1;
		}
		cli->opt_key[cli->nopts] = keys[k].key;
		cli->opt_val[cli->nopts++] = optarg;
	}
	for (; optind < argc; optind++)   /* the words after "--" */
		if (add_rest(cli, argv[optind]) != 0)
			return -1;
	for (int i = 0; i < nsub; i++)
		if (add_rest(cli, sub[i]) != 0)
			return -1;
	return 0;
}

/* Build the configuration: defaults, then the file, then the command line. */
static int build_config(const struct cli *cli, struct srvconf *c)
{
	char err[600];
	srvconf_defaults(c);
	if (cli->config != NULL && srvconf_load_all(c, cli->config, err, sizeof err) != 0) {
		fprintf(stderr, "tetherd: %s\n", err);
		return -1;
	}
	int listen_reset = 0;
	for (int i = 0; i < cli->nopts; i++) {
		if (strcmp(cli->opt_key[i], "listen") == 0 && !listen_reset) {
			c->nlisten = 0;   /* --listen replaces the file's list */
			listen_reset = 1;
		}
		const char *v = cli->opt_val[i];
		char abs[BOUND_PATH];
		/* paths on the command line may be relative to the working dir */
		if (strcmp(cli->opt_key[i], "listen") && strcmp(cli->opt_key[i], "log_level") &&
		    v[0] != '/' && getcwd(abs, sizeof abs) != NULL) {
			size_t n = strlen(abs);
			if (snprintf(abs + n, sizeof abs - n, "/%s", v) < (int)(sizeof abs - n))
				v = abs;
		}
		if (srvconf_set(c, cli->opt_key[i], v, err, sizeof err) != 0) {
			fprintf(stderr, "tetherd: %s\n", err);
			return -1;
		}
	}
	return 0;
}

/* Re-read the config file and its drop-ins on SIGHUP: tunables change,
 * listeners do not. systemd hears of the reload (RELOADING=1, READY=1). */
static void reload(struct server *srv, const struct cli *cli)
{
	struct srvconf c;
	notify_send("RELOADING=1");
	if (build_config(cli, &c) != 0) {
		log_msg(LOG_WARN, "reload_failed", "config", cli->config ? cli->config : "");
		notify_send("READY=1");   /* still serving, with the old settings */
		return;
	}
	srvconf_reload(&srv->conf, &c);   /* the table's reload rows */
	log_setup(c.log_level, 2);
	log_msg(LOG_INFO, "reloaded", "config", cli->config ? cli->config : "");
	notify_send("READY=1");
}

/* tetherd -t: the configuration was read (build_config); check the key
 * pair too when it exists, with no side effect (no state dir is made, no
 * key generated, nothing listens). Returns the exit status. */
static int test_config(const struct cli *cli, const struct srvconf *c)
{
	char err[600], cpath[BOUND_PATH + 16], kpath[BOUND_PATH + 16];
	struct tls_pair tls;
	const char *file = cli->config ? cli->config : "(none: defaults and options)";
	bool given = c->cert[0] != '\0' || c->key[0] != '\0';
	snprintf(cpath, sizeof cpath, "%s/cert.pem", c->state_dir);
	snprintf(kpath, sizeof kpath, "%s/key.pem", c->state_dir);
	/* without cert and key, a pair that is not there yet is made at start */
	if (given || access(cpath, F_OK) == 0 || access(kpath, F_OK) == 0) {
		if (tls_load(c->state_dir, c->cert, c->key, &tls, err, sizeof err) != 0) {
			fprintf(stderr, "tetherd: %s\n", err);
			fprintf(stderr, "tetherd: configuration file %s test failed\n", file);
			return 2;
		}
		tls_pair_free(&tls);
	}
	printf("tetherd: configuration file %s test is successful\n", file);
	return 0;
}

/* Run the daemon until SIGTERM/SIGINT. */
/* Bound glibc's malloc arenas before the first thread exists. Its default
 * is 8 per core, and with a thread per connection a busy spell leaves an
 * arena behind for each thread that ran at once, each holding its freed
 * pages; two to four arenas keep requests from queueing on one malloc lock
 * (docs/performance.md, "Idle daemon"). MALLOC_ARENA_MAX in the
 * environment still decides if set. */
static void bound_arenas(void)
{
	if (getenv("MALLOC_ARENA_MAX") != NULL)
		return;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	mallopt(M_ARENA_MAX, n < 2 ? 2 : n > 4 ? 4 : (int)n);
}

static int serve(struct server *srv, const struct cli *cli)
{
	char err[600];
	int rc = 1, lockfd = -1;
	struct tls_pair tls = { 0 };
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);   /* inherited by every thread */
	signal(SIGPIPE, SIG_IGN);
	bound_arenas();

	/* the lock first: a refused second daemon must not touch the database */
	if (statedir_make(srv->conf.state_dir) != 0 ||
	    (lockfd = statedir_lock(srv->conf.state_dir)) < 0) {
		if (errno == EWOULDBLOCK)
			fprintf(stderr, "tetherd: another tetherd is using %s\n", srv->conf.state_dir);
		else
			fprintf(stderr, "tetherd: cannot use state dir %s: %s\n", srv->conf.state_dir,
			        strerror(errno));
		return 1;
	}
	/* before the store is open and before any thread exists; without it,
	 * supervisors are started the slower way */
	if (launcher_start() != 0)
		log_msg(LOG_WARN, "launcher_unavailable", "error", strerror(errno));
	if (statedir_open_store(&srv->conf, &srv->store) != 0)
		goto out;
	if (store_checkpoint_start(srv->store) != 0)   /* sqlite then makes them itself */
		log_msg(LOG_WARN, "checkpointer_unavailable", "error", strerror(errno));
	if (jobs_init(srv) != 0) {
		fprintf(stderr, "tetherd: cannot prepare the spool in %s\n", srv->conf.state_dir);
		goto out;
	}
	if (tls_load(srv->conf.state_dir, srv->conf.cert, srv->conf.key, &tls, err,
	             sizeof err) != 0) {
		fprintf(stderr, "tetherd: %s\n", err);
		goto out;
	}
	memcpy(srv->fingerprint, tls.fingerprint, sizeof srv->fingerprint);
	struct logline kl;
	log_begin(&kl, LOG_INFO, tls.generated ? "key_generated" : "key_loaded");
	log_str(&kl, "fingerprint", tls.fingerprint);
	log_int(&kl, "certs", tls.ncerts);   /* more than 1: a chain is served */
	log_end(&kl);
	if (srv->conf.auth == SRVCONF_AUTH_PAM)
		pamauth_check_service(srv->conf.pam_service);
	srv->lockout = lockout_new(4096, srv->conf.lockout_threshold,
	                           srv->conf.lockout_window, srv->conf.lockout_duration);
	if (srv->lockout == NULL || api_auth_init(srv) != 0)
		goto out;
	if (http_start(srv, tls.cert_pem, tls.key_pem, err, sizeof err) != 0) {
		fprintf(stderr, "tetherd: %s\n", err);
		goto out;
	}
	tls_pair_free(&tls);   /* libmicrohttpd keeps its own parsed copy */
	if (outwatch_start() != 0)
		log_msg(LOG_WARN, "outwatch_unavailable", "detail", "waiting for output by polling");
	if (monitor_start(srv) != 0 || xfer_start(srv) != 0)
		goto out;
	struct logline l;
	log_begin(&l, LOG_INFO, "started");
	log_str(&l, "version", TETHER_VERSION);
	log_str(&l, "state_dir", srv->conf.state_dir);
	log_int(&l, "pid", getpid());
	log_end(&l);
	notify_send("READY=1");   /* every listener accepts connections */
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(srv, cli);
			continue;
		}
		log_msg(LOG_INFO, "shutdown", "signal", sig == SIGTERM ? "TERM" : "INT");
		notify_send("STOPPING=1");
		break;
	}
	xfer_release_waiters();   /* or the listeners wait for their requests */
	http_stop();
	monitor_stop();
	xfer_stop();
	outwatch_stop();
	rc = 0;
out:
	launcher_stop();
	tls_pair_free(&tls);
	lockout_free(srv->lockout);
	store_close(srv->store);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

/* Print the server key's fingerprint (generating the pair if needed). */
static int fingerprint(const struct srvconf *c)
{
	char err[600];
	struct tls_pair tls;
	if (statedir_make(c->state_dir) != 0) {
		fprintf(stderr, "tetherd: cannot create %s: %s\n", c->state_dir, strerror(errno));
		return 1;
	}
	if (tls_load(c->state_dir, c->cert, c->key, &tls, err, sizeof err) != 0) {
		fprintf(stderr, "tetherd: %s\n", err);
		return 1;
	}
	printf("%s\n", tls.fingerprint);
	tls_pair_free(&tls);
	return 0;
}

int main(int argc, char **argv)
{
	static struct server srv;
	struct cli cli;
	if (argc >= 2 && strcmp(argv[1], LAUNCHER_VERB) == 0)
		return launcher_main(argc, argv);
	launcher_fn worker = argc == 3 ? launcher_find(argv[1]) : NULL;
	if (worker != NULL)
		return worker(argv[2]);   /* a job supervisor (...), started by tetherd */
	umask(077);   /* the database, keys and spool are the daemon's alone */
	notify_init();   /* before any child or thread could inherit it */
	if (parse_cli(argc, argv, &cli) != 0) {
		fputs(usage, stderr);
		return 2;
	}
	if (cli.help) {
		fputs(usage, stdout);
		return 0;
	}
	if (cli.version) {
		printf("tetherd %s (API v%d)\n", TETHER_VERSION, TETHER_API_VERSION);
		return 0;
	}
	if (build_config(&cli, &srv.conf) != 0) {
		if (cli.test) {
			fprintf(stderr, "tetherd: configuration file %s test failed\n",
			        cli.config ? cli.config : "(none: defaults and options)");
			return 2;
		}
		fputs(usage, stderr);
		return 2;
	}
	if (cli.test) {
		if (cli.nrest > 0) {
			fprintf(stderr, "tetherd: -t takes no command\n%s", usage);
			return 2;
		}
		return test_config(&cli, &srv.conf);
	}
	log_setup(srv.conf.log_level, 2);
	account_set_io_ms((int)srv.conf.user_io_timeout * 1000);
	if (gethostname(srv.hostname, sizeof srv.hostname - 1) != 0)
		snprintf(srv.hostname, sizeof srv.hostname, "localhost");
	const char *cmd = cli.nrest > 0 ? cli.rest[0] : "serve";
	if (strcmp(cmd, "serve") == 0 && cli.nrest <= 1)
		return serve(&srv, &cli);
	if (strcmp(cmd, "user") == 0)
		return admin_user_main(&srv.conf, cli.nrest - 1, cli.rest + 1, cli.json);
	if (strcmp(cmd, "fingerprint") == 0 && cli.nrest == 1)
		return fingerprint(&srv.conf);
	fprintf(stderr, "tetherd: unknown command or argument '%s'\n%s", cmd, usage);
	return 2;
}
