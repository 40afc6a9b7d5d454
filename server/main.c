/*
 * main.c - tetherd: option parsing, subcommands, and the serve loop.
 *
 * Serving is: take the state dir's lock (one daemon per state dir), start
 * the launcher of job supervisors (launcher.h), open the store, load or
 * generate the TLS key pair, start the HTTPS listeners, then wait for
 * signals in the main thread (all other threads have them blocked):
 * SIGTERM/SIGINT shut down cleanly, SIGHUP re-reads the config.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "http.h"
#include "jobs.h"
#include "launcher.h"
#include "monitor.h"
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
	"usage: tetherd [--config FILE] [--listen ADDR:PORT]... [--state-dir DIR]\n"
	"               [--cert FILE --key FILE] [--log-level debug|info|warn|error]\n"
	"       tetherd user add NAME [--password-stdin] [--admin] [--os-user NAME]\n"
	"       tetherd user list | remove NAME | passwd NAME [--password-stdin]\n"
	"       tetherd user key add NAME [FILE] | key list NAME | key remove NAME SHA256:...\n"
	"       tetherd fingerprint\n"
	"       tetherd --version\n"
	"\n"
	"Serves the tether API over HTTPS (TLS 1.2/1.3 only). Default listen address\n"
	"127.0.0.1:7443; default state dir /var/lib/tether for root, else\n"
	"~/.local/state/tetherd. Without --cert/--key a P-256 key and self-signed\n"
	"certificate are generated in the state dir on first start.\n";

/* Global options, remembered so SIGHUP can re-apply them over the file. */
struct cli {
	const char *config;
	const char *opt_key[16];
	const char *opt_val[16];
	int         nopts;
	char       *rest[64];
	int         nrest;
	int         json;
};

/* Split argv into global options and the rest. */
static int parse_cli(int argc, char **argv, struct cli *cli)
{
	static const struct { const char *flag, *key; } opts[] = {
		{ "--state-dir", "state_dir" }, { "--listen", "listen" },
		{ "--cert", "cert" }, { "--key", "key" }, { "--log-level", "log_level" },
	};
	memset(cli, 0, sizeof *cli);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--config") == 0 && i + 1 < argc) {
			cli->config = argv[++i];
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			cli->json = 1;
			continue;
		}
		size_t k;
		for (k = 0; k < sizeof opts / sizeof opts[0]; k++)
			if (strcmp(a, opts[k].flag) == 0)
				break;
		if (k < sizeof opts / sizeof opts[0]) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tetherd: %s needs a value\n", a);
				return -1;
			}
			if (cli->nopts >= 16) {
				fprintf(stderr, "tetherd: too many options\n");
				return -1;
			}
			cli->opt_key[cli->nopts] = opts[k].key;
			cli->opt_val[cli->nopts++] = argv[++i];
			continue;
		}
		if (cli->nrest >= 64) {
			fprintf(stderr, "tetherd: too many arguments\n");
			return -1;
		}
		cli->rest[cli->nrest++] = argv[i];
	}
	return 0;
}

/* Build the configuration: defaults, then the file, then the command line. */
static int build_config(const struct cli *cli, struct srvconf *c)
{
	char err[600];
	srvconf_defaults(c);
	if (cli->config != NULL && srvconf_load(c, cli->config, err, sizeof err) != 0) {
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

/* Re-read the config file on SIGHUP: tunables change, listeners do not. */
static void reload(struct server *srv, const struct cli *cli)
{
	struct srvconf c;
	if (build_config(cli, &c) != 0) {
		log_msg(LOG_WARN, "reload_failed", "config", cli->config ? cli->config : "");
		return;
	}
	srvconf_reload(&srv->conf, &c);   /* the table's reload rows */
	log_setup(c.log_level, 2);
	log_msg(LOG_INFO, "reloaded", "config", cli->config ? cli->config : "");
}

/* Run the daemon until SIGTERM/SIGINT. */
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
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(srv, cli);
			continue;
		}
		log_msg(LOG_INFO, "shutdown", "signal", sig == SIGTERM ? "TERM" : "INT");
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
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("tetherd %s (API v%d)\n", TETHER_VERSION, TETHER_API_VERSION);
			return 0;
		}
	}
	if (parse_cli(argc, argv, &cli) != 0 || build_config(&cli, &srv.conf) != 0) {
		fputs(usage, stderr);
		return 2;
	}
	log_setup(srv.conf.log_level, 2);
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
