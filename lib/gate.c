/* SPDX-License-Identifier: MIT */
/* gate.c - authentication in each dialect's convention, allowlists, and
 * the reserve-then-settle limits of quota.c, answered the way the
 * providers answer (429 + Retry-After; quota told apart from rate). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "gate.h"
#include "keys.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "req.h"
#include "server.h"

/* The presented secret, from the first convention that carries one. */
static const char *
presented(struct relay_req *req, size_t *n)
{
	const char *h = req_header(req, "authorization"), *t;

	if (h != NULL && (t = auth_bearer(h, n)) != NULL)
		return t;
	h = req_header(req, "x-api-key");
	if (h == NULL)
		h = req_header(req, "x-goog-api-key");
	if (h != NULL) {
		*n = strlen(h);
		return h;
	}
	t = auth_query_key(req->query, n);
	return t != NULL && *n > 0 ? t : NULL;
}

int
gate_auth(struct relay_req *req, struct gate *g, enum dialect d)
{
	const struct vkey *k;
	const char *secret;
	size_t n;

	g->ring = keys_acquire(req->ctx->keys);
	if (keys_count(g->ring) == 0)
		return 1;
	/* Only Gemini's clients put their key in the URL (?key=), where it
	 * ends up in histories and proxies' logs: elsewhere it is refused,
	 * whatever else the request carries. */
	if (d != DIALECT_GEMINI && auth_query_key(req->query, &n) != NULL) {
		apierr_send(req, d, 401, NULL, "api_key_in_query",
		    "An API key in the URL (?key=) is accepted on the Gemini "
		    "routes (/v1beta/...) only. Send it as \"Authorization: "
		    "Bearer YOUR_KEY\".");
		return 0;
	}
	secret = presented(req, &n);
	if (secret == NULL) {
		apierr_send(req, d, 401, NULL, "missing_api_key",
		    "You didn't provide an API key. Send it as "
		    "\"Authorization: Bearer YOUR_KEY\".");
		return 0;
	}
	k = keys_find(g->ring, secret, n);
	if (k == NULL || k->disabled ||
	    (k->expires_at > 0 && k->expires_at <= (long long)time(NULL))) {
		apierr_send(req, d, 401, NULL, "invalid_api_key",
		    k == NULL         ? "Incorrect API key provided."
			: k->disabled ? "This API key is disabled."
				      : "This API key has expired.");
		return 0;
	}
	if (!keys_ip_allowed(k, req->client_ip)) {
		apierr_send(req, d, 403, NULL, "ip_not_allowed",
		    "This API key may not be used from your address.");
		return 0;
	}
	g->key = k;
	snprintf(req->m_key_id, sizeof(req->m_key_id), "%s", k->id);
	return 1;
}

int
gate_model(struct relay_req *req, struct gate *g, const struct config_model *m,
    enum dialect d)
{
	if (g->key == NULL ||
	    (m != NULL &&
		keys_model_allowed(g->key, m->name, strlen(m->name))) ||
	    (m == NULL && g->key->nmodels == 0))
		return 1;
	if (m == NULL) {
		apierr_send(req, d, 403, NULL, "passthrough_not_allowed",
		    "This API key is limited to some models and may not use "
		    "/proxy/.");
		return 0;
	}
	apierr_send(req, d, 403, NULL, "model_not_allowed",
	    "This API key may not use the model `%s`.", m->name);
	return 0;
}

/* Price in micro-USD, rounded up: USD per million tokens is micro-USD
 * per token. Saturates at UINT64_MAX (the double beyond 2^64 converted as
 * it is was undefined, 0 on x86-64: the largest request cost nothing);
 * a NaN or infinite price counts as the largest cost too. */
uint64_t
gate_cost(const struct config_model *m, uint64_t in, uint64_t out)
{
	double c;

	if (m == NULL)
		return 0;
	c = (double)in * m->price_in + (double)out * m->price_out;
	return num_ceil_u64(c, UINT64_MAX);
}

/* One limit's trio in the dialect's convention: OpenAI
 * x-ratelimit-{limit,remaining,reset}-<what> with a duration ("12s"),
 * Anthropic anthropic-ratelimit-<what>-{limit,remaining,reset} with an
 * RFC 3339 time. Gemini has no such headers. */
static int
trio(struct relay_req *req, enum dialect d, const char *what, long long limit,
    long long used, long reset_s)
{
	long long left = limit > used ? limit - used : 0;
	time_t at = time(NULL) + reset_s;
	char stamp[32];
	struct tm tm;

	if (limit <= 0 || d == DIALECT_GEMINI)
		return 0;
	if (dialect_error_family(d) == DIALECT_OPENAI)
		return req_add_header(req, "x-ratelimit-limit-%s: %lld", what,
			   limit) != RELAY_OK ||
		    req_add_header(req, "x-ratelimit-remaining-%s: %lld", what,
			left) != RELAY_OK ||
		    req_add_header(req, "x-ratelimit-reset-%s: %lds", what,
			reset_s) != RELAY_OK;
	gmtime_r(&at, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return req_add_header(req, "anthropic-ratelimit-%s-limit: %lld", what,
		   limit) != RELAY_OK ||
	    req_add_header(req, "anthropic-ratelimit-%s-remaining: %lld", what,
		left) != RELAY_OK ||
	    req_add_header(req, "anthropic-ratelimit-%s-reset: %s", what,
		stamp) != RELAY_OK;
}

static int
add_headers(struct relay_req *req, const struct quota_ticket *t, enum dialect d)
{
	return trio(req, d, "requests", t->rpm_limit, t->rpm_used, t->reset_s) |
	    trio(req, d, "tokens", t->tpm_limit, t->tpm_used, t->reset_s);
}

static void
refuse(struct relay_req *req, const struct quota_ticket *t, enum dialect d)
{
	int quota = t->verdict == QUOTA_DAILY || t->verdict == QUOTA_BUDGET;
	static const char *const kinds[QUOTA__MAX] = {
	    [QUOTA_OK] = "none",
	    [QUOTA_REQUESTS] = "rpm",
	    [QUOTA_TOKENS] = "tpm",
	    [QUOTA_CONCURRENCY] = "concurrency",
	    [QUOTA_DAILY] = "daily_tokens",
	    [QUOTA_BUDGET] = "budget",
	};

	metrics_ratelimit(req->ctx->metrics, kinds[t->verdict]);

	if (add_headers(req, t, d) ||
	    req_add_header(req, "Retry-After: %ld", t->retry_after))
		log_warn("id=%s: rate-limit headers dropped", req->id);
	if (t->alone)
		apierr_send(req, d, 429,
		    quota                            ? "insufficient_quota"
			: t->verdict == QUOTA_TOKENS ? "tokens"
						     : "requests",
		    quota ? "insufficient_quota" : "rate_limit_exceeded",
		    "Request too large for this key's %s: it may use more "
		    "than the whole limit on its own. Lower max_tokens (and "
		    "n, or the input).",
		    quota_what(t->verdict));
	else if (quota)
		apierr_send(req, d, 429, "insufficient_quota",
		    "insufficient_quota",
		    "You exceeded this key's %s. Try again in %lds or ask "
		    "for a higher limit.",
		    quota_what(t->verdict), t->retry_after);
	else
		apierr_send(req, d, 429,
		    t->verdict == QUOTA_TOKENS ? "tokens" : "requests",
		    "rate_limit_exceeded",
		    "Rate limit reached for %s. Please try again in %lds.",
		    quota_what(t->verdict), t->retry_after);
}

int
gate_admit(struct relay_req *req, struct gate *g, const struct config *cfg,
    const struct config_model *m, size_t body_len, long long max_out,
    enum dialect d)
{
	uint64_t out = max_out > 0        ? (uint64_t)max_out
	    : cfg->default_max_tokens > 0 ? (uint64_t)cfg->default_max_tokens
					  : 0;
	enum relay_err err;

	g->est_prompt = num_add_sat(body_len / 4, body_len % 4 != 0);
	g->est_tokens = num_add_sat(g->est_prompt, out);
	if (g->key == NULL)
		return 1;
	err = quota_admit(req->ctx->kv, g->key, g->est_tokens,
	    gate_cost(m, g->est_prompt, out), &g->ticket);
	if (err != RELAY_OK) {
		memset(&g->ticket, 0, sizeof(g->ticket));
		if (cfg->fail_open) {
			log_warn("id=%s: limits not checked, memcached "
				 "failed (fail_open)",
			    req->id);
			return 1;
		}
		apierr_send(req, d, 503, NULL, "rate_limiter_unavailable",
		    "The relay cannot check this key's limits right now.");
		return 0;
	}
	if (g->ticket.verdict != QUOTA_OK) {
		refuse(req, &g->ticket, d);
		return 0;
	}
	if (add_headers(req, &g->ticket, d))
		log_warn("id=%s: rate-limit headers dropped", req->id);
	return 1;
}

void
gate_settle(struct relay_req *req, struct gate *g, const struct config_model *m,
    int known, long long prompt, long long completion, size_t events)
{
	uint64_t in = known && prompt >= 0 ? (uint64_t)prompt : g->est_prompt;
	uint64_t out =
	    known && completion >= 0 ? (uint64_t)completion : (uint64_t)events;
	uint64_t cost = gate_cost(m, in, out);

	if (m != NULL && (known || events > 0)) {
		metrics_tokens(req->ctx->metrics, m->name, in, out, cost);
		req->m_in = in > LLONG_MAX ? LLONG_MAX : (long long)in;
		req->m_out = out > LLONG_MAX ? LLONG_MAX : (long long)out;
		req->m_cost = cost;
	}
	if (!g->ticket.active)
		return;
	quota_settle(req->ctx->kv, &g->ticket, num_add_sat(in, out), cost);
}

void
gate_end(struct relay_req *req, struct gate *g)
{
	if (g->ticket.active)
		quota_settle(
		    req->ctx->kv, &g->ticket, g->est_tokens, g->ticket.cost);
	keys_release(g->ring);
	g->ring = NULL;
	g->key = NULL;
}
