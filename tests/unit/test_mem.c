/* SPDX-License-Identifier: MIT */
/* test_mem.c - unit tests for lib/mem.c: size 0 and overflow refusals, and
 * the allocation-failure hook the whole unit suite relies on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/mem.h"

static void
test_zero_sizes_refused(void **state)
{
	(void)state;
	mem_fail_after(0);
	assert_null(mem_malloc(0));
	assert_null(mem_calloc(0, 8));
	assert_null(mem_calloc(8, 0));
	assert_null(mem_reallocarray(NULL, 0, 8));
	assert_null(mem_reallocarray(NULL, 8, 0));
}

static void
test_overflow_refused(void **state)
{
	volatile size_t half = SIZE_MAX / 2 + 1;

	(void)state;
	mem_fail_after(0);
	assert_null(mem_reallocarray(NULL, half, 2));
	assert_null(mem_reallocarray(NULL, 2, half));
	/* An overflow is refused before it counts as an allocation. */
	assert_int_equal(mem_count(), 0);
	assert_null(mem_strndup("x", SIZE_MAX));
}

static void
test_fail_after_nth(void **state)
{
	void *a, *b, *c;

	(void)state;
	mem_fail_after(2);
	a = mem_malloc(16);
	b = mem_malloc(16);
	c = mem_calloc(2, 8);
	assert_non_null(a);
	assert_null(b);
	assert_non_null(c); /* only the nth fails, later ones succeed */
	assert_int_equal(mem_count(), 3);
	mem_free(a);
	mem_free(c);
	mem_fail_after(0);
	assert_int_equal(mem_count(), 0);
	a = mem_malloc(1);
	assert_non_null(a);
	assert_int_equal(mem_count(), 1);
	mem_free(a);
	mem_free(NULL);
}

static void
test_failed_realloc_keeps_block(void **state)
{
	char *p, *q;

	(void)state;
	mem_fail_after(0);
	p = mem_reallocarray(NULL, 4, 1);
	assert_non_null(p);
	memcpy(p, "abc", 4);
	mem_fail_after(1);
	q = mem_reallocarray(p, 1024, 1);
	assert_null(q);
	assert_string_equal(p, "abc"); /* still ours, still intact */
	q = mem_reallocarray(p, 1024, 1);
	assert_non_null(q);
	assert_string_equal(q, "abc");
	mem_free(q);
	mem_fail_after(0);
}

static void
test_strdup(void **state)
{
	char *s;

	(void)state;
	mem_fail_after(0);
	assert_null(mem_strdup(NULL));
	s = mem_strdup("");
	assert_non_null(s);
	assert_string_equal(s, "");
	mem_free(s);
	s = mem_strndup("ab\0cd", 5);
	assert_non_null(s);
	assert_memory_equal(s, "ab\0cd", 6);
	mem_free(s);
	s = mem_strndup(NULL, 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	mem_free(s);
	mem_fail_after(1);
	assert_null(mem_strdup("x"));
	mem_fail_after(0);
}

static void
test_calloc_zeroes(void **state)
{
	unsigned char *p;
	size_t i;

	(void)state;
	mem_fail_after(0);
	p = mem_calloc(100, 3);
	assert_non_null(p);
	for (i = 0; i < 300; i++)
		assert_int_equal(p[i], 0);
	mem_free(p);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_zero_sizes_refused),
	    cmocka_unit_test(test_overflow_refused),
	    cmocka_unit_test(test_fail_after_nth),
	    cmocka_unit_test(test_failed_realloc_keeps_block),
	    cmocka_unit_test(test_strdup),
	    cmocka_unit_test(test_calloc_zeroes),
	};

	/* These cases drive the hook themselves: nothing to torture. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("mem", cases, NULL, NULL);
}
