/*
 * tls.c - key pair generation and loading with OpenSSL.
 *
 * Generation writes to temporary files and renames them into place, key
 * first with mode 0600 from creation (never chmod after the fact), so a
 * crash cannot leave a world-readable or half-written key behind.
 *
 * A given certificate file may hold a chain: the server's own certificate
 * first, then the intermediates that lead to the organisation's CA, all of
 * which libmicrohttpd serves (docs/security.md, "Verified servers"). The
 * fingerprint is the first certificate's, and the key must be its key:
 * a mismatch is refused here with the reason, not later as a listener that
 * cannot start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bounds.h"
#include "crypto.h"
#include "fileio.h"
#include "tls.h"

#define TLS_FILE_MAX (64 * 1024)

/* Read a PEM file, explaining a failure in err. */
static char *read_pem(const char *path, char *err, size_t errsz)
{
	char *data = fileio_read(path, TLS_FILE_MAX, NULL);
	if (data == NULL || data[0] == '\0') {
		snprintf(err, errsz, "cannot read %s: %s", path,
		         data ? "empty file" : strerror(errno));
		free(data);
		return NULL;
	}
	return data;
}

/* Write a key or certificate atomically, explaining a failure in err. */
static int write_pem(const char *path, const char *pem, mode_t mode, char *err, size_t errsz)
{
	if (fileio_write_atomic(path, pem, strlen(pem), mode) != 0) {
		snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Add one extension to a certificate. */
static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ex == NULL)
		return -1;
	int ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

/* Serialise something PEM-able through a memory BIO into a malloc'd string. */
static char *bio_to_string(BIO *b)
{
	char *mem;
	long n = BIO_get_mem_data(b, &mem);
	if (n <= 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s != NULL) {
		memcpy(s, mem, (size_t)n);
		s[n] = '\0';
	}
	return s;
}

/* Make a P-256 key and a self-signed certificate as PEM strings. */
static int generate(char **cert_pem, char **key_pem, char *err, size_t errsz)
{
	int rc = -1;
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	char host[256] = "localhost", cn[300], san[400];
	unsigned char serial[16];
	if (pkey == NULL || cert == NULL || kb == NULL || cb == NULL)
		goto out;
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	if (crypto_random(serial, sizeof serial) != 0)
		goto out;
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	snprintf(cn, sizeof cn, "tetherd %s", host);
	snprintf(san, sizeof san, "DNS:localhost,DNS:%s,IP:127.0.0.1,IP:::1", host);
	X509_NAME *name = X509_get_subject_name(cert);
	if (!X509_set_version(cert, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 20L * 365 * 86400) ||
	    !X509_set_pubkey(cert, pkey) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(cert, name) ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature") != 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") != 0 ||
	    (add_ext(cert, NID_subject_alt_name, san) != 0 &&
	     add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") != 0) ||
	    !X509_sign(cert, pkey, EVP_sha256()))
		goto out;
	if (!PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, cert))
		goto out;
	*key_pem = bio_to_string(kb);
	*cert_pem = bio_to_string(cb);
	if (*key_pem && *cert_pem)
		rc = 0;
out:
	if (rc != 0)
		snprintf(err, errsz, "cannot generate a key pair with OpenSSL");
	BIO_free(kb);   /* secure-memory BIO: cleared on free */
	BIO_free(cb);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return rc;
}

/* A callback that declines to give a passphrase: an encrypted key is
 * refused rather than prompted for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

/* Check that key_pem is the key of the first certificate of cert_pem and
 * count the certificates; 0, or -1 with the reason in err. */
static int check_pair(struct tls_pair *p, const char *cpath, const char *kpath,
                      char *err, size_t errsz)
{
	int rc = -1;
	BIO *cb = BIO_new_mem_buf(p->cert_pem, -1), *kb = BIO_new_mem_buf(p->key_pem, -1);
	X509 *leaf = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL) : NULL;
	if (leaf == NULL) {
		snprintf(err, errsz, "%s: not a PEM certificate", cpath);
		goto out;
	}
	if (key == NULL) {
		snprintf(err, errsz, "%s: not a PEM private key (an encrypted key must be "
		         "decrypted first)", kpath);
		goto out;
	}
	if (X509_check_private_key(leaf, key) != 1) {
		snprintf(err, errsz, "the key in %s does not match the certificate in %s (the "
		         "file must start with the server's own certificate, then any "
		         "intermediates)", kpath, cpath);
		goto out;
	}
	p->ncerts = 1;
	for (X509 *x; (x = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL; p->ncerts++)
		X509_free(x);
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(leaf);
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

/* Load or generate the pair. */
int tls_load(const char *state_dir, const char *cert_path, const char *key_path,
             struct tls_pair *out, char *err, size_t errsz)
{
	char cpath[BOUND_PATH], kpath[BOUND_PATH];
	memset(out, 0, sizeof *out);
	int given = cert_path && cert_path[0] && key_path && key_path[0];
	if ((cert_path && cert_path[0]) != (key_path && key_path[0])) {
		snprintf(err, errsz, "--cert and --key must be given together");
		return -1;
	}
	if (given) {
		snprintf(cpath, sizeof cpath, "%s", cert_path);
		snprintf(kpath, sizeof kpath, "%s", key_path);
	} else {
		snprintf(cpath, sizeof cpath, "%s/cert.pem", state_dir);
		snprintf(kpath, sizeof kpath, "%s/key.pem", state_dir);
		if (access(cpath, F_OK) != 0 && access(kpath, F_OK) != 0) {
			if (generate(&out->cert_pem, &out->key_pem, err, errsz) != 0)
				return -1;
			if (write_pem(kpath, out->key_pem, 0600, err, errsz) != 0 ||
			    write_pem(cpath, out->cert_pem, 0644, err, errsz) != 0) {
				tls_pair_free(out);
				return -1;
			}
			out->generated = 1;
		}
	}
	if (out->cert_pem == NULL) {
		out->cert_pem = read_pem(cpath, err, errsz);
		out->key_pem = out->cert_pem ? read_pem(kpath, err, errsz) : NULL;
		if (out->key_pem == NULL) {
			tls_pair_free(out);
			return -1;
		}
	}
	if (crypto_fingerprint_cert_pem(out->cert_pem, strlen(out->cert_pem),
	                                out->fingerprint) != 0) {
		snprintf(err, errsz, "%s: not a PEM certificate", cpath);
		tls_pair_free(out);
		return -1;
	}
	if (check_pair(out, cpath, kpath, err, errsz) != 0) {
		tls_pair_free(out);
		return -1;
	}
	return 0;
}

/* Free a pair, wiping the key. */
void tls_pair_free(struct tls_pair *p)
{
	if (p->key_pem != NULL) {
		crypto_wipe(p->key_pem, strlen(p->key_pem));
		free(p->key_pem);
	}
	free(p->cert_pem);
	p->key_pem = p->cert_pem = NULL;
}
