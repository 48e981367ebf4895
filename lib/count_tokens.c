/* SPDX-License-Identifier: MIT */
/* count_tokens.c - token counting: the target's own endpoint, or the
 * relay's estimate (see count_tokens.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "apierr.h"
#include "count_tokens.h"
#include "creds.h"
#include "keypool.h"
#include "limits.h"
#include "log.h"
#include "override.h"
#include "mem.h"
#include "req.h"
#include "server.h"
#include "target.h"
#include "upstream.h"

#define FAIL(name, ...) ir_fail(eb, es, param, name, __VA_ARGS__)

/* --- parse ------------------------------------------------------------- */

static enum relay_err
an_parse(
    json_t *root, struct span *model, char *eb, size_t es, const char **param)
{
	json_t *m = json_object_get(root, "model");

	if (!json_is_string(m) || json_string_length(m) == 0 ||
	    json_string_length(m) > RELAY_NAME_MAX)
		return FAIL("model", "model: Field required");
	if (!json_is_array(json_object_get(root, "messages")))
		return FAIL("messages", "messages: Field required");
	model->p = json_string_value(m);
	model->len = json_string_length(m);
	return RELAY_OK;
}

static enum relay_err
gm_parse(json_t *root, char *eb, size_t es, const char **param)
{
	json_t *gcr = json_object_get(root, "generateContentRequest");
	json_t *c = json_object_get(root, "contents");

	if (gcr != NULL && c != NULL)
		return FAIL("contents",
		    "contents and generateContentRequest are mutually "
		    "exclusive");
	if (gcr != NULL) {
		if (!json_is_object(gcr))
			return FAIL("generateContentRequest",
			    "generateContentRequest: must be an object");
		c = json_object_get(gcr, "contents");
	}
	if (!json_is_array(c))
		return FAIL("contents",
		    "* CountTokensRequest.contents: contents is not "
		    "specified");
	return RELAY_OK;
}

enum relay_err
count_parse(enum dialect d, struct span body, json_t **root, struct span *model,
    char *eb, size_t es, const char **param)
{
	enum relay_err err;

	*param = NULL;
	*root = NULL;
	err = jsonx_parse(body.p, body.len, root, eb, es);
	if (err != RELAY_OK)
		return err;
	if (!json_is_object(*root))
		err = FAIL(NULL, "the request body must be a JSON object");
	else if (d == DIALECT_ANTHROPIC)
		err = an_parse(*root, model, eb, es, param);
	else if (d == DIALECT_GEMINI)
		err = gm_parse(*root, eb, es, param);
	else
		err =
		    FAIL(NULL, "token counting is not served in this dialect");
	if (err != RELAY_OK) {
		json_decref(*root);
		*root = NULL;
	}
	return err;
}

/* --- estimate ------------------------------------------------------------ */

struct est {
	size_t bytes; /* text bytes */
	size_t items; /* images and documents that are not text */
};

/* Members that are structure, ids or opaque data, not text a model reads;
 * and subtrees of settings. */
static int
skipped(const char *k)
{
	static const char *const keys[] = {"model", "type", "role",
	    "media_type", "mimeType", "mime_type", "signature",
	    "thoughtSignature", "thought_signature", "id", "tool_use_id",
	    "cache_control", "metadata", "output_config", "thinking",
	    "context_management", "generationConfig", "generation_config",
	    "safetySettings", "safety_settings", "toolConfig", "tool_config",
	    "tool_choice", "cachedContent", "data", "url", "fileUri",
	    "file_uri"};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i]) == 0)
			return 1;
	return 0;
}

/* An image, a PDF, a file: something counted as a whole. */
static int
media(const json_t *o)
{
	const char *t = json_string_value(json_object_get(o, "type"));
	const json_t *src = json_object_get(o, "source");
	const char *st = json_string_value(json_object_get(src, "type"));

	if (json_object_get(o, "inlineData") != NULL ||
	    json_object_get(o, "inline_data") != NULL ||
	    json_object_get(o, "fileData") != NULL ||
	    json_object_get(o, "file_data") != NULL)
		return 1;
	if (t == NULL)
		return 0;
	if (strcmp(t, "image") == 0)
		return 1;
	return strcmp(t, "document") == 0 && st != NULL &&
	    strcmp(st, "text") != 0 && strcmp(st, "content") != 0;
}

static void
walk(const json_t *v, struct est *e, int in_props, size_t depth)
{
	const char *k;
	json_t *c;
	size_t i;

	if (depth > RELAY_JSON_DEPTH_MAX)
		return;
	if (json_is_string(v)) {
		e->bytes += json_string_length(v);
		return;
	}
	if (json_is_array(v)) {
		json_array_foreach (v, i, c)
			walk(c, e, 0, depth + 1);
		return;
	}
	if (!json_is_object(v))
		return;
	if (media(v)) {
		e->items++;
		return;
	}
	json_object_foreach ((json_t *)v, k, c) {
		/* A schema's property names are words the model reads. */
		if (in_props)
			e->bytes += strlen(k);
		if (!in_props && skipped(k))
			continue;
		walk(
		    c, e, !in_props && strcmp(k, "properties") == 0, depth + 1);
	}
}

long long
count_estimate(enum dialect d, const json_t *root)
{
	const json_t *conv = root, *msgs;
	struct est e = {0, 0};
	unsigned long long n;

	if (d == DIALECT_GEMINI &&
	    json_is_object(json_object_get(root, "generateContentRequest")))
		conv = json_object_get(root, "generateContentRequest");
	msgs = json_object_get(
	    conv, d == DIALECT_GEMINI ? "contents" : "messages");
	walk(conv, &e, 0, 0);
	n = (e.bytes + 3) / 4 +
	    (unsigned long long)json_array_size(msgs) * RELAY_COUNT_MSG_TOKENS +
	    (unsigned long long)e.items * RELAY_COUNT_IMAGE_TOKENS;
	if (n < 1)
		n = 1;
	return n > (unsigned long long)LLONG_MAX / 2 ? LLONG_MAX / 2
						     : (long long)n;
}

enum relay_err
count_answer(enum dialect d, long long n, struct buf *out)
{
	return buf_printf(out, "{\"%s\":%lld}",
	    d == DIALECT_GEMINI ? "totalTokens" : "input_tokens", n);
}

/* --- the target's own endpoint ---------------------------------------- */

struct collect {
	struct buf body;
	int status;
	char ctype[128];
};

static enum relay_err
on_head(void *arg, const struct upstream_head *h)
{
	struct collect *cl = arg;

	cl->status = h->status;
	snprintf(cl->ctype, sizeof(cl->ctype), "%s",
	    h->content_type != NULL && h->content_type[0] != '\0'
		? h->content_type
		: "application/json");
	return RELAY_OK;
}

static enum relay_err
on_data(void *arg, const char *p, size_t n)
{
	struct collect *cl = arg;

	return buf_append(&cl->body, p, n);
}

/* The first target of m by priority that speaks d, or NULL. */
static const struct config_target *
counting_target(const struct config_model *m, enum dialect d)
{
	const struct config_target *best = NULL;
	size_t i;

	for (i = 0; i < m->ntargets; i++) {
		const struct config_target *t = &m->targets[i];

		if (target_dialect(t->provider->type) != d)
			continue;
		if (best == NULL || t->priority < best->priority)
			best = t;
	}
	return best;
}

/* The body for the target: Anthropic's "model" (or Gemini's
 * generateContentRequest.model, "models/{m}") names the upstream model. */
static enum relay_err
upstream_body(
    enum dialect d, const json_t *root, const char *model, struct buf *out)
{
	char name[RELAY_NAME_MAX + 8];
	json_t *copy, *gcr;
	enum relay_err err;

	if (d == DIALECT_GEMINI &&
	    json_object_get(root, "generateContentRequest") == NULL)
		return RELAY_OK; /* the client's bytes, as they are */
	copy = json_copy((json_t *)root);
	if (copy == NULL)
		return RELAY_ENOMEM;
	if (d == DIALECT_GEMINI) {
		snprintf(name, sizeof(name), "models/%s", model);
		gcr =
		    json_copy(json_object_get(copy, "generateContentRequest"));
		err = gcr == NULL ||
			ir_set(gcr, "model", json_string(name)) != 0 ||
			json_object_set_new(
			    copy, "generateContentRequest", gcr) != 0
		    ? RELAY_ENOMEM
		    : RELAY_OK;
	} else {
		err = ir_set(copy, "model", json_string(model)) != 0
		    ? RELAY_ENOMEM
		    : RELAY_OK;
	}
	if (err == RELAY_OK)
		err = jsonx_dump(copy, out);
	json_decref(copy);
	return err;
}

/* An answer of d's counting shape. */
static int
count_shaped(enum dialect d, const struct buf *b)
{
	char eb[64];
	json_t *v = NULL;
	int ok;

	if (jsonx_parse(b->data, b->len, &v, eb, sizeof(eb)) != RELAY_OK)
		return 0;
	ok = json_is_integer(json_object_get(
	    v, d == DIALECT_GEMINI ? "totalTokens" : "input_tokens"));
	json_decref(v);
	return ok;
}

static const char *
client_header(void *arg, const char *name)
{
	return req_header(arg, name);
}

/* Ask target t to count; 1 when req was answered from its answer. */
static int
ask(struct relay_req *req, const struct config *cfg,
    const struct config_target *t, enum dialect d, const json_t *root,
    struct span asked)
{
	const struct config_provider *p = t->provider;
	char model[RELAY_NAME_MAX + 1], path[RELAY_NAME_MAX + 64];
	struct keypool_choice kc;
	struct creds_snap *cs;
	struct target_req tr;
	struct upstream_call c;
	struct collect cl;
	struct buf body;
	enum relay_err err;
	int answered = 0;

	if (strcmp(t->model, "*") != 0)
		snprintf(model, sizeof(model), "%s", t->model);
	else if (asked.len <= RELAY_NAME_MAX && target_name_ok(p->type, asked))
		snprintf(model, sizeof(model), "%.*s", (int)asked.len, asked.p);
	else
		return 0;
	if (d == DIALECT_GEMINI)
		snprintf(
		    path, sizeof(path), "v1beta/models/%s:countTokens", model);
	else
		snprintf(path, sizeof(path), "v1/messages/count_tokens");
	target_init(&tr, 0);
	buf_init(&body, cfg->body_max + RELAY_NAME_MAX + 64);
	buf_init(&cl.body, RELAY_COUNT_ANSWER_MAX);
	cl.status = 0;
	cs = creds_acquire(req->ctx->creds);
	err = keypool_pick(req->ctx->kv, p, cs, &cfg->keypool, "", &kc);
	if (err == RELAY_OK)
		err = target_passthru(&tr, p, kc.key,
		    (struct span){path, strlen(path)}, (struct span){"", 0},
		    "application/json", "application/json",
		    d == DIALECT_ANTHROPIC ? req_header(req, "anthropic-beta")
					   : NULL);
	if (err == RELAY_OK)
		err = upstream_body(d, root, model, &body);
	if (err == RELAY_OK) {
		/* the provider's header overrides; its body ones are for
		 * generations (a count takes fewer members) */
		struct config_provider hp = *p;

		memset(&hp.ov.body_delete, 0, sizeof(hp.ov.body_delete));
		memset(&hp.ov.body_set_path, 0, sizeof(hp.ov.body_set_path));
		err = override_apply(
		    &tr, &hp, (struct span){"", 0}, client_header, req);
	}
	if (err == RELAY_OK)
		err = target_hop_headers(&tr, p, req->id,
		    req_header(req, "traceparent"), req->m_key_id);
	if (err != RELAY_OK)
		goto out;
	memset(&c, 0, sizeof(c));
	c.url = target_url(&tr);
	c.headers = tr.lines;
	c.nheaders = tr.nlines;
	c.body = body.len > 0        ? body.data
	    : req->body.data != NULL ? req->body.data
				     : "";
	c.body_len = body.len > 0 ? body.len : req->body.len;
	c.connect_ms = p->connect_ms;
	c.first_byte_ms = p->first_byte_ms;
	c.idle_ms = p->idle_ms;
	c.total_ms = p->total_ms;
	req_watch(req, &c.watch_fd, &c.watch_io);
	c.on_head = on_head;
	c.on_data = on_data;
	c.arg = &cl;
	err = upstream_perform(req->up, &c);
	if (kc.probe && c.status >= 200 && c.status < 300)
		keypool_unbench(req->ctx->kv, p->name, kc.fp);
	if (err != RELAY_OK) {
		log_warn("id=%s: count at %s failed, estimating: %s (%s)",
		    req->id, p->name, c.errmsg, c.detail);
		goto out;
	}
	/* Its count, or its word that the request is wrong: as they came.
	 * Anything else (a provider without the endpoint, a refused key,
	 * an outage) is the relay's to cover with its estimate. */
	if ((cl.status / 100 == 2 && count_shaped(d, &cl.body)) ||
	    cl.status == 400) {
		if (req_add_header(req, "x-relay-target: %s/%s", p->name,
			model) != RELAY_OK ||
		    req_add_header(req, "x-relay-count: upstream") != RELAY_OK)
			log_warn("id=%s: x-relay headers dropped", req->id);
		if (req_send_full(req, cl.status, cl.ctype,
			cl.body.data != NULL ? cl.body.data : "",
			cl.body.len) != RELAY_OK)
			log_warn("id=%s: count answer not sent", req->id);
		answered = 1;
	} else
		log_warn("id=%s: count at %s answered %d, estimating", req->id,
		    p->name, cl.status);
out:
	creds_release(cs);
	buf_reset(&cl.body);
	buf_reset(&body);
	target_reset(&tr);
	return answered;
}

void
count_tokens(struct relay_req *req, const struct config *cfg,
    const struct config_model *m, enum dialect d, const json_t *root,
    struct span asked)
{
	const struct config_target *t = counting_target(m, d);
	struct buf out;

	if (t != NULL && ask(req, cfg, t, d, root, asked))
		return;
	buf_init(&out, 64);
	if (count_answer(d, count_estimate(d, root), &out) != RELAY_OK ||
	    req_add_header(req, "x-relay-count: estimate") != RELAY_OK) {
		apierr_send_err(req, d, RELAY_ENOMEM, NULL);
		buf_reset(&out);
		return;
	}
	if (req_send_full(req, 200, "application/json", out.data, out.len) !=
	    RELAY_OK)
		log_warn("id=%s: count answer not sent", req->id);
	buf_reset(&out);
}
