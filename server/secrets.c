/*
 * secrets.c - AES-256-GCM sealing of stored credentials (see secrets.h).
 *
 * Sealed text is base64(nonce[12] | tag[16] | ciphertext). A fresh random
 * nonce per seal; GCM's tag makes any change to the text fail to open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "fileio.h"
#include "secrets.h"

#define KEY_LEN   32
#define NONCE_LEN 12
#define TAG_LEN   16

/* Read the key, making it on first use (O_EXCL: two racing daemons agree). */
static int load_key(const char *path, uint8_t key[KEY_LEN], int create)
{
	size_t len = 0;
	char *k = fileio_read(path, KEY_LEN + 1, &len);
	if (k != NULL && len == KEY_LEN) {
		memcpy(key, k, KEY_LEN);
		crypto_wipe(k, len);
		free(k);
		return 0;
	}
	free(k);
	if (!create || crypto_random(key, KEY_LEN) != 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == EEXIST ? load_key(path, key, 0) : -1;
	int rc = fileio_write_all(fd, key, KEY_LEN) == 0 && fsync(fd) == 0 ? 0 : -1;
	close(fd);
	return rc;
}

char *secrets_seal(const char *key_path, const void *plain, size_t len)
{
	uint8_t key[KEY_LEN], buf[NONCE_LEN + TAG_LEN + SECRETS_MAX];
	if (len > SECRETS_MAX || load_key(key_path, key, 1) != 0 ||
	    crypto_random(buf, NONCE_LEN) != 0)
		return NULL;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, ok = c != NULL &&
		EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
		EVP_EncryptUpdate(c, buf + NONCE_LEN + TAG_LEN, &n, plain, (int)len) == 1 &&
		EVP_EncryptFinal_ex(c, buf + NONCE_LEN + TAG_LEN + n, &fin) == 1 &&
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + NONCE_LEN) == 1;
	EVP_CIPHER_CTX_free(c);
	crypto_wipe(key, sizeof key);
	size_t total = NONCE_LEN + TAG_LEN + (size_t)n + (size_t)fin;
	size_t outsz = 4 * (total / 3 + 1) + 1;
	char *out = ok ? malloc(outsz) : NULL;
	if (out != NULL && crypto_b64_encode(buf, total, false, true, out, outsz) == 0) {
		free(out);
		out = NULL;
	}
	crypto_wipe(buf, sizeof buf);
	return out;
}

long secrets_open(const char *key_path, const char *sealed, char *out, size_t outsz)
{
	uint8_t key[KEY_LEN], buf[NONCE_LEN + TAG_LEN + SECRETS_MAX + 4];
	if (outsz <= SECRETS_MAX || strlen(sealed) > 4 * sizeof buf / 3)
		return -1;
	long total = crypto_b64_decode(sealed, buf, sizeof buf);
	if (total < NONCE_LEN + TAG_LEN || total > NONCE_LEN + TAG_LEN + SECRETS_MAX ||
	    load_key(key_path, key, 0) != 0)
		return -1;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, ok = c != NULL &&
		EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
		EVP_DecryptUpdate(c, (uint8_t *)out, &n, buf + NONCE_LEN + TAG_LEN,
		                  (int)(total - NONCE_LEN - TAG_LEN)) == 1 &&
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, buf + NONCE_LEN) == 1 &&
		EVP_DecryptFinal_ex(c, (uint8_t *)out + n, &fin) == 1;
	EVP_CIPHER_CTX_free(c);
	crypto_wipe(key, sizeof key);
	crypto_wipe(buf, sizeof buf);
	if (!ok) {
		crypto_wipe(out, outsz);
		return -1;
	}
	out[n + fin] = '\0';
	return n + fin;
}
