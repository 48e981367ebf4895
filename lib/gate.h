/* SPDX-License-Identifier: MIT */
/* gate.h - what a client request passes before it costs money: its
 * virtual key, the key's model and address allowlists, and its limits;
 * and the settling of what it used afterwards. */
#ifndef RELAY_GATE_H
#define RELAY_GATE_H

#include <stdint.h>

#include "apierr.h"
#include "buf.h"
#include "compiler.h"
#include "quota.h"

struct relay_req;
struct config;
struct config_model;
struct keyring;
struct vkey;

/* One request's passage; zero it, then gate_end() it in any case. */
struct gate {
	struct keyring *ring;
	const struct vkey *key; /* NULL while no keys exist (open relay) */
	struct quota_ticket ticket;
	uint64_t est_prompt; /* estimated input tokens */
	uint64_t est_tokens; /* reserved: input + output */
};

/*
 * Find the caller's key: "Authorization: Bearer", "x-api-key",
 * "x-goog-api-key" or "?key=". Returns 1 to go on (also when no key
 * exists at all); otherwise the request is answered (401 unknown,
 * disabled or expired key; 403 address not allowed) and 0 returned.
 */
int gate_auth(struct relay_req *req, struct gate *g,
    enum dialect d) RELAY_NONNULL RELAY_MUST_CHECK;

/* 1 when the key may use model m (NULL: a passthrough call, which a key
 * limited to some models may not make); otherwise answered 403, 0. */
int gate_model(struct relay_req *req, struct gate *g,
    const struct config_model *m, enum dialect d) RELAY_MUST_CHECK;

/*
 * Reserve what the call may use: body_len bytes of input (about four to a
 * token) and max_out output tokens (0: the config's default), priced by
 * model m (NULL: free, as for a passthrough call). Adds the
 * x-ratelimit-* headers. Returns 1 to go on; otherwise answered (429 with
 * Retry-After, or 503 when memcached failed under fail_closed) and 0.
 */
int gate_admit(struct relay_req *req, struct gate *g, const struct config *cfg,
    const struct config_model *m, size_t body_len, long long max_out,
    enum dialect d) RELAY_MUST_CHECK;

/*
 * Settle with what the call used. known: the provider reported prompt and
 * completion tokens; otherwise (an aborted stream) the estimate of the
 * input and one token per relayed event are charged.
 */
void gate_settle(struct relay_req *req, struct gate *g,
    const struct config_model *m, int known, long long prompt,
    long long completion, size_t events);

/* What in input and out output tokens of model m cost, in micro-USD,
 * rounded up; saturated at UINT64_MAX, never wrapped (0 for m NULL). */
uint64_t gate_cost(const struct config_model *m, uint64_t in, uint64_t out);

/* Release what the gate holds (settling first if that was forgotten). */
void gate_end(struct relay_req *req, struct gate *g) RELAY_NONNULL;

#endif
