/* SPDX-License-Identifier: MIT */
/* test_log.c - unit tests for lib/log.c: escaping untrusted bytes, and the
 * shape and filtering of log lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/log.h"

static void
test_sanitize_plain(void **state)
{
	char out[64];

	(void)state;
	log_sanitize(out, sizeof(out), "GET /v1/models", 14);
	assert_string_equal(out, "GET /v1/models");
	log_sanitize(out, sizeof(out), "abc", 0);
	assert_string_equal(out, "");
	/* Only n bytes are read. */
	log_sanitize(out, sizeof(out), "abcdef", 3);
	assert_string_equal(out, "abc");
}

static void
test_sanitize_escapes(void **state)
{
	char out[64];

	(void)state;
	log_sanitize(out, sizeof(out), "a\nb\r\x1b[31m\\\x7f\0z", 13);
	assert_string_equal(out, "a\\x0ab\\x0d\\x1b[31m\\x5c\\x7f\\x00z");
	log_sanitize(out, sizeof(out), "caf\xc3\xa9", 5);
	assert_string_equal(out, "caf\\xc3\\xa9");
}

static void
test_sanitize_truncation(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'Z', sizeof(out));
	log_sanitize(out, sizeof(out), "0123456789", 10);
	assert_string_equal(out, "0123456");
	/* An escape is never cut in half. */
	log_sanitize(out, sizeof(out), "abcd\n", 5);
	assert_string_equal(out, "abcd");
	log_sanitize(out, sizeof(out), "abc\n", 4);
	assert_string_equal(out, "abc\\x0a");
	log_sanitize(out, 1, "abc", 3);
	assert_string_equal(out, "");
	out[0] = 'Q';
	log_sanitize(out, 0, "abc", 3); /* writes nothing at all */
	assert_int_equal(out[0], 'Q');
}

/* Run fn with stderr going to a file; return what it wrote in out. */
static void
capture(void (*fn)(void), char *out, size_t outsz)
{
	char path[] = "/tmp/relay-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	fn();
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, out, outsz - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
	unlink(path);
}

static void
emit_levels(void)
{
	log_init("unit", LOG_LVL_WARN);
	log_info("hidden %d", 1);
	log_debug("hidden %d", 2);
	log_warn("shown %d", 3);
	log_err("shown %s", "4");
}

static void
test_levels_and_shape(void **state)
{
	char out[4096], want[64];

	(void)state;
	unsetenv("RELAY_LOG_LEVEL");
	capture(emit_levels, out, sizeof(out));
	assert_null(strstr(out, "hidden"));
	snprintf(
	    want, sizeof(want), " warn unit[%ld] shown 3\n", (long)getpid());
	assert_non_null(strstr(out, want));
	snprintf(
	    want, sizeof(want), " error unit[%ld] shown 4\n", (long)getpid());
	assert_non_null(strstr(out, want));
	/* "2026-01-02T03:04:05.678Z " */
	assert_true(strlen(out) > 25);
	assert_int_equal(out[4], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[23], 'Z');
}

static void
emit_personal(void)
{
	log_init("unit", LOG_LVL_WARN);
	log_warn("id=0123456789abcdef0123456789abcdef: attempt failed");
	log_warn("upstream said: user zhang.san@example.com, phone "
		 "13812345678, card 4111111111111111, key "
		 "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789, 你好");
}

/* What a line quotes is masked before it is written. */
static void
test_personal_data_masked(void **state)
{
	char out[4096];

	(void)state;
	capture(emit_personal, out, sizeof(out));
	assert_null(strstr(out, "zhang.san@example.com"));
	assert_null(strstr(out, "13812345678"));
	assert_null(strstr(out, "4111111111111111"));
	assert_null(strstr(out, "abcdefghijklmnopqrstuvwxyz0123456789"));
	assert_non_null(strstr(out, "138****5678"));
	assert_non_null(strstr(out, "@example.com"));
	assert_non_null(strstr(out, "你好\n"));
	/* Request ids stay, so lines can be tied to requests. */
	assert_non_null(
	    strstr(out, "id=0123456789abcdef0123456789abcdef: attempt"));
	assert_non_null(strstr(out, " warn unit["));
}

static void
emit_env_level(void)
{
	setenv("RELAY_LOG_LEVEL", "DEBUG", 1);
	log_init("unit", LOG_LVL_ERROR);
	log_debug("dbg");
	unsetenv("RELAY_LOG_LEVEL");
}

static void
test_env_level(void **state)
{
	char out[4096];

	(void)state;
	capture(emit_env_level, out, sizeof(out));
	assert_non_null(strstr(out, " debug unit["));
}

static void
emit_long(void)
{
	static char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	log_init("unit", LOG_LVL_INFO);
	log_info("%s", big);
}

static void
test_long_line_bounded(void **state)
{
	char out[8192];
	size_t n;

	(void)state;
	capture(emit_long, out, sizeof(out));
	n = strlen(out);
	assert_true(n <= 2048);
	assert_int_equal(out[n - 1], '\n');
	assert_null(memchr(out, '\n', n - 1)); /* still one line */
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_sanitize_plain),
	    cmocka_unit_test(test_sanitize_escapes),
	    cmocka_unit_test(test_sanitize_truncation),
	    cmocka_unit_test(test_levels_and_shape),
	    cmocka_unit_test(test_env_level),
	    cmocka_unit_test(test_personal_data_masked),
	    cmocka_unit_test(test_long_line_bounded),
	};

	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* log.c allocates nothing */
	return cmocka_run_group_tests_name("log", cases, NULL, NULL);
}
