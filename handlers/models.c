/* SPDX-License-Identifier: MIT */
/* models.c - relay-models: GET /v1/models and /v1/models/{id} in the
 * OpenAI list format, from the configured public model names; in
 * Anthropic's when the request carries anthropic-version (its SDK and
 * Claude Code's model discovery send it); Codex's {"models":[...]}
 * manifest when the query carries client_version (Codex's model
 * manager). */
#include <string.h>

#include "../lib/apierr.h"
#include "../lib/config.h"
#include "../lib/gate.h"
#include "../lib/modellist.h"
#include "../lib/req.h"
#include "../lib/server.h"

static enum relay_err
model_json(struct buf *b, const struct config_model *m, struct span id)
{
	enum relay_err err;

	err = buf_puts(b, "{\"id\":\"");
	if (err == RELAY_OK)
		err = buf_json_escape(b, id.p, id.len);
	if (err == RELAY_OK)
		err = buf_puts(b,
		    "\",\"object\":\"model\",\"created\":0,"
		    "\"owned_by\":\"");
	if (err == RELAY_OK)
		err = buf_json_escape(b, m->targets[0].provider->name,
		    strlen(m->targets[0].provider->name));
	if (err == RELAY_OK)
		err = buf_puts(b, "\"}");
	return err;
}

/* The caller is Anthropic's SDK (or speaks like it). */
static int
anthropic_caller(struct relay_req *req)
{
	return req_header(req, "anthropic-version") != NULL;
}

static void
send_list(struct relay_req *req, const struct config *cfg, enum dialect d)
{
	enum relay_err err;
	struct buf b;

	buf_init(&b, 4 * 1024 * 1024);
	err = modellist_json(cfg, d, &b);
	if (err == RELAY_OK)
		err =
		    req_send_full(req, 200, "application/json", b.data, b.len);
	else
		apierr_send_err(req, d, err, NULL);
	buf_reset(&b);
}

/* The caller is Codex asking for its model manifest: the query carries a
 * client_version parameter (Codex's models manager always sends it). */
static int
codex_caller(const struct relay_req *req)
{
	static const char name[] = "client_version=";
	const char *p = req->query.p, *end = p + req->query.len;

	while (p != NULL && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));

		if ((size_t)(end - p) >= sizeof(name) - 1 &&
		    memcmp(p, name, sizeof(name) - 1) == 0)
			return 1;
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

static void
list(struct relay_req *req, const struct config *cfg)
{
	enum relay_err err;
	struct buf b;
	size_t i, n = 0;

	if (anthropic_caller(req)) {
		send_list(req, cfg, DIALECT_ANTHROPIC);
		return;
	}
	if (codex_caller(req)) {
		send_list(req, cfg, DIALECT_RESPONSES);
		return;
	}

	buf_init(&b, 4 * 1024 * 1024);
	err = buf_puts(&b, "{\"object\":\"list\",\"data\":[");
	/* Every name a client can use: names and aliases (patterns are
	 * not names). */
	for (i = 0; err == RELAY_OK && i < cfg->nmodels; i++) {
		const struct config_model *m = &cfg->models[i];
		size_t j;

		if (!m->pattern) {
			if (n++ > 0)
				err = buf_append(&b, ",", 1);
			if (err == RELAY_OK)
				err = model_json(&b, m, span_str(m->name));
		}
		for (j = 0; err == RELAY_OK && j < m->naliases; j++) {
			if (n++ > 0)
				err = buf_append(&b, ",", 1);
			if (err == RELAY_OK)
				err =
				    model_json(&b, m, span_str(m->aliases[j]));
		}
	}
	if (err == RELAY_OK)
		err = buf_puts(&b, "]}");
	if (err == RELAY_OK)
		err =
		    req_send_full(req, 200, "application/json", b.data, b.len);
	else
		apierr_send_err(req, DIALECT_OPENAI, err, NULL);
	buf_reset(&b);
}

static void
one(struct relay_req *req, const struct config *cfg, struct span id)
{
	const struct config_model *m = config_find_model(cfg, id);
	struct buf b;

	if (m == NULL && anthropic_caller(req)) {
		apierr_send(req, DIALECT_ANTHROPIC, 404, NULL, NULL,
		    "model: %.*s", (int)(id.len > 256 ? 256 : id.len), id.p);
		return;
	}
	if (m == NULL) {
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "model_not_found",
		    "The model `%.*s` does not exist or you do not have "
		    "access to it.",
		    (int)(id.len > 256 ? 256 : id.len), id.p);
		return;
	}
	buf_init(&b, 64 * 1024);
	if ((anthropic_caller(req)
		    ? modellist_one_json(m, id, DIALECT_ANTHROPIC, &b)
		    : model_json(&b, m, id)) != RELAY_OK ||
	    req_send_full(req, 200, "application/json", b.data, b.len) !=
		RELAY_OK)
		req->status = 499;
	buf_reset(&b);
}

static void
route(struct relay_req *req, const struct config *cfg)
{
	static const char prefix[] = "/v1/models/";
	struct span id;

	if (req->method != REQ_GET && req->method != REQ_HEAD)
		apierr_send(req, DIALECT_OPENAI, 405, NULL,
		    "method_not_allowed", "Use GET for /v1/models");
	else if (span_eq(req->path, "/v1/models"))
		list(req, cfg);
	else if (req->path.len > sizeof(prefix) - 1 &&
	    memcmp(req->path.p, prefix, sizeof(prefix) - 1) == 0) {
		id.p = req->path.p + sizeof(prefix) - 1;
		id.len = req->path.len - (sizeof(prefix) - 1);
		one(req, cfg, id);
	} else
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_url",
		    "Unknown request URL");
}

static void
handle(struct relay_req *req)
{
	struct config *cfg = config_acquire(req->ctx->config);
	struct gate g = {0};

	/* A client route: once keys exist, listing models needs one too. */
	if (gate_auth(req, &g,
		anthropic_caller(req) ? DIALECT_ANTHROPIC : DIALECT_OPENAI))
		route(req, cfg);
	gate_end(req, &g);
	config_release(cfg);
}

int
main(int argc, char **argv)
{
	return server_main(argc, argv, "relay-models", handle);
}
