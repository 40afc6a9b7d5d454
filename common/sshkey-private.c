/*
 * sshkey-private.c - reading private key files: OpenSSH's own format
 * (PROTOCOL.key) and PEM / PKCS#8 through OpenSSL.
 *
 * An OpenSSH key file is base64 of: "openssh-key-v1\0", the cipher and kdf
 * names, the kdf options (bcrypt: salt and rounds), one public key, and
 * the (maybe encrypted) private section: two equal random check ints, the
 * key's type and fields, a comment and padding 1, 2, 3, ... The check ints
 * are how a wrong passphrase shows (AES-GCM's tag too). Every parse goes
 * through the bounded sshwire reader; the bcrypt cost is capped
 * (SSHKEY_KDF_ROUNDS_MAX) so a hostile file cannot make a login spin.
 * Buffers that held the passphrase, derived keys, or decrypted bytes are
 * wiped before they are freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "bcrypt-pbkdf.h"
#include "crypto.h"
#include "sshkey-int.h"
#include "sshkey.h"
#include "sshwire.h"

#define OPENSSH_BEGIN  "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END    "-----END OPENSSH PRIVATE KEY-----"
#define OPENSSH_MAGIC  "openssh-key-v1"   /* and its NUL */
#define PEM_BEGIN      "-----BEGIN "
#define NAME_MAX_LEN   64
#define SALT_MAX       64
#define PASS_MAX       1024

/* Ciphers of PROTOCOL.key that we read. */
struct keycipher {
	const char *name;
	const char *evp;      /* NULL: "none" */
	size_t      keylen, ivlen, block, authlen;
};

static const struct keycipher keyciphers[] = {
	{ "none", NULL, 0, 0, 8, 0 },
	{ "aes128-ctr", "AES-128-CTR", 16, 16, 16, 0 },
	{ "aes256-ctr", "AES-256-CTR", 32, 16, 16, 0 },
	{ "aes256-cbc", "AES-256-CBC", 32, 16, 16, 0 },
	{ "aes256-gcm@openssh.com", "AES-256-GCM", 32, 12, 16, 16 },
};

/* A bounded memmem: the first occurrence of s in p[0..n), or NULL. */
static const char *find(const char *p, size_t n, const char *s)
{
	size_t sl = strlen(s);

	for (size_t i = 0; n >= sl && i <= n - sl; i++)
		if (p[i] == s[0] && memcmp(p + i, s, sl) == 0)
			return p + i;
	return NULL;
}

/* A secure BIGNUM from a big-endian magnitude, for private numbers. */
static BIGNUM *secret_bn(const unsigned char *p, size_t n)
{
	BIGNUM *b = BN_secure_new();

	if (b && !BN_bin2bn(p, (int)n, b)) {
		BN_clear_free(b);
		return NULL;
	}
	return b;
}

/* Build an OpenSSL key pair of type name from a param builder. */
static EVP_PKEY *pkey_fromdata(const char *name, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	EVP_PKEY *pkey = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);   /* secure BNs live in its secure part, cleared on free */
	return pkey;
}

/* The private part of an ECDSA key: curve, point, scalar. */
static EVP_PKEY *priv_ecdsa(const struct sshkey_type *t, struct sshwire *r)
{
	const unsigned char *q, *d;
	size_t ql, dl;
	OSSL_PARAM_BLD *bld;
	BIGNUM *bd;
	EVP_PKEY *pkey = NULL;

	if (sshwire_expect(r, t->curve) < 0 || sshwire_string(r, &q, &ql) < 0 ||
	    sshwire_mpint(r, t->coordlen, &d, &dl) < 0 || dl == 0)
		return NULL;
	bld = OSSL_PARAM_BLD_new();
	bd = secret_bn(d, dl);
	if (bld && bd &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, t->group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, ql) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd) == 1)
		pkey = pkey_fromdata("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bd);
	return pkey;
}

/* The private part of an RSA key: n, e, d, iqmp, p, q (dp, dq derived). */
static EVP_PKEY *priv_rsa(struct sshwire *r)
{
	const unsigned char *v[6];
	size_t l[6];
	BIGNUM *bn[6] = { NULL }, *dp = NULL, *dq = NULL, *t = NULL;
	BN_CTX *bctx = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	enum { N, E, D, IQMP, P, Q };

	for (int i = 0; i < 6; i++)
		if (sshwire_mpint(r, SSHKEY_RSA_MAX_BITS / 8, &v[i], &l[i]) < 0 || l[i] == 0)
			return NULL;
	for (int i = 0; i < 6; i++)
		if (!(bn[i] = secret_bn(v[i], l[i])))
			goto done;
	bctx = BN_CTX_secure_new();
	dp = BN_secure_new();
	dq = BN_secure_new();
	t = BN_secure_new();
	bld = OSSL_PARAM_BLD_new();
	if (!bctx || !dp || !dq || !t || !bld || BN_is_one(bn[P]) || BN_is_one(bn[Q]) ||
	    !BN_sub(t, bn[P], BN_value_one()) || !BN_mod(dp, bn[D], t, bctx) ||
	    !BN_sub(t, bn[Q], BN_value_one()) || !BN_mod(dq, bn[D], t, bctx))
		goto done;
	if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn[N]) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn[E]) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, bn[D]) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, bn[P]) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, bn[Q]) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, bn[IQMP]) == 1)
		pkey = pkey_fromdata("RSA", bld);
done:
	OSSL_PARAM_BLD_free(bld);
	for (int i = 0; i < 6; i++)
		BN_clear_free(bn[i]);
	BN_clear_free(dp);
	BN_clear_free(dq);
	BN_clear_free(t);
	BN_CTX_free(bctx);
	return pkey;
}

/* The private part of an ed25519 key: public key, then seed || public key. */
static EVP_PKEY *priv_ed25519(struct sshwire *r)
{
	const unsigned char *pk, *sk;
	size_t pl, sl;

	if (sshwire_string(r, &pk, &pl) < 0 || pl != SSHKEY_ED25519_LEN ||
	    sshwire_string(r, &sk, &sl) < 0 || sl != 2 * SSHKEY_ED25519_LEN ||
	    memcmp(sk + SSHKEY_ED25519_LEN, pk, SSHKEY_ED25519_LEN) != 0)
		return NULL;
	return EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, sk, SSHKEY_ED25519_LEN);
}

/* Parse the decrypted private section into a private key for pub. */
static int parse_private(struct sshkey *pub, const unsigned char *p, size_t n, size_t block,
                         bool encrypted, char *err, size_t errsz)
{
	struct sshwire r;
	uint32_t c1, c2;
	const unsigned char *cm;
	size_t cml;
	EVP_PKEY *pkey = NULL;

	sshwire_init(&r, p, n);
	if (sshwire_u32(&r, &c1) < 0 || sshwire_u32(&r, &c2) < 0 || c1 != c2) {
		sshkey_seterr(err, errsz, encrypted ? "wrong passphrase" : "corrupt private key");
		return encrypted ? SSHKEY_E_PASSPHRASE : SSHKEY_E_FORMAT;
	}
	if (sshwire_expect(&r, sshkey_type(pub)) < 0) {
		sshkey_seterr(err, errsz, "the private key's type differs from its public key's");
		return SSHKEY_E_FORMAT;
	}
	switch (pub->type->kind) {
	case SSHKEY_ED25519:
		pkey = priv_ed25519(&r);
		break;
	case SSHKEY_ECDSA:
		pkey = priv_ecdsa(pub->type, &r);
		break;
	default:
		pkey = priv_rsa(&r);
		break;
	}
	ERR_clear_error();
	if (!pkey) {
		sshkey_seterr(err, errsz, "malformed private key");
		return SSHKEY_E_FORMAT;
	}
	/* the comment, then padding 1, 2, 3, ... to the cipher's block size */
	if (sshwire_string(&r, &cm, &cml) < 0 || r.left >= block)
		goto malformed;
	for (size_t i = 0; i < r.left; i++)
		if (r.p[i] != (unsigned char)(i + 1))
			goto malformed;
	if (sshkey_attach_private(pub, pkey, err, errsz) < 0) {
		EVP_PKEY_free(pkey);
		return SSHKEY_E_FORMAT;
	}
	return SSHKEY_OK;
malformed:
	EVP_PKEY_free(pkey);
	sshkey_seterr(err, errsz, "malformed private key");
	return SSHKEY_E_FORMAT;
}

/* Decrypt the private section with a key from bcrypt_pbkdf. plain gets
 * n bytes. */
static int decrypt_section(const struct keycipher *c, const char *pass,
                           const unsigned char *salt, size_t saltlen, uint32_t rounds,
                           const unsigned char *in, size_t n, const unsigned char *tag,
                           unsigned char *plain, char *err, size_t errsz)
{
	unsigned char kiv[32 + 16];
	EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	int outl = 0, finl = 0, rc = SSHKEY_E_FORMAT;

	if (bcrypt_pbkdf((const uint8_t *)pass, strlen(pass), salt, saltlen, kiv,
	                 c->keylen + c->ivlen, rounds) < 0) {
		sshkey_seterr(err, errsz, "key derivation failed");
		goto done;
	}
	cipher = EVP_CIPHER_fetch(NULL, c->evp, NULL);
	ctx = EVP_CIPHER_CTX_new();
	if (!cipher || !ctx || n > INT32_MAX ||
	    EVP_DecryptInit_ex2(ctx, cipher, kiv, kiv + c->keylen, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    (c->authlen && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)c->authlen,
	                                       (void *)tag) != 1) ||
	    EVP_DecryptUpdate(ctx, plain, &outl, in, (int)n) != 1) {
		sshkey_seterr(err, errsz, "decryption failed");
		goto done;
	}
	if (EVP_DecryptFinal_ex(ctx, plain + outl, &finl) != 1 || (size_t)(outl + finl) != n) {
		sshkey_seterr(err, errsz, "wrong passphrase");
		rc = SSHKEY_E_PASSPHRASE;
		goto done;
	}
	rc = SSHKEY_OK;
done:
	ERR_clear_error();
	OPENSSL_cleanse(kiv, sizeof kiv);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return rc;
}

/* Parse a decoded OpenSSH key file. */
static int parse_openssh(const unsigned char *raw, size_t rawlen, const char *pass,
                         struct sshkey **out, char *err, size_t errsz)
{
	char cname[NAME_MAX_LEN], kname[NAME_MAX_LEN];
	const unsigned char *magic, *kdfo, *pubp, *enc, *salt = NULL, *tag = NULL;
	size_t kdfolen, publen, enclen, saltlen = 0;
	uint32_t nkeys, rounds = 0;
	const struct keycipher *c = NULL;
	struct sshwire r, kr;
	struct sshkey *k = NULL;
	unsigned char *plain = NULL;
	int rc;

	sshwire_init(&r, raw, rawlen);
	if (sshwire_bytes(&r, sizeof OPENSSH_MAGIC, &magic) < 0 ||
	    memcmp(magic, OPENSSH_MAGIC, sizeof OPENSSH_MAGIC) != 0 ||
	    sshwire_cstring(&r, cname, sizeof cname) < 0 ||
	    sshwire_cstring(&r, kname, sizeof kname) < 0 ||
	    sshwire_string(&r, &kdfo, &kdfolen) < 0 || sshwire_u32(&r, &nkeys) < 0 ||
	    sshwire_string(&r, &pubp, &publen) < 0 || sshwire_string(&r, &enc, &enclen) < 0)
		goto malformed;
	for (size_t i = 0; i < sizeof keyciphers / sizeof keyciphers[0]; i++)
		if (strcmp(cname, keyciphers[i].name) == 0)
			c = &keyciphers[i];
	if (!c) {
		sshkey_seterr(err, errsz, "unsupported private key cipher");
		return SSHKEY_E_UNSUPPORTED;
	}
	if (c->authlen && sshwire_bytes(&r, c->authlen, &tag) < 0)
		goto malformed;
	if (!sshwire_done(&r) || nkeys != 1 || enclen == 0 || enclen % c->block != 0)
		goto malformed;
	if (strcmp(kname, "none") == 0) {
		if (c->evp || kdfolen != 0)
			goto malformed;
	} else if (strcmp(kname, "bcrypt") == 0) {
		sshwire_init(&kr, kdfo, kdfolen);
		if (!c->evp || sshwire_string(&kr, &salt, &saltlen) < 0 || saltlen == 0 ||
		    saltlen > SALT_MAX || sshwire_u32(&kr, &rounds) < 0 || !sshwire_done(&kr) ||
		    rounds == 0)
			goto malformed;
		if (rounds > SSHKEY_KDF_ROUNDS_MAX) {
			sshkey_seterr(err, errsz, "bcrypt rounds %u above the limit of %u", rounds,
			              (unsigned)SSHKEY_KDF_ROUNDS_MAX);
			return SSHKEY_E_UNSUPPORTED;
		}
	} else {
		sshkey_seterr(err, errsz, "unsupported private key kdf");
		return SSHKEY_E_UNSUPPORTED;
	}
	sshwire_init(&kr, pubp, publen);
	{
		const unsigned char *tp;
		size_t tl;

		if (sshwire_string(&kr, &tp, &tl) < 0)
			goto malformed;
		if (!sshkey_type_by_name((const char *)tp, tl)) {
			sshkey_seterr(err, errsz, "unsupported key type");
			return SSHKEY_E_UNSUPPORTED;
		}
	}
	k = sshkey_from_blob(pubp, publen, err, errsz);
	if (!k)
		return SSHKEY_E_FORMAT;
	if (c->evp) {
		if (!pass || !*pass) {
			sshkey_seterr(err, errsz, "the key is encrypted: a passphrase is needed");
			rc = SSHKEY_E_PASSPHRASE;
			goto done;
		}
		plain = malloc(enclen);
		if (!plain) {
			sshkey_seterr(err, errsz, "out of memory");
			rc = SSHKEY_E_FORMAT;
			goto done;
		}
		rc = decrypt_section(c, pass, salt, saltlen, rounds, enc, enclen, tag, plain, err,
		                     errsz);
		if (rc == SSHKEY_OK)
			rc = parse_private(k, plain, enclen, c->block, true, err, errsz);
	} else {
		rc = parse_private(k, enc, enclen, c->block, false, err, errsz);
	}
done:
	if (plain) {
		OPENSSL_cleanse(plain, enclen);
		free(plain);
	}
	if (rc != SSHKEY_OK) {
		sshkey_free(k);
		return rc;
	}
	*out = k;
	return SSHKEY_OK;
malformed:
	sshkey_seterr(err, errsz, "malformed OpenSSH private key");
	return SSHKEY_E_FORMAT;
}

/* The base64 between OpenSSH's armour lines, decoded; the file's body. */
static int load_openssh(const char *text, size_t len, const char *pass, struct sshkey **out,
                        char *err, size_t errsz)
{
	const char *b = find(text, len, OPENSSH_BEGIN), *e;
	char *b64 = NULL;
	unsigned char *raw = NULL;
	size_t n = 0, cap, rawcap;
	long rawlen;
	int rc = SSHKEY_E_FORMAT;

	b += strlen(OPENSSH_BEGIN);
	e = find(b, len - (size_t)(b - text), OPENSSH_END);
	if (!e) {
		sshkey_seterr(err, errsz, "no end line in the OpenSSH private key");
		return SSHKEY_E_FORMAT;
	}
	cap = (size_t)(e - b);
	rawcap = cap / 4 * 3 + 3;
	b64 = malloc(cap + 1);
	raw = malloc(rawcap);
	if (!b64 || !raw) {
		sshkey_seterr(err, errsz, "out of memory");
		goto done;
	}
	for (const char *p = b; p < e; p++) {
		if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
			continue;
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", *p) ||
		    *p == '\0') {
			sshkey_seterr(err, errsz, "the OpenSSH private key is not valid base64");
			goto done;
		}
		b64[n++] = *p;
	}
	b64[n] = '\0';
	rawlen = crypto_b64_decode(b64, raw, rawcap);
	if (rawlen <= 0) {
		sshkey_seterr(err, errsz, "the OpenSSH private key is not valid base64");
		goto done;
	}
	rc = parse_openssh(raw, (size_t)rawlen, pass, out, err, errsz);
done:
	/* both held the private key's bytes, if it was not encrypted */
	if (b64) {
		OPENSSL_cleanse(b64, cap + 1);
		free(b64);
	}
	if (raw) {
		OPENSSL_cleanse(raw, rawcap);
		free(raw);
	}
	return rc;
}

struct pem_pass {
	const char *pass;
	bool asked;
};

/* OpenSSL's passphrase callback: never prompt, only hand over what we hold. */
static int pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct pem_pass *pp = u;
	size_t n;

	pp->asked = true;
	if (!pp->pass || !*pp->pass)
		return -1;
	n = strlen(pp->pass);
	if (size < 0 || n > (size_t)size)
		return -1;
	memcpy(buf, pp->pass, n);
	return (int)n;
}

/* A big number from an OpenSSL key parameter, big-endian, padded to n
 * bytes (n = 0: its own length), as an mpint or raw bytes onto b. */
static int put_param(EVP_PKEY *pkey, const char *name, size_t pad, bool mpint, struct buf *b)
{
	BIGNUM *bn = NULL;
	unsigned char v[SSHKEY_RSA_MAX_BITS / 8 + 1];
	int n, rc = -1;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		return -1;
	n = pad ? (int)pad : BN_num_bytes(bn);
	if (n <= (int)sizeof v && BN_bn2binpad(bn, v, n) == n)
		rc = mpint ? sshwire_put_mpint(b, v, (size_t)n) : buf_append(b, v, (size_t)n);
	BN_free(bn);
	return rc;
}

/* The SSH public blob of a key OpenSSL loaded, or -1 if unsupported. */
static int pkey_blob(EVP_PKEY *pkey, struct buf *b)
{
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		unsigned char pk[SSHKEY_ED25519_LEN];
		size_t n = sizeof pk;

		if (EVP_PKEY_get_raw_public_key(pkey, pk, &n) != 1 || n != sizeof pk)
			return -1;
		return sshwire_put_cstring(b, "ssh-ed25519") < 0 ? -1 : sshwire_put_string(b, pk, n);
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64];
		const struct sshkey_type *t = NULL;
		static const char *const names[] = { "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
		                                      "ecdsa-sha2-nistp521" };
		size_t plen;

		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof group, NULL) != 1)
			return -1;
		for (size_t i = 0; i < 3; i++) {
			const struct sshkey_type *c = sshkey_type_by_name(names[i], strlen(names[i]));

			if (OBJ_sn2nid(group) == EC_curve_nist2nid(c->group))
				t = c;
		}
		if (!t)
			return -1;
		plen = 1 + 2 * t->coordlen;
		if (sshwire_put_cstring(b, t->name) < 0 || sshwire_put_cstring(b, t->curve) < 0 ||
		    sshwire_put_u32(b, (uint32_t)plen) < 0 || sshwire_put_u8(b, 0x04) < 0 ||
		    put_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, t->coordlen, false, b) < 0 ||
		    put_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, t->coordlen, false, b) < 0)
			return -1;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (sshwire_put_cstring(b, "ssh-rsa") < 0 ||
		    put_param(pkey, OSSL_PKEY_PARAM_RSA_E, 0, true, b) < 0 ||
		    put_param(pkey, OSSL_PKEY_PARAM_RSA_N, 0, true, b) < 0)
			return -1;
		return 0;
	}
	return -1;
}

/* A PEM / PKCS#8 private key through OpenSSL. */
static int load_pem(const char *text, size_t len, const char *pass, struct sshkey **out,
                    char *err, size_t errsz)
{
	struct pem_pass pp = { pass, false };
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	EVP_PKEY *pkey = NULL;
	struct sshkey *k = NULL;
	struct buf blob;
	int rc = SSHKEY_E_FORMAT;

	buf_init(&blob, SSHKEY_BLOB_MAX);
	if (!bio) {
		sshkey_seterr(err, errsz, "out of memory");
		return SSHKEY_E_FORMAT;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, pem_pass_cb, &pp);
	BIO_free(bio);
	ERR_clear_error();
	if (!pkey) {
		if (pp.asked) {
			sshkey_seterr(err, errsz, pass && *pass ? "wrong passphrase" :
			              "the key is encrypted: a passphrase is needed");
			return SSHKEY_E_PASSPHRASE;
		}
		sshkey_seterr(err, errsz, "not a PEM private key OpenSSL can read");
		return SSHKEY_E_FORMAT;
	}
	if (pkey_blob(pkey, &blob) < 0) {
		sshkey_seterr(err, errsz, "unsupported private key type");
		rc = SSHKEY_E_UNSUPPORTED;
		goto done;
	}
	k = sshkey_from_blob((const unsigned char *)blob.data, blob.len, err, errsz);
	if (!k)
		goto done;
	if (sshkey_attach_private(k, pkey, err, errsz) < 0)
		goto done;
	pkey = NULL;
	*out = k;
	k = NULL;
	rc = SSHKEY_OK;
done:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	sshkey_free(k);
	buf_free(&blob);
	return rc;
}

/* Load a private key file's text. */
int sshkey_load_private(const char *text, size_t len, const char *passphrase,
                        struct sshkey **out, char *err, size_t errsz)
{
	*out = NULL;
	if (!text || len == 0 || len > SSHKEY_PRIVATE_MAX) {
		sshkey_seterr(err, errsz, "private key file empty or too long");
		return SSHKEY_E_FORMAT;
	}
	if (passphrase && strlen(passphrase) > PASS_MAX) {
		sshkey_seterr(err, errsz, "passphrase too long");
		return SSHKEY_E_PASSPHRASE;
	}
	if (find(text, len, OPENSSH_BEGIN))
		return load_openssh(text, len, passphrase, out, err, errsz);
	if (find(text, len, PEM_BEGIN))
		return load_pem(text, len, passphrase, out, err, errsz);
	sshkey_seterr(err, errsz, "not a private key file");
	return SSHKEY_E_FORMAT;
}
