/* SPDX-License-Identifier: MIT */
/* server.c - accept threads over one FastCGI listening socket. libfcgi's
 * own SIGTERM handling does not work with threads (it only sets a flag
 * the accept loop never sees), so signals are blocked everywhere and
 * taken by sigwait(2) in the main thread, which then wakes the accept
 * threads with SIGUSR2 (FCGI_FAIL_ACCEPT_ON_INTR makes accept fail). */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "apierr.h"
#include "config.h"
#include "crypto.h"
#include "fcgi_io.h"
#include "fcgi_loop.h"
#include "keys.h"
#include "filter.h"
#include "ledger.h"
#include "promptlog.h"
#include "kv.h"
#include "limits.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "metrics.h"
#include "num.h"
#include "req.h"
#include "server.h"
#include "upstream.h"

/* The loop runtime (the default), or RELAY_RUNTIME=threads: the thread
 * per request runtime it replaces, kept for one release beside it. */
static int use_loop = 1;

struct worker {
	pthread_t tid;
	struct relay_ctx *ctx;
	server_handler_fn fn;
	volatile int done;
	int started;
};

static void
on_wake(int sig)
{
	(void)sig; /* only interrupts accept(2) */
}

static int
listen_unix(const char *path, char *errbuf, unsigned long errsz)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >=
	    (int)sizeof(sun.sun_path)) {
		snprintf(errbuf, errsz, "socket path too long: %s", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0666) != 0 || listen(fd, RELAY_LISTEN_BACKLOG) != 0)
		goto fail;
	return fd;
fail:
	snprintf(errbuf, errsz, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int
listen_tcp(const char *hostport, char *errbuf, unsigned long errsz)
{
	struct addrinfo hints, *res = NULL;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hlen;
	int fd = -1, one = 1, rc;

	if (colon == NULL || (hlen = (size_t)(colon - hostport)) == 0 ||
	    hlen >= sizeof(host)) {
		snprintf(
		    errbuf, errsz, "listen: want host:port, got %s", hostport);
		return -1;
	}
	memcpy(host, hostport, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		snprintf(errbuf, errsz, "%s: %s", hostport, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, RELAY_LISTEN_BACKLOG) != 0) {
		snprintf(errbuf, errsz, "%s: %s", hostport, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
server_listen(const char *spec, char *errbuf, unsigned long errsz)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return listen_unix(spec + 5, errbuf, errsz);
	if (spec[0] == '/')
		return listen_unix(spec, errbuf, errsz);
	if (strncmp(spec, "tcp:", 4) == 0)
		return listen_tcp(spec + 4, errbuf, errsz);
	return listen_tcp(spec, errbuf, errsz);
}

static void
access_line(struct relay_ctx *ctx, const struct relay_req *req,
    const struct timespec *t0, const struct timespec *t1)
{
	struct access_entry e;

	if (ctx->access == NULL || req->path.p == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.id = req->id;
	e.key_id = req->m_key_id[0] != '\0' ? req->m_key_id : NULL;
	e.end_user = req->m_end_user[0] != '\0' ? req->m_end_user : NULL;
	e.route = req->m_route;
	e.dialect = req->m_dialect;
	e.model = req->m_model;
	e.provider = req->m_provider;
	e.client_ip = req->client_ip;
	e.cache = req->m_cache;
	e.error = req->m_error;
	e.pii = req->m_pii[0] != '\0' ? req->m_pii : NULL;
	e.status = req->status;
	e.seconds = (double)(t1->tv_sec - t0->tv_sec) +
	    (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
	e.ttft_seconds = req->m_ttft;
	e.tokens_in = req->m_in;
	e.tokens_out = req->m_out;
	e.tokens_cached = req->m_cached;
	e.cost_micro_usd = req->m_cost;
	e.attempts = req->m_attempts;
	accesslog_write(ctx->access, &e);
}

/*
 * Memory of large requests goes back to the system. With glibc each of
 * the 128 threads allocates from one of up to 8 arenas per core, and a
 * freed block stays in its arena; and once a large mmapped block is
 * freed, glibc raises its mmap threshold to that block's size (up to
 * 32 MiB), so every later body of that size comes from an arena and
 * stays there. Measured with 15 MiB bodies: relay-chat's RSS grew by
 * 47 MB a request while each arena took its high-water mark (15 MB ->
 * 740 MB in 16 requests), then 15 MB a request; with a 15 MiB body of
 * 430,000 short messages, 250 MB a request (2 GB after 8). A fixed
 * threshold (which also fixes the trim threshold) keeps every large
 * block in a mapping of its own, given back when freed; the trim after
 * a large request returns the free pages its many small blocks (a
 * parsed 15 MiB JSON) left in the arenas.
 */
static void
malloc_setup(void)
{
	/* AddressSanitizer's allocator takes no mallopt() (it fails there). */
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
	if (mallopt(M_MMAP_THRESHOLD, (int)RELAY_MMAP_THRESHOLD) != 1)
		log_warn("mallopt(M_MMAP_THRESHOLD) failed");
#endif
}

static void
malloc_release(size_t body_len)
{
#ifdef __GLIBC__
	if (body_len >= RELAY_TRIM_AFTER_BODY)
		(void)malloc_trim(0);
#else
	(void)body_len;
#endif
}

/* Run fn on a begun request (begun: what req_begin said), then its
 * epilogue: the access log, the ledger, the metrics; release it. */
static void
serve_req(struct relay_ctx *ctx, server_handler_fn fn, struct relay_req *req,
    enum relay_err begun, const struct timespec *t0)
{
	struct timespec t1;
	size_t body_len;

	if (begun != RELAY_OK)
		apierr_send(req, apierr_route_dialect(req->path), 400,
		    "invalid_request_error", NULL,
		    "the web server sent unusable request parameters");
	else
		fn(req);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	access_line(ctx, req, t0, &t1);
	if (req->m_model != NULL &&
	    (req->m_in > 0 || req->m_out > 0 ||
		(req->m_cache != NULL && strcmp(req->m_cache, "HIT") == 0)))
		ledger_record(ctx->ledger,
		    req->m_key_id[0] != '\0' ? req->m_key_id : "-",
		    req->m_end_user[0] != '\0' ? req->m_end_user : NULL,
		    req->m_model, req->m_in, req->m_out, req->m_cost,
		    req->m_cache != NULL && strcmp(req->m_cache, "HIT") == 0);
	metrics_request(ctx->metrics,
	    req->m_route != NULL ? req->m_route : "other",
	    req->m_dialect != NULL ? req->m_dialect : "none",
	    req->m_model != NULL ? req->m_model : "none",
	    req->m_provider != NULL ? req->m_provider : "none", req->status,
	    (double)(t1.tv_sec - t0->tv_sec) +
		(double)(t1.tv_nsec - t0->tv_nsec) / 1e9);
	log_debug("%s %.*s %d %ldus id=%s",
	    req->method == REQ_POST ? "POST" : "-",
	    (int)(req->path.len > 200 ? 200 : req->path.len),
	    req->path.p != NULL ? req->path.p : "", req->status,
	    (t1.tv_sec - t0->tv_sec) * 1000000 +
		(t1.tv_nsec - t0->tv_nsec) / 1000,
	    req->id);
	body_len = req->body.len;
	req_end(req);
	malloc_release(body_len);
}

static void
serve_one(struct worker *w, struct fcgi_io *io, struct upstream *up)
{
	struct relay_req req;
	struct timespec t0;
	enum relay_err err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = req_begin(&req, io, w->ctx, up);
	serve_req(w->ctx, w->fn, &req, err, &t0);
	fcgi_io_finish(io);
}

/* RSS of this process in kB: the second field of /proc/self/statm. */
static long long
rss_kb(void)
{
	long long resident = 0;
	char buf[128], *sp, *end;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		sp = memchr(buf, ' ', strlen(buf));
		end = sp != NULL ? memchr(sp + 1, ' ', strlen(sp + 1)) : NULL;
		if (end != NULL) {
			*end = '\0';
			if (num_parse(sp + 1, 0, 1LL << 40, &resident) !=
			    RELAY_OK)
				resident = 0;
		}
	}
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * After a request: is it time to recycle this process? Once only, it
 * asks the supervisor (its parent) for a replacement and itself to
 * drain; the signals are taken by sigwait() in the main threads.
 */
static void
maybe_recycle(struct relay_ctx *ctx)
{
	unsigned long long n =
	    __atomic_add_fetch(&ctx->served, 1, __ATOMIC_RELAXED);
	int due = 0;

	if (ctx->max_requests > 0 && n >= (unsigned long long)ctx->max_requests)
		due = 1;
	if (ctx->max_rss_kb > 0 && n % 64 == 0 && rss_kb() > ctx->max_rss_kb)
		due = 1;
	if (!due || __atomic_exchange_n(&ctx->recycling, 1, __ATOMIC_ACQ_REL))
		return;
	log_info("recycling after %llu requests (RSS %lld kB)", n, rss_kb());
	kill(getppid(), SIGUSR1);
	kill(getpid(), SIGUSR1);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct fcgi_io *io = fcgi_io_new(w->ctx->listen_fd);
	struct upstream *up = upstream_new(w->ctx->up_shared);
	sigset_t wake;

	sigemptyset(&wake);
	sigaddset(&wake, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	if (io == NULL || up == NULL) {
		log_err("worker: out of memory");
		goto out;
	}
	while (!w->ctx->stopping) {
		if (fcgi_io_accept(io) != RELAY_OK) {
			if (w->ctx->stopping)
				break;
			if (errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			continue;
		}
		serve_one(w, io, up);
		if (w->ctx->max_requests > 0 || w->ctx->max_rss_kb > 0)
			maybe_recycle(w->ctx);
	}
out:
	fcgi_io_free(io);
	upstream_free(up);
	w->done = 1;
	return NULL;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
	    "usage: %s [-l LISTEN] [-t THREADS] [-c CONFIG] [-r N] [-m MB] "
	    "[-n N]\n"
	    "  LISTEN   unix:/path, /path, tcp:host:port or host:port\n"
	    "           (env RELAY_LISTEN; default: fd 0 as passed by a\n"
	    "           FastCGI spawner such as lighttpd or spawn-fcgi)\n"
	    "  THREADS  loop threads, 1..%d (env RELAY_THREADS, default one\n"
	    "           per core); each serves any number of requests.\n"
	    "           RELAY_RUNTIME=threads: the old runtime, THREADS\n"
	    "           requests at once (default %d)\n"
	    "  CONFIG   JSON config path (env RELAY_CONFIG; default: "
	    "built-in)\n"
	    "  -r N     recycle the process after N requests (env\n"
	    "           RELAY_MAX_REQUESTS); -m MB: once its RSS passes MB\n"
	    "           (env RELAY_MAX_RSS_MB). A supervisor then starts the\n"
	    "           replacement before the old process drains.\n"
	    "  -n N     requests in flight at most (env\n"
	    "           RELAY_MAX_INFLIGHT, default %d, 0: no limit); past it\n"
	    "           a 503 with Retry-After at once\n",
	    prog, RELAY_THREADS_MAX, RELAY_THREADS_DEFAULT,
	    RELAY_MAX_INFLIGHT_DEFAULT);
}

struct opts {
	const char *listen;
	const char *config;
	long long max_inflight;
	long long threads;
	long long max_requests;
	long long max_rss_mb;
};

/* A numeric environment variable within [0, max]; absent leaves *out. */
static int
env_num(const char *name, long long max, long long *out)
{
	const char *s = getenv(name);

	if (s == NULL || *s == '\0')
		return 0;
	return num_parse(s, 0, max, out) == RELAY_OK ? 0 : -1;
}

static int
opt_num(const char *s, long long min, long long max, long long *out)
{
	return num_parse(s, min, max, out) == RELAY_OK ? 0 : -1;
}

static int
parse_opts(int argc, char **argv, const char *prog, struct opts *o)
{
	int c, bad = 0;

	memset(o, 0, sizeof(*o));
	o->listen = getenv("RELAY_LISTEN");
	o->config = getenv("RELAY_CONFIG");
	if (o->config != NULL && *o->config == '\0')
		o->config = NULL;
	o->threads = RELAY_THREADS_DEFAULT;
	if (use_loop) { /* loop threads: one per core */
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		o->threads = cores > 0 ? cores : 1;
	}
	bad |= env_num("RELAY_THREADS", RELAY_THREADS_MAX, &o->threads);
	bad |= env_num("RELAY_MAX_REQUESTS", 1LL << 40, &o->max_requests);
	bad |= env_num("RELAY_MAX_RSS_MB", 1 << 20, &o->max_rss_mb);
	o->max_inflight = RELAY_MAX_INFLIGHT_DEFAULT;
	bad |= env_num("RELAY_MAX_INFLIGHT", 1 << 24, &o->max_inflight);
	while (!bad && (c = getopt(argc, argv, "l:t:c:r:m:n:h")) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 't':
			bad |=
			    opt_num(optarg, 1, RELAY_THREADS_MAX, &o->threads);
			break;
		case 'c': o->config = optarg; break;
		case 'r':
			bad |= opt_num(optarg, 0, 1LL << 40, &o->max_requests);
			break;
		case 'm':
			bad |= opt_num(optarg, 0, 1 << 20, &o->max_rss_mb);
			break;
		case 'n':
			bad |= opt_num(optarg, 0, 1 << 24, &o->max_inflight);
			break;
		default: bad = 1;
		}
	}
	if (bad || o->threads < 1) {
		usage(prog);
		return -1;
	}
	return 0;
}

const char *
server_metrics_dir(void)
{
	const char *d = getenv("RELAY_METRICS_DIR");

	return d != NULL && *d != '\0' ? d : "/tmp/llm-relay-metrics";
}

/* RELAY_ACCESS_LOG (a name for day files), kept and chained as the
 * config's access_log says. */
static void
access_open(struct relay_ctx *ctx)
{
	const char *path = getenv("RELAY_ACCESS_LOG");
	struct config *cfg;

	if (path == NULL || *path == '\0')
		return;
	cfg = config_acquire(ctx->config);
	ctx->access = accesslog_open(
	    path, cfg->access_retention_days, cfg->access_hash_chain);
	config_release(cfg);
	if (ctx->access == NULL)
		log_warn("access log %s: %s", path, strerror(errno));
}

static int
ctx_open(struct relay_ctx *ctx, const struct opts *o)
{
	char errbuf[512], path[1200];
	struct config *cfg;

	ctx->threads = (unsigned)o->threads;
	ctx->config = config_store_new(o->config, errbuf, sizeof(errbuf));
	if (ctx->config == NULL) {
		log_err("config %s: %s", o->config ? o->config : "built-in",
		    errbuf);
		return -1;
	}
	cfg = config_acquire(ctx->config);
	ctx->kv = kv_new(cfg->kv_servers, cfg->nkv_servers, cfg->kv_timeout_ms,
	    ctx->threads, errbuf, sizeof(errbuf));
	log_info("config %s: generation %lu, %zu providers, %zu models",
	    cfg->source, cfg->generation, cfg->nproviders, cfg->nmodels);
	if (snprintf(path, sizeof(path), "%s/keys.json", cfg->data_dir) <
	    (int)sizeof(path))
		ctx->keys = keys_store_new(path);
	if (creds_master_load(&ctx->master) != RELAY_OK) {
		config_release(cfg);
		log_err("RELAY_MASTER_KEY: want 64 hex digits or base64 of 32 "
			"bytes");
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s/ledger", cfg->data_dir) <
	    (int)sizeof(path)) {
		(void)mkdir(cfg->data_dir, 0700);
		ctx->ledger = ledger_open(path);
		if (ctx->ledger == NULL)
			log_warn("ledger %s: %s", path, strerror(errno));
	}
	if (snprintf(path, sizeof(path), "%s/credentials.json", cfg->data_dir) <
	    (int)sizeof(path))
		ctx->creds = creds_store_new(path, &ctx->master);
	ctx->filter = filter_store_new();
	if (snprintf(path, sizeof(path), "%s/prompts", cfg->data_dir) <
	    (int)sizeof(path))
		ctx->prompts = promptlog_open(path);
	config_release(cfg);
	if (ctx->keys == NULL || ctx->creds == NULL || ctx->filter == NULL ||
	    ctx->prompts == NULL) {
		log_err("cannot set up the key and credential stores");
		return -1;
	}
	if (ctx->kv == NULL) {
		log_err("memcached: %s", errbuf);
		return -1;
	}
	if (upstream_global_init() != RELAY_OK || fcgi_io_init() != RELAY_OK) {
		log_err("library initialisation failed");
		return -1;
	}
	ctx->up_shared = upstream_shared_new();
	if (ctx->up_shared == NULL) {
		log_err("out of memory");
		return -1;
	}
	if (metrics_open(server_metrics_dir(), ctx->prog, &ctx->metrics) !=
	    RELAY_OK)
		log_warn("metrics: cannot open a file in %s; counting nothing",
		    server_metrics_dir());
	access_open(ctx);
	ctx->max_requests = o->max_requests;
	ctx->max_inflight = o->max_inflight;
	ctx->max_rss_kb = o->max_rss_mb * 1024;
	return 0;
}

static void
ctx_close(struct relay_ctx *ctx)
{
	kv_free(ctx->kv);
	metrics_close(ctx->metrics);
	ctx->metrics = NULL;
	accesslog_close(ctx->access);
	ctx->access = NULL;
	ledger_close(ctx->ledger);
	ctx->ledger = NULL;
	keys_store_free(ctx->keys);
	creds_store_free(ctx->creds);
	filter_store_free(ctx->filter);
	ctx->filter = NULL;
	promptlog_close(ctx->prompts);
	ctx->prompts = NULL;
	explicit_bzero(&ctx->master, sizeof(ctx->master));
	upstream_shared_free(ctx->up_shared);
	config_store_free(ctx->config);
}

static long
drain_ms(void)
{
	const char *s = getenv("RELAY_DRAIN_MS");
	long long v;

	if (s == NULL || num_parse(s, 0, 3600000, &v) != RELAY_OK)
		return RELAY_DRAIN_MS_DEFAULT;
	return (long)v;
}

/* Wake idle workers until all are gone or the drain time ran out.
 * Returns the number still busy. */
static unsigned
drain(struct worker *ws, unsigned n, long limit_ms)
{
	struct timespec nap = {0, 50 * 1000000};
	long waited = 0;
	unsigned i, busy;

	for (;;) {
		busy = 0;
		for (i = 0; i < n; i++) {
			if (!ws[i].started || ws[i].done)
				continue;
			busy++;
			pthread_kill(ws[i].tid, SIGUSR2);
		}
		if (busy == 0 || waited >= limit_ms)
			return busy;
		nanosleep(&nap, NULL);
		waited += 50;
	}
}

static int
run_workers(struct relay_ctx *ctx, server_handler_fn fn, sigset_t *sigs)
{
	struct worker *ws = mem_calloc(ctx->threads, sizeof(*ws));
	pthread_attr_t attr;
	unsigned i, left;
	int sig = 0;

	if (ws == NULL) {
		log_err("out of memory");
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, RELAY_THREAD_STACK);
	for (i = 0; i < ctx->threads; i++) {
		ws[i].ctx = ctx;
		ws[i].fn = fn;
		if (pthread_create(&ws[i].tid, &attr, worker_main, &ws[i]) !=
		    0) {
			log_err("pthread_create: thread %u of %u failed", i,
			    ctx->threads);
			break;
		}
		ws[i].started = 1;
	}
	pthread_attr_destroy(&attr);
	log_info("serving with %u threads", i);
	while (sigwait(sigs, &sig) == 0 &&
	    (sig == SIGHUP || (sig == SIGUSR1 && !ctx->recycling)))
		log_info("SIGHUP: config reloads by itself when the file "
			 "changes");
	log_info("signal %d: draining", sig);
	ctx->stopping = 1;
	left = drain(ws, ctx->threads, drain_ms());
	if (left > 0) {
		log_warn(
		    "%u requests still running after the drain; exiting", left);
		_exit(ctx->recycling ? SERVER_EXIT_RECYCLE : 0);
	}
	for (i = 0; i < ctx->threads; i++)
		if (ws[i].started)
			pthread_join(ws[i].tid, NULL);
	mem_free(ws);
	return ctx->recycling ? SERVER_EXIT_RECYCLE : 0;
}

/* --- the loop runtime (issue 15): -t loop threads, each serving any
 * number of requests as coroutines on one epoll ---------------------- */

struct lthread {
	pthread_t tid;
	struct relay_ctx *ctx;
	server_handler_fn fn;
	struct loop *loop;
	struct fcgi_listener *ls;
	struct upstream_hub *hub; /* the loop's libcurl multi */
	struct upstream *ups[RELAY_LOOP_UPSTREAMS_KEPT]; /* idle, newest last */
	unsigned nups;
	volatile int done;
	int started;
};

/* Past the ceiling on requests in flight: a 503 at once, in the route's
 * dialect, with Retry-After, rather than a queue behind other requests'
 * streams. Counted as relay_ratelimit_refusals_total{kind="overload"}. */
static void
overloaded(struct relay_req *req)
{
	if (req_add_header(req, "Retry-After: 1") != RELAY_OK)
		log_warn("id=%s: Retry-After dropped", req->id);
	apierr_send(req, apierr_route_dialect(req->path), 503, NULL,
	    "overloaded",
	    "the relay is at its limit of %lld requests in "
	    "flight; try again shortly",
	    req->ctx->max_inflight);
	metrics_ratelimit(req->ctx->metrics, "overload");
	req->m_route = "overload";
}

static void
on_lreq(struct fcgi_lreq *r, void *arg)
{
	struct lthread *lt = arg;
	struct relay_req req;
	struct timespec t0;
	struct upstream *up;
	enum relay_err err;
	unsigned long long n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = req_begin_loop(&req, r, lt->ctx);
	n = __atomic_add_fetch(&lt->ctx->inflight, 1, __ATOMIC_RELAXED);
	if (err == RELAY_OK && lt->ctx->max_inflight > 0 &&
	    n > (unsigned long long)lt->ctx->max_inflight) {
		/* The same epilogue as any request: logged and counted. */
		serve_req(lt->ctx, overloaded, &req, err, &t0);
		__atomic_sub_fetch(&lt->ctx->inflight, 1, __ATOMIC_RELAXED);
		return;
	}
	/* An upstream handle of its own while it runs (an easy handle on
	 * the loop's hub, whose connections all calls share). */
	up = lt->nups > 0 ? lt->ups[--lt->nups] : upstream_new_on(lt->hub);
	req.up = up;
	if (up == NULL && err == RELAY_OK)
		err = RELAY_ENOMEM;
	serve_req(lt->ctx, lt->fn, &req, err, &t0);
	if (up != NULL && lt->nups < RELAY_LOOP_UPSTREAMS_KEPT)
		lt->ups[lt->nups++] = up;
	else
		upstream_free(up);
	__atomic_sub_fetch(&lt->ctx->inflight, 1, __ATOMIC_RELAXED);
	if (lt->ctx->max_requests > 0 || lt->ctx->max_rss_kb > 0)
		maybe_recycle(lt->ctx);
}

static void *
lthread_main(void *arg)
{
	struct lthread *lt = arg;

	if (loop_run(lt->loop, 0) != RELAY_OK)
		log_err("loop thread: epoll failed; its requests are lost");
	while (lt->nups > 0)
		upstream_free(lt->ups[--lt->nups]);
	upstream_hub_free(lt->hub);
	lt->hub = NULL;
	lt->done = 1;
	return NULL;
}

/* On a loop's own thread: stop accepting; the loop ends once its
 * connections have. */
static void
lthread_stop(void *arg)
{
	struct lthread *lt = arg;

	fcgi_listen_stop(lt->ls);
	loop_stop(lt->loop);
}

static int
run_loops(struct relay_ctx *ctx, server_handler_fn fn, sigset_t *sigs)
{
	struct lthread *lts = mem_calloc(ctx->threads, sizeof(*lts));
	struct timespec nap = {0, 20 * 1000000};
	long waited = 0, limit = drain_ms();
	unsigned i, n = 0, busy;
	int sig = 0;

	if (lts == NULL) {
		log_err("out of memory");
		return 1;
	}
	for (i = 0; i < ctx->threads; i++) {
		lts[i].ctx = ctx;
		lts[i].fn = fn;
		lts[i].loop = loop_new();
		if (lts[i].loop == NULL)
			break;
		lts[i].hub = upstream_hub_new(ctx->up_shared, lts[i].loop);
		if (lts[i].hub == NULL) {
			loop_free(lts[i].loop);
			lts[i].loop = NULL;
			break;
		}
		lts[i].ls = fcgi_listen(lts[i].loop, ctx->listen_fd, on_lreq,
		    &lts[i], RELAY_CORO_STACK);
		if (lts[i].ls == NULL ||
		    pthread_create(&lts[i].tid, NULL, lthread_main, &lts[i]) !=
			0) {
			log_err("loop thread %u of %u could not start", i,
			    ctx->threads);
			break;
		}
		lts[i].started = 1;
		n++;
	}
	log_info("serving with %u loop threads", n);
	while (n > 0 && sigwait(sigs, &sig) == 0 &&
	    (sig == SIGHUP || (sig == SIGUSR1 && !ctx->recycling)))
		log_info("SIGHUP: config reloads by itself when the file "
			 "changes");
	log_info("signal %d: draining", sig);
	ctx->stopping = 1;
	for (i = 0; i < ctx->threads; i++)
		if (lts[i].started &&
		    loop_post(lts[i].loop, lthread_stop, &lts[i]) != RELAY_OK)
			loop_stop(lts[i].loop);
	for (;;) {
		for (busy = 0, i = 0; i < ctx->threads; i++)
			busy += lts[i].started && !lts[i].done;
		if (busy == 0 || waited >= limit)
			break;
		nanosleep(&nap, NULL);
		waited += 20;
	}
	if (busy > 0) {
		log_warn("%u loop threads still serving after the drain; "
			 "exiting",
		    busy);
		_exit(ctx->recycling ? SERVER_EXIT_RECYCLE : 0);
	}
	for (i = 0; i < ctx->threads; i++) {
		if (lts[i].started)
			pthread_join(lts[i].tid, NULL);
		else
			upstream_hub_free(lts[i].hub);
		loop_free(lts[i].loop);
	}
	mem_free(lts);
	return n == 0 ? 1 : ctx->recycling ? SERVER_EXIT_RECYCLE : 0;
}

/* One serving process: its own state, threads, and exit status. */
static int
serve(const struct opts *o, int listen_fd, const char *prog,
    server_handler_fn fn, sigset_t *sigs)
{
	struct relay_ctx ctx;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.prog = prog;
	ctx.listen_fd = listen_fd;
	/* OpenSSL builds its algorithm tables on first use (~3 M
	 * instructions): here, not in the first request's key check. */
	(void)crypto_sha256_md();
	malloc_setup();
	if (ctx_open(&ctx, o) != 0) {
		ctx_close(&ctx);
		return 1;
	}
	rc = use_loop ? run_loops(&ctx, fn, sigs) : run_workers(&ctx, fn, sigs);
	ctx_close(&ctx);
	log_info(rc == SERVER_EXIT_RECYCLE ? "recycled" : "stopped");
	return rc;
}

static pid_t
spawn(const struct opts *o, int listen_fd, const char *prog,
    server_handler_fn fn, sigset_t *sigs)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(serve(o, listen_fd, prog, fn, sigs));
	if (pid < 0)
		log_err("fork: %s", strerror(errno));
	else
		log_info("serving process %ld started", (long)pid);
	return pid;
}

#define SUPERVISE_MAX 16 /* serving processes at once, old and new */

static void
add_kid(pid_t *kids, pid_t pid)
{
	int i;

	for (i = 0; pid > 0 && i < SUPERVISE_MAX; i++)
		if (kids[i] == 0) {
			kids[i] = pid;
			return;
		}
}

static void
signal_kids(const pid_t *kids, int sig)
{
	int i;

	for (i = 0; i < SUPERVISE_MAX; i++)
		if (kids[i] > 0)
			kill(kids[i], sig);
}

/*
 * Reap exited children; the number still alive. The first process
 * failing at once (status 1: a bad config...) sets *fatal: nothing ever
 * served. A replacement failing so (the config file broke since) is
 * logged and tried again: the supervisor keeps going until the file is
 * mended, rather than take the responder down.
 */
static int
reap(pid_t *kids, pid_t first, int *fatal)
{
	int st, i, alive = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < SUPERVISE_MAX; i++)
			if (kids[i] == pid)
				kids[i] = 0;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 1 && pid == first)
			*fatal = 1;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
			log_err("serving process %ld could not start (see "
				"above); trying again",
			    (long)pid);
		else if (!WIFEXITED(st) ||
		    (WEXITSTATUS(st) != 0 &&
			WEXITSTATUS(st) != SERVER_EXIT_RECYCLE))
			log_warn(
			    "serving process %ld ended abnormally", (long)pid);
	}
	for (i = 0; i < SUPERVISE_MAX; i++)
		alive += kids[i] > 0;
	return alive;
}

/*
 * Recycling: the supervisor holds the listening socket and keeps one
 * serving process running. A process due for recycling signals it
 * (SIGUSR1); the supervisor starts the replacement at once, and the old
 * one drains its requests and exits, so nothing in flight is dropped. A
 * process that dies is replaced too (at most once a second). SIGTERM and
 * SIGINT are passed to every serving process.
 */
static int
supervise(const struct opts *o, int listen_fd, const char *prog,
    server_handler_fn fn, sigset_t *sigs)
{
	struct timespec second = {1, 0};
	pid_t kids[SUPERVISE_MAX] = {0}, first;
	int sig, fatal = 0, stopping = 0, alive;
	sigset_t sup;

	sup = *sigs;
	sigaddset(&sup, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &sup, NULL);
	first = spawn(o, listen_fd, prog, fn, sigs);
	add_kid(kids, first);
	for (;;) {
		if (sigwait(&sup, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT) {
			stopping = 1;
			signal_kids(kids, SIGTERM);
		} else if (sig == SIGUSR1 && !stopping && !fatal)
			add_kid(kids, spawn(o, listen_fd, prog, fn, sigs));
		alive = reap(kids, first, &fatal);
		if ((stopping || fatal) && alive == 0)
			return stopping ? 0 : 1;
		if (fatal && !stopping) {
			stopping = 1;
			signal_kids(kids, SIGTERM);
		}
		if (!stopping && alive == 0) {
			nanosleep(&second, NULL);
			add_kid(kids, spawn(o, listen_fd, prog, fn, sigs));
		}
	}
}

/* An open stream holds two fds (the web server's connection and the
 * upstream's): raise the soft limit on open files to the hard one, as
 * redis does for its clients (Debian's soft default, 1024, would refuse
 * the 500th stream). */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn(
		    "cannot raise the open-file limit: %s", strerror(errno));
}

int
server_main(int argc, char **argv, const char *prog, server_handler_fn fn)
{
	struct sigaction sa;
	char errbuf[512];
	struct opts o;
	sigset_t sigs;
	const char *rt;
	int fd = 0, rc;

	log_init(prog, LOG_LVL_INFO);
	rt = getenv("RELAY_RUNTIME");
	if (rt != NULL && strcmp(rt, "loop") == 0)
		use_loop = 1;
	else if (rt != NULL && strcmp(rt, "threads") == 0)
		use_loop = 0;
	if (parse_opts(argc, argv, prog, &o) != 0)
		return 2;
	raise_nofile();
	/* Every thread inherits this mask; only sigwait() sees these. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGUSR2);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake; /* no SA_RESTART: accept fails with EINTR */
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (o.listen != NULL && *o.listen != '\0') {
		fd = server_listen(o.listen, errbuf, sizeof(errbuf));
		if (fd < 0) {
			log_err("listen: %s", errbuf);
			return 1;
		}
	} /* else fd 0: FCGI_LISTENSOCK_FILENO, as a spawner passes it */
	if (o.max_requests > 0 || o.max_rss_mb > 0)
		rc = supervise(&o, fd, prog, fn, &sigs);
	else
		rc = serve(&o, fd, prog, fn, &sigs);
	if (fd > 0)
		close(fd);
	return rc == SERVER_EXIT_RECYCLE ? 0 : rc;
}
