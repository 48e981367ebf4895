/* SPDX-License-Identifier: MIT */
/* loop.h - the event loop of the runtime (issue 15): one epoll per loop
 * thread, timers, and small-stack coroutines, so that a request's logic
 * reads top to bottom while every wait (a socket, a deadline, another
 * request) yields the thread to the others. The loop knows nothing of
 * FastCGI, HTTP or memcached: those are callers of loop_io_wait() and
 * loop_sleep(). As redis's ae.c, it includes only the ground floor. */
#ifndef RELAY_LOOP_H
#define RELAY_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "err.h"

struct loop;
struct coro;
struct loop_io;

/* A callback io's function (loop_io_add_cb()). */
typedef void (*loop_io_fn)(struct loop_io *io, void *arg);

/* Readiness, as epoll's (EPOLLIN, EPOLLOUT) plus the two error bits. */
enum {
	LOOP_IN = 0x001,
	LOOP_OUT = 0x004,
	LOOP_ERR = 0x008,
	LOOP_HUP = 0x010,
};

/*
 * One fd watched by a loop, registered once (edge-triggered) for as long
 * as the caller keeps it: the loop remembers what epoll said, so a wait
 * for readiness already seen returns at once. Callers allocate it and
 * call loop_io_add(); after a read or write that met EAGAIN they call
 * loop_io_clear() for that direction. Fields private.
 */
struct loop_io {
	int fd;
	unsigned ready; /* LOOP_* seen since the last clear */
	struct coro *waiter;
	unsigned want;
	struct loop *loop;
	int level; /* loop_io_add_level(): readiness as of the last turn */
	int armed; /* level: epoll watches it (off while nobody waits) */
	loop_io_fn fn; /* loop_io_add_cb(): called by the loop itself */
	void *fn_arg;
	struct loop_io *qnext, *qprev; /* fn: due at this turn */
	int queued;
};

/* A new loop for the calling thread. NULL when memory or fds are short. */
struct loop *loop_new(void) RELAY_MUST_CHECK;
/* Free a loop whose coroutines have all ended. NULL is ok. */
void loop_free(struct loop *l);

/*
 * Run fn(arg) as a coroutine of l with a stack of stack_size bytes
 * (rounded to pages; a guard page below it). It starts at the loop's next
 * turn. RELAY_ENOMEM when no stack could be had.
 */
enum relay_err loop_spawn(struct loop *l, void (*fn)(void *), void *arg,
    size_t stack_size) RELAY_MUST_CHECK;
/* Coroutines alive (started and not yet returned). */
size_t loop_coros(const struct loop *l) RELAY_NONNULL;

/*
 * Turn the loop until loop_stop() was called and no coroutine is left,
 * or, with until_idle set, until no coroutine is left. RELAY_EIO when
 * epoll failed.
 */
enum relay_err loop_run(struct loop *l, int until_idle) RELAY_MUST_CHECK;
/* Ask l to stop; any thread may call it (an eventfd wakes the loop). */
void loop_stop(struct loop *l) RELAY_NONNULL;
/* Run fn(arg) on l's own thread at its next turn; any thread may call it.
 * RELAY_ENOMEM when memory is short. */
enum relay_err loop_post(
    struct loop *l, void (*fn)(void *), void *arg) RELAY_MUST_CHECK;

/* The loop of the calling thread's running coroutine, or NULL outside
 * one. */
struct loop *loop_current(void);
/* Milliseconds of CLOCK_MONOTONIC, as read at the loop's last turn. */
uint64_t loop_now(const struct loop *l) RELAY_NONNULL;

/* Watch fd on the current coroutine's loop (non-blocking fd). */
enum relay_err loop_io_add(struct loop_io *io, int fd) RELAY_MUST_CHECK;
/*
 * Watch fd level-triggered for events only (for a library that decides
 * itself how much to read, such as libcurl: an edge would be lost when
 * it stops before EAGAIN). ready then says what epoll reported at the
 * loop's last turn. loop_io_want() changes the events.
 */
enum relay_err loop_io_add_level(
    struct loop_io *io, int fd, unsigned events) RELAY_MUST_CHECK;
enum relay_err loop_io_want(
    struct loop_io *io, unsigned events) RELAY_MUST_CHECK;
/*
 * Watch fd on loop l level-triggered, and call fn(io, arg) from the loop
 * itself at every turn where fd is ready for io->want (see io->ready):
 * for a library driven by callbacks, as libcurl's multi interface is,
 * where one socket may carry the transfers of many coroutines. fn runs
 * outside any coroutine and must not wait; it may loop_wake() them, and
 * loop_io_del() any io, its own included. loop_io_want() changes the
 * events; 0 takes fd off epoll until they are set again.
 */
enum relay_err loop_io_add_cb(struct loop_io *io, struct loop *l, int fd,
    unsigned events, loop_io_fn fn, void *arg) RELAY_MUST_CHECK;
/* Stop watching (before the fd is closed). */
void loop_io_del(struct loop_io *io) RELAY_NONNULL;
/* Forget readiness in the directions of mask (after EAGAIN). */
void loop_io_clear(struct loop_io *io, unsigned mask) RELAY_NONNULL;

/*
 * From a coroutine: wait until io is ready for any of events (LOOP_IN,
 * LOOP_OUT; errors always count) or until the loop's clock reaches
 * deadline (ms, loop_now() scale; 0: no deadline). Returns the ready bits
 * among events|LOOP_ERR|LOOP_HUP, 0 at the deadline, or -1 when the
 * coroutine was woken by loop_wake() instead.
 */
int loop_io_wait(struct loop_io *io, unsigned events, uint64_t deadline);

/*
 * From a coroutine: wait until any of the n ios is ready for what it
 * wants (its want field: set by loop_io_add_level()/loop_io_want(), or
 * by the caller for an edge-triggered io), or until deadline (0: none).
 * 1 when one is (see each io's ready), 0 at the deadline, -1 when woken
 * by loop_wake() or when an io has another waiter. ios must stay valid
 * until it returns.
 */
int loop_wait_any(struct loop_io *const *ios, size_t n, uint64_t deadline);

/* From a coroutine: sleep until the loop's clock reaches deadline (ms),
 * or until loop_wake(). 1 when woken, 0 at the deadline. */
int loop_sleep_until(uint64_t deadline);
/* Sleep ms: in the loop from a coroutine, else the thread (for code
 * that runs on both runtimes). */
void loop_nap(long ms);
/* From a coroutine: let the others run, then go on. */
void loop_yield(void);
/*
 * From a coroutine about to wait long (a stream's minutes): give the
 * system back the pages of its stack below the running frame. Deeper
 * calls before the wait (memcached's round trips, building the call)
 * touched them, and a touched page stays resident for as long as the
 * coroutine lives. One madvise(2); the pages come back zeroed when used
 * again. Outside a coroutine, a no-op.
 */
void loop_stack_trim(void);
/* The running coroutine, to hand to loop_wake() later; NULL outside one. */
struct coro *loop_self(void);
/* Resume c (waiting in loop_io_wait or loop_sleep_until) at the loop's
 * next turn; from the same loop's thread only. Waking a coroutine that is
 * not waiting is a no-op. */
void loop_wake(struct coro *c) RELAY_NONNULL;

#endif
