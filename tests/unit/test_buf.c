/* SPDX-License-Identifier: MIT */
/* test_buf.c - unit tests for lib/buf.c: ceilings, growth, JSON escaping,
 * spans; the oom-safe group also runs under RELAY_FAIL_ALLOC. */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/buf.c"

#include "oom_test.h"

/* Under torture RELAY_ENOMEM ends the case through its cleanup at out:. */
#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_append_to_exact_max(void **state)
{
	struct buf b;
	char big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_init(&b, 100);
	TRY(buf_append(&b, big, 60), RELAY_OK);
	TRY(buf_append(&b, big, 40), RELAY_OK);
	assert_int_equal(b.len, 100);
	assert_true(b.cap <= b.max + 1);
	assert_int_equal(b.data[100], '\0');
	/* One byte more is refused and the buffer is untouched. */
	assert_int_equal(buf_append(&b, "y", 1), RELAY_ETOOBIG);
	assert_int_equal(b.len, 100);
	assert_memory_equal(b.data, big, 100);
	assert_int_equal(b.data[100], '\0');
	/* Nothing at all still fits. */
	TRY(buf_append(&b, "", 0), RELAY_OK);
out:
	buf_reset(&b);
}

static void
test_too_big_first_append(void **state)
{
	struct buf b;
	char big[33];

	(void)state;
	memset(big, 'a', sizeof(big));
	buf_init(&b, 32);
	assert_int_equal(buf_append(&b, big, 33), RELAY_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_null(b.data); /* refused before anything was allocated */
	TRY(buf_append(&b, big, 32), RELAY_OK);
	assert_int_equal(b.len, 32);
out:
	buf_reset(&b);
}

static void
test_huge_length_no_overflow(void **state)
{
	/* volatile: keep the compiler from inlining a huge memcpy bound. */
	volatile size_t huge = SIZE_MAX;
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	TRY(buf_puts(&b, "abc"), RELAY_OK);
	/* len + n would wrap around: must still be refused. */
	assert_int_equal(buf_append(&b, "x", huge), RELAY_ETOOBIG);
	assert_int_equal(buf_append(&b, "x", huge - 2), RELAY_ETOOBIG);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
out:
	buf_reset(&b);
}

static void
test_growth_keeps_content(void **state)
{
	struct buf b;
	char chunk[37];
	size_t i;

	(void)state;
	buf_init(&b, 1u << 20);
	for (i = 0; i < 1000; i++) {
		memset(chunk, 'a' + (int)(i % 26), sizeof(chunk));
		TRY(buf_append(&b, chunk, sizeof(chunk)), RELAY_OK);
	}
	assert_int_equal(b.len, 37000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(b.data[i * 37 + 36], 'a' + (int)(i % 26));
	assert_int_equal(b.data[b.len], '\0');
out:
	buf_reset(&b);
}

static void
test_enomem_leaves_buffer(void **state)
{
	struct buf b;
	enum relay_err e;
	char big[1000];

	(void)state;
	memset(big, 'q', sizeof(big));
	buf_init(&b, 4096);
	TRY(buf_puts(&b, "hello"), RELAY_OK);
	/* Forces a realloc; under torture it may fail, and then the old
	 * content must still be there. */
	e = buf_append(&b, big, sizeof(big));
	if (e == RELAY_ENOMEM) {
		assert_int_not_equal(oom_n, 0);
		assert_int_equal(b.len, 5);
		assert_string_equal(b.data, "hello");
	} else {
		assert_int_equal(e, RELAY_OK);
		assert_int_equal(b.len, 1005);
		assert_memory_equal(b.data, "hello", 5);
	}
	TRY(buf_puts(&b, "!"), RELAY_OK);
out:
	buf_reset(&b);
}

static void
test_printf(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	TRY(buf_printf(&b, "%d-%s", 42, "ab"), RELAY_OK);
	assert_string_equal(b.data, "42-ab");
	TRY(buf_printf(&b, "%.*s", 11, "0123456789abcdef"), RELAY_OK);
	assert_int_equal(b.len, 16);
	assert_string_equal(b.data, "42-ab0123456789a");
	assert_int_equal(buf_printf(&b, "%c", 'z'), RELAY_ETOOBIG);
	assert_int_equal(b.len, 16);
	assert_string_equal(b.data, "42-ab0123456789a");
	TRY(buf_printf(&b, "%s", ""), RELAY_OK);
out:
	buf_reset(&b);
}

/* buf_printf() formats %s %c %d %u %ld %lu %lld %llu %zu %% itself: the
 * same text as snprintf(), at the edges of every type; anything else
 * (flags, width, precision) still goes to vsnprintf. */
static void
test_printf_plain_matches_snprintf(void **state)
{
	static const long long ll[] = {0, 1, -1, 9, 10, -10, 123456789,
	    LLONG_MAX, LLONG_MIN, INT_MAX, INT_MIN};
	char want[512];
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 4096);
	for (i = 0; i < sizeof(ll) / sizeof(ll[0]); i++) {
		int d = (int)ll[i];
		long l = (long)ll[i];
		unsigned u = (unsigned)ll[i];
		unsigned long long ull = (unsigned long long)ll[i];

		buf_clear(&b);
		TRY(buf_printf(&b, "a%db%ldc%lldd%ue%luf%llug%zuh%%i%cj%sk", d,
			l, ll[i], u, (unsigned long)ull, ull, (size_t)ull, 'x',
			"str"),
		    RELAY_OK);
		snprintf(want, sizeof(want),
		    "a%db%ldc%lldd%ue%luf%llug%zuh%%i%cj%sk", d, l, ll[i], u,
		    (unsigned long)ull, ull, (size_t)ull, 'x', "str");
		assert_string_equal(b.data, want);
		assert_int_equal(b.len, strlen(want));
	}
	buf_clear(&b);
	TRY(buf_printf(&b, "%s|%s", "", "x"), RELAY_OK);
	assert_string_equal(b.data, "|x");
	buf_clear(&b);
	TRY(buf_printf(&b, "no conversion"), RELAY_OK);
	assert_string_equal(b.data, "no conversion");
	buf_clear(&b);
	TRY(buf_printf(&b, "%05d|%-3s|%.2s|%x|%i", 42, "a", "xyz", 255, 7),
	    RELAY_OK);
	assert_string_equal(b.data, "00042|a  |xy|ff|7");
	/* The ceiling still holds, and a refused text leaves nothing. */
	buf_reset(&b);
	buf_init(&b, 8);
	TRY(buf_printf(&b, "%d", 1234), RELAY_OK);
	assert_int_equal(buf_printf(&b, "%s%llu", "ab", 123ULL), RELAY_ETOOBIG);
	assert_string_equal(b.data, "1234");
	assert_int_equal(b.len, 4);
out:
	buf_reset(&b);
}

static void
test_json_escape(void **state)
{
	static const char in[] =
	    "a\"b\\c\n\r\t\x01\x1f\x7f/\xc3\xa9\xe2\x82\xac";
	static const char want[] = "a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\x7f/"
				   "\xc3\xa9\xe2\x82\xac";
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	TRY(buf_json_escape(&b, in, sizeof(in) - 1), RELAY_OK);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, sizeof(want) - 1);
	buf_clear(&b);
	/* An embedded NUL is data, escaped, not an end of string. */
	TRY(buf_json_escape(&b, "x\0y", 3), RELAY_OK);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "x\\u0000y", 8);
	buf_clear(&b);
	TRY(buf_json_escape(&b, "", 0), RELAY_OK);
	assert_int_equal(b.len, 0);
	TRY(buf_json_escape(&b, "\b\f", 2), RELAY_OK);
	assert_string_equal(b.data, "\\u0008\\u000c");
out:
	buf_reset(&b);
}

static void
test_json_escape_ceiling(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 5);
	/* "ab\n" needs 4 bytes: fits; then a quote needs 2 more: refused. */
	TRY(buf_json_escape(&b, "ab\n", 3), RELAY_OK);
	assert_string_equal(b.data, "ab\\n");
	assert_int_equal(buf_json_escape(&b, "\"", 1), RELAY_ETOOBIG);
	assert_int_equal(b.len, 4);
	assert_int_equal(buf_json_escape(&b, "\x01", 1), RELAY_ETOOBIG);
	assert_true(b.len <= b.max);
out:
	buf_reset(&b);
}

static void
test_consume_and_steal(void **state)
{
	struct buf b;
	char *p = NULL;

	(void)state;
	buf_init(&b, 64);
	TRY(buf_puts(&b, "0123456789"), RELAY_OK);
	buf_consume(&b, 4);
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "456789");
	buf_consume(&b, 0);
	assert_string_equal(b.data, "456789");
	buf_consume(&b, 6);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	TRY(buf_puts(&b, "keep"), RELAY_OK);
	p = buf_steal(&b);
	assert_non_null(p);
	assert_string_equal(p, "keep");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 64); /* the ceiling survives */
	assert_null(buf_steal(&b));
out:
	mem_free(p);
	buf_reset(&b);
}

/* --- plain cases -------------------------------------------------------- */

static void
test_init_allocates_nothing(void **state)
{
	struct buf b;

	(void)state;
	mem_fail_after(0);
	buf_init(&b, 10);
	assert_int_equal(mem_count(), 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 10);
	buf_clear(&b); /* on a buffer that never held data */
	buf_reset(&b);
	buf_reset(&b); /* twice is fine */
	assert_int_equal(b.max, 10);
}

/* Regression: buf_consume(b, 0) on a buffer that never held data passed
 * NULL to memmove (UBSan: "null pointer passed as argument 1"). */
static void
test_consume_zero_on_empty_buffer(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	buf_consume(&b, 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_zero_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, "", 0), RELAY_OK);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_append(&b, "a", 1), RELAY_ETOOBIG);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
}

static void
test_clear_keeps_memory(void **state)
{
	struct buf b;
	char *before;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_puts(&b, "abcdef"), RELAY_OK);
	before = b.data;
	buf_clear(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, before);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_puts(&b, "z"), RELAY_OK);
	assert_string_equal(b.data, "z");
	buf_reset(&b);
	assert_null(b.data);
}

static void
test_spans(void **state)
{
	struct span s = SPAN_LIT("Content-Type");
	struct span e = span_str(NULL);
	const char raw[] = {'a', 'b', 'c', 'd'};
	struct span r = {raw, 3};

	(void)state;
	assert_int_equal(s.len, 12);
	assert_true(span_eq(s, "Content-Type"));
	assert_false(span_eq(s, "content-type"));
	assert_true(span_caseeq(s, "content-TYPE"));
	assert_false(span_caseeq(s, "content-typ"));
	assert_false(span_caseeq(s, "content-types"));
	assert_null(e.p);
	assert_int_equal(e.len, 0);
	assert_true(span_eq(e, ""));
	assert_true(span_caseeq(e, ""));
	assert_false(span_eq(e, "a"));
	/* Not NUL-terminated: only len bytes count. */
	assert_true(span_eq(r, "abc"));
	assert_false(span_eq(r, "abcd"));
	assert_int_equal(span_str("xyz").len, 3);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_append_to_exact_max),
	    OOM_CASE(test_too_big_first_append),
	    OOM_CASE(test_huge_length_no_overflow),
	    OOM_CASE(test_growth_keeps_content),
	    OOM_CASE(test_enomem_leaves_buffer),
	    OOM_CASE(test_printf),
	    OOM_CASE(test_printf_plain_matches_snprintf),
	    OOM_CASE(test_json_escape),
	    OOM_CASE(test_json_escape_ceiling),
	    OOM_CASE(test_consume_and_steal),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_init_allocates_nothing),
	    cmocka_unit_test(test_consume_zero_on_empty_buffer),
	    cmocka_unit_test(test_zero_max),
	    cmocka_unit_test(test_clear_keeps_memory),
	    cmocka_unit_test(test_spans),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "buf (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed += cmocka_run_group_tests_name("buf", cases, NULL, NULL);
	return oom_exit(failed);
}
