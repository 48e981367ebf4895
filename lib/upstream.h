/* SPDX-License-Identifier: MIT */
/* upstream.h - the project's only door to libcurl: one HTTP call to a
 * provider, its bytes handed over as they arrive, while the client's
 * connection is watched and the timeouts are kept. */
#ifndef RELAY_UPSTREAM_H
#define RELAY_UPSTREAM_H

#include <stddef.h>

#include "compiler.h"
#include "err.h"

/* The response head, once the final (non-1xx) header block is complete.
 * Strings are NUL-terminated, possibly empty, valid during the callback. */
struct upstream_head {
	int status;
	const char *content_type;
	const char *retry_after;
	const char *request_id; /* x-request-id or request-id */
	/* x-should-retry: false (the OpenAI SDKs' header): the upstream, a
	 * relay of its own, already spent its retries on this answer. */
	int no_retry;
};

/* Callbacks return RELAY_OK to go on; anything else stops the transfer
 * and becomes upstream_perform()'s result. */
typedef enum relay_err (*upstream_head_fn)(
    void *arg, const struct upstream_head *h);
typedef enum relay_err (*upstream_data_fn)(void *arg, const char *p, size_t n);
typedef enum relay_err (*upstream_idle_fn)(void *arg);

/* One call. The caller fills the inputs; upstream_perform() the outputs. */
struct upstream_call {
	const char *url;
	const char *const *headers; /* "Name: value" lines, no CRLF */
	size_t nheaders;
	const char *method; /* NULL: POST with a body, GET without */
	const char *body; /* request body, borrowed; may be NULL */
	size_t body_len;
	long connect_ms;
	long first_byte_ms; /* from the start until the response head */
	long idle_ms; /* longest silence after the head */
	long total_ms; /* 0: no cap */
	int watch_fd; /* client connection to watch, -1: none */
	/* On a hub, instead: the client connection's watch (its fd is read
	 * for EOF only). */
	struct loop_io *watch_io;
	long heartbeat_ms; /* on_idle after this much silence, 0: never */
	/* Egress proxy URL (egress.h; may hold credentials, never logged);
	 * NULL: direct, whatever the environment says. */
	const char *proxy;
	upstream_head_fn on_head;
	upstream_data_fn on_data;
	upstream_idle_fn on_idle; /* may be NULL */
	void *arg;

	/* outputs */
	int status; /* final HTTP status, 0 before the head */
	size_t bytes_in; /* body bytes received */
	long connect_us; /* time to connect (0 when reused) */
	long first_byte_us; /* time to the first body byte */
	int reused; /* the connection was kept alive from before */
	/* The egress proxy failed, not the upstream (errmsg says how). */
	int proxy_failed;
	/* Why it failed, in words a client may read: what failed (connect,
	 * timeout, TLS, a broken connection), never where (no host, port or
	 * URL) and no credentials. */
	char errmsg[256];
	/* libcurl's own words, which may name hosts and ports: for the
	 * relay's log only, never for a client. Empty when there are none. */
	char detail[256];
};

struct upstream_shared;
struct upstream_hub;
struct upstream;
struct loop;
struct loop_io;

/* Process-wide libcurl setup; once, before any thread starts. */
enum relay_err upstream_global_init(void) RELAY_MUST_CHECK;
/* State shared by all threads: DNS cache and TLS sessions. NULL on OOM. */
struct upstream_shared *upstream_shared_new(void) RELAY_MUST_CHECK;
void upstream_shared_free(struct upstream_shared *sh);

/* The thread runtime: one thread's handle, with a multi of its own that
 * keeps its connections alive between calls; upstream_perform() then
 * blocks the thread. NULL on OOM. */
struct upstream *upstream_new(struct upstream_shared *sh) RELAY_MUST_CHECK;

/*
 * The loop runtime: one multi handle for all the calls of loop l (its
 * connections shared by them), driven by l itself. Made and freed on l's
 * thread, freed after its last call ended. NULL on OOM.
 */
struct upstream_hub *upstream_hub_new(
    struct upstream_shared *sh, struct loop *l) RELAY_MUST_CHECK;
void upstream_hub_free(struct upstream_hub *h);
/* A handle for one call at a time on h, from a coroutine of h's loop
 * (upstream_perform() then yields). Free it with upstream_free(). */
struct upstream *upstream_new_on(struct upstream_hub *h) RELAY_MUST_CHECK;
void upstream_free(struct upstream *u);

/*
 * Run call c to completion. Results:
 *   RELAY_OK        the response arrived whole (any HTTP status);
 *   RELAY_ECLOSED   the client went away (watch_fd closed), the transfer
 *                   was cancelled at once;
 *   RELAY_EUPSTREAM the provider could not be reached, or the connection
 *                   broke (c->status tells whether a head had arrived);
 *   RELAY_ETIMEOUT  connect, first byte, idle or total time ran out;
 *   RELAY_EINVAL    the call could not be formed (libcurl refused its URL
 *                   or an option: CURLE_URL_MALFORMAT and kin): nothing
 *                   was sent, so it says nothing about the upstream;
 *   RELAY_ENOMEM, or whatever a callback returned to stop (callbacks
 *   must not return RELAY_EINVAL, which keeps the meaning above).
 */
enum relay_err upstream_perform(
    struct upstream *u, struct upstream_call *c) RELAY_NONNULL RELAY_MUST_CHECK;

#endif
