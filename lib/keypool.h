/* SPDX-License-Identifier: MIT */
/* keypool.h - which of a provider's API keys the next call uses: weighted
 * round robin over the config's keys and the stored ones, skipping keys
 * that rest after a 429 or were benched after the provider refused them
 * (401/403) - a state every process and host shares through memcached. */
#ifndef RELAY_KEYPOOL_H
#define RELAY_KEYPOOL_H

#include "compiler.h"
#include "err.h"

struct buf;
struct config;
struct config_keypool;
struct config_provider;
struct creds_snap;
struct kv;

/* Why a key is out of rotation. */
enum keypool_why {
	KEYPOOL_RATE_LIMITED, /* a 429: rests its Retry-After */
	KEYPOOL_AUTH, /* refused (401/403): benched, re-checked */
	KEYPOOL_WHY__MAX
};

/* "rate_limited", "auth". */
const char *keypool_why_name(enum keypool_why w);

struct keypool_choice {
	const char *key; /* borrowed from the config or the snapshot; NULL:
			    the provider has no key */
	char fp[17]; /* public fingerprint: SHA-256 prefix, never the key */
	int probe; /* the key is benched for auth and this call re-checks it:
		      report its outcome (keypool_unbench on success) */
	long wait_s; /* with RELAY_ENOTFOUND: the soonest a key is back */
	int all_auth; /* with RELAY_ENOTFOUND: every resting key is benched
			 for auth (none merely rate limited) */
};

/* The public fingerprint of key (16 hex digits, a SHA-256 prefix). */
void keypool_fingerprint(const char *key, char out[17]) RELAY_NONNULL;

/*
 * Choose a key for one call to p. avoid ("": none) is the fingerprint of
 * a key this request already saw refused: it is not chosen again. RELAY_OK
 * with out->key (NULL when the provider has none); RELAY_ENOTFOUND when
 * every key rests (out->wait_s tells how long at least, out->all_auth
 * why). A key benched for auth longer than conf->auth_recheck_s is handed
 * to one caller at a time as a probe (out->probe). With one key no state
 * is looked up: the provider's own answer is the truth then. memcached
 * trouble never blocks a call: the key is then used as if it were fine.
 */
enum relay_err keypool_pick(struct kv *kv, const struct config_provider *p,
    const struct creds_snap *cs, const struct config_keypool *conf,
    const char *avoid,
    struct keypool_choice *out) RELAY_NONNULL RELAY_MUST_CHECK;

/*
 * The key of p (config or stored) whose fingerprint is fp, NULL when it
 * is gone: what a response made with it needs to be reached again (its
 * project keeps it). No rest or bench applies: that response lives with
 * that key alone.
 */
const char *keypool_find(const struct config_provider *p,
    const struct creds_snap *cs, const char *fp) RELAY_NONNULL;

/*
 * Take the key with fingerprint fp (prompt-cache affinity, lib/affinity.h)
 * when it is still in p's pool and in rotation: RELAY_OK with out as
 * keypool_pick() fills it; RELAY_ENOTFOUND when it is gone, rests or is
 * benched (a benched key's probe is keypool_pick()'s to hand out).
 */
enum relay_err keypool_take(struct kv *kv, const struct config_provider *p,
    const struct creds_snap *cs, const char *fp,
    struct keypool_choice *out) RELAY_NONNULL RELAY_MUST_CHECK;

/* Rest the key with fingerprint fp for seconds after a 429 (its
 * Retry-After). */
void keypool_rest(struct kv *kv, const char *provider, const char *fp,
    long seconds) RELAY_NONNULL;

/*
 * Bench the key fp after the provider refused it with status (401/403)
 * while another key of the provider served the same request: out for
 * conf->auth_bench_s, re-checked by one call after conf->auth_recheck_s.
 * Logged with the fingerprint, never the key.
 */
void keypool_bench(struct kv *kv, const struct config_keypool *conf,
    const char *provider, const char *fp, int status) RELAY_NONNULL;

/* A probe of the benched key fp succeeded: back into rotation. */
void keypool_unbench(
    struct kv *kv, const char *provider, const char *fp) RELAY_NONNULL;

/*
 * Append to b every key of cfg's providers (the config's and cs's stored
 * ones) that is out of rotation now. As JSON (prom 0): an array of
 * {"provider","key":fingerprint,"reason","seconds_left"}; as Prometheus
 * text (prom 1): the gauge relay_upstream_key_benched_seconds{provider,
 * key,reason}. Keys of single-key providers are never benched and not
 * looked up. RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err keypool_report(struct kv *kv, const struct config *cfg,
    const struct creds_snap *cs, int prom, struct buf *b) RELAY_MUST_CHECK;

#endif
