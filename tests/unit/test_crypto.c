/* SPDX-License-Identifier: MIT */
/* test_crypto.c - unit tests for lib/crypto.c: SHA-256 and base64 vectors,
 * hex, AES-256-GCM sealing and every way an opened box must be refused,
 * and master keys from the environment or a file; the oom-safe group also
 * runs under RELAY_FAIL_ALLOC. */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/crypto.c"
#include "../../lib/mem.h"

#include "oom_test.h"

/* Under torture RELAY_ENOMEM ends the case through its cleanup at out:. */
#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

static const unsigned char key1[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
    32};
static const unsigned char key2[32] = {32, 31, 30};

/* RFC 4648 §10. */
static const char *const b64_vec[][2] = {
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_b64_rfc4648(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1024);
	TRY(crypto_b64(&b, (const unsigned char *)"", 0), RELAY_OK);
	assert_int_equal(b.len, 0);
	for (i = 0; i < sizeof(b64_vec) / sizeof(b64_vec[0]); i++) {
		buf_clear(&b);
		TRY(crypto_b64(&b, (const unsigned char *)b64_vec[i][0],
			strlen(b64_vec[i][0])),
		    RELAY_OK);
		assert_int_equal(b.len, strlen(b64_vec[i][1]));
		assert_memory_equal(b.data, b64_vec[i][1], b.len);
	}
	/* Appends after what the buffer held. */
	buf_clear(&b);
	TRY(buf_puts(&b, "x:"), RELAY_OK);
	TRY(crypto_b64(&b, (const unsigned char *)"foo", 3), RELAY_OK);
	assert_string_equal(b.data, "x:Zm9v");
out:
	buf_reset(&b);
}

static void
test_unb64_rfc4648(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1024);
	for (i = 0; i < sizeof(b64_vec) / sizeof(b64_vec[0]); i++) {
		buf_clear(&b);
		TRY(crypto_unb64(&b, b64_vec[i][1]), RELAY_OK);
		assert_int_equal(b.len, strlen(b64_vec[i][0]));
		assert_memory_equal(b.data, b64_vec[i][0], b.len);
	}
	/* Binary with every padding length, including NUL bytes. */
	buf_clear(&b);
	TRY(crypto_unb64(&b, "AAECAw=="), RELAY_OK);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "\0\1\2\3", 4);
out:
	buf_reset(&b);
}

static void
test_unb64_bad_input(void **state)
{
	static const char *const bad[] = {
	    "Zg", "Zg=", "Zm9vY", "Zm 9v", "Zm9*", "Zm9v\x80", "Z\"==", NULL};
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1024);
	TRY(buf_puts(&b, "keep"), RELAY_OK);
	for (i = 0; bad[i] != NULL; i++) {
		enum relay_err err = crypto_unb64(&b, bad[i]);

		if (err == RELAY_ENOMEM && oom_n != 0)
			goto out;
		if (err != RELAY_EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		/* A refused text leaves the buffer as it was. */
		assert_int_equal(b.len, 4);
		assert_memory_equal(b.data, "keep", 4);
	}
out:
	buf_reset(&b);
}

static void
test_b64_round_trip_all_lengths(void **state)
{
	unsigned char raw[300];
	struct buf enc, dec;
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 11);
	buf_init(&enc, 1024);
	buf_init(&dec, 1024);
	for (n = 1; n <= sizeof(raw); n += 7) {
		buf_clear(&enc);
		buf_clear(&dec);
		TRY(crypto_b64(&enc, raw, n), RELAY_OK);
		assert_int_equal(enc.len, 4 * ((n + 2) / 3));
		TRY(crypto_unb64(&dec, enc.data), RELAY_OK);
		assert_int_equal(dec.len, n);
		assert_memory_equal(dec.data, raw, n);
	}
out:
	buf_reset(&enc);
	buf_reset(&dec);
}

static void
test_b64_ceiling(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4); /* "Zm9v" + its NUL do not fit */
	assert_int_equal(
	    crypto_b64(&b, (const unsigned char *)"foo", 3), RELAY_ETOOBIG);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
}

static void
test_seal_open_round_trip(void **state)
{
	unsigned char big[1000];
	struct buf box, plain;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)i;
	buf_init(&box, 4096);
	buf_init(&plain, 4096);
	TRY(crypto_seal(key1, "aad", "secret", 6, &box), RELAY_OK);
	assert_int_equal(box.len, CRYPTO_NONCE_LEN + 6 + CRYPTO_TAG_LEN);
	assert_null(memmem(box.data, box.len, "secret", 6));
	TRY(crypto_open(
		key1, "aad", (const unsigned char *)box.data, box.len, &plain),
	    RELAY_OK);
	assert_int_equal(plain.len, 6);
	assert_memory_equal(plain.data, "secret", 6);
	/* Empty plaintext, and one longer than the 128-byte chunks. */
	buf_clear(&box);
	buf_clear(&plain);
	TRY(crypto_seal(key1, "", "", 0, &box), RELAY_OK);
	assert_int_equal(box.len, CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN);
	TRY(crypto_open(
		key1, "", (const unsigned char *)box.data, box.len, &plain),
	    RELAY_OK);
	assert_int_equal(plain.len, 0);
	buf_clear(&box);
	TRY(crypto_seal(key1, "x", big, sizeof(big), &box), RELAY_OK);
	TRY(crypto_open(
		key1, "x", (const unsigned char *)box.data, box.len, &plain),
	    RELAY_OK);
	assert_int_equal(plain.len, sizeof(big));
	assert_memory_equal(plain.data, big, sizeof(big));
out:
	buf_reset(&box);
	buf_reset(&plain);
}

/* Open a tampered copy of box: refused, and out keeps "keep". */
static enum relay_err
open_refused(const unsigned char *key, const char *aad,
    const unsigned char *box, size_t n)
{
	struct buf out;
	enum relay_err err;

	buf_init(&out, 4096);
	err = buf_puts(&out, "keep");
	if (err == RELAY_OK)
		err = crypto_open(key, aad, box, n, &out);
	if (err != RELAY_ENOMEM && err != RELAY_OK) {
		assert_int_equal(out.len, 4);
		assert_memory_equal(out.data, "keep", 4);
	}
	buf_reset(&out);
	return err;
}

static void
test_open_refuses_tampering(void **state)
{
	static const char msg[] = "a provider api key that is long enough";
	unsigned char t[256];
	struct buf box;
	size_t n, at[3], i;

	(void)state;
	buf_init(&box, 4096);
	TRY(crypto_seal(key1, "id:openai", msg, sizeof(msg) - 1, &box),
	    RELAY_OK);
	n = box.len;
	assert_true(n <= sizeof(t));
	memcpy(t, box.data, n);
	TRY(open_refused(key2, "id:openai", t, n), RELAY_EINVAL);
	TRY(open_refused(key1, "id:anthropic", t, n), RELAY_EINVAL);
	TRY(open_refused(key1, "", t, n), RELAY_EINVAL);
	at[0] = 0; /* nonce */
	at[1] = CRYPTO_NONCE_LEN + 3; /* ciphertext */
	at[2] = n - 1; /* tag */
	for (i = 0; i < 3; i++) {
		t[at[i]] ^= 0x01;
		TRY(open_refused(key1, "id:openai", t, n), RELAY_EINVAL);
		t[at[i]] ^= 0x01;
	}
	TRY(open_refused(key1, "id:openai", t, n - 1), RELAY_EINVAL);
	TRY(open_refused(key1, "id:openai", t + 1, n - 1), RELAY_EINVAL);
	TRY(open_refused(
		key1, "id:openai", t, CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN - 1),
	    RELAY_EINVAL);
	TRY(open_refused(key1, "id:openai", t, 0), RELAY_EINVAL);
	/* The untouched box still opens. */
	TRY(open_refused(key1, "id:openai", t, n), RELAY_OK);
out:
	buf_reset(&box);
}

static void
test_seals_differ(void **state)
{
	struct buf a, b;

	(void)state;
	buf_init(&a, 4096);
	buf_init(&b, 4096);
	TRY(crypto_seal(key1, "aad", "same", 4, &a), RELAY_OK);
	TRY(crypto_seal(key1, "aad", "same", 4, &b), RELAY_OK);
	assert_int_equal(a.len, b.len);
	/* A fresh nonce each time, so the whole box differs. */
	assert_memory_not_equal(a.data, b.data, CRYPTO_NONCE_LEN);
	assert_memory_not_equal(a.data + CRYPTO_NONCE_LEN,
	    b.data + CRYPTO_NONCE_LEN, a.len - CRYPTO_NONCE_LEN);
out:
	buf_reset(&a);
	buf_reset(&b);
}

/* A deterministic box: the same content under the same key and aad seals
 * the same; another content, aad or key does not; it opens as any box. */
static void
test_seal_det(void **state)
{
	struct buf a, b, c, back;

	(void)state;
	buf_init(&a, 4096);
	buf_init(&b, 4096);
	buf_init(&c, 4096);
	buf_init(&back, 4096);
	TRY(crypto_seal_det(key1, "aad", "same", 4, &a), RELAY_OK);
	TRY(crypto_seal_det(key1, "aad", "same", 4, &b), RELAY_OK);
	assert_int_equal(a.len, CRYPTO_NONCE_LEN + 4 + CRYPTO_TAG_LEN);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	TRY(crypto_open(
		key1, "aad", (const unsigned char *)a.data, a.len, &back),
	    RELAY_OK);
	assert_int_equal(back.len, 4);
	assert_memory_equal(back.data, "same", 4);
	TRY(crypto_open(
		key1, "other", (const unsigned char *)a.data, a.len, &back),
	    RELAY_EINVAL);
	TRY(crypto_seal_det(key1, "aad", "samf", 4, &c), RELAY_OK);
	assert_memory_not_equal(a.data, c.data, CRYPTO_NONCE_LEN);
	buf_clear(&c);
	TRY(crypto_seal_det(key1, "aae", "same", 4, &c), RELAY_OK);
	assert_memory_not_equal(a.data, c.data, CRYPTO_NONCE_LEN);
	buf_clear(&c);
	TRY(crypto_seal_det(key2, "aad", "same", 4, &c), RELAY_OK);
	assert_memory_not_equal(a.data, c.data, CRYPTO_NONCE_LEN);
out:
	buf_reset(&a);
	buf_reset(&b);
	buf_reset(&c);
	buf_reset(&back);
}

static void
test_load_key_env(void **state)
{
	char hex[65];
	unsigned char k[32];
	struct buf b64;

	(void)state;
	buf_init(&b64, 128);
	unsetenv("TEST_RELAY_KEY_FILE");
	crypto_hex(key1, 32, hex);
	setenv("TEST_RELAY_KEY", hex, 1);
	memset(k, 0, sizeof(k));
	TRY(crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k),
	    RELAY_OK);
	assert_memory_equal(k, key1, 32);
	/* Uppercase hex is the same key. */
	for (size_t i = 0; i < 64; i++)
		if (hex[i] >= 'a')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	setenv("TEST_RELAY_KEY", hex, 1);
	memset(k, 0, sizeof(k));
	TRY(crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k),
	    RELAY_OK);
	assert_memory_equal(k, key1, 32);
	TRY(crypto_b64(&b64, key2, 32), RELAY_OK);
	setenv("TEST_RELAY_KEY", b64.data, 1);
	memset(k, 0, sizeof(k));
	TRY(crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k),
	    RELAY_OK);
	assert_memory_equal(k, key2, 32);
out:
	unsetenv("TEST_RELAY_KEY");
	buf_reset(&b64);
}

static void
test_load_key_malformed(void **state)
{
	static const char *const bad[] = {"00112233", /* short hex */
	    "0011223344556677889900112233445566778899001122334455667788990g",
	    "00112233445566778899001122334455667788990011223344556677889900",
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", /* 31 bytes */
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==", /* 33 */
	    "not a key at all", NULL};
	unsigned char k[32];
	size_t i;

	(void)state;
	unsetenv("TEST_RELAY_KEY_FILE");
	for (i = 0; bad[i] != NULL; i++) {
		enum relay_err err;

		setenv("TEST_RELAY_KEY", bad[i], 1);
		err =
		    crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k);
		if (err == RELAY_ENOMEM && oom_n != 0)
			goto out;
		if (err != RELAY_EINVAL)
			fail_msg("\"%s\" gave %s", bad[i], err_name(err));
	}
out:
	unsetenv("TEST_RELAY_KEY");
}

/* --- other cases ---------------------------------------------------- */

static void
test_sha256_abc(void **state)
{
	unsigned char h[32];
	char hex[65];

	(void)state;
	crypto_sha256("abc", 3, h);
	crypto_hex(h, 32, hex);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	crypto_sha256("", 0, h);
	crypto_hex(h, 32, hex);
	assert_string_equal(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_hex_round_trip_and_bad(void **state)
{
	unsigned char raw[4] = {0x00, 0x7f, 0xa5, 0xff}, back[4];
	char hex[9];

	(void)state;
	crypto_hex(raw, 4, hex);
	assert_string_equal(hex, "007fa5ff");
	assert_int_equal(crypto_unhex(hex, back, 4), RELAY_OK);
	assert_memory_equal(back, raw, 4);
	assert_int_equal(crypto_unhex("007FA5FF", back, 4), RELAY_OK);
	assert_memory_equal(back, raw, 4);
	crypto_hex(raw, 0, hex);
	assert_string_equal(hex, "");
	assert_int_equal(crypto_unhex("", back, 0), RELAY_OK);
	assert_int_equal(crypto_unhex("007fa5f", back, 4), RELAY_EINVAL);
	assert_int_equal(crypto_unhex("007fa5ff0", back, 4), RELAY_EINVAL);
	assert_int_equal(crypto_unhex("007fa5fg", back, 4), RELAY_EINVAL);
	assert_int_equal(crypto_unhex("007f a5f", back, 4), RELAY_EINVAL);
	assert_int_equal(crypto_unhex("0x7fa5ff", back, 4), RELAY_EINVAL);
}

static void
test_load_key_file(void **state)
{
	char path[] = "/tmp/test_crypto.XXXXXX", hex[65], line[80];
	unsigned char k[32];
	int fd;

	(void)state;
	unsetenv("TEST_RELAY_KEY");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	crypto_hex(key2, 32, hex);
	snprintf(line, sizeof(line), "%s\n", hex); /* a trailing newline */
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	setenv("TEST_RELAY_KEY_FILE", path, 1);
	memset(k, 0, sizeof(k));
	assert_int_equal(
	    crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k),
	    RELAY_OK);
	assert_memory_equal(k, key2, 32);
	/* The variable wins over the file. */
	crypto_hex(key1, 32, hex);
	setenv("TEST_RELAY_KEY", hex, 1);
	assert_int_equal(
	    crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k),
	    RELAY_OK);
	assert_memory_equal(k, key1, 32);
	unsetenv("TEST_RELAY_KEY");
	/* A malformed file, and a missing one. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "short\n", 6), 6);
	close(fd);
	assert_int_equal(
	    crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k),
	    RELAY_EINVAL);
	unlink(path);
	assert_int_equal(
	    crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k),
	    RELAY_EINVAL);
	unsetenv("TEST_RELAY_KEY_FILE");
}

static void
test_load_key_absent(void **state)
{
	unsigned char k[32];

	(void)state;
	unsetenv("TEST_RELAY_KEY");
	unsetenv("TEST_RELAY_KEY_FILE");
	assert_int_equal(
	    crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k),
	    RELAY_ENOTFOUND);
	/* Set but empty counts as absent. */
	setenv("TEST_RELAY_KEY", "", 1);
	setenv("TEST_RELAY_KEY_FILE", "", 1);
	assert_int_equal(
	    crypto_load_key("TEST_RELAY_KEY", "TEST_RELAY_KEY_FILE", k),
	    RELAY_ENOTFOUND);
	unsetenv("TEST_RELAY_KEY");
	unsetenv("TEST_RELAY_KEY_FILE");
}

static void
test_key_id_stable(void **state)
{
	unsigned char h[32];
	char a[9], b[9], c[9], hex[65];

	(void)state;
	crypto_key_id(key1, a);
	crypto_key_id(key1, b);
	crypto_key_id(key2, c);
	assert_int_equal(strlen(a), 8);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	crypto_sha256(key1, 32, h);
	crypto_hex(h, 32, hex);
	assert_memory_equal(a, hex, 8);
}

static void
test_seal_too_big(void **state)
{
	static unsigned char big[(1 << 20) + 1];
	struct buf box;

	(void)state;
	buf_init(&box, 4 << 20);
	assert_int_equal(
	    crypto_seal(key1, "", big, sizeof(big), &box), RELAY_ETOOBIG);
	assert_int_equal(box.len, 0);
	buf_reset(&box);
}

/*
 * Regression: crypto_unb64("") must be RELAY_OK with nothing appended,
 * since crypto_b64() encodes zero bytes as "" (RFC 4648 §10, BASE64("")
 * = "").
 */
static void
test_bug_unb64_empty_refused(void **state)
{
	struct buf b;
	enum relay_err err;

	(void)state;
	buf_init(&b, 16);
	err = crypto_unb64(&b, "");
	buf_reset(&b);
	assert_int_equal(err, RELAY_OK);
}

/*
 * Regression: text that is not base64 must be refused, not decoded into
 * bytes that were never encoded. EVP_DecodeBlock() trims surrounding
 * blanks and reads '=' anywhere, and the padding count only looks at the
 * last two characters.
 */
static void
test_bug_unb64_accepts_noncanonical(void **state)
{
	static const char *const bad[] = {"Zg==    ", /* decoded as 66 00 00 */
	    "====", /* decoded as 00 */
	    "Zg==Zg==", /* padding in the middle: 66 00 00 66 */
	    "=Zg=", "  Zm9v  ", NULL};
	struct buf b;
	size_t i;
	int accepted = 0;

	(void)state;
	buf_init(&b, 64);
	for (i = 0; bad[i] != NULL; i++) {
		buf_clear(&b);
		if (crypto_unb64(&b, bad[i]) == RELAY_OK)
			accepted++;
	}
	buf_reset(&b);
	assert_int_equal(accepted, 0);
}

/* Ids: no repeats across pool refills and sizes; a forked child does not
 * hand out the bytes its parent's next id gets. */
static void
test_id_bytes(void **state)
{
	static unsigned char seen[200][16];
	unsigned char big[1500], mine[16], child[16];
	int fds[2], i, j, status;
	pid_t pid;

	(void)state;
	for (i = 0; i < 200; i++) {
		assert_int_equal(crypto_id_bytes(seen[i], 16), RELAY_OK);
		for (j = 0; j < i; j++)
			assert_memory_not_equal(seen[i], seen[j], 16);
	}
	assert_int_equal(crypto_id_bytes(big, sizeof(big)), RELAY_OK);
	assert_memory_not_equal(big, big + 512, 512);
	assert_int_equal(
	    crypto_id_bytes(mine, 1), RELAY_OK); /* pool part-used */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ssize_t w;

		if (crypto_id_bytes(child, sizeof(child)) != RELAY_OK)
			_exit(1);
		w = write(fds[1], child, sizeof(child));
		_exit(w == (ssize_t)sizeof(child) ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], child, sizeof(child)), sizeof(child));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_int_equal(crypto_id_bytes(mine, sizeof(mine)), RELAY_OK);
	assert_memory_not_equal(mine, child, sizeof(mine));
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_b64_rfc4648),
	    OOM_CASE(test_unb64_rfc4648),
	    OOM_CASE(test_unb64_bad_input),
	    OOM_CASE(test_b64_round_trip_all_lengths),
	    OOM_CASE(test_seal_open_round_trip),
	    OOM_CASE(test_open_refuses_tampering),
	    OOM_CASE(test_seals_differ),
	    OOM_CASE(test_seal_det),
	    OOM_CASE(test_load_key_env),
	    OOM_CASE(test_load_key_malformed),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_sha256_abc),
	    cmocka_unit_test(test_hex_round_trip_and_bad),
	    cmocka_unit_test(test_b64_ceiling),
	    cmocka_unit_test(test_load_key_file),
	    cmocka_unit_test(test_load_key_absent),
	    cmocka_unit_test(test_key_id_stable),
	    cmocka_unit_test(test_seal_too_big),
	    cmocka_unit_test(test_id_bytes),
	    cmocka_unit_test(test_bug_unb64_empty_refused),
	    cmocka_unit_test(test_bug_unb64_accepts_noncanonical),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "crypto (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("crypto", cases, NULL, NULL);
	return oom_exit(failed);
}
