/* SPDX-License-Identifier: MIT */
/* test_tier.c - unit tests for lib/tier.c: the signed end user (a round
 * trip, and every way a claim must be refused: another secret, a changed
 * key id or time, a stale or future time, a malformed header, no secret)
 * and the traceparent sent upstream (the client's trace kept with a span
 * of ours, a new one when the client's is absent or invalid). tier.c
 * allocates nothing of its own, so it has no allocation-failure group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/tier.h"

#define SECRET "tier-secret-0123456789"
#define NOW ((time_t)1800000000)

static void
test_sign_verify(void **state)
{
	char sig[TIER_SIG_MAX], key[24];

	(void)state;
	assert_int_equal(
	    tier_sign(SECRET, "k_AbC-123", NOW, sig, sizeof(sig)), 0);
	assert_int_equal(strncmp(sig, "k_AbC-123.1800000000.", 21), 0);
	assert_int_equal(strlen(sig), 21 + 64);
	assert_int_equal(tier_verify(SECRET, sig, NOW, key, sizeof(key)), 1);
	assert_string_equal(key, "k_AbC-123");
	/* Within the skew, either way. */
	assert_int_equal(
	    tier_verify(SECRET, sig, NOW + TIER_SIG_SKEW_S, key, sizeof(key)),
	    1);
	assert_int_equal(
	    tier_verify(SECRET, sig, NOW - TIER_SIG_SKEW_S, key, sizeof(key)),
	    1);
}

static void
test_refused(void **state)
{
	char sig[TIER_SIG_MAX], bad[TIER_SIG_MAX + 8], key[24];

	(void)state;
	assert_int_equal(tier_sign(SECRET, "kid1", NOW, sig, sizeof(sig)), 0);
	assert_int_equal(tier_verify("other", sig, NOW, key, sizeof(key)), 0);
	assert_string_equal(key, "");
	assert_int_equal(tier_verify("", sig, NOW, key, sizeof(key)), 0);
	assert_int_equal(tier_verify(NULL, sig, NOW, key, sizeof(key)), 0);
	assert_int_equal(tier_verify(SECRET, NULL, NOW, key, sizeof(key)), 0);
	assert_int_equal(tier_verify(SECRET, sig, NOW + TIER_SIG_SKEW_S + 1,
			     key, sizeof(key)),
	    0);
	assert_int_equal(tier_verify(SECRET, sig, NOW - TIER_SIG_SKEW_S - 1,
			     key, sizeof(key)),
	    0);
	/* Another key id under the same signature. */
	snprintf(bad, sizeof(bad), "kid2%s", sig + 4);
	assert_int_equal(tier_verify(SECRET, bad, NOW, key, sizeof(key)), 0);
	/* Another time under the same signature. */
	snprintf(bad, sizeof(bad), "%s", sig);
	bad[14] = bad[14] == '0' ? '1' : '0';
	assert_int_equal(tier_verify(SECRET, bad, NOW, key, sizeof(key)), 0);
	/* One hex digit changed; one missing; one too many. */
	snprintf(bad, sizeof(bad), "%s", sig);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	assert_int_equal(tier_verify(SECRET, bad, NOW, key, sizeof(key)), 0);
	snprintf(bad, sizeof(bad), "%.*s", (int)strlen(sig) - 1, sig);
	assert_int_equal(tier_verify(SECRET, bad, NOW, key, sizeof(key)), 0);
	snprintf(bad, sizeof(bad), "%s0", sig);
	assert_int_equal(tier_verify(SECRET, bad, NOW, key, sizeof(key)), 0);
	assert_int_equal(tier_verify(SECRET, "", NOW, key, sizeof(key)), 0);
	assert_int_equal(tier_verify(SECRET, "a.b", NOW, key, sizeof(key)), 0);
	assert_int_equal(
	    tier_verify(SECRET, ".1800000000.00", NOW, key, sizeof(key)), 0);
	/* A key id that does not fit the caller's buffer. */
	assert_int_equal(tier_verify(SECRET, sig, NOW, key, 4), 0);
	/* Key ids tier_sign() will not sign. */
	assert_int_equal(tier_sign(SECRET, "", NOW, sig, sizeof(sig)), -1);
	assert_int_equal(tier_sign(SECRET, "a.b", NOW, sig, sizeof(sig)), -1);
	assert_int_equal(tier_sign(SECRET, "a b", NOW, sig, sizeof(sig)), -1);
	assert_int_equal(tier_sign(SECRET, "012345678901234567890123", NOW, sig,
			     sizeof(sig)),
	    -1);
	assert_int_equal(tier_sign("", "kid", NOW, sig, sizeof(sig)), -1);
	assert_int_equal(tier_sign(SECRET, "kid", NOW, sig, 20), -1);
}

static int
traceparent_shape(const char *s)
{
	size_t i;

	if (strlen(s) != 55 || strncmp(s, "00-", 3) != 0 || s[35] != '-' ||
	    s[52] != '-')
		return 0;
	for (i = 3; i < 55; i++)
		if (i != 35 && i != 52 && !strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

static void
test_traceparent(void **state)
{
	static const char in[] =
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
	static const char *const bad[] = {NULL, "",
	    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
	    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"};
	char a[TIER_TRACEPARENT_LEN], b[TIER_TRACEPARENT_LEN];
	size_t i;

	(void)state;
	tier_traceparent(in, a);
	assert_true(traceparent_shape(a));
	assert_memory_equal(a, in, 36); /* the client's trace */
	assert_memory_not_equal(a + 36, in + 36, 16); /* our span */
	assert_string_equal(a + 52, "-00"); /* its flags */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tier_traceparent(bad[i], a);
		tier_traceparent(bad[i], b);
		assert_true(traceparent_shape(a));
		assert_string_equal(a + 52, "-01");
		assert_memory_not_equal(a + 3, in + 3, 32);
		assert_memory_not_equal(a, b, 52); /* each call its own */
	}
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_sign_verify),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_traceparent),
	};

	/* tier.c allocates nothing: no allocation-failure torture. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("tier", cases, NULL, NULL);
}
