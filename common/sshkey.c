/*
 * sshkey.c - OpenSSH public keys: parsing, fingerprints, SSHSIG signed
 * data, signatures (docs/authentication.md).
 *
 * A key is held as its wire blob (what authorized_keys lines, the agent
 * and the network carry) plus the OpenSSL key built from it. The blob is
 * parsed strictly (sshwire.h: minimal mpints, nothing trailing, the curve
 * named inside an ECDSA blob must be the type's), so one key has exactly
 * one blob and comparing blobs compares keys. Signature checks go through
 * EVP_DigestVerify; OpenSSL errors are drained into our own messages,
 * which never quote key or signature bytes. Private key files are read
 * in sshkey-private.c.
 */
#include "sshkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "crypto.h"
#include "sshkey-int.h"
#include "sshwire.h"

#define SSHSIG_MAGIC     "SSHSIG"
#define SSHSIG_HASH      "sha512"
#define SHA512_LEN       64
#define ED25519_SIG_LEN  64
#define RSA_E_MAX_BYTES  8
#define B64_BLOB_MAX     ((SSHKEY_BLOB_MAX + 2) / 3 * 4)
#define OPTION_NAME_MAX  32

static const struct sshkey_type sshkey_types[] = {
	{ "ssh-ed25519", SSHKEY_ED25519, NULL, NULL, NULL, 0, 256 },
	{ "ecdsa-sha2-nistp256", SSHKEY_ECDSA, "nistp256", "P-256", "SHA256", 32, 256 },
	{ "ecdsa-sha2-nistp384", SSHKEY_ECDSA, "nistp384", "P-384", "SHA384", 48, 384 },
	{ "ecdsa-sha2-nistp521", SSHKEY_ECDSA, "nistp521", "P-521", "SHA512", 66, 521 },
	{ "ssh-rsa", SSHKEY_RSA, NULL, NULL, NULL, 0, 0 },
};

/* Look a supported type up by its SSH name. */
const struct sshkey_type *sshkey_type_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof sshkey_types / sizeof sshkey_types[0]; i++)
		if (strlen(sshkey_types[i].name) == len && memcmp(sshkey_types[i].name, name, len) == 0)
			return &sshkey_types[i];
	return NULL;
}

/* Format an error message, if the caller wants one. */
void sshkey_seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* An OpenSSL key from a raw ed25519 public key. */
static EVP_PKEY *pkey_ed25519(const unsigned char *pk)
{
	return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pk, SSHKEY_ED25519_LEN);
}

/* An OpenSSL EC key from an uncompressed point, checked to be on the curve. */
static EVP_PKEY *pkey_ecdsa(const struct sshkey_type *t, const unsigned char *q, size_t qlen)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	                                             (char *)t->group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)q, qlen);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto fail;
	EVP_PKEY_CTX_free(ctx);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!ctx || EVP_PKEY_public_check(ctx) != 1)
		goto fail;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
fail:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return NULL;
}

/* An OpenSSL RSA public key from big-endian e and n. */
static EVP_PKEY *pkey_rsa(const unsigned char *e, size_t elen, const unsigned char *n,
                          size_t nlen)
{
	BIGNUM *be = BN_bin2bn(e, (int)elen, NULL), *bn = BN_bin2bn(n, (int)nlen, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (!be || !bn || !bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
		goto done;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
done:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(be);
	BN_free(bn);
	return pkey;
}

/* The number of significant bits of a big-endian magnitude without
 * leading zeros. */
static int magnitude_bits(const unsigned char *p, size_t len)
{
	int bits;

	if (len == 0)
		return 0;
	bits = (int)(len - 1) * 8;
	for (unsigned v = p[0]; v; v >>= 1)
		bits++;
	return bits;
}

/* Parse a public key blob; NULL with err on anything malformed. */
struct sshkey *sshkey_from_blob(const unsigned char *blob, size_t len, char *err, size_t errsz)
{
	const unsigned char *tp, *a, *b;
	size_t tlen, alen, blen;
	const struct sshkey_type *t;
	struct sshwire r;
	struct sshkey *k;
	EVP_PKEY *pkey = NULL;
	int bits;

	if (!blob || len == 0 || len > SSHKEY_BLOB_MAX) {
		sshkey_seterr(err, errsz, "key blob empty or too long");
		return NULL;
	}
	sshwire_init(&r, blob, len);
	if (sshwire_string(&r, &tp, &tlen) < 0) {
		sshkey_seterr(err, errsz, "malformed key blob");
		return NULL;
	}
	t = sshkey_type_by_name((const char *)tp, tlen);
	if (!t) {
		sshkey_seterr(err, errsz, "unsupported key type");
		return NULL;
	}
	bits = t->bits;
	switch (t->kind) {
	case SSHKEY_ED25519:
		if (sshwire_string(&r, &a, &alen) < 0 || alen != SSHKEY_ED25519_LEN ||
		    !sshwire_done(&r))
			goto malformed;
		pkey = pkey_ed25519(a);
		break;
	case SSHKEY_ECDSA:
		if (sshwire_string(&r, &a, &alen) < 0 || sshwire_string(&r, &b, &blen) < 0 ||
		    !sshwire_done(&r))
			goto malformed;
		if (alen != strlen(t->curve) || memcmp(a, t->curve, alen) != 0) {
			sshkey_seterr(err, errsz, "ECDSA key: curve does not match the key type");
			return NULL;
		}
		if (blen != 1 + 2 * t->coordlen || b[0] != 0x04)
			goto malformed;
		pkey = pkey_ecdsa(t, b, blen);
		if (!pkey) {
			ERR_clear_error();
			sshkey_seterr(err, errsz, "ECDSA key: not a point on the curve");
			return NULL;
		}
		break;
	default: /* SSHKEY_RSA */
		if (sshwire_mpint(&r, RSA_E_MAX_BYTES, &a, &alen) < 0 ||
		    sshwire_mpint(&r, SSHKEY_RSA_MAX_BITS / 8, &b, &blen) < 0 || !sshwire_done(&r))
			goto malformed;
		if (alen == 0 || !(a[alen - 1] & 1) || (alen == 1 && a[0] < 3))
			goto malformed;
		bits = magnitude_bits(b, blen);
		if (bits < SSHKEY_RSA_MIN_BITS) {
			sshkey_seterr(err, errsz, "RSA key of %d bits refused (%d at least)", bits,
			              SSHKEY_RSA_MIN_BITS);
			return NULL;
		}
		pkey = pkey_rsa(a, alen, b, blen);
		break;
	}
	if (!pkey) {
		ERR_clear_error();
		goto malformed;
	}
	k = calloc(1, sizeof *k);
	if (k)
		k->blob = malloc(len);
	if (!k || !k->blob) {
		free(k);
		EVP_PKEY_free(pkey);
		sshkey_seterr(err, errsz, "out of memory");
		return NULL;
	}
	memcpy(k->blob, blob, len);
	k->bloblen = len;
	k->type = t;
	k->pkey = pkey;
	k->bits = bits;
	return k;
malformed:
	sshkey_seterr(err, errsz, "malformed %s key blob", t->name);
	return NULL;
}

/* Does a key pair hang together: is its public key the private key's?
 * (Key files carry both, and OpenSSL does not check a PEM file's.) An
 * ed25519 key's public half is always derived from the seed. */
static bool pairwise_ok(const struct sshkey *k, EVP_PKEY *priv)
{
	EVP_PKEY_CTX *ctx;
	bool ok;

	if (k->type->kind == SSHKEY_ED25519)
		return true;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	ok = ctx && EVP_PKEY_pairwise_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* Replace the public OpenSSL key by a private one holding the same public key. */
int sshkey_attach_private(struct sshkey *k, EVP_PKEY *priv, char *err, size_t errsz)
{
	if (EVP_PKEY_eq(k->pkey, priv) != 1 || !pairwise_ok(k, priv)) {
		ERR_clear_error();
		sshkey_seterr(err, errsz, "the private key does not match its public key");
		return -1;
	}
	EVP_PKEY_free(k->pkey);
	k->pkey = priv;
	k->priv = true;
	return 0;
}

/* Copy a comment, trimmed of surrounding blanks, control bytes replaced. */
static void copy_comment(const char *p, size_t n, char *out, size_t outsz)
{
	size_t i;

	if (!out || outsz == 0)
		return;
	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	for (i = 0; i < n && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)p[i];

		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[i] = '\0';
}

/* Does this first word look like a key type (supported or not), rather
 * than authorized_keys options? */
static bool looks_like_type(const char *w, size_t n)
{
	static const char *const prefixes[] = { "ssh-", "ecdsa-", "sk-", "rsa-", "x509v3-" };

	if (memchr(w, '=', n) || memchr(w, ',', n) || memchr(w, '"', n))
		return false;
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (n > strlen(prefixes[i]) && strncmp(w, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* Parse one authorized_keys / .pub line. */
int sshkey_parse_line(const char *line, size_t len, struct sshkey **out,
                      char *comment, size_t commentsz, char *err, size_t errsz)
{
	const char *p = line, *end, *w, *b64;
	size_t wn, bn;
	char *text = NULL;
	unsigned char *blob = NULL;
	long n;
	struct sshkey *k;
	const unsigned char *tp;
	size_t tlen;
	struct sshwire r;

	*out = NULL;
	if (comment && commentsz)
		comment[0] = '\0';
	if (!line || len > SSHKEY_LINE_MAX) {
		sshkey_seterr(err, errsz, "line too long");
		return -1;
	}
	if (memchr(line, '\0', len)) {
		sshkey_seterr(err, errsz, "line holds a NUL byte");
		return -1;
	}
	end = line + len;
	while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#')
		return 0;
	for (w = p; p < end && *p != ' ' && *p != '\t'; p++)
		;
	wn = (size_t)(p - w);
	if (!sshkey_type_by_name(w, wn)) {
		char name[OPTION_NAME_MAX + 1];
		size_t i;

		if (looks_like_type(w, wn)) {
			sshkey_seterr(err, errsz, "unsupported key type");
			return -1;
		}
		for (i = 0; i < wn && i < OPTION_NAME_MAX; i++) {
			char c = w[i];

			if (c == '=' || c == ',')
				break;
			name[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			          (c >= '0' && c <= '9') || c == '-' || c == '_' ? c : '?';
		}
		name[i] = '\0';
		sshkey_seterr(err, errsz, "key options are not supported (\"%s\")", name);
		return -2;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	for (b64 = p; p < end && *p != ' ' && *p != '\t'; p++)
		;
	bn = (size_t)(p - b64);
	if (bn == 0 || bn > B64_BLOB_MAX) {
		sshkey_seterr(err, errsz, bn ? "key too long" : "no key after the key type");
		return -1;
	}
	text = malloc(bn + 1);
	blob = malloc(SSHKEY_BLOB_MAX);
	if (!text || !blob) {
		sshkey_seterr(err, errsz, "out of memory");
		goto fail;
	}
	memcpy(text, b64, bn);
	text[bn] = '\0';
	if (strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != bn ||
	    (n = crypto_b64_decode(text, blob, SSHKEY_BLOB_MAX)) <= 0) {
		sshkey_seterr(err, errsz, "the key is not valid base64");
		goto fail;
	}
	sshwire_init(&r, blob, (size_t)n);
	if (sshwire_string(&r, &tp, &tlen) < 0 || tlen != wn || memcmp(tp, w, wn) != 0) {
		sshkey_seterr(err, errsz, "the key does not match its type %.*s", (int)wn, w);
		goto fail;
	}
	k = sshkey_from_blob(blob, (size_t)n, err, errsz);
	if (!k)
		goto fail;
	copy_comment(p, (size_t)(end - p), comment, commentsz);
	free(text);
	free(blob);
	*out = k;
	return 1;
fail:
	free(text);
	free(blob);
	return -1;
}

/* The key's public blob. */
const unsigned char *sshkey_blob(const struct sshkey *k, size_t *len)
{
	*len = k->bloblen;
	return k->blob;
}

/* The SSH type name. */
const char *sshkey_type(const struct sshkey *k)
{
	return k->type->name;
}

/* The key size in bits. */
int sshkey_bits(const struct sshkey *k)
{
	return k->bits;
}

/* SHA256 fingerprint, as ssh-keygen -l prints it. */
void sshkey_fingerprint(const struct sshkey *k, char out[SSHKEY_FP_LEN])
{
	uint8_t d[CRYPTO_SHA256_LEN];

	crypto_sha256(k->blob, k->bloblen, d);
	memcpy(out, "SHA256:", 7);
	if (crypto_b64_encode(d, sizeof d, false, false, out + 7, SSHKEY_FP_LEN - 7) == 0)
		out[7] = '\0';
}

/* Same public key: blobs are canonical, so compare them. */
bool sshkey_equal(const struct sshkey *a, const struct sshkey *b)
{
	return a && b && a->bloblen == b->bloblen && memcmp(a->blob, b->blob, a->bloblen) == 0;
}

/* Free a key (OpenSSL clears private key material it frees). */
void sshkey_free(struct sshkey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->blob);
	free(k);
}

/* SSHSIG signed data for msg in namespace ns. */
int sshkey_sshsig_data(const char *ns, const unsigned char *msg, size_t len, struct buf *out)
{
	unsigned char h[SHA512_LEN];
	unsigned int hl = 0;
	size_t was = out->len;

	if (!ns || !*ns || EVP_Digest(msg ? (const void *)msg : "", len, h, &hl, EVP_sha512(), NULL) != 1 ||
	    hl != sizeof h)
		return -1;
	if (buf_append(out, SSHSIG_MAGIC, strlen(SSHSIG_MAGIC)) < 0 ||
	    sshwire_put_cstring(out, ns) < 0 || sshwire_put_string(out, "", 0) < 0 ||
	    sshwire_put_cstring(out, SSHSIG_HASH) < 0 || sshwire_put_string(out, h, sizeof h) < 0) {
		out->len = was;
		if (out->data)
			out->data[was] = '\0';
		return -1;
	}
	return 0;
}

/* An ECDSA signature blob (mpint r, mpint s) as DER; 0 or -1. */
static int ecdsa_sig_der(const struct sshkey_type *t, const unsigned char *p, size_t n,
                         unsigned char **der, int *derlen)
{
	const unsigned char *rp, *sp;
	size_t rl, sl;
	struct sshwire r;
	ECDSA_SIG *sig;
	BIGNUM *br, *bs;

	sshwire_init(&r, p, n);
	if (sshwire_mpint(&r, t->coordlen, &rp, &rl) < 0 ||
	    sshwire_mpint(&r, t->coordlen, &sp, &sl) < 0 || !sshwire_done(&r) || rl == 0 ||
	    sl == 0)
		return -1;
	sig = ECDSA_SIG_new();
	br = BN_bin2bn(rp, (int)rl, NULL);
	bs = BN_bin2bn(sp, (int)sl, NULL);
	if (!sig || !br || !bs || ECDSA_SIG_set0(sig, br, bs) != 1) {
		ECDSA_SIG_free(sig);
		BN_free(br);
		BN_free(bs);
		return -1;
	}
	*der = NULL;
	*derlen = i2d_ECDSA_SIG(sig, der);
	ECDSA_SIG_free(sig);
	return *derlen > 0 ? 0 : -1;
}

/* Does sig verify over data with pkey and digest md (NULL: ed25519)? */
static bool evp_verify(EVP_PKEY *pkey, const char *md, const unsigned char *sig, size_t siglen,
                       const unsigned char *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok;

	ok = ctx && EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL) == 1 &&
	     EVP_DigestVerify(ctx, sig, siglen, data ? data : (const unsigned char *)"", len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* Verify an SSH signature by k over data. */
int sshkey_verify(const struct sshkey *k, const unsigned char *sig, size_t siglen,
                  const unsigned char *data, size_t len, char *err, size_t errsz)
{
	const unsigned char *ap, *bp;
	size_t al, bl;
	struct sshwire r;
	unsigned char *der = NULL, *padded = NULL;
	int derlen = 0;
	bool ok = false;

	if (!k || !sig || siglen > SSHKEY_SIG_MAX) {
		sshkey_seterr(err, errsz, "signature missing or too long");
		return -1;
	}
	sshwire_init(&r, sig, siglen);
	if (sshwire_string(&r, &ap, &al) < 0 || sshwire_string(&r, &bp, &bl) < 0 ||
	    !sshwire_done(&r)) {
		sshkey_seterr(err, errsz, "malformed signature");
		return -1;
	}
	switch (k->type->kind) {
	case SSHKEY_ED25519:
	case SSHKEY_ECDSA:
		if (al != strlen(k->type->name) || memcmp(ap, k->type->name, al) != 0) {
			sshkey_seterr(err, errsz, "signature algorithm does not fit a %s key",
			              k->type->name);
			return -1;
		}
		if (k->type->kind == SSHKEY_ED25519) {
			if (bl != ED25519_SIG_LEN)
				break;
			ok = evp_verify(k->pkey, NULL, bp, bl, data, len);
		} else {
			if (ecdsa_sig_der(k->type, bp, bl, &der, &derlen) < 0)
				break;
			ok = evp_verify(k->pkey, k->type->md, der, (size_t)derlen, data, len);
		}
		break;
	default: { /* SSHKEY_RSA */
		const char *md;
		size_t modlen = (size_t)(k->bits + 7) / 8;

		if (al == 12 && memcmp(ap, "rsa-sha2-256", 12) == 0)
			md = "SHA256";
		else if (al == 12 && memcmp(ap, "rsa-sha2-512", 12) == 0)
			md = "SHA512";
		else if (al == 7 && memcmp(ap, "ssh-rsa", 7) == 0) {
			sshkey_seterr(err, errsz, "ssh-rsa (SHA-1) signatures are refused");
			return -1;
		} else {
			sshkey_seterr(err, errsz, "signature algorithm does not fit an RSA key");
			return -1;
		}
		if (bl == 0 || bl > modlen)
			break;
		padded = calloc(1, modlen);
		if (!padded)
			break;
		memcpy(padded + (modlen - bl), bp, bl);
		ok = evp_verify(k->pkey, md, padded, modlen, data, len);
		break;
	}
	}
	OPENSSL_free(der);
	free(padded);
	if (!ok) {
		sshkey_seterr(err, errsz, "the signature does not verify");
		return -1;
	}
	return 0;
}

/* Sign with EVP_DigestSign into a fresh OPENSSL_malloc'd buffer. */
static unsigned char *evp_sign(EVP_PKEY *pkey, const char *md, const unsigned char *data,
                               size_t len, size_t *outlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *out = NULL;
	size_t n = 0;

	if (!data)
		data = (const unsigned char *)"";
	if (!ctx || EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &n, data, len) != 1 || !(out = OPENSSL_malloc(n)) ||
	    EVP_DigestSign(ctx, out, &n, data, len) != 1) {
		OPENSSL_free(out);
		out = NULL;
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	*outlen = n;
	return out;
}

/* An ECDSA DER signature as the SSH blob (mpint r, mpint s), appended to b. */
static int ecdsa_der_ssh(const unsigned char *der, size_t derlen, struct buf *b)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	const BIGNUM *r, *s;
	unsigned char rb[66], sb[66];
	int rl, sl, rc = -1;

	if (!sig)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_num_bytes(r) <= (int)sizeof rb && BN_num_bytes(s) <= (int)sizeof sb) {
		rl = BN_bn2bin(r, rb);
		sl = BN_bn2bin(s, sb);
		if (sshwire_put_mpint(b, rb, (size_t)rl) == 0 && sshwire_put_mpint(b, sb, (size_t)sl) == 0)
			rc = 0;
	}
	ECDSA_SIG_free(sig);
	return rc;
}

/* Sign data with a private key; the SSH signature is appended to sig. */
int sshkey_sign(const struct sshkey *k, const unsigned char *data, size_t len, struct buf *sig)
{
	const char *alg = k ? k->type->name : NULL, *md = NULL;
	unsigned char *raw;
	size_t rawlen, was = sig->len;
	struct buf inner;
	int rc = -1;

	if (!k || !k->priv)
		return -1;
	if (k->type->kind == SSHKEY_ECDSA)
		md = k->type->md;
	else if (k->type->kind == SSHKEY_RSA) {
		md = "SHA512";
		alg = "rsa-sha2-512";
	}
	raw = evp_sign(k->pkey, md, data, len, &rawlen);
	if (!raw)
		return -1;
	buf_init(&inner, SSHKEY_SIG_MAX);
	if (k->type->kind == SSHKEY_ECDSA) {
		if (ecdsa_der_ssh(raw, rawlen, &inner) < 0)
			goto done;
	} else if (buf_append(&inner, raw, rawlen) < 0) {
		goto done;
	}
	if (sshwire_put_cstring(sig, alg) < 0 || sshwire_put_string(sig, inner.data, inner.len) < 0) {
		sig->len = was;
		if (sig->data)
			sig->data[was] = '\0';
		goto done;
	}
	rc = 0;
done:
	buf_free(&inner);
	OPENSSL_free(raw);
	return rc;
}
