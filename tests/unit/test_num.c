/* SPDX-License-Identifier: MIT */
/* test_num.c - unit tests for lib/num.c: inclusive bounds, overflow at
 * both ends, and the strict decimal syntax (no sign but '-', no spaces). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <math.h>
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

/* --- saturating arithmetic (issue 19: a reservation that wrapped) ----- */

#define P53 9007199254740992ull /* 2^53 */
#define P63 9223372036854775808ull /* 2^63 */
#define TWO64 18446744073709551616.0 /* 2^64, exactly */
#define BELOW64 18446744073709549568.0 /* the largest double below 2^64 */

static void
test_add_mul_sat(void **state)
{
	(void)state;
	assert_true(num_add_sat(0, 0) == 0);
	assert_true(num_add_sat(1, INT_MAX) == (uint64_t)INT_MAX + 1);
	assert_true(num_add_sat(P63 - 1, P63) == UINT64_MAX);
	assert_true(num_add_sat(P63, P63) == UINT64_MAX);
	assert_true(num_add_sat(UINT64_MAX, 1) == UINT64_MAX);
	assert_true(num_add_sat(UINT64_MAX - 1, 1) == UINT64_MAX);
	assert_true(num_add_sat(UINT64_MAX, UINT64_MAX) == UINT64_MAX);
	assert_true(num_mul_sat(0, UINT64_MAX) == 0);
	assert_true(num_mul_sat(UINT64_MAX, 0) == 0);
	assert_true(num_mul_sat(1, UINT64_MAX) == UINT64_MAX);
	assert_true(num_mul_sat(P53, 2) == 2 * P53);
	assert_true(num_mul_sat(4611686018427387903ull, 4) == UINT64_MAX - 3);
	assert_true(num_mul_sat(4611686018427387903ull, 5) == UINT64_MAX);
	assert_true(num_mul_sat(P63, 2) == UINT64_MAX);
	assert_true(num_mul_sat(4294967296ull, 4294967296ull) == UINT64_MAX);
	assert_true(num_mul_sat(4294967295ull, 4294967297ull) == UINT64_MAX);
	assert_true(num_addll_sat(LLONG_MAX, 1) == LLONG_MAX);
	assert_true(num_addll_sat(LLONG_MAX, LLONG_MAX) == LLONG_MAX);
	assert_true(num_addll_sat(LLONG_MIN, -1) == LLONG_MIN);
	assert_true(num_addll_sat(LLONG_MAX, LLONG_MIN) == -1);
	assert_true(num_addll_sat(-5, 3) == -2);
	assert_true(num_addll_sat(INT_MAX, INT_MAX) == 2LL * INT_MAX);
}

static void
test_ceil_u64(void **state)
{
	(void)state;
	assert_true(num_ceil_u64(0.0, UINT64_MAX) == 0);
	assert_true(num_ceil_u64(-0.0, UINT64_MAX) == 0);
	assert_true(num_ceil_u64(-1.0, UINT64_MAX) == 0);
	assert_true(num_ceil_u64(-1e308, UINT64_MAX) == 0);
	assert_true(num_ceil_u64(-INFINITY, UINT64_MAX) == 0);
	assert_true(num_ceil_u64(1e-300, UINT64_MAX) == 1);
	assert_true(num_ceil_u64(0.5, UINT64_MAX) == 1);
	assert_true(num_ceil_u64(1.0, UINT64_MAX) == 1);
	assert_true(num_ceil_u64(1.5, UINT64_MAX) == 2);
	assert_true(num_ceil_u64(INT_MAX, UINT64_MAX) == INT_MAX);
	assert_true(num_ceil_u64((double)P53, UINT64_MAX) == P53);
	assert_true(num_ceil_u64((double)P63, UINT64_MAX) == P63);
	assert_true(
	    num_ceil_u64(BELOW64, UINT64_MAX) == 18446744073709549568ull);
	/* 2^64 and beyond: undefined as a plain conversion (0 on x86-64,
	 * which is how max_tokens 4611686018427387903 cost nothing). */
	assert_true(num_ceil_u64(TWO64, UINT64_MAX) == UINT64_MAX);
	assert_true(
	    num_ceil_u64(4611686018427387903.0 * 40, UINT64_MAX) == UINT64_MAX);
	assert_true(num_ceil_u64(1e308, UINT64_MAX) == UINT64_MAX);
	assert_true(num_ceil_u64(INFINITY, UINT64_MAX) == UINT64_MAX);
	assert_true(num_ceil_u64(NAN, UINT64_MAX) == UINT64_MAX);
	assert_true(num_ceil_u64(-NAN, UINT64_MAX) == UINT64_MAX);
	/* A smaller ceiling, not representable or exactly so. */
	assert_true(num_ceil_u64(1e18, 1000) == 1000);
	assert_true(num_ceil_u64(999.5, 1000) == 1000);
	assert_true(num_ceil_u64(1000.5, 1000) == 1000);
	assert_true(num_ceil_u64(NAN, 7) == 7);
	assert_true(num_ceil_u64((double)P63, P63 - 1) == P63 - 1);
	assert_true(num_ceil_u64(9223372036854774784.0, P63 - 1) ==
	    9223372036854774784ull);
	assert_true(num_ceil_u64(1.0, 0) == 0);
}

static void
test_floor_u64(void **state)
{
	(void)state;
	assert_true(num_floor_u64(0.0, UINT64_MAX) == 0);
	assert_true(num_floor_u64(-0.0, UINT64_MAX) == 0);
	assert_true(num_floor_u64(-1.0, UINT64_MAX) == 0);
	assert_true(num_floor_u64(NAN, UINT64_MAX) == 0);
	assert_true(num_floor_u64(-INFINITY, UINT64_MAX) == 0);
	assert_true(num_floor_u64(0.999, UINT64_MAX) == 0);
	assert_true(num_floor_u64(1.5, UINT64_MAX) == 1);
	assert_true(num_floor_u64(0.01 * 1e6, UINT64_MAX) == 10000);
	assert_true(num_floor_u64((double)P53, UINT64_MAX) == P53);
	assert_true(
	    num_floor_u64(BELOW64, UINT64_MAX) == 18446744073709549568ull);
	assert_true(num_floor_u64(TWO64, UINT64_MAX) == UINT64_MAX);
	assert_true(num_floor_u64(1e308, UINT64_MAX) == UINT64_MAX);
	assert_true(num_floor_u64(1e300 * 1e6, 1ull << 50) == 1ull << 50);
	assert_true(num_floor_u64(INFINITY, 1ull << 50) == 1ull << 50);
	assert_true(
	    num_floor_u64((double)(1ull << 50) + 1, 1ull << 50) == 1ull << 50);
	assert_true(num_floor_u64((double)P63, P63 - 1) == P63 - 1);
}

/* Monotone: a larger input never converts to less (the invariant the
 * reservation relies on), over doubles around every boundary. */
static void
test_conversions_monotone(void **state)
{
	static const double xs[] = {-INFINITY, -1e308, -1.0, -0.0, 0.0, 1e-300,
	    0.5, 1.0, 1.5, 2147483647.0, 9007199254740992.0, 9007199254740994.0,
	    9223372036854774784.0, 9223372036854775808.0, BELOW64, TWO64, 1e308,
	    INFINITY};
	static const uint64_t maxes[] = {
	    0, 1, 1000, 1ull << 50, P63 - 1, P63, UINT64_MAX};
	size_t i, j;

	(void)state;
	for (j = 0; j < sizeof(maxes) / sizeof(maxes[0]); j++)
		for (i = 1; i < sizeof(xs) / sizeof(xs[0]); i++) {
			assert_true(num_ceil_u64(xs[i - 1], maxes[j]) <=
			    num_ceil_u64(xs[i], maxes[j]));
			assert_true(num_floor_u64(xs[i - 1], maxes[j]) <=
			    num_floor_u64(xs[i], maxes[j]));
			assert_true(num_ceil_u64(xs[i], maxes[j]) <= maxes[j]);
			assert_true(num_floor_u64(xs[i], maxes[j]) <= maxes[j]);
		}
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_bounds_inclusive),
	    cmocka_unit_test(test_extremes),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_leading_zeros_and_negative_zero),
	    cmocka_unit_test(test_add_mul_sat),
	    cmocka_unit_test(test_ceil_u64),
	    cmocka_unit_test(test_floor_u64),
	    cmocka_unit_test(test_conversions_monotone),
	};

	/* num.c never allocates: nothing to torture (exit 77 at once). */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("num", cases, NULL, NULL) != 0;
}
