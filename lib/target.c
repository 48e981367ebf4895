/* SPDX-License-Identifier: MIT */
/* target.c - provider endpoints: OpenAI-compatible "{base}/chat/completions";
 * Azure "{base}/openai/deployments/{deployment}/chat/completions
 * ?api-version=V" with "api-key"; Anthropic "{base}/v1/messages" with
 * "x-api-key" and "anthropic-version"; Gemini "{base}/v1beta/models/{m}:
 * generateContent" or ":streamGenerateContent?alt=sse" with
 * "x-goog-api-key" (never "?key=": URLs end up in logs). A target with
 * "api": "responses": "{base}/responses", Azure "{base}/openai/v1/
 * responses" (the deployment is the body's model). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "chatreq.h"
#include "jsonx.h"
#include "rseal.h"
#include "target.h"
#include "tier.h"

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
	buf_init(&tr->url, RELAY_URL_MAX - 1);
}

const char *
target_url(const struct target_req *tr)
{
	return tr->url.data != NULL ? tr->url.data : "";
}

void
target_reset(struct target_req *tr)
{
	if (tr->hb.data != NULL)
		explicit_bzero(tr->hb.data, tr->hb.len);
	buf_reset(&tr->hb);
	buf_reset(&tr->body);
	tr->nlines = 0;
	buf_reset(&tr->url);
}

/* The call's URL from fmt: RELAY_ETOOBIG past RELAY_URL_MAX. */
static enum relay_err RELAY_PRINTF(2, 3)
    url_set(struct target_req *tr, const char *fmt, ...)
{
	enum relay_err err;
	va_list ap;

	buf_clear(&tr->url);
	va_start(ap, fmt);
	err = buf_vprintf(&tr->url, fmt, ap);
	va_end(ap);
	if (err == RELAY_OK || err == RELAY_ENOMEM)
		return err;
	return RELAY_ETOOBIG;
}

/* A header value libcurl may send as it is: no control byte (a CR or LF
 * would end the line and start one of the sender's choosing; RFC 9110
 * §5.5 allows HTAB, SP and visible bytes only). */
static int
ctl_free(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') ||
		    v[i] == 0x7f)
			return 0;
	return 1;
}

/* A header value the client chose (NULL: none): visible ASCII, SP and
 * HTAB, at most RELAY_UPSTREAM_HEADER_VALUE_MAX bytes. */
static int
client_value_ok(const char *v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != '\0'; i++)
		if ((unsigned char)v[i] >= 0x80 ||
		    i >= RELAY_UPSTREAM_HEADER_VALUE_MAX)
			return 0;
	return v == NULL || ctl_free(v);
}

/* One header line "name: value"; the lines[] pointers are fixed up at
 * the end, once hb stopped moving. RELAY_EINVAL for a value with a control
 * byte, whoever chose it. */
static enum relay_err
line(struct target_req *tr, size_t *offs, const char *name, const char *value)
{
	enum relay_err err;

	if (tr->nlines >= TARGET_HEADERS_MAX)
		return RELAY_ETOOBIG;
	if (!ctl_free(value))
		return RELAY_EINVAL;
	offs[tr->nlines++] = tr->hb.len;
	err = buf_printf(&tr->hb, "%s: %s", name, value);
	if (err == RELAY_OK)
		err = buf_append(&tr->hb, "", 1);
	return err;
}

enum relay_err
target_add_header(struct target_req *tr, const char *name, const char *value)
{
	size_t offs[TARGET_HEADERS_MAX], off = tr->hb.len, i;
	enum relay_err err;

	size_t n = strlen(name);

	if (!ctl_free(name) || !ctl_free(value))
		return RELAY_EINVAL;
	/* The operator's own header of that name (the provider's config
	 * "headers", already built in) wins. */
	for (i = 0; i < tr->nlines; i++)
		if (strncasecmp(tr->lines[i], name, n) == 0 &&
		    tr->lines[i][n] == ':')
			return RELAY_OK;
	if (tr->nlines >= TARGET_HEADERS_MAX)
		return RELAY_ETOOBIG;
	for (i = 0; i < tr->nlines; i++)
		offs[i] = (size_t)(tr->lines[i] - tr->hb.data);
	err = buf_printf(&tr->hb, "%s: %s", name, value);
	if (err == RELAY_OK)
		err = buf_append(&tr->hb, "", 1);
	if (err != RELAY_OK) {
		buf_truncate(&tr->hb, off);
		return err;
	}
	/* The buffer may have moved: the lines point into it. */
	for (i = 0; i < tr->nlines; i++)
		tr->lines[i] = tr->hb.data + offs[i];
	tr->lines[tr->nlines++] = tr->hb.data + off;
	return RELAY_OK;
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
	if (!ctl_free(key))
		return RELAY_EINVAL;
	start = tr->hb.len;
	offs[tr->nlines++] = start;
	err = buf_printf(&tr->hb, "Authorization: Bearer %s", key);
	if (err == RELAY_OK)
		err = buf_append(&tr->hb, "", 1);
	return err;
}

static enum relay_err
headers_as(struct target_req *tr, const struct config_provider *p,
    const char *key, const char *ctype, const char *accept, const char *beta)
{
	size_t offs[TARGET_HEADERS_MAX], i;
	enum relay_err err;

	err = ctype != NULL ? line(tr, offs, "Content-Type", ctype) : RELAY_OK;
	if (err == RELAY_OK && accept != NULL)
		err = line(tr, offs, "Accept", accept);
	if (err == RELAY_OK && key != NULL)
		err = auth_line(tr, offs, p->type, key);
	if (err == RELAY_OK && p->type == PROVIDER_ANTHROPIC)
		err = line(tr, offs, "anthropic-version", p->api_version);
	if (err == RELAY_OK && p->type == PROVIDER_ANTHROPIC && beta != NULL)
		err = line(tr, offs, "anthropic-beta", beta);
	for (i = 0; err == RELAY_OK && i < p->nheaders; i++)
		err = line(tr, offs, p->headers[i].name, p->headers[i].value);
	for (i = 0; err == RELAY_OK && i < tr->nlines; i++)
		tr->lines[i] = tr->hb.data + offs[i];
	return err;
}

static enum relay_err
headers(struct target_req *tr, const struct config_provider *p, const char *key,
    int stream, const char *beta)
{
	return headers_as(tr, p, key, "application/json",
	    stream ? "text/event-stream" : "application/json", beta);
}

static enum relay_err
url(struct target_req *tr, const struct config_target *t, int stream)
{
	const struct config_provider *p = t->provider;

	if (t->responses) /* the deployment is the body's model */
		return url_set(tr, "%s%s/responses", p->base_url,
		    p->type == PROVIDER_AZURE ? "/openai/v1" : "");
	switch (p->type) {
	case PROVIDER_AZURE:
		return url_set(tr,
		    "%s/openai/deployments/%s/chat/completions?api-version=%s",
		    p->base_url, t->model, p->api_version);
	case PROVIDER_ANTHROPIC:
		return url_set(tr, "%s/v1/messages", p->base_url);
	case PROVIDER_GEMINI:
		return url_set(tr, "%s/v1beta/models/%s%s", p->base_url,
		    t->model,
		    stream ? ":streamGenerateContent?alt=sse"
			   : ":generateContent");
	case PROVIDER_OPENAI:
	case PROVIDER__MAX:
	default: break;
	}
	return url_set(tr, "%s/chat/completions", p->base_url);
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

/* Gemini's batchEmbedContents body from OpenAI's "input" strings. */
static enum relay_err
gemini_embed_body(struct target_req *tr, const struct chatreq *cr,
    const char *model, char *errbuf, size_t errsz, const char **param)
{
	json_t *in = json_object_get(cr->root, "input"), *reqs, *e, *doc;
	char name[RELAY_NAME_MAX + 8];
	enum relay_err err = RELAY_OK;
	size_t i;

	snprintf(name, sizeof(name), "models/%s", model);
	reqs = json_array();
	if (reqs == NULL)
		return RELAY_ENOMEM;
	if (json_is_string(in))
		err = json_array_append_new(reqs,
			  json_pack("{s:s,s:{s:[{s:O}]}}", "model", name,
			      "content", "parts", "text", in)) == 0
		    ? RELAY_OK
		    : RELAY_ENOMEM;
	json_array_foreach (json_is_array(in) ? in : NULL, i, e) {
		if (err != RELAY_OK)
			break;
		if (!json_is_string(e)) {
			snprintf(errbuf, errsz,
			    "'input' must hold strings for this model");
			*param = "input";
			err = RELAY_EINVAL;
			break;
		}
		if (json_array_append_new(reqs,
			json_pack("{s:s,s:{s:[{s:O}]}}", "model", name,
			    "content", "parts", "text", e)) != 0)
			err = RELAY_ENOMEM;
	}
	doc = err == RELAY_OK ? json_pack("{s:O}", "requests", reqs) : NULL;
	if (err == RELAY_OK)
		err = doc != NULL ? jsonx_dump(doc, &tr->body) : RELAY_ENOMEM;
	json_decref(doc);
	json_decref(reqs);
	return err;
}

/* POST /v1/embeddings to an OpenAI-compatible, Azure or Gemini target. */
static enum relay_err
embed_build(struct target_req *tr, const struct chatreq *cr, struct span body,
    const struct config_target *t, char *errbuf, size_t errsz,
    const char **param)
{
	const struct config_provider *p = t->provider;
	enum relay_err err;

	switch (p->type) {
	case PROVIDER_ANTHROPIC:
	case PROVIDER__MAX:
		snprintf(errbuf, errsz,
		    "The provider of this model offers no embeddings.");
		*param = "model";
		return RELAY_EINVAL;
	case PROVIDER_AZURE:
		err = url_set(tr,
		    "%s/openai/deployments/%s/embeddings?api-version=%s",
		    p->base_url, t->model, p->api_version);
		break;
	case PROVIDER_GEMINI:
		err = url_set(tr, "%s/v1beta/models/%s:batchEmbedContents",
		    p->base_url, t->model);
		break;
	case PROVIDER_OPENAI:
	default: err = url_set(tr, "%s/embeddings", p->base_url); break;
	}
	if (err != RELAY_OK)
		return err;
	if (p->type == PROVIDER_GEMINI)
		return gemini_embed_body(
		    tr, cr, t->model, errbuf, errsz, param);
	return splice(tr, DIALECT_OPENAI, cr, body, t->model, 0);
}

/* 1 when a Responses body holds an item the relay sealed. */
static int
has_sealed(struct span body)
{
	return memmem(body.p, body.len, "\"" RSEAL_REASONING_PREFIX,
		   sizeof(RSEAL_REASONING_PREFIX)) != NULL ||
	    memmem(body.p, body.len, "\"" RSEAL_COMPACTION_PREFIX,
		sizeof(RSEAL_COMPACTION_PREFIX)) != NULL;
}

/* One input item for a Responses target: the relay's reasoning left out
 * (it was sealed for a translated provider, never this one), its
 * compaction opened into a user message with the summary; NULL with
 * *skip for an item to leave out, NULL without it on failure (*err). */
static json_t *
unsealed_item(const struct chatreq *cr, json_t *it, int *skip,
    enum relay_err *err, char *errbuf, size_t errsz)
{
	const char *t = json_string_value(json_object_get(it, "type"));
	json_t *enc = json_object_get(it, "encrypted_content"), *o;
	const char *e = json_string_value(enc);
	size_t n = json_string_length(enc);
	struct buf sum;

	*skip = 0;
	if (t == NULL || e == NULL)
		return json_incref(it);
	if (strcmp(t, "reasoning") == 0 && rseal_reasoning_is(e, n)) {
		*skip = 1;
		return NULL;
	}
	if (strcmp(t, "compaction") != 0 || !rseal_compaction_is(e, n))
		return json_incref(it);
	buf_init(&sum, RELAY_BODY_MAX_CEILING);
	*err = cr->master != NULL
	    ? rseal_compaction_unwrap(cr->master, e, n, &sum)
	    : RELAY_EINVAL;
	o = *err != RELAY_OK ? NULL
			     : json_pack("{s:s,s:s,s:[{s:s,s:s%}]}", "type",
				   "message", "role", "user", "content", "type",
				   "input_text", "text", sum.data, sum.len);
	if (*err == RELAY_OK && o == NULL)
		*err = RELAY_ENOMEM;
	if (*err != RELAY_OK && *err != RELAY_ENOMEM) {
		*err = RELAY_EINVAL;
		snprintf(errbuf, errsz,
		    "A compaction item in 'input' was made by this relay but "
		    "no longer opens (its master key has changed): send the "
		    "history again.");
	}
	buf_reset(&sum);
	return o;
}

/*
 * A Responses body for a Responses target whose input holds items the
 * relay sealed (for a translated target, earlier in the conversation):
 * re-serialised with those items unsealed or left out (unsealed_item())
 * and the target's model.
 */
static enum relay_err
unsealed_body(struct target_req *tr, const struct chatreq *cr,
    const char *model, char *errbuf, size_t errsz, const char **param)
{
	json_t *copy = json_deep_copy(cr->root), *in, *items, *it, *o;
	enum relay_err err = RELAY_OK;
	size_t i;
	int skip;

	in = json_object_get(copy, "input");
	items = json_array();
	if (copy == NULL || items == NULL)
		err = RELAY_ENOMEM;
	json_array_foreach (err == RELAY_OK ? in : NULL, i, it) {
		o = unsealed_item(cr, it, &skip, &err, errbuf, errsz);
		if (o == NULL && !skip)
			break;
		if (o != NULL && json_array_append_new(items, o) != 0)
			err = RELAY_ENOMEM;
		if (err != RELAY_OK)
			break;
	}
	if (err == RELAY_EINVAL)
		*param = "input";
	if (err == RELAY_OK && json_is_array(in) &&
	    json_object_set(copy, "input", items) != 0)
		err = RELAY_ENOMEM;
	if (err == RELAY_OK &&
	    json_object_set_new(copy, "model", json_string(model)) != 0)
		err = RELAY_ENOMEM;
	if (err == RELAY_OK)
		err = jsonx_dump(copy, &tr->body);
	json_decref(items);
	json_decref(copy);
	return err;
}

static enum relay_err
chat_build(struct target_req *tr, enum dialect in, const struct chatreq *cr,
    struct span body, const struct config_target *t, int stream, char *errbuf,
    size_t errsz, const char **param)
{
	enum relay_err err = url(tr, t, stream);

	if (err == RELAY_OK && cr->compact && t->responses) {
		if (in != DIALECT_RESPONSES)
			return RELAY_EINVAL; /* the caller routes none here */
		if (buf_puts(&tr->url, "/compact") != RELAY_OK)
			return RELAY_ETOOBIG;
	}
	if (err != RELAY_OK)
		return err;
	if (tr->out == in && in == DIALECT_RESPONSES && has_sealed(body))
		return unsealed_body(tr, cr, t->model, errbuf, errsz, param);
	if (tr->out == in)
		return splice(tr, in, cr, body, t->model, stream);
	tr->info.reasoning_content = t->provider->reasoning_content;
	tr->info.master = cr->master;
	snprintf(tr->info.provider, sizeof(tr->info.provider), "%s",
	    t->provider->name);
	/* A Responses compaction, asked of a translated target. */
	tr->info.compact = cr->compact && in == DIALECT_RESPONSES;
	return dialect_request(in, body, tr->out, t->model, &tr->body,
	    &tr->info, errbuf, errsz, param);
}

/* A byte a client-chosen model name may hold for provider type t (see
 * target_name_ok()). */
static int
name_byte_ok(enum provider_type t, unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
		return 1;
	switch (t) {
	case PROVIDER_OPENAI:
	case PROVIDER_ANTHROPIC:
		/* Only in the JSON body: vendors name models "org/model",
		 * "model:tag", "model@version". */
		return c == '/' || c == ':' || c == '@' || c == '+';
	case PROVIDER_AZURE:
	case PROVIDER_GEMINI:
	case PROVIDER__MAX: break;
	}
	return 0;
}

int
target_name_ok(enum provider_type t, struct span name)
{
	size_t i, seg = 0, n;

	if (name.len == 0 || name.len > RELAY_NAME_MAX)
		return 0;
	for (i = 0; i <= name.len; i++) {
		if (i < name.len && !name_byte_ok(t, (unsigned char)name.p[i]))
			return 0;
		if (i < name.len && name.p[i] != '/')
			continue;
		/* The end of a '/'-separated part: never empty, "." or "..". */
		n = i - seg;
		if (n == 0 ||
		    (n <= 2 && name.p[seg] == '.' &&
			name.p[seg + n - 1] == '.'))
			return 0;
		seg = i + 1;
	}
	return 1;
}

/* Why a wildcard's name was refused, in words for the client. */
static void
name_refused(enum provider_type t, char *errbuf, size_t errsz)
{
	snprintf(errbuf, errsz,
	    "The model name may hold only letters, digits and %s "
	    "(at most %d bytes; never a \".\" or \"..\" part) for this "
	    "model's provider.",
	    t == PROVIDER_OPENAI || t == PROVIDER_ANTHROPIC ? "- . _ / : @ +"
							    : "- . _",
	    RELAY_NAME_MAX);
}

/*
 * What the client chose that reaches the upstream besides its body: a
 * wildcard model's name (into the URL or the body) and the anthropic-beta
 * header. RELAY_EINVAL with the reason in errbuf and *param when either
 * is outside its safe set.
 */
static enum relay_err
client_choices(const struct chatreq *cr, const struct config_target *t,
    const char *beta, char *errbuf, size_t errsz, const char **param)
{
	enum provider_type type = t->provider->type;

	if (strcmp(t->model, "*") == 0 && !target_name_ok(type, cr->model)) {
		name_refused(type, errbuf, errsz);
		*param = "model";
		return RELAY_EINVAL;
	}
	if (type == PROVIDER_ANTHROPIC && !client_value_ok(beta)) {
		snprintf(errbuf, errsz,
		    "The anthropic-beta header may hold only visible ASCII "
		    "characters and spaces, at most %d bytes.",
		    RELAY_UPSTREAM_HEADER_VALUE_MAX);
		*param = "anthropic-beta";
		return RELAY_EINVAL;
	}
	return RELAY_OK;
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

	target_reset(tr);
	*param = NULL;
	if (errsz > 0)
		errbuf[0] = '\0';
	err = client_choices(cr, t, anthropic_beta, errbuf, errsz, param);
	if (err != RELAY_OK)
		return err;
	/* A wildcard model serves the name the client asked for (checked
	 * above: it fits asked, and holds no NUL). */
	if (strcmp(t->model, "*") == 0) {
		memcpy(asked, cr->model.p, cr->model.len);
		asked[cr->model.len] = '\0';
		wild = *t;
		wild.model = asked;
		t = &wild;
	}
	tr->out = t->responses ? DIALECT_RESPONSES
			       : target_dialect(t->provider->type);
	memset(&tr->info, 0, sizeof(tr->info));
	tr->info.stream = stream;
	if (cr->embed)
		err = embed_build(tr, cr, body, t, errbuf, errsz, param);
	else
		err = chat_build(
		    tr, in, cr, body, t, stream, errbuf, errsz, param);
	if (err == RELAY_OK)
		err = headers(tr, t->provider, key, stream, anthropic_beta);
	if (err == RELAY_EINVAL && *param == NULL && errbuf[0] == '\0')
		snprintf(errbuf, errsz,
		    "The relay cannot form a valid request for this model's "
		    "provider.");
	return err;
}

/* A relative path that cannot leave the provider's base URL. */
static int
safe_path(struct span p)
{
	size_t i;

	if (p.len == 0 || p.p[0] == '/')
		return 0;
	for (i = 0; i < p.len; i++) {
		unsigned char c = (unsigned char)p.p[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#')
			return 0;
		if (c == '/' && i + 1 < p.len && p.p[i + 1] == '/')
			return 0;
		if (c == '%' && i + 2 < p.len &&
		    ((p.p[i + 1] == '2' &&
			 (p.p[i + 2] == 'e' || p.p[i + 2] == 'E' ||
			     p.p[i + 2] == 'f' || p.p[i + 2] == 'F')) ||
			(p.p[i + 1] == '5' &&
			    (p.p[i + 2] == 'c' || p.p[i + 2] == 'C'))))
			return 0;
		/* a ".." segment */
		if (c == '.' && (i == 0 || p.p[i - 1] == '/') &&
		    i + 1 < p.len && p.p[i + 1] == '.' &&
		    (i + 2 == p.len || p.p[i + 2] == '/'))
			return 0;
	}
	return 1;
}

/* Append query without its "key" parameters. */
static enum relay_err
query_without_key(struct buf *b, struct span q)
{
	const char *p = q.p, *end = q.p + q.len;
	enum relay_err err = RELAY_OK;
	int first = 1;

	while (p != NULL && p < end && err == RELAY_OK) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t len =
		    amp != NULL ? (size_t)(amp - p) : (size_t)(end - p);

		if (len > 0 && !(len >= 4 && memcmp(p, "key=", 4) == 0) &&
		    !(len == 3 && memcmp(p, "key", 3) == 0)) {
			err = buf_append(b, first ? "?" : "&", 1);
			if (err == RELAY_OK)
				err = buf_append(b, p, len);
			first = 0;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return err;
}

enum relay_err
target_hop_headers(struct target_req *tr, const struct config_provider *p,
    const char *req_id, const char *traceparent, const char *key_id)
{
	char tp[TIER_TRACEPARENT_LEN], sig[TIER_SIG_MAX];
	const char *secret;
	enum relay_err err;

	err = target_add_header(tr, "User-Agent", RELAY_USER_AGENT);
	if (err == RELAY_OK)
		err = target_add_header(tr, "x-request-id", req_id);
	tier_traceparent(traceparent, tp);
	if (err == RELAY_OK)
		err = target_add_header(tr, "traceparent", tp);
	if (err != RELAY_OK || !p->relay || key_id == NULL || *key_id == '\0')
		return err;
	secret = getenv("RELAY_TIER_SECRET");
	if (secret != NULL &&
	    tier_sign(secret, key_id, time(NULL), sig, sizeof(sig)) == 0)
		err = target_add_header(tr, TIER_END_USER_HEADER, sig);
	return err;
}

enum relay_err
target_passthru(struct target_req *tr, const struct config_provider *p,
    const char *key, struct span path, struct span query, const char *ctype,
    const char *accept, const char *anthropic_beta)
{
	struct buf *u = &tr->url;
	enum relay_err err;
	size_t i;

	target_reset(tr);
	if (!safe_path(path) || !client_value_ok(ctype) ||
	    !client_value_ok(accept) || !client_value_ok(anthropic_beta))
		return RELAY_EINVAL;
	/* The query as it came, but only visible ASCII and never a '#'. */
	for (i = 0; i < query.len; i++)
		if ((unsigned char)query.p[i] <= 0x20 ||
		    (unsigned char)query.p[i] >= 0x7f || query.p[i] == '#')
			return RELAY_EINVAL;
	err = buf_printf(u, "%s/", p->base_url);
	if (err == RELAY_OK)
		err = buf_append(u, path.p, path.len);
	if (err == RELAY_OK)
		err = query_without_key(u, query);
	if (err == RELAY_OK)
		err = headers_as(tr, p, key, ctype, accept, anthropic_beta);
	return err;
}
