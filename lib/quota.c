/* SPDX-License-Identifier: MIT */
/* quota.c - fixed windows in memcached. Every limit is checked by
 * increment-then-compare (memcached incr is atomic on the server), and a
 * refused increment is given back, so with a limit of N exactly N requests
 * are admitted however many processes race. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "kv.h"
#include "limits.h"
#include "log.h"
#include "num.h"
#include "quota.h"

/* memcached reads an expiry over 30 days as an absolute unix time. */
#define QUOTA_TTL_MINUTE 120
#define QUOTA_TTL_CONC 3600 /* a crashed holder's slot comes back */
#define QUOTA_TTL_DAY (2 * 86400)

static const char *const quota_names[QUOTA__MAX] = {
    [QUOTA_OK] = "ok",
    [QUOTA_REQUESTS] = "requests per minute",
    [QUOTA_TOKENS] = "tokens per minute",
    [QUOTA_CONCURRENCY] = "concurrent requests",
    [QUOTA_DAILY] = "tokens per day",
    [QUOTA_BUDGET] = "monthly budget",
};

const char *
quota_what(enum quota_verdict v)
{
	return (unsigned)v < QUOTA__MAX ? quota_names[v] : "limit";
}

/* "rl:<key id>:<kind>[:<window>]" (a key id is short: it always fits). */
static void
keyname(char *out, size_t outsz, const struct quota_ticket *t, char kind,
    long long window)
{
	size_t n = strnlen(t->kid, sizeof(t->kid));
	char *p = out;

	if (outsz < n + 6 + NUM_DIGITS_MAX) {
		out[0] = '\0';
		return;
	}
	memcpy(p, "rl:", 3);
	memcpy(p + 3, t->kid, n);
	p += 3 + n;
	*p++ = ':';
	*p++ = kind;
	if (window >= 0) {
		*p++ = ':';
		p += num_i64(p, window);
	}
	*p = '\0';
}

static void
windows(struct quota_ticket *t, time_t now, long *to_day, long *to_month)
{
	struct tm tm, next;

	gmtime_r(&now, &tm);
	t->minute = (long long)now / 60;
	t->reset_s = 60 - (long)(now % 60);
	t->day =
	    (tm.tm_year + 1900) * 10000LL + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	t->month = (tm.tm_year + 1900) * 100LL + tm.tm_mon + 1;
	*to_day = 86400 - (long)(now % 86400);
	next = tm;
	next.tm_mday = 1;
	next.tm_hour = next.tm_min = next.tm_sec = 0;
	next.tm_mon += 1;
	*to_month = (long)(timegm(&next) - now);
}

/* A limit as quota_admit() applies it: 0 (none) for 0 and below, at most
 * RELAY_QUOTA_MAX. */
static long long
limit_of(long long v)
{
	if (v <= 0)
		return 0;
	return v > (long long)RELAY_QUOTA_MAX ? (long long)RELAY_QUOTA_MAX : v;
}

/* The monthly budget in micro-USD, rounded down and saturated: a budget
 * beyond 2^63 micro-USD (or +Inf) converted as it is would be undefined
 * behaviour; NaN and negative mean no budget, as 0 does. */
long long
quota_budget_micro(double usd)
{
	return (long long)num_floor_u64(usd * 1e6, RELAY_QUOTA_MAX);
}

/* What a step adds to its counter: the reservation, but at most one more
 * than the limit (enough to refuse it, too little to wrap the counter). */
static uint64_t
delta_of(uint64_t want, long long limit)
{
	return want > (uint64_t)limit ? (uint64_t)limit + 1 : want;
}

/* A counter's value for the headers (memcached's is 64 bits, unsigned). */
static long long
shown(uint64_t v)
{
	return v > (uint64_t)LLONG_MAX ? LLONG_MAX : (long long)v;
}

/* Counter steps, in the order they are taken. */
enum { STEP_CONC, STEP_RPM, STEP_TPM, STEP_DAY, STEP_BUDGET, STEP__MAX };

static const char step_kind[STEP__MAX] = {'c', 'r', 't', 'd', 'u'};

static long long
step_window(const struct quota_ticket *t, int i)
{
	switch (i) {
	case STEP_RPM:
	case STEP_TPM: return t->minute;
	case STEP_DAY: return t->day;
	case STEP_BUDGET: return t->month;
	default: return -1;
	}
}

/* Give back every step taken (after a refusal), without waiting. */
static void
rollback(struct kv *kv, struct quota_ticket *t, const uint64_t *deltas)
{
	char keys[STEP__MAX][128];
	struct kv_nudge ops[STEP__MAX];
	size_t n = 0;
	int s;

	for (s = 0; s < STEP__MAX; s++) {
		if (!(t->taken & (1u << s)))
			continue;
		keyname(keys[n], sizeof(keys[n]), t, step_kind[s],
		    step_window(t, s));
		ops[n] = (struct kv_nudge){keys[n], deltas[s], 0};
		n++;
	}
	if (kv_nudge(kv, ops, n) != RELAY_OK)
		log_warn("quota: could not give back key %s", t->kid);
	t->taken = 0;
}

/* One check: counter kind, window, delta, limit, ttl, and the answer. */
struct step {
	char kind;
	long long window;
	uint64_t delta;
	long long limit;
	unsigned ttl;
	enum quota_verdict refusal;
	long retry;
};

/*
 * Every counter the key has goes up in one round trip (kv_incr_many);
 * then the first step found over its limit refuses, and all of them are
 * given back. A racing request may see a refused one's increments for
 * that moment, as it would see them between steps taken one by one.
 */
enum relay_err
quota_admit(struct kv *kv, const struct vkey *k, uint64_t est_tokens,
    uint64_t est_cost, struct quota_ticket *t)
{
	struct step steps[STEP__MAX];
	char keys[STEP__MAX][128];
	struct kv_incr ops[STEP__MAX];
	uint64_t deltas[STEP__MAX] = {0};
	int at[STEP__MAX];
	long to_day, to_month;
	time_t now = time(NULL);
	enum relay_err err;
	size_t n = 0;
	int i;

	memset(t, 0, sizeof(*t));
	snprintf(t->kid, sizeof(t->kid), "%s", k->id);
	windows(t, now, &to_day, &to_month);
	t->rpm_limit = limit_of(k->rpm);
	t->tpm_limit = limit_of(k->tpm);
	steps[STEP_CONC] = (struct step){'c', -1, 1,
	    limit_of(k->max_concurrency), QUOTA_TTL_CONC, QUOTA_CONCURRENCY, 1};
	steps[STEP_RPM] = (struct step){'r', t->minute, 1, limit_of(k->rpm),
	    QUOTA_TTL_MINUTE, QUOTA_REQUESTS, t->reset_s};
	steps[STEP_TPM] = (struct step){'t', t->minute, est_tokens,
	    limit_of(k->tpm), QUOTA_TTL_MINUTE, QUOTA_TOKENS, t->reset_s};
	steps[STEP_DAY] = (struct step){'d', t->day, est_tokens,
	    limit_of(k->daily_tokens), QUOTA_TTL_DAY, QUOTA_DAILY, to_day};
	steps[STEP_BUDGET] = (struct step){'u', t->month, est_cost,
	    quota_budget_micro(k->monthly_budget_usd),
	    (unsigned)(now + to_month + 7 * 86400), QUOTA_BUDGET, to_month};
	for (i = 0; i < STEP__MAX; i++) {
		at[i] = -1;
		if (steps[i].limit <= 0)
			continue;
		steps[i].delta = delta_of(steps[i].delta, steps[i].limit);
		keyname(keys[n], sizeof(keys[n]), t, steps[i].kind,
		    steps[i].window);
		ops[n] =
		    (struct kv_incr){keys[n], steps[i].delta, steps[i].ttl, 0};
		deltas[i] = steps[i].delta;
		at[i] = (int)n++;
	}
	err = kv_incr_many(kv, ops, n);
	if (err != RELAY_OK)
		return err;
	for (i = 0; i < STEP__MAX; i++)
		if (at[i] >= 0)
			t->taken |= 1u << i;
	for (i = 0; i < STEP__MAX; i++) {
		uint64_t v;

		if (at[i] < 0)
			continue;
		v = ops[at[i]].value;
		if (i == STEP_RPM)
			t->rpm_used = shown(v);
		if (i == STEP_TPM)
			t->tpm_used = shown(v);
		if (v <= (uint64_t)steps[i].limit)
			continue;
		/* Over: what it shows is the count without this request. */
		if (i == STEP_RPM)
			t->rpm_used = shown(v - steps[i].delta);
		if (i == STEP_TPM)
			t->tpm_used = shown(v - steps[i].delta);
		rollback(kv, t, deltas);
		t->alone = steps[i].delta > (uint64_t)steps[i].limit;
		t->verdict = steps[i].refusal;
		t->retry_after = steps[i].retry > 0 ? steps[i].retry : 1;
		return RELAY_OK;
	}
	t->active = 1;
	t->tokens = est_tokens;
	t->cost = est_cost;
	t->verdict = QUOTA_OK;
	return RELAY_OK;
}

/* The change that brings a reservation to what was used (a use beyond
 * RELAY_QUOTA_MAX counts as one more: over any limit, never a wrap). */
static void
adjust(struct kv_nudge *op, const char *key, uint64_t reserved, uint64_t actual)
{
	if (actual > RELAY_QUOTA_MAX)
		actual = RELAY_QUOTA_MAX + 1;
	op->key = key;
	op->up = actual > reserved;
	op->delta = op->up ? actual - reserved : reserved - actual;
}

/*
 * Settling needs no answer: its changes go to memcached in one burst of
 * noreply commands, so a request's end costs no round trip. (The windows'
 * counters were made by quota_admit(); one that expired in between just
 * stays gone.)
 */
void
quota_settle(
    struct kv *kv, struct quota_ticket *t, uint64_t tokens, uint64_t cost)
{
	char keys[4][128];
	struct kv_nudge ops[4];
	size_t n = 0;

	if (!t->active)
		return;
	t->active = 0;
	if (t->taken & (1u << STEP_CONC)) {
		keyname(keys[n], sizeof(keys[n]), t, 'c', -1);
		ops[n] = (struct kv_nudge){keys[n], 1, 0};
		n++;
	}
	if (t->taken & (1u << STEP_TPM)) {
		keyname(keys[n], sizeof(keys[n]), t, 't', t->minute);
		adjust(&ops[n], keys[n], t->tokens, tokens);
		n++;
	}
	if (t->taken & (1u << STEP_DAY)) {
		keyname(keys[n], sizeof(keys[n]), t, 'd', t->day);
		adjust(&ops[n], keys[n], t->tokens, tokens);
		n++;
	}
	if (t->taken & (1u << STEP_BUDGET)) {
		keyname(keys[n], sizeof(keys[n]), t, 'u', t->month);
		adjust(&ops[n], keys[n], t->cost, cost);
		n++;
	}
	if (kv_nudge(kv, ops, n) != RELAY_OK)
		log_warn("quota: could not settle key %s", t->kid);
	t->taken = 0;
}

enum relay_err
quota_use(struct kv *kv, const char *kid, long long now, struct quota_use *u)
{
	static const char kinds[5] = {'r', 't', 'd', 'u', 'c'};
	long long *const dst[5] = {&u->minute_requests, &u->minute_tokens,
	    &u->day_tokens, &u->month_micro_usd, &u->in_flight};
	char names[5][96];
	const char *keys[5];
	struct quota_ticket t;
	struct buf out[5];
	int found[5] = {0};
	long to_day, to_month;
	enum relay_err err;
	size_t i;

	memset(u, 0, sizeof(*u));
	memset(&t, 0, sizeof(t));
	snprintf(t.kid, sizeof(t.kid), "%s", kid);
	windows(&t, (time_t)now, &to_day, &to_month);
	for (i = 0; i < 5; i++) {
		long long w = kinds[i] == 'r' || kinds[i] == 't' ? t.minute
		    : kinds[i] == 'd'                            ? t.day
		    : kinds[i] == 'u'                            ? t.month
								 : -1;

		keyname(names[i], sizeof(names[i]), &t, kinds[i], w);
		keys[i] = names[i];
		buf_init(&out[i], 64);
	}
	err = kv_mget(kv, keys, 5, out, found);
	for (i = 0; i < 5; i++) {
		if (err == RELAY_OK && found[i] && out[i].len > 0 &&
		    out[i].len < 24) {
			char v[24];
			unsigned long long x;

			memcpy(v, out[i].data, out[i].len);
			v[out[i].len] = '\0';
			x = strtoull(v, NULL, 10);
			*dst[i] = shown(x);
		}
		buf_reset(&out[i]);
	}
	return err;
}
