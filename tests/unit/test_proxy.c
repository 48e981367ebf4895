/* SPDX-License-Identifier: MIT */
/* test_proxy.c - unit tests for lib/proxy.c's pure parts (the module is
 * included to reach its statics): the order of a model's targets (by
 * priority; within one, a weighted share, and a different draw for each
 * request even within one second on one thread), Retry-After, the retry
 * decision by status, and the raw usage scanner against the parsed one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/proxy.c"

/* How often each of n targets comes first over draws plans. */
static void
firsts(const struct config_model *m, int draws, int *count)
{
	size_t order[PROXY_TARGETS_MAX];
	int i;

	memset(count, 0, m->ntargets * sizeof(*count));
	for (i = 0; i < draws; i++) {
		assert_int_equal(plan(m, order), m->ntargets);
		count[order[0]]++;
	}
}

/* Equal targets share the load, request after request in the same
 * second from the same thread. */
static void
test_plan_equal_share(void **state)
{
	struct config_target t[2] = {
	    {NULL, "a", 0, 1, 0}, {NULL, "b", 0, 1, 0}};
	struct config_model m = {.targets = t, .ntargets = 2};
	int count[2];

	(void)state;
	firsts(&m, 4000, count);
	assert_in_range(count[0], 1800, 2200);
	assert_in_range(count[1], 1800, 2200);
}

/* Weights 1:3 give the second target three quarters of first places. */
static void
test_plan_weights(void **state)
{
	struct config_target t[2] = {
	    {NULL, "a", 0, 1, 0}, {NULL, "b", 0, 3, 0}};
	struct config_model m = {.targets = t, .ntargets = 2};
	int count[2];

	(void)state;
	firsts(&m, 8000, count);
	assert_in_range(count[1], 5700, 6300); /* 75 % +- 3.75 % */
}

/* Priority first, whatever the weights; a plan is a permutation. */
static void
test_plan_priority(void **state)
{
	struct config_target t[4] = {{NULL, "low", 2, 1000, 0},
	    {NULL, "top", 0, 1, 0}, {NULL, "mid", 1, 5, 0},
	    {NULL, "mid2", 1, 5, 0}};
	struct config_model m = {.targets = t, .ntargets = 4};
	size_t order[PROXY_TARGETS_MAX], seen;
	int i, k;

	(void)state;
	for (i = 0; i < 500; i++) {
		assert_int_equal(plan(&m, order), 4);
		assert_int_equal(order[0], 1);
		assert_true(order[1] == 2 || order[1] == 3);
		assert_true(order[2] == 2 || order[2] == 3);
		assert_int_equal(order[3], 0);
		for (seen = 0, k = 0; k < 4; k++)
			seen |= (size_t)1 << order[k];
		assert_int_equal(seen, 15);
	}
}

static void
test_retry_after(void **state)
{
	(void)state;
	assert_int_equal(retry_after_s(""), 0);
	assert_int_equal(retry_after_s("7"), 7);
	assert_int_equal(retry_after_s("86400"), 86400);
	assert_int_equal(retry_after_s("86401"), 0);
	assert_int_equal(retry_after_s("-3"), 0);
	assert_int_equal(retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT"), 0);
}

static void
test_retryable_status(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.retry.on_status[0] = 429;
	cfg.retry.on_status[1] = 503;
	cfg.retry.non_status = 2;
	assert_true(retryable_status(&cfg, 429));
	assert_true(retryable_status(&cfg, 503));
	assert_false(retryable_status(&cfg, 500));
	assert_false(retryable_status(&cfg, 401));
}

/* The one-pass scanner reads what the jansson reader reads. */
static void
same_usage(enum dialect d, const char *usage_obj, const char *whole)
{
	struct proxy_usage a, b;
	json_error_t je;
	json_t *v = json_loads(whole, 0, &je);

	assert_non_null(v);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	usage_take(d, v, &a);
	assert_int_equal(usage_raw(d, span_str(usage_obj), &b), 1);
	assert_int_equal(a.prompt_tokens, b.prompt_tokens);
	assert_int_equal(a.completion_tokens, b.completion_tokens);
	assert_int_equal(a.cached_tokens, b.cached_tokens);
	assert_int_equal(a.known, b.known);
	json_decref(v);
}

static void
test_usage_scanners_agree(void **state)
{
	(void)state;
	same_usage(DIALECT_OPENAI,
	    "{\"prompt_tokens\":12,\"completion_tokens\":5,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":4}}",
	    "{\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":4}}}");
	same_usage(DIALECT_ANTHROPIC,
	    "{\"input_tokens\":10,\"cache_read_input_tokens\":3,"
	    "\"cache_creation_input_tokens\":2,\"output_tokens\":7}",
	    "{\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":3,"
	    "\"cache_creation_input_tokens\":2,\"output_tokens\":7}}");
	same_usage(DIALECT_GEMINI,
	    "{\"promptTokenCount\":9,\"cachedContentTokenCount\":1,"
	    "\"candidatesTokenCount\":4,\"thoughtsTokenCount\":6}",
	    "{\"usageMetadata\":{\"promptTokenCount\":9,"
	    "\"cachedContentTokenCount\":1,\"candidatesTokenCount\":4,"
	    "\"thoughtsTokenCount\":6}}");
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_plan_equal_share),
	    cmocka_unit_test(test_plan_weights),
	    cmocka_unit_test(test_plan_priority),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_retryable_status),
	    cmocka_unit_test(test_usage_scanners_agree),
	};

	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* allocates only through jansson's loads */
	return cmocka_run_group_tests_name("proxy", cases, NULL, NULL);
}
