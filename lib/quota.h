/* SPDX-License-Identifier: MIT */
/* quota.h - per-key limits held in memcached, exact across processes and
 * hosts: requests and tokens per minute, concurrent requests, tokens per
 * day, spend per month. Tokens and money are reserved before the call and
 * settled with the real usage after it. */
#ifndef RELAY_QUOTA_H
#define RELAY_QUOTA_H

#include <stdint.h>

#include "compiler.h"
#include "err.h"

struct kv;
struct vkey;

enum quota_verdict {
	QUOTA_OK,
	QUOTA_REQUESTS, /* rpm reached: a rate limit */
	QUOTA_TOKENS, /* tpm reached: a rate limit */
	QUOTA_CONCURRENCY, /* max_concurrency reached: a rate limit */
	QUOTA_DAILY, /* daily_tokens spent: a quota */
	QUOTA_BUDGET, /* monthly_budget_usd spent: a quota */
	QUOTA__MAX
};

/* What one admission reserved, to be settled once; plus what the
 * response headers report. Callers allocate it; quota.c fills it. */
struct quota_ticket {
	char kid[24];
	long long minute, day, month; /* windows at admission */
	uint64_t tokens; /* reserved tokens */
	uint64_t cost; /* reserved micro-USD */
	unsigned taken; /* bit i: step i reserved */
	int active; /* something needs settling */
	enum quota_verdict verdict;
	long retry_after; /* seconds, for a refusal */
	int alone; /* refused: the request alone asks more than the limit */
	long long rpm_limit, rpm_used, tpm_limit, tpm_used;
	long reset_s; /* seconds to the next minute window */
};

/* A monthly budget in USD as the micro-USD limit quota_admit() applies:
 * rounded down, at most RELAY_QUOTA_MAX; 0 (no budget) for NaN, -0 and
 * below. */
long long quota_budget_micro(double usd);

/* The reason phrase of a verdict, for messages ("requests per minute"). */
const char *quota_what(enum quota_verdict v);

/*
 * Try to admit one request of key k that may use est_tokens tokens costing
 * est_cost micro-USD. RELAY_OK with t->verdict QUOTA_OK (all reserved) or
 * a refusal (nothing reserved). RELAY_ECACHE when memcached failed; what
 * was reserved so far is given back and the caller applies its policy.
 * With no limit set on k, nothing touches memcached.
 */
enum relay_err quota_admit(struct kv *kv, const struct vkey *k,
    uint64_t est_tokens, uint64_t est_cost,
    struct quota_ticket *t) RELAY_MUST_CHECK;

/*
 * Replace the reservation by the real use (tokens, cost in micro-USD) in
 * the windows of admission, and free the concurrency slot. Counters never
 * go below zero. Safe to call on a ticket that reserved nothing; a second
 * call does nothing.
 */
void quota_settle(
    struct kv *kv, struct quota_ticket *t, uint64_t tokens, uint64_t cost);

/* A key's counters now, for the admin: what its limits are compared
 * with (counters exist only for the limits the key has; absent ones are
 * 0). */
struct quota_use {
	long long minute_requests, minute_tokens; /* this UTC minute */
	long long day_tokens; /* this UTC day */
	long long month_micro_usd; /* this UTC month */
	long long in_flight; /* concurrency slots held */
};

/* Read key id kid's counters at time now in one round trip. RELAY_ECACHE
 * when memcached failed (u zeroed). */
enum relay_err quota_use(struct kv *kv, const char *kid, long long now,
    struct quota_use *u) RELAY_MUST_CHECK;

#endif
