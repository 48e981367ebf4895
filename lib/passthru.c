/* SPDX-License-Identifier: MIT */
/* passthru.c - a byte pipe with the provider's key put in. */
#include <stdio.h>
#include <string.h>

#include "apierr.h"
#include "config.h"
#include "creds.h"
#include "fcgi_io.h"
#include "keypool.h"
#include "log.h"
#include "metrics.h"
#include "passthru.h"
#include "pii_out.h"
#include "req.h"
#include "server.h"
#include "target.h"
#include "upstream.h"

struct pipe {
	struct relay_req *req;
	size_t bytes;
	/* Set when the request went out with placeholders: the answer's
	 * bytes restored on the way (JSON-escaped, as /proxy/ answers that
	 * carry them are JSON or SSE of JSON). */
	struct pii_restorer *rs;
	struct buf out;
};

static enum relay_err
pipe_head(void *arg, const struct upstream_head *h)
{
	struct pipe *pp = arg;
	enum relay_err err;

	err = req_send_head(pp->req, h->status,
	    h->content_type[0] != '\0' ? h->content_type
				       : "application/octet-stream",
	    -1);
	if (err == RELAY_OK)
		err = req_send(pp->req, NULL, 0, 1);
	return err == RELAY_EINVAL ? RELAY_ENOMEM : err;
}

static enum relay_err
pipe_data(void *arg, const char *p, size_t n)
{
	struct pipe *pp = arg;
	enum relay_err err;

	pp->bytes += n;
	if (pp->rs == NULL)
		return req_send(pp->req, p, n, 1);
	buf_clear(&pp->out);
	err = pii_restorer_feed(pp->rs, p, n, &pp->out);
	if (err == RELAY_OK && pp->out.len > 0)
		err = req_send(pp->req, pp->out.data, pp->out.len, 1);
	return err;
}

static const char *
method_name(enum req_method m)
{
	switch (m) {
	case REQ_GET: return "GET";
	case REQ_POST: return "POST";
	case REQ_PUT: return "PUT";
	case REQ_PATCH: return "PATCH";
	case REQ_DELETE: return "DELETE";
	case REQ_HEAD: return "HEAD";
	case REQ_OPTIONS:
	case REQ_OTHER:
	case REQ__MAX: break;
	}
	return NULL;
}

static const struct config_provider *
find_provider(const struct config *cfg, struct span name)
{
	size_t i;

	for (i = 0; i < cfg->nproviders; i++)
		if (span_eq(name, cfg->providers[i].name))
			return &cfg->providers[i];
	return NULL;
}

/* Call the provider; the answer streams back through the callbacks. */
static void
forward(struct relay_req *req, const struct config *cfg,
    const struct config_provider *p, struct span rest, struct creds_snap *cs,
    const struct pii_out *po)
{
	struct keypool_choice kc;
	struct target_req tr;
	struct upstream_call c;
	struct pii_restorer rs;
	struct pipe pp = {req, 0, NULL, {NULL, 0, 0, 0}};
	enum relay_err err;

	target_init(&tr, 0);
	buf_init(&pp.out, PII_OUT_TEXT_MAX);
	if (po != NULL && pii_out_mapped(po)) {
		pii_restorer_init(&rs, po, 1);
		pp.rs = &rs;
	}
	if (keypool_pick(req->ctx->kv, p, cs, &cfg->keypool, "", &kc) !=
	    RELAY_OK) {
		if (kc.all_auth)
			apierr_send(req, DIALECT_OPENAI, 502, NULL,
			    "upstream_auth_failed",
			    "The upstream provider refused every API key of "
			    "the relay's; the relay re-checks them within "
			    "%lds.",
			    kc.wait_s);
		else
			apierr_send(req, DIALECT_OPENAI, 429, NULL,
			    "upstream_keys_resting",
			    "All upstream keys are rate limited; try again in "
			    "%lds.",
			    kc.wait_s);
		goto out;
	}
	err = target_passthru(&tr, p, kc.key, rest, req->query,
	    req_header(req, "content-type"), req_header(req, "accept"),
	    req_header(req, "anthropic-beta"));
	if (err == RELAY_OK)
		err = target_hop_headers(&tr, p, req->id,
		    req_header(req, "traceparent"), req->m_key_id);
	if (err != RELAY_OK) {
		apierr_send(req, DIALECT_OPENAI, 400, NULL, "invalid_path",
		    "This request cannot be forwarded: its path, query or a "
		    "header holds bytes the relay does not send upstream.");
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.url = target_url(&tr);
	c.headers = tr.lines;
	c.nheaders = tr.nlines;
	c.method = method_name(req->method);
	c.body = req->method == REQ_GET || req->method == REQ_HEAD
	    ? NULL
	    : (req->body.data != NULL ? req->body.data : "");
	c.body_len = req->body.len;
	c.connect_ms = p->connect_ms;
	c.first_byte_ms = p->first_byte_ms;
	c.idle_ms = p->idle_ms;
	c.total_ms = p->total_ms;
	c.proxy = creds_proxy(cs, kc.key);
	if (c.proxy == NULL)
		c.proxy = config_key_proxy(p, kc.key);
	req_watch(req, &c.watch_fd, &c.watch_io);
	c.on_head = pipe_head;
	c.on_data = pipe_data;
	c.arg = &pp;
	if (req_add_header(req, "x-relay-target: %s", p->name) != RELAY_OK)
		log_warn("id=%s: x-relay-target dropped", req->id);
	err = upstream_perform(req->up, &c);
	if (kc.probe && c.status >= 200 && c.status < 300)
		keypool_unbench(req->ctx->kv, p->name, kc.fp);
	if (err == RELAY_OK && pp.rs != NULL) { /* a held tail goes last */
		buf_clear(&pp.out);
		err = pii_restorer_flush(pp.rs, &pp.out);
		if (err == RELAY_OK && pp.out.len > 0)
			err = req_send(req, pp.out.data, pp.out.len, 1);
		if (err != RELAY_OK)
			err = RELAY_ECLOSED;
	}
	if (err == RELAY_OK || err == RELAY_ECLOSED)
		goto out;
	if (req->head_sent) {
		/* Bytes are out already: a byte pipe has no in-band error,
		 * so the response ends as a broken transfer, never with the
		 * final chunk of a whole one. */
		log_warn("id=%s: passthrough to %s broke after %zu bytes: "
			 "%s (%s)",
		    req->id, p->name, pp.bytes, c.errmsg, c.detail);
		req_cut(req);
		goto out;
	}
	log_warn("id=%s: passthrough to %s failed: %s (%s)", req->id, p->name,
	    c.errmsg, c.detail);
	if (c.proxy_failed) {
		req->m_error = "egress_proxy";
		metrics_upstream_error(req->ctx->metrics, p->name, "proxy");
		apierr_send(req, DIALECT_OPENAI,
		    err == RELAY_ETIMEOUT ? 504 : 502, NULL,
		    "egress_proxy_error", "%s", c.errmsg);
		goto out;
	}
	apierr_send_err(
	    req, DIALECT_OPENAI, err, c.errmsg[0] != '\0' ? c.errmsg : NULL);
out:
	buf_reset(&pp.out);
	target_reset(&tr);
}

int
passthru_read(struct relay_req *req, const struct config *cfg)
{
	enum relay_err err = req_read_body(req, cfg->body_max);

	if (err == RELAY_ETOOBIG) {
		apierr_send(req, DIALECT_OPENAI, 413, NULL, "request_too_large",
		    "Request body is larger than %zu bytes", cfg->body_max);
		return 0;
	}
	if (err != RELAY_OK) {
		apierr_send_err(req, DIALECT_OPENAI, err, NULL);
		return 0;
	}
	return 1;
}

void
passthru(
    struct relay_req *req, const struct config *cfg, const struct pii_out *po)
{
	static const char prefix[] = "/proxy/";
	const struct config_provider *p;
	struct span name, rest;
	const char *slash;
	struct creds_snap *cs;

	name.p = req->path.p + sizeof(prefix) - 1;
	name.len = req->path.len - (sizeof(prefix) - 1);
	slash = memchr(name.p, '/', name.len);
	if (slash == NULL || method_name(req->method) == NULL) {
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_url",
		    "Use /proxy/{provider}/{path}.");
		return;
	}
	rest.p = slash + 1;
	rest.len = name.len - (size_t)(slash - name.p) - 1;
	name.len = (size_t)(slash - name.p);
	p = find_provider(cfg, name);
	if (p == NULL) {
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_provider",
		    "No provider named `%.*s`.",
		    (int)(name.len > 64 ? 64 : name.len), name.p);
		return;
	}
	cs = creds_acquire(req->ctx->creds);
	forward(req, cfg, p, rest, cs, po);
	creds_release(cs);
}
