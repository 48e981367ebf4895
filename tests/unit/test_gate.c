/* SPDX-License-Identifier: MIT */
/* test_gate.c - unit tests for lib/gate.c's arithmetic: the price of a
 * call at the integer and float extremes (issue 19: max_tokens
 * 4611686018427387903 at $40/Mtok cost 0 micro-USD, because a double
 * beyond 2^64 converted to an integer is undefined), its monotonicity, and
 * the reservation's estimates, which saturate instead of wrapping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/gate.c"

#define P53 9007199254740992ull /* 2^53 */
#define P63 9223372036854775808ull /* 2^63 */

static struct config_model
model(double in, double out)
{
	struct config_model m;

	memset(&m, 0, sizeof(m));
	m.name = "m";
	m.price_in = in;
	m.price_out = out;
	return m;
}

static void
test_cost_issue_example(void **state)
{
	struct config_model m = model(10, 40);

	(void)state;
	/* The request of the issue: its price, 1.8e20 micro-USD, is beyond
	 * 2^64; it must cost more than a $0.01 budget (10000), not 0. */
	assert_true(gate_cost(&m, 3, 4611686018427387903ull) == UINT64_MAX);
	assert_true(gate_cost(&m, 3, 100) == 4030);
	assert_true(gate_cost(&m, 3, (uint64_t)LLONG_MAX) == UINT64_MAX);
	assert_true(gate_cost(&m, UINT64_MAX, UINT64_MAX) == UINT64_MAX);
	assert_true(gate_cost(&m, UINT64_MAX, 0) == UINT64_MAX);
}

static void
test_cost_extremes(void **state)
{
	struct config_model one = model(1, 1), half = model(0.5, 0.5);
	struct config_model tenth = model(0.1, 0.1), top = model(1e6, 1e6);
	struct config_model zero = model(0, 0), negz = model(-0.0, -0.0);

	(void)state;
	assert_true(gate_cost(NULL, UINT64_MAX, UINT64_MAX) == 0);
	assert_true(gate_cost(&one, 0, 0) == 0);
	assert_true(gate_cost(&one, 1, 0) == 1);
	assert_true(gate_cost(&one, 0, 1) == 1);
	assert_true(gate_cost(&one, INT_MAX, INT_MAX) == 2ull * INT_MAX);
	assert_true(gate_cost(&one, P53, 0) == P53);
	assert_true(gate_cost(&one, P63 - 1, 0) == P63); /* rounded to 2^63 */
	assert_true(gate_cost(&one, P63, P63) == UINT64_MAX); /* 2^64 */
	/* Fractions round up: never less than the price. */
	assert_true(gate_cost(&half, 1, 0) == 1);
	assert_true(gate_cost(&half, 3, 0) == 2);
	assert_true(gate_cost(&tenth, 3, 0) == 1); /* 0.30000000000000004 */
	assert_true(gate_cost(&tenth, 10, 0) == 1);
	assert_true(gate_cost(&tenth, 11, 0) == 2);
	/* The dearest price a config accepts, at the largest counts. */
	assert_true(gate_cost(&top, 1, 1) == 2000000);
	assert_true(gate_cost(&top, (uint64_t)INT_MAX, 0) ==
	    (uint64_t)INT_MAX * 1000000);
	assert_true(gate_cost(&top, 1ull << 45, 0) == UINT64_MAX);
	assert_true(gate_cost(&top, P63, 0) == UINT64_MAX);
	/* Free, and -0 (which JSON allows): 0, never UINT64_MAX. */
	assert_true(gate_cost(&zero, UINT64_MAX, UINT64_MAX) == 0);
	assert_true(gate_cost(&negz, UINT64_MAX, UINT64_MAX) == 0);
}

/* Prices the config never lets in, but a cost must not go undefined on
 * them: NaN and +Inf count as the largest cost, below zero as free. */
static void
test_cost_bad_prices(void **state)
{
	struct config_model nan_in = model(NAN, 1),
			    inf_out = model(1, INFINITY);
	struct config_model neg = model(-1, -1), huge = model(1e308, 1e308);
	struct config_model mixed = model(INFINITY, -INFINITY);

	(void)state;
	assert_true(gate_cost(&nan_in, 1, 1) == UINT64_MAX);
	assert_true(gate_cost(&nan_in, 0, 1) == UINT64_MAX); /* 0 * NaN */
	assert_true(gate_cost(&inf_out, 1, 1) == UINT64_MAX);
	assert_true(gate_cost(&inf_out, 1, 0) == UINT64_MAX); /* 0 * Inf */
	assert_true(gate_cost(&neg, 5, 5) == 0);
	assert_true(gate_cost(&neg, UINT64_MAX, UINT64_MAX) == 0);
	assert_true(gate_cost(&huge, 1, 0) == UINT64_MAX);
	assert_true(gate_cost(&huge, UINT64_MAX, UINT64_MAX) == UINT64_MAX);
	assert_true(gate_cost(&mixed, 1, 1) == UINT64_MAX); /* Inf - Inf */
}

/* More tokens never cost less, whatever the price. */
static void
test_cost_monotone(void **state)
{
	static const uint64_t n[] = {0, 1, 2, 3, 1000, INT_MAX, P53 - 1, P53,
	    P53 + 1, (1ull << 62) - 1, 1ull << 62, P63 - 1, P63, UINT64_MAX - 1,
	    UINT64_MAX};
	static const double p[] = {0, 1e-9, 0.1, 0.5, 1, 3, 10, 40, 1e6};
	size_t a, b, i, j;

	(void)state;
	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		for (j = 0; j < sizeof(p) / sizeof(p[0]); j++) {
			struct config_model m = model(p[i], p[j]);

			for (a = 0; a < sizeof(n) / sizeof(n[0]); a++)
				for (b = 1; b < sizeof(n) / sizeof(n[0]); b++) {
					assert_true(
					    gate_cost(&m, n[a], n[b - 1]) <=
					    gate_cost(&m, n[a], n[b]));
					assert_true(
					    gate_cost(&m, n[b - 1], n[a]) <=
					    gate_cost(&m, n[b], n[a]));
				}
		}
}

/* The estimates behind a reservation: no key, so nothing reaches
 * memcached; what would be reserved is left in the gate. */
static void
test_admit_estimates(void **state)
{
	static const long long outs[] = {
	    LLONG_MIN, -1, 0, 1, INT_MAX, (long long)P53, LLONG_MAX};
	struct relay_req req;
	struct config cfg;
	struct gate g;
	size_t i;

	(void)state;
	memset(&req, 0, sizeof(req));
	memset(&cfg, 0, sizeof(cfg));
	cfg.default_max_tokens = 4096;
	for (i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
		uint64_t want = outs[i] > 0 ? (uint64_t)outs[i] : 4096;

		memset(&g, 0, sizeof(g));
		assert_int_equal(gate_admit(&req, &g, &cfg, NULL, 7, outs[i],
				     DIALECT_OPENAI),
		    1);
		assert_true(g.est_prompt == 2); /* 7 bytes: 2 tokens */
		assert_true(g.est_tokens == want + 2);
		memset(&g, 0, sizeof(g));
		assert_int_equal(gate_admit(&req, &g, &cfg, NULL, SIZE_MAX,
				     outs[i], DIALECT_OPENAI),
		    1);
		assert_true(g.est_prompt == SIZE_MAX / 4 + 1);
		assert_true(g.est_tokens >= want);
		assert_true(g.est_tokens >= g.est_prompt);
	}
	/* A config with no default reserves the prompt alone. */
	cfg.default_max_tokens = 0;
	memset(&g, 0, sizeof(g));
	assert_int_equal(
	    gate_admit(&req, &g, &cfg, NULL, 0, 0, DIALECT_GEMINI), 1);
	assert_true(g.est_tokens == 0);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_cost_issue_example),
	    cmocka_unit_test(test_cost_extremes),
	    cmocka_unit_test(test_cost_bad_prices),
	    cmocka_unit_test(test_cost_monotone),
	    cmocka_unit_test(test_admit_estimates),
	};

	/* What is tested here never allocates (exit 77 at once). */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("gate", cases, NULL, NULL) != 0;
}
