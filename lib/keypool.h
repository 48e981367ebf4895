/* SPDX-License-Identifier: MIT */
/* keypool.h - which of a provider's API keys the next call uses: weighted
 * round robin over the config's keys and the stored ones, skipping keys
 * that rest after a 429 or were benched after a 401/403 - a state every
 * process and host shares through memcached. */
#ifndef RELAY_KEYPOOL_H
#define RELAY_KEYPOOL_H

#include "compiler.h"
#include "err.h"

struct kv;
struct config_provider;
struct creds_snap;

/* A benched key stays out of rotation this long: seconds. */
#define KEYPOOL_BENCH_S 3600

struct keypool_choice {
	const char *key; /* borrowed from the config or the snapshot; NULL:
			    the provider has no key */
	char fp[17]; /* public fingerprint: SHA-256 prefix, never the key */
	long wait_s; /* with RELAY_ENOTFOUND: the soonest a key is back */
};

/*
 * Choose a key for one call to p. RELAY_OK with out->key (NULL when the
 * provider has none); RELAY_ENOTFOUND when every key rests (out->wait_s
 * tells how long at least). With one key no state is looked up: the
 * provider's own answer is the truth then. memcached trouble never blocks
 * a call: the key is then used as if it were fine.
 */
enum relay_err keypool_pick(struct kv *kv, const struct config_provider *p,
    const struct creds_snap *cs,
    struct keypool_choice *out) RELAY_NONNULL RELAY_MUST_CHECK;

/* Rest the key with fingerprint fp for seconds (after a 429, its
 * Retry-After; after a 401/403, KEYPOOL_BENCH_S). */
void keypool_rest(struct kv *kv, const char *provider, const char *fp,
    long seconds) RELAY_NONNULL;

#endif
