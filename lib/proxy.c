/* SPDX-License-Identifier: MIT */
/* proxy.c - the relay's core loop. One attempt sends the request to one
 * target and relays what comes back: JSON as a whole (so a failed answer
 * can still be retried elsewhere), SSE one event at a time the moment its
 * last byte arrived (raw when the dialects match, translated when not).
 * Around it, the choice of target, key and delay. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "affinity.h"
#include "apierr.h"
#include "breaker.h"
#include "cache.h"
#include "chatreq.h"
#include "config.h"
#include "creds.h"
#include "crypto.h"
#include "fcgi_io.h"
#include "filter.h"
#include "wordfilter.h"
#include "jsonx.h"
#include "keypool.h"
#include "limits.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "num.h"
#include "override.h"
#include "pii_out.h"
#include "proxy.h"
#include "req.h"
#include "server.h"
#include "sse.h"
#include "target.h"
#include "upstream.h"

/* Targets of one model tried per request: count. */
#define PROXY_TARGETS_MAX 32
/* A 429 without Retry-After rests its key this long: seconds. */
#define PROXY_REST_DEFAULT_S 10

enum pmode { PMODE_NONE, PMODE_SSE, PMODE_BUFFER };

/* One attempt's relay state. */
struct pstate {
	struct relay_req *req;
	const struct proxy_call *pc;
	const struct config_target *t;
	enum dialect out;
	/* The call's own (px->tr's): not a copy on the stack a stream keeps. */
	struct dialect_req_info *info;
	enum pmode mode;
	struct sse_parser sse; /* the upstream's events */
	struct sse_parser arr; /* our own output, re-framed as JSON */
	struct dialect_stream *ds; /* when translating a stream */
	struct buf body; /* a buffered answer */
	struct buf xbuf; /* a translation's output */
	char ctype[128];
	char retry_after[32];
	size_t events; /* answer events that reached the client */
	int unflushed;
	int first; /* the first answer bytes went out */
	int rec_off; /* the answer outgrew pc->record: not recorded */
	int cut; /* the content filter ended the stream: upstream left */
	int no_retry; /* the upstream said x-should-retry: false */
	int err_event; /* the stream's first event was an error: in body */
	char key_fp[17]; /* the key of this attempt, for response ids */
	const struct timespec *t0; /* when the request arrived */
	struct proxy_usage *u;
};

/* How an attempt ended, for the loop around it. */
enum outcome {
	OUT_DONE, /* answered */
	OUT_GONE, /* the client went away */
	OUT_RETRY, /* failed before any answer byte: try again */
	OUT_FINAL, /* an upstream error not worth retrying: pass it on */
	OUT_BROKEN, /* failed after answer bytes went out: end the stream
		       with an error event, never retry */
};

/* What the last failed attempt left, for the final answer. */
struct last_failure {
	enum relay_err err; /* RELAY_OK: an upstream HTTP error */
	int status;
	char msg[256];
	char detail[256]; /* libcurl's words: for the log, never the client */
	struct buf body; /* the upstream's error body */
	enum dialect from;
	char retry_after[32];
	int proxy; /* the egress proxy failed, not the upstream */
	int no_retry; /* the upstream said x-should-retry: false */
};

/* --- usage ------------------------------------------------------------- */

static long long
ival(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* Read a usage object of dialect d out of a response or stream event. */
static void
usage_take(enum dialect d, json_t *v, struct proxy_usage *u)
{
	json_t *us;

	switch (d) {
	case DIALECT_OPENAI:
		us = json_object_get(v, "usage");
		if (!json_is_object(us))
			return;
		u->prompt_tokens = ival(us, "prompt_tokens");
		u->completion_tokens = ival(us, "completion_tokens");
		u->cached_tokens =
		    ival(json_object_get(us, "prompt_tokens_details"),
			"cached_tokens");
		break;
	case DIALECT_ANTHROPIC:
		us = json_object_get(v, "usage");
		if (!json_is_object(us))
			us = json_object_get(
			    json_object_get(v, "message"), "usage");
		if (!json_is_object(us))
			return;
		/* Counts are cumulative: assign. Input excludes cache. */
		if (json_object_get(us, "input_tokens") != NULL) {
			u->cached_tokens = ival(us, "cache_read_input_tokens");
			u->prompt_tokens = num_addll_sat(
			    num_addll_sat(
				ival(us, "input_tokens"), u->cached_tokens),
			    ival(us, "cache_creation_input_tokens"));
		}
		if (json_object_get(us, "output_tokens") != NULL)
			u->completion_tokens = ival(us, "output_tokens");
		break;
	case DIALECT_GEMINI:
		us = json_object_get(v, "usageMetadata");
		if (!json_is_object(us))
			return;
		u->prompt_tokens = ival(us, "promptTokenCount");
		u->cached_tokens = ival(us, "cachedContentTokenCount");
		u->completion_tokens =
		    num_addll_sat(ival(us, "candidatesTokenCount"),
			ival(us, "thoughtsTokenCount"));
		break;
	case DIALECT_RESPONSES:
		/* A whole response, or a stream's response.completed. */
		us = json_object_get(v, "usage");
		if (!json_is_object(us))
			us = json_object_get(
			    json_object_get(v, "response"), "usage");
		if (!json_is_object(us))
			return;
		u->prompt_tokens = ival(us, "input_tokens");
		u->completion_tokens = ival(us, "output_tokens");
		u->cached_tokens =
		    ival(json_object_get(us, "input_tokens_details"),
			"cached_tokens");
		break;
	case DIALECT__MAX: return;
	}
	u->known = 1;
}

/* A non-negative integer value v (from jsonx_members()); 0 when absent
 * or not one (as ival()); *found, when not NULL, set when it was one. */
static long long
raw_int(struct span v, int *found)
{
	char num[24];
	long long n;

	if (v.p == NULL || v.len == 0 || v.len >= sizeof(num))
		return 0;
	memcpy(num, v.p, v.len);
	num[v.len] = '\0';
	if (num_parse(num, 0, LLONG_MAX, &n) != RELAY_OK)
		return 0;
	if (found != NULL)
		*found = 1;
	return n;
}

/*
 * usage_take() over the raw text of a usage object, without building a
 * document (a jansson parse costs more than the rest of a small answer's
 * handling): one pass over its members. 0 when the raw scanner cannot read
 * it (escaped keys, not an object): the caller then parses it.
 */
static int
usage_raw(enum dialect d, struct span us, struct proxy_usage *u)
{
	static const char *const keys[DIALECT__MAX][4] = {
	    [DIALECT_OPENAI] = {"prompt_tokens", "completion_tokens",
		"prompt_tokens_details", NULL},
	    [DIALECT_ANTHROPIC] = {"input_tokens", "cache_read_input_tokens",
		"cache_creation_input_tokens", "output_tokens"},
	    [DIALECT_GEMINI] = {"promptTokenCount", "cachedContentTokenCount",
		"candidatesTokenCount", "thoughtsTokenCount"},
	    [DIALECT_RESPONSES] = {"input_tokens", "output_tokens",
		"input_tokens_details", NULL},
	};
	static const char *const cached[1] = {"cached_tokens"};
	struct span v[4], det;
	long long in, cr, cw, out;
	int has_in = 0, has_out = 0;

	if ((unsigned)d >= DIALECT__MAX || us.len < 2 || us.p[0] != '{' ||
	    jsonx_members(us, keys[d],
		d == DIALECT_OPENAI || d == DIALECT_RESPONSES ? 3 : 4,
		v) != RELAY_OK)
		return 0; /* not an object this scanner reads */
	switch (d) {
	case DIALECT_OPENAI:
	case DIALECT_RESPONSES: /* the same three members, other names */
		u->prompt_tokens = raw_int(v[0], NULL);
		u->completion_tokens = raw_int(v[1], NULL);
		u->cached_tokens = v[2].p != NULL &&
			jsonx_members(v[2], cached, 1, &det) == RELAY_OK
		    ? raw_int(det, NULL)
		    : 0;
		break;
	case DIALECT_ANTHROPIC:
		/* Counts are cumulative: assign. Input excludes cache. */
		in = raw_int(v[0], &has_in);
		if (has_in) {
			cr = raw_int(v[1], NULL);
			cw = raw_int(v[2], NULL);
			u->cached_tokens = cr;
			u->prompt_tokens =
			    num_addll_sat(num_addll_sat(in, cr), cw);
		}
		out = raw_int(v[3], &has_out);
		if (has_out)
			u->completion_tokens = out;
		break;
	case DIALECT_GEMINI:
		u->prompt_tokens = raw_int(v[0], NULL);
		u->cached_tokens = raw_int(v[1], NULL);
		u->completion_tokens =
		    num_addll_sat(raw_int(v[2], NULL), raw_int(v[3], NULL));
		break;
	case DIALECT__MAX: return 0;
	}
	u->known = 1;
	return 1;
}

/*
 * The usage of a whole answer, from its top-level usage member alone: the
 * raw scanner finds it without building the document, and only that
 * object is parsed (the answer itself goes out as it came).
 */
static void
usage_member(enum dialect d, struct span body, struct proxy_usage *u)
{
	const char *key = d == DIALECT_GEMINI ? "usageMetadata" : "usage";
	struct span val;
	json_t *v = NULL, *wrap;
	char jerr[64];

	if (jsonx_member(body, key, &val) != RELAY_OK || usage_raw(d, val, u) ||
	    jsonx_parse(val.p, val.len, &v, jerr, sizeof(jerr)) != RELAY_OK)
		return;
	wrap = json_object();
	if (wrap != NULL && json_object_set_new(wrap, key, v) == 0)
		usage_take(d, wrap, u);
	else
		json_decref(v);
	json_decref(wrap);
}

static void
usage_from_ir(const struct ir_usage *iu, struct proxy_usage *u)
{
	if (iu->input < 0 && iu->output < 0)
		return;
	u->prompt_tokens = iu->input > 0 ? iu->input : 0;
	u->completion_tokens = iu->output > 0 ? iu->output : 0;
	u->cached_tokens = iu->cache_read > 0 ? iu->cache_read : 0;
	u->known = 1;
}

/* Retry-After in seconds (the HTTP-date form counts as absent). */
static long
retry_after_s(const char *s)
{
	long long v;

	if (s[0] == '\0' || num_parse(s, 0, 86400, &v) != RELAY_OK)
		return 0;
	return (long)v;
}

/* --- writing to the client ---------------------------------------------- */

/* One item of a Gemini JSON-array answer, from one of our SSE events. */
static int
array_item(void *arg, const struct sse_event *ev)
{
	struct pstate *ps = arg;
	struct relay_req *req = ps->req;
	enum relay_err err = RELAY_OK;

	if (!ev->has_data)
		return 0;
	if (!req->array_open)
		err = req_send(req, "[", 1, 0);
	else if (req->array_items > 0)
		err = req_send(req, ",\r\n", 3, 0);
	req->array_open = 1;
	if (err == RELAY_OK)
		err = req_send(req, ev->data.p, ev->data.len, 0);
	req->array_items++;
	return err != RELAY_OK;
}

static enum relay_err stream_head(struct relay_req *req);

/* Keep what the client gets for the cache, while it fits. */
static void
record(struct pstate *ps, const char *p, size_t n)
{
	struct buf *rec = ps->pc->record;

	if (rec == NULL || ps->rec_off)
		return;
	if (buf_append(rec, p, n) != RELAY_OK) {
		ps->rec_off = 1;
		buf_clear(rec);
	}
}

/* Client-bound SSE bytes: as they are, or re-framed into the array. */
static enum relay_err
client_sse(struct pstate *ps, const char *p, size_t n)
{
	enum relay_err err;

	ps->unflushed = 1;
	if (!ps->req->head_sent) {
		err = stream_head(ps->req);
		if (err != RELAY_OK)
			return err;
	}
	if (!ps->first) {
		struct timespec now;

		ps->first = 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ps->req->m_ttft = (double)(now.tv_sec - ps->t0->tv_sec) +
		    (double)(now.tv_nsec - ps->t0->tv_nsec) / 1e9;
		metrics_ttft(ps->req->ctx->metrics, ps->pc->m->name,
		    (double)(now.tv_sec - ps->t0->tv_sec) +
			(double)(now.tv_nsec - ps->t0->tv_nsec) / 1e9);
	}
	record(ps, p, n);
	if (!ps->req->json_array)
		return req_send(ps->req, p, n, 0);
	err = sse_feed(&ps->arr, p, n, array_item, ps);
	return err == RELAY_ECLOSED ? RELAY_ECLOSED : err;
}

static enum relay_err
flush(struct pstate *ps)
{
	if (!ps->unflushed)
		return RELAY_OK;
	ps->unflushed = 0;
	return req_send(ps->req, NULL, 0, 1);
}

static enum relay_err
stream_head(struct relay_req *req)
{
	enum relay_err err = RELAY_OK;

	if (!req->json_array) {
		err = req_add_header(req, "Cache-Control: no-cache");
		if (err == RELAY_OK)
			err = req_add_header(req, "X-Accel-Buffering: no");
	}
	/* Not flushed here: what follows (the first event, a heartbeat) is
	 * flushed with it, one write instead of two before the first token. */
	if (err == RELAY_OK)
		err = req_send_head(req, 200,
		    req->json_array ? "application/json" : "text/event-stream",
		    -1);
	return err == RELAY_EINVAL ? RELAY_ENOMEM : err;
}

/* --- one attempt: the upstream callbacks --------------------------------- */

static int
filtering(const struct proxy_call *pc)
{
	return pc->filter != NULL && pc->filter_output != FILTER_OUT_OFF;
}

/* Placeholders went out: the answer's must be turned back. */
static int
restoring(const struct proxy_call *pc)
{
	return pc->pii != NULL && pii_out_mapped(pc->pii);
}

static enum relay_err
on_head(void *arg, const struct upstream_head *h)
{
	struct pstate *ps = arg;
	const struct chatreq *cr = ps->pc->cr;

	snprintf(ps->ctype, sizeof(ps->ctype), "%s", h->content_type);
	snprintf(
	    ps->retry_after, sizeof(ps->retry_after), "%s", h->retry_after);
	ps->no_retry = h->no_retry;
	if (!cr->stream || h->status < 200 || h->status >= 300 ||
	    strncasecmp(h->content_type, "text/event-stream", 17) != 0) {
		ps->mode = PMODE_BUFFER;
		return RELAY_OK;
	}
	ps->mode = PMODE_SSE;
	/* Translated, or filtered: the text then has to be seen, so the
	 * same dialect goes through the translator too. */
	if (ps->out != ps->pc->in || filtering(ps->pc) || restoring(ps->pc)) {
		ps->info->stream = 1;
		ps->info->include_usage = cr->include_usage;
		if (ps->info->model[0] == '\0')
			snprintf(ps->info->model, sizeof(ps->info->model),
			    "%.*s", (int)cr->model.len, cr->model.p);
		ps->ds = dialect_stream_new(ps->out, ps->pc->in, ps->info);
		if (ps->ds == NULL)
			return RELAY_ENOMEM;
		if (filtering(ps->pc)) {
			int stop = ps->pc->filter_output == FILTER_OUT_STOP;
			struct wordfilter_stream *ws =
			    wordfilter_stream_new(ps->pc->filter,
				stop ? WORDFILTER_STOP : WORDFILTER_MASK);

			if (ws == NULL)
				return RELAY_ENOMEM;
			dialect_stream_filter(ps->ds, ws, stop);
		}
		if (restoring(ps->pc)) {
			struct pii_stream *rs = pii_stream_new(ps->pc->pii);

			if (rs == NULL)
				return RELAY_ENOMEM;
			dialect_stream_hook(
			    ps->ds, pii_stream_event, rs, pii_stream_free);
		}
	}
	/* The head goes out with the first event (client_sse()): an upstream
	 * that fails before one can still be retried elsewhere, and the
	 * headers then name the target that really served. */
	return RELAY_OK;
}

/* An OpenAI usage chunk: read it; 1 when this client must not see it (it
 * asked for no usage and the chunk carries nothing else). */
static int
openai_usage_event(struct pstate *ps, json_t *v)
{
	json_t *choices = json_object_get(v, "choices");

	usage_take(DIALECT_OPENAI, v, ps->u);
	return !ps->pc->cr->include_usage && json_is_array(choices) &&
	    json_array_size(choices) == 0;
}

/* observe() without a parse: 1 drop, 0 keep, -1 the caller parses. */
static int
observe_raw(struct pstate *ps, struct span data)
{
	struct span us, inner;
	size_t i;

	switch (ps->out) {
	case DIALECT_OPENAI:
		if (jsonx_member(data, "usage", &us) != RELAY_OK ||
		    !usage_raw(ps->out, us, ps->u))
			return -1;
		if (ps->pc->cr->include_usage ||
		    jsonx_member(data, "choices", &inner) != RELAY_OK)
			return 0;
		/* A usage-only chunk: "choices":[] */
		for (i = 1; i + 1 < inner.len && strchr(" \t\r\n", inner.p[i]);
		     i++)
			;
		return inner.len >= 2 && inner.p[0] == '[' &&
		    inner.p[i] == ']' && i + 1 == inner.len;
	case DIALECT_ANTHROPIC:
		if (jsonx_member(data, "usage", &us) == RELAY_OK)
			return usage_raw(ps->out, us, ps->u) ? 0 : -1;
		if (jsonx_member(data, "message", &inner) == RELAY_OK &&
		    jsonx_member(inner, "usage", &us) == RELAY_OK)
			return usage_raw(ps->out, us, ps->u) ? 0 : -1;
		return -1;
	case DIALECT_GEMINI:
		if (jsonx_member(data, "usageMetadata", &us) != RELAY_OK)
			return -1;
		return usage_raw(ps->out, us, ps->u) ? 0 : -1;
	case DIALECT_RESPONSES:
		/* Only response.completed and .incomplete carry it. */
		if (jsonx_member(data, "response", &inner) == RELAY_OK &&
		    jsonx_member(inner, "usage", &us) == RELAY_OK)
			return usage_raw(ps->out, us, ps->u) ? 0 : -1;
		return -1;
	case DIALECT__MAX: break;
	}
	return -1;
}

/* Same dialect: look at the events that carry usage; 1 to drop one. */
static int
observe(struct pstate *ps, const struct sse_event *ev)
{
	static const char *const marks[DIALECT__MAX] = {
	    [DIALECT_OPENAI] = "\"usage\":{",
	    [DIALECT_ANTHROPIC] = "\"usage\"",
	    [DIALECT_GEMINI] = "\"usageMetadata\"",
	    [DIALECT_RESPONSES] = "\"usage\":{",
	};
	const char *mark = marks[ps->out];
	char jerr[64];
	json_t *v = NULL;
	int drop = 0;

	if (!ev->has_data ||
	    memmem(ev->data.p, ev->data.len, mark, strlen(mark)) == NULL)
		return 0;
	switch (observe_raw(ps, ev->data)) {
	case 0: return 0;
	case 1: return 1;
	default: break; /* the raw scanner could not tell: parse */
	}
	if (jsonx_parse(ev->data.p, ev->data.len, &v, jerr, sizeof(jerr)) !=
	    RELAY_OK)
		return 0;
	if (ps->out == DIALECT_OPENAI)
		drop = openai_usage_event(ps, v);
	else
		usage_take(ps->out, v, ps->u);
	json_decref(v);
	return drop;
}

/*
 * Forward one event as it came. An OpenAI client that did not ask for
 * usage gets the chunk without the `"usage":null` the upstream adds once
 * asked: the member can only appear unescaped as structure, never inside
 * a JSON string.
 */
static enum relay_err
forward_raw(struct pstate *ps, struct span raw)
{
	static const char null_usage[] = ",\"usage\":null";
	const char *at = NULL;
	size_t head;
	enum relay_err err;

	if (ps->out == DIALECT_OPENAI && !ps->pc->cr->include_usage)
		at = memmem(raw.p, raw.len, null_usage, sizeof(null_usage) - 1);
	if (at == NULL)
		return client_sse(ps, raw.p, raw.len);
	head = (size_t)(at - raw.p);
	err = client_sse(ps, raw.p, head);
	if (err == RELAY_OK)
		err = client_sse(ps, at + sizeof(null_usage) - 1,
		    raw.len - head - (sizeof(null_usage) - 1));
	return err;
}

/* A Responses answer relayed as it is: its response id is wrapped so it
 * names the provider and key that made it (lib/rseal.h), when a master key
 * can seal it. */
static int
respid_on(const struct pstate *ps)
{
	return ps->out == DIALECT_RESPONSES &&
	    ps->pc->in == DIALECT_RESPONSES && !ps->pc->cr->compact &&
	    ps->req->ctx->master.have_cur;
}

/* A raw Responses event whose response id is wrapped, into ps->xbuf:
 * RELAY_ENOTFOUND when the event carries none (send it as it is). */
static enum relay_err
respid_event(struct pstate *ps, const struct sse_event *ev)
{
	enum relay_err err;
	struct buf data;

	if (!ev->has_data)
		return RELAY_ENOTFOUND;
	buf_init(&data, RELAY_UPSTREAM_BODY_MAX);
	err = rseal_respid_rewrite(&ps->req->ctx->master, ps->t->provider->name,
	    ps->key_fp, ev->data, 1, &data);
	buf_clear(&ps->xbuf);
	if (err == RELAY_OK && ev->name.len > 0)
		err = buf_printf(
		    &ps->xbuf, "event: %.*s\n", (int)ev->name.len, ev->name.p);
	if (err == RELAY_OK)
		err = buf_puts(&ps->xbuf, "data: ");
	if (err == RELAY_OK)
		err = buf_append(&ps->xbuf, data.data, data.len);
	if (err == RELAY_OK)
		err = buf_puts(&ps->xbuf, "\n\n");
	buf_reset(&data);
	return err == RELAY_EINVAL ? RELAY_ENOTFOUND : err;
}

/*
 * Raw relaying does not parse every event; it checks that a data event
 * looks like JSON (an object, or OpenAI's [DONE]), so a broken upstream
 * ends the stream with an error event instead of passing garbage on.
 */
static int
plausible(enum dialect d, const struct sse_event *ev)
{
	const char *p = ev->data.p, *e = ev->data.p + ev->data.len;

	if (!ev->has_data)
		return 1;
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	while (e > p &&
	    (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	if (d == DIALECT_OPENAI && e - p == 6 && memcmp(p, "[DONE]", 6) == 0)
		return 1;
	return e - p >= 2 && p[0] == '{' && e[-1] == '}';
}

/*
 * An error event in place of the answer's first data event: what another
 * relay (a tier below us, or any SSE upstream that committed its 200 with
 * comments) sends when its own upstream failed. Nothing of the answer is
 * out yet, so it is a failed attempt like an HTTP error, not an answer.
 */
static int
error_event(enum dialect d, const struct sse_event *ev)
{
	struct span v;

	if (!ev->has_data)
		return 0;
	if (d == DIALECT_ANTHROPIC && ev->name.len == 5 &&
	    memcmp(ev->name.p, "error", 5) == 0)
		return 1;
	return jsonx_member(ev->data, "error", &v) == RELAY_OK && v.len > 0 &&
	    v.p[0] == '{' &&
	    jsonx_member(ev->data, "choices", &v) != RELAY_OK &&
	    jsonx_member(ev->data, "candidates", &v) != RELAY_OK;
}

/* sse_feed's callback: returns non-zero (stop) with the reason kept. */
static int
on_event(void *arg, const struct sse_event *ev)
{
	struct pstate *ps = arg;
	enum relay_err err;

	if (ps->events == 0 && error_event(ps->out, ev)) {
		ps->err_event = 1;
		buf_clear(&ps->body);
		if (buf_append(&ps->body, ev->data.p, ev->data.len) != RELAY_OK)
			buf_clear(&ps->body);
		return 1;
	}
	if (ps->ds == NULL) {
		if (!plausible(ps->out, ev)) {
			ps->u->status = -1; /* ends the transfer as EPROTO */
			return 1;
		}
		if (observe(ps, ev))
			return 0;
		err = respid_on(ps) ? respid_event(ps, ev) : RELAY_ENOTFOUND;
		if (err == RELAY_OK)
			err = client_sse(ps, ps->xbuf.data, ps->xbuf.len);
		else if (err == RELAY_ENOTFOUND)
			err = forward_raw(ps, ev->raw);
	} else {
		buf_clear(&ps->xbuf);
		err = dialect_stream_event(ps->ds, ev, &ps->xbuf);
		if (err == RELAY_OK && ps->xbuf.len > 0)
			err = client_sse(ps, ps->xbuf.data, ps->xbuf.len);
	}
	if (err != RELAY_OK) {
		ps->u->status = err == RELAY_EPROTO ? -1 : ps->u->status;
		return 1;
	}
	if (ev->has_data)
		ps->events++;
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
	if (err == RELAY_ECLOSED && ps->err_event)
		return RELAY_EUPSTREAM;
	if (err == RELAY_ETOOBIG || (err == RELAY_ECLOSED && ps->u->status < 0))
		return RELAY_EPROTO;
	if (err == RELAY_OK)
		err = flush(ps);
	if (err == RELAY_OK && ps->ds != NULL && dialect_stream_cut(ps->ds)) {
		/* The filter ended the answer: the rest is not wanted. */
		ps->cut = 1;
		return RELAY_ECLOSED;
	}
	return err;
}

/* Keep a quiet stream's client alive, and find out whether it left. */
static enum relay_err
heartbeat(struct relay_req *req)
{
	enum relay_err err = RELAY_OK;

	if (!req->head_sent)
		err = stream_head(req);
	if (err != RELAY_OK)
		return err;
	if (!req->json_array)
		return req_send(req, ": keep-alive\n\n", 14, 1);
	/* A JSON array may hold whitespace between its items. */
	if (!req->array_open) {
		req->array_open = 1;
		return req_send(req, "[\n", 2, 1);
	}
	return req_send(req, "\n", 1, 1);
}

static enum relay_err
on_idle(void *arg)
{
	struct pstate *ps = arg;

	/* A tier caller must still be able to retry: its status stays open
	 * until the upstream said something (the client-gone watch goes on
	 * without the heartbeat). */
	if (ps->pc->tier && !ps->req->head_sent)
		return RELAY_OK;
	return heartbeat(ps->req);
}

/* --- one attempt ---------------------------------------------------------- */

static void
pstate_init(struct pstate *ps, struct relay_req *req,
    const struct proxy_call *pc, const struct config_target *t,
    struct target_req *tr, struct proxy_usage *u)
{
	memset(ps, 0, sizeof(*ps));
	ps->req = req;
	ps->pc = pc;
	ps->t = t;
	ps->out = tr->out;
	ps->info = &tr->info;
	ps->u = u;
	sse_init(&ps->sse, RELAY_SSE_EVENT_MAX);
	sse_init(&ps->arr, RELAY_SSE_EVENT_MAX);
	buf_init(&ps->body, RELAY_UPSTREAM_BODY_MAX);
	buf_init(&ps->xbuf, RELAY_UPSTREAM_BODY_MAX);
	if (pc->record != NULL)
		buf_clear(pc->record);
}

static void
pstate_reset(struct pstate *ps)
{
	dialect_stream_free(ps->ds);
	ps->ds = NULL;
	sse_reset(&ps->sse);
	sse_reset(&ps->arr);
	buf_reset(&ps->body);
	buf_reset(&ps->xbuf);
}

static int
retryable_status(const struct config *cfg, int status)
{
	size_t i;

	for (i = 0; i < cfg->retry.non_status; i++)
		if (cfg->retry.on_status[i] == status)
			return 1;
	return 0;
}

static void
remember(struct last_failure *lf, enum relay_err err, int status,
    const char *msg, const struct pstate *ps)
{
	lf->err = err;
	lf->status = status;
	lf->proxy = 0;
	snprintf(lf->msg, sizeof(lf->msg), "%s", msg != NULL ? msg : "");
	lf->detail[0] = '\0';
	buf_clear(&lf->body);
	lf->retry_after[0] = '\0';
	lf->no_retry = 0;
	if (ps != NULL) {
		lf->from = ps->out;
		lf->no_retry = ps->no_retry;
		snprintf(lf->retry_after, sizeof(lf->retry_after), "%s",
		    ps->retry_after);
		if (ps->body.len > 0 &&
		    buf_append(&lf->body, ps->body.data, ps->body.len) !=
			RELAY_OK)
			buf_clear(&lf->body);
	}
}

/* A whole answer went out: it is the one to record. */
static void
answered(struct pstate *ps, const char *p, size_t n)
{
	record(ps, p, n);
	ps->u->recorded = ps->pc->record != NULL && !ps->rec_off;
}

/* Gemini's {"embeddings":[{"values":[...]}]} as OpenAI's list. */
static void
send_embeddings(struct pstate *ps, struct span body)
{
	json_t *v = NULL, *list = NULL, *data, *e;
	char jerr[64];
	size_t i;

	data = json_array();
	if (data != NULL &&
	    jsonx_parse(body.p, body.len, &v, jerr, sizeof(jerr)) == RELAY_OK &&
	    json_is_array(json_object_get(v, "embeddings"))) {
		json_array_foreach (json_object_get(v, "embeddings"), i, e)
			json_array_append_new(data,
			    json_pack("{s:s,s:i,s:O}", "object", "embedding",
				"index", (int)i, "embedding",
				json_object_get(e, "values")));
		list = json_pack("{s:s,s:O,s:s%,s:{s:i,s:i}}", "object", "list",
		    "data", data, "model", ps->pc->cr->model.p,
		    ps->pc->cr->model.len, "usage", "prompt_tokens", 0,
		    "total_tokens", 0);
	}
	if (list == NULL || jsonx_dump(list, &ps->xbuf) != RELAY_OK)
		apierr_send(ps->req, ps->pc->in, 502, NULL,
		    "upstream_bad_response",
		    "the upstream's embeddings could not be read");
	else if (req_send_full(ps->req, 200, "application/json", ps->xbuf.data,
		     ps->xbuf.len) != RELAY_OK)
		ps->req->status = 499;
	else
		answered(ps, ps->xbuf.data, ps->xbuf.len);
	json_decref(list);
	json_decref(data);
	json_decref(v);
}

/*
 * The content filter over a whole answer of the client's dialect: *body
 * points at the filtered text (kept in tmp) when anything matched. 0 when
 * it cannot be filtered (answered with an error: unfiltered text never
 * goes out).
 */
static int
filter_whole(struct pstate *ps, struct span *body, struct buf *tmp)
{
	int changed;
	enum relay_err err;

	if (ps->pc->filter == NULL || ps->pc->filter_output == FILTER_OUT_OFF)
		return 1;
	err = filter_answer(ps->pc->filter, ps->pc->filter_output, ps->pc->in,
	    *body, tmp, &changed);
	if (err != RELAY_OK) {
		apierr_send_err(ps->req, ps->pc->in, err,
		    "the answer could not be filtered");
		return 0;
	}
	if (changed)
		*body = (struct span){tmp->data, tmp->len};
	return 1;
}

/*
 * The placeholders of a whole answer of the client's dialect turned back
 * into the client's own data: *body then points at tmp. 0 when that
 * failed (answered with an error).
 */
static int
restore_whole(struct pstate *ps, struct span *body, struct buf *tmp)
{
	json_t *root = NULL;
	char jerr[64];
	enum relay_err err;
	int changed = 0;

	/* Vectors hold no text to restore. */
	if (!restoring(ps->pc) || ps->pc->cr->embed)
		return 1;
	err = jsonx_parse(body->p, body->len, &root, jerr, sizeof(jerr));
	if (err == RELAY_OK)
		err = pii_out_restore_doc(ps->pc->pii, root, &changed);
	if (err == RELAY_OK && changed)
		err = jsonx_dump(root, tmp);
	json_decref(root);
	if (err != RELAY_OK) {
		apierr_send_err(ps->req, ps->pc->in, err,
		    "the answer could not be restored");
		return 0;
	}
	if (changed)
		*body = (struct span){tmp->data, tmp->len};
	return 1;
}

/* The answer out, its placeholders restored. */
static void
send_restored(struct pstate *ps, int status, struct span body)
{
	struct buf tmp;

	buf_init(&tmp, 2 * RELAY_UPSTREAM_BODY_MAX);
	if (restore_whole(ps, &body, &tmp)) {
		if (req_send_full(ps->req, status, "application/json", body.p,
			body.len) != RELAY_OK)
			ps->req->status = 499;
		else
			answered(ps, body.p, body.len);
	}
	buf_reset(&tmp);
}

/* A finished 2xx answer that was buffered: pass it on or translate it. */
static void
send_answer(struct pstate *ps, int status)
{
	struct relay_req *req = ps->req;
	struct span body = {
	    ps->body.data != NULL ? ps->body.data : "", ps->body.len};
	struct ir_usage iu;
	struct buf filtered;
	enum relay_err err;

	if (ps->pc->cr->stream) {
		/* Asked for a stream, got JSON: say so in the stream. */
		apierr_send(req, ps->pc->in, 502, NULL, "upstream_bad_response",
		    "upstream answered a stream request with %.64s", ps->ctype);
		return;
	}
	if (ps->pc->cr->embed && ps->out == DIALECT_GEMINI) {
		send_embeddings(ps, body);
		return;
	}
	if (ps->out == ps->pc->in) {
		if (!jsonx_well_formed(body)) {
			apierr_send(req, ps->pc->in, 502, NULL,
			    "upstream_bad_response",
			    "the upstream's answer is not valid JSON");
			return;
		}
		usage_member(ps->out, body, ps->u);
		if (!filter_whole(ps, &body, &ps->xbuf))
			return;
		buf_init(&filtered, RELAY_UPSTREAM_BODY_MAX);
		if (respid_on(ps) &&
		    rseal_respid_rewrite(&req->ctx->master,
			ps->t->provider->name, ps->key_fp, body, 0,
			&filtered) == RELAY_OK)
			body = (struct span){filtered.data, filtered.len};
		send_restored(ps, status, body);
		buf_reset(&filtered);
		return;
	}
	memset(&iu, 0xff, sizeof(iu));
	if (ps->info->compact)
		err = dialect_compaction(ps->out, body,
		    json_object_get(ps->pc->cr->root, "input"), ps->info,
		    &ps->xbuf, &iu);
	else
		err = dialect_response(
		    ps->out, body, ps->pc->in, ps->info, &ps->xbuf, &iu);
	usage_from_ir(&iu, ps->u);
	if (err != RELAY_OK) {
		apierr_send_err(req, ps->pc->in, err,
		    "the upstream's answer could not be read");
		return;
	}
	body = (struct span){ps->xbuf.data, ps->xbuf.len};
	buf_init(&filtered, RELAY_UPSTREAM_BODY_MAX);
	if (filter_whole(ps, &body, &filtered))
		send_restored(ps, 200, body);
	buf_reset(&filtered);
}

/* A stream that ended well: its last words, and the array closed. */
static void
end_stream(struct pstate *ps)
{
	struct relay_req *req = ps->req;
	enum relay_err err = RELAY_OK;
	struct ir_usage iu;

	if (ps->ds != NULL) {
		buf_clear(&ps->xbuf);
		err = dialect_stream_end(ps->ds, &ps->xbuf);
		if (err == RELAY_OK && ps->xbuf.len > 0)
			err = client_sse(ps, ps->xbuf.data, ps->xbuf.len);
		dialect_stream_usage(ps->ds, &iu);
		usage_from_ir(&iu, ps->u);
	} else if (sse_pending(&ps->sse) > 0)
		/* A last event without its blank line: as it came. */
		err = client_sse(ps, ps->sse.raw.data, ps->sse.raw.len);
	if (err == RELAY_OK && req->json_array && !req->array_closed) {
		err = req_send(req, req->array_open ? "]" : "[]",
		    req->array_open ? 1 : 2, 0);
		req->array_closed = 1;
	}
	if (err == RELAY_OK)
		err = req_send(req, NULL, 0, 1);
	if (err != RELAY_OK)
		req->status = 499;
	else
		ps->u->recorded = ps->pc->record != NULL && !ps->rec_off;
}

/* Judge a finished transfer. */
static enum outcome
judge(const struct config *cfg, struct pstate *ps, enum relay_err err,
    const struct upstream_call *c, struct last_failure *lf)
{
	int broke_off;
	struct relay_req *req = ps->req;
	int status = c->status;

	if (ps->err_event) {
		/* Its status is gone with the 200 it came after: 502. */
		remember(lf, RELAY_OK, 502, NULL, ps);
		return OUT_RETRY;
	}
	if (ps->cut || (err == RELAY_OK && ps->mode == PMODE_SSE)) {
		end_stream(ps);
		return OUT_DONE;
	}
	if (err == RELAY_ECLOSED)
		return OUT_GONE;
	if (err == RELAY_EINVAL) {
		/* The call could not be formed: nothing was sent, so it is
		 * neither retried nor the upstream's failure. */
		log_warn("id=%s: upstream request not formed: %s", req->id,
		    c->detail);
		apierr_send(req, ps->pc->in, 400, NULL, "invalid_request",
		    "The relay could not form a valid upstream request from "
		    "this one.");
		return OUT_DONE;
	}
	if (err == RELAY_OK && status >= 200 && status < 300) {
		send_answer(ps, status);
		return OUT_DONE;
	}
	if (err == RELAY_OK) {
		remember(lf, RELAY_OK, status, NULL, ps);
		return retryable_status(cfg, status) || status == 401 ||
			status == 403
		    ? OUT_RETRY
		    : OUT_FINAL;
	}
	/* The head arrived but the connection broke off: a bad answer, but
	 * perhaps a passing one (a reset), so still worth another try. */
	broke_off = err == RELAY_EUPSTREAM && status != 0;
	if (broke_off)
		err = RELAY_EPROTO;
	remember(
	    lf, err, status, c->errmsg[0] != '\0' ? c->errmsg : NULL, NULL);
	snprintf(lf->detail, sizeof(lf->detail), "%s", c->detail);
	lf->proxy = c->proxy_failed;
	if (ps->events > 0 ||
	    (req->head_sent && req->json_array && req->array_items > 0))
		return OUT_BROKEN; /* answer bytes are out: no retry */
	/* Garbage or an oversized answer will not mend by asking again. */
	if (err == RELAY_EPROTO && !broke_off && status >= 200 && status < 300)
		return req->head_sent ? OUT_BROKEN : OUT_FINAL;
	return OUT_RETRY;
}

/* --- the loop ------------------------------------------------------------ */

struct proxy {
	struct relay_req *req;
	const struct config *cfg;
	const struct proxy_call *pc;
	struct proxy_usage *u;
	struct target_req tr;
	struct creds_snap *cs;
	struct last_failure lf;
	struct timespec start;
	size_t hdrs0; /* response headers queued before any attempt */
	int skipped; /* targets passed over: breaker open */
	long keys_wait; /* every key of a target rests: seconds */
	int keys_auth; /* ... every one benched for auth */
	/* The first key the provider refused (401/403) in this request: it
	 * is benched only when another key of the provider then serves the
	 * request (a refusal that follows the request from key to key is
	 * the request's doing, not the keys'). */
	const struct config_provider *refused_p;
	char refused_fp[17];
	int refused_status;
	int refused_twice; /* a second key refused too: stop trying keys */
	int url_i; /* the provider's base_urls[url_i] for this call, -1: none */
	/* Prompt-cache affinity: the session's record key ("": the request
	 * names no session) and the target and key it last used. */
	char aff_key[AFFINITY_KEY_LEN];
	struct affinity_rec aff;
};

static long
elapsed_ms(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* A uniform double in (0, 1]: xorshift64* on a per-thread state seeded
 * from the random id batch (crypto_id_bytes), so that two requests of one
 * thread in one second draw apart. */
static double
unit_draw(void)
{
	static __thread uint64_t x;

	while (x == 0 && crypto_id_bytes(&x, sizeof(x)) != RELAY_OK)
		x = (uint64_t)time(NULL) | 1u;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11 | 1) /
	    (double)(1ULL << 53);
}

/* Order the targets: by priority, and within one priority a weighted
 * shuffle, so that equal targets share the load: Efraimidis-Spirakis,
 * where u^(1/w) (here log(u)/w) sorts a sample weighted by w. */
static size_t
plan(const struct config_model *m, size_t *order)
{
	size_t n =
	    m->ntargets < PROXY_TARGETS_MAX ? m->ntargets : PROXY_TARGETS_MAX;
	size_t i, j, best, tmp;
	double key[PROXY_TARGETS_MAX];

	for (i = 0; i < n; i++) {
		order[i] = i;
		key[i] = log(unit_draw()) /
		    (double)(m->targets[i].weight > 0 ? m->targets[i].weight
						      : 1);
	}
	for (i = 0; i < n; i++) {
		best = i;
		for (j = i + 1; j < n; j++) {
			const struct config_target *a = &m->targets[order[j]];
			const struct config_target *b =
			    &m->targets[order[best]];

			if (a->priority < b->priority ||
			    (a->priority == b->priority &&
				key[order[j]] > key[order[best]]))
				best = j;
		}
		tmp = order[i];
		order[i] = order[best];
		order[best] = tmp;
	}
	return n;
}

static void
target_name(char *out, size_t outsz, const struct config_target *t)
{
	snprintf(out, outsz, "%s/%s", t->provider->name, t->model);
}

/* The breaker of a provider's base_urls[i]. */
static void
url_name(char *out, size_t outsz, const struct config_provider *p, int i)
{
	snprintf(out, outsz, "%s@%d", p->name, i);
}

/*
 * A base URL of p for the next call: by weight (as plan() does) among
 * those whose breaker lets a call through, the ones that failed in this
 * request (bits of failed) last. -1 when every breaker is open.
 */
static RELAY_NOINLINE int
pick_url(struct proxy *px, const struct config_provider *p, unsigned failed,
    int *probe)
{
	double key[RELAY_BASE_URLS_MAX];
	size_t order[RELAY_BASE_URLS_MAX], i, j, best, tmp;
	char name[RELAY_NAME_MAX + 16];

	for (i = 0; i < p->nurls; i++) {
		order[i] = i;
		key[i] = log(unit_draw()) / (double)p->urls[i].weight;
		if (failed & (1u << i))
			key[i] -= 1e9; /* after every one that did not */
	}
	for (i = 0; i < p->nurls; i++) {
		best = i;
		for (j = i + 1; j < p->nurls; j++)
			if (key[order[j]] > key[order[best]])
				best = j;
		tmp = order[i];
		order[i] = order[best];
		order[best] = tmp;
		url_name(name, sizeof(name), p, (int)order[i]);
		if (breaker_allow(
			px->req->ctx->kv, &px->cfg->breaker, name, probe))
			return (int)order[i];
	}
	return -1;
}

/* Our URL for the call at the chosen base URL: the same path under it. */
static enum relay_err
rebase_url(struct target_req *tr, const struct config_provider *p, int i)
{
	size_t old = strlen(p->base_url);
	struct buf url;
	enum relay_err err;

	if (i <= 0 || tr->url.data == NULL ||
	    strncmp(tr->url.data, p->base_url, old) != 0)
		return RELAY_OK; /* urls[0] is base_url */
	buf_init(&url, tr->url.max);
	err = buf_printf(&url, "%s%s", p->urls[i].url, tr->url.data + old);
	if (err != RELAY_OK) {
		buf_reset(&url);
		return err == RELAY_ENOMEM ? err : RELAY_ETOOBIG;
	}
	buf_reset(&tr->url);
	tr->url = url;
	return RELAY_OK;
}

/* Wait before the next attempt, watching the client; 0 when it left. */
static int
backoff(struct proxy *px, int attempt, const char *retry_after)
{
	const struct config_retry *r = &px->cfg->retry;
	long delay = r->base_delay_ms, ra, left, slice;
	unsigned seed = (unsigned)px->start.tv_nsec ^ (unsigned)attempt;
	int i;

	for (i = 1; i < attempt && delay < r->max_delay_ms; i++)
		delay *= 2;
	if (delay > r->max_delay_ms)
		delay = r->max_delay_ms;
	delay = delay / 2 + (long)(rand_r(&seed) % (unsigned)(delay / 2 + 1));
	ra = retry_after_s(retry_after);
	/* Longer than we would hold the client: it decides, at once. */
	if (ra > 0 && ra * 1000 > r->max_retry_after_ms)
		return -1;
	if (ra > 0 && ra * 1000 > delay)
		delay = ra * 1000;
	left = r->deadline_ms - elapsed_ms(&px->start);
	if (delay > left)
		return -1; /* no time for it: the next target instead */
	while (delay > 0) {
		slice = px->cfg->heartbeat_ms > 0 && px->pc->cr->stream
		    ? px->cfg->heartbeat_ms
		    : delay;
		if (slice > delay)
			slice = delay;
		if (req_wait_gone(px->req, slice))
			return 0;
		delay -= slice;
		/* Keep an open stream alive; never open one just for that:
		 * the retry may still fail and the status must then be the
		 * upstream's. */
		if (px->req->head_sent && px->cfg->heartbeat_ms > 0 &&
		    heartbeat(px->req) != RELAY_OK)
			return 0;
	}
	return 1;
}

static const char *
client_header(void *arg, const char *name)
{
	return req_header(arg, name);
}

/* This attempt's call into px->tr; 0 when it cannot be built (the client
 * has its answer). Out of attempt()'s frame, which stays live for the
 * whole call. */
static RELAY_NOINLINE int
build_call(struct proxy *px, const struct config_target *t,
    const struct keypool_choice *kc)
{
	const struct config_provider *p = t->provider;
	struct relay_req *req = px->req;
	struct span body = {req->body.data, req->body.len};
	const char *param = NULL;
	char msg[512];
	enum relay_err err;

	err = target_build(&px->tr, px->pc->in, px->pc->cr, body, t, kc->key,
	    px->pc->cr->stream, px->pc->anthropic_beta, msg, sizeof(msg),
	    &param);
	if (err == RELAY_OK) /* the provider's config "override", last */
		err = override_apply(&px->tr, p, body, client_header, req);
	if (err == RELAY_EINVAL) {
		struct apierr_what w = {NULL, "unsupported_for_target", param};

		apierr_sendw(req, px->pc->in, 400, &w, "%s", msg);
		return 0;
	}
	if (err == RELAY_OK)
		err = target_hop_headers(&px->tr, p, req->id,
		    req_header(req, "traceparent"), req->m_key_id);
	if (err == RELAY_OK && px->url_i >= 0)
		err = rebase_url(&px->tr, p, px->url_i);
	if (err != RELAY_OK) {
		apierr_send_err(req, px->pc->in, err, NULL);
		return 0;
	}
	return 1;
}

/* One upstream call; fills c and ps, relays what it can. */
static enum outcome
attempt(struct proxy *px, const struct config_target *t,
    const struct keypool_choice *kc, int n_attempt, struct pstate *ps,
    struct upstream_call *c)
{
	const struct config_provider *p = t->provider;
	struct relay_req *req = px->req;
	enum relay_err err;

	/* Zeroed first: the caller resets ps and reads c whatever happens,
	 * also when the request cannot be built for this target. */
	memset(ps, 0, sizeof(*ps));
	memset(c, 0, sizeof(*c));
	if (!build_call(px, t, kc))
		return OUT_DONE;
	snprintf(px->u->target, sizeof(px->u->target), "%s/%.*s", p->name,
	    strcmp(t->model, "*") == 0 ? (int)px->pc->cr->model.len
				       : (int)strlen(t->model),
	    strcmp(t->model, "*") == 0 ? px->pc->cr->model.p : t->model);
	if (!req->head_sent) {
		buf_truncate(&req->hdrs, px->hdrs0);
		if (req_add_header(req, "x-relay-target: %s", px->u->target) !=
			RELAY_OK ||
		    req_add_header(req, "x-relay-attempts: %d", n_attempt) !=
			RELAY_OK)
			log_warn("id=%s: relay headers dropped", req->id);
	}
	pstate_init(ps, req, px->pc, t, &px->tr, px->u);
	snprintf(ps->key_fp, sizeof(ps->key_fp), "%s", kc->fp);
	ps->t0 = &px->start;
	req->m_provider = p->name;
	c->url = target_url(&px->tr);
	c->headers = px->tr.lines;
	c->nheaders = px->tr.nlines;
	c->body = px->tr.body.len > 0 ? px->tr.body.data : req->body.data;
	c->body_len = px->tr.body.len > 0 ? px->tr.body.len : req->body.len;
	c->connect_ms = p->connect_ms;
	c->first_byte_ms = p->first_byte_ms;
	c->idle_ms = p->idle_ms;
	c->total_ms = p->total_ms;
	req_watch(req, &c->watch_fd, &c->watch_io);
	c->heartbeat_ms = px->pc->cr->stream ? px->cfg->heartbeat_ms : 0;
	c->proxy = creds_proxy(px->cs, kc->key);
	if (c->proxy == NULL)
		c->proxy = config_key_proxy(p, kc->key);
	c->on_head = on_head;
	c->on_data = on_data;
	c->on_idle = on_idle;
	c->arg = ps;
	err = upstream_perform(req->up, c);
	px->u->attempts++;
	req->m_attempts = px->u->attempts;
	px->u->status = c->status;
	px->u->events = ps->events;
	return judge(px->cfg, ps, err, c, &px->lf);
}

/* The provider refused key kc: remember the first such key; a second one
 * refused on the same request points at the request. */
static void
key_refused(struct proxy *px, const struct config_target *t,
    const struct keypool_choice *kc, int status)
{
	if (px->refused_p == NULL) {
		px->refused_p = t->provider;
		memcpy(px->refused_fp, kc->fp, sizeof(px->refused_fp));
		px->refused_status = status;
		return;
	}
	if (px->refused_p == t->provider && !px->refused_twice) {
		log_warn("id=%s: keys %s and %s of %s both refused (HTTP %d): "
			 "the request, not a key, is the likely cause; "
			 "neither is benched",
		    px->req->id, px->refused_fp, kc->fp, t->provider->name,
		    status);
		px->refused_twice = 1;
	}
}

/* Key kc of t's provider got a 2xx: a refused key of this request was the
 * key's fault after all (bench it); a re-checked key is good again. */
static RELAY_NOINLINE void
key_served(struct proxy *px, const struct config_target *t,
    const struct keypool_choice *kc)
{
	struct kv *kv = px->req->ctx->kv;
	char tname[2 * RELAY_NAME_MAX + 2];

	/* The session stays here for another TTL (a sliding one: the
	 * provider's cache lives as long as it is used). */
	if (px->aff_key[0] != '\0') {
		target_name(tname, sizeof(tname), t);
		affinity_put(
		    kv, px->aff_key, tname, kc->fp, px->cfg->affinity.ttl_s);
	}
	if (kc->key == NULL)
		return;
	if (kc->probe)
		keypool_unbench(kv, t->provider->name, kc->fp);
	if (px->refused_p == t->provider && !px->refused_twice &&
	    strcmp(px->refused_fp, kc->fp) != 0) {
		keypool_bench(kv, &px->cfg->keypool, t->provider->name,
		    px->refused_fp, px->refused_status);
		px->refused_p = NULL;
	}
}

/* After a failed attempt: what the key and the breaker learn from it. */
static void
learn(struct proxy *px, const struct config_target *t, const char *tname,
    const struct keypool_choice *kc, const struct pstate *ps, int probe,
    int status)
{
	struct kv *kv = px->req->ctx->kv;
	long rest;

	metrics_upstream_error(px->req->ctx->metrics, t->provider->name,
	    px->lf.proxy        ? "proxy"
		: status == 0   ? "transport"
		: status == 429 ? "rate_limited"
		: status >= 500 ? "server_error"
				: "client_error");
	metrics_retry(px->req->ctx->metrics);

	if (kc->key != NULL && status == 429) {
		rest = retry_after_s(ps->retry_after);
		if (rest == 0)
			rest = PROXY_REST_DEFAULT_S;
		keypool_rest(kv, t->provider->name, kc->fp, rest);
	} else if (kc->key != NULL && (status == 401 || status == 403))
		key_refused(px, t, kc, status);
	/* A target's health: transport failures and 5xx, not 4xx. With
	 * several base URLs each has a breaker of its own instead (one
	 * node down must not close the others). */
	if (t->provider->nurls > 0)
		return;
	if (status == 0 || status >= 500)
		breaker_failure(kv, &px->cfg->breaker, tname, probe);
	else if (probe)
		breaker_success(kv, &px->cfg->breaker, tname, probe);
}

/* Keys the target's provider has: the config's and the stored ones. */
static size_t
pool_size(const struct proxy *px, const struct config_target *t)
{
	size_t stored;

	(void)creds_for(px->cs, t->provider->name, &stored);
	return t->provider->nkeys + stored;
}

/* Answer bytes are out and the upstream broke off: end the stream with an
 * error event in the client's dialect (never a silent, truncated "end"). */
static void
broken_stream(struct proxy *px)
{
	log_warn("id=%s: stream broke after %zu events: %s%s%s", px->req->id,
	    px->u->events, px->lf.msg, px->lf.detail[0] != '\0' ? ": " : "",
	    px->lf.detail);
	apierr_send_err(px->req, px->pc->in,
	    px->lf.err != RELAY_OK ? px->lf.err : RELAY_EUPSTREAM,
	    px->lf.msg[0] != '\0' ? px->lf.msg : "the upstream broke off");
}

static void final_answer(struct proxy *px);

/* The key a pinned call (pc->pin) must use, into kc: 0 when it is gone
 * from the pool. */
static int
pinned_key(
    struct proxy *px, const struct config_target *t, struct keypool_choice *kc)
{
	memset(kc, 0, sizeof(*kc));
	if (px->pc->pin->key_fp[0] == '\0')
		return 1;
	kc->key = keypool_find(t->provider, px->cs, px->pc->pin->key_fp);
	snprintf(kc->fp, sizeof(kc->fp), "%s", px->pc->pin->key_fp);
	return kc->key != NULL;
}

static const char *
hdr_of(void *req, const char *name)
{
	return req_header(req, name);
}

/* A session's request: its last target first (plan() order otherwise
 * kept; an open breaker still skips it in try_target). */
static RELAY_NOINLINE void
affinity_begin(struct proxy *px, size_t *order, size_t n)
{
	const struct config_model *m = px->pc->m;
	char sid[RELAY_AFFINITY_ID_MAX], tname[2 * RELAY_NAME_MAX + 2];
	char scope[RELAY_NAME_MAX + 32];
	size_t i, first;

	if (!px->cfg->affinity.enabled || n == 0 ||
	    !affinity_session(&px->cfg->affinity, px->pc->cr->root, hdr_of,
		px->req, sid, sizeof(sid)))
		return;
	/* Per model and virtual key: one tenant's session id never steers
	 * another's requests. */
	snprintf(scope, sizeof(scope), "%s %s", m->name, px->req->m_key_id);
	affinity_key(sid, scope, px->aff_key);
	if (affinity_get(px->req->ctx->kv, px->aff_key, &px->aff) != RELAY_OK)
		return;
	for (i = 0; i < n; i++) {
		target_name(tname, sizeof(tname), &m->targets[order[i]]);
		if (strcmp(tname, px->aff.target) != 0)
			continue;
		first = order[i];
		memmove(order + 1, order, i * sizeof(*order));
		order[0] = first;
		return;
	}
	px->aff.target[0] = '\0'; /* no longer a target of the model */
}

/* The session's own key on its own target, when it is in rotation: 1
 * with kc filled. Asked once: a retry makes the normal choice. */
static int
affine_key(struct proxy *px, const char *tname, const struct config_target *t,
    struct keypool_choice *kc)
{
	if (px->aff.target[0] == '\0' || strcmp(px->aff.target, tname) != 0)
		return 0;
	px->aff.target[0] = '\0';
	return keypool_take(px->req->ctx->kv, t->provider, px->cs, px->aff.fp,
		   kc) == RELAY_OK;
}

/* Try one target up to max_attempts times; 1 when the request is over. */
static int
try_target(struct proxy *px, const struct config_target *t)
{
	struct kv *kv = px->req->ctx->kv;
	struct keypool_choice kc;
	struct upstream_call c;
	struct pstate ps;
	enum outcome o;
	char tname[2 * RELAY_NAME_MAX + 2], uname[RELAY_NAME_MAX + 16];
	int a, probe = 0, w, uprobe = 0;
	unsigned ufailed = 0;

	target_name(tname, sizeof(tname), t);
	if (!breaker_allow(kv, &px->cfg->breaker, tname, &probe)) {
		px->skipped++;
		return 0;
	}
	for (a = 1; a <= px->cfg->retry.max_attempts; a++) {
		if (px->pc->pin != NULL) {
			/* The stored response lives with its key alone. */
			if (!pinned_key(px, t, &kc))
				return 0;
		} else if (!(a == 1 && affine_key(px, tname, t, &kc)) &&
		    keypool_pick(kv, t->provider, px->cs, &px->cfg->keypool,
			px->refused_p == t->provider ? px->refused_fp : "",
			&kc) != RELAY_OK) {
			/* The last upstream answer (say, the 429 that rested
			 * the last key, with its Retry-After) stays the one to
			 * give if nothing else serves. */
			px->keys_wait = kc.wait_s;
			px->keys_auth = kc.all_auth;
			return 0;
		}
		px->url_i = -1;
		if (t->provider->nurls > 0) {
			px->url_i = pick_url(px, t->provider, ufailed, &uprobe);
			if (px->url_i < 0) {
				px->skipped++;
				return 0;
			}
			url_name(uname, sizeof(uname), t->provider, px->url_i);
		}
		o = attempt(px, t, &kc, px->u->attempts + 1, &ps, &c);
		if (c.status >= 200 && c.status < 300)
			key_served(px, t, &kc);
		/* An error event in a 200 stream: the upstream failed, as a
		 * 502 would say (for the breakers and the metrics). */
		if (ps.err_event)
			c.status = 502;
		if (px->url_i >= 0 && o != OUT_GONE) {
			if (c.status == 0 || c.status >= 500) {
				breaker_failure(
				    kv, &px->cfg->breaker, uname, uprobe);
				ufailed |= 1u << px->url_i;
			} else if (c.status < 300 || uprobe)
				breaker_success(
				    kv, &px->cfg->breaker, uname, uprobe);
		}
		if (o == OUT_FINAL || o == OUT_BROKEN) {
			if (t->provider->nurls == 0 &&
			    (c.status == 0 || c.status >= 500))
				breaker_failure(
				    kv, &px->cfg->breaker, tname, probe);
			if (o == OUT_FINAL)
				final_answer(px);
			else
				broken_stream(px);
			pstate_reset(&ps);
			return 1;
		}
		if (o != OUT_RETRY) {
			if (o == OUT_DONE && c.status >= 200 && c.status < 300)
				breaker_success(
				    kv, &px->cfg->breaker, tname, probe);
			pstate_reset(&ps);
			return 1;
		}
		learn(px, t, tname, &kc, &ps, probe, c.status);
		probe = 0;
		/* A relay upstream already retried this (x-should-retry:
		 * false): asking it again multiplies its calls; another
		 * target may still serve. */
		if (ps.no_retry) {
			log_warn("id=%s: attempt %d on %s failed: HTTP %d, "
				 "retries already spent upstream",
			    px->req->id, px->u->attempts, tname, c.status);
			pstate_reset(&ps);
			break;
		}
		/* A refused key with no other to try, or a refusal that
		 * followed the request to a second key: it stands. */
		if ((c.status == 401 || c.status == 403) &&
		    (pool_size(px, t) <= 1 || px->refused_twice)) {
			final_answer(px);
			pstate_reset(&ps);
			return 1;
		}
		/* Another key may serve at once: the rested key's
		 * Retry-After is not ours to wait for. */
		if (c.status == 429 && pool_size(px, t) > 1)
			ps.retry_after[0] = '\0';
		log_warn("id=%s: attempt %d on %s failed: %s%s%s%s%s%d",
		    px->req->id, px->u->attempts, tname, px->lf.msg,
		    px->lf.detail[0] != '\0' ? " (" : "", px->lf.detail,
		    px->lf.detail[0] != '\0' ? ")" : "",
		    px->lf.msg[0] != '\0' ? ", HTTP " : "HTTP ", c.status);
		w = a < px->cfg->retry.max_attempts
		    ? backoff(px, px->u->attempts, ps.retry_after)
		    : 1;
		pstate_reset(&ps);
		if (w == 0)
			return 1; /* the client left while we waited */
		if (w < 0)
			break;
	}
	return 0;
}

/* The final answer is one a caller's retry would only repeat: we made
 * retries already, or the provider refused our keys. */
static int
no_retry_advised(const struct proxy *px)
{
	const struct last_failure *lf = &px->lf;

	if (lf->err == RELAY_OK && (lf->status == 401 || lf->status == 403))
		return 1;
	if (lf->err == RELAY_OK && lf->no_retry)
		return 1;
	if (px->u->attempts == 0 && px->keys_wait > 0 && px->keys_auth)
		return 1;
	return px->u->attempts > 1;
}

/* Everything failed: the last upstream error, or the relay's own. */
static void
final_answer(struct proxy *px)
{
	struct relay_req *req = px->req;
	struct last_failure *lf = &px->lf;
	struct span body = {
	    lf->body.data != NULL ? lf->body.data : "", lf->body.len};
	struct buf out;

	/* Whoever called us (an SDK, a relay of a lower tier) should not
	 * call again for this answer: our retries are spent, or a retry
	 * cannot help. */
	if (!req->head_sent && no_retry_advised(px) &&
	    req_add_header(req, "x-should-retry: false") != RELAY_OK)
		log_warn("id=%s: x-should-retry dropped", req->id);
	if (lf->retry_after[0] != '\0' && !req->head_sent &&
	    req_add_header(req, "Retry-After: %s", lf->retry_after) != RELAY_OK)
		log_warn("id=%s: Retry-After dropped", req->id);
	/* The retries were spent here: a relay in front (or an OpenAI SDK,
	 * which honours this) must not multiply them. */
	if (px->u->attempts > 1 && !req->head_sent &&
	    req_add_header(req, "x-should-retry: false") != RELAY_OK)
		log_warn("id=%s: x-should-retry dropped", req->id);
	/* The provider refused the relay's own key: no fault of the caller's
	 * and nothing its key can mend; say so (never the provider's "invalid
	 * API key", which the caller would take for its own). */
	if (lf->err == RELAY_OK && (lf->status == 401 || lf->status == 403)) {
		apierr_send(req, px->pc->in, 502, NULL, "upstream_auth_failed",
		    "The upstream provider refused the relay's API key (HTTP "
		    "%d); the relay's operator must check the provider's "
		    "keys.",
		    lf->status);
		return;
	}
	if (lf->err == RELAY_OK && lf->status >= 400 && !req->head_sent) {
		buf_init(&out, RELAY_UPSTREAM_BODY_MAX);
		if (lf->from == px->pc->in &&
		    req_send_full(req, lf->status, "application/json", body.p,
			body.len) != RELAY_OK)
			req->status = 499;
		else if (lf->from != px->pc->in &&
		    (dialect_error_translate(lf->from, body, lf->status,
			 px->pc->in, &out) != RELAY_OK ||
			req_send_full(req, lf->status, "application/json",
			    out.data, out.len) != RELAY_OK))
			req->status = 499;
		buf_reset(&out);
		return;
	}
	if (lf->err == RELAY_OK && lf->status >= 400) {
		apierr_send(req, px->pc->in, lf->status, NULL, "upstream_error",
		    "upstream answered HTTP %d", lf->status);
		return;
	}
	if (px->u->attempts == 0 && px->keys_wait > 0 && px->keys_auth) {
		apierr_send(req, px->pc->in, 502, NULL, "upstream_auth_failed",
		    "The upstream provider refused every API key of the "
		    "relay's; the relay re-checks them within %lds.",
		    px->keys_wait);
		return;
	}
	if (px->u->attempts == 0 && px->keys_wait > 0) {
		if (!req->head_sent &&
		    req_add_header(req, "Retry-After: %ld", px->keys_wait) !=
			RELAY_OK)
			log_warn("id=%s: Retry-After dropped", req->id);
		apierr_send(req, px->pc->in, 429, NULL, "upstream_keys_resting",
		    "All upstream keys are rate limited; try again in %lds.",
		    px->keys_wait);
		return;
	}
	if (px->u->attempts == 0 && px->skipped > 0) {
		apierr_send(req, px->pc->in, 503, NULL, "upstream_circuit_open",
		    "Every target of this model is failing; the relay will "
		    "try again shortly.");
		return;
	}
	if (lf->proxy) {
		/* The relay's own way out failed: say so, apart from the
		 * provider's errors (access log "error", metrics kind). */
		req->m_error = "egress_proxy";
		apierr_send(req, px->pc->in,
		    lf->err == RELAY_ETIMEOUT ? 504 : 502, NULL,
		    "egress_proxy_error", "%s", lf->msg);
		return;
	}
	apierr_send_err(req, px->pc->in,
	    lf->err != RELAY_OK ? lf->err : RELAY_EUPSTREAM,
	    lf->msg[0] != '\0' ? lf->msg : NULL);
}

int
proxy_pinned_target(
    const struct config_target *t, const struct rseal_respid *pin)
{
	return t->responses && strcmp(t->provider->name, pin->provider) == 0;
}

static int
pinned_target(const struct proxy_call *pc, size_t i)
{
	return proxy_pinned_target(&pc->m->targets[i], pc->pin);
}

void
proxy_chat(struct relay_req *req, const struct config *cfg,
    const struct proxy_call *pc, struct proxy_usage *u)
{
	size_t order[PROXY_TARGETS_MAX], n, i;
	/* On the heap: its URL and header buffers are ~8 KB, and on the
	 * loop runtime a coroutine keeps every stack page it touched for
	 * the whole of its request (a stream's minutes). */
	struct proxy *px = mem_calloc(1, sizeof(*px));
	int over = 0;

	memset(u, 0, sizeof(*u));
	if (px == NULL) {
		apierr_send_err(req, pc->in, RELAY_ENOMEM, NULL);
		return;
	}
	px->req = req;
	px->cfg = cfg;
	px->pc = pc;
	px->u = u;
	px->hdrs0 = req->hdrs.len;
	px->lf.err = RELAY_EUPSTREAM;
	buf_init(&px->lf.body, RELAY_UPSTREAM_BODY_MAX);
	target_init(&px->tr, cfg->body_max + 64 * 1024);
	clock_gettime(CLOCK_MONOTONIC, &px->start);
	px->cs = creds_acquire(req->ctx->creds);
	if (pc->cr->stream)
		metrics_inflight(req->ctx->metrics, 1);
	n = plan(pc->m, order);
	affinity_begin(px, order, n);
	for (i = 0; i < n && !over; i++) {
		if (i > 0 && elapsed_ms(&px->start) >= cfg->retry.deadline_ms)
			break;
		if (pc->pin != NULL && !pinned_target(pc, order[i]))
			continue;
		/* Compaction elsewhere needs a key to seal the summary. */
		if (pc->cr->compact && !pc->m->targets[order[i]].responses &&
		    !req->ctx->master.have_cur)
			continue;
		if (i > 0)
			metrics_fallback(req->ctx->metrics);
		over = try_target(px, &pc->m->targets[order[i]]);
	}
	if (!over)
		final_answer(px);
	if (req->status == 0 && !req->head_sent)
		req->status = 499;
	if (pc->cr->stream)
		metrics_inflight(req->ctx->metrics, -1);
	creds_release(px->cs);
	target_reset(&px->tr);
	buf_reset(&px->lf.body);
	mem_free(px);
}

/* --- a cached answer ------------------------------------------------------ */

enum relay_err
proxy_replay(struct relay_req *req, const struct proxy_call *pc,
    const struct cache_entry *e)
{
	const struct chatreq *cr = pc->cr;
	struct span pl = {
	    e->payload.data != NULL ? e->payload.data : "", e->payload.len};
	struct dialect_req_info info;
	struct proxy_usage u;
	struct ir_usage iu;
	struct timespec t0;
	struct pstate ps;
	struct buf out;
	enum relay_err err = RELAY_OK;
	int as_recorded;

	if (e->d != pc->in || pc->record != NULL)
		return RELAY_EPROTO;
	memset(&info, 0, sizeof(info));
	info.stream = cr->stream;
	info.include_usage = pc->in == DIALECT_OPENAI ? cr->include_usage : 1;
	snprintf(info.model, sizeof(info.model), "%.*s", (int)cr->model.len,
	    cr->model.p);
	if (dialect_req_custom(pc->in, cr->root, &info) != RELAY_OK)
		return RELAY_EPROTO;
	ir_usage_init(&iu);
	iu.input = e->tokens_in;
	iu.output = e->tokens_out;
	iu.cache_read = e->tokens_cached;
	buf_init(&out, 4 * e->payload.len + 65536);
	as_recorded = cr->stream == e->stream &&
	    (!e->stream || pc->in != DIALECT_OPENAI ||
		e->include_usage == cr->include_usage);
	if (as_recorded)
		;
	else if (cr->stream && e->stream)
		err = dialect_stream_retell(pc->in, pl, &info, &iu, &out);
	else if (cr->stream)
		err = dialect_response_to_stream(pc->in, pl, &info, &out);
	else if (e->stream)
		err = dialect_stream_to_response(pc->in, pl, &iu, &out);
	if (err != RELAY_OK) {
		buf_reset(&out);
		return RELAY_EPROTO;
	}
	if (!as_recorded)
		pl = (struct span){out.data != NULL ? out.data : "", out.len};
	if (!cr->stream) {
		err = req_send_full(req, 200, "application/json", pl.p, pl.len);
		if (err != RELAY_OK)
			req->status = 499;
		buf_reset(&out);
		return err;
	}
	memset(&ps, 0, sizeof(ps));
	memset(&u, 0, sizeof(u));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ps.req = req;
	ps.pc = pc;
	ps.u = &u;
	ps.t0 = &t0;
	sse_init(&ps.sse, RELAY_SSE_EVENT_MAX);
	sse_init(&ps.arr, RELAY_SSE_EVENT_MAX);
	err = client_sse(&ps, pl.p, pl.len);
	if (err == RELAY_OK)
		end_stream(&ps);
	else
		req->status = 499;
	sse_reset(&ps.sse);
	sse_reset(&ps.arr);
	buf_reset(&out);
	return req->status == 499 ? RELAY_ECLOSED : RELAY_OK;
}
