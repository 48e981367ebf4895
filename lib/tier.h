/* SPDX-License-Identifier: MIT */
/* tier.h - what ties one request across relays (a domestic relay in front
 * of relays abroad, or any upstream that logs): the headers each upstream
 * call carries. */
#ifndef RELAY_TIER_H
#define RELAY_TIER_H

#include "compiler.h"
#include "err.h"

struct target_req;
struct config_provider;
struct relay_req;

/* The User-Agent of upstream calls. */
#define TIER_USER_AGENT "llm-relay/1"

/*
 * Add to the built upstream request tr of provider p: x-request-id (this
 * request's id, which a relay behind adopts as its own), traceparent (W3C
 * Trace Context: the client's trace id when it sent a valid traceparent,
 * else a new one; a new parent id, this hop's) and User-Agent. A header
 * the provider's config sets keeps its configured value. RELAY_OK,
 * RELAY_ETOOBIG, RELAY_ENOMEM, RELAY_EIO (no randomness).
 */
enum relay_err tier_headers(struct target_req *tr,
    const struct config_provider *p, struct relay_req *req) RELAY_MUST_CHECK;

/*
 * 1 when s is a traceparent of version 00: "00-" 32 lowercase hex (not all
 * zero) "-" 16 lowercase hex (not all zero) "-" 2 lowercase hex, nothing
 * more.
 */
int tier_traceparent_ok(const char *s);

#endif
