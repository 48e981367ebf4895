/* SPDX-License-Identifier: MIT */
/* test_metrics.c - unit tests for lib/metrics.c: exact sums across forked
 * processes and threads, counts kept after a process exits or dies, label
 * hygiene, the exposition text (checked by promtool when installed); the
 * oom-safe group also runs under RELAY_FAIL_ALLOC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/mem.h"
#include "../../lib/metrics.c"

#include "oom_test.h"

#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

/* --- helpers ------------------------------------------------------------ */

static char tdir[64];

static void
make_dir(void)
{
	snprintf(tdir, sizeof(tdir), "/tmp/metrics_test.XXXXXX");
	assert_non_null(mkdtemp(tdir));
}

static void
remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	assert_int_equal(system(cmd), 0);
}

static size_t
count_files(void)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(tdir);

	assert_non_null(d);
	for (de = readdir(d); de != NULL; de = readdir(d))
		n += mf_is_process_file(de->d_name);
	closedir(d);
	return n;
}

/* The value on the line that starts with series (name and labels). */
static const char *
value_of(const struct buf *b, const char *series)
{
	const char *p = b->data;
	size_t n = strlen(series);

	while (p != NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return p + n + 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* Under allocation torture a new label value whose secret check could
 * not allocate is "other" (fail closed), so only the run without failures
 * compares values. */
static void
want_value(const struct buf *b, const char *series, const char *want)
{
	const char *v = value_of(b, series);
	size_t n = strlen(want);

	if (oom_n != 0)
		return;
	if (v == NULL || strncmp(v, want, n) != 0 || v[n] != '\n')
		fail_msg("%s: want %s in:\n%s", series, want, b->data);
}

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_render_all_families(void **state)
{
	struct metrics *m = NULL;
	struct buf b;

	(void)state;
	make_dir();
	buf_init(&b, METRICS_RENDER_MAX);
	TRY(metrics_open(tdir, "relay-chat", &m), RELAY_OK);
	metrics_request(m, "chat", "openai", "gpt-4o", "openai", 200, 0.3);
	metrics_request(m, "chat", "openai", "gpt-4o", "openai", 200, 0.007);
	metrics_request(
	    m, "messages", "anthropic", "claude", "anthropic", 529, 400.0);
	metrics_ttft(m, "gpt-4o", 0.2);
	metrics_stream_gap(m, 0.002);
	metrics_tokens(m, "gpt-4o", 100, 50, 1234567);
	metrics_cache(m, 1);
	metrics_cache(m, 0);
	metrics_cache(m, 0);
	metrics_ratelimit(m, "rpm");
	metrics_upstream_error(m, "openai", "timeout");
	metrics_retry(m);
	metrics_fallback(m);
	metrics_fallback(m);
	metrics_breaker(m, "openai/gpt-4o", 1);
	metrics_inflight(m, 1);
	metrics_inflight(m, 1);
	metrics_inflight(m, -1);
	TRY(metrics_render(tdir, &b), RELAY_OK);
	want_value(&b,
	    "relay_requests_total{route=\"chat\",dialect=\"openai\","
	    "model=\"gpt-4o\",provider=\"openai\",code=\"200\"}",
	    "2");
	want_value(&b,
	    "relay_requests_total{route=\"messages\",dialect=\"anthropic\","
	    "model=\"claude\",provider=\"anthropic\",code=\"529\"}",
	    "1");
	want_value(&b,
	    "relay_request_duration_seconds_bucket{route=\"chat\",le=\"0."
	    "005\"}",
	    "0");
	want_value(&b,
	    "relay_request_duration_seconds_bucket{route=\"chat\",le=\"0.01\"}",
	    "1");
	want_value(&b,
	    "relay_request_duration_seconds_bucket{route=\"chat\",le=\"0.5\"}",
	    "2");
	want_value(&b,
	    "relay_request_duration_seconds_bucket{route=\"messages\","
	    "le=\"300\"}",
	    "0");
	want_value(&b,
	    "relay_request_duration_seconds_bucket{route=\"messages\","
	    "le=\"+Inf\"}",
	    "1");
	want_value(&b, "relay_request_duration_seconds_sum{route=\"chat\"}",
	    "0.307000");
	want_value(
	    &b, "relay_request_duration_seconds_count{route=\"chat\"}", "2");
	want_value(&b,
	    "relay_time_to_first_token_seconds_bucket{model=\"gpt-4o\","
	    "le=\"0.25\"}",
	    "1");
	want_value(
	    &b, "relay_stream_event_gap_seconds_bucket{le=\"0.005\"}", "1");
	want_value(&b, "relay_stream_event_gap_seconds_count", "1");
	want_value(
	    &b, "relay_tokens_total{model=\"gpt-4o\",direction=\"in\"}", "100");
	want_value(
	    &b, "relay_tokens_total{model=\"gpt-4o\",direction=\"out\"}", "50");
	want_value(&b, "relay_cost_usd_total{model=\"gpt-4o\"}", "1.234567");
	want_value(&b, "relay_cache_total{result=\"hit\"}", "1");
	want_value(&b, "relay_cache_total{result=\"miss\"}", "2");
	want_value(&b, "relay_ratelimit_refusals_total{kind=\"rpm\"}", "1");
	want_value(&b,
	    "relay_upstream_errors_total{provider=\"openai\",kind=\"timeout\"}",
	    "1");
	want_value(&b, "relay_retries_total", "1");
	want_value(&b, "relay_fallbacks_total", "2");
	want_value(&b, "relay_breaker_state{target=\"openai/gpt-4o\"}", "1");
	want_value(&b, "relay_inflight_streams", "1");
	assert_non_null(
	    strstr(b.data, "# TYPE relay_requests_total counter\n"));
	assert_non_null(strstr(
	    b.data, "# TYPE relay_request_duration_seconds histogram\n"));
	assert_non_null(strstr(b.data, "# TYPE relay_breaker_state gauge\n"));
out:
	metrics_close(m);
	buf_reset(&b);
	remove_dir();
}

/* Names are config names: bad bytes, secrets and one too many are
 * "other"; a scrape of an empty directory still shows the unlabelled
 * families at 0. */
static void
test_label_hygiene(void **state)
{
	struct metrics *m = NULL;
	struct buf b;
	char name[32];
	int i;

	(void)state;
	make_dir();
	buf_init(&b, METRICS_RENDER_MAX);
	TRY(metrics_render(tdir, &b), RELAY_OK);
	want_value(&b, "relay_retries_total", "0");
	want_value(&b, "relay_inflight_streams", "0");
	assert_null(strstr(b.data, "relay_requests_total"));
	buf_clear(&b);
	TRY(metrics_open(tdir, "relay-chat", &m), RELAY_OK);
	metrics_ttft(m, "sk-0123456789abcdef0123456789", 1);
	metrics_ttft(m, "a\"b", 1);
	metrics_ttft(m, "new\nline", 1);
	metrics_ttft(m, "", 1);
	metrics_ttft(m, NULL, 1);
	metrics_ttft(m, "x@example.com", 1);
	for (i = 0; i < METRICS_MODELS + 5; i++) {
		snprintf(name, sizeof(name), "model-%d", i);
		metrics_ttft(m, name, 1);
	}
	TRY(metrics_render(tdir, &b), RELAY_OK);
	assert_null(strstr(b.data, "sk-"));
	assert_null(strstr(b.data, "example.com"));
	assert_null(strstr(b.data, "a\\\"b"));
	want_value(&b,
	    "relay_time_to_first_token_seconds_count{model=\"other\"}",
	    "12"); /* 6 bad names, 6 over the 63 named models */
	want_value(&b,
	    "relay_time_to_first_token_seconds_count{model=\"model-62\"}", "1");
	assert_true(oom_n != 0 ||
	    value_of(&b,
		"relay_time_to_first_token_seconds_count{model=\"model-"
		"63\"}") == NULL);
out:
	metrics_close(m);
	buf_reset(&b);
	remove_dir();
}

/* --- plain cases -------------------------------------------------------- */

#define KIDS 2
#define THREADS 4
#define ROUNDS 20000

static struct metrics *kid_m;

static void *
kid_thread(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ROUNDS; i++) {
		metrics_request(
		    kid_m, "chat", "openai", "gpt-4o", "openai", 200, 0.01);
		metrics_tokens(kid_m, "gpt-4o", 3, 2, 7);
		metrics_inflight(kid_m, 1);
		metrics_inflight(kid_m, -1);
	}
	metrics_inflight(kid_m, 1); /* each thread leaves one stream open */
	return NULL;
}

/* Record from THREADS threads, tell the parent, wait for its word, and
 * then close (crash: leave without closing). */
static void
kid(const int *ready, const int *go, int crash)
{
	pthread_t t[THREADS];
	char c = 0;
	int i;

	/* Only the parent may hold these ends: a failing parent then gives
	 * EOF instead of a child waiting forever. */
	close(ready[0]);
	close(go[1]);
	alarm(60);
	if (metrics_open(tdir, "relay-chat", &kid_m) != RELAY_OK)
		_exit(2);
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, kid_thread, NULL);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
		_exit(3);
	if (!crash)
		metrics_close(kid_m);
	_exit(0);
}

static void
want_sums(const char *dir, int procs, int inflight)
{
	char want[64];
	struct buf b;

	(void)dir;
	buf_init(&b, METRICS_RENDER_MAX);
	assert_int_equal(metrics_render(tdir, &b), RELAY_OK);
	snprintf(want, sizeof(want), "%d", procs * THREADS * ROUNDS);
	want_value(&b,
	    "relay_requests_total{route=\"chat\",dialect=\"openai\","
	    "model=\"gpt-4o\",provider=\"openai\",code=\"200\"}",
	    want);
	want_value(
	    &b, "relay_request_duration_seconds_count{route=\"chat\"}", want);
	want_value(&b,
	    "relay_request_duration_seconds_bucket{route=\"chat\",le=\"0.01\"}",
	    want);
	snprintf(want, sizeof(want), "%d", procs * THREADS * ROUNDS * 3);
	want_value(
	    &b, "relay_tokens_total{model=\"gpt-4o\",direction=\"in\"}", want);
	snprintf(want, sizeof(want), "%d.%06d",
	    procs * THREADS * ROUNDS * 7 / 1000000,
	    procs * THREADS * ROUNDS * 7 % 1000000);
	want_value(&b, "relay_cost_usd_total{model=\"gpt-4o\"}", want);
	snprintf(want, sizeof(want), "%d", inflight);
	want_value(&b, "relay_inflight_streams", want);
	buf_reset(&b);
}

static void
test_processes_and_threads(void **state)
{
	int ready[2], go[2], st, k, crash;
	pid_t pid[KIDS];
	char c;

	(void)state;
	make_dir();
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	for (k = 0; k < KIDS; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0)
			kid(ready, go, k == 1);
	}
	for (k = 0; k < KIDS; k++)
		assert_int_equal(read(ready[0], &c, 1), 1);
	/* Both alive: their files summed, streams in flight counted. */
	assert_int_equal(count_files(), KIDS);
	want_sums(tdir, KIDS, KIDS * THREADS);
	/* One closes (folds into retired.metrics), one dies without it. */
	for (k = 0; k < KIDS; k++) /* either kid may read either byte */
		assert_int_equal(write(go[1], "g", 1), 1);
	for (k = 0; k < KIDS; k++) {
		assert_int_equal(waitpid(pid[k], &st, 0), pid[k]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	crash = count_files();
	assert_int_equal(crash, 1); /* the dead one's file is still there */
	/* Counters never go back; gauges of dead processes are gone. */
	want_sums(tdir, KIDS, 0);
	assert_int_equal(count_files(), 0); /* retired on the way */
	want_sums(tdir, KIDS, 0);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	remove_dir();
}

/* A later process with the pid of a dead one keeps the dead one's counts. */
static void
test_same_pid_reopen(void **state)
{
	struct metrics *m;
	struct buf b;

	(void)state;
	make_dir();
	buf_init(&b, METRICS_RENDER_MAX);
	assert_int_equal(metrics_open(tdir, "relay-chat", &m), RELAY_OK);
	metrics_retry(m);
	/* Forget the handle as a crash would; the file stays behind. */
	mf_unmap(m->f);
	m->f = NULL;
	mf_free(m);
	assert_int_equal(metrics_open(tdir, "relay-chat", &m), RELAY_OK);
	metrics_retry(m);
	assert_int_equal(metrics_render(tdir, &b), RELAY_OK);
	want_value(&b, "relay_retries_total", "2");
	metrics_close(m);
	buf_clear(&b);
	assert_int_equal(metrics_render(tdir, &b), RELAY_OK);
	want_value(&b, "relay_retries_total", "2");
	buf_reset(&b);
	remove_dir();
}

/* Counters stop at their top: a saturated count (issue 19: an absurd
 * usage, a cost beyond 2^64) never wraps to a small number, which a
 * scraper would read as a reset. */
static void
test_counters_saturate(void **state)
{
	struct metrics *m;
	struct buf b;

	(void)state;
	make_dir();
	buf_init(&b, METRICS_RENDER_MAX);
	assert_int_equal(metrics_open(tdir, "relay-chat", &m), RELAY_OK);
	metrics_tokens(m, "sat", UINT64_MAX - 1, 5, UINT64_MAX);
	metrics_tokens(m, "sat", 2, 9223372036854775808ull, 1);
	metrics_tokens(m, "sat", 1, 9223372036854775808ull, 1);
	assert_int_equal(metrics_render(tdir, &b), RELAY_OK);
	want_value(&b, "relay_tokens_total{model=\"sat\",direction=\"in\"}",
	    "18446744073709551615");
	want_value(&b, "relay_tokens_total{model=\"sat\",direction=\"out\"}",
	    "18446744073709551615");
	metrics_close(m);
	buf_reset(&b);
	remove_dir();
}

static void
test_breaker_latest_wins(void **state)
{
	struct metrics *a, *b2;
	struct buf b;

	(void)state;
	make_dir();
	buf_init(&b, METRICS_RENDER_MAX);
	assert_int_equal(metrics_open(tdir, "one", &a), RELAY_OK);
	assert_int_equal(metrics_open(tdir, "two", &b2), RELAY_OK);
	metrics_breaker(a, "p/m", 1);
	metrics_breaker(b2, "p/m", 2);
	assert_int_equal(metrics_render(tdir, &b), RELAY_OK);
	want_value(&b, "relay_breaker_state{target=\"p/m\"}", "2");
	metrics_breaker(a, "p/m", 0);
	buf_clear(&b);
	assert_int_equal(metrics_render(tdir, &b), RELAY_OK);
	want_value(&b, "relay_breaker_state{target=\"p/m\"}", "0");
	metrics_close(a);
	metrics_close(b2);
	buf_reset(&b);
	remove_dir();
}

static void
test_bad_args(void **state)
{
	struct metrics *m = (struct metrics *)&m;
	struct buf b;

	(void)state;
	assert_int_equal(metrics_open("/tmp", "a/b", &m), RELAY_EINVAL);
	assert_null(m);
	assert_int_equal(metrics_open("/tmp", "", &m), RELAY_EINVAL);
	assert_int_equal(
	    metrics_open("/proc/nonexistent/x", "p", &m), RELAY_EIO);
	buf_init(&b, 64);
	assert_int_equal(metrics_render("/proc/nonexistent/x", &b), RELAY_EIO);
	/* A NULL handle records nothing and does not crash. */
	metrics_request(NULL, "a", "b", "c", "d", 200, 1);
	metrics_inflight(NULL, 1);
	metrics_close(NULL);
	/* Too small an output buffer. */
	make_dir();
	assert_int_equal(metrics_render(tdir, &b), RELAY_ETOOBIG);
	buf_reset(&b);
	remove_dir();
}

/* promtool check metrics, when promtool is installed (Debian package
 * "prometheus"); skipped otherwise. */
static void
test_promtool(void **state)
{
	struct metrics *m;
	struct buf b;
	char path[128], cmd[256];
	FILE *f;

	(void)state;
	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		printf("promtool not installed: check skipped\n");
		skip();
	}
	make_dir();
	buf_init(&b, METRICS_RENDER_MAX);
	assert_int_equal(metrics_open(tdir, "relay-chat", &m), RELAY_OK);
	metrics_request(m, "chat", "openai", "gpt-4o", "openai", 200, 0.3);
	metrics_request(m, "chat", "openai", "gpt-4o", "openai", 999, 0.3);
	metrics_ttft(m, "gpt-4o", 0.2);
	metrics_stream_gap(m, 0.002);
	metrics_tokens(m, "gpt-4o", 100, 50, 1234567);
	metrics_cache(m, 1);
	metrics_ratelimit(m, "tpm");
	metrics_upstream_error(m, "openai", "5xx");
	metrics_breaker(m, "openai/gpt-4o", 2);
	metrics_inflight(m, 1);
	assert_int_equal(metrics_render(tdir, &b), RELAY_OK);
	metrics_close(m);
	snprintf(path, sizeof(path), "%s/scrape.txt", tdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
	assert_int_equal(system(cmd), 0);
	buf_reset(&b);
	remove_dir();
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_render_all_families),
	    OOM_CASE(test_label_hygiene),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_processes_and_threads),
	    cmocka_unit_test(test_same_pid_reopen),
	    cmocka_unit_test(test_counters_saturate),
	    cmocka_unit_test(test_breaker_latest_wins),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_promtool),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "metrics (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("metrics", cases, NULL, NULL);
	return oom_exit(failed);
}
