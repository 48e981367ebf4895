/* SPDX-License-Identifier: MIT */
/* proxy.c - the streaming relay: upstream bytes to the client with no
 * buffering beyond one SSE event, so each event is flushed as one FastCGI
 * record the moment its last byte arrived. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "apierr.h"
#include "chatreq.h"
#include "config.h"
#include "creds.h"
#include "fcgi_io.h"
#include "jsonx.h"
#include "limits.h"
#include "log.h"
#include "proxy.h"
#include "req.h"
#include "server.h"
#include "sse.h"
#include "upstream.h"

/* Request headers we send upstream: count. */
#define PROXY_HEADERS_MAX 40

enum pmode { PMODE_NONE, PMODE_SSE, PMODE_BUFFER };

struct pstate {
	struct relay_req *req;
	const struct config_target *t;
	int stream;
	enum pmode mode;
	struct sse_parser sse;
	struct buf body;
	char ctype[128];
	char retry_after[32];
	size_t events;
	int unflushed;
	int client_usage; /* the client asked for the usage chunk */
	struct proxy_usage *u;
};

static unsigned long proxy_rr; /* round-robin over a provider's keys */

static enum relay_err
stream_head(struct pstate *ps)
{
	struct relay_req *req = ps->req;
	enum relay_err err;

	err = req_add_header(req, "Cache-Control: no-cache");
	if (err == RELAY_OK)
		err = req_add_header(req, "X-Accel-Buffering: no");
	if (err == RELAY_OK)
		err = req_send_head(req, 200, "text/event-stream", -1);
	if (err == RELAY_OK)
		err = req_send(req, NULL, 0, 1);
	return err == RELAY_EINVAL ? RELAY_ENOMEM : err;
}

static enum relay_err
on_head(void *arg, const struct upstream_head *h)
{
	struct pstate *ps = arg;

	snprintf(ps->ctype, sizeof(ps->ctype), "%s", h->content_type);
	snprintf(
	    ps->retry_after, sizeof(ps->retry_after), "%s", h->retry_after);
	if (ps->stream && h->status >= 200 && h->status < 300 &&
	    strncasecmp(h->content_type, "text/event-stream", 17) == 0) {
		ps->mode = PMODE_SSE;
		return ps->req->head_sent ? RELAY_OK : stream_head(ps);
	}
	ps->mode = PMODE_BUFFER;
	return RELAY_OK;
}

/* Read an OpenAI usage object (Chat Completions "usage"). */
static void
take_usage(struct proxy_usage *u, json_t *usage)
{
	json_t *det = json_object_get(usage, "prompt_tokens_details");

	if (!json_is_object(usage))
		return;
	u->prompt_tokens =
	    json_integer_value(json_object_get(usage, "prompt_tokens"));
	u->completion_tokens =
	    json_integer_value(json_object_get(usage, "completion_tokens"));
	u->cached_tokens =
	    json_integer_value(json_object_get(det, "cached_tokens"));
	u->known = 1;
}

static int
has_usage(struct span data)
{
	return data.len > 10 && memmem(data.p, data.len, "\"usage\":{", 9);
}

/* A usage chunk: read it; 1 when it must not reach this client (it
 * asked for no usage and the chunk carries nothing else). */
static int
usage_event(struct pstate *ps, struct span data)
{
	json_t *v = NULL, *choices;
	char jerr[64];
	int drop = 0;

	if (jsonx_parse(data.p, data.len, &v, jerr, sizeof(jerr)) != RELAY_OK)
		return 0;
	take_usage(ps->u, json_object_get(v, "usage"));
	choices = json_object_get(v, "choices");
	drop = !ps->client_usage && json_is_array(choices) &&
	    json_array_size(choices) == 0;
	json_decref(v);
	return drop;
}

/*
 * Forward one event. A client that did not ask for usage gets the chunk
 * without the `"usage":null` the upstream adds once asked: the member can
 * only appear unescaped as structure, never inside a JSON string.
 */
static enum relay_err
send_event(struct pstate *ps, struct span raw)
{
	static const char null_usage[] = ",\"usage\":null";
	const char *at;
	enum relay_err err;

	at = ps->client_usage ? NULL :
				memmem(raw.p, raw.len, null_usage,
				    sizeof(null_usage) - 1);
	if (at == NULL)
		return req_send(ps->req, raw.p, raw.len, 0);
	err = req_send(ps->req, raw.p, (size_t)(at - raw.p), 0);
	if (err == RELAY_OK)
		err = req_send(ps->req, at + sizeof(null_usage) - 1,
		    raw.len - (size_t)(at - raw.p) - (sizeof(null_usage) - 1),
		    0);
	return err;
}

static int
on_event(void *arg, const struct sse_event *ev)
{
	struct pstate *ps = arg;

	if (ev->has_data && has_usage(ev->data) && usage_event(ps, ev->data))
		return 0;
	if (send_event(ps, ev->raw) != RELAY_OK)
		return 1;
	if (ev->has_data)
		ps->events++;
	ps->unflushed = 1;
	return 0;
}

static enum relay_err
on_data(void *arg, const char *p, size_t n)
{
	struct pstate *ps = arg;
	enum relay_err err;

	if (ps->mode == PMODE_BUFFER) {
		err = buf_append(&ps->body, p, n);
		return err == RELAY_ETOOBIG ? RELAY_EPROTO : err;
	}
	err = sse_feed(&ps->sse, p, n, on_event, ps);
	if (err == RELAY_ETOOBIG)
		return RELAY_EPROTO;
	if (err == RELAY_OK && ps->unflushed) {
		ps->unflushed = 0;
		err = req_send(ps->req, NULL, 0, 1);
	}
	return err;
}

static enum relay_err
on_idle(void *arg)
{
	struct pstate *ps = arg;
	enum relay_err err = RELAY_OK;

	if (!ps->req->head_sent)
		err = stream_head(ps);
	if (err == RELAY_OK)
		err = req_send(ps->req, ": keep-alive\n\n", 14, 1);
	return err;
}

/* The upstream's buffered answer, passed through as it came. */
static void
send_buffered(struct pstate *ps, int status)
{
	struct relay_req *req = ps->req;
	json_t *v = NULL, *e;
	char jerr[128];

	if (status >= 200 && status < 300 &&
	    jsonx_parse(ps->body.data != NULL ? ps->body.data : "",
		ps->body.len, &v, jerr, sizeof(jerr)) == RELAY_OK) {
		take_usage(ps->u, json_object_get(v, "usage"));
		json_decref(v);
		v = NULL;
	}
	if (!req->head_sent) {
		if (ps->retry_after[0] != '\0' &&
		    req_add_header(req, "Retry-After: %s", ps->retry_after) !=
			RELAY_OK)
			log_warn("id=%s: dropped Retry-After", req->id);
		if (req_send_full(req, status,
			ps->ctype[0] != '\0' ? ps->ctype : "application/json",
			ps->body.data, ps->body.len) != RELAY_OK)
			req->status = 499;
		return;
	}
	/* A heartbeat already committed us to a 200 stream: the upstream's
	 * error becomes an error event, its own message kept when it has
	 * one. */
	if (jsonx_parse(ps->body.data != NULL ? ps->body.data : "",
		ps->body.len, &v, jerr, sizeof(jerr)) == RELAY_OK &&
	    json_is_object(e = json_object_get(v, "error")) &&
	    json_is_string(json_object_get(e, "message")))
		apierr_send(req, APIERR_OPENAI, status,
		    json_string_value(json_object_get(e, "type")),
		    json_string_value(json_object_get(e, "code")), "%s",
		    json_string_value(json_object_get(e, "message")));
	else
		apierr_send(req, APIERR_OPENAI, status >= 400 ? status : 502,
		    NULL, "upstream_bad_response",
		    "upstream answered HTTP %d with %.64s instead of a stream",
		    status, ps->ctype);
	json_decref(v);
}

/* The stream_options value to send: the client's, with include_usage. */
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
body_fallback(const struct chatreq *cr, const struct config_target *t,
    const char *opts, struct buf *out)
{
	json_t *copy = json_deep_copy(cr->root), *o = NULL;
	enum relay_err err = RELAY_ENOMEM;
	char jerr[64];

	buf_clear(out);
	if (copy == NULL ||
	    json_object_set_new(copy, "model", json_string(t->model)) != 0)
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
 * The body for the upstream: "model" rewritten for the target and, on a
 * stream, include_usage asked for; every other byte as the client sent it.
 * Leaves out empty when req->body can go as it is.
 */
static enum relay_err
upstream_body(struct relay_req *req, const struct chatreq *cr,
    const struct config_target *t, struct buf *out)
{
	struct span body = {req->body.data, req->body.len};
	int need_model = !span_eq(cr->model, t->model);
	int need_usage = cr->stream && !cr->include_usage;
	struct buf mval, oval, tmp;
	enum relay_err err = RELAY_OK;

	if (!need_model && !need_usage)
		return RELAY_OK;
	buf_init(&mval, RELAY_NAME_MAX * 6 + 2);
	buf_init(&oval, 64 * 1024);
	buf_init(&tmp, out->max);
	if (need_model) {
		err = buf_append(&mval, "\"", 1);
		if (err == RELAY_OK)
			err =
			    buf_json_escape(&mval, t->model, strlen(t->model));
		if (err == RELAY_OK)
			err = buf_append(&mval, "\"", 1);
		if (err == RELAY_OK)
			err = jsonx_set_member(
			    body, "model", mval.data, need_usage ? &tmp : out);
		body.p = tmp.data;
		body.len = tmp.len;
	}
	if (err == RELAY_OK && need_usage)
		err = usage_options(cr, &oval);
	if (err == RELAY_OK && need_usage)
		err = jsonx_set_member(body, "stream_options", oval.data, out);
	if (err == RELAY_EINVAL)
		err = body_fallback(cr, t, need_usage ? oval.data : NULL, out);
	buf_reset(&tmp);
	buf_reset(&oval);
	buf_reset(&mval);
	return err;
}

/* The key for this call: round robin over the config's keys and those
 * stored through the admin API. NULL when the provider has none. */
static const char *
pick_key(const struct config_provider *p, const struct creds_snap *cs)
{
	unsigned long r = __atomic_fetch_add(&proxy_rr, 1, __ATOMIC_RELAXED);
	const char *const *stored;
	size_t nstored, total;

	stored = creds_for(cs, p->name, &nstored);
	total = p->nkeys + nstored;
	if (total == 0)
		return NULL;
	r %= total;
	return r < p->nkeys ? p->keys[r] : stored[r - p->nkeys];
}

/* Build the header lines; the key's copy is wiped by the caller. */
static enum relay_err
upstream_headers(const struct config_provider *p, const char *key, int stream,
    struct buf *hb, const char **lines, size_t *n)
{
	size_t offs[PROXY_HEADERS_MAX], i, k = 0;
	enum relay_err err;

	offs[k++] = hb->len;
	err = buf_puts(hb, "Content-Type: application/json");
	if (err == RELAY_OK)
		err = buf_append(hb, "", 1);
	offs[k++] = hb->len;
	if (err == RELAY_OK)
		err = buf_printf(hb, "Accept: %s",
		    stream ? "text/event-stream" : "application/json");
	if (err == RELAY_OK)
		err = buf_append(hb, "", 1);
	if (err == RELAY_OK && key != NULL) {
		offs[k++] = hb->len;
		err = buf_printf(hb, "Authorization: Bearer %s", key);
		if (err == RELAY_OK)
			err = buf_append(hb, "", 1);
	}
	for (i = 0; err == RELAY_OK && i < p->nheaders && k < PROXY_HEADERS_MAX;
	     i++) {
		offs[k++] = hb->len;
		err = buf_printf(
		    hb, "%s: %s", p->headers[i].name, p->headers[i].value);
		if (err == RELAY_OK)
			err = buf_append(hb, "", 1);
	}
	if (err != RELAY_OK)
		return err;
	for (i = 0; i < k; i++)
		lines[i] = hb->data + offs[i];
	*n = k;
	return RELAY_OK;
}

static void
finish(struct pstate *ps, enum relay_err err, const struct upstream_call *c)
{
	struct relay_req *req = ps->req;

	if (err == RELAY_OK && ps->mode == PMODE_BUFFER) {
		send_buffered(ps, c->status);
		return;
	}
	if (err == RELAY_OK) {
		/* A last event without its blank line: pass it on as is. */
		if (sse_pending(&ps->sse) > 0 &&
		    req_send(req, ps->sse.raw.data, ps->sse.raw.len, 1) !=
			RELAY_OK)
			req->status = 499;
		return;
	}
	if (err == RELAY_ECLOSED) {
		log_info("id=%s: client went away after %zu events; upstream "
			 "cancelled",
		    req->id, ps->events);
		req->status = 499;
		return;
	}
	/* The head arrived but the body broke off: a bad answer, not an
	 * unreachable upstream. */
	if (err == RELAY_EUPSTREAM && c->status != 0 && !req->head_sent)
		err = RELAY_EPROTO;
	log_warn("id=%s: upstream %s (%s/%s): %s%s", req->id, err_name(err),
	    ps->t->provider->name, ps->t->model, c->errmsg,
	    req->head_sent ? " [mid-stream]" : "");
	apierr_send_err(
	    req, APIERR_OPENAI, err, c->errmsg[0] != '\0' ? c->errmsg : NULL);
}

void
proxy_chat(struct relay_req *req, const struct config *cfg,
    const struct chatreq *cr, const struct config_target *t,
    struct proxy_usage *u)
{
	const struct config_provider *p = t->provider;
	const char *lines[PROXY_HEADERS_MAX];
	struct upstream_call c;
	struct pstate ps;
	struct buf ubody, hb;
	struct creds_snap *cs = NULL;
	char url[RELAY_URL_MAX];
	enum relay_err err;

	memset(&ps, 0, sizeof(ps));
	memset(&c, 0, sizeof(c));
	ps.req = req;
	ps.t = t;
	ps.stream = cr->stream;
	ps.client_usage = cr->include_usage;
	ps.u = u;
	memset(u, 0, sizeof(*u));
	sse_init(&ps.sse, RELAY_SSE_EVENT_MAX);
	buf_init(&ps.body, RELAY_UPSTREAM_BODY_MAX);
	buf_init(&ubody, cfg->body_max + RELAY_NAME_MAX * 6);
	buf_init(&hb, 64 * 1024);
	if (snprintf(url, sizeof(url), "%s/chat/completions", p->base_url) >=
	    (int)sizeof(url)) {
		err = RELAY_EINVAL;
		goto fail;
	}
	cs = creds_acquire(req->ctx->creds);
	err = upstream_body(req, cr, t, &ubody);
	if (err == RELAY_OK)
		err = upstream_headers(
		    p, pick_key(p, cs), cr->stream, &hb, lines, &c.nheaders);
	if (err == RELAY_OK)
		err = req_add_header(
		    req, "x-relay-target: %s/%s", p->name, t->model);
	if (err != RELAY_OK)
		goto fail;
	c.url = url;
	c.headers = lines;
	c.body = ubody.len > 0 ? ubody.data : req->body.data;
	c.body_len = ubody.len > 0 ? ubody.len : req->body.len;
	c.connect_ms = p->connect_ms;
	c.first_byte_ms = p->first_byte_ms;
	c.idle_ms = p->idle_ms;
	c.total_ms = p->total_ms;
	c.watch_fd = fcgi_io_fd(req->io);
	c.heartbeat_ms = cr->stream ? cfg->heartbeat_ms : 0;
	c.on_head = on_head;
	c.on_data = on_data;
	c.on_idle = on_idle;
	c.arg = &ps;
	err = upstream_perform(req->up, &c);
	u->status = c.status;
	u->events = ps.events;
	finish(&ps, err, &c);
	goto out;
fail:
	apierr_send_err(req, APIERR_OPENAI, err, NULL);
out:
	explicit_bzero(
	    hb.data != NULL ? hb.data : url, hb.data != NULL ? hb.len : 0);
	buf_reset(&hb);
	creds_release(cs);
	buf_reset(&ubody);
	buf_reset(&ps.body);
	sse_reset(&ps.sse);
}
