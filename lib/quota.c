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
#include "log.h"
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

static void
keyname(char *out, size_t outsz, const struct quota_ticket *t, char kind,
    long long window)
{
	if (window >= 0)
		snprintf(out, outsz, "rl:%s:%c:%lld", t->kid, kind, window);
	else
		snprintf(out, outsz, "rl:%s:%c", t->kid, kind);
}

/* Add delta to a counter; when it passes limit, take it back. */
static enum relay_err
take(struct kv *kv, const char *key, uint64_t delta, long long limit,
    unsigned ttl, int *over, uint64_t *now)
{
	enum relay_err err;
	uint64_t v = 0, ignored;

	*over = 0;
	err = kv_incr(kv, key, delta, ttl, &v);
	if (err != RELAY_OK)
		return err;
	*now = v;
	if (v > (uint64_t)limit) {
		*over = 1;
		if (kv_decr(kv, key, delta, &ignored) == RELAY_ECACHE)
			log_warn("quota: could not give back %s", key);
		*now = v - delta;
	}
	return RELAY_OK;
}

static void
give_back(struct kv *kv, const char *key, uint64_t delta)
{
	uint64_t ignored;

	if (delta > 0 && kv_decr(kv, key, delta, &ignored) == RELAY_ECACHE)
		log_warn("quota: could not give back %s", key);
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

/* Give back every step taken (after a refusal or a memcached failure). */
static void
rollback(struct kv *kv, struct quota_ticket *t, uint64_t est_t, uint64_t est_c)
{
	static const int order[] = {STEP_DAY, STEP_TPM, STEP_RPM, STEP_CONC};
	char key[128];
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int s = order[i];

		if (!(t->taken & (1u << s)))
			continue;
		keyname(key, sizeof(key), t, step_kind[s], step_window(t, s));
		give_back(kv, key, s == STEP_TPM || s == STEP_DAY ? est_t : 1);
	}
	t->taken = 0;
	(void)est_c;
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

enum relay_err
quota_admit(struct kv *kv, const struct vkey *k, uint64_t est_tokens,
    uint64_t est_cost, struct quota_ticket *t)
{
	struct step steps[STEP__MAX];
	char key[128];
	long to_day, to_month;
	time_t now = time(NULL);
	enum relay_err err;
	uint64_t v = 0;
	int i, over;

	memset(t, 0, sizeof(*t));
	snprintf(t->kid, sizeof(t->kid), "%s", k->id);
	windows(t, now, &to_day, &to_month);
	t->rpm_limit = k->rpm;
	t->tpm_limit = k->tpm;
	steps[STEP_CONC] = (struct step){'c', -1, 1, k->max_concurrency,
	    QUOTA_TTL_CONC, QUOTA_CONCURRENCY, 1};
	steps[STEP_RPM] = (struct step){'r', t->minute, 1, k->rpm,
	    QUOTA_TTL_MINUTE, QUOTA_REQUESTS, t->reset_s};
	steps[STEP_TPM] = (struct step){'t', t->minute, est_tokens, k->tpm,
	    QUOTA_TTL_MINUTE, QUOTA_TOKENS, t->reset_s};
	steps[STEP_DAY] = (struct step){'d', t->day, est_tokens,
	    k->daily_tokens, QUOTA_TTL_DAY, QUOTA_DAILY, to_day};
	steps[STEP_BUDGET] = (struct step){'u', t->month, est_cost,
	    (long long)(k->monthly_budget_usd * 1e6),
	    (unsigned)(now + to_month + 7 * 86400), QUOTA_BUDGET, to_month};
	for (i = 0; i < STEP__MAX; i++) {
		if (steps[i].limit <= 0)
			continue;
		keyname(key, sizeof(key), t, steps[i].kind, steps[i].window);
		err = take(kv, key, steps[i].delta, steps[i].limit,
		    steps[i].ttl, &over, &v);
		if (err != RELAY_OK || over) {
			rollback(kv, t, est_tokens, est_cost);
			if (err != RELAY_OK)
				return err;
			t->verdict = steps[i].refusal;
			t->retry_after =
			    steps[i].retry > 0 ? steps[i].retry : 1;
			if (i == STEP_RPM)
				t->rpm_used = (long long)v;
			if (i == STEP_TPM)
				t->tpm_used = (long long)v;
			return RELAY_OK;
		}
		t->taken |= 1u << i;
		if (i == STEP_RPM)
			t->rpm_used = (long long)v;
		if (i == STEP_TPM)
			t->tpm_used = (long long)v;
	}
	t->active = 1;
	t->tokens = est_tokens;
	t->cost = est_cost;
	t->verdict = QUOTA_OK;
	(void)to_month;
	return RELAY_OK;
}

static void
adjust(struct kv *kv, const char *key, uint64_t reserved, uint64_t actual,
    unsigned ttl)
{
	uint64_t ignored;

	if (actual > reserved) {
		if (kv_incr(kv, key, actual - reserved, ttl, &ignored) !=
		    RELAY_OK)
			log_warn("quota: could not settle %s", key);
	} else if (actual < reserved)
		give_back(kv, key, reserved - actual);
}

void
quota_settle(
    struct kv *kv, struct quota_ticket *t, uint64_t tokens, uint64_t cost)
{
	char key[128];

	if (!t->active)
		return;
	t->active = 0;
	if (t->taken & (1u << STEP_CONC)) {
		keyname(key, sizeof(key), t, 'c', -1);
		give_back(kv, key, 1);
	}
	if (t->taken & (1u << STEP_TPM)) {
		keyname(key, sizeof(key), t, 't', t->minute);
		adjust(kv, key, t->tokens, tokens, QUOTA_TTL_MINUTE);
	}
	if (t->taken & (1u << STEP_DAY)) {
		keyname(key, sizeof(key), t, 'd', t->day);
		adjust(kv, key, t->tokens, tokens, QUOTA_TTL_DAY);
	}
	if (t->taken & (1u << STEP_BUDGET)) {
		keyname(key, sizeof(key), t, 'u', t->month);
		adjust(kv, key, t->cost, cost,
		    (unsigned)(time(NULL) + 40 * 86400));
	}
	t->taken = 0;
}
