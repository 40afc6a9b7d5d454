/*
 * keyauth.c - nonces, a user's keys and login signatures (keyauth.h).
 *
 * The OS account's authorized_keys is the user's file: it is opened and
 * read by a child that has become the account (account_channel), never by
 * root by name nor through a descriptor (the daemon reads the child's
 * socket with deadlines: a stalled file system stalls only the child),
 * and only if the home, ~/.ssh and the file pass OpenSSH's StrictModes
 * checks (owned by the account or root, not writable by group or others;
 * the file a regular file, reached without following a symlink below the
 * home). Lines with options (command=, from=, restrict, ...) are refused
 * with a log line: tether cannot honour them, and a key meant to be
 * restricted must not log in unrestricted.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "buf.h"
#include "crypto.h"
#include "fileio.h"
#include "keyauth.h"
#include "log.h"
#include "timeu.h"

struct nonce {
	char          user[BOUND_NAME + 1];
	unsigned char nonce[KEYLOGIN_NONCE_LEN];
	unsigned char binding[KEYLOGIN_BINDING_LEN];
	int64_t       made;      /* 0: free */
};

static pthread_mutex_t nonce_mu = PTHREAD_MUTEX_INITIALIZER;
static struct nonce nonces[KEYAUTH_NONCES];

/* See keyauth.h. */
int keyauth_nonce_new(const char *user, const unsigned char binding[KEYLOGIN_BINDING_LEN],
                      unsigned char nonce[KEYLOGIN_NONCE_LEN], int64_t now)
{
	if (crypto_random(nonce, KEYLOGIN_NONCE_LEN) != 0)
		return -1;
	pthread_mutex_lock(&nonce_mu);
	struct nonce *slot = &nonces[0];
	for (size_t i = 0; i < KEYAUTH_NONCES; i++) {
		struct nonce *n = &nonces[i];
		if (n->made == 0 || n->made + KEYAUTH_NONCE_TTL <= now) {
			slot = n;
			break;
		}
		if (n->made < slot->made)
			slot = n;   /* all in use: the oldest goes */
	}
	snprintf(slot->user, sizeof slot->user, "%s", user);
	memcpy(slot->nonce, nonce, KEYLOGIN_NONCE_LEN);
	memcpy(slot->binding, binding, KEYLOGIN_BINDING_LEN);
	slot->made = now > 0 ? now : 1;
	pthread_mutex_unlock(&nonce_mu);
	return 0;
}

/* See keyauth.h. */
bool keyauth_nonce_take(const char *user, const unsigned char binding[KEYLOGIN_BINDING_LEN],
                        const unsigned char nonce[KEYLOGIN_NONCE_LEN], int64_t now)
{
	bool ok = false;
	pthread_mutex_lock(&nonce_mu);
	for (size_t i = 0; i < KEYAUTH_NONCES && !ok; i++) {
		struct nonce *n = &nonces[i];
		if (n->made == 0 || !crypto_equal(n->nonce, nonce, KEYLOGIN_NONCE_LEN))
			continue;
		ok = n->made + KEYAUTH_NONCE_TTL > now && strcmp(n->user, user) == 0 &&
		     crypto_equal(n->binding, binding, KEYLOGIN_BINDING_LEN);
		memset(n, 0, sizeof *n);   /* used up either way */
		break;
	}
	pthread_mutex_unlock(&nonce_mu);
	return ok;
}

#define FILE_KEYS_MAX 256   /* keys taken from one authorized_keys */

struct keyset {
	const struct server *srv;
	struct user_rec      u;
	bool                 exists;
	struct sshkey       *file[FILE_KEYS_MAX];   /* from authorized_keys */
	int                  nfile;
};

/* OpenSSH's StrictModes test of one open file or directory. */
static bool modes_ok(int fd, uid_t uid)
{
	struct stat st;
	return fstat(fd, &st) == 0 && (st.st_uid == uid || st.st_uid == 0) &&
	       (st.st_mode & 022) == 0;
}

/* In a child that has become the account: open ~/.ssh/authorized_keys
 * after checking the path's ownership and modes (errno EPERM if they
 * fail, ENOENT if there is no file). */
static int open_authorized_keys(void *arg)
{
	const struct account *a = arg;
	int fd = -1, ssh = -1, home = -1;
	/* the home's ancestors, as OpenSSH checks them */
	char path[BOUND_PATH];
	snprintf(path, sizeof path, "%s", a->home);
	for (char *slash = strrchr(path, '/'); slash != NULL; slash = strrchr(path, '/')) {
		slash[slash == path ? 1 : 0] = '\0';
		int d = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		bool ok = d >= 0 && modes_ok(d, a->uid);
		if (d >= 0)
			close(d);
		if (!ok) {
			errno = EPERM;
			return -1;
		}
		if (slash == path)
			break;
	}
	home = open(a->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home < 0)
		return -1;
	if (!modes_ok(home, a->uid))
		goto perm;
	ssh = openat(home, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ssh < 0)
		goto fail;
	if (!modes_ok(ssh, a->uid))
		goto perm;
	fd = openat(ssh, "authorized_keys",
	            O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !modes_ok(fd, a->uid))
		goto perm;
	close(home);
	close(ssh);
	return fd;
perm:
	errno = EPERM;
fail:;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	if (ssh >= 0)
		close(ssh);
	close(home);
	errno = saved == ENOTDIR ? ENOENT : saved;
	return -1;
}

/* How long the child may take to answer and send the whole file: well
 * inside login_grace_time's 10 s default, which the login must outlast. */
#define KEYAUTH_CHILD_MS 3000

/* In a child that has become the account: the open's errno (0 if it
 * opened), then at most KEYAUTH_FILE_MAX + 1 bytes of the file. */
static int send_authorized_keys(void *arg, int sock)
{
	static char chunk[1 << 16];   /* the child's own: it has one thread */
	int fd = open_authorized_keys(arg);
	int32_t code = fd < 0 ? errno : 0;
	if (fileio_write_all(sock, &code, sizeof code) != 0 || fd < 0)
		return -1;
	for (size_t sent = 0; sent <= KEYAUTH_FILE_MAX; ) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : -1;
		if (fileio_write_all(sock, chunk, (size_t)n) != 0)
			return -1;
		sent += (size_t)n;
	}
	return 0;
}

/* Log a refusal that concerns the user's file. */
static void file_event(const struct user_rec *u, const char *event, const char *why, int line)
{
	struct logline l;
	log_begin(&l, LOG_WARN, event);
	log_str(&l, "user", u->name);
	if (line > 0)
		log_int(&l, "line", line);
	log_str(&l, "reason", why);
	log_end(&l);
}

/* Read the account's authorized_keys into ks->file. */
static void load_file(struct keyset *ks)
{
	struct account a;
	char why[256];
	int err = 0;
	if (account_of(&ks->u, &a, why, sizeof why) != TETHER_E_OK) {
		file_event(&ks->u, "authorized_keys_skipped", why, 0);
		return;
	}
	pid_t pid;
	int32_t code = EIO;
	int64_t deadline = timeu_mono_ms() + KEYAUTH_CHILD_MS;
	int sock = account_channel(&a, send_authorized_keys, &a, &pid);
	if (sock >= 0 && fileio_read_full_ms(sock, &code, sizeof code, KEYAUTH_CHILD_MS) != 0)
		code = EIO;
	err = code;
	if (err != 0) {
		if (err != ENOENT)
			file_event(&ks->u, "authorized_keys_refused", err == EPERM
			           ? "bad ownership or modes on ~/.ssh/authorized_keys or a directory "
			             "above it (OpenSSH's StrictModes rules)"
			           : err == ELOOP ? "~/.ssh or authorized_keys is a symlink"
			           : strerror(err), 0);
		if (sock >= 0)
			close(sock);
		account_channel_end(sock >= 0 ? pid : 0);
		return;
	}
	struct buf b;
	buf_init(&b, KEYAUTH_FILE_MAX);
	char chunk[8192];
	ssize_t n = -1;   /* out of time before a read: as a read out of time */
	int64_t left;
	while ((left = deadline - timeu_mono_ms()) > 0 &&
	       (n = fileio_read_ms(sock, chunk, sizeof chunk, (int)left)) > 0)
		if (buf_append(&b, chunk, (size_t)n) != 0) {
			file_event(&ks->u, "authorized_keys_truncated", "file larger than 1 MiB; "
			           "the rest is ignored", 0);
			break;
		}
	if (n < 0)
		file_event(&ks->u, "authorized_keys_truncated", "the file could not be read to its "
		           "end in time; the rest is ignored", 0);
	close(sock);
	account_channel_end(pid);
	const char *p = buf_cstr(&b), *end = p + b.len;
	for (int line = 1; p < end && ks->nfile < FILE_KEYS_MAX; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct sshkey *k = NULL;
		char comment[SSHKEY_COMMENT_MAX], kwhy[160];
		int rc = len < SSHKEY_LINE_MAX
			? sshkey_parse_line(p, len, &k, comment, sizeof comment, kwhy, sizeof kwhy)
			: -1;
		if (rc == 1)
			ks->file[ks->nfile++] = k;
		else if (rc == -2)
			file_event(&ks->u, "authorized_keys_option_refused", kwhy, line);
		else if (rc == -1)
			file_event(&ks->u, "authorized_keys_line_skipped",
			           len < SSHKEY_LINE_MAX ? kwhy : "line too long", line);
		p += len + 1;
	}
	buf_free(&b);
}

/* See keyauth.h. */
struct keyset *keyauth_keys(const struct server *srv, const struct user_rec *u)
{
	struct keyset *ks = calloc(1, sizeof *ks);
	if (ks == NULL)
		return NULL;
	ks->srv = srv;
	if (u != NULL) {
		ks->u = *u;
		ks->exists = true;
		if (srv->conf.authorized_keys)
			load_file(ks);
	}
	return ks;
}

/* See keyauth.h. */
bool keyauth_match(struct keyset *ks, const struct sshkey *k, const char **source)
{
	if (ks == NULL || !ks->exists)
		return false;
	size_t len;
	const unsigned char *blob = sshkey_blob(k, &len);
	char fp[SSHKEY_FP_LEN];
	struct key_rec rec;
	sshkey_fingerprint(k, fp);
	if (store_key_find(ks->srv->store, ks->u.id, fp, blob, len, &rec) == TETHER_E_OK) {
		*source = "tether";
		return true;
	}
	for (int i = 0; i < ks->nfile; i++)
		if (sshkey_equal(ks->file[i], k)) {
			*source = "authorized_keys";
			return true;
		}
	return false;
}

/* See keyauth.h. */
void keyauth_keys_free(struct keyset *ks)
{
	if (ks == NULL)
		return;
	for (int i = 0; i < ks->nfile; i++)
		sshkey_free(ks->file[i]);
	free(ks);
}

/* See keyauth.h. */
int keyauth_verify(const struct sshkey *k, const char *user,
                   const unsigned char nonce[KEYLOGIN_NONCE_LEN],
                   const unsigned char binding[KEYLOGIN_BINDING_LEN],
                   const unsigned char *sig, size_t siglen, char *err, size_t errsz)
{
	size_t len;
	const unsigned char *blob = sshkey_blob(k, &len);
	struct buf data;
	if (keylogin_data(user, nonce, binding, blob, len, &data) != 0) {
		buf_free(&data);
		snprintf(err, errsz, "cannot build the signed data");
		return -1;
	}
	int rc = sshkey_verify(k, sig, siglen, (const unsigned char *)data.data, data.len,
	                       err, errsz);
	buf_free(&data);
	return rc;
}
