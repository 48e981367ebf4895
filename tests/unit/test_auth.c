/* SPDX-License-Identifier: MIT */
/* test_auth.c - unit tests for lib/auth.c: secret comparison and where the
 * admin token comes from. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/auth.c"

static void
test_equal(void **state)
{
	(void)state;
	assert_true(auth_equal("secret", 6, "secret", 6));
	assert_true(auth_equal("", 0, "", 0));
	assert_true(auth_equal(NULL, 0, NULL, 0));
	assert_false(auth_equal("secret", 6, "Secret", 6)); /* first byte */
	assert_false(auth_equal("secret", 6, "secreT", 6)); /* last byte */
	assert_false(auth_equal("secret", 6, "secre", 5)); /* a prefix */
	assert_false(auth_equal("secre", 5, "secret", 6));
	assert_false(auth_equal("", 0, "x", 1));
	/* Binary-safe: NUL bytes compare like any other. */
	assert_true(auth_equal("a\0b", 3, "a\0b", 3));
	assert_false(auth_equal("a\0b", 3, "a\0c", 3));
	/* Only the given lengths count. */
	assert_true(auth_equal("abcX", 3, "abcY", 3));
}

/* The scheme in any case (RFC 7235), never another scheme or no token. */
static void
test_bearer(void **state)
{
	size_t n;
	const char *t;

	(void)state;
	t = auth_bearer("Bearer tok-1", &n);
	assert_non_null(t);
	assert_int_equal(n, 5);
	assert_memory_equal(t, "tok-1", 5);
	assert_non_null(auth_bearer("bearer tok-1", &n));
	assert_int_equal(n, 5);
	assert_non_null(auth_bearer("BEARER tok-1", &n));
	assert_non_null(auth_bearer("bEaReR  tok-1 ", &n));
	assert_int_equal(n, 5);
	assert_null(auth_bearer("Bearer", &n));
	assert_int_equal(n, 0);
	assert_null(auth_bearer("Bearer ", &n));
	assert_null(auth_bearer("Bearer   \t", &n));
	assert_null(auth_bearer("Bearertok-1", &n));
	assert_null(auth_bearer("Basic dG9rLTE=", &n));
	assert_null(auth_bearer("Bear tok-1", &n));
	assert_null(auth_bearer("", &n));
}

static void
test_query_key(void **state)
{
	struct span q;
	size_t n;
	const char *k;

	(void)state;
	q = (struct span){"alt=sse&key=k-1&x=2", 19};
	k = auth_query_key(q, &n);
	assert_non_null(k);
	assert_int_equal(n, 3);
	assert_memory_equal(k, "k-1", 3);
	q = (struct span){"key=", 4};
	assert_non_null(auth_query_key(q, &n));
	assert_int_equal(n, 0);
	q = (struct span){"key=abc&key=def", 7}; /* the span's length rules */
	assert_non_null(auth_query_key(q, &n));
	assert_int_equal(n, 3);
	q = (struct span){"apikey=1&keys=2&key", 19};
	assert_null(auth_query_key(q, &n));
	q = (struct span){"", 0};
	assert_null(auth_query_key(q, &n));
}

static void
test_admin_token_sources(void **state)
{
	char path[] = "/tmp/relay-test-token-XXXXXX";
	char out[512], big[600];
	FILE *f;
	int fd;

	(void)state;
	unsetenv("RELAY_ADMIN_TOKEN");
	unsetenv("RELAY_ADMIN_TOKEN_FILE");
	assert_int_equal(admin_token(out, sizeof(out)), 0);
	setenv("RELAY_ADMIN_TOKEN", "", 1);
	assert_int_equal(admin_token(out, sizeof(out)), 0);
	setenv("RELAY_ADMIN_TOKEN", "tok-1", 1);
	assert_int_equal(admin_token(out, sizeof(out)), 5);
	assert_string_equal(out, "tok-1");
	/* A token that does not fit is refused, not truncated. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	setenv("RELAY_ADMIN_TOKEN", big, 1);
	assert_int_equal(admin_token(out, sizeof(out)), 0);
	unsetenv("RELAY_ADMIN_TOKEN");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("file-token\r\nsecond line\n", f);
	fclose(f);
	setenv("RELAY_ADMIN_TOKEN_FILE", path, 1);
	assert_int_equal(admin_token(out, sizeof(out)), 10);
	assert_string_equal(out, "file-token");
	/* The environment wins over the file. */
	setenv("RELAY_ADMIN_TOKEN", "env", 1);
	assert_int_equal(admin_token(out, sizeof(out)), 3);
	unsetenv("RELAY_ADMIN_TOKEN");
	unlink(path);
	assert_int_equal(admin_token(out, sizeof(out)), 0); /* file gone */
	unsetenv("RELAY_ADMIN_TOKEN_FILE");
}

/* Issue 18: wrong admin tokens from one address are let through up to
 * RELAY_ADMIN_FAIL_FREE, then the address waits, longer with each further
 * failure (capped); another address is not affected; a right token
 * forgets the count. */
static void
test_admin_failures_slowed(void **state)
{
	int i;
	long w1, w2;

	(void)state;
	for (i = 0; i < RELAY_ADMIN_FAIL_FREE; i++) {
		assert_int_equal(auth_admin_locked("192.0.2.1"), 0);
		auth_admin_failed("192.0.2.1");
	}
	assert_int_equal(auth_admin_locked("192.0.2.1"), 0);
	auth_admin_failed("192.0.2.1");
	w1 = auth_admin_locked("192.0.2.1");
	assert_true(w1 >= 1);
	auth_admin_failed("192.0.2.1");
	w2 = auth_admin_locked("192.0.2.1");
	assert_true(w2 > w1);
	for (i = 0; i < 20; i++)
		auth_admin_failed("192.0.2.1");
	assert_true(auth_admin_locked("192.0.2.1") <= RELAY_ADMIN_LOCK_MAX_S);
	assert_int_equal(auth_admin_locked("192.0.2.2"), 0);
	auth_admin_passed("192.0.2.1");
	assert_int_equal(auth_admin_locked("192.0.2.1"), 0);
	/* More addresses than slots: the table stays bounded. */
	for (i = 0; i < 3 * RELAY_ADMIN_FAIL_SLOTS; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
		auth_admin_failed(ip);
	}
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_bearer),
	    cmocka_unit_test(test_query_key),
	    cmocka_unit_test(test_admin_token_sources),
	    cmocka_unit_test(test_admin_failures_slowed),
	};

	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* nothing here is oom-tortured */
	return cmocka_run_group_tests_name("auth", cases, NULL, NULL);
}
