/* SPDX-License-Identifier: MIT */
/* admin.c - relay-admin: /admin/... behind the admin token: the running
 * config without secrets, and the virtual keys (docs/admin.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/adminview.h"
#include "../lib/accesslog.h"
#include "../lib/apierr.h"
#include "../lib/auth.h"
#include "../lib/breaker.h"
#include "../lib/cache.h"
#include "../lib/config.h"
#include "../lib/creds.h"
#include "../lib/jsonx.h"
#include "../lib/keypool.h"
#include "../lib/keys.h"
#include "../lib/kv.h"
#include "../lib/quota.h"
#include "../lib/ledger.h"
#include "../lib/num.h"
#include "../lib/limits.h"
#include "../lib/req.h"
#include "../lib/server.h"
#include "../lib/ui.h"

/* Admin request bodies: bytes. */
#define ADMIN_BODY_MAX (1024 * 1024)

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

/* ,"benched_keys":[...]: provider keys out of rotation, by fingerprint. */
static enum relay_err
benched_keys(struct relay_req *req, const struct config *cfg, struct buf *b)
{
	struct creds_snap *cs = creds_acquire(req->ctx->creds);
	enum relay_err err = buf_puts(b, ",\"benched_keys\":");

	if (err == RELAY_OK)
		err = keypool_report(req->ctx->kv, cfg, cs, 0, b);
	creds_release(cs);
	return err;
}

/* {"servers":[...],"ok":bool[,"error":"why"]}: the memcached servers of
 * the config and whether every one answers now (one version round trip). */
static enum relay_err
put_memcached(struct relay_req *req, const struct config *cfg, struct buf *b)
{
	enum relay_err err = buf_puts(b, "{\"servers\":[");
	char why[256] = "";
	size_t i;

	for (i = 0; err == RELAY_OK && i < cfg->nkv_servers; i++) {
		if (i > 0)
			err = buf_append(b, ",", 1);
		if (err == RELAY_OK)
			err = put_str(b, cfg->kv_servers[i]);
	}
	if (err != RELAY_OK)
		return err;
	if (kv_ping(req->ctx->kv, why, sizeof(why)) == RELAY_OK)
		return buf_puts(b, "],\"ok\":true}");
	err = buf_puts(b, "],\"ok\":false,\"error\":");
	if (err == RELAY_OK)
		err = put_str(b, why);
	if (err == RELAY_OK)
		err = buf_append(b, "}", 1);
	return err;
}

/* "model":["provider/model",...]: a model's targets in order, named as
 * the breakers are. */
static enum relay_err
put_targets(struct buf *b, const struct config_model *m, int comma)
{
	enum relay_err err = comma ? buf_append(b, ",", 1) : RELAY_OK;
	size_t j;

	if (err == RELAY_OK)
		err = put_str(b, m->name);
	if (err == RELAY_OK)
		err = buf_puts(b, ":[");
	for (j = 0; err == RELAY_OK && j < m->ntargets; j++) {
		err = buf_puts(b, j > 0 ? ",\"" : "\"");
		if (err == RELAY_OK)
			err = buf_json_escape(b, m->targets[j].provider->name,
			    strlen(m->targets[j].provider->name));
		if (err == RELAY_OK)
			err = buf_append(b, "/", 1);
		if (err == RELAY_OK && m->targets[j].model != NULL)
			err = buf_json_escape(b, m->targets[j].model,
			    strlen(m->targets[j].model));
		if (err == RELAY_OK)
			err = buf_append(b, "\"", 1);
	}
	if (err == RELAY_OK)
		err = buf_append(b, "]", 1);
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
		err = buf_puts(&b, "],\"targets\":{");
	for (i = 0; err == RELAY_OK && i < cfg->nmodels; i++)
		err = put_targets(&b, &cfg->models[i], i > 0);
	if (err == RELAY_OK)
		err = buf_puts(&b, "}},\"memcached\":");
	if (err == RELAY_OK)
		err = put_memcached(req, cfg, &b);
	if (err == RELAY_OK)
		err = buf_puts(&b, ",\"breakers\":");
	if (err == RELAY_OK)
		err = breaker_report(req->ctx->kv, cfg, &b);
	if (err == RELAY_OK)
		err = benched_keys(req, cfg, &b);
	if (err == RELAY_OK)
		err = buf_puts(&b, "}");
	if (err == RELAY_OK)
		err =
		    req_send_full(req, 200, "application/json", b.data, b.len);
	else
		apierr_send_err(req, DIALECT_OPENAI, err, NULL);
	buf_reset(&b);
}

static void
send_json(struct relay_req *req, int status, json_t *v)
{
	struct buf b;

	buf_init(&b, 64 * 1024 * 1024);
	if (jsonx_dump(v, &b) != RELAY_OK)
		apierr_send_err(req, DIALECT_OPENAI, RELAY_ENOMEM, NULL);
	else if (req_send_full(req, status, "application/json", b.data,
		     b.len) != RELAY_OK)
		req->status = 499;
	buf_reset(&b);
}

/* Answer the outcome of a keys_admin_* call. */
static void
answer(struct relay_req *req, enum relay_err err, int status, json_t *out,
    const char *msg)
{
	if (err == RELAY_OK && out != NULL)
		send_json(req, status, out);
	else if (err == RELAY_OK) {
		if (req_send_full(req, 204, "application/json", "", 0) !=
		    RELAY_OK)
			req->status = 499;
	} else if (err == RELAY_ENOTFOUND)
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "key_not_found",
		    "No key with that id.");
	else if (err == RELAY_EINVAL)
		apierr_send(
		    req, DIALECT_OPENAI, 400, NULL, "invalid_value", "%s", msg);
	else
		apierr_send_err(req, DIALECT_OPENAI, err, msg);
	json_decref(out);
}

/* The request body as a JSON object; NULL when answered. */
static json_t *
body_json(struct relay_req *req)
{
	char msg[256];
	json_t *v = NULL;
	enum relay_err err = req_read_body(req, ADMIN_BODY_MAX);

	if (err == RELAY_OK && req->body.len == 0)
		return json_object();
	if (err == RELAY_OK)
		err = jsonx_parse(
		    req->body.data, req->body.len, &v, msg, sizeof(msg));
	if (err == RELAY_OK && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
		snprintf(msg, sizeof(msg), "the body must be a JSON object");
		err = RELAY_EINVAL;
	}
	if (err == RELAY_EINVAL)
		apierr_send(
		    req, DIALECT_OPENAI, 400, NULL, "invalid_json", "%s", msg);
	else if (err != RELAY_OK)
		apierr_send_err(req, DIALECT_OPENAI, err, NULL);
	return v;
}

/* /admin/keys/{id}[/action]: split into id and action (may be empty). */
static int
key_path(struct span rest, char *id, size_t idsz, struct span *action)
{
	const char *slash = memchr(rest.p, '/', rest.len);
	size_t n = slash != NULL ? (size_t)(slash - rest.p) : rest.len;

	if (n == 0 || n >= idsz)
		return 0;
	memcpy(id, rest.p, n);
	id[n] = '\0';
	action->p = slash != NULL ? slash + 1 : "";
	action->len = slash != NULL ? rest.len - n - 1 : 0;
	return 1;
}

static void
key_action(
    struct relay_req *req, const char *path, const char *id, struct span action)
{
	char msg[256] = "";
	json_t *out = NULL, *body;
	enum relay_err err;

	if (action.len == 0 && req->method == REQ_GET)
		err = keys_admin_get(path, id, &out, msg, sizeof(msg));
	else if (action.len == 0 && req->method == REQ_DELETE)
		err = keys_admin_delete(path, id, msg, sizeof(msg));
	else if (span_eq(action, "rotate") && req->method == REQ_POST)
		err = keys_admin_rotate(path, id, &out, msg, sizeof(msg));
	else if ((span_eq(action, "disable") || span_eq(action, "enable")) &&
	    req->method == REQ_POST) {
		body =
		    json_pack("{s:b}", "disabled", span_eq(action, "disable"));
		err = body != NULL
		    ? keys_admin_update(path, id, body, &out, msg, sizeof(msg))
		    : RELAY_ENOMEM;
		json_decref(body);
	} else if (action.len == 0 &&
	    (req->method == REQ_PATCH || req->method == REQ_PUT)) {
		body = body_json(req);
		if (body == NULL)
			return;
		err = keys_admin_update(path, id, body, &out, msg, sizeof(msg));
		json_decref(body);
	} else {
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_url",
		    "Unknown admin URL or method");
		return;
	}
	answer(req, err, 200, out, msg);
}

static void query_get(
    struct span q, const char *name, char *out, size_t outsz, const char *def);

/* GET /admin/keys?use=1: each key with "use", its counters now (this
 * minute's requests and tokens, today's tokens, this month's spend, slots
 * in flight), one memcached round trip per key. memcached down: the keys
 * without "use" and "use_error" on the list. */
static enum relay_err
add_use(struct relay_req *req, json_t *list)
{
	json_t *data = json_object_get(list, "data"), *k, *u;
	long long now = (long long)time(NULL);
	struct quota_use q;
	size_t i;

	json_array_foreach (data, i, k) {
		const char *id = json_string_value(json_object_get(k, "id"));

		if (id == NULL)
			continue;
		if (quota_use(req->ctx->kv, id, now, &q) != RELAY_OK)
			return json_object_set_new(list, "use_error",
				   json_string("memcached did not answer")) == 0
			    ? RELAY_OK
			    : RELAY_ENOMEM;
		u = json_pack("{s:I,s:I,s:I,s:f,s:I}", "minute_requests",
		    (json_int_t)q.minute_requests, "minute_tokens",
		    (json_int_t)q.minute_tokens, "day_tokens",
		    (json_int_t)q.day_tokens, "month_usd",
		    (double)q.month_micro_usd / 1e6, "in_flight",
		    (json_int_t)q.in_flight);
		if (u == NULL || json_object_set_new(k, "use", u) != 0)
			return RELAY_ENOMEM;
	}
	return RELAY_OK;
}

static void
keys_route(struct relay_req *req, const struct config *cfg)
{
	static const char prefix[] = "/admin/keys/";
	char path[1200], msg[256] = "", id[64];
	struct span rest, action;
	json_t *out = NULL, *body;
	enum relay_err err;

	if (snprintf(path, sizeof(path), "%s/keys.json", cfg->data_dir) >=
	    (int)sizeof(path)) {
		apierr_send_err(req, DIALECT_OPENAI, RELAY_EINVAL, "data_dir");
		return;
	}
	if (span_eq(req->path, "/admin/keys")) {
		if (req->method == REQ_GET) {
			char use[4];

			err = keys_admin_list(path, &out, msg, sizeof(msg));
			query_get(req->query, "use", use, sizeof(use), "0");
			if (err == RELAY_OK && strcmp(use, "1") == 0)
				err = add_use(req, out);
			answer(req, err, 200, out, msg);
			return;
		}
		if (req->method != REQ_POST) {
			apierr_send(req, DIALECT_OPENAI, 405, NULL,
			    "method_not_allowed", "Use GET or POST");
			return;
		}
		body = body_json(req);
		if (body == NULL)
			return;
		err = keys_admin_create(path, body, &out, msg, sizeof(msg));
		json_decref(body);
		answer(req, err, 201, out, msg);
		return;
	}
	rest.p = req->path.p + sizeof(prefix) - 1;
	rest.len = req->path.len - (sizeof(prefix) - 1);
	if (!key_path(rest, id, sizeof(id), &action)) {
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_url",
		    "Unknown admin URL");
		return;
	}
	key_action(req, path, id, action);
}

/* POST /admin/credentials: the provider must exist in the config. */
static void
cred_add(struct relay_req *req, const struct config *cfg, const char *path)
{
	json_t *body = body_json(req), *out = NULL;
	const char *prov;
	char msg[256] = "";
	enum relay_err err;
	size_t i;

	if (body == NULL)
		return;
	prov = json_string_value(json_object_get(body, "provider"));
	for (i = 0; prov != NULL && i < cfg->nproviders; i++)
		if (strcmp(cfg->providers[i].name, prov) == 0)
			break;
	if (prov != NULL && i == cfg->nproviders) {
		snprintf(msg, sizeof(msg),
		    "provider: no provider \"%.64s\" "
		    "in the config",
		    prov);
		err = RELAY_EINVAL;
	} else
		err = creds_admin_add(
		    path, &req->ctx->master, body, &out, msg, sizeof(msg));
	json_decref(body);
	answer(req, err, 201, out, msg);
}

static void
creds_route(struct relay_req *req, const struct config *cfg)
{
	static const char prefix[] = "/admin/credentials/";
	char path[1200], msg[256] = "";
	json_t *out = NULL;
	enum relay_err err;

	if (snprintf(path, sizeof(path), "%s/credentials.json",
		cfg->data_dir) >= (int)sizeof(path)) {
		apierr_send_err(req, DIALECT_OPENAI, RELAY_EINVAL, "data_dir");
		return;
	}
	if (span_eq(req->path, "/admin/credentials") &&
	    req->method == REQ_GET) {
		err = creds_admin_list(path, &out, msg, sizeof(msg));
		answer(req, err, 200, out, msg);
	} else if (span_eq(req->path, "/admin/credentials") &&
	    req->method == REQ_POST)
		cred_add(req, cfg, path);
	else if (span_eq(req->path, "/admin/credentials/reencrypt") &&
	    req->method == REQ_POST) {
		err = creds_admin_reencrypt(
		    path, &req->ctx->master, &out, msg, sizeof(msg));
		answer(req, err, 200, out, msg);
	} else if (req->method == REQ_DELETE &&
	    req->path.len > sizeof(prefix) - 1 && req->path.len < 128) {
		char id[128];

		snprintf(id, sizeof(id), "%.*s",
		    (int)(req->path.len - (sizeof(prefix) - 1)),
		    req->path.p + sizeof(prefix) - 1);
		err = creds_admin_delete(path, id, msg, sizeof(msg));
		answer(req, err, 200, out, msg);
	} else
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_url",
		    "Unknown admin URL or method");
}

/* A query parameter's value (copied into out), or def. */
static void
query_get(
    struct span q, const char *name, char *out, size_t outsz, const char *def)
{
	size_t n = strlen(name);
	const char *p = q.p, *end = q.p + q.len;

	snprintf(out, outsz, "%s", def);
	while (p != NULL && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t len =
		    amp != NULL ? (size_t)(amp - p) : (size_t)(end - p);

		if (len > n && memcmp(p, name, n) == 0 && p[n] == '=') {
			snprintf(
			    out, outsz, "%.*s", (int)(len - n - 1), p + n + 1);
			return;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
}

/* GET /admin/usage?from=YYYY-MM-DD&to=YYYY-MM-DD[&format=csv] */
static void
usage(struct relay_req *req, const struct config *cfg)
{
	char dir[1200], from[16], to[16], fmt[8], today[16];
	time_t now = time(NULL);
	enum relay_err err;
	struct tm tm;
	struct buf b;

	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	query_get(req->query, "from", from, sizeof(from), today);
	query_get(req->query, "to", to, sizeof(to), today);
	query_get(req->query, "format", fmt, sizeof(fmt), "json");
	snprintf(dir, sizeof(dir), "%s/ledger", cfg->data_dir);
	buf_init(&b, 64 * 1024 * 1024);
	err = ledger_report(dir, from, to, strcmp(fmt, "csv") == 0, &b);
	if (err == RELAY_EINVAL)
		apierr_send(req, DIALECT_OPENAI, 400, NULL, "invalid_value",
		    "from and to are days: YYYY-MM-DD");
	else if (err != RELAY_OK)
		apierr_send_err(req, DIALECT_OPENAI, err, NULL);
	else if (req_send_full(req, 200,
		     strcmp(fmt, "csv") == 0 ? "text/csv" : "application/json",
		     b.data, b.len) != RELAY_OK)
		req->status = 499;
	buf_reset(&b);
}

/* POST /admin/cache/purge {"all":true} | {"model":"m"} | {"key":"id"} */
static void
cache_purge_route(struct relay_req *req, const struct config *cfg)
{
	json_t *v = NULL, *all, *model, *key;
	const struct config_model *m;
	const char *name = NULL;
	enum cache_scope scope;
	char jerr[128];
	enum relay_err err;

	err = req_read_body(req, ADMIN_BODY_MAX);
	if (err == RELAY_OK)
		err = jsonx_parse(
		    req->body.data, req->body.len, &v, jerr, sizeof(jerr));
	all = json_object_get(v, "all");
	model = json_object_get(v, "model");
	key = json_object_get(v, "key");
	if (err != RELAY_OK || !json_is_object(v) ||
	    (all != NULL) + (model != NULL) + (key != NULL) != 1 ||
	    (all != NULL && !json_is_true(all)) ||
	    (model != NULL && !json_is_string(model)) ||
	    (key != NULL && !json_is_string(key))) {
		json_decref(v);
		apierr_send(req, DIALECT_OPENAI, 400, NULL, "invalid_value",
		    "send one of {\"all\":true}, {\"model\":\"name\"} or "
		    "{\"key\":\"key id\"}");
		return;
	}
	scope = all != NULL ? CACHE_PURGE_ALL
	    : model != NULL ? CACHE_PURGE_MODEL
			    : CACHE_PURGE_KEY;
	if (model != NULL) {
		m = config_find_model(cfg,
		    (struct span){
			json_string_value(model), json_string_length(model)});
		if (m == NULL) {
			apierr_send(req, DIALECT_OPENAI, 404, NULL,
			    "model_not_found", "no model %.200s",
			    json_string_value(model));
			json_decref(v);
			return;
		}
		name = m->name;
	} else if (key != NULL)
		name = json_string_value(key);
	err = cache_purge(req->ctx->kv, scope, name);
	if (err != RELAY_OK)
		apierr_send(req, DIALECT_OPENAI, 503, NULL, "cache_unavailable",
		    "memcached did not answer; nothing "
		    "was purged");
	else {
		json_t *out = json_pack("{s:s,s:s?}", "purged",
		    scope == CACHE_PURGE_ALL         ? "all"
			: scope == CACHE_PURGE_MODEL ? "model"
						     : "key",
		    "name", name);

		if (out == NULL)
			apierr_send_err(
			    req, DIALECT_OPENAI, RELAY_ENOMEM, NULL);
		else
			send_json(req, 200, out);
		json_decref(out);
	}
	json_decref(v);
}

/* Wrap a list for the answer: {"object":"list","data":list}. */
static void
send_list(struct relay_req *req, enum relay_err err, json_t *list)
{
	json_t *out = NULL;

	if (err == RELAY_OK)
		out = json_pack("{s:s,s:o}", "object", "list", "data", list);
	else
		json_decref(list);
	if (out == NULL)
		apierr_send_err(req, DIALECT_OPENAI,
		    err != RELAY_OK ? err : RELAY_ENOMEM, NULL);
	else
		send_json(req, 200, out);
	json_decref(out);
}

/* GET /admin/logs?id=REQUEST_ID | ?errors=1 [&n=N]: access log lines of
 * this host (RELAY_ACCESS_LOG), newest first. */
static void
logs_route(struct relay_req *req)
{
	const char *path = getenv("RELAY_ACCESS_LOG");
	char id[80], errors[4], nbuf[8];
	json_t *list = NULL;
	enum relay_err err;
	long long n;

	query_get(req->query, "id", id, sizeof(id), "");
	query_get(req->query, "errors", errors, sizeof(errors), "0");
	query_get(req->query, "n", nbuf, sizeof(nbuf), "50");
	if (num_parse(nbuf, 1, RELAY_ADMIN_LOG_LINES_MAX, &n) != RELAY_OK)
		n = RELAY_ADMIN_LOG_LINES_MAX;
	if (path == NULL || *path == '\0') {
		send_list(req, RELAY_OK, json_array());
		return;
	}
	err = adminview_log(path, id[0] != '\0' ? id : NULL,
	    strcmp(errors, "1") == 0, (size_t)n, &list);
	send_list(req, err, list);
}

static void
processes_route(struct relay_req *req)
{
	json_t *list = NULL;
	enum relay_err err = adminview_processes(server_metrics_dir(), &list);

	send_list(req, err, list);
}

static int
has_prefix(struct span s, const char *p)
{
	size_t n = strlen(p);

	return s.len >= n && memcmp(s.p, p, n) == 0;
}

static void
handle(struct relay_req *req)
{
	struct config *cfg;

	if (ui_path(req->path)) {
		ui_serve(req);
		return;
	}
	/* Admin answers are never cached nor sniffed into something else. */
	if (req_add_header(req, "Cache-Control: no-store") != RELAY_OK ||
	    req_add_header(req, "X-Content-Type-Options: nosniff") != RELAY_OK)
		req->status = 500;
	if (!auth_admin(req))
		return;
	cfg = config_acquire(req->ctx->config);
	if (span_eq(req->path, "/admin/status") && req->method == REQ_GET)
		status(req, cfg);
	else if (span_eq(req->path, "/admin/usage") && req->method == REQ_GET)
		usage(req, cfg);
	else if (span_eq(req->path, "/admin/logs") && req->method == REQ_GET)
		logs_route(req);
	else if (span_eq(req->path, "/admin/processes") &&
	    req->method == REQ_GET)
		processes_route(req);
	else if (span_eq(req->path, "/admin/cache/purge") &&
	    req->method == REQ_POST)
		cache_purge_route(req, cfg);
	else if (span_eq(req->path, "/admin/keys") ||
	    has_prefix(req->path, "/admin/keys/"))
		keys_route(req, cfg);
	else if (span_eq(req->path, "/admin/credentials") ||
	    has_prefix(req->path, "/admin/credentials/"))
		creds_route(req, cfg);
	else
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_url",
		    "Unknown admin URL");
	config_release(cfg);
}

/* relay-admin verify-access-log FILE...: check each day file's hash
 * chain (access_log.hash_chain); 0 when every one holds, 1 when one does
 * not (the first bad line named), 2 on usage. */
static int
verify_access_log(int n, char **files)
{
	char why[256];
	long lines;
	int i, bad = 0;
	enum relay_err err;

	if (n == 0) {
		fprintf(stderr,
		    "usage: relay-admin verify-access-log "
		    "FILE...\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		err = accesslog_verify(files[i], &lines, why, sizeof(why));
		if (err == RELAY_OK)
			printf("%s: ok, %ld lines chained\n", files[i], lines);
		else {
			printf("%s: BROKEN at line %ld: %s\n", files[i], lines,
			    why[0] != '\0' ? why : err_name(err));
			bad = 1;
		}
	}
	return bad;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "verify-access-log") == 0)
		return verify_access_log(argc - 2, argv + 2);
	return server_main(argc, argv, "relay-admin", handle);
}
