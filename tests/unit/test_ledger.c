/* SPDX-License-Identifier: MIT */
/* test_ledger.c - unit tests for lib/ledger.c's numbers at their extremes
 * (issue 19): a saturated cost (UINT64_MAX micro-USD) is written as a
 * number the report reads back, not a line it skips as torn, and the
 * report's sums saturate instead of overflowing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/ledger.c"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_ledger.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Today's report as a parsed row for key/model (a reference in *doc). */
static json_t *
row_of(json_t **doc, const char *key)
{
	char today[16];
	time_t now = time(NULL);
	struct tm tm;
	struct buf out;
	json_t *r = NULL, *data;
	char eb[64];
	size_t i;

	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	buf_init(&out, 1u << 20);
	assert_int_equal(ledger_report(dir, today, today, 0, &out), RELAY_OK);
	assert_int_equal(
	    jsonx_parse(out.data, out.len, doc, eb, sizeof(eb)), RELAY_OK);
	buf_reset(&out);
	data = json_object_get(*doc, "data");
	for (i = 0; i < json_array_size(data); i++)
		if (strcmp(json_string_value(
			       json_object_get(json_array_get(data, i), "key")),
			key) == 0)
			r = json_array_get(data, i);
	return r;
}

static void
test_saturated_cost_is_reported(void **state)
{
	struct ledger *l = ledger_open(dir);
	json_t *doc = NULL, *row;

	(void)state;
	assert_non_null(l);
	ledger_record(l, "ksat", NULL, "m", 5, 7, UINT64_MAX, 0);
	ledger_record(l, "ksat", NULL, "m", 1, 1, 1000000, 0);
	ledger_close(l);
	row = row_of(&doc, "ksat");
	assert_non_null(row); /* the line was read, not skipped as torn */
	assert_int_equal(
	    json_integer_value(json_object_get(row, "requests")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(row, "tokens_in")), 6);
	assert_true(json_real_value(json_object_get(row, "cost_usd")) >=
	    (double)LLONG_MAX / 1e6);
	json_decref(doc);
}

static void
test_sums_saturate(void **state)
{
	struct ledger *l = ledger_open(dir);
	json_t *doc = NULL, *row;

	(void)state;
	assert_non_null(l);
	ledger_record(
	    l, "kbig", NULL, "m", LLONG_MAX, LLONG_MAX, UINT64_MAX, 1);
	ledger_record(l, "kbig", NULL, "m", LLONG_MAX, 1, UINT64_MAX, 1);
	ledger_record(
	    l, "kbig", NULL, "m", 0, LLONG_MAX, (uint64_t)LLONG_MAX, 1);
	ledger_close(l);
	row = row_of(&doc, "kbig");
	assert_non_null(row);
	assert_int_equal(
	    json_integer_value(json_object_get(row, "requests")), 3);
	assert_true(
	    json_integer_value(json_object_get(row, "tokens_in")) == LLONG_MAX);
	assert_true(json_integer_value(json_object_get(row, "tokens_out")) ==
	    LLONG_MAX);
	assert_int_equal(
	    json_integer_value(json_object_get(row, "cache_hits")), 3);
	assert_true(json_real_value(json_object_get(row, "cost_usd")) >=
	    (double)LLONG_MAX / 1e6);
	json_decref(doc);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_saturated_cost_is_reported),
	    cmocka_unit_test(test_sums_saturate),
	};

	/* Not under the allocation torture: ledger_record() drops a line
	 * when an allocation fails, silently, by design. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("ledger", cases, setup, teardown) !=
	    0;
}
