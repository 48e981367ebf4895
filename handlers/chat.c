/* SPDX-License-Identifier: MIT */
/* chat.c - relay-chat: chat in every dialect, to every provider.
 *   POST /v1/chat/completions                        OpenAI
 *   POST /v1/messages                                Anthropic
 *   POST /v1/responses                               OpenAI Responses
 *   POST /v1beta/models/{model}:generateContent      Gemini
 *   POST /v1beta/models/{model}:streamGenerateContent[?alt=sse]
 *   POST /v1/embeddings                              OpenAI
 *   POST /v1/messages/count_tokens                   Anthropic, counting
 *   POST /v1beta/models/{model}:countTokens          Gemini, counting
 *   GET  /v1beta/models, /v1beta/models/{model}      Gemini model list
 *   ANY  /proxy/{provider}/{path}                    as it is
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../lib/apierr.h"
#include "../lib/cache.h"
#include "../lib/chatreq.h"
#include "../lib/config.h"
#include "../lib/count_tokens.h"
#include "../lib/filter.h"
#include "../lib/gate.h"
#include "../lib/keys.h"
#include "../lib/log.h"
#include "../lib/modellist.h"
#include "../lib/metrics.h"
#include "../lib/jsonx.h"
#include "../lib/passthru.h"
#include "../lib/pii_detect.h"
#include "../lib/pii_out.h"
#include "../lib/promptlog.h"
#include "../lib/proxy.h"
#include "../lib/tier.h"
#include "../lib/req.h"
#include "../lib/respstore.h"
#include "../lib/rseal.h"
#include "../lib/server.h"

/* What the URL says. */
struct route {
	enum dialect d;
	struct span model; /* Gemini: from the path */
	int stream; /* Gemini: streamGenerateContent */
	int sse; /* Gemini: alt=sse */
	int embed; /* /v1/embeddings */
	int count; /* count_tokens / countTokens */
	int compact; /* /v1/responses/compact */
};

static int
has_query(struct span q, const char *kv)
{
	size_t n = strlen(kv);
	const char *p = q.p, *end = q.p + q.len;

	while (p != NULL && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t len =
		    amp != NULL ? (size_t)(amp - p) : (size_t)(end - p);

		if (len == n && memcmp(p, kv, n) == 0)
			return 1;
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

/* 1 when req->path is a chat route, filling rt. */
static int
route(struct relay_req *req, struct route *rt)
{
	static const char gem[] = "/v1beta/models/";
	const char *colon;
	struct span rest;

	memset(rt, 0, sizeof(*rt));
	if (span_eq(req->path, "/v1/chat/completions")) {
		rt->d = DIALECT_OPENAI;
		return 1;
	}
	if (span_eq(req->path, "/v1/embeddings")) {
		rt->d = DIALECT_OPENAI;
		rt->embed = 1;
		return 1;
	}
	if (span_eq(req->path, "/v1/messages")) {
		rt->d = DIALECT_ANTHROPIC;
		return 1;
	}
	if (span_eq(req->path, "/v1/responses")) {
		rt->d = DIALECT_RESPONSES;
		return 1;
	}
	if (span_eq(req->path, "/v1/responses/compact")) {
		rt->d = DIALECT_RESPONSES;
		rt->compact = 1;
		return 1;
	}
	if (span_eq(req->path, "/v1/messages/count_tokens")) {
		rt->d = DIALECT_ANTHROPIC;
		rt->count = 1;
		return 1;
	}
	if (req->path.len <= sizeof(gem) - 1 ||
	    memcmp(req->path.p, gem, sizeof(gem) - 1) != 0)
		return 0;
	rest.p = req->path.p + sizeof(gem) - 1;
	rest.len = req->path.len - (sizeof(gem) - 1);
	colon = memchr(rest.p, ':', rest.len);
	if (colon == NULL || colon == rest.p)
		return 0;
	rt->d = DIALECT_GEMINI;
	rt->model.p = rest.p;
	rt->model.len = (size_t)(colon - rest.p);
	rest.len -= (size_t)(colon - rest.p);
	rest.p = colon;
	if (span_eq(rest, ":streamGenerateContent"))
		rt->stream = 1;
	else if (span_eq(rest, ":countTokens"))
		rt->count = 1;
	else if (!span_eq(rest, ":generateContent"))
		return 0;
	rt->sse = has_query(req->query, "alt=sse");
	return 1;
}

static void
not_found(struct relay_req *req, enum dialect d, struct span model)
{
	int n = (int)(model.len > 256 ? 256 : model.len);

	if (dialect_error_family(d) == DIALECT_OPENAI)
		apierr_send(req, d, 404, NULL, "model_not_found",
		    "The model `%.*s` does not exist or you do not have "
		    "access to it.",
		    n, model.p);
	else if (d == DIALECT_ANTHROPIC)
		apierr_send(req, d, 404, NULL, NULL, "model: %.*s", n, model.p);
	else
		apierr_send(req, d, 404, NULL, NULL,
		    "models/%.*s is not found for API version v1beta, or is "
		    "not supported for generateContent.",
		    n, model.p);
}

/* A path no chat route serves: 404 in the dialect its prefix belongs to
 * (a Gemini client's SDK cannot parse an OpenAI error). */
static void
unknown_url(struct relay_req *req)
{
	enum dialect d = apierr_route_dialect(req->path);
	int n = (int)(req->path.len > 200 ? 200 : req->path.len);

	if (d == DIALECT_GEMINI)
		apierr_send(req, d, 404, NULL, "unknown_url",
		    "Unknown request URL: %.*s (the relay serves POST "
		    "/v1beta/models/{model}:generateContent and "
		    ":streamGenerateContent)",
		    n, req->path.p);
	else
		apierr_send(req, d, 404, NULL, "unknown_url",
		    "Unknown request URL: %.*s", n, req->path.p);
}

/* Body, validation and routing; NULL when req was answered. */
static RELAY_NOINLINE const struct config_model *
validate(struct relay_req *req, const struct config *cfg,
    const struct route *rt, struct chatreq *cr)
{
	const struct config_model *m;
	const char *param = NULL;
	char msg[512];
	enum relay_err err;

	err = req_read_body(req, cfg->body_max);
	if (err == RELAY_ETOOBIG) {
		apierr_send(req, rt->d, 413, NULL, "request_too_large",
		    "Request body is larger than %zu bytes", cfg->body_max);
		return NULL;
	}
	if (err != RELAY_OK) {
		apierr_send_err(req, rt->d, err, NULL);
		return NULL;
	}
	if (rt->embed)
		err = chatreq_parse_embeddings(req->body.data, req->body.len,
		    cr, msg, sizeof(msg), &param);
	else
		err = chatreq_parse_dialect(rt->d, req->body.data,
		    req->body.len, cr, msg, sizeof(msg), &param);
	if (err == RELAY_EINVAL) {
		struct apierr_what w = {"invalid_request_error",
		    param != NULL ? "invalid_value" : "invalid_json", param};

		apierr_sendw(req, rt->d, 400, &w, "%s", msg);
		return NULL;
	}
	if (err != RELAY_OK) {
		apierr_send_err(req, rt->d, err, NULL);
		return NULL;
	}
	if (rt->d == DIALECT_GEMINI) {
		cr->model = rt->model;
		cr->stream = rt->stream;
	}
	m = config_find_model(cfg, cr->model);
	if (m == NULL)
		not_found(req, rt->d, cr->model);
	return m;
}

/* The content filter: a request holding a listed word is refused in its
 * dialect; the answer's filter rides along in pc. 0 when answered. */
static int
screen(struct relay_req *req, const struct config *cfg, const struct gate *g,
    const struct config_model *m, const struct route *rt,
    const struct chatreq *cr, struct proxy_call *pc)
{
	enum filter_output out = m->filter.output;
	int failed;

	/* A key's own setting for its answers wins over the model's. */
	if (g->key != NULL && g->key->filter_output >= 0 &&
	    cfg->nfilter_files > 0)
		out = (enum filter_output)g->key->filter_output;
	if (!m->filter.input && out == FILTER_OUT_OFF)
		return 1;
	pc->filter = filter_acquire(req->ctx->filter, cfg, &failed);
	if (failed) {
		apierr_send(req, rt->d, 503, NULL, "content_filter_unavailable",
		    "The relay's content filter cannot be loaded; the request "
		    "was not sent.");
		return 0;
	}
	pc->filter_output = rt->embed ? FILTER_OUT_OFF : out;
	if (pc->filter != NULL && m->filter.input &&
	    filter_request_matches(pc->filter, cr->root)) {
		struct apierr_what w = {
		    "invalid_request_error", "content_filter", NULL};

		apierr_sendw(req, rt->d, 400, &w, "%s",
		    "The request was refused by the relay's content filter.");
		return 0;
	}
	return 1;
}

/* The policy of this request: the model's, or the key's one action for
 * every kind. */
static struct config_pii
pii_policy(const struct gate *g, const struct config_pii *base)
{
	struct config_pii pol = *base;
	size_t i;

	if (g->key != NULL && g->key->pii_action >= 0 &&
	    g->key->pii_action < PII_ACT__MAX)
		for (i = 0; i < PII_ENT__MAX; i++)
			pol.act[i] = (unsigned char)g->key->pii_action;
	return pol;
}

/* "phone, email" for the kinds bits names. */
static void
kinds_text(unsigned bits, char *out, size_t outsz)
{
	size_t used = 0;
	int i, n;

	out[0] = '\0';
	for (i = 0; i < PII_ENT__MAX; i++) {
		if (!(bits & (1u << i)))
			continue;
		n = snprintf(out + used, outsz - used, "%s%s",
		    used > 0 ? ", " : "", pii_entity_name((enum pii_entity)i));
		if (n < 0 || (size_t)n >= outsz - used)
			return;
		used += (size_t)n;
	}
}

static void
pii_metrics(struct relay_req *req, const struct pii_out *po)
{
	size_t i;

	for (i = 0; i < PII_ENT__MAX; i++)
		metrics_pii(req->ctx->metrics,
		    pii_entity_name((enum pii_entity)i),
		    pii_action_name((enum pii_action)po->pol.act[i]),
		    po->hits[i]);
	pii_out_counts(po, req->m_pii, sizeof(req->m_pii));
}

/*
 * The external detector's names and addresses, before the rewrite that
 * finds them. Fails closed unless the operator chose otherwise: a detector
 * that cannot be asked or understood refuses the request (503), or with
 * on_error "skip" leaves it to the built-in detectors (a warning, no
 * text). 0 when answered.
 */
static int
detect(struct relay_req *req, const struct config *cfg, enum dialect d,
    json_t *root, struct pii_out *po)
{
	const struct config_detector *det = &cfg->pii_detector;
	struct loop_io *wio = NULL;
	enum relay_err err;
	char why[256];
	int wfd = -1;

	req_watch(req, &wfd, &wio);
	err =
	    pii_detect_run(det, po, root, req->up, wfd, wio, why, sizeof(why));
	if (err == RELAY_OK)
		return 1;
	if (err == RELAY_ECLOSED) {
		req->status = 499;
		return 0;
	}
	if (det->skip_on_error) {
		log_warn("id=%s: pii detector failed (%s); names and addresses "
			 "not looked for",
		    req->id, why);
		return 1;
	}
	log_warn(
	    "id=%s: pii detector failed (%s); request refused", req->id, why);
	apierr_send(req, d, 503, NULL, "pii_protection_unavailable",
	    "The relay's personal-data detector cannot be reached; the "
	    "request was not sent.");
	return 0;
}

/*
 * Outbound protection, before anything else reads the body: the texts of
 * the request rewritten in the parsed document and the body made again
 * from it, so the cache key, the prompt log and every target (the same
 * dialect's raw passthrough too) see only masks and placeholders. Fails
 * closed: a kind the policy blocks, a term list that cannot be loaded or
 * a body that cannot be rewritten refuses the request; it never leaves
 * as it came. 0 when answered.
 */
static int
protect(struct relay_req *req, const struct config *cfg, const struct gate *g,
    const struct config_pii *base, enum dialect d, json_t *root,
    struct pii_out *po, struct wordfilter **terms)
{
	struct config_pii pol = pii_policy(g, base);
	struct buf nb;
	char kinds[96];
	enum relay_err err;
	int failed = 0, changed = 0;

	pii_out_init(po, &pol, NULL);
	if (!pii_out_on(po))
		return 1;
	if (pol.act[PII_ENT_TERM] != PII_ACT_OFF)
		*terms = pii_out_terms(cfg, &failed);
	if (failed) {
		apierr_send(req, d, 503, NULL, "pii_protection_unavailable",
		    "The relay's personal-data term list cannot be loaded; "
		    "the request was not sent.");
		return 0;
	}
	po->terms = *terms;
	if (pii_detect_wanted(&cfg->pii_detector, po) &&
	    !detect(req, cfg, d, root, po))
		return 0;
	/* The body made again by splicing the changed strings into the
	 * one that came (bench/piibench.c: a re-dump cost more than the
	 * scan itself). */
	buf_init(&nb, req->body.max);
	err = pii_out_request_body(po, root,
	    req->body.data != NULL ? req->body.data : "", req->body.len, &nb,
	    &changed);
	pii_metrics(req, po);
	if (err == RELAY_OK && po->blocked != 0) {
		struct apierr_what w = {
		    "invalid_request_error", "pii_blocked", NULL};

		buf_reset(&nb);
		kinds_text(po->blocked, kinds, sizeof(kinds));
		apierr_sendw(req, d, 400, &w,
		    "The request holds personal data that this relay does "
		    "not send upstream (%s); it was not sent.",
		    kinds);
		return 0;
	}
	if (err == RELAY_OK && changed) {
		buf_reset(&req->body);
		req->body = nb;
	} else
		buf_reset(&nb);
	if (err != RELAY_OK) {
		struct apierr_what w = {NULL, "pii_protection_failed", NULL};

		apierr_sendw(req, d, err == RELAY_ETOOBIG ? 413 : 503, &w,
		    "The request could not be protected (%s); it was not "
		    "sent.",
		    err == RELAY_ETOOBIG ? "too large or too many items"
					 : "out of memory");
		return 0;
	}
	return 1;
}

/* A /proxy/ body under protection: JSON, protected as a chat request's
 * texts are (an empty body has none). 0 when answered. */
static int
proxy_protect(struct relay_req *req, const struct config *cfg,
    const struct gate *g, json_t **root, struct pii_out *po,
    struct wordfilter **terms)
{
	char jerr[64];

	if (req->body.len == 0)
		return 1;
	if (jsonx_parse(req->body.data, req->body.len, root, jerr,
		sizeof(jerr)) != RELAY_OK) {
		struct apierr_what w = {NULL, "pii_protection_failed", NULL};

		apierr_sendw(req, DIALECT_OPENAI, 400, &w,
		    "With personal-data protection on, /proxy/ forwards "
		    "only JSON bodies (this one: %s); it was not sent.",
		    jerr);
		return 0;
	}
	if (!protect(req, cfg, g, &cfg->pii, DIALECT_OPENAI, *root, po, terms))
		return 0;
	/* A byte pipe cannot restore a placeholder the provider streams in
	 * pieces (it does: a placeholder is several tokens), and an answer
	 * that keeps them would be wrong; masks need no restore. */
	if (pii_out_mapped(po) &&
	    json_is_true(json_object_get(*root, "stream"))) {
		struct apierr_what w = {
		    NULL, "pii_protection_stream", "stream"};

		apierr_sendw(req, DIALECT_OPENAI, 400, &w,
		    "Placeholders in a streamed answer are restored on the "
		    "relay's own routes (/v1/chat/completions, /v1/messages, "
		    "/v1/responses, Gemini's); through /proxy/ send "
		    "\"stream\": false. It was not sent.");
		return 0;
	}
	return 1;
}

/*
 * A passthrough call: the key's request limits apply, tokens unknown.
 * While outbound protection is on, /proxy/ refuses (its bodies go unread)
 * unless pii_protection.proxy is "json": then a body must be JSON, is
 * protected as a chat request is, and the answer is restored.
 */
static void
proxy_route(struct relay_req *req, const struct config *cfg, struct gate *g)
{
	struct config_pii pol;
	struct wordfilter *terms = NULL;
	struct pii_out po;
	json_t *root = NULL;
	int on = 0;
	size_t i;

	if (!gate_auth(req, g, DIALECT_OPENAI))
		return;
	pol = pii_policy(g, &cfg->pii);
	for (i = 0; i < PII_ENT__MAX; i++)
		on |= pol.act[i] != PII_ACT_OFF;
	if (on && !cfg->pii_proxy_json) {
		apierr_send(req, DIALECT_OPENAI, 403, NULL,
		    "pii_protection_passthrough",
		    "/proxy/ forwards bodies unread, and this relay "
		    "protects personal data in what it sends; use "
		    "the chat routes.");
		return;
	}
	if (!gate_model(req, g, NULL, DIALECT_OPENAI) ||
	    !gate_admit(req, g, cfg, NULL, 0, 1, DIALECT_OPENAI))
		return;
	req->m_route = "proxy";
	memset(&po, 0, sizeof(po));
	if (passthru_read(req, cfg) &&
	    (!on || proxy_protect(req, cfg, g, &root, &po, &terms)))
		passthru(req, cfg, on ? &po : NULL);
	gate_settle(req, g, NULL, 1, 0, 0, 0);
	json_decref(root);
	wordfilter_free(terms);
	pii_out_reset(&po);
}

/* The optional prompt log: the request and the answer as they went
 * (masked by promptlog.c). */
static RELAY_NOINLINE void
prompt_log(struct relay_req *req, const struct proxy_call *pc,
    const struct buf *answer)
{
	struct span a = answer != NULL
	    ? (struct span){answer->data, answer->len}
	    : (struct span){"", 0};
	struct pii_out po;
	struct buf masked;

	/* A restored answer holds the client's data again: the log gets it
	 * with the request's placeholders (the mapping stays in memory). */
	buf_init(&masked, PII_OUT_TEXT_MAX);
	if (pc->pii != NULL && pii_out_mapped(pc->pii) && a.len > 0) {
		po = *pc->pii;
		po.frozen = 1;
		if (pii_out_text(&po, a.p, a.len, &masked) != RELAY_OK)
			return;
		a = (struct span){masked.data, masked.len};
	}
	promptlog_write(req->ctx->prompts, req->id,
	    req->m_key_id[0] != '\0' ? req->m_key_id : NULL, req->m_model,
	    req->status, (struct span){req->body.data, req->body.len}, a);
	buf_reset(&masked);
}

/* The request through the response cache: a hit answers it, a miss goes
 * upstream and its answer is stored when it came whole. */
static void
relay(struct relay_req *req, const struct config *cfg, struct proxy_call *pc,
    struct proxy_usage *u)
{
	struct kv *kv = req->ctx->kv;
	size_t mark = req->hdrs.len;
	enum cache_status st;
	struct cache_entry ce;
	struct cache_req cq;
	struct buf rec;

	if (pc->cr->compact) {
		/* Its body reads as a /v1/responses one: never a hit of it. */
		pc->record = NULL;
		proxy_chat(req, cfg, pc, u);
		return;
	}
	cache_entry_init(&ce, cfg->cache_max_bytes + cfg->cache_part_bytes);
	/* A filtered answer is not the unfiltered one. */
	cq.variant = pc->filter != NULL ? (int)pc->filter_output : 0;
	st = cache_lookup(&cq, kv, cfg, pc->m, pc->in, pc->cr,
	    req->m_key_id[0] != '\0' ? req->m_key_id : NULL,
	    req_header(req, "cache-control"), &ce);
	req->m_cache = cache_status_name(st);
	if (st != CACHE_BYPASS)
		metrics_cache(req->ctx->metrics, st == CACHE_HIT);
	if (st == CACHE_HIT) {
		if (req_add_header(req, "x-relay-cache: HIT") != RELAY_OK ||
		    req_add_header(req, "Age: %lld",
			time(NULL) > ce.created ? time(NULL) - ce.created
						: 0) != RELAY_OK ||
		    req_add_header(req, "x-relay-target: %s", ce.target) !=
			RELAY_OK ||
		    req_add_header(req, "x-relay-attempts: 0") != RELAY_OK ||
		    proxy_replay(req, pc, &ce) != RELAY_EPROTO) {
			if (cfg->prompt_log)
				prompt_log(req, pc, &ce.payload);
			memset(u, 0, sizeof(*u));
			u->known = 1; /* a hit costs no upstream tokens */
			cache_entry_reset(&ce);
			return;
		}
		/* Not to be told in this form after all: go upstream. */
		buf_truncate(&req->hdrs, mark);
		st = CACHE_MISS;
		req->m_cache = cache_status_name(st);
	}
	/* An answer restored for this client holds its data: not kept. */
	if (pc->pii != NULL && pii_out_mapped(pc->pii))
		cq.store = 0;
	if (req_add_header(req, "x-relay-cache: %s", cache_status_name(st)) !=
	    RELAY_OK)
		log_warn("id=%s: x-relay-cache dropped", req->id);
	buf_init(&rec, cfg->cache_max_bytes);
	pc->record = cq.store || cfg->prompt_log ? &rec : NULL;
	proxy_chat(req, cfg, pc, u);
	if (cfg->prompt_log)
		prompt_log(req, pc, u->recorded ? &rec : NULL);
	if (u->recorded && cq.store) {
		buf_reset(&ce.payload);
		ce.payload = rec;
		buf_init(&rec, 0);
		ce.d = pc->in;
		ce.stream = pc->cr->stream;
		ce.include_usage =
		    pc->in == DIALECT_OPENAI ? pc->cr->include_usage : 1;
		ce.tokens_in = u->known ? u->prompt_tokens : -1;
		ce.tokens_out = u->known ? u->completion_tokens : -1;
		ce.tokens_cached = u->known ? u->cached_tokens : -1;
		snprintf(ce.target, sizeof(ce.target), "%s", u->target);
		cache_store(&cq, kv, &ce);
	}
	cache_done(&cq, kv);
	buf_reset(&rec);
	cache_entry_reset(&ce);
}

/* Token counting: the key, its model allowlist and its request rate
 * apply; no tokens are reserved or charged (a count is no generation). */
static RELAY_NOINLINE void
count_route(struct relay_req *req, const struct config *cfg, struct gate *g,
    const struct route *rt)
{
	const struct config_model *m;
	const char *param = NULL;
	struct span model = rt->model;
	json_t *root = NULL;
	char msg[512];
	enum relay_err err;

	if (!gate_auth(req, g, rt->d))
		return;
	err = req_read_body(req, cfg->body_max);
	if (err == RELAY_ETOOBIG) {
		apierr_send(req, rt->d, 413, NULL, "request_too_large",
		    "Request body is larger than %zu bytes", cfg->body_max);
		return;
	}
	if (err == RELAY_OK)
		err = count_parse(rt->d,
		    (struct span){req->body.data != NULL ? req->body.data : "",
			req->body.len},
		    &root, &model, msg, sizeof(msg), &param);
	if (err == RELAY_EINVAL) {
		struct apierr_what w = {"invalid_request_error",
		    param != NULL ? "invalid_value" : "invalid_json", param};

		apierr_sendw(req, rt->d, 400, &w, "%s", msg);
		return;
	}
	if (err != RELAY_OK) {
		apierr_send_err(req, rt->d, err, NULL);
		return;
	}
	m = config_find_model(cfg, model);
	if (m == NULL)
		not_found(req, rt->d, model);
	else
		req->m_model = m->name;
	if (m != NULL && gate_model(req, g, m, rt->d) &&
	    gate_admit(req, g, cfg, NULL, 0, 1, rt->d)) {
		count_tokens(req, cfg, m, rt->d, root, model);
		gate_settle(req, g, NULL, 1, 0, 0, 0);
	}
	json_decref(root);
}

/* GET /v1beta/models[/{model}]: 1 when req is that (and answered). */
static int
gemini_models(struct relay_req *req, const struct config *cfg, struct gate *g)
{
	static const char list[] = "/v1beta/models", one[] = "/v1beta/models/";
	const struct config_model *m = NULL;
	struct span id = {NULL, 0};
	enum relay_err err;
	struct buf b;

	if (req->method != REQ_GET && req->method != REQ_HEAD)
		return 0;
	if (span_eq(req->path, list))
		id.p = NULL;
	else if (req->path.len > sizeof(one) - 1 &&
	    memcmp(req->path.p, one, sizeof(one) - 1) == 0 &&
	    memchr(req->path.p, ':', req->path.len) == NULL) {
		id.p = req->path.p + sizeof(one) - 1;
		id.len = req->path.len - (sizeof(one) - 1);
	} else
		return 0;
	req->m_route = "models";
	req->m_dialect = dialect_name(DIALECT_GEMINI);
	if (!gate_auth(req, g, DIALECT_GEMINI))
		return 1;
	if (id.p != NULL && (m = config_find_model(cfg, id)) == NULL) {
		not_found(req, DIALECT_GEMINI, id);
		return 1;
	}
	buf_init(&b, 4 * 1024 * 1024);
	err = m != NULL ? modellist_one_json(m, id, DIALECT_GEMINI, &b)
			: modellist_json(cfg, DIALECT_GEMINI, &b);
	if (err == RELAY_OK)
		err =
		    req_send_full(req, 200, "application/json", b.data, b.len);
	else
		apierr_send_err(req, DIALECT_GEMINI, err, NULL);
	buf_reset(&b);
	return 1;
}

/* A tier key's request: whom the lower tier served, when it signed the
 * claim with the secret both tiers share; an unsigned or forged claim is
 * logged and not recorded. */
static void
tier_end_user(struct relay_req *req)
{
	const char *h = req_header(req, TIER_END_USER_HEADER);

	if (h == NULL)
		return;
	if (!tier_verify(getenv("RELAY_TIER_SECRET"), h, time(NULL),
		req->m_end_user, sizeof(req->m_end_user)))
		log_warn("id=%s: key %s: %s not verified (RELAY_TIER_SECRET "
			 "unset or different, clock skew, or forged): not "
			 "recorded",
		    req->id, req->m_key_id, TIER_END_USER_HEADER);
}

/*
 * POST /v1/responses/compact: unary. A model's Responses targets get it
 * as it is (their /responses/compact); any other target is asked for a
 * summary that the relay seals into a compaction item (dialect.h,
 * dialect_compaction()), which needs a master key. 0 when req was
 * answered.
 */
static int
compact_ok(
    struct relay_req *req, const struct config_model *m, struct chatreq *cr)
{
	size_t i;

	cr->compact = 1;
	if (cr->stream) {
		struct apierr_what w = {
		    "invalid_request_error", "invalid_value", "stream"};

		apierr_sendw(req, DIALECT_RESPONSES, 400, &w,
		    "/v1/responses/compact does not stream.");
		return 0;
	}
	if (req->ctx->master.have_cur)
		return 1;
	for (i = 0; i < m->ntargets; i++)
		if (m->targets[i].responses)
			return 1;
	apierr_send(req, DIALECT_RESPONSES, 400, NULL, "unsupported_for_target",
	    "The model `%s` is served by no Responses API target, and this "
	    "relay has no master key (RELAY_MASTER_KEY) to seal a summary of "
	    "its own: compact the history on the client, or use a model with "
	    "\"api\": \"responses\".",
	    m->name);
	return 0;
}

/*
 * previous_response_id naming a response id the relay handed out: the
 * call goes to the provider and key that made it (pc->pin), with the
 * provider's own id in the body (the client's body is kept in *keep, for
 * its parsed spans). 0 when req was answered: not an id this relay can
 * open, or no target of model m is that provider's Responses API.
 */
static RELAY_NOINLINE int
pin_previous(struct relay_req *req, const struct config_model *m,
    struct rseal_respid *pin, struct proxy_call *pc, struct buf *keep)
{
	struct span body = {req->body.data, req->body.len}, v;
	char val[RELAY_RS_UPSTREAM_ID_MAX + 3];
	struct apierr_what w = {
	    "invalid_request_error", "invalid_value", "previous_response_id"};
	enum relay_err err;
	struct buf nb;
	size_t i;

	if (jsonx_member(body, "previous_response_id", &v) != RELAY_OK ||
	    v.len < 3 || v.p[0] != '"' || v.p[v.len - 1] != '"' ||
	    !rseal_respid_is(v.p + 1, v.len - 2))
		return 1; /* not one of ours: as before */
	err = rseal_respid_unwrap(&req->ctx->master, v.p + 1, v.len - 2, pin);
	if (err != RELAY_OK) {
		apierr_sendw(req, DIALECT_RESPONSES, 400, &w,
		    "Previous response with id '%.*s' not found.",
		    (int)(v.len - 2 > 200 ? 200 : v.len - 2), v.p + 1);
		return 0;
	}
	for (i = 0; i < m->ntargets; i++)
		if (proxy_pinned_target(&m->targets[i], pin))
			break;
	if (i == m->ntargets) {
		apierr_sendw(req, DIALECT_RESPONSES, 400, &w,
		    "previous_response_id names a response of provider `%s`, "
		    "which serves the model `%s` through no Responses target: "
		    "the relay keeps no conversation; send the whole history "
		    "in 'input'.",
		    pin->provider, m->name);
		return 0;
	}
	snprintf(val, sizeof(val), "\"%s\"", pin->upstream);
	buf_init(&nb, req->body.max);
	err = jsonx_set_member(body, "previous_response_id", val, &nb);
	if (err != RELAY_OK) {
		buf_reset(&nb);
		apierr_send_err(req, DIALECT_RESPONSES,
		    err == RELAY_EINVAL ? RELAY_ENOMEM : err, NULL);
		return 0;
	}
	*keep = req->body;
	req->body = nb;
	pc->pin = pin;
	return 1;
}

static void
chat(struct relay_req *req, const struct config *cfg, struct gate *g)
{
	const struct config_model *m;
	struct proxy_usage u;
	struct proxy_call pc = {0};
	struct chatreq cr = {0};
	struct wordfilter *terms = NULL;
	struct pii_out po;
	struct route rt;
	struct rseal_respid pin;
	struct buf keep = {0};

	if (req->path.len > 7 && memcmp(req->path.p, "/proxy/", 7) == 0) {
		proxy_route(req, cfg, g);
		return;
	}
	if (gemini_models(req, cfg, g))
		return;
	if (!route(req, &rt)) {
		if (req->path.len > 14 &&
		    memcmp(req->path.p, "/v1/responses/", 14) == 0)
			respstore_route(req, cfg, g);
		else
			unknown_url(req);
		return;
	}
	if (req->method != REQ_POST) {
		apierr_send(req, rt.d, 405, NULL, "method_not_allowed",
		    "Use POST for %.*s",
		    (int)(req->path.len > 200 ? 200 : req->path.len),
		    req->path.p);
		return;
	}
	if (rt.count) {
		req->m_route = "count_tokens";
		req->m_dialect = dialect_name(rt.d);
		count_route(req, cfg, g, &rt);
		return;
	}
	req->m_route = rt.embed         ? "embeddings"
	    : rt.d == DIALECT_ANTHROPIC ? "messages"
	    : rt.d == DIALECT_GEMINI    ? "gemini"
	    : rt.compact                ? "responses_compact"
	    : rt.d == DIALECT_RESPONSES ? "responses"
					: "chat";
	req->m_dialect = dialect_name(rt.d);
	/* The key is checked before the body is read. */
	if (!gate_auth(req, g, rt.d))
		return;
	memset(&po, 0, sizeof(po));
	if (g->key != NULL && g->key->tier)
		tier_end_user(req);
	m = validate(req, cfg, &rt, &cr);
	cr.master = &req->ctx->master;
	if (m != NULL)
		req->m_model = m->name;
	if (m != NULL && rt.compact && !compact_ok(req, m, &cr))
		m = NULL;
	if (m != NULL && gate_model(req, g, m, rt.d) &&
	    (rt.d != DIALECT_RESPONSES ||
		pin_previous(req, m, &pin, &pc, &keep)) &&
	    screen(req, cfg, g, m, &rt, &cr, &pc) &&
	    protect(req, cfg, g, &m->pii, rt.d, cr.root, &po, &terms) &&
	    gate_admit(req, g, cfg, m, req->body.len,
		chatreq_reserve(&cr, m, cfg->default_max_tokens), rt.d)) {
		pc.in = rt.d;
		pc.cr = &cr;
		pc.m = m;
		pc.tier = g->key != NULL && g->key->tier;
		pc.anthropic_beta = rt.d == DIALECT_ANTHROPIC
		    ? req_header(req, "anthropic-beta")
		    : NULL;
		req->json_array =
		    rt.d == DIALECT_GEMINI && rt.stream && !rt.sse;
		pc.record = NULL;
		pc.pii = pii_out_on(&po) ? &po : NULL;
		relay(req, cfg, &pc, &u);
		gate_settle(req, g, m, u.known, u.prompt_tokens,
		    u.completion_tokens, u.events);
		if (u.known && u.cached_tokens > 0) {
			req->m_cached = u.cached_tokens;
			metrics_tokens_cached(req->ctx->metrics, m->name,
			    (uint64_t)u.cached_tokens);
		}
	}
	wordfilter_free(pc.filter);
	wordfilter_free(terms);
	pii_out_reset(&po);
	chatreq_free(&cr);
	if (keep.data != NULL) { /* the client's body back, as it came */
		buf_reset(&req->body);
		req->body = keep;
	}
}

static void
handle(struct relay_req *req)
{
	struct config *cfg = config_acquire(req->ctx->config);
	struct gate g = {0};

	chat(req, cfg, &g);
	gate_end(req, &g);
	(void)promptlog_sweep(req->ctx->prompts, cfg->prompt_log_hours);
	config_release(cfg);
}

int
main(int argc, char **argv)
{
	return server_main(argc, argv, "relay-chat", handle);
}
