/* SPDX-License-Identifier: MIT */
/* health.c - relay-health: GET /health (alive, touches nothing),
 * GET /health/ready (config loaded and every memcached server answers),
 * GET /metrics (Prometheus: every responder process of this host, and the
 * circuit breakers as memcached holds them). And the web server's
 * catch-all: "/" (HEAD and GET answered 200, a browser sent on to the
 * admin console), /api/hello (the liveness probe some clients make), and
 * every other path the relay does not serve: a JSON 404 in the caller's
 * dialect, never the web server's HTML page. */
#include <stdio.h>
#include <string.h>

#include "../lib/apierr.h"
#include "../lib/breaker.h"
#include "../lib/config.h"
#include "../lib/creds.h"
#include "../lib/keypool.h"
#include "../lib/kv.h"
#include "../lib/metrics.h"
#include "../lib/req.h"
#include "../lib/server.h"

/* 200 with the config generation and every target's breaker. */
static void
ready_ok(struct relay_req *req, const struct config *cfg)
{
	struct buf b;
	enum relay_err err;

	buf_init(&b, 1024 * 1024);
	err = buf_printf(&b,
	    "{\"status\":\"ready\",\"config_generation\":%lu,"
	    "\"memcached\":\"ok\",\"models\":%zu,\"breakers\":",
	    cfg->generation, cfg->nmodels);
	if (err == RELAY_OK)
		err = breaker_report(req->ctx->kv, cfg, &b);
	if (err == RELAY_OK)
		err = buf_append(&b, "}", 1);
	if (err != RELAY_OK)
		apierr_send_err(req, DIALECT_OPENAI, err, NULL);
	else if (req_send_full(req, 200, "application/json", b.data, b.len) !=
	    RELAY_OK)
		req->status = 499;
	buf_reset(&b);
}

static void
ready(struct relay_req *req)
{
	struct config *cfg = config_acquire(req->ctx->config);
	char why[256], body[768], esc[600];
	struct buf e;
	int n;

	buf_init(&e, sizeof(esc) - 1);
	if (kv_ping(req->ctx->kv, why, sizeof(why)) != RELAY_OK) {
		if (buf_json_escape(&e, why, strnlen(why, sizeof(why))) !=
		    RELAY_OK)
			buf_clear(&e);
		n = snprintf(body, sizeof(body),
		    "{\"status\":\"unavailable\",\"reason\":\"%s\","
		    "\"config_generation\":%lu}",
		    e.data != NULL ? e.data : "memcached", cfg->generation);
		if (req_send_full(req, 503, "application/json", body,
			(size_t)n) != RELAY_OK)
			req->status = 499;
	} else {
		ready_ok(req, cfg);
	}
	buf_reset(&e);
	config_release(cfg);
}

static enum relay_err
publish_breaker(void *arg, const char *target, enum breaker_state s)
{
	metrics_breaker(arg, target, (int)s);
	return RELAY_OK;
}

/* The provider keys out of rotation now, as memcached (shared by every
 * host) holds them: a gauge read at scrape time. */
static enum relay_err
benched_keys(struct relay_req *req, struct buf *b)
{
	struct config *cfg = config_acquire(req->ctx->config);
	struct creds_snap *cs = creds_acquire(req->ctx->creds);
	enum relay_err err = keypool_report(req->ctx->kv, cfg, cs, 1, b);

	creds_release(cs);
	config_release(cfg);
	return err;
}

/* The sum of every responder process's counters on this host, with every
 * target's breaker (wildcard targets' too) as memcached says now (this
 * report is the latest, so it is the one shown), and the provider keys
 * out of rotation. */
static void
metrics(struct relay_req *req)
{
	struct config *cfg = config_acquire(req->ctx->config);
	enum relay_err err = RELAY_OK;
	char why[128];
	struct buf b;

	/* One round trip decides: with memcached away, the last reports
	 * stand rather than one timeout per target. */
	if (kv_ping(req->ctx->kv, why, sizeof(why)) == RELAY_OK)
		err = breaker_each(
		    req->ctx->kv, cfg, publish_breaker, req->ctx->metrics);
	config_release(cfg);
	buf_init(&b, 64 * 1024 * 1024);
	if (err == RELAY_OK)
		err = metrics_render(server_metrics_dir(), &b);
	if (err == RELAY_OK)
		err = benched_keys(req, &b);
	if (err != RELAY_OK)
		apierr_send_err(
		    req, DIALECT_OPENAI, err, "metrics unavailable");
	else if (req_send_full(req, 200, "text/plain; version=0.0.4", b.data,
		     b.len) != RELAY_OK)
		req->status = 499;
	buf_reset(&b);
}

/* The dialect of a caller the path alone does not tell: its SDK's own
 * headers do (Anthropic's anthropic-version, Gemini's x-goog-api-key). */
static enum dialect
caller_dialect(struct relay_req *req)
{
	enum dialect d = apierr_route_dialect(req->path);

	if (d != DIALECT_OPENAI)
		return d;
	if (req_header(req, "anthropic-version") != NULL)
		return DIALECT_ANTHROPIC;
	if (req_header(req, "x-goog-api-key") != NULL)
		return DIALECT_GEMINI;
	return DIALECT_OPENAI;
}

static void
send_or_gone(struct relay_req *req, int status, const char *body)
{
	if (req_send_full(req, status, "application/json", body,
		strlen(body)) != RELAY_OK)
		req->status = 499;
}

/* "/": a probe (HEAD, or GET from a program) gets 200; a browser asking
 * for a page is sent to the admin console. */
static void
root(struct relay_req *req)
{
	const char *accept = req_header(req, "accept");

	if (req->method == REQ_GET && accept != NULL &&
	    strstr(accept, "text/html") != NULL) {
		if (req_add_header(req, "Location: /admin/ui/") != RELAY_OK)
			req->status = 499;
		send_or_gone(req, 302, "{\"location\":\"/admin/ui/\"}");
		return;
	}
	send_or_gone(req, 200, "{\"name\":\"llm-relay\",\"status\":\"ok\"}");
}

/* A path no responder serves, any method. */
static void
unknown(struct relay_req *req)
{
	enum dialect d = caller_dialect(req);
	int n = (int)(req->path.len > 200 ? 200 : req->path.len);

	apierr_send(req, d, 404, NULL, "unknown_url",
	    "Unknown request URL: %.*s", n, req->path.p);
}

static void
handle(struct relay_req *req)
{
	int known = span_eq(req->path, "/health") ||
	    span_eq(req->path, "/health/ready") ||
	    span_eq(req->path, "/metrics") || span_eq(req->path, "/") ||
	    span_eq(req->path, "/api/hello");

	if (!known)
		unknown(req);
	else if (req->method != REQ_GET && req->method != REQ_HEAD)
		apierr_send(req, caller_dialect(req), 405, NULL,
		    "method_not_allowed", "Use GET");
	else if (span_eq(req->path, "/"))
		root(req);
	else if (span_eq(req->path, "/api/hello"))
		send_or_gone(req, 200, "{\"status\":\"ok\"}");
	else if (span_eq(req->path, "/health")) {
		if (req_send_full(req, 200, "application/json",
			"{\"status\":\"ok\"}", 15) != RELAY_OK)
			req->status = 499;
	} else if (span_eq(req->path, "/health/ready"))
		ready(req);
	else
		metrics(req);
}

int
main(int argc, char **argv)
{
	return server_main(argc, argv, "relay-health", handle);
}
