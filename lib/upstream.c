/* SPDX-License-Identifier: MIT */
/* upstream.c - libcurl's multi socket interface, two ways.
 *
 * On the loop runtime, one multi handle per loop (a hub) carries every
 * transfer of the loop's coroutines: they share its connections (and,
 * over HTTP/2, its streams), its sockets are watched by callback ios and
 * its timer by one small coroutine, so a socket wakes the loop once and
 * the wait costs nothing per transfer. curl's callbacks may then run for
 * any transfer from any context, so they never wait: they queue the
 * bytes in the transfer (pausing it past RELAY_UPSTREAM_QUEUE) and wake
 * its coroutine, which hands them to the caller, who may wait on the
 * client. As curl's own multi-uv example and h2o's libcurl binding do.
 *
 * On the thread runtime (RELAY_RUNTIME=threads), a multi handle per
 * thread driven one transfer at a time: our own poll(2) holds curl's
 * socket and the client's fd, and the callbacks call the caller at
 * once. */
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "egress.h"
#include "limits.h"
#include "loop.h"
#include "mem.h"
#include "upstream.h"

struct upstream_shared {
	CURLSH *sh;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* One loop's multi handle and what drives it. */
struct upstream_hub {
	struct upstream_shared *shared;
	struct loop *loop;
	CURLM *multi;
	struct coro *timer_co; /* the timer coroutine, once it runs */
	int timer_alive; /* spawned and not ended */
	int64_t timer_due; /* curl's timeout, loop ms; -1: none */
	size_t nxfers; /* transfers in the multi */
};

/* A socket of the hub's, watched by a callback io (curl_multi_assign). */
struct hub_sock {
	struct loop_io io;
	struct upstream_hub *hub;
	curl_socket_t fd;
};

struct upstream {
	struct upstream_shared *shared;
	struct upstream_hub *hub; /* NULL: the thread runtime's own multi */
	CURLM *multi; /* own, or the hub's */
	CURL *easy;
	/* The thread runtime's sockets to poll. */
	struct {
		curl_socket_t fd;
		short events;
	} socks[RELAY_UPSTREAM_SOCKS];
	int nsocks;
	long timer_ms; /* curl's timeout: -1 none, else from timer_set */
	struct timespec timer_set;
};

/* Per-call state seen by the curl callbacks. */
struct xfer {
	struct upstream_call *c;
	enum relay_err cb_err; /* set when a callback stopped the transfer */
	int head_done;
	int status;
	char ctype[128];
	char retry_after[32];
	char rid[128];
	int no_retry; /* x-should-retry: false */
	struct timespec last; /* last byte from upstream: the idle clock */
	struct timespec beat; /* last byte or heartbeat: the heartbeat clock */
	/* On a hub: what the callbacks left for the owner coroutine. */
	int hub;
	struct coro *owner;
	int parked; /* the owner waits in hub_drive(): wake it */
	int head_sent; /* on_head called */
	int paused; /* the write callback paused the transfer */
	int trimmed; /* loop_stack_trim() done for this transfer */
	int done; /* curl finished it, with result */
	CURLcode result;
	struct buf q, out; /* bytes queued; bytes being handed over */
	CURL *easy; /* its handle, for what failed (egress_failed()) */
};

/* Wake x's coroutine if it waits for its transfer. */
static void
hub_kick(struct xfer *x)
{
	if (x->parked)
		loop_wake(x->owner);
}

static long
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 +
	    (b->tv_nsec - a->tv_nsec) / 1000000;
}

enum relay_err
upstream_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? RELAY_OK
								 : RELAY_ENOMEM;
}

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *arg)
{
	struct upstream_shared *s = arg;

	(void)h;
	(void)a;
	pthread_mutex_lock(&s->locks[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct upstream_shared *s = arg;

	(void)h;
	pthread_mutex_unlock(&s->locks[data]);
}

struct upstream_shared *
upstream_shared_new(void)
{
	struct upstream_shared *s = mem_calloc(1, sizeof(*s));
	int i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s->locks[i], NULL);
	s->sh = curl_share_init();
	if (s->sh == NULL) {
		upstream_shared_free(s);
		return NULL;
	}
	curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s);
	curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return s;
}

void
upstream_shared_free(struct upstream_shared *s)
{
	int i;

	if (s == NULL)
		return;
	if (s->sh != NULL)
		curl_share_cleanup(s->sh);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s->locks[i]);
	mem_free(s);
}

/* CURLMOPT_SOCKETFUNCTION (thread runtime): the table of sockets to
 * poll. */
static int
on_socket(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct upstream *u = arg;
	int i;

	(void)e;
	(void)sockp;
	for (i = 0; i < u->nsocks && u->socks[i].fd != fd; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < u->nsocks)
			u->socks[i] = u->socks[--u->nsocks];
		return 0;
	}
	if (i == u->nsocks) {
		if (u->nsocks == RELAY_UPSTREAM_SOCKS)
			return -1; /* curl fails the transfer */
		u->nsocks++;
	}
	u->socks[i].fd = fd;
	u->socks[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
	    ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants to be called without I/O. */
static int
on_timer(CURLM *m, long timeout_ms, void *arg)
{
	struct upstream *u = arg;

	(void)m;
	u->timer_ms = timeout_ms;
	clock_gettime(CLOCK_MONOTONIC, &u->timer_set);
	return 0;
}

struct upstream *
upstream_new(struct upstream_shared *sh)
{
	struct upstream *u = mem_calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->shared = sh;
	u->multi = curl_multi_init();
	u->easy = curl_easy_init();
	if (u->multi == NULL || u->easy == NULL) {
		upstream_free(u);
		return NULL;
	}
	u->timer_ms = -1;
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
	return u;
}

void
upstream_free(struct upstream *u)
{
	if (u == NULL)
		return;
	if (u->easy != NULL)
		curl_easy_cleanup(u->easy);
	if (u->multi != NULL && u->hub == NULL)
		curl_multi_cleanup(u->multi);
	mem_free(u);
}

/* Copy a header value, trimmed, into out. */
static void
copy_value(char *out, size_t outsz, const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 &&
	    (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' ||
		p[n - 1] == '\t'))
		n--;
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static int
header_is(const char *line, size_t n, const char *name, size_t *voff)
{
	size_t k = strlen(name);

	if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
		return 0;
	*voff = k + 1;
	return 1;
}

static enum relay_err
head_complete(struct xfer *x)
{
	struct upstream_head h;

	x->head_done = 1;
	x->c->status = x->status;
	h.status = x->status;
	h.content_type = x->ctype;
	h.retry_after = x->retry_after;
	h.request_id = x->rid;
	h.no_retry = x->no_retry;
	return x->c->on_head(x->c->arg, &h);
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, voff;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n);

		x->status = 0;
		x->ctype[0] = x->retry_after[0] = x->rid[0] = '\0';
		x->no_retry = 0;
		if (sp != NULL && (size_t)(sp - p) + 4 <= n)
			x->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 +
			    (sp[3] - '0');
	} else if (n <= 2 && (n == 0 || p[0] == '\r' || p[0] == '\n')) {
		if (x->status >= 200 && !x->head_done) {
			if (x->hub) { /* the owner calls on_head */
				x->head_done = 1;
				hub_kick(x);
				return n;
			}
			x->cb_err = head_complete(x);
			if (x->cb_err != RELAY_OK)
				return 0;
		}
	} else if (n > RELAY_UPSTREAM_HEADER_MAX) {
		return n; /* ignored */
	} else if (header_is(p, n, "content-type", &voff)) {
		copy_value(x->ctype, sizeof(x->ctype), p + voff, n - voff);
	} else if (header_is(p, n, "retry-after", &voff)) {
		copy_value(
		    x->retry_after, sizeof(x->retry_after), p + voff, n - voff);
	} else if (header_is(p, n, "x-should-retry", &voff)) {
		char v[8];

		copy_value(v, sizeof(v), p + voff, n - voff);
		x->no_retry = strcasecmp(v, "false") == 0;
	} else if (header_is(p, n, "x-request-id", &voff) ||
	    header_is(p, n, "request-id", &voff)) {
		copy_value(x->rid, sizeof(x->rid), p + voff, n - voff);
	}
	return n;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (!x->head_done) {
		/* HTTP/0.9-ish or a head without a blank line: refuse. */
		x->cb_err = RELAY_EPROTO;
		return 0;
	}
	if (x->hub) {
		/* Queued for the owner; past the bound, curl holds the bytes
		 * until the owner has handed the queue over. */
		if (x->q.len > 0 && x->q.len + n > RELAY_UPSTREAM_QUEUE) {
			x->paused = 1;
			hub_kick(x);
			return CURL_WRITEFUNC_PAUSE;
		}
		if (buf_append(&x->q, p, n) != RELAY_OK) {
			x->cb_err = RELAY_ENOMEM;
			hub_kick(x);
			return 0;
		}
		hub_kick(x);
	}
	clock_gettime(CLOCK_MONOTONIC, &x->last);
	x->beat = x->last;
	x->c->bytes_in += n;
	if (x->hub)
		return n;
	x->cb_err = x->c->on_data(x->c->arg, p, n);
	return x->cb_err == RELAY_OK ? n : 0;
}

static enum relay_err
setup_easy(
    struct upstream *u, struct xfer *x, struct curl_slist **hl, char *errbuf)
{
	struct upstream_call *c = x->c;
	struct curl_slist *l = NULL, *t;
	CURL *e = u->easy;
	size_t i;

	curl_easy_reset(e);
	for (i = 0; i < c->nheaders; i++) {
		t = curl_slist_append(l, c->headers[i]);
		if (t == NULL)
			goto oom;
		l = t;
	}
	/* No 100-continue round trip; no compression, so SSE stays live. */
	t = curl_slist_append(l, "Expect:");
	if (t == NULL)
		goto oom;
	l = t;
	*hl = l;
	curl_easy_setopt(e, CURLOPT_URL, c->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_SHARE, u->shared->sh);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->total_ms);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	/* curl's receive buffer lives as long as the easy handle, a whole
	 * stream: RELAY_UPSTREAM_RECV_BUFFER, not curl's 16 KiB. The same
	 * size at every call, so that the realloc curl does when the size
	 * changes (a reset sets the default) keeps the block it has. */
	curl_easy_setopt(
	    e, CURLOPT_BUFFERSIZE, (long)RELAY_UPSTREAM_RECV_BUFFER);
	/* The provider's (or key's) egress proxy, else none: the
	 * environment is never looked at (and curl spares its per-call
	 * lookups). */
	x->easy = e;
	egress_setopt(e, c->proxy);
	if (c->method != NULL && strcmp(c->method, "GET") != 0 &&
	    strcmp(c->method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
	if (c->method != NULL && strcmp(c->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (c->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(
		    e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
	}
	return RELAY_OK;
oom:
	curl_slist_free_all(l);
	return RELAY_ENOMEM;
}

/* 1 when the peer of fd has closed or reset; 0 when it is still there. */
static int
peer_gone(int fd)
{
	char ch;
	ssize_t r = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);

	if (r == 0)
		return 1;
	if (r < 0)
		return errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR;
	return 0;
}

/* The timeout for the next poll, and RELAY_ETIMEOUT when one ran out. */
static enum relay_err
next_wait(struct xfer *x, const struct timespec *start, int *wait_ms)
{
	struct upstream_call *c = x->c;
	struct timespec now;
	long left, since;

	clock_gettime(CLOCK_MONOTONIC, &now);
	*wait_ms = 1000;
	if (!x->head_done) {
		left = c->first_byte_ms - ms_between(start, &now);
		if (left <= 0) {
			snprintf(c->errmsg, sizeof(c->errmsg),
			    "no response from upstream within %ld ms",
			    c->first_byte_ms);
			return RELAY_ETIMEOUT;
		}
		if (left < *wait_ms)
			*wait_ms = (int)left;
	}
	since = ms_between(&x->last, &now);
	if (x->head_done) {
		left = c->idle_ms - since;
		if (left <= 0) {
			snprintf(c->errmsg, sizeof(c->errmsg),
			    "upstream silent for %ld ms", c->idle_ms);
			return RELAY_ETIMEOUT;
		}
		if (left < *wait_ms)
			*wait_ms = (int)left;
	}
	/* Heartbeats keep the client side alive; they never reset the idle
	 * clock, which measures the upstream's silence only. */
	if (c->heartbeat_ms > 0 && c->on_idle != NULL) {
		left = c->heartbeat_ms - ms_between(&x->beat, &now);
		if (left <= 0) {
			enum relay_err err = c->on_idle(c->arg);

			x->beat = now;
			if (err != RELAY_OK)
				return err;
			left = c->heartbeat_ms;
		}
		if (left < *wait_ms)
			*wait_ms = (int)left;
	}
	return RELAY_OK;
}

/* What failed, for a client: libcurl's own error text names hosts and
 * ports (kept in c->detail for the log), this says only what happened. */
static const char *
curl_what(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return "the upstream's host name could not be resolved";
	case CURLE_COULDNT_CONNECT: return "could not connect to the upstream";
	case CURLE_OPERATION_TIMEDOUT: return "the upstream timed out";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
		return "the TLS handshake with the upstream failed";
	case CURLE_GOT_NOTHING:
		return "the upstream closed the connection without an answer";
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE: return "the connection to the upstream broke";
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return "the upstream's answer was not valid HTTP";
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNKNOWN_OPTION:
		return "the relay could not form a valid upstream request";
	default: return "the upstream call failed";
	}
}

/* libcurl's text for the log: control bytes made visible, bounded. */
static void
keep_detail(struct upstream_call *c, CURLcode rc, const char *errbuf)
{
	const char *t = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
	size_t i;

	for (i = 0; t[i] != '\0' && i + 1 < sizeof(c->detail); i++)
		c->detail[i] = (unsigned char)t[i] < 0x20 ? '?' : t[i];
	c->detail[i] = '\0';
}

static enum relay_err
map_curl(CURLcode rc, struct xfer *x, const char *errbuf)
{
	struct upstream_call *c = x->c;

	if (rc == CURLE_OK)
		return x->head_done ? RELAY_OK : RELAY_EPROTO;
	if ((rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK) &&
	    x->cb_err != RELAY_OK)
		return x->cb_err;
	snprintf(c->errmsg, sizeof(c->errmsg), "%s", curl_what(rc));
	keep_detail(c, rc, errbuf);
	if (c->proxy != NULL && x->easy != NULL &&
	    egress_failed(x->easy, rc, c->errmsg, sizeof(c->errmsg))) {
		c->proxy_failed = 1;
		return rc == CURLE_OPERATION_TIMEDOUT ? RELAY_ETIMEOUT
						      : RELAY_EUPSTREAM;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: return RELAY_ETIMEOUT;
	case CURLE_OUT_OF_MEMORY: return RELAY_ENOMEM;
	/* The request never left: it says nothing about the upstream. */
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNKNOWN_OPTION: return RELAY_EINVAL;
	default: return RELAY_EUPSTREAM;
	}
}

static void
collect_times(struct upstream *u, struct upstream_call *c)
{
	curl_off_t t = 0;
	long reused = 0;

	if (curl_easy_getinfo(u->easy, CURLINFO_CONNECT_TIME_T, &t) == CURLE_OK)
		c->connect_us = (long)t;
	if (curl_easy_getinfo(u->easy, CURLINFO_STARTTRANSFER_TIME_T, &t) ==
	    CURLE_OK)
		c->first_byte_us = (long)t;
	if (curl_easy_getinfo(u->easy, CURLINFO_NUM_CONNECTS, &reused) ==
	    CURLE_OK)
		c->reused = reused == 0;
}

/* Milliseconds until curl's timer is due: -1 none, 0 due now. */
static long
timer_left(const struct upstream *u)
{
	struct timespec now;
	long left;

	if (u->timer_ms < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = u->timer_ms - ms_between(&u->timer_set, &now);
	return left > 0 ? left : 0;
}

/* --- the hub (loop runtime) --------------------------------------------- */

/* Finished transfers: their owners learn the result. */
static void
hub_reap(struct upstream_hub *h)
{
	CURLMsg *msg;
	struct xfer *x;
	char *priv;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		priv = NULL;
		if (msg->msg != CURLMSG_DONE ||
		    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			&priv) != CURLE_OK ||
		    priv == NULL)
			continue;
		x = (struct xfer *)(void *)priv;
		x->done = 1;
		x->result = msg->data.result;
		hub_kick(x);
	}
}

/* A hub socket is ready: curl reads or writes what it will. */
static void
hub_sock_ready(struct loop_io *io, void *arg)
{
	struct hub_sock *hs = arg;
	struct upstream_hub *h = hs->hub;
	curl_socket_t fd = hs->fd;
	int ev = 0, running;

	if (io->ready & (LOOP_IN | LOOP_HUP))
		ev |= CURL_CSELECT_IN;
	if (io->ready & LOOP_OUT)
		ev |= CURL_CSELECT_OUT;
	if (io->ready & LOOP_ERR)
		ev |= CURL_CSELECT_ERR;
	/* hs may be freed inside (CURL_POLL_REMOVE). */
	(void)curl_multi_socket_action(h->multi, fd, ev, &running);
	hub_reap(h);
}

/* CURLMOPT_SOCKETFUNCTION on a hub: a callback io per socket, found
 * again through curl_multi_assign(). */
static int
hub_socket(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct upstream_hub *h = arg;
	struct hub_sock *hs = sockp;
	unsigned ev = ((what & CURL_POLL_IN) ? LOOP_IN : 0) |
	    ((what & CURL_POLL_OUT) ? LOOP_OUT : 0);

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			loop_io_del(&hs->io);
			curl_multi_assign(h->multi, fd, NULL);
			mem_free(hs);
		}
		return 0;
	}
	if (hs != NULL)
		return loop_io_want(&hs->io, ev) == RELAY_OK ? 0 : -1;
	if ((hs = mem_calloc(1, sizeof(*hs))) == NULL)
		return -1;
	hs->hub = h;
	hs->fd = fd;
	if (loop_io_add_cb(&hs->io, h->loop, fd, ev, hub_sock_ready, hs) !=
	    RELAY_OK) {
		mem_free(hs);
		return -1;
	}
	curl_multi_assign(h->multi, fd, hs);
	return 0;
}

/* Run what curl's timer has due now (all the hub's transfers). */
static void
hub_run_timers(struct upstream_hub *h)
{
	int running;

	h->timer_due = -1;
	(void)curl_multi_socket_action(
	    h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	hub_reap(h);
}

/* The hub's timer: one coroutine while transfers run, which sleeps until
 * curl's timeout and is woken when curl moves it. */
static void
hub_timer_main(void *arg)
{
	struct upstream_hub *h = arg;
	uint64_t now;

	h->timer_co = loop_self();
	while (h->nxfers > 0) {
		now = loop_now(h->loop);
		if (h->timer_due >= 0 && (uint64_t)h->timer_due <= now) {
			hub_run_timers(h);
			continue;
		}
		(void)loop_sleep_until(h->timer_due >= 0
			? (uint64_t)h->timer_due
			: now + RELAY_UPSTREAM_HUB_NAP_MS);
	}
	h->timer_co = NULL;
	h->timer_alive = 0;
}

/* CURLMOPT_TIMERFUNCTION on a hub. */
static int
hub_timer(CURLM *m, long timeout_ms, void *arg)
{
	struct upstream_hub *h = arg;

	(void)m;
	h->timer_due = timeout_ms < 0
	    ? -1
	    : (int64_t)loop_now(h->loop) + (int64_t)timeout_ms;
	if (h->timer_co != NULL)
		loop_wake(h->timer_co);
	return 0;
}

struct upstream_hub *
upstream_hub_new(struct upstream_shared *sh, struct loop *l)
{
	struct upstream_hub *h = mem_calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->shared = sh;
	h->loop = l;
	h->timer_due = -1;
	if ((h->multi = curl_multi_init()) == NULL) {
		mem_free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, hub_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, hub_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	/* Idle connections kept for reuse, across all the loop's calls. */
	curl_multi_setopt(
	    h->multi, CURLMOPT_MAXCONNECTS, (long)RELAY_UPSTREAM_HUB_CONNS);
	return h;
}

void
upstream_hub_free(struct upstream_hub *h)
{
	if (h == NULL)
		return;
	curl_multi_cleanup(h->multi); /* closes its sockets: their ios go */
	mem_free(h);
}

struct upstream *
upstream_new_on(struct upstream_hub *h)
{
	struct upstream *u = mem_calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->shared = h->shared;
	u->hub = h;
	u->multi = h->multi;
	if ((u->easy = curl_easy_init()) == NULL) {
		mem_free(u);
		return NULL;
	}
	return u;
}

/* Hand what the callbacks queued to the caller: the head, then the
 * bytes. The caller may wait (on the client) meanwhile, while curl's
 * callbacks go on queueing into the other buffer. */
static enum relay_err
hub_deliver(struct xfer *x, int *did)
{
	struct upstream_call *c = x->c;
	struct buf t;
	enum relay_err err;

	*did = 0;
	if (x->head_done && !x->head_sent) {
		x->head_sent = 1;
		*did = 1;
		if ((err = head_complete(x)) != RELAY_OK)
			return err;
	}
	if (x->q.len == 0)
		return RELAY_OK;
	t = x->out;
	x->out = x->q;
	x->q = t;
	*did = 1;
	err = c->on_data(c->arg, x->out.data, x->out.len);
	buf_clear(&x->out);
	return err;
}

/* The owner's side of a transfer on a hub: hand over what arrived, keep
 * the timeouts and the heartbeat, watch the client, until curl is done
 * with it or something stops it. */
static enum relay_err
hub_drive(struct upstream *u, struct xfer *x, const char *errbuf)
{
	struct upstream_call *c = x->c;
	struct timespec start;
	struct loop *l = u->hub->loop;
	enum relay_err err;
	int wait_ms, did, r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	x->last = x->beat = start;
	for (;;) {
		if ((err = hub_deliver(x, &did)) != RELAY_OK)
			return err;
		if (did)
			continue; /* more may have come while it waited */
		if (x->cb_err != RELAY_OK)
			return x->cb_err;
		if (x->paused) {
			/* Unpausing may deliver the held bytes at once. */
			x->paused = 0;
			if (curl_easy_pause(u->easy, CURLPAUSE_CONT) !=
			    CURLE_OK)
				return RELAY_ENOMEM;
			hub_run_timers(u->hub); /* curl goes on reading */
			continue;
		}
		if (x->done)
			return map_curl(x->result, x, errbuf);
		if ((err = next_wait(x, &start, &wait_ms)) != RELAY_OK)
			return err;
		if (x->head_sent && !x->trimmed) {
			/* The head is out and the body still coming (a
			 * stream): from here the stack holds only this
			 * frame's callers for the whole wait. */
			x->trimmed = 1;
			loop_stack_trim();
		}
		x->parked = 1;
		if (c->watch_io != NULL) {
			c->watch_io->want = LOOP_IN;
			r = loop_wait_any(
			    &c->watch_io, 1, loop_now(l) + (uint64_t)wait_ms);
		} else
			r = loop_sleep_until(loop_now(l) + (uint64_t)wait_ms)
			    ? -1
			    : 0;
		x->parked = 0;
		if (r > 0 &&
		    (c->watch_io->ready & (LOOP_IN | LOOP_HUP | LOOP_ERR))) {
			if (peer_gone(c->watch_io->fd)) {
				snprintf(c->errmsg, sizeof(c->errmsg),
				    "client went away");
				return RELAY_ECLOSED;
			}
			/* Nothing there, or bytes we do not read: wait for
			 * the next edge. */
			loop_io_clear(c->watch_io, LOOP_IN);
		}
	}
}

static enum relay_err
hub_perform(struct upstream *u, struct xfer *x, const char *errbuf)
{
	struct upstream_hub *h = u->hub;
	enum relay_err err;

	x->hub = 1;
	x->owner = loop_self();
	buf_init(&x->q, RELAY_UPSTREAM_BODY_MAX);
	buf_init(&x->out, RELAY_UPSTREAM_BODY_MAX);
	curl_easy_setopt(u->easy, CURLOPT_PRIVATE, (char *)x);
	if (x->owner == NULL || h->loop != loop_current())
		return RELAY_EINVAL; /* a hub serves its own loop only */
	h->nxfers++;
	if (!h->timer_alive) {
		/* curl's work (a TLS handshake too) may run on its stack. */
		if (loop_spawn(h->loop, hub_timer_main, h, RELAY_CORO_STACK) !=
		    RELAY_OK) {
			h->nxfers--;
			return RELAY_ENOMEM;
		}
		h->timer_alive = 1;
	}
	if (curl_multi_add_handle(h->multi, u->easy) != CURLM_OK) {
		h->nxfers--;
		return RELAY_ENOMEM;
	}
	/* Start it now (the connect, or the request on a kept connection)
	 * rather than at the timer coroutine's next turn: a turn under load
	 * is tens of milliseconds of everybody else's events. */
	hub_run_timers(h);
	err = hub_drive(u, x, errbuf);
	collect_times(u, x->c);
	curl_multi_remove_handle(h->multi, u->easy);
	if (--h->nxfers == 0 && h->timer_co != NULL)
		loop_wake(h->timer_co); /* to end */
	buf_reset(&x->q);
	buf_reset(&x->out);
	return err;
}

static enum relay_err
drive(struct upstream *u, struct xfer *x, const char *errbuf)
{
	struct upstream_call *c = x->c;
	struct pollfd pf[RELAY_UPSTREAM_SOCKS + 1];
	curl_socket_t fds[RELAY_UPSTREAM_SOCKS];
	struct timespec start;
	enum relay_err err = RELAY_OK;
	int running = 1, watch = c->watch_fd >= 0, wait_ms, n, i, r;
	long tl;
	CURLMsg *msg;

	clock_gettime(CLOCK_MONOTONIC, &start);
	x->last = x->beat = start;
	while (running) {
		tl = timer_left(u);
		if (tl == 0) {
			u->timer_ms = -1;
			if (curl_multi_socket_action(u->multi,
				CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
				return RELAY_ENOMEM;
			if (x->cb_err != RELAY_OK || !running)
				break;
			continue; /* the action may have set a new timer */
		}
		err = next_wait(x, &start, &wait_ms);
		if (err != RELAY_OK)
			return err;
		if (tl > 0 && tl < wait_ms)
			wait_ms = (int)tl;
		/* The table may change inside socket_action: poll a copy. */
		for (n = 0; n < u->nsocks; n++) {
			fds[n] = u->socks[n].fd;
			pf[n] = (struct pollfd){
			    u->socks[n].fd, u->socks[n].events, 0};
		}
		if (watch)
			pf[n] = (struct pollfd){c->watch_fd, POLLIN, 0};
		r = poll(pf, (nfds_t)(n + watch), wait_ms);
		if (r < 0 && errno != EINTR)
			return RELAY_EUPSTREAM;
		if (r <= 0)
			continue; /* a timer ran out: the top of the loop */
		for (i = 0; i < n && running; i++) {
			int ev = 0;

			if (pf[i].revents == 0)
				continue;
			if (pf[i].revents & (POLLIN | POLLHUP))
				ev |= CURL_CSELECT_IN;
			if (pf[i].revents & POLLOUT)
				ev |= CURL_CSELECT_OUT;
			if (pf[i].revents & (POLLERR | POLLNVAL))
				ev |= CURL_CSELECT_ERR;
			if (curl_multi_socket_action(
				u->multi, fds[i], ev, &running) != CURLM_OK)
				return RELAY_ENOMEM;
			if (x->cb_err != RELAY_OK)
				break;
		}
		if (x->cb_err != RELAY_OK)
			break;
		if (watch && pf[n].revents != 0) {
			if (peer_gone(c->watch_fd)) {
				snprintf(c->errmsg, sizeof(c->errmsg),
				    "client went away");
				return RELAY_ECLOSED;
			}
			watch = 0; /* unexpected bytes: rely on writes */
		}
	}
	if (err != RELAY_OK)
		return err;
	msg = curl_multi_info_read(u->multi, &n);
	if (msg != NULL && msg->msg == CURLMSG_DONE)
		return map_curl(msg->data.result, x, errbuf);
	if (x->cb_err != RELAY_OK)
		return x->cb_err;
	return RELAY_EUPSTREAM;
}

enum relay_err
upstream_perform(struct upstream *u, struct upstream_call *c)
{
	struct curl_slist *hl = NULL;
	char errbuf[CURL_ERROR_SIZE];
	struct xfer x;
	enum relay_err err;

	memset(&x, 0, sizeof(x));
	x.c = c;
	c->status = 0;
	c->bytes_in = 0;
	c->errmsg[0] = '\0';
	c->proxy_failed = 0;
	c->detail[0] = '\0';
	errbuf[0] = '\0';
	err = setup_easy(u, &x, &hl, errbuf);
	if (err != RELAY_OK)
		goto out;
	if (u->hub != NULL) {
		err = hub_perform(u, &x, errbuf);
		goto done;
	}
	if (curl_multi_add_handle(u->multi, u->easy) != CURLM_OK) {
		err = RELAY_ENOMEM;
		goto out;
	}
	err = drive(u, &x, errbuf);
	collect_times(u, c);
	curl_multi_remove_handle(u->multi, u->easy);
done:
	if (err == RELAY_EUPSTREAM && c->errmsg[0] == '\0')
		snprintf(c->errmsg, sizeof(c->errmsg), "upstream failed");
out:
	/* The error buffer and our xfer live on this stack: detach them. */
	curl_easy_setopt(u->easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(u->easy, CURLOPT_PRIVATE, NULL);
	curl_easy_setopt(u->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	return err;
}
