/* SPDX-License-Identifier: MIT */
/* tier.h - what one llm-relay tells the next across a tier hop: the trace
 * context, and the end user's key id signed with a secret both tiers
 * share (RELAY_TIER_SECRET), so that the upper tier can record whom a
 * tier key's request was for without trusting an unsigned header. */
#ifndef RELAY_TIER_H
#define RELAY_TIER_H

#include <stddef.h>
#include <time.h>

#include "compiler.h"

/* The header that carries the signed end user. */
#define TIER_END_USER_HEADER "x-relay-end-user"
/* A signature older or newer than this (clocks apart) is refused: s. */
#define TIER_SIG_SKEW_S 300
/* "<key id>.<unix s>.<64 hex>" with a key id of at most 23 bytes. */
#define TIER_SIG_MAX 112
/* A W3C traceparent: "00-<32 hex>-<16 hex>-<2 hex>", NUL included. */
#define TIER_TRACEPARENT_LEN 56

/*
 * Sign key_id (1-23 bytes of [A-Za-z0-9_-]) at time now with secret into
 * out ("<key_id>.<now>.<hex HMAC-SHA256(secret, key_id "." now)>").
 * 0 on success, -1 when key_id or secret is unusable or out too small.
 */
int tier_sign(const char *secret, const char *key_id, time_t now, char *out,
    size_t outsz) RELAY_NONNULL RELAY_MUST_CHECK;

/*
 * Check a header made by tier_sign() with the same secret, within
 * TIER_SIG_SKEW_S of now; on success copy the key id into key_out and
 * return 1, else 0 (key_out then empty). Compares in constant time.
 */
int tier_verify(const char *secret, const char *hdr, time_t now, char *key_out,
    size_t keysz) RELAY_MUST_CHECK;

/*
 * The traceparent to send upstream: the client's trace id (when in is a
 * valid version-00 traceparent) or a new one, with a new span id (ours);
 * its flags kept, or 01. out holds TIER_TRACEPARENT_LEN bytes.
 */
void tier_traceparent(const char *in, char out[TIER_TRACEPARENT_LEN]);

#endif
