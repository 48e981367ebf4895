/* SPDX-License-Identifier: MIT */
/* fuzz_cost.c - libFuzzer target for the arithmetic of money and quotas
 * (issue 19: a price beyond 2^64 micro-USD converted to 0 and a $0.01
 * budget admitted max_tokens 4611686018427387903). Random token counts,
 * prices (any double: NaN, Inf, -0, subnormal), choices, limits, budgets
 * and settled usage go through gate_cost(), chatreq_reserve(),
 * gate_admit()'s estimates, quota.c's limit, delta and settle steps and
 * num.h's saturating helpers. Invariants: nothing wraps or goes undefined
 * (UBSan float-cast-overflow and implicit-conversion are fatal in this
 * build), more never costs less, a saturated value stays at its top, and
 * a reservation that does not fit what a budget leaves is never admitted
 * by the increment-then-compare that quota_admit() makes. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/quota.c"

#include "../../lib/chatreq.h"
#include "../../lib/config.h"
#include "../../lib/gate.h"
#include "../../lib/req.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c))                                                      \
			abort();                                               \
	} while (0)

/* The input read as fixed-size fields; past its end, zeros. */
struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t
take64(struct in *in)
{
	uint64_t v = 0;
	size_t k = in->n < 8 ? in->n : 8;

	memcpy(&v, in->p, k);
	in->p += k;
	in->n -= k;
	return v;
}

static long long
take_ll(struct in *in)
{
	uint64_t u = take64(in);
	long long v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

static double
take_d(struct in *in)
{
	uint64_t u = take64(in);
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static struct config_model
model(double in, double out)
{
	struct config_model m;

	memset(&m, 0, sizeof(m));
	m.name = "m";
	m.price_in = in;
	m.price_out = out;
	return m;
}

/* The exact cost, in long double (64-bit mantissa on x86-64). */
static long double
exact(uint64_t in, uint64_t out, double pin, double pout)
{
	return (long double)in * pin + (long double)out * pout;
}

static void
check_cost(uint64_t in, uint64_t out, uint64_t less_in, uint64_t less_out,
    double pin, double pout)
{
	struct config_model m = model(pin, pout);
	uint64_t c = gate_cost(&m, in, out);
	uint64_t c2 = gate_cost(&m, less_in, less_out);
	long double x = exact(in, out, pin, pout);

	CHECK(gate_cost(NULL, in, out) == 0);
	CHECK(c == gate_cost(&m, in, out)); /* a function of its inputs */
	/* Prices below zero (the config refuses them): defined, no more. */
	if (pin < 0 || pout < 0 || signbit(pin) || signbit(pout))
		return;
	if (isnan(pin) || isnan(pout)) {
		CHECK(c == UINT64_MAX); /* a cost that is not a number */
		return;
	}
	/* Never less than the price (the double's rounding aside: a few
	 * 2^-53 of it), at most its top. */
	if (x >= 18446744073709551616.0L * (1 + 0x1p-45L))
		CHECK(c == UINT64_MAX);
	if (c != UINT64_MAX)
		CHECK((long double)c >= x * (1 - 0x1p-50L));
	if (x <= 0)
		CHECK(c == 0);
	/* Monotone in each count. */
	if (less_in <= in && less_out <= out)
		CHECK(c2 <= c);
}

static void
check_num(
    uint64_t a, uint64_t b, long long x, long long y, double d, uint64_t max)
{
	uint64_t r;
	long long s;

	r = num_add_sat(a, b);
	CHECK(r >= a && r >= b);
	CHECK(r == UINT64_MAX || r == a + b);
	r = num_mul_sat(a, b);
	if (a != 0 && b != 0)
		CHECK(r >= a && r >= b);
	CHECK(r == UINT64_MAX || (a != 0 && r / a == b) || r == 0);
	s = num_addll_sat(x, y);
	if (y >= 0)
		CHECK(s >= x);
	else
		CHECK(s < x || x == LLONG_MIN);
	CHECK(num_ceil_u64(d, max) <= max);
	CHECK(num_floor_u64(d, max) <= max);
	CHECK(num_floor_u64(d, max) <= num_ceil_u64(d, max) || isnan(d));
	if (!isnan(d)) {
		double up = nextafter(d, INFINITY);

		CHECK(num_ceil_u64(d, max) <= num_ceil_u64(up, max));
		CHECK(num_floor_u64(d, max) <= num_floor_u64(up, max));
	}
	if (d >= 0 && d < 9007199254740992.0 && d == floor(d) &&
	    (uint64_t)d <= max)
		CHECK(num_ceil_u64(d, max) == (uint64_t)d &&
		    num_floor_u64(d, max) == (uint64_t)d);
}

/* A model with an Anthropic target: a translation may add a thinking
 * budget to max_tokens. */
static const struct config_provider p_an = {.type = PROVIDER_ANTHROPIC};
static struct config_target t_an = {.provider = &p_an};
static struct config_model m_an = {.targets = &t_an, .ntargets = 1};

static void
check_reserve(long long max, long long think, long long choices, int an)
{
	const struct config_model *m = an ? &m_an : NULL;
	struct chatreq cr;
	long long r, r2, base;

	memset(&cr, 0, sizeof(cr));
	cr.max_tokens = max;
	cr.think = think;
	cr.choices = choices;
	r = chatreq_reserve(&cr, m, 4096);
	base = max > 0 ? max : 4096;
	CHECK(r >= base || r == LLONG_MAX);
	CHECK(r >= 0);
	if (an && think > 0) {
		CHECK(r >= think || r == LLONG_MAX);
		CHECK(r - base >= AN_BUDGET_MIN || r == LLONG_MAX);
	}
	if (!an)
		CHECK(r ==
		    chatreq_reserve(&(struct chatreq){.max_tokens = max,
					.choices = choices},
			NULL, 4096));
	if (choices > 1 && r != LLONG_MAX)
		CHECK(r % choices == 0 && r / choices >= base);
	/* More of anything never reserves less. */
	if (max > 0 && max < LLONG_MAX) {
		cr.max_tokens = max + 1;
		r2 = chatreq_reserve(&cr, m, 4096);
		CHECK(r2 >= r);
		cr.max_tokens = max;
	}
	if (think >= 0 && think < LLONG_MAX) {
		cr.think = think + 1;
		r2 = chatreq_reserve(&cr, m, 4096);
		CHECK(r2 >= r);
		cr.think = think;
	}
	if (choices >= 1 && choices < LLONG_MAX) {
		cr.choices = choices + 1;
		r2 = chatreq_reserve(&cr, m, 4096);
		CHECK(r2 >= r);
	}
}

/*
 * quota_admit()'s step on one counter, with memcached's 64-bit wrapping
 * increment: a counter c that holds at most the limit (what admissions
 * leave), a reservation want. Admitted exactly when want fits what is
 * left; the counter never wraps.
 */
static void
check_step(long long limit_in, uint64_t c, uint64_t want, uint64_t used)
{
	long long limit = limit_of(limit_in);
	uint64_t d, v;
	struct kv_nudge op;

	CHECK(limit >= 0 && (uint64_t)limit <= RELAY_QUOTA_MAX);
	if (limit_in > 0 && (uint64_t)limit_in <= RELAY_QUOTA_MAX)
		CHECK(limit == limit_in);
	if (limit == 0)
		return;
	c %= (uint64_t)limit + 1;
	d = delta_of(want, limit);
	CHECK(d <= (uint64_t)limit + 1);
	CHECK(d == want || want > (uint64_t)limit);
	v = c + d; /* memcached's incr; with d <= 2^50 + 1, no wrap */
	CHECK(v >= c);
	CHECK((v <= (uint64_t)limit) == (want <= (uint64_t)limit - c));
	/* Settled: the change never exceeds what was reserved or
	 * RELAY_QUOTA_MAX + 1, so a counter over the limit stays over. */
	adjust(&op, "k", d, used);
	if (op.up)
		CHECK(op.delta <= RELAY_QUOTA_MAX + 1 && used > d);
	else
		CHECK(op.delta <= d);
}

static void
check_budget(double usd, double more)
{
	long long b = quota_budget_micro(usd);

	CHECK(b >= 0 && (uint64_t)b <= RELAY_QUOTA_MAX);
	if (!isnan(usd) && !isnan(more) && more >= usd)
		CHECK(quota_budget_micro(more) >= b);
}

/* The whole chain: a request's price against what a budget leaves. */
static void
check_chain(size_t body, long long max, long long choices, double pin,
    double pout, double usd, uint64_t spent)
{
	struct config_model m = model(fabs(pin), fabs(pout));
	struct relay_req req;
	struct config cfg;
	struct chatreq cr;
	struct gate g;
	long long limit = quota_budget_micro(usd), out;
	uint64_t cost, d;
	long double x;

	memset(&req, 0, sizeof(req));
	memset(&cfg, 0, sizeof(cfg));
	memset(&g, 0, sizeof(g));
	memset(&cr, 0, sizeof(cr));
	cfg.default_max_tokens = 4096;
	cr.max_tokens = max;
	cr.choices = choices;
	out = chatreq_reserve(&cr, &m, 4096);
	if (!gate_admit(&req, &g, &cfg, &m, body, out, DIALECT_OPENAI))
		abort(); /* no key: always admitted */
	CHECK(g.est_tokens >= g.est_prompt);
	CHECK(g.est_tokens >= (uint64_t)(max > 0 ? max : 1));
	if (limit <= 0)
		return;
	spent %= (uint64_t)limit + 1;
	cost = gate_cost(&m, g.est_prompt, (uint64_t)out);
	x = exact(g.est_prompt, (uint64_t)out, m.price_in, m.price_out);
	d = delta_of(cost, limit);
	if (spent + d <= (uint64_t)limit) { /* admitted */
		CHECK(cost <= (uint64_t)limit - spent);
		CHECK(!(x >
		    ((long double)limit - (long double)spent) * (1 + 0x1p-45L) +
			1));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	uint64_t a = take64(&in), b = take64(&in);
	uint64_t la = take64(&in), lb = take64(&in);
	double pin = take_d(&in), pout = take_d(&in);
	long long x = take_ll(&in), y = take_ll(&in), z = take_ll(&in);
	double usd = take_d(&in), more = take_d(&in);
	uint64_t c = take64(&in), used = take64(&in);

	check_cost(a, b, la < a ? la : a, lb < b ? lb : b, pin, pout);
	check_num(a, b, x, y, pin, c);
	check_reserve(x, y, z, (int)(c & 1));
	check_step(x, c, a, used);
	check_budget(usd, more);
	check_chain((size_t)(la % (1ull << 40)), x, z, pin, pout, usd, c);
	return 0;
}
