/*
 * keylogin.c - the signed data of a public-key login (keylogin.h).
 */
#include <string.h>

#include "keylogin.h"
#include "sshkey.h"

/* Append an SSH string (uint32 big-endian length, then the bytes). */
static int put_string(struct buf *b, const void *p, size_t n)
{
	unsigned char len[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                         (unsigned char)(n >> 8), (unsigned char)n };
	return buf_append(b, len, 4) == 0 && buf_append(b, p, n) == 0 ? 0 : -1;
}

/* See keylogin.h. */
int keylogin_data(const char *user, const unsigned char nonce[KEYLOGIN_NONCE_LEN],
                  const unsigned char binding[KEYLOGIN_BINDING_LEN],
                  const unsigned char *blob, size_t bloblen, struct buf *out)
{
	static const char magic[] = "tether-login-v1";
	struct buf msg;
	buf_init(&msg, 4 * 64 + SSHKEY_BLOB_MAX + 512);
	buf_init(out, SSHKEY_BLOB_MAX);
	int rc = put_string(&msg, magic, strlen(magic)) == 0 &&
	         put_string(&msg, user, strlen(user)) == 0 &&
	         put_string(&msg, nonce, KEYLOGIN_NONCE_LEN) == 0 &&
	         put_string(&msg, binding, KEYLOGIN_BINDING_LEN) == 0 &&
	         put_string(&msg, blob, bloblen) == 0 &&
	         sshkey_sshsig_data(KEYLOGIN_NAMESPACE, (const unsigned char *)msg.data,
	                            msg.len, out) == 0 ? 0 : -1;
	buf_free(&msg);
	return rc;
}
