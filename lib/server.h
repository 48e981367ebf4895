/* SPDX-License-Identifier: MIT */
/* server.h - the responder runtime every handler's main() calls: options,
 * listening socket, a pool of accept threads, signals and a graceful drain. */
#ifndef RELAY_SERVER_H
#define RELAY_SERVER_H

#include "compiler.h"
#include "creds.h"

struct config_store;
struct keys_store;
struct kv;
struct upstream_shared;
struct relay_req;

/* Process state, built in server_main() and passed to every request. */
struct relay_ctx {
	const char *prog;
	struct config_store *config;
	struct kv *kv; /* from the config at start; servers change on restart */
	struct keys_store *keys; /* <data_dir>/keys.json, data_dir from start */
	struct creds_store *creds; /* <data_dir>/credentials.json */
	struct creds_master master; /* seals stored credentials */
	struct metrics *metrics; /* this process's counters; NULL: off */
	struct accesslog *access; /* RELAY_ACCESS_LOG; NULL: off */
	struct ledger *ledger; /* <data_dir>/ledger: usage and cost */
	struct filter_store *filter; /* the content filter's word lists */
	struct promptlog *prompts; /* <data_dir>/prompts, when turned on */
	struct upstream_shared *up_shared;
	unsigned threads;
	int listen_fd;
	long long max_requests; /* recycle after this many, 0: never */
	long long max_rss_kb; /* recycle past this RSS, 0: never */
	long long max_inflight; /* loop runtime: ceiling, 0: none */
	unsigned long long inflight; /* requests in flight (atomic) */
	unsigned long long served; /* requests finished (atomic) */
	int recycling; /* set once (atomic) */
	volatile int stopping; /* set once SIGTERM/SIGINT arrived */
};

/* A serving process's exit status when it was recycled. */
#define SERVER_EXIT_RECYCLE 75

/* A responder: called for every accepted request, on any thread. */
typedef void (*server_handler_fn)(struct relay_req *req);

/*
 * Parse argv (see usage in server.c: -l LISTEN, -t THREADS, -c CONFIG),
 * load the config (RELAY_CONFIG or the built-in default), listen, and
 * serve with fn on the loop runtime (loop.h, fcgi_loop.h): THREADS loop
 * threads (default one per core), each serving any number of requests at
 * once as coroutines. RELAY_RUNTIME=threads: the old runtime instead,
 * THREADS accept threads with one request each. Returns the process exit
 * status after SIGTERM or SIGINT once in-flight requests drained (at
 * most RELAY_DRAIN_MS, env RELAY_DRAIN_MS).
 */
int server_main(int argc, char **argv, const char *prog,
    server_handler_fn fn) RELAY_NONNULL;

/*
 * Open a listening socket for spec: "unix:/path" or "/path" (mode 0666,
 * replacing a stale socket), "tcp:host:port" or "host:port". Returns the
 * fd, or -1 with the reason in errbuf.
 */
/* The directory of this host's metrics files (RELAY_METRICS_DIR, else
 * /tmp/llm-relay-metrics): what /metrics sums. */
const char *server_metrics_dir(void);

int server_listen(const char *spec, char *errbuf, unsigned long errsz);

#endif
