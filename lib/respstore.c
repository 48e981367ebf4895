/* SPDX-License-Identifier: MIT */
/* respstore.c - stored responses by relay response id (see respstore.h). */
#include <stdio.h>
#include <string.h>

#include "apierr.h"
#include "config.h"
#include "creds.h"
#include "gate.h"
#include "keypool.h"
#include "keys.h"
#include "log.h"
#include "req.h"
#include "respstore.h"
#include "rseal.h"
#include "server.h"
#include "target.h"
#include "upstream.h"

/* The provider's answer, whole (a stored response is one JSON object). */
struct got {
	int status;
	char ctype[128];
	struct buf body;
};

static enum relay_err
got_head(void *arg, const struct upstream_head *h)
{
	struct got *g = arg;

	g->status = h->status;
	snprintf(g->ctype, sizeof(g->ctype), "%s", h->content_type);
	return RELAY_OK;
}

static enum relay_err
got_data(void *arg, const char *p, size_t n)
{
	struct got *g = arg;

	return buf_append(&g->body, p, n);
}

static void
no_response(struct relay_req *req, struct span id)
{
	apierr_send(req, DIALECT_RESPONSES, 404, NULL, "not_found",
	    "Response with id '%.*s' not found.",
	    (int)(id.len > 200 ? 200 : id.len), id.p);
}

/* Provider r->provider serves some model the key may use through its
 * Responses API. */
static const struct config_provider *
reachable(const struct config *cfg, const struct gate *g,
    const struct rseal_respid *r)
{
	size_t i, j;

	for (i = 0; i < cfg->nmodels; i++) {
		const struct config_model *m = &cfg->models[i];

		if (g->key != NULL &&
		    !keys_model_allowed(g->key, m->name, strlen(m->name)))
			continue;
		for (j = 0; j < m->ntargets; j++)
			if (m->targets[j].responses &&
			    strcmp(m->targets[j].provider->name, r->provider) ==
				0)
				return m->targets[j].provider;
	}
	return NULL;
}

/* The call to p with key, its answer relayed with the id wrapped again. */
static void
call(struct relay_req *req, const struct config_provider *p, const char *key,
    const struct rseal_respid *r, const char *path, struct creds_snap *cs)
{
	struct target_req tr;
	struct upstream_call c;
	struct got got = {0};
	struct buf out;
	struct span body;
	enum relay_err err;

	target_init(&tr, 0);
	buf_init(&got.body, RELAY_UPSTREAM_BODY_MAX);
	buf_init(&out, RELAY_UPSTREAM_BODY_MAX);
	err = target_passthru(&tr, p, key, span_str(path), req->query,
	    req_header(req, "content-type"), req_header(req, "accept"), NULL);
	if (err == RELAY_OK)
		err = target_hop_headers(&tr, p, req->id,
		    req_header(req, "traceparent"), req->m_key_id);
	if (err != RELAY_OK) {
		apierr_send(req, DIALECT_RESPONSES, 400, NULL, "invalid_path",
		    "This request cannot be forwarded: its query or a header "
		    "holds bytes the relay does not send upstream.");
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.url = target_url(&tr);
	c.headers = tr.lines;
	c.nheaders = tr.nlines;
	c.method = req->method == REQ_DELETE ? "DELETE"
	    : req->method == REQ_POST        ? "POST"
					     : "GET";
	c.body = req->method == REQ_POST
	    ? (req->body.data != NULL ? req->body.data : "")
	    : NULL;
	c.body_len = req->method == REQ_POST ? req->body.len : 0;
	c.connect_ms = p->connect_ms;
	c.first_byte_ms = p->first_byte_ms;
	c.idle_ms = p->idle_ms;
	c.total_ms = p->total_ms;
	c.proxy = creds_proxy(cs, key);
	if (c.proxy == NULL)
		c.proxy = config_key_proxy(p, key);
	req_watch(req, &c.watch_fd, &c.watch_io);
	c.on_head = got_head;
	c.on_data = got_data;
	c.arg = &got;
	err = upstream_perform(req->up, &c);
	if (err != RELAY_OK) {
		log_warn("id=%s: stored response at %s: %s (%s)", req->id,
		    p->name, c.errmsg, c.detail);
		apierr_send_err(req, DIALECT_RESPONSES, err,
		    c.errmsg[0] != '\0' ? c.errmsg : NULL);
		goto out;
	}
	body = (struct span){
	    got.body.data != NULL ? got.body.data : "", got.body.len};
	/* The answer names the response by the provider's id: the client
	 * knows it by ours. */
	if (got.status >= 200 && got.status < 300 &&
	    rseal_respid_rewrite(&req->ctx->master, p->name, r->key_fp, body, 0,
		&out) == RELAY_OK)
		body = (struct span){out.data, out.len};
	if (req_send_full(req, got.status,
		got.ctype[0] != '\0' ? got.ctype : "application/json", body.p,
		body.len) != RELAY_OK)
		req->status = 499;
out:
	buf_reset(&out);
	buf_reset(&got.body);
	target_reset(&tr);
}

/* "/v1/responses/{id}" + suffix: *id and the suffix's kind, or 0. */
static int
parse(struct span path, struct span *id, const char **suffix)
{
	static const char prefix[] = "/v1/responses/";
	const char *slash;
	struct span rest;

	rest.p = path.p + sizeof(prefix) - 1;
	rest.len = path.len - (sizeof(prefix) - 1);
	slash = memchr(rest.p, '/', rest.len);
	*id = rest;
	*suffix = "";
	if (slash != NULL) {
		struct span s = {slash, rest.len - (size_t)(slash - rest.p)};

		id->len = (size_t)(slash - rest.p);
		if (span_eq(s, "/cancel"))
			*suffix = "/cancel";
		else if (span_eq(s, "/input_items"))
			*suffix = "/input_items";
		else
			return 0;
	}
	return id->len > 0;
}

static int
method_ok(const struct relay_req *req, const char *suffix)
{
	if (strcmp(suffix, "/cancel") == 0)
		return req->method == REQ_POST;
	if (strcmp(suffix, "/input_items") == 0)
		return req->method == REQ_GET;
	return req->method == REQ_GET || req->method == REQ_DELETE;
}

void
respstore_route(struct relay_req *req, const struct config *cfg, struct gate *g)
{
	const struct config_provider *p;
	struct rseal_respid r;
	struct creds_snap *cs;
	const char *suffix, *key = NULL;
	char path[RELAY_RS_UPSTREAM_ID_MAX + 64];
	struct span id;
	enum relay_err err;

	if (!parse(req->path, &id, &suffix)) {
		apierr_send(req, DIALECT_RESPONSES, 404, NULL, "unknown_url",
		    "Unknown request URL: %.*s",
		    (int)(req->path.len > 200 ? 200 : req->path.len),
		    req->path.p);
		return;
	}
	if (!method_ok(req, suffix)) {
		apierr_send(req, DIALECT_RESPONSES, 405, NULL,
		    "method_not_allowed", "Method not allowed for %.*s",
		    (int)(req->path.len > 200 ? 200 : req->path.len),
		    req->path.p);
		return;
	}
	req->m_route = "responses_stored";
	req->m_dialect = "responses";
	if (!gate_auth(req, g, DIALECT_RESPONSES))
		return;
	if (!rseal_respid_is(id.p, id.len)) {
		apierr_send(req, DIALECT_RESPONSES, 404, NULL, "unknown_url",
		    "The relay keeps no responses, and this id is not one it "
		    "handed out for an OpenAI Responses target: reach a "
		    "provider's stored responses through "
		    "/proxy/{provider}/responses/{id}, or send the whole "
		    "history in 'input'.");
		return;
	}
	err = rseal_respid_unwrap(&req->ctx->master, id.p, id.len, &r);
	if (err == RELAY_ENOMEM) {
		apierr_send_err(req, DIALECT_RESPONSES, err, NULL);
		return;
	}
	p = err == RELAY_OK ? reachable(cfg, g, &r) : NULL;
	if (p == NULL) {
		no_response(req, id);
		return;
	}
	err = req_read_body(req, cfg->body_max);
	if (err != RELAY_OK) {
		apierr_send_err(req, DIALECT_RESPONSES, err, NULL);
		return;
	}
	if (!gate_admit(req, g, cfg, NULL, 0, 1, DIALECT_RESPONSES))
		return;
	snprintf(path, sizeof(path), "%sresponses/%s%s",
	    p->type == PROVIDER_AZURE ? "openai/v1/" : "", r.upstream, suffix);
	req->m_provider = p->name;
	cs = creds_acquire(req->ctx->creds);
	if (r.key_fp[0] != '\0')
		key = keypool_find(p, cs, r.key_fp);
	if (r.key_fp[0] != '\0' && key == NULL)
		apierr_send(req, DIALECT_RESPONSES, 404, NULL, "not_found",
		    "Response with id '%.*s' was made with an API key the "
		    "relay no longer has.",
		    (int)(id.len > 200 ? 200 : id.len), id.p);
	else
		call(req, p, key, &r, path, cs);
	creds_release(cs);
	gate_settle(req, g, NULL, 1, 0, 0, 0);
}
