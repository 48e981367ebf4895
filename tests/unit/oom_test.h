/* SPDX-License-Identifier: MIT */
/* oom_test.h - the allocation-failure torture of the unit tests
 * (scripts/unit.sh runs a binary with RELAY_FAIL_ALLOC=1, 2, ...): cases
 * wrapped in OOM_CASE() run with allocation N failing, and the binary's
 * exit status says whether it got that far. Include after <cmocka.h>. */
#ifndef RELAY_OOM_TEST_H
#define RELAY_OOM_TEST_H

#include <stdio.h>
#include <stdlib.h>

#include "../../lib/compiler.h"
#include "../../lib/mem.h"

static unsigned long oom_n; /* 0: a normal run */
static int oom_reached; /* some case made its Nth allocation */

static void RELAY_UNUSED
oom_init(void)
{
	const char *s = getenv("RELAY_FAIL_ALLOC");

	for (; s != NULL && *s >= '0' && *s <= '9'; s++)
		oom_n = oom_n * 10 + (unsigned long)(*s - '0');
}

static int RELAY_UNUSED
oom_setup(void **state)
{
	(void)state;
	if (oom_n != 0)
		mem_fail_after(oom_n);
	return 0;
}

static int RELAY_UNUSED
oom_teardown(void **state)
{
	(void)state;
	if (oom_n != 0) {
		if (mem_count() >= oom_n)
			oom_reached = 1;
		mem_fail_after(0);
	}
	return 0;
}

/* Exit status: 0 passed, 1 failed, 77 torture found no Nth allocation. */
static int RELAY_UNUSED
oom_exit(int failed)
{
	if (failed != 0)
		return 1;
	if (oom_n != 0 && !oom_reached) {
		printf("oom-torture: exhausted at %lu\n", oom_n);
		return 77;
	}
	return 0;
}

#define OOM_CASE(f) cmocka_unit_test_setup_teardown(f, oom_setup, oom_teardown)

#endif
