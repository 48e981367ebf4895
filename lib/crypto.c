/* SPDX-License-Identifier: MIT */
/* crypto.c - OpenSSL EVP behind relay_err (NIST SP 800-38D for GCM: a 96-bit
 * random nonce per message, 128-bit tag). */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "crypto.h"

enum relay_err
crypto_random(void *p, size_t n)
{
	if (n > 0x7fffffff)
		return RELAY_EINVAL;
	return RAND_bytes(p, (int)n) == 1 ? RELAY_OK : RELAY_EIO;
}

/* Bytes for ids: one getrandom(2) per 512 bytes (32 request ids). */
static __thread unsigned char id_pool[512];
static __thread size_t id_left;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

/* In a forked child (whose one thread is a copy of the forking one), the
 * parent's unused bytes must not become the child's ids too. */
static void
id_forget(void)
{
	id_left = 0;
}

static void
id_init(void)
{
	pthread_atfork(NULL, NULL, id_forget);
}

enum relay_err
crypto_id_bytes(void *p, size_t n)
{
	unsigned char *out = p;
	size_t k;

	pthread_once(&id_once, id_init);
	while (n > 0) {
		if (id_left == 0) {
			if (getrandom(id_pool, sizeof(id_pool), 0) !=
			    (ssize_t)sizeof(id_pool))
				return RELAY_EIO;
			id_left = sizeof(id_pool);
		}
		k = n < id_left ? n : id_left;
		memcpy(out, id_pool + sizeof(id_pool) - id_left, k);
		id_left -= k;
		out += k;
		n -= k;
	}
	return RELAY_OK;
}

void
crypto_sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	EVP_Digest(p, n, out, &len, crypto_sha256_md(), NULL);
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

/* EVP_sha256() makes every EVP_DigestInit look the algorithm up in the
 * provider's tables again (and the first time on each thread, build
 * them): fetched once, explicitly, it costs nothing per call. Kept for
 * the process's life. */
const EVP_MD *
crypto_sha256_md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md != NULL ? sha256_md : EVP_sha256();
}

void
crypto_hex(const unsigned char *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum relay_err
crypto_unhex(const char *s, unsigned char *out, size_t n)
{
	size_t i;

	if (strlen(s) != 2 * n)
		return RELAY_EINVAL;
	for (i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return RELAY_EINVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return RELAY_OK;
}

enum relay_err
crypto_b64(struct buf *b, const unsigned char *p, size_t n)
{
	size_t need = 4 * ((n + 2) / 3), before = b->len;
	enum relay_err err;
	char *tail;

	if (n > 0x3fffffff)
		return RELAY_ETOOBIG;
	/* EVP_EncodeBlock writes a NUL after the text: one byte more. */
	err = buf_extend(b, need + 1, &tail);
	if (err != RELAY_OK)
		return err;
	EVP_EncodeBlock((unsigned char *)tail, p, (int)n);
	buf_truncate(b, before + need);
	return RELAY_OK;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Only the alphabet, '=' only as one or two final characters, and the
 * unused bits before the padding zero: one text per byte string. */
static int
canonical_b64(const char *s, size_t n)
{
	size_t pad = 0, i;
	int last;

	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (b64val(s[i]) < 0)
			return 0;
	if (pad == 0)
		return 1;
	last = b64val(s[n - pad - 1]);
	return pad == 1 ? (last & 3) == 0 : (last & 15) == 0;
}

enum relay_err
crypto_unb64(struct buf *b, const char *s)
{
	size_t n = strlen(s), before = b->len, pad = 0;
	enum relay_err err;
	char *tail;
	int out;

	if (n == 0)
		return buf_append(b, "", 0); /* RFC 4648 10: "" is "" */
	if (n % 4 != 0 || n > 0x3fffffff || !canonical_b64(s, n))
		return RELAY_EINVAL;
	err = buf_extend(b, n / 4 * 3 + 1, &tail);
	if (err != RELAY_OK)
		return err;
	out = EVP_DecodeBlock(
	    (unsigned char *)tail, (const unsigned char *)s, (int)n);
	if (out < 0) {
		buf_truncate(b, before);
		return RELAY_EINVAL;
	}
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	buf_truncate(b, before + (size_t)out - pad);
	return RELAY_OK;
}

static enum relay_err seal_nonce(const unsigned char key[32],
    const unsigned char nonce[CRYPTO_NONCE_LEN], const char *aad, const void *p,
    size_t n, struct buf *out);

enum relay_err
crypto_seal(const unsigned char key[32], const char *aad, const void *p,
    size_t n, struct buf *out)
{
	unsigned char nonce[CRYPTO_NONCE_LEN];
	enum relay_err err;

	if (n > 1 << 20)
		return RELAY_ETOOBIG;
	err = crypto_random(nonce, sizeof(nonce));
	if (err != RELAY_OK)
		return err;
	return seal_nonce(key, nonce, aad, p, n, out);
}

/* The nonce of a deterministic box: HMAC-SHA256 under key of aad, a NUL
 * and the plaintext (its first CRYPTO_NONCE_LEN bytes are used). */
static enum relay_err
det_nonce(const unsigned char key[32], const char *aad, const void *p, size_t n,
    unsigned char mac[CRYPTO_SHA256_LEN])
{
	unsigned int len = CRYPTO_SHA256_LEN;
	enum relay_err err;
	struct buf msg;

	buf_init(&msg, (1u << 20) + strlen(aad) + 1);
	err = buf_append(&msg, aad, strlen(aad) + 1);
	if (err == RELAY_OK)
		err = buf_append(&msg, p, n);
	if (err == RELAY_OK &&
	    HMAC(crypto_sha256_md(), key, 32, (const unsigned char *)msg.data,
		msg.len, mac, &len) == NULL)
		err = RELAY_EIO;
	if (msg.data != NULL)
		OPENSSL_cleanse(msg.data, msg.len);
	buf_reset(&msg);
	return err;
}

enum relay_err
crypto_seal_det(const unsigned char key[32], const char *aad, const void *p,
    size_t n, struct buf *out)
{
	unsigned char mac[CRYPTO_SHA256_LEN];
	enum relay_err err;

	if (n > 1 << 20)
		return RELAY_ETOOBIG;
	err = det_nonce(key, aad, p, n, mac);
	if (err == RELAY_OK)
		err = seal_nonce(key, mac, aad, p, n, out);
	OPENSSL_cleanse(mac, sizeof(mac));
	return err;
}

static enum relay_err
seal_nonce(const unsigned char key[32],
    const unsigned char nonce[CRYPTO_NONCE_LEN], const char *aad, const void *p,
    size_t n, struct buf *out)
{
	unsigned char tag[CRYPTO_TAG_LEN], blk[256];
	EVP_CIPHER_CTX *c = NULL;
	enum relay_err err;
	size_t off = 0;
	int len;

	c = EVP_CIPHER_CTX_new();
	err = RELAY_ENOMEM;
	if (c == NULL ||
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &len, (const unsigned char *)aad,
		(int)strlen(aad)) != 1)
		goto out;
	err = buf_append(out, nonce, CRYPTO_NONCE_LEN);
	while (err == RELAY_OK && off < n) {
		int k = n - off > 128 ? 128 : (int)(n - off);

		if (EVP_EncryptUpdate(
			c, blk, &len, (const unsigned char *)p + off, k) != 1) {
			err = RELAY_EIO;
			break;
		}
		err = buf_append(out, blk, (size_t)len);
		off += (size_t)k;
	}
	if (err == RELAY_OK &&
	    (EVP_EncryptFinal_ex(c, blk, &len) != 1 ||
		EVP_CIPHER_CTX_ctrl(
		    c, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag) != 1))
		err = RELAY_EIO;
	if (err == RELAY_OK)
		err = buf_append(out, tag, sizeof(tag));
out:
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(blk, sizeof(blk));
	return err;
}

enum relay_err
crypto_open(const unsigned char key[32], const char *aad,
    const unsigned char *box, size_t n, struct buf *out)
{
	EVP_CIPHER_CTX *c = NULL;
	unsigned char blk[256];
	enum relay_err err = RELAY_EINVAL;
	size_t off, end, before = out->len;
	int len;

	if (n < CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
		return RELAY_EINVAL;
	end = n - CRYPTO_TAG_LEN;
	c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		return RELAY_ENOMEM;
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, box) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &len, (const unsigned char *)aad,
		(int)strlen(aad)) != 1)
		goto out;
	err = RELAY_OK;
	for (off = CRYPTO_NONCE_LEN; err == RELAY_OK && off < end;) {
		int k = end - off > 128 ? 128 : (int)(end - off);

		if (EVP_DecryptUpdate(c, blk, &len, box + off, k) != 1) {
			err = RELAY_EINVAL;
			break;
		}
		err = buf_append(out, blk, (size_t)len);
		off += (size_t)k;
	}
	if (err == RELAY_OK &&
	    (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
		 (void *)(box + end)) != 1 ||
		EVP_DecryptFinal_ex(c, blk, &len) != 1))
		err = RELAY_EINVAL;
out:
	if (err != RELAY_OK && out->data != NULL) {
		OPENSSL_cleanse(out->data + before, out->len - before);
		buf_truncate(out, before);
	}
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(blk, sizeof(blk));
	return err;
}

enum relay_err
crypto_load_key(const char *env, const char *env_file, unsigned char key[32])
{
	char line[256];
	const char *s = getenv(env), *path = getenv(env_file);
	enum relay_err err;
	struct buf b;
	FILE *f;

	line[0] = '\0';
	if (s != NULL && *s != '\0')
		snprintf(line, sizeof(line), "%s", s);
	else if (path != NULL && *path != '\0') {
		f = fopen(path, "re");
		if (f == NULL)
			return RELAY_EINVAL;
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
	} else
		return RELAY_ENOTFOUND;
	if (strlen(line) == 64) {
		err = crypto_unhex(line, key, 32);
		OPENSSL_cleanse(line, sizeof(line));
		return err;
	}
	buf_init(&b, 64);
	err = crypto_unb64(&b, line);
	if (err == RELAY_OK && b.len != 32)
		err = RELAY_EINVAL;
	if (err == RELAY_OK)
		memcpy(key, b.data, 32);
	if (b.data != NULL)
		OPENSSL_cleanse(b.data, b.cap);
	buf_reset(&b);
	OPENSSL_cleanse(line, sizeof(line));
	return err;
}

void
crypto_key_id(const unsigned char key[32], char out[9])
{
	unsigned char h[32];

	crypto_sha256(key, 32, h);
	crypto_hex(h, 4, out);
}
