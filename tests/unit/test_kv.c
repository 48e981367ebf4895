/* SPDX-License-Identifier: MIT */
/* test_kv.c - unit tests for lib/kv.c against a real memcached that the
 * test starts on a free loopback port (skipped when none is installed). */
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

#include "../../lib/kv.h"
#include "../../lib/loop.h"
#include "../../lib/mem.h"

#include "memcached_test.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

static struct kv *
kv_connect(void)
{
	char *servers[1] = {mc_addr};
	char eb[256];
	struct kv *kv;

	if (mc_pid <= 0)
		skip();
	kv = kv_new(servers, 1, 2000, 8, eb, sizeof(eb));
	assert_non_null(kv);
	return kv;
}

/* A key of this test run, so reruns never see old values. */
static const char *
key(const char *name, char *out, size_t outsz)
{
	snprintf(out, outsz, "relay-test:%ld:%s", (long)getpid(), name);
	return out;
}

static void
test_set_get_delete(void **state)
{
	struct kv *kv = kv_connect();
	struct buf b;
	char k[128], why[256];

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(kv_ping(kv, why, sizeof(why)), RELAY_OK);
	key("a", k, sizeof(k));
	assert_int_equal(kv_set(kv, k, "va\0lue", 6, 60), RELAY_OK);
	assert_int_equal(kv_get(kv, k, &b), RELAY_OK);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "va\0lue", 6);
	/* kv_get appends. */
	assert_int_equal(kv_get(kv, k, &b), RELAY_OK);
	assert_int_equal(b.len, 12);
	assert_int_equal(kv_set(kv, k, "x", 1, 0), RELAY_OK);
	buf_clear(&b);
	assert_int_equal(kv_get(kv, k, &b), RELAY_OK);
	assert_string_equal(b.data, "x");
	assert_int_equal(kv_delete(kv, k), RELAY_OK);
	buf_clear(&b);
	assert_int_equal(kv_get(kv, k, &b), RELAY_ENOTFOUND);
	assert_int_equal(b.len, 0);
	assert_int_equal(kv_delete(kv, k), RELAY_OK); /* missing: fine */
	buf_reset(&b);
	kv_free(kv);
}

/* kv_mget: several keys in one call, the missing ones said so. */
static void
test_mget(void **state)
{
	struct kv *kv = kv_connect();
	char k[3][128];
	const char *keys[3] = {key("m0", k[0], sizeof(k[0])),
	    key("m1", k[1], sizeof(k[1])), key("m2", k[2], sizeof(k[2]))};
	struct buf out[3];
	int found[3], i;

	(void)state;
	for (i = 0; i < 3; i++)
		buf_init(&out[i], 1024);
	assert_int_equal(kv_set(kv, keys[0], "zero", 4, 60), RELAY_OK);
	assert_int_equal(kv_delete(kv, keys[1]), RELAY_OK);
	assert_int_equal(kv_set(kv, keys[2], "two", 3, 60), RELAY_OK);
	assert_int_equal(kv_mget(kv, keys, 3, out, found), RELAY_OK);
	assert_int_equal(found[0], 1);
	assert_int_equal(found[1], 0);
	assert_int_equal(found[2], 1);
	assert_string_equal(out[0].data, "zero");
	assert_int_equal(out[1].len, 0);
	assert_string_equal(out[2].data, "two");
	/* Twice in a row on the same pooled connection: nothing left over. */
	for (i = 0; i < 3; i++)
		buf_clear(&out[i]);
	assert_int_equal(kv_mget(kv, keys, 3, out, found), RELAY_OK);
	assert_string_equal(out[2].data, "two");
	assert_int_equal(kv_mget(kv, keys, 0, out, found), RELAY_OK);
	for (i = 0; i < 3; i++)
		buf_reset(&out[i]);
	kv_free(kv);
}

static void
test_get_into_small_buffer(void **state)
{
	struct kv *kv = kv_connect();
	struct buf b;
	char k[128];

	(void)state;
	buf_init(&b, 4);
	key("big", k, sizeof(k));
	assert_int_equal(kv_set(kv, k, "0123456789", 10, 60), RELAY_OK);
	assert_int_equal(kv_get(kv, k, &b), RELAY_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(kv_delete(kv, k), RELAY_OK);
	buf_reset(&b);
	kv_free(kv);
}

static void
test_add(void **state)
{
	struct kv *kv = kv_connect();
	struct buf b;
	char k[128];
	int stored = -1;

	(void)state;
	buf_init(&b, 64);
	key("add", k, sizeof(k));
	assert_int_equal(kv_add(kv, k, "first", 5, 60, &stored), RELAY_OK);
	assert_int_equal(stored, 1);
	assert_int_equal(kv_add(kv, k, "second", 6, 60, &stored), RELAY_OK);
	assert_int_equal(stored, 0);
	assert_int_equal(kv_get(kv, k, &b), RELAY_OK);
	assert_string_equal(b.data, "first");
	assert_int_equal(kv_delete(kv, k), RELAY_OK);
	buf_reset(&b);
	kv_free(kv);
}

static void
test_incr_decr(void **state)
{
	struct kv *kv = kv_connect();
	uint64_t v = 0;
	char k[128];

	(void)state;
	key("ctr", k, sizeof(k));
	/* Created at delta when absent, then incremented. */
	assert_int_equal(kv_incr(kv, k, 5, 60, &v), RELAY_OK);
	assert_int_equal(v, 5);
	assert_int_equal(kv_incr(kv, k, 1, 60, &v), RELAY_OK);
	assert_int_equal(v, 6);
	assert_int_equal(kv_decr(kv, k, 2, &v), RELAY_OK);
	assert_int_equal(v, 4);
	/* decr stops at 0. */
	assert_int_equal(kv_decr(kv, k, 100, &v), RELAY_OK);
	assert_int_equal(v, 0);
	/* The meta protocol's deltas are 64 bits (libmemcached's were 32). */
	assert_int_equal(
	    kv_incr(kv, k, (uint64_t)UINT32_MAX + 1, 60, &v), RELAY_OK);
	assert_true(v == (uint64_t)UINT32_MAX + 1);
	assert_int_equal(kv_delete(kv, k), RELAY_OK);
	assert_int_equal(kv_decr(kv, k, 1, &v), RELAY_ENOTFOUND);
	kv_free(kv);
}

struct incr_job {
	struct kv *kv;
	const char *key;
	int failures;
};

static void *
incr_worker(void *arg)
{
	struct incr_job *job = arg;
	uint64_t v;
	int i;

	for (i = 0; i < 1000; i++)
		if (kv_incr(job->kv, job->key, 1, 60, &v) != RELAY_OK)
			job->failures++;
	return NULL;
}

static void
test_incr_concurrent_exact(void **state)
{
	struct kv *kv = kv_connect();
	struct incr_job jobs[8];
	pthread_t th[8];
	uint64_t v = 0;
	char k[128];
	int i;

	(void)state;
	key("race", k, sizeof(k));
	assert_int_equal(kv_delete(kv, k), RELAY_OK);
	/* All 8 threads race on creating the counter, then on incrementing. */
	for (i = 0; i < 8; i++) {
		jobs[i] = (struct incr_job){kv, k, 0};
		assert_int_equal(
		    pthread_create(&th[i], NULL, incr_worker, &jobs[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].failures, 0);
	}
	assert_int_equal(kv_incr(kv, k, 0, 60, &v), RELAY_OK);
	assert_int_equal(v, 8000);
	assert_int_equal(kv_delete(kv, k), RELAY_OK);
	kv_free(kv);
}

/* kv_incr_many(): made at delta when absent, added to when present, in
 * the same counters kv_incr() and kv_get() see. */
static void
test_incr_many(void **state)
{
	struct kv *kv = kv_connect();
	char a[128], b[128], c[128], bad[] = "has space";
	struct kv_incr ops[3];
	struct buf got;
	uint64_t v = 0;

	(void)state;
	key("many-a", a, sizeof(a));
	key("many-b", b, sizeof(b));
	key("many-c", c, sizeof(c));
	assert_int_equal(kv_delete(kv, a), RELAY_OK);
	assert_int_equal(kv_delete(kv, b), RELAY_OK);
	assert_int_equal(kv_delete(kv, c), RELAY_OK);
	assert_int_equal(kv_incr(kv, c, 40, 60, &v), RELAY_OK);
	ops[0] = (struct kv_incr){a, 1, 60, 0};
	ops[1] = (struct kv_incr){b, 5000000000ULL, 60, 0};
	ops[2] = (struct kv_incr){c, 2, 60, 0};
	assert_int_equal(kv_incr_many(kv, ops, 3), RELAY_OK);
	assert_int_equal(ops[0].value, 1);
	assert_int_equal(ops[1].value, 5000000000ULL);
	assert_int_equal(ops[2].value, 42);
	assert_int_equal(kv_incr_many(kv, ops, 3), RELAY_OK);
	assert_int_equal(ops[0].value, 2);
	assert_int_equal(ops[1].value, 10000000000ULL);
	assert_int_equal(ops[2].value, 44);
	buf_init(&got, 32);
	assert_int_equal(kv_get(kv, a, &got), RELAY_OK);
	assert_int_equal(got.len, 1);
	assert_memory_equal(got.data, "2", 1);
	buf_reset(&got);
	assert_int_equal(kv_incr(kv, c, 1, 60, &v), RELAY_OK);
	assert_int_equal(v, 45);
	/* A key the protocol cannot carry is refused before anything is
	 * sent; so is a batch over the limit. */
	ops[1].key = bad;
	assert_int_equal(kv_incr_many(kv, ops, 3), RELAY_EINVAL);
	assert_int_equal(
	    kv_incr_many(kv, ops, RELAY_KV_MGET_MAX + 1), RELAY_EINVAL);
	assert_int_equal(kv_incr(kv, a, 0, 60, &v), RELAY_OK);
	assert_int_equal(v, 2);
	/* A value that is not a number: an error, not a hang. */
	assert_int_equal(kv_set(kv, c, "xyz", 3, 60), RELAY_OK);
	ops[1].key = b;
	assert_int_equal(kv_incr_many(kv, ops, 3), RELAY_ECACHE);
	/* The connection that saw the error was dropped: the next works. */
	assert_int_equal(kv_incr_many(kv, ops, 2), RELAY_OK);
	assert_int_equal(ops[0].value, 4);
	assert_int_equal(kv_incr_many(kv, ops, 0), RELAY_OK);
	assert_int_equal(kv_delete(kv, a), RELAY_OK);
	assert_int_equal(kv_delete(kv, b), RELAY_OK);
	assert_int_equal(kv_delete(kv, c), RELAY_OK);
	kv_free(kv);
}

struct many_job {
	struct kv *kv;
	const char *k1, *k2;
	int failures;
};

static void *
many_worker(void *arg)
{
	struct many_job *j = arg;
	struct kv_incr ops[2];
	int i;

	for (i = 0; i < 500; i++) {
		ops[0] = (struct kv_incr){j->k1, 1, 60, 0};
		ops[1] = (struct kv_incr){j->k2, 3, 60, 0};
		if (kv_incr_many(j->kv, ops, 2) != RELAY_OK)
			j->failures++;
	}
	return NULL;
}

/* 8 threads racing on creating and adding to two counters lose nothing. */
static void
test_incr_many_concurrent_exact(void **state)
{
	struct kv *kv = kv_connect();
	struct many_job jobs[8];
	pthread_t th[8];
	char k1[128], k2[128];
	uint64_t v = 0;
	int i;

	(void)state;
	key("many-race-1", k1, sizeof(k1));
	key("many-race-2", k2, sizeof(k2));
	assert_int_equal(kv_delete(kv, k1), RELAY_OK);
	assert_int_equal(kv_delete(kv, k2), RELAY_OK);
	for (i = 0; i < 8; i++) {
		jobs[i] = (struct many_job){kv, k1, k2, 0};
		assert_int_equal(
		    pthread_create(&th[i], NULL, many_worker, &jobs[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].failures, 0);
	}
	assert_int_equal(kv_incr(kv, k1, 0, 60, &v), RELAY_OK);
	assert_int_equal(v, 4000);
	assert_int_equal(kv_incr(kv, k2, 0, 60, &v), RELAY_OK);
	assert_int_equal(v, 12000);
	assert_int_equal(kv_delete(kv, k1), RELAY_OK);
	assert_int_equal(kv_delete(kv, k2), RELAY_OK);
	kv_free(kv);
}

/* On the loop runtime: 200 coroutines of one loop thread, each adding to
 * two counters 10 times, over a kv whose pool holds one libmemcached
 * handle. The exchanges yield to the loop while memcached answers; no
 * coroutine may park holding the handle (the others would wait for it on
 * the thread it needs), and nothing is lost. */
struct loop_job {
	struct kv *kv;
	const char *k1, *k2;
	int *failures;
	int *parked; /* a coroutine gave the thread up mid-exchange */
};

static void
loop_worker(void *arg)
{
	struct loop_job *j = arg;
	struct kv_incr ops[2];
	int i;

	for (i = 0; i < 10; i++) {
		ops[0] = (struct kv_incr){j->k1, 1, 60, 0};
		ops[1] = (struct kv_incr){j->k2, 3, 60, 0};
		if (kv_incr_many(j->kv, ops, 2) != RELAY_OK)
			(*j->failures)++;
	}
}

static void
loop_watcher(void *arg)
{
	int *turns = arg;

	/* Counts loop turns while the workers run: more than a handful
	 * means they waited in the loop, not in poll(2). */
	while (*turns >= 0 && *turns < 100000) {
		(*turns)++;
		loop_yield();
		if (loop_coros(loop_current()) == 1)
			break;
	}
}

static void
test_incr_many_on_loop(void **state)
{
	char *servers[1] = {mc_addr};
	char eb[256], k1[128], k2[128];
	static struct loop_job jobs[200];
	struct loop *l;
	struct kv *kv;
	uint64_t v = 0;
	int failures = 0, turns = 0, i;

	(void)state;
	if (mc_pid <= 0)
		skip();
	kv = kv_new(servers, 1, 2000, 1, eb, sizeof(eb));
	assert_non_null(kv);
	l = loop_new();
	assert_non_null(l);
	key("loop-1", k1, sizeof(k1));
	key("loop-2", k2, sizeof(k2));
	assert_int_equal(kv_delete(kv, k1), RELAY_OK);
	assert_int_equal(kv_delete(kv, k2), RELAY_OK);
	for (i = 0; i < 200; i++) {
		jobs[i] = (struct loop_job){kv, k1, k2, &failures, NULL};
		assert_int_equal(
		    loop_spawn(l, loop_worker, &jobs[i], 64 * 1024), RELAY_OK);
	}
	assert_int_equal(
	    loop_spawn(l, loop_watcher, &turns, 64 * 1024), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(failures, 0);
	/* Under valgrind the client is so slow that memcached's answer is
	 * there before its first read: nothing is left to wait for.
	 * test_ops_yield_on_loop shows the waits go through the loop
	 * whatever the speed. */
	if (!RUNNING_ON_VALGRIND)
		assert_true(turns > 10);
	assert_int_equal(kv_incr(kv, k1, 0, 60, &v), RELAY_OK);
	assert_int_equal(v, 2000);
	assert_int_equal(kv_incr(kv, k2, 0, 60, &v), RELAY_OK);
	assert_int_equal(v, 6000);
	assert_int_equal(kv_delete(kv, k1), RELAY_OK);
	assert_int_equal(kv_delete(kv, k2), RELAY_OK);
	loop_free(l);
	kv_free(kv);
}

/* A memcached that accepts and never answers (a frozen one). */
struct frozen {
	struct kv *kv;
	enum relay_err err[5];
	int ticks; /* the other coroutine's, while the ops waited */
	int done;
};

static void
frozen_ops(void *arg)
{
	struct frozen *f = arg;
	struct buf b;
	uint64_t v;
	int stored;
	const char *keys[1] = {"k"};
	int found[1];

	buf_init(&b, 1024);
	f->err[0] = kv_get(f->kv, "k", &b);
	f->err[1] = kv_set(f->kv, "k", "v", 1, 0);
	f->err[2] = kv_add(f->kv, "k", "v", 1, 0, &stored);
	f->err[3] = kv_incr(f->kv, "k", 1, 0, &v);
	f->err[4] = kv_mget(f->kv, keys, 1, &b, found);
	buf_reset(&b);
	f->done = 1;
}

static void
frozen_ticker(void *arg)
{
	struct frozen *f = arg;

	while (!f->done) {
		loop_nap(10);
		f->ticks++;
	}
}

/* Every operation on the loop runtime waits in the loop: against a
 * memcached that never answers, each ends at its timeout with
 * RELAY_ECACHE while the loop's other coroutines go on (a blocking call
 * would hold the thread for 5 x 100 ms: no tick meanwhile). */
static void
test_ops_yield_on_loop(void **state)
{
	struct sockaddr_in sa = {0};
	socklen_t sl = sizeof(sa);
	char addr[64], eb[256], *servers[1] = {addr};
	struct frozen f = {0};
	struct loop *l;
	int lfd, i;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	f.kv = kv_new(servers, 1, 100, 1, eb, sizeof(eb));
	assert_non_null(f.kv);
	l = loop_new();
	assert_non_null(l);
	assert_int_equal(loop_spawn(l, frozen_ops, &f, 64 * 1024), RELAY_OK);
	assert_int_equal(loop_spawn(l, frozen_ticker, &f, 64 * 1024), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	for (i = 0; i < 5; i++)
		assert_int_equal(f.err[i], RELAY_ECACHE);
	print_message("5 ops against a frozen memcached (100 ms each): "
		      "%d ticks of 10 ms meanwhile\n",
	    f.ticks);
	assert_true(f.ticks >= 20);
	loop_free(l);
	kv_free(f.kv);
	close(lfd);
}

/* kv_nudge(): fire-and-forget changes land, in order, before what
 * kv_incr_many() reads next on the same connection (a lone thread gets
 * the same one back); answers nobody waited for (NF for a missing key)
 * are skipped, also past the point where a connection stops to read
 * them (RELAY_KV_OWED_MAX). */
static void
test_nudge(void **state)
{
	struct kv *kv = kv_connect();
	struct kv_nudge ops[3];
	struct kv_incr rd[2];
	char a[128], b[128], gone[128];
	uint64_t v = 0;
	int i;

	(void)state;
	key("nudge-a", a, sizeof(a));
	key("nudge-b", b, sizeof(b));
	key("nudge-gone", gone, sizeof(gone));
	assert_int_equal(kv_delete(kv, gone), RELAY_OK);
	assert_int_equal(kv_set(kv, a, "10", 2, 60), RELAY_OK);
	assert_int_equal(kv_set(kv, b, "10", 2, 60), RELAY_OK);
	ops[0] = (struct kv_nudge){a, 4, 1};
	ops[1] = (struct kv_nudge){b, 3, 0};
	ops[2] = (struct kv_nudge){gone, 1, 0}; /* missing: no harm */
	assert_int_equal(kv_nudge(kv, ops, 3), RELAY_OK);
	rd[0] = (struct kv_incr){a, 0, 60, 0};
	rd[1] = (struct kv_incr){b, 0, 60, 0};
	assert_int_equal(kv_incr_many(kv, rd, 2), RELAY_OK);
	assert_int_equal(rd[0].value, 14);
	assert_int_equal(rd[1].value, 7);
	for (i = 0; i < 100; i++)
		assert_int_equal(kv_nudge(kv, ops, 3), RELAY_OK);
	assert_int_equal(kv_incr_many(kv, rd, 2), RELAY_OK);
	assert_int_equal(rd[0].value, 414);
	assert_int_equal(rd[1].value, 0); /* decr stops at 0 */
	/* Nothing was created for the missing key, and libmemcached's own
	 * connections are not touched. */
	assert_int_equal(kv_decr(kv, gone, 1, &v), RELAY_ENOTFOUND);
	assert_int_equal(kv_incr(kv, a, 1, 60, &v), RELAY_OK);
	assert_int_equal(v, 415);
	assert_int_equal(kv_nudge(kv, ops, 0), RELAY_OK);
	assert_int_equal(kv_delete(kv, a), RELAY_OK);
	assert_int_equal(kv_delete(kv, b), RELAY_OK);
	kv_free(kv);
}

/* The answer parser alone: whole, partial, refused and garbage input. */
static void
test_meta_parse(void **state)
{
	uint64_t v[4];
	size_t used;
	const char *two = "VA 1\r\n5\r\nVA 11 t60\r\n12345678901\r\n";

	(void)state;
	assert_int_equal(kv_meta_parse(two, strlen(two), v, 2, &used), 2);
	assert_int_equal(used, strlen(two));
	assert_int_equal(v[0], 5);
	assert_int_equal(v[1], 12345678901ULL);
	/* Every cut short of the end: fewer answers, never an error. */
	for (size_t n = 0; n < strlen(two); n++) {
		int k = kv_meta_parse(two, n, v, 2, &used);

		assert_true(k == 0 || k == 1);
		assert_int_equal(used, k == 1 ? 9 : 0);
	}
	assert_int_equal(kv_meta_parse(two, strlen(two), v, 1, &used), 1);
	assert_int_equal(used, 9);
	assert_int_equal(kv_meta_parse("NF\r\n", 4, v, 1, &used), -1);
	assert_int_equal(kv_meta_parse("NS\r\n", 4, v, 1, &used), -1);
	assert_int_equal(kv_meta_parse("ERROR\r\n", 7, v, 1, &used), -1);
	assert_int_equal(
	    kv_meta_parse("SERVER_ERROR out of memory\r\n", 28, v, 1, &used),
	    -1);
	assert_int_equal(kv_meta_parse("VA 2\r\n5x\r\n", 10, v, 1, &used), -1);
	assert_int_equal(kv_meta_parse("VA 1\r\n5\n\n", 9, v, 1, &used), -1);
	assert_int_equal(kv_meta_parse("VA 0\r\n\r\n", 8, v, 1, &used), -1);
	assert_int_equal(kv_meta_parse("VA 21\r\n", 7, v, 1, &used), -1);
	assert_int_equal(kv_meta_parse("VA 1\n5\r\n", 8, v, 1, &used), -1);
	assert_int_equal(
	    kv_meta_parse("VA 20\r\n18446744073709551616\r\n", 29, v, 1, &used),
	    -1);
	assert_int_equal(
	    kv_meta_parse("VA 20\r\n18446744073709551615\r\n", 29, v, 1, &used),
	    1);
	assert_true(v[0] == UINT64_MAX);
}

static void
test_closed_port_fails_fast(void **state)
{
	char addr[64], *servers[1] = {addr};
	char eb[256], why[256];
	struct kv *kv;
	struct buf b;
	uint64_t v;
	double t0;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
	kv = kv_new(servers, 1, 250, 4, eb, sizeof(eb));
	assert_non_null(kv);
	buf_init(&b, 64);
	t0 = now_s();
	assert_int_equal(kv_get(kv, "k", &b), RELAY_ECACHE);
	assert_int_equal(kv_set(kv, "k", "v", 1, 0), RELAY_ECACHE);
	assert_int_equal(kv_incr(kv, "k", 1, 0, &v), RELAY_ECACHE);
	{
		struct kv_incr op = {"k", 1, 0, 0};
		struct kv_nudge nop = {"k", 1, 1};

		assert_int_equal(kv_incr_many(kv, &op, 1), RELAY_ECACHE);
		assert_int_equal(kv_nudge(kv, &nop, 1), RELAY_ECACHE);
	}
	assert_int_equal(kv_ping(kv, why, sizeof(why)), RELAY_ECACHE);
	assert_true(strlen(why) > 0);
	assert_true(now_s() - t0 < 1.0);
	buf_reset(&b);
	kv_free(kv);
}

static void
test_bad_servers(void **state)
{
	static const char *const bad[] = {
	    "localhost", "h:0", "h:65536", "h:x", ":11211", "h:"};
	char s[64], *servers[1] = {s};
	char eb[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s, sizeof(s), "%s", bad[i]);
		eb[0] = '\0';
		assert_null(kv_new(servers, 1, 250, 1, eb, sizeof(eb)));
		assert_non_null(strstr(eb, "bad memcached server"));
	}
	snprintf(s, sizeof(s), "[::1]:11211");
	kv_free(kv_new(servers, 1, 250, 1, eb, sizeof(eb)));
	kv_free(NULL);
}

/* --- oom-safe: kv_new's own allocations (libmemcached uses malloc) ----- */

static unsigned long oom_n;
static int oom_reached;

static void
test_new_under_pressure(void **state)
{
	char s[] = "127.0.0.1:1", *servers[1] = {s};
	char eb[256] = "";
	struct kv *kv;

	(void)state;
	if (oom_n != 0)
		mem_fail_after(oom_n);
	kv = kv_new(servers, 1, 250, 1, eb, sizeof(eb));
	if (oom_n != 0) {
		oom_reached = mem_count() >= oom_n;
		mem_fail_after(0);
	}
	if (kv == NULL)
		assert_string_equal(eb, "out of memory");
	else
		assert_true(oom_n == 0 || !oom_reached);
	kv_free(kv);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    cmocka_unit_test(test_new_under_pressure),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_set_get_delete),
	    cmocka_unit_test(test_get_into_small_buffer),
	    cmocka_unit_test(test_mget),
	    cmocka_unit_test(test_add),
	    cmocka_unit_test(test_incr_decr),
	    cmocka_unit_test(test_incr_concurrent_exact),
	    cmocka_unit_test(test_incr_many),
	    cmocka_unit_test(test_incr_many_concurrent_exact),
	    cmocka_unit_test(test_incr_many_on_loop),
	    cmocka_unit_test(test_ops_yield_on_loop),
	    cmocka_unit_test(test_nudge),
	    cmocka_unit_test(test_meta_parse),
	    cmocka_unit_test(test_closed_port_fails_fast),
	    cmocka_unit_test(test_bad_servers),
	};
	const char *env = getenv("RELAY_FAIL_ALLOC");
	int failed;

	for (; env != NULL && *env >= '0' && *env <= '9'; env++)
		oom_n = oom_n * 10 + (unsigned long)(*env - '0');
	failed =
	    cmocka_run_group_tests_name("kv (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("kv", cases, mc_start, mc_stop);
	if (failed != 0)
		return 1;
	return oom_n != 0 && !oom_reached ? 77 : 0;
}
