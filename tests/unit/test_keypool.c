/* SPDX-License-Identifier: MIT */
/* test_keypool.c - unit tests for lib/keypool.c against a real memcached
 * that the test starts on a free loopback port (skipped when none is
 * installed): a benched key is skipped and only it, why every key rests
 * (auth or rate limit), one re-check at a time of a benched key, the
 * operator's report (fingerprints, never keys), a dead memcached. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
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

#include "../../lib/keypool.c"

#include "memcached_test.h"
#include "oom_test.h"

static const struct config_keypool kconf = {600, 30};

static struct kv *
kv_connect(void)
{
	char *servers[1] = {mc_addr};
	char eb[256];
	struct kv *kv;

	if (mc_pid <= 0)
		skip();
	kv = kv_new(servers, 1, 2000, 4, eb, sizeof(eb));
	assert_non_null(kv);
	return kv;
}

/* A provider of this run and case (reruns never share memcached state)
 * with the keys given; no stored credentials. */
struct fixture {
	struct config_provider p;
	char name[64];
	char *keys[3];
	struct creds_store *st;
	struct creds_snap *cs;
};

static void
fixture_init(struct fixture *f, const char *tag, size_t nkeys)
{
	static char k0[] = "sk-test-key-zero-0000",
		    k1[] = "sk-test-key-one-1111",
		    k2[] = "sk-test-key-two-2222";
	struct creds_master m;

	memset(f, 0, sizeof(*f));
	memset(&m, 0, sizeof(m));
	snprintf(f->name, sizeof(f->name), "p%ld-%s", (long)getpid(), tag);
	f->keys[0] = k0;
	f->keys[1] = k1;
	f->keys[2] = k2;
	f->p.name = f->name;
	f->p.keys = f->keys;
	f->p.nkeys = nkeys;
	f->st = creds_store_new("/nonexistent/credentials.json", &m);
	assert_non_null(f->st);
	f->cs = creds_acquire(f->st);
}

static void
fixture_free(struct fixture *f)
{
	creds_release(f->cs);
	creds_store_free(f->st);
}

static void
fp_of(const char *key, char fp[17])
{
	keypool_fingerprint(key, fp);
}

/* Pick n times; the number of picks that chose key. */
static int
picks_of(struct kv *kv, struct fixture *f, const char *key, int n)
{
	struct keypool_choice kc;
	int i, hits = 0;

	for (i = 0; i < n; i++) {
		assert_int_equal(
		    keypool_pick(kv, &f->p, f->cs, &kconf, "", &kc), RELAY_OK);
		assert_non_null(kc.key);
		if (strcmp(kc.key, key) == 0)
			hits++;
	}
	return hits;
}

static void
test_rest_parse(void **state)
{
	struct rest r;

	(void)state;
	rest_parse("1100", 1000, &r);
	assert_int_equal(r.left, 100);
	assert_int_equal(r.why, KEYPOOL_RATE_LIMITED);
	rest_parse("1100 rate_limited 1000", 1000, &r);
	assert_int_equal(r.why, KEYPOOL_RATE_LIMITED);
	rest_parse("1600 auth 1030", 1000, &r);
	assert_int_equal(r.left, 600);
	assert_int_equal(r.why, KEYPOOL_AUTH);
	assert_int_equal(r.recheck_at, 1030);
	rest_parse("900 auth 930", 1000, &r); /* over */
	assert_int_equal(r.left, 0);
	rest_parse("garbage", 1000, &r);
	assert_int_equal(r.left, 0);
	rest_parse("99999999999999999999 auth 1", 1000, &r);
	assert_int_equal(r.left, 0);
}

/* The bench of one key leaves the other keys serving. */
static void
test_bench_only_that_key(void **state)
{
	struct kv *kv = kv_connect();
	struct fixture f;
	char fp0[17];

	(void)state;
	fixture_init(&f, "only", 2);
	assert_int_equal(picks_of(kv, &f, f.keys[0], 8), 4);
	fp_of(f.keys[0], fp0);
	keypool_bench(kv, &kconf, f.name, fp0, 401);
	assert_int_equal(picks_of(kv, &f, f.keys[0], 8), 0);
	assert_int_equal(picks_of(kv, &f, f.keys[1], 8), 8);
	fixture_free(&f);
	kv_free(kv);
}

/* Every key out: all_auth says whether only refusals put them there. */
static void
test_all_out_why(void **state)
{
	struct kv *kv = kv_connect();
	struct keypool_choice kc;
	struct fixture f;
	char fp0[17], fp1[17];

	(void)state;
	fixture_init(&f, "why", 2);
	fp_of(f.keys[0], fp0);
	fp_of(f.keys[1], fp1);
	keypool_bench(kv, &kconf, f.name, fp0, 401);
	/* The other key, avoided by a request it refused: none left. */
	assert_int_equal(
	    keypool_pick(kv, &f.p, f.cs, &kconf, fp1, &kc), RELAY_ENOTFOUND);
	assert_true(kc.all_auth);
	assert_null(kc.key);
	keypool_bench(kv, &kconf, f.name, fp1, 403);
	assert_int_equal(
	    keypool_pick(kv, &f.p, f.cs, &kconf, "", &kc), RELAY_ENOTFOUND);
	assert_true(kc.all_auth);
	assert_in_range(kc.wait_s, 590, 600);
	/* A 429 on one: a real rate limit, with its own wait. */
	keypool_rest(kv, f.name, fp1, 20);
	assert_int_equal(
	    keypool_pick(kv, &f.p, f.cs, &kconf, "", &kc), RELAY_ENOTFOUND);
	assert_false(kc.all_auth);
	assert_in_range(kc.wait_s, 18, 20);
	fixture_free(&f);
	kv_free(kv);
}

/* Past the re-check time one caller (and only one) gets the benched key
 * as a probe; a good probe puts it back. */
static void
test_recheck_probe(void **state)
{
	struct kv *kv = kv_connect();
	struct keypool_choice kc;
	struct fixture f;
	char fp0[17], fp1[17], key[KV_KEY_MAX + 1], val[64];
	int n, i, probes = 0;

	(void)state;
	fixture_init(&f, "probe", 2);
	fp_of(f.keys[0], fp0);
	fp_of(f.keys[1], fp1);
	/* Benched 600 s, re-check due a second ago. */
	kp_key(key, sizeof(key), "kp", f.name, fp0);
	n = snprintf(val, sizeof(val), "%lld auth %lld",
	    (long long)time(NULL) + 600, (long long)time(NULL) - 1);
	assert_int_equal(kv_set(kv, key, val, (size_t)n, 600), RELAY_OK);
	for (i = 0; i < 10; i++) {
		assert_int_equal(keypool_pick(kv, &f.p, f.cs, &kconf, fp1, &kc),
		    i == 0 ? RELAY_OK : RELAY_ENOTFOUND);
		probes += kc.probe;
	}
	assert_int_equal(probes, 1);
	/* Still benched for everyone else until the probe reports. */
	assert_int_equal(picks_of(kv, &f, f.keys[0], 6), 0);
	keypool_unbench(kv, f.name, fp0);
	assert_int_equal(picks_of(kv, &f, f.keys[0], 8), 4);
	fixture_free(&f);
	kv_free(kv);
}

/* Benched and not yet due: no probe. */
static void
test_no_probe_before_recheck(void **state)
{
	struct kv *kv = kv_connect();
	struct keypool_choice kc;
	struct fixture f;
	char fp0[17], fp1[17];

	(void)state;
	fixture_init(&f, "early", 2);
	fp_of(f.keys[0], fp0);
	fp_of(f.keys[1], fp1);
	keypool_bench(kv, &kconf, f.name, fp0, 401);
	assert_int_equal(
	    keypool_pick(kv, &f.p, f.cs, &kconf, fp1, &kc), RELAY_ENOTFOUND);
	assert_false(kc.probe);
	fixture_free(&f);
	kv_free(kv);
}

/* One key: no state is looked up, its own answer is the truth. */
static void
test_single_key_never_benched(void **state)
{
	struct kv *kv = kv_connect();
	struct keypool_choice kc;
	struct fixture f;
	char fp0[17];

	(void)state;
	fixture_init(&f, "single", 1);
	fp_of(f.keys[0], fp0);
	keypool_bench(kv, &kconf, f.name, fp0, 401);
	assert_int_equal(
	    keypool_pick(kv, &f.p, f.cs, &kconf, "", &kc), RELAY_OK);
	assert_string_equal(kc.key, f.keys[0]);
	fixture_free(&f);
	kv_free(kv);
}

/* The report names fingerprints and reasons, never a key. */
static void
test_report(void **state)
{
	struct kv *kv = kv_connect();
	struct config cfg;
	struct fixture f;
	char fp0[17], fp1[17];
	struct buf b;

	(void)state;
	fixture_init(&f, "rep\"q", 3);
	memset(&cfg, 0, sizeof(cfg));
	cfg.providers = &f.p;
	cfg.nproviders = 1;
	fp_of(f.keys[0], fp0);
	fp_of(f.keys[1], fp1);
	keypool_bench(kv, &kconf, f.name, fp0, 401);
	keypool_rest(kv, f.name, fp1, 30);
	buf_init(&b, 1 << 20);
	assert_int_equal(keypool_report(kv, &cfg, f.cs, 0, &b), RELAY_OK);
	assert_non_null(strstr(b.data, fp0));
	assert_non_null(strstr(b.data, "\"reason\":\"auth\""));
	assert_non_null(strstr(b.data, "\"reason\":\"rate_limited\""));
	assert_null(strstr(b.data, "sk-test"));
	assert_int_equal(b.data[0], '[');
	buf_clear(&b);
	assert_int_equal(keypool_report(kv, &cfg, f.cs, 1, &b), RELAY_OK);
	assert_non_null(strstr(b.data,
	    "# TYPE relay_upstream_key_benched_"
	    "seconds gauge"));
	assert_non_null(strstr(b.data, "provider=\"p"));
	assert_non_null(strstr(b.data, "-rep\\\"q\",key=\""));
	assert_non_null(strstr(b.data, fp0));
	assert_non_null(strstr(b.data, "reason=\"auth\"} "));
	assert_null(strstr(b.data, "sk-test"));
	buf_reset(&b);
	fixture_free(&f);
	kv_free(kv);
}

/* memcached gone: keys are used as if fine, nothing is reported. */
static void
test_dead_memcached(void **state)
{
	char addr[] = "127.0.0.1:1", eb[256];
	char *servers[1] = {addr};
	struct kv *kv = kv_new(servers, 1, 200, 2, eb, sizeof(eb));
	struct keypool_choice kc;
	struct config cfg;
	struct fixture f;
	char fp0[17];
	struct buf b;

	(void)state;
	assert_non_null(kv);
	fixture_init(&f, "dead", 3);
	fp_of(f.keys[0], fp0);
	keypool_bench(kv, &kconf, f.name, fp0, 401);
	assert_int_equal(
	    keypool_pick(kv, &f.p, f.cs, &kconf, "", &kc), RELAY_OK);
	assert_non_null(kc.key);
	/* The report: empty, after one failed lookup (not one per key). */
	memset(&cfg, 0, sizeof(cfg));
	cfg.providers = &f.p;
	cfg.nproviders = 1;
	buf_init(&b, 1024);
	assert_int_equal(keypool_report(kv, &cfg, f.cs, 0, &b), RELAY_OK);
	assert_string_equal(b.data, "[]");
	buf_reset(&b);
	fixture_free(&f);
	kv_free(kv);
}

/* Allocation failures: the report fails cleanly or succeeds, never
 * leaks (ASan at exit). */
static void
test_report_oom(void **state)
{
	char *servers[1] = {mc_addr};
	struct creds_master m;
	struct creds_store *st;
	struct creds_snap *cs;
	struct config cfg;
	struct kv *kv;
	char eb[256], fp0[17];
	char k0[] = "sk-oom-key-0", k1[] = "sk-oom-key-1";
	char *keys[2] = {k0, k1}, name[64];
	struct config_provider p;
	enum relay_err err;
	struct buf b;

	(void)state;
	if (mc_pid <= 0)
		skip();
	memset(&m, 0, sizeof(m));
	memset(&p, 0, sizeof(p));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(name, sizeof(name), "oom%ld", (long)getpid());
	p.name = name;
	p.keys = keys;
	p.nkeys = 2;
	cfg.providers = &p;
	cfg.nproviders = 1;
	kv = kv_new(servers, 1, 2000, 2, eb, sizeof(eb));
	st = creds_store_new("/nonexistent/credentials.json", &m);
	if (kv != NULL && st != NULL) {
		cs = creds_acquire(st);
		keypool_fingerprint(k0, fp0);
		keypool_bench(kv, &kconf, name, fp0, 401);
		buf_init(&b, 1 << 20);
		err = keypool_report(kv, &cfg, cs, 0, &b);
		assert_true(err == RELAY_OK || err == RELAY_ENOMEM);
		buf_reset(&b);
		creds_release(cs);
	}
	creds_store_free(st);
	kv_free(kv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rest_parse),
	    cmocka_unit_test(test_bench_only_that_key),
	    cmocka_unit_test(test_all_out_why),
	    cmocka_unit_test(test_recheck_probe),
	    cmocka_unit_test(test_no_probe_before_recheck),
	    cmocka_unit_test(test_single_key_never_benched),
	    cmocka_unit_test(test_report),
	    cmocka_unit_test(test_dead_memcached),
	    OOM_CASE(test_report_oom),
	};

	oom_init();
	if (oom_n != 0) {
		const struct CMUnitTest torture[] = {OOM_CASE(test_report_oom)};

		return oom_exit(
		    cmocka_run_group_tests(torture, mc_start, mc_stop));
	}
	return oom_exit(cmocka_run_group_tests(tests, mc_start, mc_stop));
}
