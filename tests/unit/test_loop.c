/* SPDX-License-Identifier: MIT */
/* test_loop.c - unit tests for lib/loop.c: socket ping-pong between
 * coroutines, deadlines in order, a wait that times out, loop_wake, a
 * yield's turn, thousands of coroutines with their stacks reused, deep
 * stacks, posts and stop from another thread, and allocation failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/loop.h"

#include "oom_test.h"

#define STACK (64u * 1024)

/* --- ping-pong ----------------------------------------------------------- */

struct pp {
	int fd;
	int rounds;
	int starts; /* this side writes first */
	int done;
};

static int
read_one(struct loop_io *io, char *ch)
{
	for (;;) {
		ssize_t n = read(io->fd, ch, 1);

		if (n == 1)
			return 1;
		if (n == 0 || errno != EAGAIN)
			return 0;
		loop_io_clear(io, LOOP_IN);
		if (loop_io_wait(io, LOOP_IN, 0) <= 0)
			return 0;
	}
}

static void
pingpong(void *arg)
{
	struct pp *p = arg;
	struct loop_io io;
	char ch = 'x';
	int i;

	assert_int_equal(loop_io_add(&io, p->fd), RELAY_OK);
	for (i = 0; i < p->rounds; i++) {
		if (p->starts || i > 0)
			assert_int_equal(write(p->fd, &ch, 1), 1);
		if (!p->starts || i < p->rounds - 1)
			assert_true(read_one(&io, &ch));
	}
	if (!p->starts)
		assert_int_equal(write(p->fd, &ch, 1), 1);
	loop_io_del(&io);
	p->done = 1;
}

static void
test_pingpong(void **state)
{
	struct loop *l = loop_new();
	struct pp a = {0}, b = {0};
	int sv[2];

	(void)state;
	assert_non_null(l);
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	a.fd = sv[0];
	b.fd = sv[1];
	a.rounds = b.rounds = 10000;
	a.starts = 1;
	assert_int_equal(loop_spawn(l, pingpong, &a, STACK), RELAY_OK);
	assert_int_equal(loop_spawn(l, pingpong, &b, STACK), RELAY_OK);
	assert_int_equal(loop_coros(l), 2);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_true(a.done && b.done);
	assert_int_equal(loop_coros(l), 0);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

/* --- deadlines ----------------------------------------------------------- */

struct sleeper {
	uint64_t after;
	int *order;
	int *n;
	int id;
};

static void
sleeper(void *arg)
{
	struct sleeper *s = arg;
	struct loop *l = loop_current();

	assert_non_null(l);
	assert_int_equal(loop_sleep_until(loop_now(l) + s->after), 0);
	s->order[(*s->n)++] = s->id;
}

static void
test_deadlines_in_order(void **state)
{
	static const unsigned ms[] = {40, 5, 25, 1, 15, 30, 10};
	struct loop *l = loop_new();
	struct sleeper s[7];
	int order[7], n = 0, i;

	(void)state;
	assert_non_null(l);
	for (i = 0; i < 7; i++) {
		s[i] = (struct sleeper){ms[i], order, &n, i};
		assert_int_equal(
		    loop_spawn(l, sleeper, &s[i], STACK), RELAY_OK);
	}
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(n, 7);
	for (i = 1; i < 7; i++)
		assert_true(ms[order[i - 1]] <= ms[order[i]]);
	loop_free(l);
}

struct waiter {
	int fd;
	int result;
	uint64_t waited;
	struct coro *self;
};

static void
timed_wait(void *arg)
{
	struct waiter *w = arg;
	struct loop *l = loop_current();
	struct loop_io io;
	uint64_t t0 = loop_now(l);

	assert_int_equal(loop_io_add(&io, w->fd), RELAY_OK);
	loop_io_clear(&io, LOOP_IN | LOOP_OUT);
	w->self = loop_self();
	w->result = loop_io_wait(&io, LOOP_IN, t0 + 30);
	w->waited = loop_now(l) - t0;
	loop_io_del(&io);
}

/* A socket that stays silent: the wait ends at its deadline with 0. */
static void
test_wait_times_out(void **state)
{
	struct loop *l = loop_new();
	struct waiter w = {0};
	int sv[2];

	(void)state;
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	w.fd = sv[0];
	assert_int_equal(loop_spawn(l, timed_wait, &w, STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(w.result, 0);
	assert_true(w.waited >= 30);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

/* --- wake and yield ------------------------------------------------------ */

struct pair {
	struct coro *sleeper;
	int woke;
	uint64_t slept;
	int trace[8];
	int nt;
};

static void
long_sleeper(void *arg)
{
	struct pair *p = arg;
	struct loop *l = loop_current();
	uint64_t t0 = loop_now(l);

	p->sleeper = loop_self();
	p->woke = loop_sleep_until(t0 + 10000);
	p->slept = loop_now(l) - t0;
}

static void
waker(void *arg)
{
	struct pair *p = arg;
	struct loop *l = loop_current();

	loop_sleep_until(loop_now(l) + 5);
	assert_non_null(p->sleeper);
	loop_wake(p->sleeper);
	loop_wake(p->sleeper); /* already ready: no effect */
}

static void
test_wake(void **state)
{
	struct loop *l = loop_new();
	struct pair p = {0};

	(void)state;
	assert_int_equal(loop_spawn(l, long_sleeper, &p, STACK), RELAY_OK);
	assert_int_equal(loop_spawn(l, waker, &p, STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(p.woke, 1);
	assert_true(p.slept < 5000);
	loop_free(l);
}

static void
yielder(void *arg)
{
	struct pair *p = arg;
	int me = p->nt % 2; /* 0 for the first spawned, 1 for the second */
	int i;

	for (i = 0; i < 3; i++) {
		p->trace[p->nt++] = me;
		loop_yield();
	}
}

static void
test_yield_alternates(void **state)
{
	struct loop *l = loop_new();
	struct pair p = {0};
	int i;

	(void)state;
	assert_int_equal(loop_spawn(l, yielder, &p, STACK), RELAY_OK);
	assert_int_equal(loop_spawn(l, yielder, &p, STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(p.nt, 6);
	for (i = 0; i < 6; i++)
		assert_int_equal(p.trace[i], i % 2);
	loop_free(l);
}

/* --- many, deep ---------------------------------------------------------- */

static int many_done;

static void
brief(void *arg)
{
	struct loop *l = loop_current();
	int i;

	(void)arg;
	for (i = 0; i < 3; i++)
		loop_sleep_until(loop_now(l) + 1);
	many_done++;
}

static void
test_many(void **state)
{
	struct loop *l = loop_new();
	int i, round;

	(void)state;
	for (round = 0; round < 2; round++) { /* the second reuses stacks */
		many_done = 0;
		for (i = 0; i < 3000; i++)
			assert_int_equal(
			    loop_spawn(l, brief, NULL, STACK), RELAY_OK);
		assert_int_equal(loop_run(l, 1), RELAY_OK);
		assert_int_equal(many_done, 3000);
		assert_int_equal(loop_coros(l), 0);
	}
	loop_free(l);
}

static int __attribute__((noinline)) deep(int n)
{
	volatile char pad[1024];

	pad[0] = (char)n;
	pad[sizeof(pad) - 1] = (char)n;
	if (n == 0)
		return pad[0];
	loop_yield(); /* switch away with a deep stack, and back */
	return deep(n - 1) + pad[sizeof(pad) - 1] - n + 1;
}

static void
deep_coro(void *arg)
{
	*(int *)arg = deep(40); /* ~40 KiB of a 64 KiB stack */
}

static void
test_deep_stack(void **state)
{
	struct loop *l = loop_new();
	int r1 = -1, r2 = -1;

	(void)state;
	assert_int_equal(loop_spawn(l, deep_coro, &r1, STACK), RELAY_OK);
	assert_int_equal(loop_spawn(l, deep_coro, &r2, STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(r1, 40);
	assert_int_equal(r2, 40);
	loop_free(l);
}

/* --- the stack: trimmed pages, overflow on the guard --------------------- */

/* Pages resident among the n below top (page-aligned, mapped). */
static size_t
resident_below(char *top, size_t n)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), i, res = 0;
	unsigned char vec[64];

	assert_true(n <= sizeof(vec));
	assert_int_equal(mincore(top - n * ps, n * ps, vec), 0);
	for (i = 0; i < n; i++)
		res += vec[i] & 1;
	return res;
}

struct trim {
	size_t before, after, again; /* pages resident below the frame */
	int kept; /* the frame's own data survived */
	int r; /* deep() after the trim */
};

static void
trim_coro(void *arg)
{
	struct trim *t = arg;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	volatile char mine[256];
	char *top;

	memset((char *)mine, 0x5a, sizeof(mine));
	/* The page this frame is in, and 14 below it, all in the 64 KiB. */
	top =
	    (char *)(((uintptr_t)__builtin_frame_address(0) & ~(ps - 1)) - ps);
	(void)deep(40); /* ~40 KiB deeper, then back */
	t->before = resident_below(top, 14);
	loop_stack_trim();
	t->after = resident_below(top, 14);
	t->kept = mine[0] == 0x5a && mine[sizeof(mine) - 1] == 0x5a;
	t->r = deep(40); /* the pages come back, zeroed, and work */
	t->again = resident_below(top, 14);
}

/* loop_stack_trim() gives back what deeper calls touched below the
 * running frame (a stream's coroutine does it once its body flows), and
 * leaves the frame and its callers' alone. */
static void
test_stack_trim(void **state)
{
	struct loop *l = loop_new();
	struct trim t = {0};

	(void)state;
	loop_stack_trim(); /* outside a coroutine: nothing */
	assert_int_equal(loop_spawn(l, trim_coro, &t, STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_true(t.before >= 9);
	assert_true(t.after <= 2); /* the margin below the frame, at most */
	assert_true(t.kept);
	assert_int_equal(t.r, 40);
	assert_true(t.again >= 9);
	loop_free(l);
}

static int
bottomless(int n)
{
	volatile char pad[1024];

	pad[0] = (char)n;
	pad[sizeof(pad) - 1] = (char)n;
	if (n > (1 << 20)) /* a gigabyte down: never, the guard is first */
		return pad[0];
	return bottomless(n + 1) + pad[0];
}

static void
overflow_coro(void *arg)
{
	*(int *)arg = bottomless(0);
}

/* A coroutine that runs past its stack meets the guard page below it: the
 * process dies of SIGSEGV (or ASan's report of it), it never writes into
 * a neighbour's memory and goes on. In a child, which must not exit 0. */
static void
test_overflow_is_clean(void **state)
{
	pid_t pid;
	int st = 0;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct loop *l = loop_new();
		int r = 0;

		if (l == NULL ||
		    loop_spawn(l, overflow_coro, &r, STACK) != RELAY_OK)
			_exit(3);
		if (loop_run(l, 1) != RELAY_OK)
			_exit(3);
		_exit(0); /* not reached: the guard page stops it */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true((WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) ||
	    (WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 3));
}

/* --- level-triggered, several at once ------------------------------------ */

struct lvl {
	int a, b; /* our ends of two socketpairs */
	int first, again;
	double idle_cpu; /* seconds of CPU while parked elsewhere */
};

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
level_waiter(void *arg)
{
	struct lvl *v = arg;
	struct loop *l = loop_current();
	struct loop_io ia, ib;
	struct loop_io *set[2] = {&ia, &ib};
	double c0;

	assert_int_equal(loop_io_add_level(&ia, v->a, LOOP_IN), RELAY_OK);
	assert_int_equal(loop_io_add_level(&ib, v->b, LOOP_IN), RELAY_OK);
	/* b has a byte: the wait says so, and a is not ready. */
	v->first = loop_wait_any(set, 2, loop_now(l) + 1000);
	assert_true(ib.ready & LOOP_IN);
	assert_false(ia.ready & LOOP_IN);
	/* Unread, it is still ready: level-triggered. */
	v->again = loop_wait_any(set, 2, loop_now(l) + 1000);
	assert_true(ib.ready & LOOP_IN);
	/* Parked elsewhere while b stays readable: the loop must not spin
	 * on it. */
	c0 = cpu_now();
	loop_sleep_until(loop_now(l) + 200);
	v->idle_cpu = cpu_now() - c0;
	/* A deadline with nothing ready (b drained). */
	char ch;
	assert_int_equal(read(v->b, &ch, 1), 1);
	assert_int_equal(loop_wait_any(set, 2, loop_now(l) + 20), 0);
	loop_io_del(&ia);
	loop_io_del(&ib);
}

static void
test_level_wait_any(void **state)
{
	struct loop *l = loop_new();
	struct lvl v = {0};
	int p1[2], p2[2];

	(void)state;
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p1), 0);
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p2), 0);
	v.a = p1[0];
	v.b = p2[0];
	assert_int_equal(write(p2[1], "x", 1), 1);
	assert_int_equal(loop_spawn(l, level_waiter, &v, STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(v.first, 1);
	assert_int_equal(v.again, 1);
	assert_true(v.idle_cpu < 0.05); /* a spinning loop burns ~0.2 s */
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	loop_free(l);
}

/* --- other threads ------------------------------------------------------- */

struct cross {
	struct loop *l;
	int posted[3];
	int n;
};

static void
posted(void *arg)
{
	struct cross *x = arg;

	x->posted[x->n] = x->n + 1;
	x->n++;
}

static void *
poster(void *arg)
{
	struct cross *x = arg;
	int i;

	usleep(20000);
	for (i = 0; i < 3; i++)
		assert_int_equal(loop_post(x->l, posted, x), RELAY_OK);
	usleep(20000);
	loop_stop(x->l);
	return NULL;
}

static void
test_post_and_stop(void **state)
{
	struct cross x = {0};
	pthread_t t;

	(void)state;
	x.l = loop_new();
	assert_int_equal(pthread_create(&t, NULL, poster, &x), 0);
	assert_int_equal(loop_run(x.l, 0), RELAY_OK); /* returns on stop */
	pthread_join(t, NULL);
	assert_int_equal(x.n, 3);
	assert_int_equal(x.posted[2], 3);
	loop_free(x.l);
}

/* --- allocation failures ------------------------------------------------- */

/* --- callback ios ---------------------------------------------------------- */

struct cbio {
	struct loop_io io;
	struct cbio *other; /* deleted by this one's callback */
	int calls;
	int live;
};

static void
on_cb_delete_other(struct loop_io *io, void *arg)
{
	struct cbio *me = arg;

	(void)io;
	me->calls++;
	if (me->other->live) {
		loop_io_del(&me->other->io);
		me->other->live = 0;
	}
	if (me->live) {
		loop_io_del(&me->io);
		me->live = 0;
	}
}

static void
on_cb_once(struct loop_io *io, void *arg)
{
	struct cbio *me = arg;

	me->calls++;
	assert_int_equal(loop_io_want(io, 0), RELAY_OK);
}

static void
nap_50(void *arg)
{
	(void)arg;
	loop_nap(50);
}

/* Two ios ready in one turn, each callback deleting the other: the second
 * is never called (it left the turn's due list), and nothing is touched
 * after its deletion. An io whose callback sets no events is called no
 * more, though its fd stays readable (level-triggered, off epoll). */
static void
test_callback_ios(void **state)
{
	struct loop *l = loop_new();
	struct cbio a = {0}, b = {0}, c = {0};
	int sa[2], sb[2], sc[2];

	(void)state;
	assert_non_null(l);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sa), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sb), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sc), 0);
	assert_int_equal(write(sa[1], "x", 1), 1);
	assert_int_equal(write(sb[1], "x", 1), 1);
	assert_int_equal(write(sc[1], "x", 1), 1);
	a.other = &b;
	b.other = &a;
	assert_int_equal(
	    loop_io_add_cb(&a.io, l, sa[0], LOOP_IN, on_cb_delete_other, &a),
	    RELAY_OK);
	assert_int_equal(
	    loop_io_add_cb(&b.io, l, sb[0], LOOP_IN, on_cb_delete_other, &b),
	    RELAY_OK);
	assert_int_equal(
	    loop_io_add_cb(&c.io, l, sc[0], LOOP_IN, on_cb_once, &c), RELAY_OK);
	a.live = b.live = 1;
	assert_int_equal(loop_spawn(l, nap_50, NULL, STACK), RELAY_OK);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(c.calls, 1);
	loop_io_del(&c.io);
	close(sa[0]);
	close(sa[1]);
	close(sb[0]);
	close(sb[1]);
	close(sc[0]);
	close(sc[1]);
	loop_free(l);
}

static void
noop(void *arg)
{
	(*(int *)arg)++;
}

static void
test_oom(void **state)
{
	struct loop *l = loop_new();
	int ran = 0, spawned = 0, i;

	(void)state;
	if (l == NULL) {
		assert_true(oom_n != 0);
		return;
	}
	for (i = 0; i < 4; i++)
		if (loop_spawn(l, noop, &ran, STACK) == RELAY_OK)
			spawned++;
		else
			assert_true(oom_n != 0);
	assert_int_equal(loop_run(l, 1), RELAY_OK);
	assert_int_equal(ran, spawned);
	loop_free(l);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_oom),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_pingpong),
	    cmocka_unit_test(test_deadlines_in_order),
	    cmocka_unit_test(test_wait_times_out),
	    cmocka_unit_test(test_wake),
	    cmocka_unit_test(test_yield_alternates),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_deep_stack),
	    cmocka_unit_test(test_stack_trim),
	    cmocka_unit_test(test_overflow_is_clean),
	    cmocka_unit_test(test_post_and_stop),
	    cmocka_unit_test(test_level_wait_any),
	    cmocka_unit_test(test_callback_ios),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "loop (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("loop", cases, NULL, NULL);
	return oom_exit(failed);
}
