/* SPDX-License-Identifier: MIT */
/* test_cache.c - unit tests for lib/cache.c against a real memcached that
 * the test starts on a free loopback port (skipped when none is
 * installed): the key, the policy, parts read back whole or not at all,
 * tenant scopes, purges, memcached down. */
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

#include "../../lib/cache.h"
#include "../../lib/chatreq.h"
#include "../../lib/config.h"
#include "../../lib/kv.h"
#include "../../lib/mem.h"

#include "memcached_test.h"

static struct config *cfg;
static struct kv *kv;
static int run_id; /* makes every prompt of this run unique */

static const char cfg_text[] =
    "{\"memcached\":{\"servers\":[\"127.0.0.1:1\"]},"
    "\"cache\":{\"enabled\":true,\"ttl_s\":60,\"part_bytes\":1024,"
    "\"max_bytes\":65536},"
    "\"providers\":[{\"name\":\"p\",\"type\":\"openai\","
    "\"base_url\":\"http://127.0.0.1:1/v1\"}],"
    "\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\"}]},"
    "{\"name\":\"any\",\"targets\":[{\"provider\":\"p\"}],"
    "\"cache\":{\"any_temperature\":true}},"
    "{\"name\":\"shared\",\"targets\":[{\"provider\":\"p\"}],"
    "\"cache\":{\"shared\":true,\"any_temperature\":true}},"
    "{\"name\":\"off\",\"targets\":[{\"provider\":\"p\"}],"
    "\"cache\":{\"enabled\":false}}]}";

static int
setup(void **state)
{
	char eb[256];
	char *servers[1] = {mc_addr};

	(void)state;
	run_id = (int)getpid() ^ (int)time(NULL);
	if (config_parse(cfg_text, sizeof(cfg_text) - 1, &cfg, eb,
		sizeof(eb)) != RELAY_OK) {
		fprintf(stderr, "config: %s\n", eb);
		return -1;
	}
	if (memcached_start() != 0)
		return -1;
	if (mc_pid < 0)
		return 0; /* not installed: each case skips */
	kv = kv_new(servers, 1, 2000, 8, eb, sizeof(eb));
	return kv != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	kv_free(kv);
	config_release(cfg);
	memcached_stop();
	return 0;
}

static const struct config_model *
model(const char *name)
{
	const struct config_model *m =
	    config_find_model(cfg, (struct span){name, strlen(name)});

	assert_non_null(m);
	return m;
}

/* An OpenAI request; body is a printf format over the run id. */
static void
parse(struct chatreq *cr, const char *fmt, ...)
{
	char body[4096], eb[256];
	const char *param;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(body));
	assert_int_equal(chatreq_parse_dialect(DIALECT_OPENAI, body, (size_t)n,
			     cr, eb, sizeof(eb), &param),
	    RELAY_OK);
}

/* Look req up for key (NULL: none) with Cache-Control cc. */
static enum cache_status
look(struct cache_req *cq, const char *mname, const struct chatreq *cr,
    const char *key, const char *cc, struct cache_entry *e)
{
	if (kv == NULL)
		skip();
	cache_done(cq, kv); /* as the handler does after each request */
	return cache_lookup(
	    cq, kv, cfg, model(mname), DIALECT_OPENAI, cr, key, cc, e);
}

/* Store a whole answer of n bytes (a repeating pattern) for cq. */
static void
put(struct cache_req *cq, size_t n, char fill)
{
	struct cache_entry e;
	size_t i;

	cache_entry_init(&e, 1 << 20);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_append(&e.payload, &fill, 1), RELAY_OK);
	e.payload.data[n / 2] = '!'; /* not all one byte */
	e.d = DIALECT_OPENAI;
	e.tokens_in = 11;
	e.tokens_out = 22;
	e.tokens_cached = 3;
	snprintf(e.target, sizeof(e.target), "p/m");
	cache_store(cq, kv, &e);
	cache_entry_reset(&e);
}

#define T0 "\"temperature\":0"

static void
test_miss_store_hit(void **state)
{
	struct chatreq cr = {0};
	struct cache_req cq = {0};
	struct cache_entry e;

	(void)state;
	cache_entry_init(&e, 1 << 20);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hit %d\"}]," T0 "}",
	    run_id);
	assert_int_equal(look(&cq, "m", &cr, "k1", NULL, &e), CACHE_MISS);
	assert_true(cq.store);
	put(&cq, 100, 'a');
	assert_int_equal(look(&cq, "m", &cr, "k1", NULL, &e), CACHE_HIT);
	assert_int_equal(e.payload.len, 100);
	assert_int_equal(e.payload.data[50], '!');
	assert_int_equal(e.tokens_in, 11);
	assert_int_equal(e.tokens_out, 22);
	assert_int_equal(e.tokens_cached, 3);
	assert_string_equal(e.target, "p/m");
	assert_false(e.stream);
	assert_true(time(NULL) - e.created <= 2);
	cache_entry_reset(&e);
	chatreq_free(&cr);
}

/* Members that do not change the answer do not change the key; those
 * that do, do; the order of members never matters. */
static void
test_key_normalised(void **state)
{
	struct chatreq a = {0}, b = {0}, c = {0}, d = {0};
	struct cache_req cq = {0};
	struct cache_entry e;

	(void)state;
	cache_entry_init(&e, 1 << 20);
	parse(&a,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"norm %d\"}]," T0 ",\"max_tokens\":5}",
	    run_id);
	parse(&b,
	    "{\"max_tokens\":5," T0 ",\"user\":\"u-1\","
	    "\"metadata\":{\"x\":\"y\"},\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true},"
	    "\"messages\":[{\"content\":\"norm %d\",\"role\":\"user\"}],"
	    "\"model\":\"m-alias-irrelevant\"}",
	    run_id);
	parse(&c,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"norm %d\"}]," T0 ",\"max_tokens\":6}",
	    run_id);
	parse(&d,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"norm %d\"}]," T0 ",\"max_tokens\":5,"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
	    "\"f\"}}]}",
	    run_id);
	assert_int_equal(look(&cq, "m", &a, "k1", NULL, &e), CACHE_MISS);
	put(&cq, 10, 'n');
	assert_int_equal(look(&cq, "m", &b, "k1", NULL, &e), CACHE_HIT);
	buf_clear(&e.payload);
	assert_int_equal(look(&cq, "m", &c, "k1", NULL, &e), CACHE_MISS);
	assert_int_equal(look(&cq, "m", &d, "k1", NULL, &e), CACHE_MISS);
	cache_entry_reset(&e);
	chatreq_free(&a);
	chatreq_free(&b);
	chatreq_free(&c);
	chatreq_free(&d);
}

/* An Anthropic request, as Claude Code sends it. */
static void
parse_an(struct chatreq *cr, const char *fmt, ...)
{
	char body[4096], eb[256];
	const char *param;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(body));
	assert_int_equal(chatreq_parse_dialect(DIALECT_ANTHROPIC, body,
			     (size_t)n, cr, eb, sizeof(eb), &param),
	    RELAY_OK);
}

/* Claude Code's billing-header system block changes with each release:
 * left out of the key; the other system blocks stay in it. */
static void
test_key_billing_header(void **state)
{
	struct chatreq a = {0}, b = {0}, c = {0}, d = {0};
	struct cache_req cq = {0};
	struct cache_entry e;
	static const char fmt[] =
	    "{\"model\":\"m\",\"max_tokens\":5," T0 ",\"system\":[%s"
	    "{\"type\":\"text\",\"text\":\"%s\"}],\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"bill %d\"}]}";
	static const char v1[] = "{\"type\":\"text\",\"text\":"
				 "\"x-anthropic-billing-header: "
				 "cc_version=2.1.1.aaa; cc_entrypoint=cli;\"},";
	static const char v2[] = "{\"type\":\"text\",\"text\":"
				 "\"x-anthropic-billing-header: "
				 "cc_version=2.1.9.bbb; cc_entrypoint=sdk;\"},";

	(void)state;
	if (kv == NULL)
		skip();
	cache_entry_init(&e, 1 << 20);
	parse_an(&a, fmt, v1, "You are Claude Code.", run_id);
	parse_an(&b, fmt, v2, "You are Claude Code.", run_id);
	parse_an(&c, fmt, "", "You are Claude Code.", run_id);
	parse_an(&d, fmt, v1, "You are someone else.", run_id);
	cache_done(&cq, kv);
	assert_int_equal(cache_lookup(&cq, kv, cfg, model("m"),
			     DIALECT_ANTHROPIC, &a, "k1", NULL, &e),
	    CACHE_MISS);
	put(&cq, 10, 'b');
	cache_done(&cq, kv);
	assert_int_equal(cache_lookup(&cq, kv, cfg, model("m"),
			     DIALECT_ANTHROPIC, &b, "k1", NULL, &e),
	    CACHE_HIT);
	buf_clear(&e.payload);
	cache_done(&cq, kv);
	assert_int_equal(cache_lookup(&cq, kv, cfg, model("m"),
			     DIALECT_ANTHROPIC, &c, "k1", NULL, &e),
	    CACHE_HIT);
	buf_clear(&e.payload);
	cache_done(&cq, kv);
	assert_int_equal(cache_lookup(&cq, kv, cfg, model("m"),
			     DIALECT_ANTHROPIC, &d, "k1", NULL, &e),
	    CACHE_MISS);
	cache_done(&cq, kv);
	cache_entry_reset(&e);
	chatreq_free(&a);
	chatreq_free(&b);
	chatreq_free(&c);
	chatreq_free(&d);
}

/* Sampled answers are not cached unless the model says so; embeddings
 * always are; a model with the cache off never is. */
static void
test_policy(void **state)
{
	struct chatreq cr = {0}, hot = {0}, emb = {0};
	struct cache_req cq = {0};
	struct cache_entry e;
	char eb[128];
	const char *param;
	char body[256];
	int n;

	(void)state;
	cache_entry_init(&e, 1 << 20);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"pol %d\"}]}",
	    run_id);
	parse(&hot,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"pol %d\"}],\"temperature\":0.7}",
	    run_id);
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_BYPASS);
	assert_false(cq.store);
	assert_int_equal(look(&cq, "m", &hot, NULL, NULL, &e), CACHE_BYPASS);
	assert_int_equal(look(&cq, "any", &hot, NULL, NULL, &e), CACHE_MISS);
	assert_int_equal(look(&cq, "off", &hot, NULL, NULL, &e), CACHE_BYPASS);
	n = snprintf(body, sizeof(body),
	    "{\"model\":\"m\",\"input\":\"emb %d\"}", run_id);
	assert_int_equal(chatreq_parse_embeddings(
			     body, (size_t)n, &emb, eb, sizeof(eb), &param),
	    RELAY_OK);
	assert_int_equal(look(&cq, "m", &emb, NULL, NULL, &e), CACHE_MISS);
	cache_entry_reset(&e);
	chatreq_free(&cr);
	chatreq_free(&hot);
	chatreq_free(&emb);
}

static void
test_cache_control(void **state)
{
	struct chatreq cr = {0};
	struct cache_req cq = {0};
	struct cache_entry e;

	(void)state;
	cache_entry_init(&e, 1 << 20);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"cc %d\"}]," T0 "}",
	    run_id);
	assert_int_equal(
	    look(&cq, "m", &cr, NULL, "No-Store", &e), CACHE_BYPASS);
	assert_false(cq.store);
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_MISS);
	put(&cq, 10, 'c');
	assert_int_equal(look(&cq, "m", &cr, NULL, "max-age=0, no-cache", &e),
	    CACHE_REFRESH);
	assert_true(cq.store);
	assert_int_equal(
	    look(&cq, "m", &cr, NULL, "max-age=100", &e), CACHE_HIT);
	buf_clear(&e.payload);
	sleep(2);
	assert_int_equal(
	    look(&cq, "m", &cr, NULL, "max-age=1", &e), CACHE_MISS);
	assert_int_equal(look(&cq, "m", &cr, NULL, "private", &e), CACHE_HIT);
	cache_entry_reset(&e);
	chatreq_free(&cr);
}

/* One key's answers are not another's, unless the model shares them. */
static void
test_tenants(void **state)
{
	struct chatreq cr = {0};
	struct cache_req cq = {0};
	struct cache_entry e;

	(void)state;
	cache_entry_init(&e, 1 << 20);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"tenant %d\"}]," T0 "}",
	    run_id);
	assert_int_equal(look(&cq, "m", &cr, "ka", NULL, &e), CACHE_MISS);
	put(&cq, 10, 't');
	assert_int_equal(look(&cq, "m", &cr, "kb", NULL, &e), CACHE_MISS);
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_MISS);
	assert_int_equal(look(&cq, "m", &cr, "ka", NULL, &e), CACHE_HIT);
	buf_clear(&e.payload);
	assert_int_equal(look(&cq, "shared", &cr, "ka", NULL, &e), CACHE_MISS);
	put(&cq, 10, 's');
	assert_int_equal(look(&cq, "shared", &cr, "kb", NULL, &e), CACHE_HIT);
	buf_clear(&e.payload);
	/* A filtered variant of the answer is kept apart. */
	cq.variant = 2;
	assert_int_equal(look(&cq, "shared", &cr, "kb", NULL, &e), CACHE_MISS);
	cache_done(&cq, kv);
	cq.variant = 0;
	cache_entry_reset(&e);
	chatreq_free(&cr);
}

/* memcached's text protocol, for what a test does behind cache.c's back:
 * send cmd, read the first line of the reply into out. */
static void
mc_cmd(const char *cmd, char *out, size_t outsz)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t r;

	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)mc_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	r = read(fd, out, outsz - 1);
	out[r > 0 ? r : 0] = '\0';
	close(fd);
}

/* A large answer spans parts; losing or changing any part makes a miss,
 * never a short or mixed answer. */
static void
test_parts_whole_or_nothing(void **state)
{
	struct chatreq cr = {0};
	struct cache_req cq = {0};
	struct cache_entry e;
	char cmd[512], out[256];

	(void)state;
	cache_entry_init(&e, 1 << 20);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"big %d\"}]," T0 "}",
	    run_id);
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_MISS);
	put(&cq, 5000, 'b'); /* 5 parts of 1024 */
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_HIT);
	assert_int_equal(e.payload.len, 5000);
	assert_int_equal(e.payload.data[2500], '!');
	assert_int_equal(e.payload.data[4999], 'b');
	buf_clear(&e.payload);
	/* A part changed behind our back (another writer, a bit flip). */
	snprintf(cmd, sizeof(cmd), "set rc:%s:3 0 60 4\r\nxxxx\r\n", cq.hash);
	mc_cmd(cmd, out, sizeof(out));
	assert_string_equal(out, "STORED\r\n");
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_MISS);
	assert_int_equal(e.payload.len, 0);
	put(&cq, 5000, 'b');
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_HIT);
	buf_clear(&e.payload);
	/* A part evicted. */
	snprintf(cmd, sizeof(cmd), "delete rc:%s:2\r\n", cq.hash);
	mc_cmd(cmd, out, sizeof(out));
	assert_string_equal(out, "DELETED\r\n");
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_MISS);
	assert_int_equal(e.payload.len, 0);
	/* Too large for max_bytes: not stored at all. */
	put(&cq, 70000, 'x');
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_MISS);
	cache_entry_reset(&e);
	chatreq_free(&cr);
}

static void
test_purge(void **state)
{
	struct chatreq cr = {0}, other = {0};
	struct cache_req cq = {0};
	struct cache_entry e;

	(void)state;
	cache_entry_init(&e, 1 << 20);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"purge %d\"}]," T0 "}",
	    run_id);
	parse(&other,
	    "{\"model\":\"any\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"purge %d\"}]," T0 "}",
	    run_id);
#define FILL(mn, r, k)                                                         \
	do {                                                                   \
		assert_int_equal(look(&cq, mn, r, k, NULL, &e), CACHE_MISS);   \
		put(&cq, 10, 'p');                                             \
		assert_int_equal(look(&cq, mn, r, k, NULL, &e), CACHE_HIT);    \
		buf_clear(&e.payload);                                         \
	} while (0)
	FILL("m", &cr, "ka");
	FILL("m", &cr, "kb");
	FILL("any", &other, "ka");
	/* By key: ka's entries go, kb's stay. */
	assert_int_equal(cache_purge(kv, CACHE_PURGE_KEY, "ka"), RELAY_OK);
	assert_int_equal(look(&cq, "m", &cr, "ka", NULL, &e), CACHE_MISS);
	assert_int_equal(look(&cq, "any", &other, "ka", NULL, &e), CACHE_MISS);
	assert_int_equal(look(&cq, "m", &cr, "kb", NULL, &e), CACHE_HIT);
	buf_clear(&e.payload);
	/* By model. */
	FILL("m", &cr, "ka");
	FILL("any", &other, "ka");
	assert_int_equal(cache_purge(kv, CACHE_PURGE_MODEL, "m"), RELAY_OK);
	assert_int_equal(look(&cq, "m", &cr, "ka", NULL, &e), CACHE_MISS);
	assert_int_equal(look(&cq, "m", &cr, "kb", NULL, &e), CACHE_MISS);
	assert_int_equal(look(&cq, "any", &other, "ka", NULL, &e), CACHE_HIT);
	buf_clear(&e.payload);
	/* Everything. */
	FILL("m", &cr, "kb");
	assert_int_equal(cache_purge(kv, CACHE_PURGE_ALL, NULL), RELAY_OK);
	assert_int_equal(look(&cq, "m", &cr, "kb", NULL, &e), CACHE_MISS);
	assert_int_equal(look(&cq, "any", &other, "ka", NULL, &e), CACHE_MISS);
	/* A purged scope fills again. */
	FILL("m", &cr, "kb");
#undef FILL
	cache_entry_reset(&e);
	chatreq_free(&cr);
	chatreq_free(&other);
}

/* A generation counter that memcached lost comes back with a value no
 * earlier entry carries: a purged entry never returns. */
static void
test_lost_generation(void **state)
{
	struct chatreq cr = {0};
	struct cache_req cq = {0};
	struct cache_entry e;
	char out[256];

	(void)state;
	cache_entry_init(&e, 1 << 20);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"lost %d\"}]," T0 "}",
	    run_id);
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_MISS);
	put(&cq, 10, 'l');
	mc_cmd("delete rcg:all\r\n", out, sizeof(out));
	assert_string_equal(out, "DELETED\r\n");
	assert_int_equal(look(&cq, "m", &cr, NULL, NULL, &e), CACHE_MISS);
	cache_entry_reset(&e);
	chatreq_free(&cr);
}

/* Identical whole requests at once: the second waits for the first's
 * entry instead of paying again; when the first gives up, it stops
 * waiting at once. */
struct follower {
	struct chatreq *cr;
	enum cache_status st;
	double waited;
	struct cache_entry e;
};

static void *
follower_run(void *arg)
{
	struct follower *f = arg;
	struct cache_req cq = {0};
	double t0 = now_s();

	f->st = cache_lookup(
	    &cq, kv, cfg, model("m"), DIALECT_OPENAI, f->cr, "k1", NULL, &f->e);
	f->waited = now_s() - t0;
	cache_done(&cq, kv);
	return NULL;
}

static void
test_concurrent_identical(void **state)
{
	struct chatreq cr = {0}, sc = {0};
	struct cache_req cq = {0};
	struct cache_entry e;
	struct follower f = {0};
	pthread_t th;

	(void)state;
	cache_entry_init(&e, 1 << 20);
	cache_entry_init(&f.e, 1 << 20);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"together %d\"}]," T0 "}",
	    run_id);
	parse(&sc,
	    "{\"model\":\"m\",\"stream\":true,\"messages\":[{"
	    "\"role\":\"user\",\"content\":\"together %d\"}]," T0 "}",
	    run_id);
	f.cr = &cr;
	assert_int_equal(look(&cq, "m", &cr, "k1", NULL, &e), CACHE_MISS);
	assert_true(cq.leader);
	/* A stream does not wait for the leader. */
	{
		struct cache_req sq = {0};

		assert_int_equal(
		    look(&sq, "m", &sc, "k1", NULL, &e), CACHE_MISS);
		assert_false(sq.leader);
		cache_done(&sq, kv);
	}
	assert_int_equal(pthread_create(&th, NULL, follower_run, &f), 0);
	usleep(300 * 1000);
	put(&cq, 10, 'w');
	cache_done(&cq, kv);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(f.st, CACHE_HIT);
	assert_int_equal(f.e.payload.len, 10);
	assert_true(f.waited >= 0.25 && f.waited < 5);
	/* The leader gives up (no entry): the follower goes its own way. */
	cache_entry_reset(&f.e);
	cache_entry_init(&f.e, 1 << 20);
	chatreq_free(&cr);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"given up %d\"}]," T0 "}",
	    run_id);
	assert_int_equal(look(&cq, "m", &cr, "k1", NULL, &e), CACHE_MISS);
	assert_true(cq.leader);
	assert_int_equal(pthread_create(&th, NULL, follower_run, &f), 0);
	usleep(200 * 1000);
	cache_done(&cq, kv);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(f.st, CACHE_MISS);
	assert_true(f.waited < 1.5);
	cache_entry_reset(&f.e);
	cache_entry_reset(&e);
	chatreq_free(&cr);
	chatreq_free(&sc);
}

/* memcached gone: no error, no wait beyond its timeout, just uncached. */
static void
test_memcached_down(void **state)
{
	char *servers[1] = {"127.0.0.1:1"};
	struct chatreq cr = {0};
	struct cache_req cq = {0};
	struct cache_entry e;
	struct kv *dead;
	char eb[128];

	(void)state;
	cache_entry_init(&e, 1 << 20);
	parse(&cr,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"down %d\"}]," T0 "}",
	    run_id);
	dead = kv_new(servers, 1, 200, 2, eb, sizeof(eb));
	assert_non_null(dead);
	assert_int_equal(cache_lookup(&cq, dead, cfg, model("m"),
			     DIALECT_OPENAI, &cr, NULL, NULL, &e),
	    CACHE_BYPASS);
	assert_false(cq.store);
	cache_store(&cq, dead, &e); /* a no-op, not a crash */
	assert_int_equal(
	    cache_purge(dead, CACHE_PURGE_ALL, NULL), RELAY_ECACHE);
	kv_free(dead);
	cache_entry_reset(&e);
	chatreq_free(&cr);
}

static void
test_header_parse(void **state)
{
	static const char *const bad[] = {"", "{}\n", "not json\n",
	    "{\"v\":1,\"n\":0,\"len\":1,\"d\":0,\"sum\":\"x\",\"g\":\"1\"}\n",
	    "{\"v\":2,\"n\":1,\"len\":1,\"d\":0,\"sum\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000000"
	    "\",\"g\":\"1\"}\n",
	    "{\"v\":1,\"n\":1,\"len\":1,\"d\":9,\"sum\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000000"
	    "\",\"g\":\"1\"}\n",
	    "{\"v\":1,\"n\":1,\"len\":1,\"d\":0,\"sum\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000000"
	    "\",\"g\":\"1\"}", /* no newline */
	    NULL};
	static const char good[] =
	    "{\"v\":1,\"n\":2,\"len\":5,\"d\":2,\"s\":1,\"u\":1,\"sum\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000000"
	    "\",\"g\":\"1.2.-\",\"in\":4,\"out\":5,\"t\":7,\"target\":\"a/b\"}"
	    "\nabc";
	struct cache_entry e;
	struct cache_header h;
	size_t i;

	(void)state;
	cache_entry_init(&e, 1024);
	for (i = 0; bad[i] != NULL; i++)
		assert_int_equal(
		    cache_header_parse(bad[i], strlen(bad[i]), &e, &h),
		    RELAY_EPROTO);
	assert_int_equal(
	    cache_header_parse(good, sizeof(good) - 1, &e, &h), RELAY_OK);
	assert_int_equal(h.parts, 2);
	assert_int_equal(h.len, 5);
	assert_string_equal(h.gens, "1.2.-");
	assert_int_equal(e.d, DIALECT_GEMINI);
	assert_true(e.stream);
	assert_int_equal(e.tokens_out, 5);
	assert_string_equal(e.target, "a/b");
	cache_entry_reset(&e);
}

/* --- oom-safe: a lookup, a store and a hit with allocation n failing -- */

static unsigned long oom_n;
static int oom_reached;

static void
test_under_pressure(void **state)
{
	struct chatreq cr = {0};
	struct cache_req cq = {0};
	struct cache_entry e;
	enum cache_status st;
	char body[256], eb[128];
	const char *param;
	int n;

	(void)state;
	if (kv == NULL)
		skip();
	n = snprintf(body, sizeof(body),
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"oom %d %lu\"}]," T0 "}",
	    run_id, oom_n);
	if (oom_n != 0)
		mem_fail_after(oom_n);
	cache_entry_init(&e, 1 << 20);
	if (chatreq_parse_dialect(DIALECT_OPENAI, body, (size_t)n, &cr, eb,
		sizeof(eb), &param) == RELAY_OK) {
		st = cache_lookup(&cq, kv, cfg, model("m"), DIALECT_OPENAI, &cr,
		    "k", NULL, &e);
		assert_true(st == CACHE_MISS || st == CACHE_BYPASS);
		if (buf_append(&e.payload, "answer", 6) == RELAY_OK)
			cache_store(&cq, kv, &e);
		cache_done(&cq, kv);
		buf_clear(&e.payload);
		st = cache_lookup(&cq, kv, cfg, model("m"), DIALECT_OPENAI, &cr,
		    "k", NULL, &e);
		assert_true(st != CACHE_REFRESH);
		if (st == CACHE_HIT)
			assert_memory_equal(e.payload.data, "answer", 6);
		cache_done(&cq, kv);
	}
	if (oom_n != 0) {
		oom_reached = mem_count() >= oom_n;
		mem_fail_after(0);
	}
	cache_entry_reset(&e);
	chatreq_free(&cr);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    cmocka_unit_test(test_under_pressure),
	};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_parse),
	    cmocka_unit_test(test_miss_store_hit),
	    cmocka_unit_test(test_key_normalised),
	    cmocka_unit_test(test_key_billing_header),
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_cache_control),
	    cmocka_unit_test(test_tenants),
	    cmocka_unit_test(test_parts_whole_or_nothing),
	    cmocka_unit_test(test_purge),
	    cmocka_unit_test(test_lost_generation),
	    cmocka_unit_test(test_concurrent_identical),
	    cmocka_unit_test(test_memcached_down),
	};

	const char *env = getenv("RELAY_FAIL_ALLOC");
	int failed;

	for (; env != NULL && *env >= '0' && *env <= '9'; env++)
		oom_n = oom_n * 10 + (unsigned long)(*env - '0');
	failed = cmocka_run_group_tests_name(
	    "cache (oom-safe)", oom_cases, setup, teardown);
	if (oom_n == 0)
		failed += cmocka_run_group_tests_name(
		    "cache", tests, setup, teardown);
	if (failed != 0)
		return 1;
	return oom_n != 0 && !oom_reached ? 77 : 0;
}
