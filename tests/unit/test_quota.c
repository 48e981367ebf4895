/* SPDX-License-Identifier: MIT */
/* test_quota.c - unit tests for lib/quota.c against a real memcached that
 * the test starts on a free loopback port (skipped when none is
 * installed): exact admission under racing threads, concurrency slots,
 * reserve-then-settle, daily and budget refusals, a dead memcached. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/quota.c"

#include "memcached_test.h"

static struct kv *
kv_connect(void)
{
	char *servers[1] = {mc_addr};
	char eb[256];
	struct kv *kv;

	if (mc_pid <= 0)
		skip();
	kv = kv_new(servers, 1, 2000, 16, eb, sizeof(eb));
	assert_non_null(kv);
	return kv;
}

/* A key of this run and case, so reruns never share counters. */
static void
key_init(struct vkey *k, const char *tag)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "q%ld%s", (long)getpid() % 1000000, tag);
}

/* The current value of counter kind in t's window (0 when absent), read
 * as quota_admit() reads it: on the connection quota_settle()'s unanswered
 * changes went over, so that it sees them, in order. */
static uint64_t
counter(struct kv *kv, const struct quota_ticket *t, char kind)
{
	struct kv_incr op = {NULL, 0, 120, 0};
	char key[128];
	long long w = kind == 'c' ? -1
	    : kind == 'd'         ? t->day
	    : kind == 'u'         ? t->month
				  : t->minute;
	uint64_t v = 0;

	keyname(key, sizeof(key), t, kind, w);
	op.key = key;
	assert_int_equal(kv_incr_many(kv, &op, 1), RELAY_OK);
	v = op.value;
	return v;
}

struct racer {
	struct kv *kv;
	const struct vkey *k;
	int ok, refused, errors;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	struct quota_ticket t;
	int i;

	for (i = 0; i < 10; i++) {
		if (quota_admit(r->kv, r->k, 0, 0, &t) != RELAY_OK)
			r->errors++;
		else if (t.verdict == QUOTA_OK)
			r->ok++;
		else if (t.verdict == QUOTA_REQUESTS && t.retry_after > 0 &&
		    t.retry_after <= 60 && !t.active)
			r->refused++;
		else
			r->errors++;
	}
	return NULL;
}

static void
test_rpm_exact_under_race(void **state)
{
	struct kv *kv = kv_connect();
	struct racer r[16];
	pthread_t th[16];
	struct quota_ticket t;
	struct vkey k;
	int i, ok = 0, refused = 0;

	(void)state;
	key_init(&k, "rpm");
	k.rpm = 37;
	/* Stay inside one minute window: 160 calls take well under 5 s. */
	if (time(NULL) % 60 > 54)
		sleep((unsigned)(61 - time(NULL) % 60));
	for (i = 0; i < 16; i++) {
		r[i] = (struct racer){kv, &k, 0, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].errors, 0);
		ok += r[i].ok;
		refused += r[i].refused;
	}
	assert_int_equal(ok, 37);
	assert_int_equal(refused, 160 - 37);
	/* Refused increments were all given back. */
	assert_int_equal(quota_admit(kv, &k, 0, 0, &t), RELAY_OK);
	assert_int_equal(t.verdict, QUOTA_REQUESTS);
	assert_int_equal(t.rpm_limit, 37);
	assert_int_equal(t.rpm_used, 37);
	assert_int_equal(counter(kv, &t, 'r'), 37);
	kv_free(kv);
}

static void
test_concurrency_slots(void **state)
{
	struct kv *kv = kv_connect();
	struct quota_ticket a, b, c, d;
	struct vkey k;

	(void)state;
	key_init(&k, "conc");
	k.max_concurrency = 2;
	assert_int_equal(quota_admit(kv, &k, 10, 0, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	assert_true(a.active);
	assert_int_equal(quota_admit(kv, &k, 10, 0, &b), RELAY_OK);
	assert_int_equal(b.verdict, QUOTA_OK);
	assert_int_equal(quota_admit(kv, &k, 10, 0, &c), RELAY_OK);
	assert_int_equal(c.verdict, QUOTA_CONCURRENCY);
	assert_true(c.retry_after > 0);
	assert_false(c.active);
	assert_int_equal(counter(kv, &a, 'c'), 2);
	quota_settle(kv, &c, 0, 0); /* reserved nothing: no effect */
	assert_int_equal(counter(kv, &a, 'c'), 2);
	quota_settle(kv, &a, 5, 0);
	assert_int_equal(counter(kv, &a, 'c'), 1);
	assert_int_equal(quota_admit(kv, &k, 10, 0, &d), RELAY_OK);
	assert_int_equal(d.verdict, QUOTA_OK);
	quota_settle(kv, &b, 5, 0);
	quota_settle(kv, &d, 5, 0);
	assert_int_equal(counter(kv, &a, 'c'), 0);
	kv_free(kv);
}

static void
test_tpm_settle_to_actual(void **state)
{
	struct kv *kv = kv_connect();
	struct quota_ticket a, b;
	struct vkey k;

	(void)state;
	key_init(&k, "tpm");
	k.tpm = 100000;
	k.daily_tokens = 100000;
	if (time(NULL) % 60 > 57)
		sleep((unsigned)(61 - time(NULL) % 60));
	assert_int_equal(quota_admit(kv, &k, 500, 0, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	assert_int_equal(a.tpm_used, 500);
	assert_int_equal(counter(kv, &a, 't'), 500);
	assert_int_equal(counter(kv, &a, 'd'), 500);
	quota_settle(kv, &a, 200, 0); /* lower than reserved */
	assert_int_equal(counter(kv, &a, 't'), 200);
	assert_int_equal(counter(kv, &a, 'd'), 200);
	assert_int_equal(quota_admit(kv, &k, 500, 0, &b), RELAY_OK);
	assert_int_equal(b.verdict, QUOTA_OK);
	assert_int_equal(counter(kv, &b, 't'), 700);
	quota_settle(kv, &b, 900, 0); /* higher than reserved */
	assert_int_equal(counter(kv, &b, 't'), 1100);
	assert_int_equal(counter(kv, &b, 'd'), 1100);
	kv_free(kv);
}

static void
test_tpm_refusal_gives_back(void **state)
{
	struct kv *kv = kv_connect();
	struct quota_ticket a, b;
	struct vkey k;

	(void)state;
	key_init(&k, "tpmr");
	k.rpm = 100;
	k.tpm = 1000;
	k.max_concurrency = 10;
	if (time(NULL) % 60 > 57)
		sleep((unsigned)(61 - time(NULL) % 60));
	assert_int_equal(quota_admit(kv, &k, 800, 0, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	assert_int_equal(quota_admit(kv, &k, 800, 0, &b), RELAY_OK);
	assert_int_equal(b.verdict, QUOTA_TOKENS);
	assert_true(b.retry_after > 0 && b.retry_after <= 60);
	/* Everything the refused request took was given back. */
	assert_int_equal(counter(kv, &a, 't'), 800);
	assert_int_equal(counter(kv, &a, 'r'), 1);
	assert_int_equal(counter(kv, &a, 'c'), 1);
	quota_settle(kv, &a, 800, 0);
	assert_int_equal(counter(kv, &a, 'c'), 0);
	kv_free(kv);
}

static void
test_daily_and_budget_refusals(void **state)
{
	struct kv *kv = kv_connect();
	struct quota_ticket a, b;
	struct vkey k;

	(void)state;
	key_init(&k, "day");
	k.daily_tokens = 100;
	k.tpm = 100000;
	assert_int_equal(quota_admit(kv, &k, 60, 0, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	assert_int_equal(quota_admit(kv, &k, 60, 0, &b), RELAY_OK);
	assert_int_equal(b.verdict, QUOTA_DAILY);
	assert_true(b.retry_after > 0 && b.retry_after <= 86400);
	assert_false(b.active);
	assert_int_equal(counter(kv, &a, 'd'), 60);
	assert_int_equal(counter(kv, &a, 't'), 60); /* tpm rolled back */
	assert_string_equal(quota_what(b.verdict), "tokens per day");

	key_init(&k, "usd");
	k.monthly_budget_usd = 1.0; /* 1 000 000 micro-USD */
	assert_int_equal(quota_admit(kv, &k, 10, 600000, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	assert_int_equal(quota_admit(kv, &k, 10, 600000, &b), RELAY_OK);
	assert_int_equal(b.verdict, QUOTA_BUDGET);
	assert_true(b.retry_after > 0 && b.retry_after <= 31 * 86400);
	assert_int_equal(counter(kv, &a, 'u'), 600000);
	quota_settle(kv, &a, 10, 250000);
	assert_int_equal(counter(kv, &a, 'u'), 250000);
	assert_string_equal(quota_what(b.verdict), "monthly budget");
	kv_free(kv);
}

/* Issue 19: a reservation beyond 2^64 - counter wrapped memcached's
 * counter to a small number and was admitted. Now it is refused, and
 * every counter stays as it was. */
static void
test_reservation_never_wraps(void **state)
{
	static const uint64_t huge[] = {UINT64_MAX - 5, UINT64_MAX,
	    9223372036854775808ull, 1001, RELAY_QUOTA_MAX + 1};
	struct kv *kv = kv_connect();
	struct quota_ticket a, b;
	struct vkey k;
	size_t i;

	(void)state;
	key_init(&k, "wrap");
	k.tpm = 1000;
	k.daily_tokens = 5000;
	k.monthly_budget_usd = 0.01; /* 10000 micro-USD */
	if (time(NULL) % 60 > 57)
		sleep((unsigned)(61 - time(NULL) % 60));
	assert_int_equal(quota_admit(kv, &k, 10, 100, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		assert_int_equal(quota_admit(kv, &k, huge[i], 0, &b), RELAY_OK);
		assert_int_equal(b.verdict, QUOTA_TOKENS);
		assert_false(b.active);
		assert_int_equal(b.tpm_used, 10); /* without this request */
		assert_true(b.alone); /* never fits, whatever is spent */
		/* 9901 is one over what the budget leaves. */
		assert_int_equal(
		    quota_admit(kv, &k, 5, huge[i] < 9901 ? 9901 : huge[i], &b),
		    RELAY_OK);
		assert_int_equal(b.verdict, QUOTA_BUDGET);
		assert_false(b.active);
		assert_int_equal(counter(kv, &a, 't'), 10);
		assert_int_equal(counter(kv, &a, 'd'), 10);
		assert_int_equal(counter(kv, &a, 'u'), 100);
	}
	/* Over what is left, not over the limit: waiting may help. */
	assert_int_equal(quota_admit(kv, &k, 991, 0, &b), RELAY_OK);
	assert_int_equal(b.verdict, QUOTA_TOKENS);
	assert_false(b.alone);
	/* What is left still fits, exactly. */
	assert_int_equal(quota_admit(kv, &k, 990, 9900, &b), RELAY_OK);
	assert_int_equal(b.verdict, QUOTA_OK);
	quota_settle(kv, &b, 990, 9900);
	quota_settle(kv, &a, 10, 100);
	assert_int_equal(counter(kv, &a, 't'), 1000);
	assert_int_equal(counter(kv, &a, 'u'), 10000);
	kv_free(kv);
}

/* An upstream that reports an absurd usage: the settled counter is over
 * the limit, never wrapped back under it. */
static void
test_settle_absurd_usage(void **state)
{
	struct kv *kv = kv_connect();
	struct quota_ticket a, b, c;
	struct vkey k;

	(void)state;
	key_init(&k, "absurd");
	k.tpm = 1000;
	k.monthly_budget_usd = 0.01;
	if (time(NULL) % 60 > 57)
		sleep((unsigned)(61 - time(NULL) % 60));
	assert_int_equal(quota_admit(kv, &k, 10, 100, &a), RELAY_OK);
	assert_int_equal(quota_admit(kv, &k, 10, 100, &b), RELAY_OK);
	assert_int_equal(b.verdict, QUOTA_OK);
	quota_settle(kv, &a, UINT64_MAX, UINT64_MAX);
	quota_settle(kv, &b, UINT64_MAX, UINT64_MAX - 1);
	assert_true(counter(kv, &a, 't') > 1000);
	assert_true(counter(kv, &a, 'u') > 10000);
	assert_true(counter(kv, &a, 't') <= 2 * (RELAY_QUOTA_MAX + 1));
	assert_int_equal(quota_admit(kv, &k, 1, 1, &c), RELAY_OK);
	assert_int_equal(c.verdict, QUOTA_TOKENS);
	kv_free(kv);
}

/* Limits at the extremes: clamped to RELAY_QUOTA_MAX; a budget of NaN,
 * -0 or below is none, +Inf or 1e300 USD is the largest. */
static void
test_limit_extremes(void **state)
{
	struct kv *kv = kv_connect();
	struct quota_ticket a;
	struct vkey k;

	(void)state;
	assert_int_equal(quota_budget_micro(0.01), 10000);
	assert_int_equal(quota_budget_micro(1e9), 1000000000000000LL);
	assert_int_equal(quota_budget_micro(0), 0);
	assert_int_equal(quota_budget_micro(-0.0), 0);
	assert_int_equal(quota_budget_micro(-1), 0);
	assert_int_equal(quota_budget_micro(NAN), 0);
	assert_int_equal(quota_budget_micro(1e-7), 0);
	assert_true(quota_budget_micro(1e300) == (long long)RELAY_QUOTA_MAX);
	assert_true(quota_budget_micro(INFINITY) == (long long)RELAY_QUOTA_MAX);
	assert_true(quota_budget_micro(9223372036854.775807) ==
	    (long long)RELAY_QUOTA_MAX);

	key_init(&k, "big");
	k.tpm = LLONG_MAX;
	k.monthly_budget_usd = 1e300;
	if (time(NULL) % 60 > 57)
		sleep((unsigned)(61 - time(NULL) % 60));
	assert_int_equal(
	    quota_admit(kv, &k, 9223372036854775808ull, 1, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_TOKENS);
	assert_int_equal(a.tpm_limit, (long long)RELAY_QUOTA_MAX);
	assert_int_equal(quota_admit(kv, &k, 1, UINT64_MAX, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_BUDGET);
	assert_int_equal(counter(kv, &a, 't'), 0);
	assert_int_equal(counter(kv, &a, 'u'), 0);
	assert_int_equal(quota_admit(kv, &k, RELAY_QUOTA_MAX, 1, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	quota_settle(kv, &a, 0, 0);
	k.tpm = -5; /* below zero: no limit */
	k.monthly_budget_usd = -1;
	assert_int_equal(
	    quota_admit(kv, &k, UINT64_MAX, UINT64_MAX, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	assert_int_equal(a.taken, 0); /* nothing to count */
	quota_settle(kv, &a, UINT64_MAX, UINT64_MAX);
	kv_free(kv);
}

static void
test_settle_twice(void **state)
{
	struct kv *kv = kv_connect();
	struct quota_ticket a, copy;
	struct vkey k;

	(void)state;
	key_init(&k, "twice");
	k.max_concurrency = 5;
	k.tpm = 100000;
	if (time(NULL) % 60 > 57)
		sleep((unsigned)(61 - time(NULL) % 60));
	assert_int_equal(quota_admit(kv, &k, 300, 0, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	copy = a;
	quota_settle(kv, &a, 100, 0);
	assert_false(a.active);
	assert_int_equal(counter(kv, &copy, 'c'), 0);
	assert_int_equal(counter(kv, &copy, 't'), 100);
	quota_settle(kv, &a, 100, 0);
	quota_settle(kv, &a, 5000, 0);
	assert_int_equal(counter(kv, &copy, 'c'), 0);
	assert_int_equal(counter(kv, &copy, 't'), 100);
	kv_free(kv);
}

static void
test_dead_memcached(void **state)
{
	char addr[64], *servers[1] = {addr};
	char eb[256];
	struct quota_ticket t;
	struct kv *kv;
	struct vkey k;
	double t0;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
	kv = kv_new(servers, 1, 250, 4, eb, sizeof(eb));
	assert_non_null(kv);
	key_init(&k, "dead");
	k.rpm = 10;
	k.tpm = 1000;
	k.max_concurrency = 3;
	t0 = now_s();
	assert_int_equal(quota_admit(kv, &k, 100, 0, &t), RELAY_ECACHE);
	assert_true(now_s() - t0 < 2.0);
	assert_false(t.active);
	assert_int_equal(t.taken, 0);
	quota_settle(kv, &t, 100, 0); /* nothing to settle: no call made */
	/* No limit at all: memcached is never asked. */
	key_init(&k, "free");
	t0 = now_s();
	assert_int_equal(quota_admit(kv, &k, 100, 100, &t), RELAY_OK);
	assert_int_equal(t.verdict, QUOTA_OK);
	assert_int_equal(t.taken, 0);
	quota_settle(kv, &t, 50, 50);
	assert_true(now_s() - t0 < 0.1);
	kv_free(kv);
}

static void
test_quota_what(void **state)
{
	(void)state;
	assert_string_equal(quota_what(QUOTA_OK), "ok");
	assert_string_equal(quota_what(QUOTA_REQUESTS), "requests per minute");
	assert_string_equal(quota_what(QUOTA_TOKENS), "tokens per minute");
	assert_string_equal(
	    quota_what(QUOTA_CONCURRENCY), "concurrent requests");
	assert_string_equal(quota_what(QUOTA__MAX), "limit");
}

/* Issue 18: the admin's view of a key's counters now (quota_use), as
 * admissions and settlements leave them. */
static void
test_use_view(void **state)
{
	struct kv *kv = kv_connect();
	struct quota_ticket a;
	struct quota_use u;
	struct vkey k;

	(void)state;
	key_init(&k, "use");
	assert_int_equal(quota_use(kv, k.id, time(NULL), &u), RELAY_OK);
	assert_int_equal(u.minute_requests + u.minute_tokens + u.day_tokens +
		u.month_micro_usd + u.in_flight,
	    0);
	k.rpm = 10;
	k.tpm = 100000;
	k.daily_tokens = 1000000;
	k.monthly_budget_usd = 5;
	k.max_concurrency = 3;
	assert_int_equal(quota_admit(kv, &k, 50, 2000, &a), RELAY_OK);
	assert_int_equal(a.verdict, QUOTA_OK);
	assert_int_equal(quota_use(kv, k.id, a.minute * 60, &u), RELAY_OK);
	assert_int_equal(u.minute_requests, 1);
	assert_int_equal(u.minute_tokens, 50); /* reserved */
	assert_int_equal(u.day_tokens, 50);
	assert_int_equal(u.month_micro_usd, 2000);
	assert_int_equal(u.in_flight, 1);
	quota_settle(kv, &a, 40, 1500);
	usleep(100 * 1000); /* settling does not wait for memcached; the
			      * windows of admission are read */
	assert_int_equal(quota_use(kv, k.id, a.minute * 60, &u), RELAY_OK);
	assert_int_equal(u.minute_requests, 1);
	assert_int_equal(u.minute_tokens, 40);
	assert_int_equal(u.day_tokens, 40);
	assert_int_equal(u.month_micro_usd, 1500);
	assert_int_equal(u.in_flight, 0);
	kv_free(kv);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_rpm_exact_under_race),
	    cmocka_unit_test(test_concurrency_slots),
	    cmocka_unit_test(test_tpm_settle_to_actual),
	    cmocka_unit_test(test_tpm_refusal_gives_back),
	    cmocka_unit_test(test_daily_and_budget_refusals),
	    cmocka_unit_test(test_settle_twice),
	    cmocka_unit_test(test_reservation_never_wraps),
	    cmocka_unit_test(test_settle_absurd_usage),
	    cmocka_unit_test(test_limit_extremes),
	    cmocka_unit_test(test_dead_memcached),
	    cmocka_unit_test(test_quota_what),
	    cmocka_unit_test(test_use_view),
	};

	/* quota.c allocates nothing itself (libmemcached is not ours to
	 * fail): nothing to torture. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	log_init("test_quota", LOG_LVL_ERROR);
	return cmocka_run_group_tests_name("quota", cases, mc_start, mc_stop) !=
	    0;
}
