/* SPDX-License-Identifier: MIT */
/* admin.c - relay-admin: /admin/... behind the admin token. Today:
 * GET /admin/status, the running config with every secret left out. */
#include <string.h>

#include "../lib/apierr.h"
#include "../lib/auth.h"
#include "../lib/config.h"
#include "../lib/req.h"
#include "../lib/server.h"

static enum relay_err
put_str(struct buf *b, const char *s)
{
	enum relay_err err = buf_append(b, "\"", 1);

	if (err == RELAY_OK)
		err = buf_json_escape(b, s, strlen(s));
	if (err == RELAY_OK)
		err = buf_append(b, "\"", 1);
	return err;
}

static enum relay_err
put_providers(struct buf *b, const struct config *cfg)
{
	enum relay_err err = buf_puts(b, "\"providers\":[");
	size_t i;

	for (i = 0; err == RELAY_OK && i < cfg->nproviders; i++) {
		const struct config_provider *p = &cfg->providers[i];

		err = buf_puts(b, i > 0 ? ",{\"name\":" : "{\"name\":");
		if (err == RELAY_OK)
			err = put_str(b, p->name);
		if (err == RELAY_OK)
			err = buf_printf(b, ",\"type\":\"%s\",\"base_url\":",
			    config_provider_type_name(p->type));
		if (err == RELAY_OK)
			err = put_str(b, p->base_url);
		if (err == RELAY_OK)
			err = buf_printf(b, ",\"api_keys\":%zu}", p->nkeys);
	}
	if (err == RELAY_OK)
		err = buf_puts(b, "]");
	return err;
}

static void
status(struct relay_req *req, const struct config *cfg)
{
	enum relay_err err;
	struct buf b;
	size_t i;

	buf_init(&b, 4 * 1024 * 1024);
	err = buf_puts(&b, "{\"config\":{\"source\":");
	if (err == RELAY_OK)
		err = put_str(&b, cfg->source);
	if (err == RELAY_OK)
		err = buf_printf(&b, ",\"generation\":%lu,", cfg->generation);
	if (err == RELAY_OK)
		err = put_providers(&b, cfg);
	if (err == RELAY_OK)
		err = buf_puts(&b, ",\"models\":[");
	for (i = 0; err == RELAY_OK && i < cfg->nmodels; i++) {
		if (i > 0)
			err = buf_append(&b, ",", 1);
		if (err == RELAY_OK)
			err = put_str(&b, cfg->models[i].name);
	}
	if (err == RELAY_OK)
		err = buf_puts(&b, "]}}");
	if (err == RELAY_OK)
		err =
		    req_send_full(req, 200, "application/json", b.data, b.len);
	else
		apierr_send_err(req, APIERR_OPENAI, err, NULL);
	buf_reset(&b);
}

static void
handle(struct relay_req *req)
{
	struct config *cfg;

	if (!auth_admin(req))
		return;
	cfg = config_acquire(req->ctx->config);
	if (span_eq(req->path, "/admin/status") && req->method == REQ_GET)
		status(req, cfg);
	else
		apierr_send(req, APIERR_OPENAI, 404, NULL, "unknown_url",
		    "Unknown admin URL");
	config_release(cfg);
}

int
main(int argc, char **argv)
{
	return server_main(argc, argv, "relay-admin", handle);
}
