/* SPDX-License-Identifier: MIT */
/* proxy.h - one client chat request relayed to its model's targets: in
 * priority order, with retries, key rotation and circuit breakers, the
 * answer streamed back in the client's own dialect. */
#ifndef RELAY_PROXY_H
#define RELAY_PROXY_H

#include <stddef.h>

#include "compiler.h"
#include "dialect.h"
#include "config.h"
#include "limits.h"
#include "rseal.h"

struct relay_req;
struct config;
struct config_model;
struct chatreq;
struct pii_out;

/* What the handler asks for. */
struct proxy_call {
	enum dialect in; /* the client's dialect */
	const struct chatreq *cr; /* its validated request */
	const struct config_model *m; /* the routed model */
	const char *anthropic_beta; /* forwarded to Anthropic upstreams */
	/* When not NULL: receives the answer as the client got it (a
	 * stream's SSE text, before any JSON-array framing, or the whole
	 * JSON body), for the response cache; its ceiling bounds it, and an
	 * answer that passes it is simply not recorded. */
	struct buf *record;
	/* The content filter of the answer (NULL: none), and what it does. */
	struct wordfilter *filter;
	enum filter_output filter_output;
	/* Outbound protection (NULL: none): the placeholders sent, whose
	 * answer is restored, whole or streamed. */
	const struct pii_out *pii;
	/* The caller is a relay of a lower tier (its key says "tier"): no
	 * heartbeat before the first upstream byte, so an upstream failure
	 * still reaches it as a status it can retry elsewhere. */
	int tier;
	/* previous_response_id named a relay response id (lib/rseal.h):
	 * only that provider's Responses targets serve, with that key. */
	const struct rseal_respid *pin;
};

/* 1 when target t may serve a call pinned to pin (its provider's
 * Responses API). */
int proxy_pinned_target(const struct config_target *t,
    const struct rseal_respid *pin) RELAY_NONNULL;

/* What the call used, for accounting (OpenAI semantics: input includes
 * cached tokens). */
struct proxy_usage {
	long long prompt_tokens;
	long long completion_tokens;
	long long cached_tokens;
	int known; /* the upstream reported usage */
	size_t events; /* stream events relayed to the client */
	int status; /* last upstream HTTP status, 0 if none */
	int attempts; /* upstream calls made */
	int recorded; /* pc->record holds the whole 2xx answer */
	char target[2 * RELAY_NAME_MAX + 2]; /* provider/model that served */
};

/*
 * Relay req (its body already read and validated into pc->cr) and answer
 * it. Targets are tried by priority (weighted within one priority); each
 * gets up to retry.max_attempts calls, with exponential backoff and
 * jitter, honouring Retry-After, within retry.deadline_ms, for connection
 * failures, timeouts and the statuses in retry.on_status. A 429 rests the
 * key used, a 401/403 benches it (keypool.h); breakers (breaker.h) skip
 * targets that keep failing. Nothing is retried once an answer byte
 * reached the client. The answer says which target served it
 * (x-relay-target) and how many calls it took (x-relay-attempts). When
 * everything failed: the last upstream error (translated to the client's
 * dialect), or the relay's own (502, 503 all breakers open, 504) in it.
 * SSE comment heartbeats go out every cfg->heartbeat_ms while a stream is
 * silent; a client that goes away cancels the upstream call at once.
 */
void proxy_chat(struct relay_req *req, const struct config *cfg,
    const struct proxy_call *pc, struct proxy_usage *u) RELAY_NONNULL;

struct cache_entry;

/*
 * Answer req from the cache entry e (of the client's dialect pc->in): as
 * a stream or a whole, whichever pc->cr asks for, whatever form e holds
 * (dialect.h converts between them); the stream keeps e's pieces.
 * pc->record must be NULL. Headers the caller queued go out with it.
 * RELAY_OK; RELAY_EPROTO when e cannot be told in the form asked for
 * (nothing was sent: the caller goes upstream instead); other errors
 * mean the client is gone or memory ran out after the head was sent.
 */
enum relay_err proxy_replay(struct relay_req *req, const struct proxy_call *pc,
    const struct cache_entry *e) RELAY_NONNULL RELAY_MUST_CHECK;

#endif
