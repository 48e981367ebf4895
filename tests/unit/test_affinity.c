/* SPDX-License-Identifier: MIT */
/* test_affinity.c - unit tests for lib/affinity.c (and keypool_take):
 * where each agent names its session, the operator's header and body path
 * first, the record key (no session id in it, model apart), records
 * parsed strictly, a round trip through a real memcached (skipped when
 * none is installed), a resting key not taken, memcached trouble a miss. */
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

#include "../../lib/affinity.c"
#include "../../lib/creds.h"
#include "../../lib/keypool.h"

#include "memcached_test.h"
#include "oom_test.h"

static const struct config_keypool kconf = {600, 30};

/* Headers of a test request: "name: value" strings, NULL-terminated. */
static const char *
hdr_fake(void *ctx, const char *name)
{
	const char *const *h = ctx;
	size_t n = strlen(name);

	for (; *h != NULL; h++)
		if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
			return *h + n + 2;
	return NULL;
}

static int
session_of(const struct config_affinity *c, const char *body,
    const char *const *hdrs, char *out, size_t outsz)
{
	json_t *root = body != NULL ? json_loads(body, 0, NULL) : NULL;
	int r;

	r = affinity_session(c, root, hdr_fake, (void *)hdrs, out, outsz);
	json_decref(root);
	return r;
}

static void
test_session_sources(void **state)
{
	static const struct config_affinity none = {1, 60, {0}, {0}};
	static const char *const cc_h[] = {
	    "x-claude-code-session-id: cc-1", NULL};
	static const char *const codex_h[] = {"session_id: cx-1", NULL};
	static const char *const oc_h[] = {"x-session-affinity: oc-1", NULL};
	static const char *const no_h[] = {"x-other: z", NULL};
	char sid[64];

	(void)state;
	assert_int_equal(session_of(&none, "{}", cc_h, sid, sizeof(sid)), 1);
	assert_string_equal(sid, "cc-1");
	assert_int_equal(session_of(&none, "{}", codex_h, sid, sizeof(sid)), 1);
	assert_string_equal(sid, "cx-1");
	assert_int_equal(session_of(&none, "{}", oc_h, sid, sizeof(sid)), 1);
	assert_string_equal(sid, "oc-1");
	assert_int_equal(session_of(&none,
			     "{\"metadata\":{\"user_id\":\"user_ab_account__"
			     "session_42\"}}",
			     no_h, sid, sizeof(sid)),
	    1);
	assert_string_equal(sid, "user_ab_account__session_42");
	assert_int_equal(session_of(&none, "{\"prompt_cache_key\":\"pk-7\"}",
			     no_h, sid, sizeof(sid)),
	    1);
	assert_string_equal(sid, "pk-7");
	/* No session: nothing; an empty or non-string id is none. */
	assert_int_equal(session_of(&none,
			     "{\"prompt_cache_key\":\"\","
			     "\"metadata\":{\"user_id\":7}}",
			     no_h, sid, sizeof(sid)),
	    0);
	assert_int_equal(session_of(&none, NULL, no_h, sid, sizeof(sid)), 0);
	/* Truncated to the buffer, never overrun. */
	assert_int_equal(session_of(&none, "{}", cc_h, sid, 3), 1);
	assert_string_equal(sid, "cc");
}

static void
test_session_operator_first(void **state)
{
	char h0[] = "x-my-session", p0[] = "extra.conv.id";
	char *hv[1] = {h0}, *pv[1] = {p0};
	struct config_affinity c = {1, 60, {hv, 1}, {pv, 1}};
	static const char *const both[] = {
	    "x-claude-code-session-id: cc-1", "x-my-session: mine", NULL};
	static const char *const cc_h[] = {
	    "x-claude-code-session-id: cc-1", NULL};
	char sid[64];

	(void)state;
	assert_int_equal(session_of(&c, "{}", both, sid, sizeof(sid)), 1);
	assert_string_equal(sid, "mine");
	assert_int_equal(session_of(&c, "{\"extra\":{\"conv\":{\"id\":\"b\"}}}",
			     cc_h, sid, sizeof(sid)),
	    1);
	assert_string_equal(sid, "b");
	/* A path through a non-object is no match. */
	assert_int_equal(
	    session_of(&c, "{\"extra\":[1]}", cc_h, sid, sizeof(sid)), 1);
	assert_string_equal(sid, "cc-1");
}

static void
test_key(void **state)
{
	char a[AFFINITY_KEY_LEN], b[AFFINITY_KEY_LEN], c[AFFINITY_KEY_LEN];

	(void)state;
	affinity_key("secret-session", "m1", a);
	affinity_key("secret-session", "m2", b);
	affinity_key("secret-sessionm", "1", c);
	assert_int_equal(strlen(a), AFFINITY_KEY_LEN - 1);
	assert_memory_equal(a, "aff:", 4);
	assert_null(strstr(a, "secret"));
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	affinity_key("secret-session", "m1", b);
	assert_string_equal(a, b);
}

static void
test_parse(void **state)
{
	struct affinity_rec r;
	static const char ok[] = "mock/up 0123456789abcdef";

	(void)state;
	assert_int_equal(affinity_parse(ok, strlen(ok), &r), RELAY_OK);
	assert_string_equal(r.target, "mock/up");
	assert_string_equal(r.fp, "0123456789abcdef");
	assert_int_equal(affinity_parse("keyless/m ", 10, &r), RELAY_OK);
	assert_string_equal(r.fp, "");
	assert_int_equal(affinity_parse("nospace", 7, &r), RELAY_EINVAL);
	assert_int_equal(
	    affinity_parse(" 0123456789abcdef", 17, &r), RELAY_EINVAL);
	assert_int_equal(affinity_parse("t 0123", 6, &r), RELAY_EINVAL);
	assert_int_equal(
	    affinity_parse("t 0123456789ABCDEF", 18, &r), RELAY_EINVAL);
	assert_string_equal(r.target, "");
}

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

/* Stored, read back, replaced; a key rests: keypool_take declines it. */
static void
test_round_trip_and_take(void **state)
{
	struct kv *kv = kv_connect();
	char k0[] = "sk-aff-zero", k1[] = "sk-aff-one", *keys[2] = {k0, k1};
	char key[AFFINITY_KEY_LEN], name[64], fp1[17], sid[64];
	struct config_provider p;
	struct creds_master m;
	struct creds_store *st;
	struct creds_snap *cs;
	struct keypool_choice kc;
	struct affinity_rec r;

	(void)state;
	snprintf(sid, sizeof(sid), "s%ld", (long)getpid());
	snprintf(name, sizeof(name), "aff%ld", (long)getpid());
	affinity_key(sid, "m", key);
	assert_int_equal(affinity_get(kv, key, &r), RELAY_ENOTFOUND);
	keypool_fingerprint(k1, fp1);
	affinity_put(kv, key, "prov/up", fp1, 60);
	assert_int_equal(affinity_get(kv, key, &r), RELAY_OK);
	assert_string_equal(r.target, "prov/up");
	assert_string_equal(r.fp, fp1);
	affinity_put(kv, key, "other/up", "", 60);
	assert_int_equal(affinity_get(kv, key, &r), RELAY_OK);
	assert_string_equal(r.target, "other/up");
	assert_string_equal(r.fp, "");

	memset(&m, 0, sizeof(m));
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.keys = keys;
	p.nkeys = 2;
	st = creds_store_new("/nonexistent/credentials.json", &m);
	assert_non_null(st);
	cs = creds_acquire(st);
	assert_int_equal(keypool_take(kv, &p, cs, fp1, &kc), RELAY_OK);
	assert_string_equal(kc.key, k1);
	assert_string_equal(kc.fp, fp1);
	assert_int_equal(
	    keypool_take(kv, &p, cs, "0000000000000000", &kc), RELAY_ENOTFOUND);
	assert_null(kc.key);
	keypool_rest(kv, name, fp1, 30);
	assert_int_equal(keypool_take(kv, &p, cs, fp1, &kc), RELAY_ENOTFOUND);
	keypool_bench(kv, &kconf, name, fp1, 401);
	assert_int_equal(keypool_take(kv, &p, cs, fp1, &kc), RELAY_ENOTFOUND);
	creds_release(cs);
	creds_store_free(st);
	kv_free(kv);
}

/* memcached down: no record (the normal choice), a put only logged. */
static void
test_dead_memcached(void **state)
{
	char *servers[1] = {(char *)"127.0.0.1:1"};
	char eb[256], key[AFFINITY_KEY_LEN];
	struct affinity_rec r;
	struct kv *kv;

	(void)state;
	kv = kv_new(servers, 1, 300, 2, eb, sizeof(eb));
	assert_non_null(kv);
	affinity_key("s", "m", key);
	affinity_put(kv, key, "p/m", "", 60);
	assert_int_equal(affinity_get(kv, key, &r), RELAY_ENOTFOUND);
	kv_free(kv);
}

/* Allocation failures: a miss or the record, never a leak. */
static void
test_oom(void **state)
{
	char *servers[1] = {mc_addr};
	char eb[256], key[AFFINITY_KEY_LEN];
	struct affinity_rec r;
	struct kv *kv;
	enum relay_err err;

	(void)state;
	if (mc_pid <= 0)
		skip();
	kv = kv_new(servers, 1, 2000, 2, eb, sizeof(eb));
	if (kv == NULL)
		return;
	affinity_key("oom-session", "m", key);
	affinity_put(kv, key, "p/m", "0123456789abcdef", 60);
	err = affinity_get(kv, key, &r);
	assert_true(err == RELAY_OK || err == RELAY_ENOTFOUND);
	kv_free(kv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_session_sources),
	    cmocka_unit_test(test_session_operator_first),
	    cmocka_unit_test(test_key),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_round_trip_and_take),
	    cmocka_unit_test(test_dead_memcached),
	    OOM_CASE(test_oom),
	};

	oom_init();
	if (oom_n != 0) {
		const struct CMUnitTest torture[] = {OOM_CASE(test_oom)};

		return oom_exit(
		    cmocka_run_group_tests(torture, mc_start, mc_stop));
	}
	return oom_exit(cmocka_run_group_tests(tests, mc_start, mc_stop));
}
