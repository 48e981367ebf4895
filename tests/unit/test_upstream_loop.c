/* SPDX-License-Identifier: MIT */
/* test_upstream_loop.c - lib/upstream.c on the loop runtime, against the
 * mock upstream (build/mock-upstream, started here on a loopback port):
 * 300 streams at once from one loop thread, each its own coroutine, all
 * whole; a client that leaves cancels its stream at once while the others
 * go on; a silent upstream times out without holding the others. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libgen.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/limits.h"
#include "../../lib/loop.h"
#include "../../lib/upstream.h"

static char mock_bin[1024];
static pid_t mock_pid;
static int mock_port;
static char url[128];
static struct upstream_shared *sh;
static struct upstream_hub *hub; /* the running test's loop's */

static uint64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
start_mock(void **state)
{
	char pf[64];
	FILE *f;
	int i;

	(void)state;
	snprintf(
	    pf, sizeof(pf), "/tmp/test_upstream_loop.%d.port", (int)getpid());
	unlink(pf);
	mock_pid = fork();
	if (mock_pid == 0) {
		execl(mock_bin, "mock-upstream", "-l", "127.0.0.1:0", "-p", pf,
		    "-q", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && mock_port == 0; i++) {
		usleep(10000);
		if ((f = fopen(pf, "r")) != NULL) {
			if (fscanf(f, "%d", &mock_port) != 1) /* lint: allow */
				mock_port = 0;
			fclose(f);
		}
	}
	unlink(pf);
	if (mock_port == 0) {
		fprintf(stderr, "mock upstream %s did not start\n", mock_bin);
		return -1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/chat/completions",
	    mock_port);
	if (upstream_global_init() != RELAY_OK ||
	    (sh = upstream_shared_new()) == NULL)
		return -1;
	return 0;
}

static int
stop_mock(void **state)
{
	(void)state;
	if (mock_pid > 0) {
		kill(mock_pid, SIGTERM);
		waitpid(mock_pid, NULL, 0);
	}
	upstream_shared_free(sh);
	return 0;
}

/* --- one stream per coroutine ---------------------------------------------- */

struct stream {
	const char *body;
	struct loop_io *watch;
	long first_byte_ms;
	enum relay_err err;
	int status;
	size_t events; /* "data:" lines seen */
	uint64_t took_ms;
	int done;
};

static enum relay_err
on_head(void *arg, const struct upstream_head *h)
{
	struct stream *s = arg;

	s->status = h->status;
	return RELAY_OK;
}

static enum relay_err
on_data(void *arg, const char *p, size_t n)
{
	struct stream *s = arg;
	size_t i;

	for (i = 0; i + 5 <= n; i++)
		if (memcmp(p + i, "data:", 5) == 0)
			s->events++;
	return RELAY_OK;
}

static void
stream_main(void *arg)
{
	static const char *const hdrs[] = {"Content-Type: application/json"};
	struct stream *s = arg;
	struct upstream *u = upstream_new_on(hub);
	struct upstream_call c;
	uint64_t t0 = ms_now();

	assert_non_null(u);
	memset(&c, 0, sizeof(c));
	c.url = url;
	c.headers = hdrs;
	c.nheaders = 1;
	c.body = s->body;
	c.body_len = strlen(s->body);
	c.connect_ms = 5000;
	c.first_byte_ms = s->first_byte_ms > 0 ? s->first_byte_ms : 10000;
	c.idle_ms = 10000;
	c.watch_fd = -1;
	c.watch_io = s->watch;
	c.on_head = on_head;
	c.on_data = on_data;
	c.arg = s;
	s->err = upstream_perform(u, &c);
	s->took_ms = ms_now() - t0;
	s->done = 1;
	upstream_free(u);
}

#define STREAM(events, gap)                                                    \
	"{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","   \
	"\"content\":\"hi [[mock events=" #events " gap_ms=" #gap "]]\"}]}"

static void
test_many_streams_one_thread(void **state)
{
	enum { N = 300 };
	static struct stream s[N];
	struct loop *l = loop_new();
	uint64_t t0;
	int i;

	(void)state;
	assert_non_null(l);
	assert_non_null(hub = upstream_hub_new(sh, l));
	for (i = 0; i < N; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].body = STREAM(20, 25);
		assert_int_equal(
		    loop_spawn(l, stream_main, &s[i], RELAY_CORO_STACK),
		    RELAY_OK);
	}
	t0 = ms_now();
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	for (i = 0; i < N; i++) {
		assert_int_equal(s[i].err, RELAY_OK);
		assert_int_equal(s[i].status, 200);
		/* 20 content events, then the usage-less finish and [DONE]. */
		assert_true(s[i].events >= 20);
	}
	/* One at a time would take 300 x 0.5 s: they ran side by side. */
	assert_true(ms_now() - t0 < 30000);
	print_message("300 streams of 20 events 25 ms apart on one loop "
		      "thread: %llu ms\n",
	    (unsigned long long)(ms_now() - t0));
	upstream_hub_free(hub);
	loop_free(l);
}

/* --- a client that leaves ---------------------------------------------------- */

struct leaver {
	int fd; /* the "web server" end to close */
};

static void
leave_soon(void *arg)
{
	struct leaver *lv = arg;

	loop_sleep_until(loop_now(loop_current()) + 200);
	close(lv->fd);
}

static void
client_watch(void *arg)
{
	struct stream *s = arg;
	struct loop_io io;
	int fd = s->watch->fd;

	/* The watch is registered from here (the loop's thread). */
	assert_int_equal(loop_io_add(&io, fd), RELAY_OK);
	loop_io_clear(&io, LOOP_IN | LOOP_OUT);
	s->watch = &io;
	stream_main(s);
	loop_io_del(&io);
}

static void
test_client_leaves(void **state)
{
	struct loop *l = loop_new();
	struct stream gone = {0}, stays = {0};
	struct loop_io placeholder = {0};
	struct leaver lv;
	int sv[2];

	(void)state;
	assert_non_null(l);
	assert_non_null(hub = upstream_hub_new(sh, l));
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	placeholder.fd = sv[0];
	gone.body = STREAM(100, 50); /* 5 s unless cancelled */
	gone.watch = &placeholder;
	stays.body = STREAM(10, 50);
	lv.fd = sv[1];
	assert_int_equal(
	    loop_spawn(l, client_watch, &gone, RELAY_CORO_STACK), RELAY_OK);
	assert_int_equal(
	    loop_spawn(l, stream_main, &stays, RELAY_CORO_STACK), RELAY_OK);
	assert_int_equal(
	    loop_spawn(l, leave_soon, &lv, RELAY_CORO_STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(gone.err, RELAY_ECLOSED);
	assert_true(gone.took_ms < 2000);
	assert_true(gone.events < 50);
	assert_int_equal(stays.err, RELAY_OK);
	assert_true(stays.events >= 10);
	close(sv[0]);
	upstream_hub_free(hub);
	loop_free(l);
}

/* --- a silent upstream ---------------------------------------------------------- */

static void
test_first_byte_timeout(void **state)
{
	struct loop *l = loop_new();
	struct stream slow = {0}, fine = {0};

	(void)state;
	assert_non_null(l);
	assert_non_null(hub = upstream_hub_new(sh, l));
	slow.body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
		    "\"content\":\"[[mock delay_ms=10000]]\"}]}";
	slow.first_byte_ms = 300;
	fine.body = STREAM(5, 20);
	assert_int_equal(
	    loop_spawn(l, stream_main, &slow, RELAY_CORO_STACK), RELAY_OK);
	assert_int_equal(
	    loop_spawn(l, stream_main, &fine, RELAY_CORO_STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	print_message("first-byte timeout of 300 ms ended after %llu ms\n",
	    (unsigned long long)slow.took_ms);
	assert_int_equal(slow.err, RELAY_ETIMEOUT);
	/* The timeout, not the answer 10 s later (a loaded machine may add
	 * seconds to the 300 ms). Loop timers count from the loop's cached
	 * clock, taken at the top of the iteration in whole milliseconds, so
	 * the test's own clock may see the deadline a millisecond or two
	 * early (CI once saw 299). */
	assert_true(slow.took_ms >= 290 && slow.took_ms < 8000);
	assert_int_equal(fine.err, RELAY_OK);
	assert_true(fine.events >= 5);
	upstream_hub_free(hub);
	loop_free(l);
}

/* --- a slow reader ------------------------------------------------------------ */

struct slow {
	size_t got, biggest, calls;
	char last;
	enum relay_err err;
	int status;
};

static enum relay_err
slow_head(void *arg, const struct upstream_head *h)
{
	((struct slow *)arg)->status = h->status;
	return RELAY_OK;
}

/* A client that takes its time: each hand-over waits 2 ms, while the
 * mock can send the whole answer in less. */
static enum relay_err
slow_data(void *arg, const char *p, size_t n)
{
	struct slow *s = arg;

	s->got += n;
	s->calls++;
	if (n > s->biggest)
		s->biggest = n;
	s->last = p[n - 1];
	loop_nap(2);
	return RELAY_OK;
}

static void
slow_main(void *arg)
{
	static const char *const hdrs[] = {"Content-Type: application/json"};
	static const char body[] =
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"[[mock size=2000000]]\"}]}";
	struct slow *s = arg;
	struct upstream *u = upstream_new_on(hub);
	struct upstream_call c;

	assert_non_null(u);
	memset(&c, 0, sizeof(c));
	c.url = url;
	c.headers = hdrs;
	c.nheaders = 1;
	c.body = body;
	c.body_len = sizeof(body) - 1;
	c.connect_ms = 5000;
	c.first_byte_ms = 10000;
	c.idle_ms = 10000;
	c.watch_fd = -1;
	c.on_head = slow_head;
	c.on_data = slow_data;
	c.arg = s;
	s->err = upstream_perform(u, &c);
	assert_int_equal(c.bytes_in, s->got);
	upstream_free(u);
}

/* A 2 MB answer to a reader slower than the upstream: every byte arrives,
 * in order, while what waits for the reader stays bounded (curl is
 * paused past RELAY_UPSTREAM_QUEUE instead of the whole answer piling
 * up in memory). */
static void
test_slow_reader(void **state)
{
	struct loop *l = loop_new();
	struct slow s = {0};

	(void)state;
	assert_non_null(l);
	assert_non_null(hub = upstream_hub_new(sh, l));
	assert_int_equal(
	    loop_spawn(l, slow_main, &s, RELAY_CORO_STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	print_message("2 MB to a slow reader: %zu hand-overs, the biggest "
		      "%zu bytes\n",
	    s.calls, s.biggest);
	assert_int_equal(s.err, RELAY_OK);
	assert_int_equal(s.status, 200);
	assert_true(s.got > 2000000);
	assert_int_equal(s.last, '}');
	/* The queue's bound plus one read of curl's (CURL_MAX_WRITE_SIZE). */
	assert_true(s.biggest <= RELAY_UPSTREAM_QUEUE + 16384);
	upstream_hub_free(hub);
	loop_free(l);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_many_streams_one_thread),
	    cmocka_unit_test(test_client_leaves),
	    cmocka_unit_test(test_first_byte_timeout),
	    cmocka_unit_test(test_slow_reader),
	};
	char self[1024];

	(void)argc;
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* libcurl's allocations are not ours to fail */
	snprintf(self, sizeof(self), "%s", argv[0]);
	/* build/tests/test_upstream_loop -> build/mock-upstream */
	snprintf(
	    mock_bin, sizeof(mock_bin), "%s/../mock-upstream", dirname(self));
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name(
	    "upstream on the loop", cases, start_mock, stop_mock);
}
