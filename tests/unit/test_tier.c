/* SPDX-License-Identifier: MIT */
/* test_tier.c - unit tests for lib/tier.c: the traceparent check (W3C
 * Trace Context version 00) and target_add_header(), which tier_headers()
 * builds on: added once, the provider's own header kept, lines intact
 * when the header buffer moves. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/config.h"
#include "../../lib/target.h"
#include "../../lib/tier.h"

static void
test_traceparent(void **state)
{
	(void)state;
	assert_true(tier_traceparent_ok(
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
	assert_true(tier_traceparent_ok(
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
	/* all-zero ids, upper case, other versions, lengths, separators */
	assert_false(tier_traceparent_ok(
	    "00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
	assert_false(tier_traceparent_ok(
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
	assert_false(tier_traceparent_ok(
	    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
	assert_false(tier_traceparent_ok(
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
	assert_false(tier_traceparent_ok(
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"));
	assert_false(tier_traceparent_ok(
	    "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
	assert_false(tier_traceparent_ok(""));
	assert_false(tier_traceparent_ok(NULL));
}

static void
test_add_header(void **state)
{
	struct config_header h = {"User-Agent", "operator/2"};
	struct config_provider p;
	struct target_req tr;
	char name[96], value[64];
	size_t i;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.headers = &h;
	p.nheaders = 1;
	target_init(&tr, 1 << 20);
	assert_int_equal(
	    target_add_header(&tr, &p, "x-request-id", "abc"), RELAY_OK);
	assert_int_equal(
	    target_add_header(&tr, &p, "X-Request-Id", "def"), RELAY_OK);
	assert_int_equal(tr.nlines, 1);
	assert_string_equal(tr.lines[0], "x-request-id: abc");
	/* The operator's own User-Agent wins: nothing added. */
	assert_int_equal(
	    target_add_header(&tr, &p, "User-Agent", TIER_USER_AGENT),
	    RELAY_OK);
	assert_int_equal(tr.nlines, 1);
	assert_int_equal(
	    target_add_header(&tr, NULL, "x-bad", "a\r\nb: c"), RELAY_EINVAL);
	/* Many lines: the buffer moves, every line stays right. */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "x-h%zu", i);
		snprintf(value, sizeof(value), "%0*zu", 50, i);
		assert_int_equal(
		    target_add_header(&tr, NULL, name, value), RELAY_OK);
	}
	assert_string_equal(tr.lines[0], "x-request-id: abc");
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "x-h%zu: %0*zu", i, 50, i);
		assert_string_equal(tr.lines[i + 1], name);
	}
	target_reset(&tr);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_traceparent),
	    cmocka_unit_test(test_add_header),
	};

	/* No case under the allocation-failure torture: done at once. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("tier", cases, NULL, NULL);
}
