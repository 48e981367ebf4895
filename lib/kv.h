/* SPDX-License-Identifier: MIT */
/* kv.h - the project's only door to memcached: shared runtime state
 * (counters, cache entries) spread over memcached servers by consistent
 * hashing (ketama, libmemcached's own answer), so every responder on every
 * host sees the same value. Every operation is a meta command on kv's own
 * non-blocking connections; on the loop runtime its wait yields to the
 * loop (no call blocks a loop thread for a round trip). Keys are those
 * the meta protocol takes as they are (no space or control byte):
 * another is RELAY_EINVAL. */
#ifndef RELAY_KV_H
#define RELAY_KV_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"
#include "limits.h"

/* Longest key memcached accepts (its KEY_MAX_LENGTH). */
#define KV_KEY_MAX 250

struct kv;

/*
 * Connect lazily to servers ("host:port", "[v6]:port" or "/unix/path"),
 * each operation bounded by timeout_ms, with at most pool_max connections
 * per server shared by the process's threads. NULL with a reason in errbuf
 * on a bad server string or OOM.
 */
struct kv *kv_new(char *const *servers, size_t n, long timeout_ms,
    unsigned pool_max, char *errbuf, size_t errsz) RELAY_MUST_CHECK;
void kv_free(struct kv *kv);

/* Ask every server for its version. RELAY_ECACHE with the reason in why
 * when one does not answer. */
enum relay_err kv_ping(struct kv *kv, char *why, size_t whysz) RELAY_MUST_CHECK;

/* Fetch key into out (appended). RELAY_ENOTFOUND on a miss, RELAY_ECACHE
 * when memcached failed, errors of buf_append(). */
enum relay_err kv_get(
    struct kv *kv, const char *key, struct buf *out) RELAY_MUST_CHECK;

/*
 * Fetch n (<= RELAY_KV_MGET_MAX) keys in one round trip per server: out[i] gets key i's value
 * appended and found[i] says whether it was there. RELAY_ECACHE when
 * memcached failed (found[] then all 0), errors of buf_append().
 */
enum relay_err kv_mget(struct kv *kv, const char *const *keys, size_t n,
    struct buf *out, int *found) RELAY_MUST_CHECK;

/* Store key unconditionally for ttl_s seconds (0: no expiry). */
enum relay_err kv_set(struct kv *kv, const char *key, const void *val,
    size_t len, unsigned ttl_s) RELAY_MUST_CHECK;

/* Store key only when absent: *stored tells whether it was. */
enum relay_err kv_add(struct kv *kv, const char *key, const void *val,
    size_t len, unsigned ttl_s, int *stored) RELAY_MUST_CHECK;

/*
 * Atomically add delta to the counter key, creating it at delta with
 * ttl_s when absent; *value receives the new value. Exact under any
 * number of concurrent callers on any host.
 */
enum relay_err kv_incr(struct kv *kv, const char *key, uint64_t delta,
    unsigned ttl_s, uint64_t *value) RELAY_MUST_CHECK;

/* Atomically subtract delta, stopping at 0 (memcached's decr). A missing
 * key is RELAY_ENOTFOUND. */
enum relay_err kv_decr(struct kv *kv, const char *key, uint64_t delta,
    uint64_t *value) RELAY_MUST_CHECK;

/* One counter for kv_incr_many(): key, delta and the ttl it is made with
 * when absent (ttl_s over 30 days is an absolute unix time, as memcached
 * reads it); value receives the counter after the change. */
struct kv_incr {
	const char *key;
	uint64_t delta;
	unsigned ttl_s;
	uint64_t value;
};

/*
 * kv_incr() for n counters in one round trip per memcached server: the
 * meta protocol's "ma" (memcached >= 1.6) makes a missing counter at delta
 * and adds to an existing one in one command, and the commands for one
 * server go in one write, their answers read back together. Each counter
 * is exact under any number of concurrent callers, as with kv_incr(). On
 * RELAY_ECACHE some counters may have been changed and others not.
 */
enum relay_err kv_incr_many(
    struct kv *kv, struct kv_incr *ops, size_t n) RELAY_MUST_CHECK;

/*
 * Parse up to n answers to "ma ... v" from p[0..len): the values into
 * values[], *used the bytes consumed by complete answers. Returns the
 * number of complete answers (0..n), or -1 for an answer that is not a
 * value (NF, NS, EX, ERROR, CLIENT_ERROR, SERVER_ERROR, or garbage).
 * Exposed for tests and the fuzz target.
 */
int kv_meta_parse(const char *p, size_t len, uint64_t *values, size_t n,
    size_t *used) RELAY_NONNULL;

/* One counter change for kv_nudge(): delta added (up 1) or taken (up 0). */
struct kv_nudge {
	const char *key;
	uint64_t delta;
	int up;
};

/*
 * Apply n counter changes without waiting for memcached's answers
 * (memcached's noreply): one send each, no round trip, no result. For
 * settling, where nobody reads the value and a missing key (expired
 * window) may stay missing. RELAY_ECACHE when one could not be sent.
 */
enum relay_err kv_nudge(
    struct kv *kv, const struct kv_nudge *ops, size_t n) RELAY_MUST_CHECK;

/* One reply of the meta protocol (kv_meta_reply()). */
enum {
	KV_R_VA = 1, /* a value: val, vlen */
	KV_R_EN, /* a miss (mg) */
	KV_R_HD, /* done */
	KV_R_NS, /* not stored (ms in add mode) */
	KV_R_NF, /* not found (md, ma) */
	KV_R_EX, /* exists (a CAS mismatch) */
	KV_R_MN, /* the end of a pipeline (mn) */
	KV_R_ERR, /* ERROR, CLIENT_ERROR, SERVER_ERROR */
};
struct kv_reply {
	int kind;
	const char *val; /* KV_R_VA: points into the input */
	size_t vlen;
};

/*
 * Parse one reply at the start of p (len bytes): 1 with *used its bytes,
 * 0 when it is not whole yet, -1 when it is not a reply (a value past
 * RELAY_KV_VALUE_MAX, a head past 1 KB, an unknown code, a value not
 * ended by CRLF). Exported for its fuzz target.
 */
int kv_meta_reply(
    const char *p, size_t len, struct kv_reply *r, size_t *used) RELAY_NONNULL;

/* Remove key; a missing key is not an error. */
enum relay_err kv_delete(struct kv *kv, const char *key) RELAY_MUST_CHECK;

#endif
