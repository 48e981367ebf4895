/* SPDX-License-Identifier: MIT */
/* chat.c - relay-chat: POST /v1/chat/completions (OpenAI dialect). */
#include "../lib/apierr.h"
#include "../lib/chatreq.h"
#include "../lib/config.h"
#include "../lib/gate.h"
#include "../lib/proxy.h"
#include "../lib/req.h"
#include "../lib/server.h"

/* Body, validation and routing; NULL when req was answered. */
static const struct config_model *
validate(struct relay_req *req, const struct config *cfg, struct chatreq *cr)
{
	const struct config_model *m;
	const char *param = NULL;
	char msg[512];
	enum relay_err err;

	err = req_read_body(req, cfg->body_max);
	if (err == RELAY_ETOOBIG) {
		apierr_send(req, APIERR_OPENAI, 413, NULL, "request_too_large",
		    "Request body is larger than %zu bytes", cfg->body_max);
		return NULL;
	}
	if (err != RELAY_OK) {
		apierr_send_err(req, APIERR_OPENAI, err, NULL);
		return NULL;
	}
	err = chatreq_parse(
	    req->body.data, req->body.len, cr, msg, sizeof(msg), &param);
	if (err == RELAY_EINVAL) {
		struct apierr_what w = {"invalid_request_error",
		    param != NULL ? "invalid_value" : "invalid_json", param};

		apierr_sendw(req, APIERR_OPENAI, 400, &w, "%s", msg);
		return NULL;
	}
	if (err != RELAY_OK) {
		apierr_send_err(req, APIERR_OPENAI, err, NULL);
		return NULL;
	}
	m = config_find_model(cfg, cr->model);
	if (m == NULL)
		apierr_send(req, APIERR_OPENAI, 404, NULL, "model_not_found",
		    "The model `%.*s` does not exist or you do not have "
		    "access to it.",
		    (int)cr->model.len, cr->model.p);
	return m;
}

static void
chat(struct relay_req *req, const struct config *cfg, struct gate *g)
{
	const struct config_model *m;
	struct proxy_usage u;
	struct chatreq cr = {0};

	if (!span_eq(req->path, "/v1/chat/completions")) {
		apierr_send(req, APIERR_OPENAI, 404, NULL, "unknown_url",
		    "Unknown request URL: %.*s",
		    (int)(req->path.len > 200 ? 200 : req->path.len),
		    req->path.p);
		return;
	}
	if (req->method != REQ_POST) {
		apierr_send(req, APIERR_OPENAI, 405, NULL, "method_not_allowed",
		    "Use POST for /v1/chat/completions");
		return;
	}
	/* The key is checked before the body is read. */
	if (!gate_auth(req, g, APIERR_OPENAI))
		return;
	m = validate(req, cfg, &cr);
	if (m != NULL && gate_model(req, g, m, APIERR_OPENAI) &&
	    gate_admit(
		req, g, cfg, m, req->body.len, cr.max_tokens, APIERR_OPENAI)) {
		proxy_chat(req, cfg, &cr, &m->targets[0], &u);
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
