/*
 * sshkey-tool.c - drives common/sshkey.c and client/lib/agent.c from the
 * command line, so tests/integration/test_sshkey.py can hold them against
 * the real OpenSSH tools (ssh-keygen -l / -Y sign / -Y verify, ssh-agent).
 *
 *   sshkey-tool fp PUBFILE                    FP TYPE BITS COMMENT
 *   sshkey-tool priv KEYFILE [PASS]           FP TYPE BITS, or the error code
 *   sshkey-tool verify PUBFILE NS MSG SIGFILE  check an armored SSHSIG
 *   sshkey-tool sign KEYFILE PASS NS MSG OUT   write an armored SSHSIG
 *   sshkey-tool agent-list SOCK               FP TYPE COMMENT per key
 *   sshkey-tool agent-sign SOCK PUBFILE NS MSG FLAGS [TIMEOUT_MS]
 *
 * Exit 0 on success, 1 when a check fails (the reason on stderr), 2 on
 * usage or I/O errors. A test tool: the files are the test's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "buf.h"
#include "crypto.h"
#include "sshkey.h"
#include "sshwire.h"

#define SIG_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define SIG_END   "-----END SSH SIGNATURE-----"

/* Read a whole (small) file into b; exits on failure. */
static void slurp(const char *path, struct buf *b)
{
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");

	buf_init(b, 1024 * 1024);
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_append(b, chunk, n) < 0) {
			fprintf(stderr, "%s: too big\n", path);
			exit(2);
		}
	fclose(f);
}

/* The key on the first line of a .pub file; exits on failure. */
static struct sshkey *load_pub(const char *path, char *comment, size_t commentsz)
{
	struct buf b;
	struct sshkey *k = NULL;
	char err[200];
	const char *nl;
	int rc;

	slurp(path, &b);
	nl = memchr(b.data, '\n', b.len);
	rc = sshkey_parse_line(b.data, nl ? (size_t)(nl - b.data) : b.len, &k, comment, commentsz,
	                       err, sizeof err);
	buf_free(&b);
	if (rc != 1) {
		fprintf(stderr, "%s: %d %s\n", path, rc, rc ? err : "no key");
		exit(1);
	}
	return k;
}

/* Decode an armored SSHSIG into its public key and signature (copied
 * into pub and sig); checks magic, version, namespace and hash. */
static int parse_sshsig(const struct buf *text, const char *ns, struct buf *pub,
                        struct buf *sig)
{
	const char *b = strstr(buf_cstr(text), SIG_BEGIN), *e;
	char b64[8192];
	unsigned char raw[6144];
	const unsigned char *magic, *p, *s;
	size_t n = 0, pl, sl;
	uint32_t version;
	long rawlen;
	struct sshwire r;

	if (!b || !(e = strstr(b, SIG_END)))
		return -1;
	for (b += strlen(SIG_BEGIN); b < e && n + 1 < sizeof b64; b++)
		if (*b != '\n' && *b != '\r')
			b64[n++] = *b;
	b64[n] = '\0';
	rawlen = crypto_b64_decode(b64, raw, sizeof raw);
	if (rawlen <= 0)
		return -1;
	sshwire_init(&r, raw, (size_t)rawlen);
	if (sshwire_bytes(&r, 6, &magic) < 0 || memcmp(magic, "SSHSIG", 6) != 0 ||
	    sshwire_u32(&r, &version) < 0 || version != 1 || sshwire_string(&r, &p, &pl) < 0 ||
	    sshwire_expect(&r, ns) < 0 || sshwire_expect(&r, "") < 0 ||
	    sshwire_expect(&r, "sha512") < 0 || sshwire_string(&r, &s, &sl) < 0 ||
	    !sshwire_done(&r))
		return -1;
	if (buf_append(pub, p, pl) < 0 || buf_append(sig, s, sl) < 0)
		return -1;
	return 0;
}

/* Write an armored SSHSIG of sig by k in namespace ns. */
static int write_sshsig(const char *path, const struct sshkey *k, const char *ns,
                        const struct buf *sig)
{
	struct buf raw;
	char b64[8192];
	size_t bl, n;
	const unsigned char *blob = sshkey_blob(k, &bl);
	FILE *f;

	buf_init(&raw, 8192);
	if (buf_append(&raw, "SSHSIG", 6) < 0 || sshwire_put_u32(&raw, 1) < 0 ||
	    sshwire_put_string(&raw, blob, bl) < 0 || sshwire_put_cstring(&raw, ns) < 0 ||
	    sshwire_put_string(&raw, "", 0) < 0 || sshwire_put_cstring(&raw, "sha512") < 0 ||
	    sshwire_put_string(&raw, sig->data, sig->len) < 0)
		return -1;
	n = crypto_b64_encode((const uint8_t *)raw.data, raw.len, false, true, b64, sizeof b64);
	buf_free(&raw);
	if (n == 0 || !(f = fopen(path, "w")))
		return -1;
	fprintf(f, "%s\n", SIG_BEGIN);
	for (size_t i = 0; i < n; i += 70)
		fprintf(f, "%.*s\n", (int)(n - i < 70 ? n - i : 70), b64 + i);
	fprintf(f, "%s\n", SIG_END);
	return fclose(f) == 0 ? 0 : -1;
}

/* The name of a sshkey_load_private result. */
static const char *load_rc_name(int rc)
{
	switch (rc) {
	case SSHKEY_OK: return "OK";
	case SSHKEY_E_FORMAT: return "E_FORMAT";
	case SSHKEY_E_PASSPHRASE: return "E_PASSPHRASE";
	case SSHKEY_E_UNSUPPORTED: return "E_UNSUPPORTED";
	default: return "?";
	}
}

/* Load a private key file; exits with the error code name on failure. */
static struct sshkey *load_priv(const char *path, const char *pass)
{
	struct buf b;
	struct sshkey *k = NULL;
	char err[200];
	int rc;

	slurp(path, &b);
	rc = sshkey_load_private(b.data, b.len, pass && *pass ? pass : NULL, &k, err, sizeof err);
	buf_free_secret(&b);
	if (rc != SSHKEY_OK) {
		printf("%s\n", load_rc_name(rc));
		fprintf(stderr, "%s: %s\n", path, err);
		exit(1);
	}
	return k;
}

/* Print the fingerprint line of a key. */
static void print_key(const struct sshkey *k, const char *comment)
{
	char fp[SSHKEY_FP_LEN];

	sshkey_fingerprint(k, fp);
	printf("%s %s %d%s%s\n", fp, sshkey_type(k), sshkey_bits(k), comment ? " " : "",
	       comment ? comment : "");
}

/* verify PUBFILE NS MSG SIGFILE */
static int cmd_verify(char **argv)
{
	char err[200];
	struct sshkey *k = load_pub(argv[0], NULL, 0), *sk;
	struct buf msg, text, pub, sig, data;
	int rc;

	slurp(argv[2], &msg);
	slurp(argv[3], &text);
	buf_init(&pub, SSHKEY_BLOB_MAX);
	buf_init(&sig, SSHKEY_SIG_MAX);
	buf_init(&data, 1024);
	if (parse_sshsig(&text, argv[1], &pub, &sig) < 0) {
		fprintf(stderr, "malformed SSHSIG (or another namespace)\n");
		rc = 1;
		goto out;
	}
	sk = sshkey_from_blob((unsigned char *)pub.data, pub.len, err, sizeof err);
	if (!sk || !sshkey_equal(sk, k)) {
		/* still verify with the key we were given: it must refuse */
		fprintf(stderr, "note: the SSHSIG names another key\n");
	}
	sshkey_free(sk);
	if (sshkey_sshsig_data(argv[1], (unsigned char *)msg.data, msg.len, &data) < 0) {
		rc = 2;
		goto out;
	}
	rc = sshkey_verify(k, (unsigned char *)sig.data, sig.len, (unsigned char *)data.data,
	                   data.len, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "refused: %s\n", err);
	else
		printf("verified\n");
	rc = rc == 0 ? 0 : 1;
out:
	sshkey_free(k);
	buf_free(&msg);
	buf_free(&text);
	buf_free(&pub);
	buf_free(&sig);
	buf_free(&data);
	return rc;
}

/* sign KEYFILE PASS NS MSG OUT */
static int cmd_sign(char **argv)
{
	struct sshkey *k = load_priv(argv[0], argv[1]);
	struct buf msg, data, sig;
	int rc = 2;

	slurp(argv[3], &msg);
	buf_init(&data, 1024);
	buf_init(&sig, SSHKEY_SIG_MAX);
	if (sshkey_sshsig_data(argv[2], (unsigned char *)msg.data, msg.len, &data) == 0 &&
	    sshkey_sign(k, (unsigned char *)data.data, data.len, &sig) == 0 &&
	    write_sshsig(argv[4], k, argv[2], &sig) == 0)
		rc = 0;
	else
		fprintf(stderr, "signing failed\n");
	sshkey_free(k);
	buf_free(&msg);
	buf_free(&data);
	buf_free(&sig);
	return rc;
}

/* agent-list SOCK */
static int cmd_agent_list(char **argv)
{
	struct agent_key *keys;
	char err[200];
	int n;

	if (agent_list(argv[0], &keys, &n, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct sshkey *k = sshkey_from_blob(keys[i].blob, keys[i].len, err, sizeof err);

		if (!k)
			return 2;   /* agent_list promised only keys sshkey reads */
		print_key(k, keys[i].comment);
		sshkey_free(k);
	}
	agent_keys_free(keys, n);
	return 0;
}

/* agent-sign SOCK PUBFILE NS MSG FLAGS [TIMEOUT_MS] */
static int cmd_agent_sign(int argc, char **argv)
{
	struct sshkey *k = load_pub(argv[1], NULL, 0);
	struct buf msg, data, sig;
	const unsigned char *blob;
	size_t bl;
	char err[200];
	struct sshwire r;
	const unsigned char *alg;
	size_t al;
	int rc = 1;

	if (argc > 5)
		agent_set_timeout((int)strtol(argv[5], NULL, 10));
	slurp(argv[3], &msg);
	buf_init(&data, 1024);
	buf_init(&sig, SSHKEY_SIG_MAX);
	blob = sshkey_blob(k, &bl);
	if (sshkey_sshsig_data(argv[2], (unsigned char *)msg.data, msg.len, &data) < 0) {
		rc = 2;
		goto done;
	}
	if (agent_sign(argv[0], blob, bl, (unsigned char *)data.data, data.len,
	               (uint32_t)strtoul(argv[4], NULL, 10), &sig, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		goto done;
	}
	sshwire_init(&r, sig.data, sig.len);
	if (sshwire_string(&r, &alg, &al) == 0)
		printf("alg %.*s\n", (int)al, (const char *)alg);
	if (sshkey_verify(k, (unsigned char *)sig.data, sig.len, (unsigned char *)data.data,
	                  data.len, err, sizeof err) < 0) {
		fprintf(stderr, "refused: %s\n", err);
		goto done;
	}
	printf("verified\n");
	rc = 0;
done:
	sshkey_free(k);
	buf_free(&msg);
	buf_free(&data);
	buf_free(&sig);
	return rc;
}

int main(int argc, char **argv)
{
	char comment[SSHKEY_COMMENT_MAX];

	if (argc == 3 && strcmp(argv[1], "fp") == 0) {
		struct sshkey *k = load_pub(argv[2], comment, sizeof comment);

		print_key(k, comment);
		sshkey_free(k);
		return 0;
	}
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "priv") == 0) {
		struct sshkey *k = load_priv(argv[2], argc == 4 ? argv[3] : NULL);

		print_key(k, NULL);
		sshkey_free(k);
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argv + 2);
	if (argc == 7 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argv + 2);
	if (argc == 3 && strcmp(argv[1], "agent-list") == 0)
		return cmd_agent_list(argv + 2);
	if ((argc == 7 || argc == 8) && strcmp(argv[1], "agent-sign") == 0)
		return cmd_agent_sign(argc - 2, argv + 2);
	fprintf(stderr, "usage: see tests/tools/sshkey-tool.c\n");
	return 2;
}
