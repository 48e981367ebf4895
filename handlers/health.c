/* SPDX-License-Identifier: MIT */
/* health.c - relay-health: GET /health (alive, touches nothing) and
 * GET /health/ready (config loaded and every memcached server answers). */
#include <stdio.h>
#include <string.h>

#include "../lib/apierr.h"
#include "../lib/config.h"
#include "../lib/kv.h"
#include "../lib/req.h"
#include "../lib/server.h"

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
		n = snprintf(body, sizeof(body),
		    "{\"status\":\"ready\",\"config_generation\":%lu,"
		    "\"memcached\":\"ok\",\"models\":%zu}",
		    cfg->generation, cfg->nmodels);
		if (req_send_full(req, 200, "application/json", body,
			(size_t)n) != RELAY_OK)
			req->status = 499;
	}
	buf_reset(&e);
	config_release(cfg);
}

static void
handle(struct relay_req *req)
{
	if (req->method != REQ_GET && req->method != REQ_HEAD)
		apierr_send(req, DIALECT_OPENAI, 405, NULL,
		    "method_not_allowed", "Use GET");
	else if (span_eq(req->path, "/health")) {
		if (req_send_full(req, 200, "application/json",
			"{\"status\":\"ok\"}", 15) != RELAY_OK)
			req->status = 499;
	} else if (span_eq(req->path, "/health/ready"))
		ready(req);
	else
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_url",
		    "Unknown request URL");
}

int
main(int argc, char **argv)
{
	return server_main(argc, argv, "relay-health", handle);
}
