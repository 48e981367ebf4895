/* SPDX-License-Identifier: MIT */
/* loopbench.c - what a wait costs in lib/loop.c, to choose between
 * coroutines and explicit state machines (docs/architecture.md):
 *
 *   pingpong  P pairs of peers bounce a byte over socketpairs on one
 *             epoll, N round trips each: with coroutines (a request's
 *             logic written top to bottom, loop_io_wait between a write
 *             and the next read), and with callbacks over a state struct
 *             on the same edge-triggered epoll (what lighttpd's handlers
 *             and h2o's memcached client do). CPU per round trip.
 *   idle      C coroutines parked in loop_sleep_until(): RSS per
 *             coroutine (its stack pages actually touched).
 *
 * Built twice (make loopbench): build/bench/loopbench with the x86-64
 * switch, build/bench/loopbench-ucontext with swapcontext(3). Prints one
 * line per figure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../lib/loop.h"
#include "../lib/num.h"

#define STACK (64u * 1024)

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* --- coroutines ---------------------------------------------------------- */

struct peer {
	int fd;
	long rounds;
	int starts;
};

static void
co_peer(void *arg)
{
	struct peer *p = arg;
	struct loop_io io;
	char ch = 'x';
	long i;

	if (loop_io_add(&io, p->fd) != RELAY_OK)
		abort();
	for (i = 0; i < p->rounds; i++) {
		if (p->starts && write(p->fd, &ch, 1) != 1)
			abort();
		for (;;) {
			ssize_t n = read(p->fd, &ch, 1);

			if (n == 1)
				break;
			if (n == 0 || errno != EAGAIN)
				abort();
			loop_io_clear(&io, LOOP_IN);
			if (loop_io_wait(&io, LOOP_IN, 0) <= 0)
				abort();
		}
		if (!p->starts && write(p->fd, &ch, 1) != 1)
			abort();
	}
	loop_io_del(&io);
}

static double
bench_coro(int pairs, long rounds)
{
	struct loop *l = loop_new();
	struct peer *p = calloc((size_t)pairs * 2, sizeof(*p));
	double t0;
	int i, sv[2];

	if (l == NULL || p == NULL)
		abort();
	for (i = 0; i < pairs; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) !=
		    0)
			abort();
		p[2 * i] = (struct peer){sv[0], rounds, 1};
		p[2 * i + 1] = (struct peer){sv[1], rounds, 0};
		if (loop_spawn(l, co_peer, &p[2 * i], STACK) != RELAY_OK ||
		    loop_spawn(l, co_peer, &p[2 * i + 1], STACK) != RELAY_OK)
			abort();
	}
	t0 = cpu_s();
	if (loop_run(l, 1) != RELAY_OK)
		abort();
	t0 = cpu_s() - t0;
	for (i = 0; i < 2 * pairs; i++)
		close(p[i].fd);
	free(p);
	loop_free(l);
	return t0;
}

/* --- callbacks over a state struct --------------------------------------- */

struct sm {
	int fd;
	long left;
	int starts;
};

static double
bench_sm(int pairs, long rounds)
{
	struct sm *s = calloc((size_t)pairs * 2, sizeof(*s));
	struct epoll_event ev, evs[256];
	int ep = epoll_create1(0), i, n, sv[2], live = 2 * pairs;
	char ch = 'x';
	double t0;

	if (s == NULL || ep < 0)
		abort();
	for (i = 0; i < pairs; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) !=
		    0)
			abort();
		s[2 * i] = (struct sm){sv[0], rounds, 1};
		s[2 * i + 1] = (struct sm){sv[1], rounds, 0};
	}
	t0 = cpu_s();
	for (i = 0; i < 2 * pairs; i++) {
		ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
		ev.data.ptr = &s[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev) != 0)
			abort();
		if (s[i].starts && write(s[i].fd, &ch, 1) != 1)
			abort();
	}
	while (live > 0) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			struct sm *m = evs[i].data.ptr;

			if (!(evs[i].events & EPOLLIN) || m->left == 0)
				continue;
			while (read(m->fd, &ch, 1) == 1) {
				if (!m->starts || m->left > 1)
					if (write(m->fd, &ch, 1) != 1)
						abort();
				if (--m->left == 0) {
					live--;
					break;
				}
			}
		}
	}
	t0 = cpu_s() - t0;
	for (i = 0; i < 2 * pairs; i++)
		close(s[i].fd);
	close(ep);
	free(s);
	return t0;
}

/* --- idle coroutines ----------------------------------------------------- */

static long parked_rss;

/* Reads RSS while the others are parked. */
static void
co_measure(void *arg)
{
	struct loop *l = loop_current();

	(void)arg;
	loop_sleep_until(loop_now(l) + 100);
	parked_rss = rss_kb();
}

static void
co_idle(void *arg)
{
	struct loop *l = loop_current();

	(void)arg;
	loop_sleep_until(loop_now(l) + 300);
}

int
main(int argc, char **argv)
{
	long long v;
	int pairs = 100, idle = 10000;
	long rounds = 20000;
	double co, sm;
	long before, after;
	struct loop *l;
	int i;

	if (argc > 1 && num_parse(argv[1], 1, 100000, &v) == RELAY_OK)
		pairs = (int)v;
	if (argc > 2 && num_parse(argv[2], 1, 100000000, &v) == RELAY_OK)
		rounds = (long)v;
	if (argc > 3 && num_parse(argv[3], 0, 1000000, &v) == RELAY_OK)
		idle = (int)v;
	co = bench_coro(pairs, rounds);
	sm = bench_sm(pairs, rounds);
	printf("pingpong %d pairs x %ld round trips: coroutines %.3f us, "
	       "state machine %.3f us CPU per round trip (ratio %.2f)\n",
	    pairs, rounds, co * 1e6 / ((double)pairs * rounds),
	    sm * 1e6 / ((double)pairs * rounds), co / sm);
	l = loop_new();
	if (l == NULL)
		abort();
	before = rss_kb();
	for (i = 0; i < idle; i++)
		if (loop_spawn(l, co_idle, NULL, STACK) != RELAY_OK)
			abort();
	if (loop_spawn(l, co_measure, NULL, STACK) != RELAY_OK ||
	    loop_run(l, 1) != RELAY_OK)
		abort();
	after = parked_rss;
	printf("idle %d coroutines of %u KiB stacks: RSS +%ld KiB while "
	       "parked (%.1f KiB each)\n",
	    idle, STACK / 1024, after - before,
	    idle > 0 ? (double)(after - before) / idle : 0.0);
	loop_free(l);
	return 0;
}
