/* SPDX-License-Identifier: MIT */
/* chat.c - relay-chat: chat in every dialect, to every provider.
 *   POST /v1/chat/completions                        OpenAI
 *   POST /v1/messages                                Anthropic
 *   POST /v1beta/models/{model}:generateContent      Gemini
 *   POST /v1beta/models/{model}:streamGenerateContent[?alt=sse]
 *   POST /v1/embeddings                              OpenAI
 *   ANY  /proxy/{provider}/{path}                    as it is
 */
#include <string.h>

#include "../lib/apierr.h"
#include "../lib/chatreq.h"
#include "../lib/config.h"
#include "../lib/gate.h"
#include "../lib/passthru.h"
#include "../lib/proxy.h"
#include "../lib/req.h"
#include "../lib/server.h"

/* What the URL says. */
struct route {
	enum dialect d;
	struct span model; /* Gemini: from the path */
	int stream; /* Gemini: streamGenerateContent */
	int sse; /* Gemini: alt=sse */
	int embed; /* /v1/embeddings */
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
	else if (!span_eq(rest, ":generateContent"))
		return 0;
	rt->sse = has_query(req->query, "alt=sse");
	return 1;
}

static void
not_found(struct relay_req *req, enum dialect d, struct span model)
{
	int n = (int)(model.len > 256 ? 256 : model.len);

	if (d == DIALECT_OPENAI)
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

/* Body, validation and routing; NULL when req was answered. */
static const struct config_model *
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

/* A passthrough call: the key's request limits apply, tokens unknown. */
static void
proxy_route(struct relay_req *req, const struct config *cfg, struct gate *g)
{
	if (!gate_auth(req, g, DIALECT_OPENAI) ||
	    !gate_model(req, g, NULL, DIALECT_OPENAI) ||
	    !gate_admit(req, g, cfg, NULL, 0, 1, DIALECT_OPENAI))
		return;
	req->m_route = "proxy";
	passthru(req, cfg);
	gate_settle(req, g, NULL, 1, 0, 0, 0);
}

static void
chat(struct relay_req *req, const struct config *cfg, struct gate *g)
{
	const struct config_model *m;
	struct proxy_usage u;
	struct proxy_call pc;
	struct chatreq cr = {0};
	struct route rt;

	if (req->path.len > 7 && memcmp(req->path.p, "/proxy/", 7) == 0) {
		proxy_route(req, cfg, g);
		return;
	}
	if (!route(req, &rt)) {
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_url",
		    "Unknown request URL: %.*s",
		    (int)(req->path.len > 200 ? 200 : req->path.len),
		    req->path.p);
		return;
	}
	if (req->method != REQ_POST) {
		apierr_send(req, rt.d, 405, NULL, "method_not_allowed",
		    "Use POST for %.*s",
		    (int)(req->path.len > 200 ? 200 : req->path.len),
		    req->path.p);
		return;
	}
	req->m_route = rt.embed         ? "embeddings"
	    : rt.d == DIALECT_ANTHROPIC ? "messages"
	    : rt.d == DIALECT_GEMINI    ? "gemini"
					: "chat";
	req->m_dialect = dialect_name(rt.d);
	/* The key is checked before the body is read. */
	if (!gate_auth(req, g, rt.d))
		return;
	m = validate(req, cfg, &rt, &cr);
	if (m != NULL)
		req->m_model = m->name;
	if (m != NULL && gate_model(req, g, m, rt.d) &&
	    gate_admit(req, g, cfg, m, req->body.len, cr.max_tokens, rt.d)) {
		pc.in = rt.d;
		pc.cr = &cr;
		pc.m = m;
		pc.anthropic_beta = rt.d == DIALECT_ANTHROPIC
		    ? req_header(req, "anthropic-beta")
		    : NULL;
		req->json_array =
		    rt.d == DIALECT_GEMINI && rt.stream && !rt.sse;
		proxy_chat(req, cfg, &pc, &u);
		gate_settle(req, g, m, u.known, u.prompt_tokens,
		    u.completion_tokens, u.events);
	}
	chatreq_free(&cr);
}

static void
handle(struct relay_req *req)
{
	struct config *cfg = config_acquire(req->ctx->config);
	struct gate g = {0};

	chat(req, cfg, &g);
	gate_end(req, &g);
	config_release(cfg);
}

int
main(int argc, char **argv)
{
	return server_main(argc, argv, "relay-chat", handle);
}
