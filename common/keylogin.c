/*
 * keylogin.c - the signed data of a public-key login (keylogin.h).
 */
#include "keylogin.h"
#include "sshkey.h"
#include "sshwire.h"

/* See keylogin.h. */
int keylogin_data(const char *user, const unsigned char nonce[KEYLOGIN_NONCE_LEN],
                  const unsigned char binding[KEYLOGIN_BINDING_LEN],
                  const unsigned char *blob, size_t bloblen, struct buf *out)
{
	static const char magic[] = "tether-login-v1";
	struct buf msg;
	buf_init(&msg, 4 * 64 + SSHKEY_BLOB_MAX + 512);
	buf_init(out, SSHKEY_BLOB_MAX);
	int rc = sshwire_put_cstring(&msg, magic) == 0 &&
	         sshwire_put_cstring(&msg, user) == 0 &&
	         sshwire_put_string(&msg, nonce, KEYLOGIN_NONCE_LEN) == 0 &&
	         sshwire_put_string(&msg, binding, KEYLOGIN_BINDING_LEN) == 0 &&
	         sshwire_put_string(&msg, blob, bloblen) == 0 &&
	         sshkey_sshsig_data(KEYLOGIN_NAMESPACE, (const unsigned char *)msg.data,
	                            msg.len, out) == 0 ? 0 : -1;
	buf_free(&msg);
	return rc;
}
