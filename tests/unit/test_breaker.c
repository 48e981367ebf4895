/* SPDX-License-Identifier: MIT */
/* test_breaker.c - unit tests for lib/breaker.c's report against a real
 * memcached: every distinct target once, a wildcard model's targets as
 * "provider/" plus a star, their breaker shown when it opens. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/breaker.h"
#include "../../lib/config.h"
#include "../../lib/kv.h"

#include "memcached_test.h"

struct seen {
	char names[8][64];
	enum breaker_state st[8];
	size_t n;
};

static enum relay_err
collect(void *arg, const char *target, enum breaker_state s)
{
	struct seen *v = arg;

	assert_true(v->n < 8);
	snprintf(v->names[v->n], sizeof(v->names[0]), "%s", target);
	v->st[v->n++] = s;
	return RELAY_OK;
}

static void
test_wildcard_breaker_reported(void **state)
{
	char text[1024], eb[256], *servers[1] = {mc_addr};
	struct config *cfg = NULL;
	struct seen v = {0};
	struct kv *kv;
	struct buf b;
	int probe;

	(void)state;
	if (mc_pid <= 0)
		skip();
	/* A fresh provider name per run: breakers live in memcached. */
	snprintf(text, sizeof(text),
	    "{\"memcached\":{\"servers\":[\"%s\"]},"
	    "\"breaker\":{\"failures\":2,\"window_s\":60,\"open_s\":60},"
	    "\"providers\":[{\"name\":\"p%d\",\"type\":\"gemini\","
	    "\"base_url\":\"http://h:1\"}],"
	    "\"models\":[{\"name\":\"a\",\"targets\":[{\"provider\":\"p%d\","
	    "\"model\":\"up\"}]},{\"name\":\"b\",\"targets\":[{\"provider\":"
	    "\"p%d\",\"model\":\"up\"}]},{\"name\":\"w-*\",\"targets\":[{"
	    "\"provider\":\"p%d\"}]},{\"name\":\"v-*\",\"targets\":[{"
	    "\"provider\":\"p%d\"}]}]}",
	    mc_addr, (int)getpid(), (int)getpid(), (int)getpid(), (int)getpid(),
	    (int)getpid());
	assert_int_equal(
	    config_parse(text, strlen(text), &cfg, eb, sizeof(eb)), RELAY_OK);
	kv = kv_new(servers, 1, 2000, 4, eb, sizeof(eb));
	assert_non_null(kv);

	/* Two distinct targets: p/up (twice in the config) and p/ + star
	 * (the two wildcards'). */
	assert_int_equal(breaker_each(kv, cfg, collect, &v), RELAY_OK);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.names[1] + strlen(v.names[1]) - 2, "/*");
	assert_int_equal(v.st[1], BREAKER_CLOSED);

	/* The wildcard's breaker opens: the report says so. */
	assert_true(breaker_allow(kv, &cfg->breaker, v.names[1], &probe));
	breaker_failure(kv, &cfg->breaker, v.names[1], 0);
	breaker_failure(kv, &cfg->breaker, v.names[1], 0);
	assert_false(breaker_allow(kv, &cfg->breaker, v.names[1], &probe));
	buf_init(&b, 4096);
	assert_int_equal(breaker_report(kv, cfg, &b), RELAY_OK);
	snprintf(text, sizeof(text),
	    "{\"p%d/up\":\"closed\",\"p%d/*\":\"open\"}", (int)getpid(),
	    (int)getpid());
	assert_string_equal(b.data, text);
	buf_reset(&b);
	kv_free(kv);
	config_release(cfg);
}

/* Names that differ in one low bit ("x@0", "x@1": a provider's base
 * URLs, or models m0 and m1) have breakers of their own: one open must
 * not read as the other open (the process cache once hashed them alike). */
static void
test_bug_neighbour_names_apart(void **state)
{
	char eb[256], a[64], b[64], *servers[1] = {mc_addr};
	struct config_breaker conf = {2, 60, 60};
	struct kv *kv;
	int probe, i;

	(void)state;
	if (mc_pid <= 0)
		skip();
	kv = kv_new(servers, 1, 2000, 4, eb, sizeof(eb));
	assert_non_null(kv);
	for (i = 0; i < 8; i++) {
		snprintf(a, sizeof(a), "n%d-%d@0", (int)getpid(), i);
		snprintf(b, sizeof(b), "n%d-%d@1", (int)getpid(), i);
		assert_true(breaker_allow(kv, &conf, a, &probe));
		assert_true(breaker_allow(kv, &conf, b, &probe));
		breaker_failure(kv, &conf, a, 0);
		breaker_failure(kv, &conf, a, 0);
		assert_false(breaker_allow(kv, &conf, a, &probe));
		assert_true(breaker_allow(kv, &conf, b, &probe));
	}
	kv_free(kv);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_wildcard_breaker_reported),
	    cmocka_unit_test(test_bug_neighbour_names_apart),
	};

	/* No allocation-failure torture here: memcached is no place for it. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name(
		   "breaker", cases, mc_start, mc_stop) != 0;
}
