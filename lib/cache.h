/* SPDX-License-Identifier: MIT */
/* cache.h - the response cache in memcached: exact-match on the normalised
 * request, one key's answers kept from every other key unless the config
 * shares them, stored in parts that come back whole or not at all, purged
 * by key, model or all through generation counters. */
#ifndef RELAY_CACHE_H
#define RELAY_CACHE_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "dialect.h"
#include "err.h"

struct kv;
struct config;
struct config_model;
struct chatreq;

/* What the cache did for one request (the x-relay-cache header). */
enum cache_status {
	CACHE_BYPASS, /* not cacheable: off for the model, a sampled answer,
			 Cache-Control: no-store, or memcached failed */
	CACHE_MISS, /* looked up, not found: the answer will be stored */
	CACHE_REFRESH, /* Cache-Control: no-cache: not looked up, stored */
	CACHE_HIT, /* served from the cache */
	CACHE__MAX
};

/* "BYPASS", "MISS", "REFRESH", "HIT" (static). */
const char *cache_status_name(enum cache_status s);

/* A cached answer, as the client that caused it received it. */
struct cache_entry {
	enum dialect d; /* the client's dialect */
	int stream; /* payload is the SSE text of a stream, else a JSON body */
	int include_usage; /* the stream carries usage (OpenAI clients ask) */
	long long tokens_in, tokens_out, tokens_cached; /* what it cost */
	long long created; /* unix seconds when it was stored */
	char target[2 * RELAY_NAME_MAX + 2]; /* provider/model that served */
	struct buf payload;
};

/* One request's dealings with the cache; fields private to cache.c but
 * variant, which the caller sets before cache_lookup(): answers of
 * different variants (the content filter's action on them) never mix. */
struct cache_req {
	int variant;
	enum cache_status status;
	int store; /* the answer is to be stored */
	int leader; /* holds the request's lock: others wait for it */
	unsigned ttl_s;
	long max_age_s; /* Cache-Control: max-age, -1: none */
	char hash[65]; /* of the normalised request */
	char gens[96]; /* the generations the entry belongs to */
	size_t max_bytes, part_bytes;
};

void cache_entry_init(struct cache_entry *e, size_t max) RELAY_NONNULL;
void cache_entry_reset(struct cache_entry *e) RELAY_NONNULL;

/*
 * Decide whether the request d/cr (routed to m, made with the virtual key
 * key_id, NULL when auth is off) may use the cache, and look it up:
 * CACHE_HIT fills e (cache_entry_init() it first). A request is cacheable
 * when m's cache is enabled and its answer is not sampled (temperature 0,
 * or any_temperature set; embeddings always), and the client did not say
 * Cache-Control: no-store (no-cache: store only; max-age=N: only an entry
 * younger than N seconds serves). The key is SHA-256 over the dialect,
 * the routed model, the key scope (key_id, or everyone when shared) and
 * the request body with its members sorted and those that do not change
 * the answer removed (model, stream, stream_options, user, metadata,
 * store, service_tier...). memcached trouble means CACHE_BYPASS, never an
 * error: the request is served uncached.
 *
 * Identical requests at the same time are paid for once: the first miss
 * takes a lock in memcached and leads; a whole-answer request that finds
 * the lock taken waits (up to retry.deadline_ms, at most
 * RELAY_CACHE_FOLLOW_MS_MAX) for the leader's entry and is served from
 * it (CACHE_HIT), or goes upstream itself when the leader gave up. A
 * stream request never waits. Call cache_done() when the request is over.
 */
enum cache_status cache_lookup(struct cache_req *cq, struct kv *kv,
    const struct config *cfg, const struct config_model *m, enum dialect d,
    const struct chatreq *cr, const char *key_id, const char *cache_control,
    struct cache_entry *e);

/*
 * Store e (a complete 2xx answer; streams are checked to be complete and
 * error-free, anything else is refused) under the key cache_lookup() made,
 * when cq->store says so. Split into parts of cfg's part_bytes, written
 * last part first, the header part last, so a reader finds the entry whole
 * or not at all. Failures are logged, never returned: the client has its
 * answer already.
 */
void cache_store(struct cache_req *cq, struct kv *kv,
    const struct cache_entry *e) RELAY_NONNULL;

/* The request is over: a leader releases its lock (after cache_store(),
 * so that followers find the entry). */
void cache_done(struct cache_req *cq, struct kv *kv) RELAY_NONNULL;

/* What a purge covers. */
enum cache_scope { CACHE_PURGE_ALL, CACHE_PURGE_MODEL, CACHE_PURGE_KEY };

/*
 * Make every entry of the scope (all; the model named; the virtual key id
 * named) stale at once, on every host: its generation counter moves on.
 * RELAY_ECACHE when memcached failed.
 */
enum relay_err cache_purge(
    struct kv *kv, enum cache_scope scope, const char *name) RELAY_MUST_CHECK;

/*
 * The entry format, for tests and the fuzzer: parse part 0's header line
 * (the bytes up to the first '\n') into e (payload untouched) and report
 * the parts, payload length, checksum and generations it names.
 * RELAY_EPROTO when it is not a header this version wrote.
 */
struct cache_header {
	size_t parts, len;
	char sum[65];
	char gens[96];
};
enum relay_err cache_header_parse(const char *p, size_t n,
    struct cache_entry *e, struct cache_header *h) RELAY_MUST_CHECK;

#endif
