/* SPDX-License-Identifier: MIT */
/* proxy.h - forward one validated chat request to its upstream target and
 * relay the answer: JSON as a whole, SSE event by event as it arrives. */
#ifndef RELAY_PROXY_H
#define RELAY_PROXY_H

#include "compiler.h"

struct relay_req;
struct config;
struct config_target;
struct chatreq;

/* What the call used, for accounting. */
struct proxy_usage {
	long long prompt_tokens; /* as the provider counts (OpenAI: with
					cached tokens) */
	long long completion_tokens;
	long long cached_tokens;
	int known; /* the upstream reported usage */
	size_t events; /* SSE data events relayed */
	int status; /* upstream HTTP status, 0 if none */
};

/*
 * Send req's body (req->body, already validated into cr) to target t and
 * answer req: upstream statuses and error bodies pass through; the relay's
 * own failures (unreachable 502, timeout 504) come in the OpenAI error
 * shape, as an SSE error event once a stream has begun. While the upstream
 * is silent on a stream, SSE comment heartbeats go out every
 * cfg->heartbeat_ms so that a vanished client is noticed; a client that
 * goes away cancels the upstream transfer at once. Streams always ask the
 * upstream for usage (stream_options.include_usage) so that u is exact;
 * the usage chunk is kept from a client that did not ask for it.
 */
void proxy_chat(struct relay_req *req, const struct config *cfg,
    const struct chatreq *cr, const struct config_target *t,
    struct proxy_usage *u) RELAY_NONNULL;

#endif
