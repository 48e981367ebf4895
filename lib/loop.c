/* SPDX-License-Identifier: MIT */
/* loop.c - epoll, a timer heap and coroutines; see loop.h.
 *
 * A loop turn runs every ready coroutine until it waits again, then asks
 * epoll for what became ready (edge-triggered: one registration per fd
 * for its whole life, no epoll_ctl per wait), then fires the deadlines
 * that passed. A coroutine switch on x86-64 is a dozen instructions (the
 * callee-saved registers, the stack pointer, MXCSR and the x87 control
 * word); elsewhere, or with RELAY_CORO_UCONTEXT, it is swapcontext(3),
 * which also saves the signal mask with a system call each way.
 * AddressSanitizer is told of every switch (its fake stacks follow), and
 * valgrind of every stack. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"
#include "loop.h"
#include "mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define LOOP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOP_ASAN 1
#endif
#endif
#ifdef LOOP_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define LOOP_VALGRIND 1
#endif
#endif

#if !defined(__x86_64__) && !defined(RELAY_CORO_UCONTEXT)
#define RELAY_CORO_UCONTEXT 1
#endif
#ifdef RELAY_CORO_UCONTEXT
#include <ucontext.h>
#endif

/* Events one epoll_wait() takes: count. */
#define LOOP_EVENTS 256
/* The guard page below each stack, and the unit stacks are rounded to. */
#define LOOP_PAGE page_size()

enum cstate { C_READY, C_RUNNING, C_WAITING, C_DONE };

/* A saved context: the stack pointer (asm), or a ucontext. */
struct ctx {
#ifdef RELAY_CORO_UCONTEXT
	ucontext_t uc;
#else
	void *sp;
#endif
};

struct coro {
	struct ctx ctx;
	struct loop *loop;
	void (*fn)(void *);
	void *arg;
	char *stack; /* the mapping: guard page, then the stack */
	size_t map_size;
	enum cstate state;
	struct coro *next; /* the ready queue */
	uint64_t deadline; /* in the timer heap when heap_at != SIZE_MAX */
	size_t heap_at;
	struct loop_io *io; /* waited on */
	struct loop_io *const *set; /* or these (loop_wait_any) */
	size_t nset;
	int reason; /* why it woke: 1 io, 0 deadline, -1 loop_wake() */
	unsigned vg_id;
	void *asan_fake;
};

struct post {
	void (*fn)(void *);
	void *arg;
	struct post *next;
};

struct loop {
	int ep, efd;
	uint64_t now;
	volatile int stop;
	struct ctx main; /* the loop's own context */
	const void *main_bottom; /* its stack, for ASan */
	size_t main_size;
	void *main_fake; /* ASan's fake stack of the loop's context */
	struct coro *cur;
	struct coro *ready, *ready_tail;
	struct coro **heap;
	size_t nheap, heap_cap;
	size_t ncoros;
	char *stacks
	    [RELAY_CORO_STACKS_KEPT]; /* kept mappings of stack_keep bytes */
	size_t nstacks, stack_keep;
	pthread_mutex_t post_mu;
	struct post *posts;
	struct loop_io *due, *due_tail; /* callback ios ready at this turn */
};

static __thread struct loop *tl_loop;

static size_t
page_size(void)
{
	static size_t ps;

	if (ps == 0) {
		long v = sysconf(_SC_PAGESIZE);

		ps = v > 0 ? (size_t)v : 4096;
	}
	return ps;
}

/* --- the switch ---------------------------------------------------------- */

#ifndef RELAY_CORO_UCONTEXT
/* relay_coro_switch(&from->sp, to->sp): save the callee-saved state on
 * the current stack, store its pointer, load the other and return into
 * it. A new coroutine's stack is laid out so that the return lands in
 * coro_entry() with the ABI's alignment. */
void relay_coro_switch(void **from_sp, void *to_sp);
__asm__(".text\n"
	".globl relay_coro_switch\n"
	".type relay_coro_switch,@function\n"
	".hidden relay_coro_switch\n"
	"relay_coro_switch:\n"
	"	endbr64\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size relay_coro_switch,.-relay_coro_switch\n");
#endif

static void coro_entry(void);

/* Switch from the context at from to c (to_coro) or to the loop (c NULL). */
static void
switch_ctx(struct loop *l, struct ctx *from, void **from_fake, struct coro *c)
{
	struct ctx *to = c != NULL ? &c->ctx : &l->main;
#ifdef LOOP_ASAN
	const void *bottom;
	size_t size;

	if (c != NULL) {
		bottom = c->stack + LOOP_PAGE;
		size = c->map_size - LOOP_PAGE;
	} else {
		bottom = l->main_bottom;
		size = l->main_size;
	}
	__sanitizer_start_switch_fiber(from_fake, bottom, size);
#else
	(void)from_fake;
#endif
#ifdef RELAY_CORO_UCONTEXT
	swapcontext(&from->uc, &to->uc);
#else
	relay_coro_switch(&from->sp, to->sp);
#endif
#ifdef LOOP_ASAN
	__sanitizer_finish_switch_fiber(
	    from_fake != NULL ? *from_fake : NULL, &bottom, &size);
#endif
}

/* From the running coroutine back to its loop. */
static void
to_loop(struct coro *c)
{
	switch_ctx(
	    c->loop, &c->ctx, c->state == C_DONE ? NULL : &c->asan_fake, NULL);
}

static void
coro_entry(void)
{
	struct loop *l = tl_loop;
	struct coro *c = l->cur;

#ifdef LOOP_ASAN
	/* The first switch into a coroutine: learn the loop's stack. */
	__sanitizer_finish_switch_fiber(NULL, &l->main_bottom, &l->main_size);
#endif
	c->fn(c->arg);
	c->state = C_DONE;
	to_loop(c);
	abort(); /* a finished coroutine is never resumed */
}

/* --- stacks -------------------------------------------------------------- */

static char *
stack_get(struct loop *l, size_t map_size)
{
	char *m;

	if (map_size == l->stack_keep && l->nstacks > 0)
		m = l->stacks[--l->nstacks];
	else {
		m = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		if (mprotect(m, LOOP_PAGE, PROT_NONE) != 0) { /* guard */
			munmap(m, map_size);
			return NULL;
		}
	}
#ifdef LOOP_ASAN
	/* A kept stack, or an address an earlier stack had: ASan's shadow
	 * still holds the redzones of frames that never returned there (a
	 * coroutine ends by switching away, not by returning). */
	ASAN_UNPOISON_MEMORY_REGION(m + LOOP_PAGE, map_size - LOOP_PAGE);
#endif
	return m;
}

static void
stack_put(struct loop *l, char *m, size_t map_size)
{
	if (l->stack_keep == 0)
		l->stack_keep = map_size;
	if (map_size == l->stack_keep && l->nstacks < RELAY_CORO_STACKS_KEPT)
		l->stacks[l->nstacks++] = m;
	else
		munmap(m, map_size);
}

/* --- the timer heap (a binary min-heap on deadline) ---------------------- */

static void
heap_set(struct loop *l, size_t i, struct coro *c)
{
	l->heap[i] = c;
	c->heap_at = i;
}

static void
heap_up(struct loop *l, size_t i)
{
	struct coro *c = l->heap[i];

	while (i > 0 && l->heap[(i - 1) / 2]->deadline > c->deadline) {
		heap_set(l, i, l->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(l, i, c);
}

static void
heap_down(struct loop *l, size_t i)
{
	struct coro *c = l->heap[i];
	size_t k;

	while ((k = 2 * i + 1) < l->nheap) {
		if (k + 1 < l->nheap &&
		    l->heap[k + 1]->deadline < l->heap[k]->deadline)
			k++;
		if (l->heap[k]->deadline >= c->deadline)
			break;
		heap_set(l, i, l->heap[k]);
		i = k;
	}
	heap_set(l, i, c);
}

static enum relay_err
heap_push(struct loop *l, struct coro *c)
{
	struct coro **h;
	size_t cap;

	if (l->nheap == l->heap_cap) {
		cap = l->heap_cap != 0 ? l->heap_cap * 2 : 64;
		h = mem_reallocarray(l->heap, cap, sizeof(*h));
		if (h == NULL)
			return RELAY_ENOMEM;
		l->heap = h;
		l->heap_cap = cap;
	}
	heap_set(l, l->nheap++, c);
	heap_up(l, l->nheap - 1);
	return RELAY_OK;
}

static void
heap_remove(struct loop *l, struct coro *c)
{
	size_t i = c->heap_at;

	if (i == SIZE_MAX)
		return;
	c->heap_at = SIZE_MAX;
	if (--l->nheap == i)
		return;
	heap_set(l, i, l->heap[l->nheap]);
	heap_down(l, i);
	heap_up(l, l->heap[i]->heap_at);
}

/* --- scheduling ---------------------------------------------------------- */

static uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* c waits no more: queue it with reason r. */
static void
make_ready(struct loop *l, struct coro *c, int r)
{
	heap_remove(l, c);
	if (c->io != NULL) {
		c->io->waiter = NULL;
		c->io = NULL;
	}
	for (; c->nset > 0; c->nset--)
		if (c->set[c->nset - 1]->waiter == c)
			c->set[c->nset - 1]->waiter = NULL;
	c->reason = r;
	c->state = C_READY;
	c->next = NULL;
	if (l->ready_tail != NULL)
		l->ready_tail->next = c;
	else
		l->ready = c;
	l->ready_tail = c;
}

static void
resume(struct loop *l, struct coro *c)
{
	l->cur = c;
	c->state = C_RUNNING;
	switch_ctx(l, &l->main, &l->main_fake, c);
	l->cur = NULL;
	if (c->state == C_DONE) {
#ifdef LOOP_VALGRIND
		VALGRIND_STACK_DEREGISTER(c->vg_id);
#endif
		stack_put(l, c->stack, c->map_size);
		mem_free(c);
		l->ncoros--;
	}
}

/* From the running coroutine: give the thread back until woken. */
static int
park(struct coro *c)
{
	c->state = C_WAITING;
	to_loop(c);
	return c->reason;
}

struct loop *
loop_new(void)
{
	struct loop *l = mem_calloc(1, sizeof(*l));
	struct epoll_event ev = {.events = EPOLLIN};

	if (l == NULL)
		return NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ev.data.ptr = NULL; /* the eventfd: posts and stop */
	if (l->ep < 0 || l->efd < 0 ||
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->efd, &ev) != 0) {
		if (l->ep >= 0)
			close(l->ep);
		if (l->efd >= 0)
			close(l->efd);
		mem_free(l);
		return NULL;
	}
	pthread_mutex_init(&l->post_mu, NULL);
	l->now = clock_ms();
	return l;
}

void
loop_free(struct loop *l)
{
	struct post *p;

	if (l == NULL)
		return;
	while (l->nstacks > 0)
		munmap(l->stacks[--l->nstacks], l->stack_keep);
	while ((p = l->posts) != NULL) {
		l->posts = p->next;
		mem_free(p);
	}
	pthread_mutex_destroy(&l->post_mu);
	mem_free(l->heap);
	close(l->ep);
	close(l->efd);
	mem_free(l);
}

enum relay_err
loop_spawn(struct loop *l, void (*fn)(void *), void *arg, size_t stack_size)
{
	struct coro *c = mem_calloc(1, sizeof(*c));
	size_t map = (stack_size + 2 * LOOP_PAGE - 1) / LOOP_PAGE * LOOP_PAGE;

	if (c == NULL)
		return RELAY_ENOMEM;
	if ((c->stack = stack_get(l, map)) == NULL) {
		mem_free(c);
		return RELAY_ENOMEM;
	}
	c->map_size = map;
	c->loop = l;
	c->fn = fn;
	c->arg = arg;
	c->heap_at = SIZE_MAX;
#ifdef LOOP_VALGRIND
	c->vg_id =
	    VALGRIND_STACK_REGISTER(c->stack + LOOP_PAGE, c->stack + map);
#endif
#ifdef RELAY_CORO_UCONTEXT
	if (getcontext(&c->ctx.uc) != 0) {
		stack_put(l, c->stack, map);
		mem_free(c);
		return RELAY_ENOMEM;
	}
	c->ctx.uc.uc_stack.ss_sp = c->stack + LOOP_PAGE;
	c->ctx.uc.uc_stack.ss_size = map - LOOP_PAGE;
	c->ctx.uc.uc_link = NULL;
	makecontext(&c->ctx.uc, coro_entry, 0);
#else
	{
		/* Top down: a zero return address for coro_entry's frame
		 * (so that its entry sees rsp = 8 mod 16, as after a call),
		 * coro_entry itself for the switch's ret, six zeroed
		 * registers, then MXCSR and the x87 control word at their
		 * defaults. */
		uint64_t *sp = (uint64_t *)(void *)(c->stack + map);

		*--sp = 0;
		*--sp = (uint64_t)(uintptr_t)coro_entry;
		for (size_t i = 0; i < 6; i++)
			*--sp = 0;
		*--sp = 0x037F00001F80ull; /* fcw 0x037f, mxcsr 0x1f80 */
		c->ctx.sp = sp;
	}
#endif
	l->ncoros++;
	make_ready(l, c, 1);
	return RELAY_OK;
}

size_t
loop_coros(const struct loop *l)
{
	return l->ncoros;
}

static void
run_posts(struct loop *l)
{
	struct post *p, *next, *rev = NULL;
	uint64_t n;

	while (read(l->efd, &n, sizeof(n)) > 0)
		;
	pthread_mutex_lock(&l->post_mu);
	p = l->posts;
	l->posts = NULL;
	pthread_mutex_unlock(&l->post_mu);
	/* In the order they were posted (the list is newest first). */
	for (; p != NULL; p = next) {
		next = p->next;
		p->next = rev;
		rev = p;
	}
	for (p = rev; p != NULL; p = next) {
		next = p->next;
		p->fn(p->arg);
		mem_free(p);
	}
}

/* The due list of callback ios: doubly linked, so that loop_io_del()
 * takes one out wherever it is. */
static void
due_push(struct loop *l, struct loop_io *io)
{
	if (io->queued)
		return;
	io->queued = 1;
	io->qnext = NULL;
	io->qprev = l->due_tail;
	if (l->due_tail != NULL)
		l->due_tail->qnext = io;
	else
		l->due = io;
	l->due_tail = io;
}

static void
due_unlink(struct loop *l, struct loop_io *io)
{
	if (!io->queued)
		return;
	if (io->qprev != NULL)
		io->qprev->qnext = io->qnext;
	else
		l->due = io->qnext;
	if (io->qnext != NULL)
		io->qnext->qprev = io->qprev;
	else
		l->due_tail = io->qprev;
	io->queued = 0;
	io->qnext = io->qprev = NULL;
}

/* A level-triggered io nobody waits on: off until the next wait, so
 * that a socket left readable does not spin the loop. */
static void
disarm(struct loop *l, struct loop_io *io)
{
	struct epoll_event ev = {.events = 0};

	ev.data.ptr = io;
	if (io->armed && epoll_ctl(l->ep, EPOLL_CTL_MOD, io->fd, &ev) == 0)
		io->armed = 0;
}

static int
arm(struct loop_io *io)
{
	struct epoll_event ev = {.events = io->want};

	ev.data.ptr = io;
	if (io->armed)
		return 0;
	if (epoll_ctl(io->loop->ep, EPOLL_CTL_MOD, io->fd, &ev) != 0)
		return -1;
	io->armed = 1;
	return 0;
}

enum relay_err
loop_run(struct loop *l, int until_idle)
{
	struct epoll_event evs[LOOP_EVENTS];
	struct loop *outer = tl_loop;
	struct coro *c, *next;
	struct loop_io *io;
	int n, i, timeout;

	tl_loop = l;
	for (;;) {
		/* Those ready now; who becomes ready meanwhile (a yield, a
		 * spawn) waits for the next turn, after epoll. */
		c = l->ready;
		l->ready = l->ready_tail = NULL;
		for (; c != NULL; c = next) {
			next = c->next;
			resume(l, c);
		}
		if (l->ncoros == 0 && (until_idle || l->stop))
			break;
		timeout = -1;
		if (l->ready != NULL)
			timeout = 0;
		else if (l->nheap > 0)
			timeout = l->heap[0]->deadline <= l->now
			    ? 0
			    : (int)(l->heap[0]->deadline - l->now);
		n = epoll_wait(l->ep, evs, LOOP_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			log_err("loop: epoll_wait: %s", strerror(errno));
			tl_loop = outer;
			return RELAY_EIO;
		}
		l->now = clock_ms();
		for (i = 0; i < n; i++) {
			if ((io = evs[i].data.ptr) == NULL) {
				run_posts(l);
				continue;
			}
			if (io->fn != NULL) {
				io->ready = evs[i].events &
				    (LOOP_IN | LOOP_OUT | LOOP_ERR | LOOP_HUP);
				due_push(l, io);
				continue;
			}
			if (io->level) { /* what is true now, not since */
				io->ready = evs[i].events &
				    (LOOP_IN | LOOP_OUT | LOOP_ERR | LOOP_HUP);
				if (io->waiter == NULL)
					disarm(l, io); /* or it fires again */
			} else
				io->ready |= evs[i].events &
				    (LOOP_IN | LOOP_OUT | LOOP_ERR | LOOP_HUP);
			if (io->waiter != NULL &&
			    (io->ready & (io->want | LOOP_ERR | LOOP_HUP)))
				make_ready(l, io->waiter, 1);
		}
		/* After the batch: a callback may delete ios the batch
		 * still names (it unlinks them from the due list). */
		while ((io = l->due) != NULL) {
			due_unlink(l, io);
			io->fn(io, io->fn_arg);
		}
		while (l->nheap > 0 && l->heap[0]->deadline <= l->now)
			make_ready(l, l->heap[0], 0);
	}
	tl_loop = outer;
	return RELAY_OK;
}

void
loop_stop(struct loop *l)
{
	uint64_t one = 1;

	l->stop = 1;
	if (write(l->efd, &one, sizeof(one)) < 0) {
		/* the counter is full: the loop is being woken anyway */
	}
}

enum relay_err
loop_post(struct loop *l, void (*fn)(void *), void *arg)
{
	struct post *p = mem_malloc(sizeof(*p));
	uint64_t one = 1;

	if (p == NULL)
		return RELAY_ENOMEM;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&l->post_mu);
	p->next = l->posts;
	l->posts = p;
	pthread_mutex_unlock(&l->post_mu);
	if (write(l->efd, &one, sizeof(one)) < 0) {
		/* full: already due to wake */
	}
	return RELAY_OK;
}

struct loop *
loop_current(void)
{
	return tl_loop != NULL && tl_loop->cur != NULL ? tl_loop : NULL;
}

uint64_t
loop_now(const struct loop *l)
{
	return l->now;
}

struct coro *
loop_self(void)
{
	return tl_loop != NULL ? tl_loop->cur : NULL;
}

/* --- waiting ------------------------------------------------------------- */

/* Register fd with the calling thread's loop for epoll events ev. */
static enum relay_err
io_register(struct loop_io *io, int fd, uint32_t ev_mask, int level)
{
	struct epoll_event ev = {.events = ev_mask};

	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->loop = tl_loop;
	io->level = level;
	io->armed = level;
	io->want = level ? ev_mask : 0;
	ev.data.ptr = io;
	if (io->loop == NULL)
		return RELAY_EINVAL;
	if (epoll_ctl(io->loop->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		io->loop = NULL;
		return errno == ENOMEM ? RELAY_ENOMEM : RELAY_EIO;
	}
	return RELAY_OK;
}

enum relay_err
loop_io_add(struct loop_io *io, int fd)
{
	return io_register(
	    io, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, 0);
}

enum relay_err
loop_io_add_level(struct loop_io *io, int fd, unsigned events)
{
	return io_register(io, fd, events, 1);
}

/* A callback io's events; 0 takes its fd off epoll (which would report
 * a hang-up or an error whatever the mask). */
static enum relay_err
cb_want(struct loop_io *io, unsigned events)
{
	struct epoll_event ev = {.events = events};
	int op = events == 0 ? EPOLL_CTL_DEL
			     : (io->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);

	ev.data.ptr = io;
	io->want = events;
	io->ready &= events;
	if (events == 0)
		due_unlink(io->loop, io);
	if ((events != 0 || io->armed) &&
	    epoll_ctl(io->loop->ep, op, io->fd, &ev) != 0)
		return errno == ENOMEM ? RELAY_ENOMEM : RELAY_EIO;
	io->armed = events != 0;
	return RELAY_OK;
}

enum relay_err
loop_io_add_cb(struct loop_io *io, struct loop *l, int fd, unsigned events,
    loop_io_fn fn, void *arg)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->loop = l;
	io->level = 1;
	io->fn = fn;
	io->fn_arg = arg;
	return cb_want(io, events);
}

enum relay_err
loop_io_want(struct loop_io *io, unsigned events)
{
	struct epoll_event ev = {.events = events};

	ev.data.ptr = io;
	if (io->loop == NULL || !io->level)
		return RELAY_EINVAL;
	if (events == io->want)
		return RELAY_OK;
	if (io->fn != NULL)
		return cb_want(io, events);
	io->want = events;
	io->ready &= events | LOOP_ERR | LOOP_HUP;
	if (epoll_ctl(io->loop->ep, EPOLL_CTL_MOD, io->fd, &ev) != 0)
		return RELAY_EIO;
	io->armed = 1;
	return RELAY_OK;
}

void
loop_io_del(struct loop_io *io)
{
	if (io->loop == NULL)
		return;
	if (io->waiter != NULL)
		make_ready(io->loop, io->waiter, -1);
	due_unlink(io->loop, io);
	if (io->fn == NULL || io->armed)
		epoll_ctl(io->loop->ep, EPOLL_CTL_DEL, io->fd, NULL);
	io->loop = NULL;
}

void
loop_io_clear(struct loop_io *io, unsigned mask)
{
	io->ready &= ~mask;
}

int
loop_io_wait(struct loop_io *io, unsigned events, uint64_t deadline)
{
	struct loop *l = io->loop;
	struct coro *c = l != NULL ? l->cur : NULL;
	unsigned mask = events | LOOP_ERR | LOOP_HUP;
	int r;

	if (io->ready & mask)
		return (int)(io->ready & mask);
	if (c == NULL || io->waiter != NULL)
		return -1; /* not from a coroutine, or one waits already */
	c->deadline = deadline;
	if (deadline != 0 && heap_push(l, c) != RELAY_OK)
		return -1;
	io->waiter = c;
	io->want = events;
	c->io = io;
	r = park(c);
	if (r == 1)
		return (int)(io->ready & mask);
	return r;
}

int
loop_wait_any(struct loop_io *const *ios, size_t n, uint64_t deadline)
{
	struct loop *l = tl_loop;
	struct coro *c = l != NULL ? l->cur : NULL;
	size_t i;
	int any = 0, r;

	if (c == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (ios[i]->level) {
			ios[i]->ready = 0; /* epoll says anew */
			if (arm(ios[i]) != 0)
				return -1;
		} else if (ios[i]->ready & (ios[i]->want | LOOP_ERR | LOOP_HUP))
			any = 1;
	}
	if (any)
		return 1;
	for (i = 0; i < n; i++)
		if (ios[i]->waiter != NULL)
			return -1; /* someone waits on it already */
	c->deadline = deadline;
	if (deadline != 0 && heap_push(l, c) != RELAY_OK)
		return -1;
	for (i = 0; i < n; i++)
		ios[i]->waiter = c;
	c->set = ios;
	c->nset = n;
	r = park(c);
	c->set = NULL;
	return r;
}

int
loop_sleep_until(uint64_t deadline)
{
	struct loop *l = tl_loop;
	struct coro *c = l != NULL ? l->cur : NULL;

	if (c == NULL)
		return 0;
	c->deadline = deadline;
	if (heap_push(l, c) != RELAY_OK)
		return 0;
	return park(c) == -1;
}

void
loop_nap(long ms)
{
	struct loop *l = tl_loop;
	struct timespec ts;

	if (l != NULL && l->cur != NULL) {
		(void)loop_sleep_until(
		    loop_now(l) + (uint64_t)(ms > 0 ? ms : 0));
		return;
	}
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

void
loop_yield(void)
{
	struct loop *l = tl_loop;
	struct coro *c = l != NULL ? l->cur : NULL;

	if (c == NULL)
		return;
	make_ready(l, c, 1);
	to_loop(c);
}

void
loop_stack_trim(void)
{
	struct loop *l = tl_loop;
	struct coro *c = l != NULL ? l->cur : NULL;
	uintptr_t lo, hi, frame = (uintptr_t)__builtin_frame_address(0);

	if (c == NULL)
		return;
	lo = (uintptr_t)c->stack + LOOP_PAGE; /* above the guard */
	if (frame <= lo || frame > (uintptr_t)c->stack + c->map_size)
		return;
	/* A page of margin below this frame: madvise's own, and the
	 * switch's when the caller parks. */
	hi = (frame & ~(uintptr_t)(LOOP_PAGE - 1)) - LOOP_PAGE;
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void
loop_wake(struct coro *c)
{
	if (c->state == C_WAITING)
		make_ready(c->loop, c, -1);
}
