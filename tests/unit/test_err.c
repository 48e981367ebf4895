/* SPDX-License-Identifier: MIT */
/* test_err.c - unit tests for lib/err.c: every enum value has a distinct,
 * lowercase name, and out-of-range values do not crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/err.c"

static void
test_every_value_named(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < RELAY__MAX; i++) {
		const char *n = err_name((enum relay_err)i);
		size_t k;

		/* A value added to the enum without a name would be NULL. */
		assert_non_null(err_names[i]);
		assert_ptr_equal(n, err_names[i]);
		assert_true(strlen(n) > 0);
		for (k = 0; n[k] != '\0'; k++)
			assert_true(n[k] >= 'a' && n[k] <= 'z');
		for (j = 0; j < i; j++)
			assert_string_not_equal(n, err_name((enum relay_err)j));
	}
}

static void
test_known_names(void **state)
{
	(void)state;
	assert_string_equal(err_name(RELAY_OK), "ok");
	assert_string_equal(err_name(RELAY_ENOMEM), "enomem");
	assert_string_equal(err_name(RELAY_EINVAL), "einval");
	assert_string_equal(err_name(RELAY_ETOOBIG), "etoobig");
	assert_string_equal(err_name(RELAY_ECACHE), "ecache");
	assert_string_equal(err_name(RELAY_ECLOSED), "eclosed");
}

static void
test_out_of_range(void **state)
{
	(void)state;
	assert_string_equal(err_name(RELAY__MAX), "unknown");
	assert_string_equal(err_name((enum relay_err)1000), "unknown");
	assert_string_equal(err_name((enum relay_err) - 1), "unknown");
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_every_value_named),
	    cmocka_unit_test(test_known_names),
	    cmocka_unit_test(test_out_of_range),
	};

	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* allocates nothing */
	return cmocka_run_group_tests_name("err", cases, NULL, NULL);
}
