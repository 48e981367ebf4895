/* SPDX-License-Identifier: MIT */
/* test_num.c - unit tests for lib/num.c: inclusive bounds, overflow at
 * both ends, and the strict decimal syntax (no sign but '-', no spaces). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/num.c"

/* Parse s in [min, max]; on failure *out must be left as it was. */
static enum relay_err
parse(const char *s, long long min, long long max, long long *out)
{
	long long v = 424242;
	enum relay_err err = num_parse(s, min, max, &v);

	if (err != RELAY_OK)
		assert_int_equal(v, 424242);
	*out = v;
	return err;
}

static void
test_bounds_inclusive(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(parse("0", 0, 10, &v), RELAY_OK);
	assert_int_equal(v, 0);
	assert_int_equal(parse("10", 0, 10, &v), RELAY_OK);
	assert_int_equal(v, 10);
	assert_int_equal(parse("11", 0, 10, &v), RELAY_EINVAL);
	assert_int_equal(parse("-1", 0, 10, &v), RELAY_EINVAL);
	assert_int_equal(parse("-5", -5, -5, &v), RELAY_OK);
	assert_int_equal(v, -5);
	assert_int_equal(parse("-4", -5, -5, &v), RELAY_EINVAL);
	assert_int_equal(parse("-6", -5, -5, &v), RELAY_EINVAL);
}

static void
test_extremes(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(
	    parse("9223372036854775807", LLONG_MIN, LLONG_MAX, &v), RELAY_OK);
	assert_true(v == LLONG_MAX);
	assert_int_equal(
	    parse("-9223372036854775808", LLONG_MIN, LLONG_MAX, &v), RELAY_OK);
	assert_true(v == LLONG_MIN);
	/* One past each end. */
	assert_int_equal(parse("9223372036854775808", LLONG_MIN, LLONG_MAX, &v),
	    RELAY_EINVAL);
	assert_int_equal(
	    parse("-9223372036854775809", LLONG_MIN, LLONG_MAX, &v),
	    RELAY_EINVAL);
	/* Far past: the accumulator must not wrap back into range. */
	assert_int_equal(
	    parse("18446744073709551616", LLONG_MIN, LLONG_MAX, &v),
	    RELAY_EINVAL);
	assert_int_equal(
	    parse("18446744073709551617", 0, LLONG_MAX, &v), RELAY_EINVAL);
	assert_int_equal(
	    parse("99999999999999999999999999", LLONG_MIN, LLONG_MAX, &v),
	    RELAY_EINVAL);
	/* LLONG_MIN is only in range when min allows it. */
	assert_int_equal(
	    parse("-9223372036854775808", LLONG_MIN + 1, LLONG_MAX, &v),
	    RELAY_EINVAL);
	assert_int_equal(
	    parse("9223372036854775807", 0, LLONG_MAX - 1, &v), RELAY_EINVAL);
}

static void
test_syntax(void **state)
{
	static const char *const bad[] = {"", "-", "+1", " 1", "1 ", "1a",
	    "0x10", "--1", "-+1", "1-", "1.0", "1e3", "\t1", "1\n", "٣", NULL};
	long long v;
	size_t i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		if (parse(bad[i], LLONG_MIN, LLONG_MAX, &v) != RELAY_EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
	assert_int_equal(num_parse(NULL, 0, 1, &v), RELAY_EINVAL);
}

static void
test_leading_zeros_and_negative_zero(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(parse("007", 0, 100, &v), RELAY_OK);
	assert_int_equal(v, 7);
	assert_int_equal(
	    parse("0000000000000000000000000001", 0, 1, &v), RELAY_OK);
	assert_int_equal(v, 1);
	assert_int_equal(parse("-0", 0, 0, &v), RELAY_OK);
	assert_int_equal(v, 0);
	assert_int_equal(
	    parse("-00009223372036854775808", LLONG_MIN, 0, &v), RELAY_OK);
	assert_true(v == LLONG_MIN);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_bounds_inclusive),
	    cmocka_unit_test(test_extremes),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_leading_zeros_and_negative_zero),
	};

	/* num.c never allocates: nothing to torture (exit 77 at once). */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("num", cases, NULL, NULL) != 0;
}
