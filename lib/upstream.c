/* SPDX-License-Identifier: MIT */
/* upstream.c - libcurl's multi socket interface driven one transfer at a
 * time per thread: our own poll(2) holds curl's socket and the client's
 * fd, and tells curl which socket is ready (so curl does not poll it again
 * before each read). */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "egress.h"
#include "limits.h"
#include "loop.h"
#include "mem.h"
#include "upstream.h"

struct upstream_shared {
	CURLSH *sh;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

struct upstream {
	struct upstream_shared *shared;
	CURLM *multi;
	CURL *easy;
	struct {
		curl_socket_t fd;
		short events;
		int slot; /* on a loop: its watch in lio[], else -1 */
	} socks[RELAY_UPSTREAM_SOCKS];
	int nsocks;
	/* On a loop: the sockets' watches, which stay where epoll was told
	 * they are while socks[] is compacted around them. */
	struct loop_io lio[RELAY_UPSTREAM_SOCKS];
	int lio_used[RELAY_UPSTREAM_SOCKS];
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
	struct timespec last; /* last byte from upstream: the idle clock */
	struct timespec beat; /* last byte or heartbeat: the heartbeat clock */
	CURL *easy; /* its handle, for what failed (egress_failed()) */
};

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

/* On a loop: watch fd for events in a free slot (or change what the
 * slot *slot watches). 0, or -1 when no slot or epoll refused. */
static int
watch(struct upstream *u, int *slot, curl_socket_t fd, unsigned events)
{
	int k;

	if (*slot >= 0)
		return loop_io_want(&u->lio[*slot], events) == RELAY_OK ? 0
									: -1;
	for (k = 0; k < RELAY_UPSTREAM_SOCKS && u->lio_used[k]; k++)
		;
	if (k == RELAY_UPSTREAM_SOCKS ||
	    loop_io_add_level(&u->lio[k], fd, events) != RELAY_OK)
		return -1;
	u->lio_used[k] = 1;
	*slot = k;
	return 0;
}

static void
unwatch(struct upstream *u, int slot)
{
	if (slot < 0 || !u->lio_used[slot])
		return;
	loop_io_del(&u->lio[slot]);
	u->lio_used[slot] = 0;
}

/* CURLMOPT_SOCKETFUNCTION: keep the table of sockets to poll (and, on a
 * loop, their watches in the loop's epoll). */
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
		if (i < u->nsocks) {
			unwatch(u, u->socks[i].slot);
			u->socks[i] = u->socks[--u->nsocks];
		}
		return 0;
	}
	if (i == u->nsocks) {
		if (u->nsocks == RELAY_UPSTREAM_SOCKS)
			return -1; /* curl fails the transfer */
		u->socks[i].slot = -1;
		u->nsocks++;
	}
	u->socks[i].fd = fd;
	u->socks[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
	    ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	if (loop_current() != NULL &&
	    watch(u, &u->socks[i].slot, fd,
		((what & CURL_POLL_IN) ? LOOP_IN : 0) |
		    ((what & CURL_POLL_OUT) ? LOOP_OUT : 0)) != 0) {
		u->socks[i] = u->socks[--u->nsocks];
		return -1;
	}
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
	if (u->multi != NULL)
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
		if (sp != NULL && (size_t)(sp - p) + 4 <= n)
			x->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 +
			    (sp[3] - '0');
	} else if (n <= 2 && (n == 0 || p[0] == '\r' || p[0] == '\n')) {
		if (x->status >= 200 && !x->head_done) {
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
	clock_gettime(CLOCK_MONOTONIC, &x->last);
	x->beat = x->last;
	x->c->bytes_in += n;
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
	/* The default 16 KiB receive buffer: a bigger one is freed and
	 * allocated again by every reset, and costs memory per stream. The
	 * provider's (or key's) egress proxy, else none: the environment is
	 * never looked at (and curl spares its per-call lookups). */
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

/*
 * drive()'s wait on a loop: curl's n sockets (fds, a copy of the table)
 * and the client's connection, until one is ready or wait_ms passed;
 * then tell curl which. The coroutine yields meanwhile.
 */
static enum relay_err
wait_loop(struct upstream *u, struct xfer *x, int n, const curl_socket_t *fds,
    int wait_ms, int *running)
{
	struct upstream_call *c = x->c;
	struct loop_io *ios[RELAY_UPSTREAM_SOCKS + 1];
	int slots[RELAY_UPSTREAM_SOCKS], k = 0, i, r, ev;
	struct loop *l = loop_current();

	for (i = 0; i < n; i++) {
		slots[i] = u->socks[i].slot;
		if (slots[i] >= 0)
			ios[k++] = &u->lio[slots[i]];
	}
	if (c->watch_io != NULL) {
		c->watch_io->want = LOOP_IN;
		ios[k++] = c->watch_io;
	}
	r = loop_wait_any(ios, (size_t)k, loop_now(l) + (uint64_t)wait_ms);
	if (r < 0) {
		snprintf(c->errmsg, sizeof(c->errmsg), "%s",
		    "the relay could not wait for the upstream");
		return RELAY_EUPSTREAM;
	}
	for (i = 0; i < n && *running && r > 0; i++) {
		if (slots[i] < 0 || u->lio[slots[i]].ready == 0)
			continue;
		ev = 0;
		if (u->lio[slots[i]].ready & (LOOP_IN | LOOP_HUP))
			ev |= CURL_CSELECT_IN;
		if (u->lio[slots[i]].ready & LOOP_OUT)
			ev |= CURL_CSELECT_OUT;
		if (u->lio[slots[i]].ready & LOOP_ERR)
			ev |= CURL_CSELECT_ERR;
		if (curl_multi_socket_action(u->multi, fds[i], ev, running) !=
		    CURLM_OK)
			return RELAY_ENOMEM;
		if (x->cb_err != RELAY_OK)
			return RELAY_OK;
	}
	if (c->watch_io != NULL &&
	    (c->watch_io->ready & (LOOP_IN | LOOP_HUP | LOOP_ERR))) {
		if (peer_gone(c->watch_io->fd)) {
			snprintf(
			    c->errmsg, sizeof(c->errmsg), "client went away");
			return RELAY_ECLOSED;
		}
		/* Nothing there, or bytes we do not read: wait for the next
		 * edge. */
		loop_io_clear(c->watch_io, LOOP_IN);
	}
	return RELAY_OK;
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
		if (loop_current() != NULL) {
			err = wait_loop(u, x, n, fds, wait_ms, &running);
			if (err != RELAY_OK || x->cb_err != RELAY_OK)
				break;
			continue;
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
	if (curl_multi_add_handle(u->multi, u->easy) != CURLM_OK) {
		err = RELAY_ENOMEM;
		goto out;
	}
	err = drive(u, &x, errbuf);
	collect_times(u, c);
	curl_multi_remove_handle(u->multi, u->easy);
	if (err == RELAY_EUPSTREAM && c->errmsg[0] == '\0')
		snprintf(c->errmsg, sizeof(c->errmsg), "upstream failed");
out:
	/* The error buffer and our xfer live on this stack: detach them. */
	curl_easy_setopt(u->easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(u->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	return err;
}
