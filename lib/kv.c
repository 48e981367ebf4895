/* SPDX-License-Identifier: MIT */
/* kv.c - memcached's meta protocol on connections of our own, pipelined
 * where a batch allows, every wait bounded by the timeout (and, on the
 * loop runtime, yielding to the loop); libmemcached only says which
 * server holds a key (its ketama continuum, so hosts agree). Every
 * failure becomes RELAY_ECACHE, never a hang. */
#include <errno.h>
#include <fcntl.h>
#include <libmemcached/memcached.h>
#include <libmemcachedutil-1.0/pool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kv.h"
#include "loop.h"
#include "mem.h"
#include "num.h"

/* A connection of our own to one server, for pipelined meta commands
 * (libmemcached sends one increment and waits for it before the next). */
struct kv_conn {
	struct kv_conn *next;
	int fd;
	unsigned owed; /* "MN" marks still to read, one per kv_nudge() */
	in_port_t port;
	char host[256];
};

struct kv {
	memcached_st *proto; /* template the pool clones */
	memcached_pool_st *pool;
	long timeout_ms;
	pthread_mutex_t lock; /* idle */
	struct kv_conn *idle;
};

/* Parse "host:port", "[v6]:port" or "/path" and add it. */
static enum relay_err
add_server(memcached_st *mc, const char *s, char *errbuf, size_t errsz)
{
	char host[256];
	const char *colon, *h = s;
	size_t hlen;
	long long port;

	if (s[0] == '/') {
		if (memcached_server_add_unix_socket(mc, s) !=
		    MEMCACHED_SUCCESS)
			goto bad;
		return RELAY_OK;
	}
	colon = strrchr(s, ':');
	if (colon == NULL)
		goto bad;
	hlen = (size_t)(colon - s);
	if (s[0] == '[' && hlen >= 2 && s[hlen - 1] == ']') {
		h = s + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (num_parse(colon + 1, 1, 65535, &port) != RELAY_OK)
		goto bad;
	if (memcached_server_add(mc, host, (in_port_t)port) !=
	    MEMCACHED_SUCCESS)
		goto bad;
	return RELAY_OK;
bad:
	snprintf(errbuf, errsz, "bad memcached server \"%.128s\"", s);
	return RELAY_EINVAL;
}

struct kv *
kv_new(char *const *servers, size_t n, long timeout_ms, unsigned pool_max,
    char *errbuf, size_t errsz)
{
	struct kv *kv = mem_calloc(1, sizeof(*kv));
	size_t i;

	if (kv == NULL)
		goto oom;
	kv->timeout_ms = timeout_ms;
	pthread_mutex_init(&kv->lock, NULL);
	kv->proto = memcached_create(NULL);
	if (kv->proto == NULL)
		goto oom;
	for (i = 0; i < n; i++)
		if (add_server(kv->proto, servers[i], errbuf, errsz) !=
		    RELAY_OK)
			goto fail;
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_KETAMA, 1);
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
	    (uint64_t)timeout_ms);
	memcached_behavior_set(
	    kv->proto, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, (uint64_t)timeout_ms);
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
	kv->pool =
	    memcached_pool_create(kv->proto, 1, pool_max > 0 ? pool_max : 1);
	if (kv->pool == NULL)
		goto oom;
	return kv;
oom:
	snprintf(errbuf, errsz, "out of memory");
fail:
	kv_free(kv);
	return NULL;
}

void
kv_free(struct kv *kv)
{
	if (kv == NULL)
		return;
	while (kv->idle != NULL) {
		struct kv_conn *c = kv->idle;

		kv->idle = c->next;
		close(c->fd);
		mem_free(c);
	}
	pthread_mutex_destroy(&kv->lock);
	if (kv->pool != NULL)
		memcached_pool_destroy(kv->pool);
	if (kv->proto != NULL)
		memcached_free(kv->proto);
	mem_free(kv);
}

static memcached_st *
kv_fetch(struct kv *kv)
{
	struct timespec wait = {
	    kv->timeout_ms / 1000, (kv->timeout_ms % 1000) * 1000000};
	memcached_return_t rc;

	return memcached_pool_fetch(kv->pool, &wait, &rc);
}

static void
kv_release(struct kv *kv, memcached_st *mc)
{
	if (mc != NULL)
		memcached_pool_release(kv->pool, mc);
}

/* --- pipelined counters: the meta protocol on connections of our own --- */

static long
ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* wait_fd() on the loop runtime: the coroutine yields while memcached
 * answers, so the loop thread's other requests go on (two epoll_ctl
 * calls, against a loop thread blocked for the round trip). -2 when the
 * fd cannot be watched (then poll). */
static int
wait_fd_loop(struct loop *l, int fd, short events, long left)
{
	struct loop_io io;
	struct loop_io *set[1] = {&io};
	unsigned want = ((events & POLLIN) ? LOOP_IN : 0) |
	    ((events & POLLOUT) ? LOOP_OUT : 0);
	int r;

	if (loop_io_add_level(&io, fd, want) != RELAY_OK)
		return -2;
	r = loop_wait_any(set, 1, loop_now(l) + (uint64_t)left);
	r = r > 0 && (io.ready & (want | LOOP_ERR | LOOP_HUP)) != 0 ? 0 : -1;
	loop_io_del(&io);
	return r;
}

/* Wait for events on fd until the deadline; 0 when ready. */
static int
wait_fd(int fd, short events, const struct timespec *deadline)
{
	struct pollfd p = {fd, events, 0};
	struct loop *l = loop_current();
	long left;
	int r;

	if (l != NULL && (left = ms_left(deadline)) > 0 &&
	    (r = wait_fd_loop(l, fd, events, left)) != -2)
		return r;
	for (;;) {
		left = ms_left(deadline);
		if (left <= 0)
			return -1;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return (p.revents & (events | POLLHUP | POLLERR)) != 0
			    ? 0
			    : -1;
		if (r == 0 || errno != EINTR)
			return -1;
	}
}

/* A non-blocking connection to host:port (or the Unix socket at host when
 * port is 0), established before the deadline; -1 on failure. */
static int
conn_open(const char *host, in_port_t port, const struct timespec *deadline)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_un sun;
	char ps[8];
	int fd = -1, one = 1, err;
	socklen_t el = sizeof(err);

	if (port == 0) {
		if (strlen(host) >= sizeof(sun.sun_path))
			return -1;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, host, strlen(host) + 1);
		fd = socket(
		    AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			close(fd);
			fd = -1;
		}
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	if (getaddrinfo(host, ps, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS &&
			wait_fd(fd, POLLOUT, deadline) == 0 &&
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
			err == 0))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* An idle connection to host:port, or a new one; NULL on failure. */
static struct kv_conn *
conn_get(struct kv *kv, const char *host, in_port_t port,
    const struct timespec *deadline, int *reused)
{
	struct kv_conn **pp, *c;

	pthread_mutex_lock(&kv->lock);
	for (pp = &kv->idle; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->port == port && strcmp((*pp)->host, host) == 0)
			break;
	c = *pp;
	if (c != NULL)
		*pp = c->next;
	pthread_mutex_unlock(&kv->lock);
	*reused = c != NULL;
	if (c != NULL)
		return c;
	if (strlen(host) >= sizeof(c->host))
		return NULL;
	c = mem_calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->fd = conn_open(host, port, deadline);
	if (c->fd < 0) {
		mem_free(c);
		return NULL;
	}
	return c;
}

/* Back to the idle list when good; closed when it failed mid-exchange. */
static void
conn_put(struct kv *kv, struct kv_conn *c, int good)
{
	if (!good) {
		close(c->fd);
		mem_free(c);
		return;
	}
	pthread_mutex_lock(&kv->lock);
	c->next = kv->idle;
	kv->idle = c;
	pthread_mutex_unlock(&kv->lock);
}

/* Digits of a decimal u64; -1 past UINT64_MAX or on no digit. */
static int
meta_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(p[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
kv_meta_parse(
    const char *p, size_t len, uint64_t *values, size_t n, size_t *used)
{
	size_t off = 0, k = 0;

	*used = 0;
	while (k < n) {
		const char *line = p + off, *eol, *sp;
		size_t rest = len - off, hl;
		uint64_t vlen;

		eol = memchr(line, '\n', rest);
		if (eol == NULL)
			return rest > 64 ? -1 : (int)k; /* a head is short */
		hl = (size_t)(eol - line) + 1;
		if (hl < 2 || line[hl - 2] != '\r' || hl < 6 ||
		    memcmp(line, "VA ", 3) != 0)
			return -1;
		/* "VA <len>[ flags]\r\n<len bytes>\r\n" */
		sp = memchr(line + 3, ' ', hl - 5);
		if (meta_u64(line + 3,
			(size_t)((sp != NULL ? sp : line + hl - 2) -
			    (line + 3)),
			&vlen) != 0 ||
		    vlen == 0 || vlen > 20)
			return -1;
		if (rest - hl < vlen + 2)
			return (int)k;
		if (line[hl + vlen] != '\r' || line[hl + vlen + 1] != '\n' ||
		    meta_u64(line + hl, (size_t)vlen, &values[k]) != 0)
			return -1;
		off += hl + (size_t)vlen + 2;
		*used = off;
		k++;
	}
	return (int)k;
}

/* Copy s to p; the end. */
static char *
put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static enum relay_err
send_all(
    struct kv_conn *c, const char *p, size_t n, const struct timespec *deadline)
{
	ssize_t r;

	while (n > 0) {
		r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return RELAY_ECACHE;
		if (wait_fd(c->fd, POLLOUT, deadline) != 0)
			return RELAY_ECACHE;
	}
	return RELAY_OK;
}

/*
 * Read into ans (have bytes so far) until want() is satisfied: first the
 * answers kv_nudge() left behind (whatever lines, each batch ending at
 * "MN"), dropped; then n "ma ... v" answers, into vals. *heard is set once
 * a byte came.
 */
static enum relay_err
read_answers(struct kv_conn *c, uint64_t *vals, size_t n,
    const struct timespec *deadline, int *heard)
{
	char ans[4096];
	size_t have = 0, skip = 0, used, i;
	ssize_t r;
	int k;

	/* ans[skip..have) is what is not yet consumed. */
	for (;;) {
		while (c->owed > 0) {
			char *eol = memchr(ans + skip, '\n', have - skip);
			size_t ll;

			if (eol == NULL)
				break;
			ll = (size_t)(eol - (ans + skip)) + 1;
			if (ll == 4 && memcmp(ans + skip, "MN\r\n", 4) == 0)
				c->owed--;
			skip += ll;
		}
		if (c->owed == 0 && n == 0) /* only the marks were awaited */
			return have == skip ? RELAY_OK : RELAY_ECACHE;
		if (c->owed == 0) {
			k = kv_meta_parse(
			    ans + skip, have - skip, vals, n, &used);
			if (k < 0)
				return RELAY_ECACHE;
			if ((size_t)k == n)
				/* more than asked for: out of step */
				return used == have - skip ? RELAY_OK
							   : RELAY_ECACHE;
		}
		if (have == sizeof(ans)) {
			if (skip == 0)
				return RELAY_ECACHE; /* no answer is that long */
			for (i = skip; i < have; i++) /* the rest, down */
				ans[i - skip] = ans[i];
			have -= skip;
			skip = 0;
		}
		r = recv(c->fd, ans + have, sizeof(ans) - have, 0);
		if (r > 0) {
			have += (size_t)r;
			*heard = 1;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return RELAY_ECACHE;
		if (wait_fd(c->fd, POLLIN, deadline) != 0)
			return RELAY_ECACHE;
	}
}

/* A batch's commands are built on the stack when they fit in this many
 * bytes (a key's counters: a few hundred), else on the heap: on the loop
 * runtime a coroutine keeps the stack pages it touched for the rest of
 * its request (a stream's minutes), so the worst case (64 keys of 250
 * bytes, 21 KB) must not be its usual cost. */
#define KV_REQ_SMALL 2048

/* Room for n commands of at most KV_KEY_MAX + extra bytes each: small
 * itself (its size in *cap) when that is enough, else the heap (*cap
 * then its size); NULL when memory is short. */
static char *
req_room(char *small, size_t *cap, size_t n, size_t extra)
{
	size_t need = n * (KV_KEY_MAX + extra) + 8;
	char *p;

	if (need <= *cap)
		return small;
	if ((p = mem_malloc(need)) != NULL)
		*cap = need;
	return p;
}

static void
req_room_free(char *p, const char *small)
{
	if (p != small)
		mem_free(p);
}

/* The ops for one server: written at once, answers read until all came.
 * *heard is set once a byte of an answer came. */
static enum relay_err
exchange(struct kv_conn *c, struct kv_incr *ops, const size_t *idx, size_t n,
    const struct timespec *deadline, int *heard)
{
	char small[KV_REQ_SMALL], *req = small;
	uint64_t vals[RELAY_KV_MGET_MAX];
	size_t rl = 0, i, cap = sizeof(small);
	enum relay_err err;

	*heard = 0;
	if ((req = req_room(small, &cap, n, 80)) == NULL)
		return RELAY_ENOMEM;
	for (i = 0; i < n; i++) {
		const struct kv_incr *o = &ops[idx[i]];
		int w = snprintf(req + rl, cap - rl,
		    "ma %s N%u J%llu D%llu v\r\n", o->key, o->ttl_s,
		    (unsigned long long)o->delta, (unsigned long long)o->delta);

		if (w < 0 || (size_t)w >= cap - rl) {
			req_room_free(req, small);
			return RELAY_EINVAL;
		}
		rl += (size_t)w;
	}
	err = send_all(c, req, rl, deadline);
	req_room_free(req, small);
	if (err == RELAY_OK)
		err = read_answers(c, vals, n, deadline, heard);
	if (err != RELAY_OK)
		return err;
	for (i = 0; i < n; i++)
		ops[idx[i]].value = vals[i];
	return RELAY_OK;
}

/* A key the meta protocol takes as it is: no space, no control byte. */
static int
meta_key_ok(const char *k)
{
	size_t i;

	for (i = 0; k[i] != '\0'; i++)
		if ((unsigned char)k[i] <= ' ' || k[i] == 0x7f)
			return 0;
	return i > 0 && i <= KV_KEY_MAX;
}

/* Bytes of the distinct server names of one batch (one or two, usually). */
#define KV_BATCH_NAMES 1024

/* n keys sorted by server for one pipelined batch. */
struct batch {
	memcached_st *mc; /* NULL once the servers are known */
	char names[KV_BATCH_NAMES]; /* the host names below point here */
	size_t names_len;
	const char *host[RELAY_KV_MGET_MAX];
	in_port_t port[RELAY_KV_MGET_MAX];
	unsigned char done[RELAY_KV_MGET_MAX];
	size_t n;
	struct timespec deadline;
};

/* Key i's server is called name: a copy in the batch's own table (shared
 * with an earlier key of the same server). -1 when the table is full. */
static int
batch_name(struct batch *b, size_t i, const char *name)
{
	size_t len = strlen(name), j;

	for (j = 0; j < i; j++)
		if (strcmp(b->host[j], name) == 0) {
			b->host[i] = b->host[j];
			return 0;
		}
	if (len + 1 > sizeof(b->names) - b->names_len)
		return -1;
	memcpy(b->names + b->names_len, name, len + 1);
	b->host[i] = b->names + b->names_len;
	b->names_len += len + 1;
	return 0;
}

/* Which server holds each key: libmemcached's own ketama answer, so these
 * counters live where kv_get() and kv_incr() look. */
static enum relay_err
batch_start(struct kv *kv, struct batch *b, const char *const *keys, size_t n)
{
	memcached_return_t rc;
	size_t i;

	b->mc = NULL;
	if (n > RELAY_KV_MGET_MAX)
		return RELAY_EINVAL;
	for (i = 0; i < n; i++)
		if (!meta_key_ok(keys[i]))
			return RELAY_EINVAL;
	memset(b->done, 0, sizeof(b->done));
	b->n = n;
	clock_gettime(CLOCK_MONOTONIC, &b->deadline);
	b->deadline.tv_sec += kv->timeout_ms / 1000;
	b->deadline.tv_nsec += (kv->timeout_ms % 1000) * 1000000;
	if (b->deadline.tv_nsec >= 1000000000) {
		b->deadline.tv_sec++;
		b->deadline.tv_nsec -= 1000000000;
	}
	b->mc = kv_fetch(kv);
	if (b->mc == NULL)
		return RELAY_ECACHE;
	b->names_len = 0;
	for (i = 0; i < n; i++) {
		const memcached_instance_st *s = memcached_server_by_key(
		    b->mc, keys[i], strlen(keys[i]), &rc);

		if (s == NULL ||
		    batch_name(b, i, memcached_server_name(s)) != 0) {
			kv_release(kv, b->mc);
			b->mc = NULL;
			return RELAY_ECACHE;
		}
		b->port[i] = memcached_server_port(s);
	}
	/* The handle goes back before any wait: on the loop runtime the
	 * exchange yields, and a handle held by a parked coroutine would be
	 * one its loop's other requests wait for. */
	kv_release(kv, b->mc);
	b->mc = NULL;
	return RELAY_OK;
}

/* The next server's keys into idx; their count, 0 when none is left; *at
 * one of them (for its host and port). */
static size_t
batch_next(struct batch *b, size_t *idx, size_t *at)
{
	size_t i, j, m = 0;

	for (i = 0; i < b->n && b->done[i]; i++)
		;
	if (i == b->n)
		return 0;
	*at = i;
	for (j = i; j < b->n; j++)
		if (!b->done[j] && b->port[j] == b->port[i] &&
		    strcmp(b->host[j], b->host[i]) == 0) {
			idx[m++] = j;
			b->done[j] = 1;
		}
	return m;
}

enum relay_err
kv_incr_many(struct kv *kv, struct kv_incr *ops, size_t n)
{
	const char *keys[RELAY_KV_MGET_MAX];
	size_t idx[RELAY_KV_MGET_MAX], i, m, at;
	enum relay_err err;
	struct batch b;

	if (n == 0)
		return RELAY_OK;
	if (n > RELAY_KV_MGET_MAX)
		return RELAY_EINVAL;
	for (i = 0; i < n; i++)
		keys[i] = ops[i].key;
	err = batch_start(kv, &b, keys, n);
	while (err == RELAY_OK && (m = batch_next(&b, idx, &at)) > 0) {
		struct kv_conn *c;
		int reused, heard, tries;

		/* A reused connection the server dropped while idle fails
		 * with no answer at all: once, try again on a fresh one. (An
		 * answer, even an error, means commands ran: never twice.) */
		for (tries = 0; tries < 2; tries++) {
			c = conn_get(
			    kv, b.host[at], b.port[at], &b.deadline, &reused);
			if (c == NULL) {
				err = RELAY_ECACHE;
				break;
			}
			err = exchange(c, ops, idx, m, &b.deadline, &heard);
			conn_put(kv, c, err == RELAY_OK);
			if (err == RELAY_OK || !reused || heard ||
			    ms_left(&b.deadline) <= 0)
				break;
		}
	}
	if (b.mc != NULL)
		kv_release(kv, b.mc);
	return err;
}

enum relay_err
kv_nudge(struct kv *kv, const struct kv_nudge *ops, size_t n)
{
	const char *keys[RELAY_KV_MGET_MAX];
	char small[KV_REQ_SMALL], *req;
	size_t which[RELAY_KV_MGET_MAX], idx[RELAY_KV_MGET_MAX];
	size_t i, k = 0, m, at, rl, cap = sizeof(small);
	enum relay_err err;
	struct batch b;

	/* which[]: the op behind each key (zero changes are skipped). */
	for (i = 0; i < n; i++)
		if (ops[i].delta > 0) {
			if (k == RELAY_KV_MGET_MAX)
				return RELAY_EINVAL;
			keys[k] = ops[i].key;
			which[k++] = i;
		}
	if (k == 0)
		return RELAY_OK;
	if ((req = req_room(small, &cap, k, 40)) == NULL)
		return RELAY_ENOMEM;
	err = batch_start(kv, &b, keys, k);
	/* One write per server: "ma" in quiet mode answers only when
	 * something went wrong (NF, an error); "mn" ends the batch with
	 * "MN", which the connection's next reader skips to, so nobody
	 * waits here. */
	while (err == RELAY_OK && (m = batch_next(&b, idx, &at)) > 0) {
		struct kv_conn *c;
		int reused, heard = 0;

		/* "ma <key> M<I|D> D<delta> q" each, then "mn". */
		rl = 0;
		for (i = 0; i < m; i++) {
			const struct kv_nudge *o = &ops[which[idx[i]]];
			char *p = req + rl;

			p = put(p, "ma ");
			p = put(p, o->key);
			p = put(p, o->up ? " MI D" : " MD D");
			p += num_u64(p, o->delta);
			p = put(p, " q\r\n");
			rl = (size_t)(p - req);
		}
		memcpy(req + rl, "mn\r\n", 4);
		rl += 4;
		c = conn_get(kv, b.host[at], b.port[at], &b.deadline, &reused);
		if (c == NULL) {
			err = RELAY_ECACHE;
			break;
		}
		if (c->owed >= RELAY_KV_OWED_MAX)
			err = read_answers(c, NULL, 0, &b.deadline, &heard);
		if (err == RELAY_OK)
			err = send_all(c, req, rl, &b.deadline);
		if (err == RELAY_OK)
			c->owed++;
		conn_put(kv, c, err == RELAY_OK);
	}
	req_room_free(req, small);
	if (b.mc != NULL)
		kv_release(kv, b.mc);
	return err;
}

/* --- every other operation: one meta command each, same connections --- */

/* A line of the meta protocol is at most this long before its data. */
#define KV_HEAD_MAX 1024
/* Ceilings of an answer's buffer: replies without a value (a read may
 * ask for RELAY_KV_READ past what is there), and with n values. */
#define KV_ANSWER_SMALL (RELAY_KV_READ + KV_HEAD_MAX)
#define KV_ANSWER_VALUES(n)                                                    \
	((n) * (RELAY_KV_VALUE_MAX + KV_HEAD_MAX) + RELAY_KV_READ)

/* "XX" or "XX <flags>" at line (hl bytes with its CRLF). */
static int
code_is(const char *line, size_t hl, const char *code)
{
	return hl >= 4 && memcmp(line, code, 2) == 0 &&
	    (hl == 4 || line[2] == ' ');
}

int
kv_meta_reply(const char *p, size_t len, struct kv_reply *r, size_t *used)
{
	const char *eol, *sp;
	size_t hl;
	uint64_t vlen;

	*used = 0;
	memset(r, 0, sizeof(*r));
	eol = memchr(p, '\n', len < KV_HEAD_MAX ? len : KV_HEAD_MAX);
	if (eol == NULL)
		return len >= KV_HEAD_MAX ? -1 : 0;
	hl = (size_t)(eol - p) + 1;
	if (hl < 4 || p[hl - 2] != '\r')
		return -1;
	if (hl > 5 && memcmp(p, "VA ", 3) == 0) {
		sp = memchr(p + 3, ' ', hl - 5);
		if (meta_u64(p + 3,
			(size_t)((sp != NULL ? sp : p + hl - 2) - (p + 3)),
			&vlen) != 0 ||
		    vlen > RELAY_KV_VALUE_MAX)
			return -1;
		if (len - hl < vlen + 2)
			return 0;
		if (p[hl + vlen] != '\r' || p[hl + vlen + 1] != '\n')
			return -1;
		r->kind = KV_R_VA;
		r->val = p + hl;
		r->vlen = (size_t)vlen;
		*used = hl + (size_t)vlen + 2;
		return 1;
	}
	if (code_is(p, hl, "EN"))
		r->kind = KV_R_EN;
	else if (code_is(p, hl, "HD"))
		r->kind = KV_R_HD;
	else if (code_is(p, hl, "NS"))
		r->kind = KV_R_NS;
	else if (code_is(p, hl, "NF"))
		r->kind = KV_R_NF;
	else if (code_is(p, hl, "EX"))
		r->kind = KV_R_EX;
	else if (code_is(p, hl, "MN"))
		r->kind = KV_R_MN;
	else if ((hl == 7 && memcmp(p, "ERROR", 5) == 0) ||
	    (hl > 13 && memcmp(p, "CLIENT_ERROR ", 13) == 0) ||
	    (hl > 13 && memcmp(p, "SERVER_ERROR ", 13) == 0))
		r->kind = KV_R_ERR;
	else
		return -1;
	*used = hl;
	return 1;
}

/* Send req to c and read n replies into r (their values point into rb):
 * first the marks kv_nudge() left, dropped. *heard is set once a byte
 * came. */
static enum relay_err
meta_exchange(struct kv_conn *c, const struct buf *req, struct buf *rb,
    struct kv_reply *r, size_t n, const struct timespec *deadline, int *heard)
{
	size_t skip = 0, off, used, k;
	enum relay_err err;
	char *tail;
	ssize_t got;
	int pr;

	*heard = 0;
	buf_clear(rb);
	if ((err = send_all(c, req->data, req->len, deadline)) != RELAY_OK)
		return err;
	for (;;) {
		while (c->owed > 0 && rb->len > skip) {
			char *eol =
			    memchr(rb->data + skip, '\n', rb->len - skip);
			size_t ll;

			if (eol == NULL)
				break;
			ll = (size_t)(eol - (rb->data + skip)) + 1;
			if (ll == 4 &&
			    memcmp(rb->data + skip, "MN\r\n", 4) == 0)
				c->owed--;
			skip += ll;
		}
		if (c->owed == 0 && rb->len > skip) {
			for (off = skip, k = 0; k < n; k++, off += used) {
				pr = kv_meta_reply(rb->data + off,
				    rb->len - off, &r[k], &used);
				if (pr < 0)
					return RELAY_ECACHE;
				if (pr == 0)
					break;
			}
			/* More than asked for: out of step. */
			if (k == n)
				return off == rb->len ? RELAY_OK : RELAY_ECACHE;
		}
		if (buf_extend(rb, RELAY_KV_READ, &tail) != RELAY_OK)
			return RELAY_ECACHE;
		got = recv(c->fd, tail, RELAY_KV_READ, 0);
		buf_truncate(
		    rb, rb->len - RELAY_KV_READ + (got > 0 ? (size_t)got : 0));
		if (got > 0) {
			*heard = 1;
			continue;
		}
		if (got == 0 || (errno != EAGAIN && errno != EINTR))
			return RELAY_ECACHE;
		if (wait_fd(c->fd, POLLIN, deadline) != 0)
			return RELAY_ECACHE;
	}
}

/* req to the server at (host, port): n replies into r, values in rb. A
 * reused connection the server dropped while idle fails with no answer
 * at all: once, try again on a fresh one (an answer, even an error,
 * means the commands ran: never twice). */
static enum relay_err
meta_at(struct kv *kv, const char *host, in_port_t port,
    const struct timespec *deadline, const struct buf *req, struct buf *rb,
    struct kv_reply *r, size_t n)
{
	enum relay_err err = RELAY_ECACHE;
	struct kv_conn *c;
	int reused, heard, tries;

	for (tries = 0; tries < 2; tries++) {
		c = conn_get(kv, host, port, deadline, &reused);
		if (c == NULL)
			return RELAY_ECACHE;
		err = meta_exchange(c, req, rb, r, n, deadline, &heard);
		conn_put(kv, c, err == RELAY_OK);
		if (err == RELAY_OK || !reused || heard ||
		    ms_left(deadline) <= 0)
			break;
	}
	return err;
}

/* One command (req) about key: its reply in *r, a value in rb. */
static enum relay_err
meta_one(struct kv *kv, const char *key, const struct buf *req, struct buf *rb,
    struct kv_reply *r)
{
	struct batch b;
	enum relay_err err = batch_start(kv, &b, &key, 1);

	if (err != RELAY_OK)
		return err == RELAY_EINVAL ? RELAY_EINVAL : RELAY_ECACHE;
	return meta_at(kv, b.host[0], b.port[0], &b.deadline, req, rb, r, 1);
}

/* "<cmd> <key>[ <args>]\r\n" into req. */
static enum relay_err
meta_cmd(struct buf *req, const char *cmd, const char *key, const char *args)
{
	return buf_printf(
	    req, "%s %s%s%s\r\n", cmd, key, args[0] ? " " : "", args);
}

enum relay_err
kv_get(struct kv *kv, const char *key, struct buf *out)
{
	struct buf req, rb;
	struct kv_reply r;
	enum relay_err err;

	buf_init(&req, KV_HEAD_MAX);
	buf_init(&rb, KV_ANSWER_VALUES(1));
	err = meta_cmd(&req, "mg", key, "v");
	if (err == RELAY_OK)
		err = meta_one(kv, key, &req, &rb, &r);
	if (err == RELAY_OK) {
		if (r.kind == KV_R_VA)
			err = buf_append(out, r.val, r.vlen);
		else
			err =
			    r.kind == KV_R_EN ? RELAY_ENOTFOUND : RELAY_ECACHE;
	}
	buf_reset(&req);
	buf_reset(&rb);
	return err;
}

enum relay_err
kv_mget(struct kv *kv, const char *const *keys, size_t n, struct buf *out,
    int *found)
{
	size_t idx[RELAY_KV_MGET_MAX], i, m, at;
	struct kv_reply r[RELAY_KV_MGET_MAX];
	struct buf req, rb;
	enum relay_err err;
	struct batch b;

	memset(found, 0, n * sizeof(*found));
	if (n == 0)
		return RELAY_OK;
	if (n > RELAY_KV_MGET_MAX)
		return RELAY_EINVAL;
	buf_init(&req, (size_t)n * (KV_KEY_MAX + 16));
	buf_init(&rb, KV_ANSWER_VALUES((size_t)n));
	if ((err = batch_start(kv, &b, keys, n)) != RELAY_OK)
		err = err == RELAY_EINVAL ? RELAY_EINVAL : RELAY_ECACHE;
	while (err == RELAY_OK && (m = batch_next(&b, idx, &at)) > 0) {
		buf_clear(&req);
		for (i = 0; i < m && err == RELAY_OK; i++)
			err = meta_cmd(&req, "mg", keys[idx[i]], "v");
		if (err == RELAY_OK)
			err = meta_at(kv, b.host[at], b.port[at], &b.deadline,
			    &req, &rb, r, m);
		for (i = 0; i < m && err == RELAY_OK; i++) {
			if (r[i].kind == KV_R_EN)
				continue;
			if (r[i].kind != KV_R_VA) {
				err = RELAY_ECACHE;
				break;
			}
			found[idx[i]] = 1;
			err = buf_append(&out[idx[i]], r[i].val, r[i].vlen);
		}
	}
	if (err != RELAY_OK)
		memset(found, 0, n * sizeof(*found));
	buf_reset(&req);
	buf_reset(&rb);
	return err;
}

/* ms in mode ("S" set, "E" add): *rk the reply's kind. */
static enum relay_err
meta_store(struct kv *kv, const char *key, const void *val, size_t len,
    unsigned ttl_s, const char *mode, int *rk)
{
	char args[64];
	struct buf req, rb;
	struct kv_reply r;
	enum relay_err err;

	*rk = 0;
	if (len > RELAY_KV_VALUE_MAX)
		return RELAY_ETOOBIG;
	snprintf(args, sizeof(args), "%zu T%u M%s", len, ttl_s, mode);
	buf_init(&req, KV_HEAD_MAX + RELAY_KV_VALUE_MAX + 2);
	buf_init(&rb, KV_ANSWER_SMALL);
	err = meta_cmd(&req, "ms", key, args);
	if (err == RELAY_OK)
		err = buf_append(&req, val, len);
	if (err == RELAY_OK)
		err = buf_append(&req, "\r\n", 2);
	if (err == RELAY_OK)
		err = meta_one(kv, key, &req, &rb, &r);
	if (err == RELAY_OK)
		*rk = r.kind;
	buf_reset(&req);
	buf_reset(&rb);
	return err;
}

enum relay_err
kv_set(
    struct kv *kv, const char *key, const void *val, size_t len, unsigned ttl_s)
{
	int rk;
	enum relay_err err = meta_store(kv, key, val, len, ttl_s, "S", &rk);

	if (err != RELAY_OK)
		return err == RELAY_ENOMEM ? err : RELAY_ECACHE;
	return rk == KV_R_HD ? RELAY_OK : RELAY_ECACHE;
}

enum relay_err
kv_add(struct kv *kv, const char *key, const void *val, size_t len,
    unsigned ttl_s, int *stored)
{
	int rk;
	enum relay_err err = meta_store(kv, key, val, len, ttl_s, "E", &rk);

	*stored = 0;
	if (err != RELAY_OK)
		return err == RELAY_ENOMEM ? err : RELAY_ECACHE;
	if (rk == KV_R_NS || rk == KV_R_EX)
		return RELAY_OK;
	*stored = rk == KV_R_HD;
	return *stored ? RELAY_OK : RELAY_ECACHE;
}

/* ma with args: the counter's new value. */
static enum relay_err
meta_arith(struct kv *kv, const char *key, const char *args, uint64_t *value)
{
	struct buf req, rb;
	struct kv_reply r;
	enum relay_err err;

	buf_init(&req, KV_HEAD_MAX);
	buf_init(&rb, KV_ANSWER_SMALL);
	err = meta_cmd(&req, "ma", key, args);
	if (err == RELAY_OK)
		err = meta_one(kv, key, &req, &rb, &r);
	if (err == RELAY_OK) {
		if (r.kind == KV_R_NF)
			err = RELAY_ENOTFOUND;
		else if (r.kind != KV_R_VA ||
		    meta_u64(r.val, r.vlen, value) != 0)
			err = RELAY_ECACHE;
	}
	buf_reset(&req);
	buf_reset(&rb);
	return err;
}

enum relay_err
kv_incr(struct kv *kv, const char *key, uint64_t delta, unsigned ttl_s,
    uint64_t *value)
{
	char args[80];
	enum relay_err err;

	/* Made at delta with ttl_s when missing, in the same command. */
	snprintf(args, sizeof(args), "N%u J%llu D%llu v", ttl_s,
	    (unsigned long long)delta, (unsigned long long)delta);
	err = meta_arith(kv, key, args, value);
	return err == RELAY_ENOTFOUND ? RELAY_ECACHE : err;
}

enum relay_err
kv_decr(struct kv *kv, const char *key, uint64_t delta, uint64_t *value)
{
	char args[48];

	snprintf(args, sizeof(args), "MD D%llu v", (unsigned long long)delta);
	return meta_arith(kv, key, args, value);
}

enum relay_err
kv_delete(struct kv *kv, const char *key)
{
	struct buf req, rb;
	struct kv_reply r;
	enum relay_err err;

	buf_init(&req, KV_HEAD_MAX);
	buf_init(&rb, KV_ANSWER_SMALL);
	err = meta_cmd(&req, "md", key, "");
	if (err == RELAY_OK)
		err = meta_one(kv, key, &req, &rb, &r);
	if (err == RELAY_OK && r.kind != KV_R_HD && r.kind != KV_R_NF)
		err = RELAY_ECACHE;
	buf_reset(&req);
	buf_reset(&rb);
	return err == RELAY_OK || err == RELAY_ENOMEM ? err : RELAY_ECACHE;
}

enum relay_err
kv_ping(struct kv *kv, char *why, size_t whysz)
{
	static const struct buf mn = {(char *)"mn\r\n", 4, 4, 4};
	char hosts[RELAY_KV_SERVERS_MAX][256];
	in_port_t ports[RELAY_KV_SERVERS_MAX];
	memcached_st *mc = kv_fetch(kv);
	struct timespec deadline;
	struct kv_reply r;
	struct buf rb;
	uint32_t i, n, bad = 0;

	if (mc == NULL) {
		snprintf(why, whysz, "memcached: no connection available");
		return RELAY_ECACHE;
	}
	n = memcached_server_count(mc);
	if (n > RELAY_KV_SERVERS_MAX)
		n = RELAY_KV_SERVERS_MAX;
	for (i = 0; i < n; i++) {
		const memcached_instance_st *s =
		    memcached_server_instance_by_position(mc, i);

		snprintf(hosts[i], sizeof(hosts[i]), "%s",
		    s != NULL ? memcached_server_name(s) : "");
		ports[i] = s != NULL ? memcached_server_port(s) : 0;
	}
	/* Back before any wait, as in batch_start(). */
	kv_release(kv, mc);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += kv->timeout_ms / 1000;
	deadline.tv_nsec += (kv->timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	/* "mn" asks each server for an answer every time (a version learnt
	 * before would say nothing of now). */
	buf_init(&rb, KV_ANSWER_SMALL);
	for (i = 0; i < n; i++)
		if (hosts[i][0] == '\0' ||
		    meta_at(kv, hosts[i], ports[i], &deadline, &mn, &rb, &r,
			1) != RELAY_OK ||
		    r.kind != KV_R_MN)
			bad++;
	buf_reset(&rb);
	if (n > 0 && bad == 0)
		return RELAY_OK;
	snprintf(why, whysz, "memcached: %u of %u servers did not answer",
	    bad > 0 ? bad : 1, n);
	return RELAY_ECACHE;
}
