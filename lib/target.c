/* SPDX-License-Identifier: MIT */
/* target.c - provider endpoints: OpenAI-compatible "{base}/chat/completions";
 * Azure "{base}/openai/deployments/{deployment}/chat/completions
 * ?api-version=V" with "api-key"; Anthropic "{base}/v1/messages" with
 * "x-api-key" and "anthropic-version"; Gemini "{base}/v1beta/models/{m}:
 * generateContent" or ":streamGenerateContent?alt=sse" with
 * "x-goog-api-key" (never "?key=": URLs end up in logs). */
#include <stdio.h>
#include <string.h>

#include "chatreq.h"
#include "jsonx.h"
#include "target.h"

enum dialect
target_dialect(enum provider_type t)
{
	switch (t) {
	case PROVIDER_ANTHROPIC: return DIALECT_ANTHROPIC;
	case PROVIDER_GEMINI: return DIALECT_GEMINI;
	case PROVIDER_OPENAI:
	case PROVIDER_AZURE:
	case PROVIDER__MAX: break;
	}
	return DIALECT_OPENAI;
}

void
target_init(struct target_req *tr, size_t body_max)
{
	memset(tr, 0, sizeof(*tr));
	buf_init(&tr->hb, 64 * 1024);
	buf_init(&tr->body, body_max);
}

void
target_reset(struct target_req *tr)
{
	if (tr->hb.data != NULL)
		explicit_bzero(tr->hb.data, tr->hb.len);
	buf_reset(&tr->hb);
	buf_reset(&tr->body);
	tr->nlines = 0;
	tr->url[0] = '\0';
}

/* One header line "name: value"; the lines[] pointers are fixed up at
 * the end, once hb stopped moving. */
static enum relay_err
line(struct target_req *tr, size_t *offs, const char *name, const char *value)
{
	enum relay_err err;

	if (tr->nlines >= TARGET_HEADERS_MAX)
		return RELAY_ETOOBIG;
	offs[tr->nlines++] = tr->hb.len;
	err = buf_printf(&tr->hb, "%s: %s", name, value);
	if (err == RELAY_OK)
		err = buf_append(&tr->hb, "", 1);
	return err;
}

static enum relay_err
auth_line(
    struct target_req *tr, size_t *offs, enum provider_type t, const char *key)
{
	enum relay_err err;
	size_t start;

	switch (t) {
	case PROVIDER_AZURE: return line(tr, offs, "api-key", key);
	case PROVIDER_ANTHROPIC: return line(tr, offs, "x-api-key", key);
	case PROVIDER_GEMINI: return line(tr, offs, "x-goog-api-key", key);
	case PROVIDER_OPENAI:
	case PROVIDER__MAX: break;
	}
	if (tr->nlines >= TARGET_HEADERS_MAX)
		return RELAY_ETOOBIG;
	start = tr->hb.len;
	offs[tr->nlines++] = start;
	err = buf_printf(&tr->hb, "Authorization: Bearer %s", key);
	if (err == RELAY_OK)
		err = buf_append(&tr->hb, "", 1);
	return err;
}

static enum relay_err
headers(struct target_req *tr, const struct config_provider *p, const char *key,
    int stream, const char *beta)
{
	size_t offs[TARGET_HEADERS_MAX], i;
	enum relay_err err;

	err = line(tr, offs, "Content-Type", "application/json");
	if (err == RELAY_OK)
		err = line(tr, offs, "Accept",
		    stream ? "text/event-stream" : "application/json");
	if (err == RELAY_OK && key != NULL)
		err = auth_line(tr, offs, p->type, key);
	if (err == RELAY_OK && p->type == PROVIDER_ANTHROPIC)
		err = line(tr, offs, "anthropic-version", p->api_version);
	if (err == RELAY_OK && p->type == PROVIDER_ANTHROPIC && beta != NULL &&
	    strlen(beta) < 1024 && strpbrk(beta, "\r\n") == NULL)
		err = line(tr, offs, "anthropic-beta", beta);
	for (i = 0; err == RELAY_OK && i < p->nheaders; i++)
		err = line(tr, offs, p->headers[i].name, p->headers[i].value);
	for (i = 0; err == RELAY_OK && i < tr->nlines; i++)
		tr->lines[i] = tr->hb.data + offs[i];
	return err;
}

static enum relay_err
url(struct target_req *tr, const struct config_target *t, int stream)
{
	const struct config_provider *p = t->provider;
	int n;

	switch (p->type) {
	case PROVIDER_AZURE:
		n = snprintf(tr->url, sizeof(tr->url),
		    "%s/openai/deployments/%s/chat/completions?api-version=%s",
		    p->base_url, t->model, p->api_version);
		break;
	case PROVIDER_ANTHROPIC:
		n = snprintf(
		    tr->url, sizeof(tr->url), "%s/v1/messages", p->base_url);
		break;
	case PROVIDER_GEMINI:
		n = snprintf(tr->url, sizeof(tr->url), "%s/v1beta/models/%s%s",
		    p->base_url, t->model,
		    stream ? ":streamGenerateContent?alt=sse"
			   : ":generateContent");
		break;
	case PROVIDER_OPENAI:
	case PROVIDER__MAX:
	default:
		n = snprintf(tr->url, sizeof(tr->url), "%s/chat/completions",
		    p->base_url);
		break;
	}
	return n > 0 && (size_t)n < sizeof(tr->url) ? RELAY_OK : RELAY_ETOOBIG;
}

/* A JSON string value, quotes included, for splicing. */
static enum relay_err
quoted(struct buf *b, const char *s)
{
	enum relay_err err = buf_append(b, "\"", 1);

	if (err == RELAY_OK)
		err = buf_json_escape(b, s, strlen(s));
	if (err == RELAY_OK)
		err = buf_append(b, "\"", 1);
	return err;
}

/* The client's stream_options with include_usage set. */
static enum relay_err
usage_options(const struct chatreq *cr, struct buf *val)
{
	json_t *opts = json_object_get(cr->root, "stream_options"), *copy;
	enum relay_err err;

	if (!json_is_object(opts))
		return buf_puts(val, "{\"include_usage\":true}");
	copy = json_deep_copy(opts);
	if (copy == NULL ||
	    json_object_set_new(copy, "include_usage", json_true()) != 0) {
		json_decref(copy);
		return RELAY_ENOMEM;
	}
	err = jsonx_dump(copy, val);
	json_decref(copy);
	return err;
}

/* Escaped keys defeat the raw scanner: re-serialise the whole body. */
static enum relay_err
reserialise(const struct chatreq *cr, const char *model, const char *opts,
    struct buf *out)
{
	json_t *copy = json_deep_copy(cr->root), *o = NULL;
	enum relay_err err = RELAY_ENOMEM;
	char jerr[64];

	buf_clear(out);
	if (copy == NULL ||
	    json_object_set_new(copy, "model", json_string(model)) != 0)
		goto out;
	if (opts != NULL &&
	    (jsonx_parse(opts, strlen(opts), &o, jerr, sizeof(jerr)) !=
		    RELAY_OK ||
		json_object_set_new(copy, "stream_options", o) != 0))
		goto out;
	err = jsonx_dump(copy, out);
out:
	json_decref(copy);
	return err;
}

/*
 * Same dialect: the client's bytes, with only "model" rewritten (OpenAI,
 * Anthropic) and, for an OpenAI stream, usage asked for. Leaves tr->body
 * empty when nothing needs changing.
 */
static enum relay_err
splice(struct target_req *tr, enum dialect d, const struct chatreq *cr,
    struct span body, const char *model, int stream)
{
	int need_model = d != DIALECT_GEMINI && !span_eq(cr->model, model);
	int need_usage = d == DIALECT_OPENAI && stream && !cr->include_usage;
	struct buf mval, oval, tmp;
	enum relay_err err = RELAY_OK;

	if (!need_model && !need_usage)
		return RELAY_OK;
	buf_init(&mval, RELAY_NAME_MAX * 6 + 2);
	buf_init(&oval, 64 * 1024);
	buf_init(&tmp, tr->body.max);
	if (need_model) {
		err = quoted(&mval, model);
		if (err == RELAY_OK)
			err = jsonx_set_member(body, "model", mval.data,
			    need_usage ? &tmp : &tr->body);
		body.p = tmp.data;
		body.len = tmp.len;
	}
	if (err == RELAY_OK && need_usage)
		err = usage_options(cr, &oval);
	if (err == RELAY_OK && need_usage)
		err = jsonx_set_member(
		    body, "stream_options", oval.data, &tr->body);
	if (err == RELAY_EINVAL)
		err = reserialise(
		    cr, model, need_usage ? oval.data : NULL, &tr->body);
	buf_reset(&tmp);
	buf_reset(&oval);
	buf_reset(&mval);
	return err;
}

enum relay_err
target_build(struct target_req *tr, enum dialect in, const struct chatreq *cr,
    struct span body, const struct config_target *t, const char *key,
    int stream, const char *anthropic_beta, char *errbuf, size_t errsz,
    const char **param)
{
	struct config_target wild;
	char asked[RELAY_NAME_MAX + 1];
	enum relay_err err;

	/* A wildcard model serves the name the client asked for. */
	if (strcmp(t->model, "*") == 0) {
		snprintf(asked, sizeof(asked), "%.*s",
		    (int)(cr->model.len > RELAY_NAME_MAX ? RELAY_NAME_MAX :
							   cr->model.len),
		    cr->model.p);
		wild = *t;
		wild.model = asked;
		t = &wild;
	}
	target_reset(tr);
	*param = NULL;
	tr->out = target_dialect(t->provider->type);
	memset(&tr->info, 0, sizeof(tr->info));
	tr->info.stream = stream;
	err = url(tr, t, stream);
	if (err == RELAY_OK && tr->out == in)
		err = splice(tr, in, cr, body, t->model, stream);
	else if (err == RELAY_OK)
		err = dialect_request(in, body, tr->out, t->model, &tr->body,
		    &tr->info, errbuf, errsz, param);
	if (err == RELAY_OK)
		err = headers(tr, t->provider, key, stream, anthropic_beta);
	return err;
}
