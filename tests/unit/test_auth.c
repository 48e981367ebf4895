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

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_admin_token_sources),
	};

	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* nothing here is oom-tortured */
	return cmocka_run_group_tests_name("auth", cases, NULL, NULL);
}
