/* SPDX-License-Identifier: MIT */
/* crypto.h - the project's only door to OpenSSL: randomness, SHA-256,
 * AES-256-GCM, and the encodings secrets travel in. */
#ifndef RELAY_CRYPTO_H
#define RELAY_CRYPTO_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"

#define CRYPTO_KEY_LEN 32 /* AES-256 */
#define CRYPTO_NONCE_LEN 12 /* GCM's recommended IV size */
#define CRYPTO_TAG_LEN 16
#define CRYPTO_SHA256_LEN 32

struct evp_md_st;

/* SHA-256 for EVP digests (OpenSSL's EVP_MD), fetched once per process. */
const struct evp_md_st *crypto_sha256_md(void);

/* Fill p with n bytes from the kernel CSPRNG. RELAY_EIO on failure. */
enum relay_err crypto_random(void *p, size_t n) RELAY_MUST_CHECK;

/*
 * Fill p with n unpredictable bytes for identifiers (request and object
 * ids), not secrets: taken from a per-thread batch that one getrandom(2)
 * fills for many ids, forgotten in a forked child. RELAY_EIO on failure.
 */
enum relay_err crypto_id_bytes(void *p, size_t n) RELAY_MUST_CHECK;

/* SHA-256 of n bytes at p into out. */
void crypto_sha256(const void *p, size_t n, unsigned char out[32]);

/* Lowercase hex of n bytes into out (size >= 2n+1). */
void crypto_hex(const unsigned char *p, size_t n, char *out);
/* Decode exactly 2n hex characters s into out[n]. RELAY_EINVAL otherwise. */
enum relay_err crypto_unhex(
    const char *s, unsigned char *out, size_t n) RELAY_MUST_CHECK;

/* Append base64 (standard alphabet, padded) of p to b. */
enum relay_err crypto_b64(
    struct buf *b, const unsigned char *p, size_t n) RELAY_MUST_CHECK;
/* Decode base64 s into b. RELAY_EINVAL on bad input. */
enum relay_err crypto_unb64(struct buf *b, const char *s) RELAY_MUST_CHECK;

/*
 * Encrypt n bytes with AES-256-GCM under key, a fresh random nonce and the
 * additional data aad (authenticated, not encrypted). Appends
 * nonce || ciphertext || tag to out.
 */
enum relay_err crypto_seal(const unsigned char key[32], const char *aad,
    const void *p, size_t n, struct buf *out) RELAY_MUST_CHECK;

/*
 * crypto_seal() with the nonce derived from key, aad and the plaintext
 * (HMAC-SHA256, as SIV does): the same plaintext seals to the same box,
 * so an identifier sealed twice reads the same; equal boxes reveal equal
 * plaintexts, nothing more. For identifiers, never for secrets that
 * repeat. Opened by crypto_open().
 */
enum relay_err crypto_seal_det(const unsigned char key[32], const char *aad,
    const void *p, size_t n, struct buf *out) RELAY_MUST_CHECK;

/*
 * Reverse crypto_seal(): appends the plaintext to out. RELAY_EINVAL when
 * the box is malformed, was made under another key or aad, or was
 * tampered with.
 */
enum relay_err crypto_open(const unsigned char key[32], const char *aad,
    const unsigned char *box, size_t n, struct buf *out) RELAY_MUST_CHECK;

/*
 * Read a 32-byte master key from the environment variable env (64 hex
 * characters, or base64 of 32 bytes), or from the file named by env_file.
 * RELAY_ENOTFOUND when neither is set, RELAY_EINVAL when malformed.
 */
enum relay_err crypto_load_key(const char *env, const char *env_file,
    unsigned char key[32]) RELAY_MUST_CHECK;

/* A short public name of a key: the first 8 hex digits of SHA-256 over
 * it, so a store records which master key sealed a value. */
void crypto_key_id(const unsigned char key[32], char out[9]);

#endif
