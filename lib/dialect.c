/* SPDX-License-Identifier: MIT */
/* dialect.c - the one entry point for translation: picks the wire module
 * for each side and joins them through the IR (parse in -> IR -> emit
 * out), for requests, responses, errors and streams. */
#include <stdio.h>
#include <string.h>

#include "dialect.h"
#include "ir_fold.h"
#include "mem.h"
#include "rseal.h"
#include "wire_anthropic.h"
#include "wire_gemini.h"
#include "wire_openai.h"
#include "wire_responses.h"
#include "wordfilter.h"

/* The operations of one wire format. */
struct wire_ops {
	const char *name;
	enum relay_err (*parse_request)(
	    struct span, struct ir_request *, char *, size_t, const char **);
	enum relay_err (*emit_request)(const struct ir_request *, const char *,
	    struct buf *, char *, size_t, const char **);
	enum relay_err (*parse_response)(
	    struct span, struct ir_response *, char *, size_t);
	enum relay_err (*emit_response)(
	    const struct ir_response *, struct buf *);
	enum relay_err (*decode)(
	    struct ir_dec *, const struct sse_event *, struct ir_norm *);
	enum relay_err (*encode)(
	    struct ir_enc *, const struct ir_sev *, struct buf *);
	json_t *(*error)(int, const char *, const char *, size_t);
	const char *event_name; /* SSE "event:" of an error, or NULL */
	const char *term; /* SSE event terminator */
	enum dialect error_family; /* whose error shape and headers */
	/* emit_response for a client whose custom tools matter, or NULL */
	enum relay_err (*emit_response_custom)(
	    const struct ir_response *, const char *, struct buf *);
	/* the error as a stream event's data, when not error()'s body */
	json_t *(*error_event)(int, const char *, const char *, size_t);
};

static const struct wire_ops wires[DIALECT__MAX] = {
    [DIALECT_OPENAI] = {"openai", wire_openai_parse_request,
	wire_openai_emit_request, wire_openai_parse_response,
	wire_openai_emit_response, wire_openai_decode, wire_openai_encode,
	wire_openai_error, NULL, "\n\n", DIALECT_OPENAI, NULL},
    [DIALECT_ANTHROPIC] = {"anthropic", wire_anthropic_parse_request,
	wire_anthropic_emit_request, wire_anthropic_parse_response,
	wire_anthropic_emit_response, wire_anthropic_decode,
	wire_anthropic_encode, wire_anthropic_error, "error", "\n\n",
	DIALECT_ANTHROPIC, NULL},
    [DIALECT_GEMINI] = {"gemini", wire_gemini_parse_request,
	wire_gemini_emit_request, wire_gemini_parse_response,
	wire_gemini_emit_response, wire_gemini_decode, wire_gemini_encode,
	wire_gemini_error, NULL, "\r\n\r\n", DIALECT_GEMINI, NULL},
    [DIALECT_RESPONSES] = {"responses", wire_responses_parse_request,
	wire_responses_emit_request, wire_responses_parse_response,
	wire_responses_emit_response, wire_responses_decode,
	wire_responses_encode, wire_responses_error, "response.failed", "\n\n",
	DIALECT_OPENAI, wire_responses_emit_response_custom,
	wire_responses_error_event},
};

static int
dialect_ok(enum dialect d)
{
	return (unsigned)d < DIALECT__MAX;
}

const char *
dialect_name(enum dialect d)
{
	return dialect_ok(d) ? wires[d].name : "?";
}

enum dialect
dialect_error_family(enum dialect d)
{
	return dialect_ok(d) ? wires[d].error_family : DIALECT_OPENAI;
}

/* Append name to info->custom ("\n" before and after each). */
static enum relay_err
custom_add(struct dialect_req_info *info, const char *name, size_t n)
{
	size_t len = strlen(info->custom);

	if (len == 0)
		len = 1;
	if (n == 0 || memchr(name, '\n', n) != NULL ||
	    len + n + 2 > sizeof(info->custom))
		return RELAY_EINVAL;
	info->custom[0] = '\n';
	memcpy(info->custom + len, name, n);
	info->custom[len + n] = '\n';
	info->custom[len + n + 1] = '\0';
	return RELAY_OK;
}

enum relay_err
dialect_req_custom(
    enum dialect d, const json_t *root, struct dialect_req_info *info)
{
	json_t *tools = json_object_get(root, "tools"), *t, *name;
	const char *type;
	size_t i;

	info->custom[0] = '\0';
	if (d != DIALECT_RESPONSES)
		return RELAY_OK;
	json_array_foreach (tools, i, t) {
		type = json_string_value(json_object_get(t, "type"));
		name = json_object_get(t, "name");
		if (type != NULL && strcmp(type, "custom") == 0 &&
		    json_is_string(name) &&
		    custom_add(info, json_string_value(name),
			json_string_length(name)) != RELAY_OK)
			return RELAY_EINVAL;
	}
	return RELAY_OK;
}

/* Truncate out back to len (failures leave no partial output). */
static void
truncate_to(struct buf *out, size_t len)
{
	out->len = len;
	if (out->data != NULL)
		out->data[len] = '\0';
}

/* What a translated /v1/responses/compact asks the target, after the
 * conversation (in the spirit of Codex's own compaction prompt). */
static const char compact_prompt[] =
    "You are performing a context checkpoint compaction. Write a handoff "
    "summary of the conversation above for another model that will "
    "resume the task from it alone. Include the current progress and the "
    "key decisions made; important context, constraints and the user's "
    "preferences; what remains to be done, as clear next steps; and any "
    "data, file names, commands or references needed to continue. Be "
    "concise and structured. Answer with the summary only, and call no "
    "tool.";

/* The conversation of r turned into a request for its summary: one more
 * user turn asking for it, no tool to call, plain text, unary. */
static enum relay_err
compact_ask(struct ir_request *r)
{
	struct ir_part *p;
	struct ir_msg *m;
	enum relay_err err;

	if (r->nmsgs > 0 && r->msgs[r->nmsgs - 1].role == IR_ROLE_USER)
		m = &r->msgs[r->nmsgs - 1];
	else if ((err = ir_request_add_msg(r, IR_ROLE_USER, &m)) != RELAY_OK)
		return err;
	err = ir_msg_add_part(m, IR_PART_TEXT, &p);
	if (err != RELAY_OK)
		return err;
	p->text = json_string(compact_prompt);
	if (p->text == NULL)
		return RELAY_ENOMEM;
	if (r->ntools > 0)
		r->tool_choice = IR_TOOL_CHOICE_NONE;
	r->format = IR_FORMAT_TEXT;
	r->stream = 0;
	return RELAY_OK;
}

enum relay_err
dialect_request(enum dialect in, struct span body, enum dialect out,
    const char *upstream_model, struct buf *out_body,
    struct dialect_req_info *info, char *errbuf, size_t errsz,
    const char **param)
{
	struct ir_request r;
	size_t before = out_body->len, i;
	enum relay_err err;

	*param = NULL;
	if (!dialect_ok(in) || !dialect_ok(out))
		return ir_fail(errbuf, errsz, param, NULL, "unknown dialect");
	ir_request_init(&r);
	if (in == DIALECT_GEMINI)
		r.stream = info->stream;
	r.master = info->master;
	r.provider = info->provider;
	err = wires[in].parse_request(body, &r, errbuf, errsz, param);
	if (err == RELAY_OK && info->compact)
		err = compact_ask(&r);
	if (in == DIALECT_GEMINI)
		r.stream = info->stream;
	if (err == RELAY_OK) {
		info->stream = r.stream;
		info->include_usage = r.include_usage;
		info->model[0] = '\0';
		if (r.model != NULL)
			ir_copy_span(info->model, sizeof(info->model),
			    (struct span){json_string_value(r.model),
				json_string_length(r.model)});
		info->custom[0] = '\0';
		for (i = 0; i < r.ntools && err == RELAY_OK; i++)
			if (r.tools[i].freeform &&
			    custom_add(info, json_string_value(r.tools[i].name),
				json_string_length(r.tools[i].name)) !=
				RELAY_OK)
				err = ir_fail(errbuf, errsz, param, "tools",
				    "Too many custom tools, or a custom tool "
				    "name with a line break.");
		/* Only OpenAI's conversation has a system role of its own. */
		if (err == RELAY_OK && out != DIALECT_OPENAI)
			err = ir_fold_system(&r);
	}
	r.reasoning_back = info->reasoning_content;
	if (err == RELAY_OK)
		err = wires[out].emit_request(
		    &r, upstream_model, out_body, errbuf, errsz, param);
	if (err != RELAY_OK)
		truncate_to(out_body, before);
	ir_request_reset(&r);
	return err;
}

/* 1 when a Responses client gets the answer of a translated target: its
 * reasoning is then the relay's to seal (lib/rseal.h). */
static int
seals(enum dialect from, enum dialect to)
{
	return to == DIALECT_RESPONSES && from != DIALECT_RESPONSES;
}

/* A token for the reasoning part p of provider (a new string), or NULL
 * when there is none to make (no master key, nothing to give back); *oom
 * set when memory is short. */
static json_t *
seal_part(
    const struct dialect_req_info *info, const struct ir_part *p, int *oom)
{
	struct rseal_reasoning rr;
	enum relay_err err;
	struct buf tok;
	json_t *s = NULL;

	if (info == NULL || info->master == NULL || !info->master->have_cur)
		return NULL;
	memset(&rr, 0, sizeof(rr));
	snprintf(rr.provider, sizeof(rr.provider), "%s", info->provider);
	rr.redacted = p->type == IR_PART_REDACTED_THINKING;
	/* borrowed: rr is not reset */
	rr.text = p->text;
	rr.sig = p->signature;
	rr.data = p->data;
	buf_init(&tok, RELAY_UPSTREAM_BODY_MAX);
	err = rseal_reasoning_wrap(info->master, &rr, &tok);
	if (err == RELAY_OK) {
		s = json_stringn(tok.data, tok.len);
		*oom |= s == NULL;
	} else
		*oom |= err == RELAY_ENOMEM;
	buf_reset(&tok);
	return s;
}

/*
 * The reasoning of a translated target as a Responses client gets it:
 * each thinking part's signature becomes the relay's sealed token (its
 * provider, text and signature), a redacted one a thinking part with no
 * text and the token. Without a master key there is no signature at all:
 * a raw one would be taken for OpenAI's when it came back, and never
 * reach its provider again. RELAY_ENOMEM.
 */
static enum relay_err
seal_reasoning(struct ir_msg *m, const struct dialect_req_info *info)
{
	struct ir_part *p;
	json_t *tok;
	size_t i;
	int oom = 0;

	for (i = 0; i < m->nparts && !oom; i++) {
		p = &m->parts[i];
		if (p->type != IR_PART_THINKING &&
		    p->type != IR_PART_REDACTED_THINKING)
			continue;
		tok = seal_part(info, p, &oom);
		if (p->type == IR_PART_REDACTED_THINKING && tok == NULL)
			continue; /* no Responses form: left out */
		json_decref(p->signature);
		p->signature = tok;
		if (p->type == IR_PART_REDACTED_THINKING) {
			p->type = IR_PART_THINKING;
			json_decref(p->data);
			p->data = NULL;
		}
	}
	return oom ? RELAY_ENOMEM : RELAY_OK;
}

enum relay_err
dialect_response(enum dialect from, struct span body, enum dialect to,
    const struct dialect_req_info *info, struct buf *out,
    struct ir_usage *usage)
{
	struct ir_response r;
	size_t before = out->len;
	char eb[128];
	enum relay_err err;

	if (!dialect_ok(from) || !dialect_ok(to))
		return RELAY_EPROTO;
	ir_response_init(&r);
	err = wires[from].parse_response(body, &r, eb, sizeof(eb));
	if (usage != NULL)
		*usage = r.usage;
	if (err == RELAY_OK && r.model == NULL && info != NULL &&
	    info->model[0] != '\0') {
		r.model = json_string(info->model);
		err = r.model != NULL ? RELAY_OK : RELAY_ENOMEM;
	}
	if (err == RELAY_OK && seals(from, to))
		err = seal_reasoning(&r.msg, info);
	if (err == RELAY_OK && wires[to].emit_response_custom != NULL)
		err = wires[to].emit_response_custom(
		    &r, info != NULL ? info->custom : NULL, out);
	else if (err == RELAY_OK)
		err = wires[to].emit_response(&r, out);
	if (err != RELAY_OK)
		truncate_to(out, before);
	ir_response_reset(&r);
	return err;
}

enum relay_err
dialect_compaction(enum dialect from, struct span body, json_t *input,
    const struct dialect_req_info *info, struct buf *out,
    struct ir_usage *usage)
{
	struct ir_response r;
	json_t *text = NULL;
	struct buf tok;
	char eb[128];
	enum relay_err err;
	int oom = 0;

	if (!dialect_ok(from))
		return RELAY_EPROTO;
	if (info->master == NULL || !info->master->have_cur)
		return RELAY_ENOTFOUND;
	ir_response_init(&r);
	buf_init(&tok, RELAY_UPSTREAM_BODY_MAX);
	err = wires[from].parse_response(body, &r, eb, sizeof(eb));
	if (err == RELAY_EINVAL)
		err = RELAY_EPROTO;
	if (usage != NULL)
		*usage = r.usage;
	if (err == RELAY_OK) {
		text = ir_msg_text(&r.msg, IR_PART_TEXT, "", &oom);
		err = oom                           ? RELAY_ENOMEM
		    : json_string_length(text) == 0 ? RELAY_EPROTO
						    : RELAY_OK;
	}
	if (err == RELAY_OK)
		err = rseal_compaction_wrap(info->master,
		    (struct span){
			json_string_value(text), json_string_length(text)},
		    &tok);
	if (err == RELAY_OK)
		err = wire_responses_compaction(
		    input, tok.data, tok.len, &r.usage, out);
	json_decref(text);
	buf_reset(&tok);
	ir_response_reset(&r);
	return err;
}

enum relay_err
dialect_error_body(enum dialect d, int status, const char *type_or_code,
    const char *msg, struct buf *out)
{
	json_t *o;
	enum relay_err err;

	if (!dialect_ok(d))
		d = DIALECT_OPENAI;
	o = wires[d].error(status, type_or_code, msg, strlen(msg));
	err = o != NULL ? jsonx_dump(o, out) : RELAY_ENOMEM;
	json_decref(o);
	return err;
}

enum relay_err
dialect_error_event(enum dialect d, int status, const char *type_or_code,
    const char *msg, struct buf *out)
{
	json_t *o;
	enum relay_err err;

	if (!dialect_ok(d))
		d = DIALECT_OPENAI;
	o = wires[d].error_event != NULL
	    ? wires[d].error_event(status, type_or_code, msg, strlen(msg))
	    : wires[d].error(status, type_or_code, msg, strlen(msg));
	err = ir_sse(out, wires[d].event_name, o, wires[d].term);
	json_decref(o);
	return err;
}

/* The message and type of an upstream error body (any dialect's shape:
 * all three nest {"message"} under "error"). */
static void
error_fields(json_t *root, const char **msg, const char **type)
{
	json_t *e = json_object_get(root, "error");

	*msg = json_string_value(json_object_get(e, "message"));
	*type = json_string_value(json_object_get(e, "type"));
	if (*type == NULL)
		*type = json_string_value(json_object_get(e, "status"));
	if (*type == NULL)
		*type = json_string_value(json_object_get(e, "code"));
}

enum relay_err
dialect_error_translate(enum dialect from, struct span body, int status,
    enum dialect to, struct buf *out)
{
	const char *msg = NULL, *type = NULL;
	json_t *root = NULL, *o;
	char eb[128], generic[96];
	enum relay_err err;

	(void)from; /* the three shapes are told apart by their members */
	if (!dialect_ok(to))
		to = DIALECT_OPENAI;
	err = jsonx_parse(body.p, body.len, &root, eb, sizeof(eb));
	if (err == RELAY_ENOMEM)
		return err;
	error_fields(root, &msg, &type);
	if (msg == NULL) {
		snprintf(generic, sizeof(generic),
		    "the upstream provider answered HTTP %d", status);
		msg = generic;
	}
	o = wires[to].error(status, type, msg, strlen(msg));
	err = o != NULL ? jsonx_dump(o, out) : RELAY_ENOMEM;
	json_decref(o);
	json_decref(root);
	return err;
}

/* --- streams ------------------------------------------------------------ */

struct dialect_stream {
	enum dialect from, to;
	struct ir_dec dec;
	struct ir_norm norm;
	struct ir_enc enc;
	struct buf *out; /* the caller's, during one call */
	int complete;
	int dead; /* the upstream broke protocol: nothing more */
	/* The content filter over the answer's text (dialect_stream_filter). */
	struct wordfilter_stream *ws;
	int stop; /* end the stream before the first match */
	int cut; /* it did: every later event is dropped */
	int text_open; /* a text block is open ... */
	size_t text_index; /* ... with this index */
	struct buf fb; /* filtered text of one delta */
	/* A rewriter before the filter (dialect_stream_hook). */
	dialect_sev_hook hook;
	void *hook_arg;
	void (*hook_free)(void *);
	char custom[RELAY_RS_CUSTOM_MAX]; /* the client's custom tools */
	/* Sealing a translated target's reasoning for a Responses client:
	 * the open thinking block's text and signature gathered, its
	 * signature deltas held back, the token sent at its end. */
	int seal;
	int seal_open, seal_bad;
	size_t seal_index;
	struct buf seal_text, seal_sig;
	struct dialect_req_info sinfo; /* master and provider */
};

static enum relay_err
encode(struct dialect_stream *ds, const struct ir_sev *ev)
{
	size_t before = ds->out->len;
	enum relay_err err;

	if (ev->kind == IR_SEV_END)
		ds->complete = 1;
	err = wires[ds->to].encode(&ds->enc, ev, ds->out);
	if (err != RELAY_OK)
		truncate_to(ds->out, before);
	return err;
}

/* The filtered text in ds->fb as a delta of the open text block. */
static enum relay_err
emit_filtered(struct dialect_stream *ds)
{
	struct ir_sev d;

	if (ds->fb.len == 0)
		return RELAY_OK;
	memset(&d, 0, sizeof(d));
	d.kind = IR_SEV_DELTA;
	d.index = ds->text_index;
	d.part = IR_PART_TEXT;
	d.delta = IR_DELTA_TEXT;
	d.text = (struct span){ds->fb.data, ds->fb.len};
	d.usage = &ds->norm.usage;
	return encode(ds, &d);
}

/* A match with the stop action: the open block closes and the stream
 * ends as the dialect ends one its provider filtered. */
static enum relay_err
cut_here(struct dialect_stream *ds)
{
	static const char raw[] = "content_filter";
	struct ir_sev ev;
	enum relay_err err = RELAY_OK;

	ds->cut = 1;
	memset(&ev, 0, sizeof(ev));
	ev.usage = &ds->norm.usage;
	if (ds->text_open) {
		ev.kind = IR_SEV_BLOCK_STOP;
		ev.index = ds->text_index;
		err = encode(ds, &ev);
		ds->text_open = 0;
	}
	if (err != RELAY_OK)
		return err;
	ev.kind = IR_SEV_END;
	ev.finish = IR_FINISH_CONTENT_FILTER;
	ev.finish_raw = (struct span){raw, sizeof(raw) - 1};
	return encode(ds, &ev);
}

/*
 * With a filter, text deltas go through it: what no later piece can make
 * part of a match goes out at once, the rest waits for the next delta,
 * and the end of the block (or anything else) lets it out. Other events
 * pass as they are.
 */
static enum relay_err
stream_emit(void *arg, const struct ir_sev *ev)
{
	struct dialect_stream *ds = arg;
	enum relay_err err = RELAY_OK;
	int matched = 0;

	if (ds->ws == NULL)
		return encode(ds, ev);
	if (ds->cut)
		return RELAY_OK;
	if (ev->kind == IR_SEV_DELTA && ev->delta == IR_DELTA_TEXT &&
	    ds->text_open && ev->index == ds->text_index) {
		buf_clear(&ds->fb);
		err = wordfilter_stream_feed(
		    ds->ws, ev->text.p, ev->text.len, &ds->fb, &matched);
		if (err == RELAY_OK)
			err = emit_filtered(ds);
		if (err == RELAY_OK && matched && ds->stop)
			err = cut_here(ds);
		return err;
	}
	if (ds->text_open && ev->kind != IR_SEV_DELTA) {
		/* The held-back tail belongs before whatever comes next. */
		buf_clear(&ds->fb);
		err = wordfilter_stream_flush(ds->ws, &ds->fb);
		if (err == RELAY_OK)
			err = emit_filtered(ds);
		if (err != RELAY_OK)
			return err;
		if (ev->kind == IR_SEV_BLOCK_STOP &&
		    ev->index == ds->text_index)
			ds->text_open = 0;
	}
	if (ev->kind == IR_SEV_BLOCK_START && ev->part == IR_PART_TEXT) {
		ds->text_open = 1;
		ds->text_index = ev->index;
	}
	return encode(ds, ev);
}

/* The normaliser's events, through the hook when there is one. */
static enum relay_err
stream_hooked(void *arg, const struct ir_sev *ev)
{
	struct dialect_stream *ds = arg;

	if (ds->hook == NULL)
		return stream_emit(ds, ev);
	return ds->hook(ds->hook_arg, ev, stream_emit, ds);
}

/* The end of a thinking block: its token as one signature delta (none
 * without a master key or when the block outgrew the gathering). */
static enum relay_err
seal_block_end(struct dialect_stream *ds, const struct ir_sev *stop)
{
	struct ir_part p;
	struct ir_sev d;
	json_t *tok;
	enum relay_err err;
	int oom = 0;

	if (ds->seal_bad)
		return RELAY_OK;
	memset(&p, 0, sizeof(p));
	p.type = IR_PART_THINKING;
	p.text = json_stringn(
	    ds->seal_text.len > 0 ? ds->seal_text.data : "", ds->seal_text.len);
	p.signature = ds->seal_sig.len > 0
	    ? json_stringn(ds->seal_sig.data, ds->seal_sig.len)
	    : NULL;
	oom = p.text == NULL || (ds->seal_sig.len > 0 && p.signature == NULL);
	tok = oom ? NULL : seal_part(&ds->sinfo, &p, &oom);
	json_decref(p.text);
	json_decref(p.signature);
	if (tok == NULL)
		return oom ? RELAY_ENOMEM : RELAY_OK;
	memset(&d, 0, sizeof(d));
	d.kind = IR_SEV_DELTA;
	d.index = stop->index;
	d.part = IR_PART_THINKING;
	d.delta = IR_DELTA_SIGNATURE;
	d.text = (struct span){json_string_value(tok), json_string_length(tok)};
	d.usage = stop->usage;
	err = stream_hooked(ds, &d);
	json_decref(tok);
	return err;
}

/* Gather a thinking block's own text and signature, before the PII
 * restore (the provider wants back what it sent), and swap the
 * signature for the relay's token at the block's end. */
static enum relay_err
stream_sealed(void *arg, const struct ir_sev *ev)
{
	struct dialect_stream *ds = arg;
	enum relay_err err;

	if (!ds->seal)
		return stream_hooked(ds, ev);
	if (ev->kind == IR_SEV_BLOCK_START && ev->part == IR_PART_THINKING) {
		ds->seal_open = 1;
		ds->seal_bad = 0;
		ds->seal_index = ev->index;
		buf_clear(&ds->seal_text);
		buf_clear(&ds->seal_sig);
	} else if (ds->seal_open && ev->index == ds->seal_index &&
	    ev->kind == IR_SEV_DELTA) {
		struct buf *b = ev->delta == IR_DELTA_SIGNATURE
		    ? &ds->seal_sig
		    : &ds->seal_text;

		err = buf_append(b, ev->text.p, ev->text.len);
		if (err == RELAY_ETOOBIG)
			ds->seal_bad = 1;
		else if (err != RELAY_OK)
			return err;
		if (ev->delta == IR_DELTA_SIGNATURE)
			return RELAY_OK;
	} else if (ds->seal_open && ev->index == ds->seal_index &&
	    ev->kind == IR_SEV_BLOCK_STOP) {
		ds->seal_open = 0;
		err = seal_block_end(ds, ev);
		if (err != RELAY_OK)
			return err;
	}
	return stream_hooked(ds, ev);
}

void
dialect_stream_hook(struct dialect_stream *ds, dialect_sev_hook fn, void *arg,
    void (*free_fn)(void *))
{
	ds->hook = fn;
	ds->hook_arg = arg;
	ds->hook_free = free_fn;
}

void
dialect_stream_filter(
    struct dialect_stream *ds, struct wordfilter_stream *ws, int stop)
{
	ds->ws = ws;
	ds->stop = stop;
}

int
dialect_stream_cut(const struct dialect_stream *ds)
{
	return ds->cut;
}

struct dialect_stream *
dialect_stream_new(
    enum dialect from, enum dialect to, const struct dialect_req_info *info)
{
	struct dialect_stream *ds;

	if (!dialect_ok(from) || !dialect_ok(to))
		return NULL;
	ds = mem_calloc(1, sizeof(*ds));
	if (ds == NULL)
		return NULL;
	memcpy(ds->custom, info->custom, sizeof(ds->custom));
	ds->from = from;
	ds->to = to;
	buf_init(&ds->fb, WORDFILTER_PIECE_MAX + 4 * WORDFILTER_WORD_MAX);
	ds->seal = seals(from, to);
	ds->sinfo.master = info->master;
	memcpy(ds->sinfo.provider, info->provider, sizeof(ds->sinfo.provider));
	/* A token holds at most this much (rseal.c): a longer thinking
	 * block goes out without one. */
	buf_init(&ds->seal_text, 1024 * 1024);
	buf_init(&ds->seal_sig, 64 * 1024);
	ir_norm_init(&ds->norm, stream_sealed, ds);
	ir_enc_init(&ds->enc, info->model, info->include_usage);
	ds->enc.custom = ds->custom;
	return ds;
}

enum relay_err
dialect_stream_event(
    struct dialect_stream *ds, const struct sse_event *ev, struct buf *out)
{
	enum relay_err err;

	if (ds->dead || ds->norm.ended)
		return RELAY_OK;
	ds->out = out;
	err = wires[ds->from].decode(&ds->dec, ev, &ds->norm);
	ds->out = NULL;
	if (err == RELAY_EPROTO)
		ds->dead = 1;
	return err;
}

enum relay_err
dialect_stream_end(struct dialect_stream *ds, struct buf *out)
{
	enum relay_err err;

	if (ds->dead || ds->norm.ended)
		return RELAY_OK;
	ds->out = out;
	err = ir_norm_end(&ds->norm);
	ds->out = NULL;
	return err;
}

void
dialect_stream_usage(const struct dialect_stream *ds, struct ir_usage *u)
{
	*u = ds->norm.usage;
}

int
dialect_stream_complete(const struct dialect_stream *ds)
{
	return ds->complete || ds->norm.finish != IR_FINISH_NONE;
}

void
dialect_stream_free(struct dialect_stream *ds)
{
	if (ds == NULL)
		return;
	ir_norm_reset(&ds->norm);
	ir_enc_reset(&ds->enc);
	wordfilter_stream_free(ds->ws);
	if (ds->hook_free != NULL)
		ds->hook_free(ds->hook_arg);
	buf_reset(&ds->fb);
	buf_reset(&ds->seal_text);
	buf_reset(&ds->seal_sig);
	mem_free(ds);
}

/* --- replay ------------------------------------------------------------- */

/* Recorded text is fed to the SSE parser in pieces this large: the parser
 * moves what follows an event down after each one, so feeding a long
 * recording whole would cost its length once per event. */
#define REPLAY_FEED 4096

/* A client encoder of d writing to out: where replayed events go. */
struct replay_enc {
	enum dialect d;
	struct ir_enc enc;
	struct buf *out;
};

static enum relay_err
replay_encode(void *arg, const struct ir_sev *ev)
{
	struct replay_enc *re = arg;

	return wires[re->d].encode(&re->enc, ev, re->out);
}

static void
replay_enc_init(struct replay_enc *re, enum dialect d,
    const struct dialect_req_info *info, struct buf *out)
{
	re->d = d;
	re->out = out;
	ir_enc_init(&re->enc, info != NULL ? info->model : "",
	    info != NULL ? info->include_usage : 1);
	/* borrowed: info outlives the replay */
	re->enc.custom = info != NULL ? info->custom : NULL;
}

/* The decoding of a recorded stream: the upstream side of a translator
 * with the recording as its upstream. */
struct replay {
	enum dialect d;
	struct ir_dec dec;
	struct ir_norm norm;
	ir_sev_fn fn; /* the events' consumer, or NULL */
	void *arg;
	const struct ir_usage *fill; /* counts the recording may lack */
	enum relay_err err; /* why the last event stopped the parser */
};

static enum relay_err
replay_emit(void *arg, const struct ir_sev *ev)
{
	struct replay *rp = arg;
	struct ir_usage u;
	struct ir_sev e;

	/* An error event means the recorded answer is not a whole one. */
	if (ev->kind == IR_SEV_ERROR)
		return RELAY_EPROTO;
	if (rp->fn == NULL)
		return RELAY_OK;
	if (ev->kind == IR_SEV_END && rp->fill != NULL && ev->usage != NULL) {
		u = *ev->usage;
		ir_usage_fill(&u, rp->fill);
		e = *ev;
		e.usage = &u;
		return rp->fn(rp->arg, &e);
	}
	return rp->fn(rp->arg, ev);
}

static int
replay_event(void *arg, const struct sse_event *ev)
{
	struct replay *rp = arg;

	if (rp->norm.ended)
		return 0;
	rp->err = wires[rp->d].decode(&rp->dec, ev, &rp->norm);
	return rp->err != RELAY_OK;
}

/*
 * Decode the recorded stream sse of d and hand its normalised events to
 * fn(arg) (NULL: only check it), END's usage filled from fill. RELAY_OK
 * when the recording is a complete stream; RELAY_EPROTO when it is not
 * (cut, an error event, data d does not send); what fn returned.
 */
static enum relay_err
replay_decode(enum dialect d, struct span sse, ir_sev_fn fn, void *arg,
    const struct ir_usage *fill)
{
	struct replay rp;
	struct sse_parser sp;
	enum relay_err err = RELAY_OK;
	size_t off, n;

	if (!dialect_ok(d))
		return RELAY_EPROTO;
	memset(&rp, 0, sizeof(rp));
	rp.d = d;
	rp.fn = fn;
	rp.arg = arg;
	rp.fill = fill;
	ir_norm_init(&rp.norm, replay_emit, &rp);
	/* No event can be longer than the recording: no other limit. */
	sse_init(&sp, sse.len + 1);
	for (off = 0; off < sse.len && err == RELAY_OK && !rp.norm.ended;
	     off += n) {
		n = sse.len - off < REPLAY_FEED ? sse.len - off : REPLAY_FEED;
		err = sse_feed(&sp, sse.p + off, n, replay_event, &rp);
	}
	if (err == RELAY_ECLOSED)
		err = rp.err;
	/* Gemini has no end mark but the finishReason of the last frame; a
	 * live translator ends such a stream at EOF (dialect_stream_end).
	 * The recording must then end with a whole frame. */
	if (err == RELAY_OK && !rp.norm.ended)
		err = d == DIALECT_GEMINI && rp.norm.finish != IR_FINISH_NONE &&
			sse_pending(&sp) == 0
		    ? ir_norm_end(&rp.norm)
		    : RELAY_EPROTO;
	sse_reset(&sp);
	ir_norm_reset(&rp.norm);
	return err;
}

enum relay_err
dialect_response_to_stream(enum dialect d, struct span body,
    const struct dialect_req_info *info, struct buf *out)
{
	struct ir_response r;
	struct replay_enc re;
	struct ir_norm n;
	size_t before = out->len;
	char eb[128];
	enum relay_err err;

	if (!dialect_ok(d))
		return RELAY_EPROTO;
	ir_response_init(&r);
	err = wires[d].parse_response(body, &r, eb, sizeof(eb));
	if (err == RELAY_EINVAL)
		err = RELAY_EPROTO;
	if (err == RELAY_OK) {
		replay_enc_init(&re, d, info, out);
		ir_norm_init(&n, replay_encode, &re);
		err = ir_response_replay(&r, &n);
		ir_norm_reset(&n);
		ir_enc_reset(&re.enc);
	}
	if (err != RELAY_OK)
		truncate_to(out, before);
	ir_response_reset(&r);
	return err;
}

/*
 * Anthropic's whole answer holds a tool call's input as an object, and
 * wire_anthropic's emitter, though it means to send {} for arguments it
 * cannot parse, reports them as a memory failure. A recording cut or
 * broken inside a call's partial_json gets {} here. RELAY_ENOMEM.
 */
static enum relay_err
replay_fix_args(struct ir_response *r)
{
	json_t *v;
	size_t i;
	int oom;

	for (i = 0; i < r->msg.nparts; i++) {
		struct ir_part *p = &r->msg.parts[i];

		if (p->type != IR_PART_TOOL_CALL || p->args == NULL)
			continue;
		v = ir_parse_args(p->args, &oom);
		if (oom)
			return RELAY_ENOMEM;
		if (!json_is_object(v)) {
			json_decref(p->args);
			p->args = json_string("{}");
			if (p->args == NULL) {
				json_decref(v);
				return RELAY_ENOMEM;
			}
		}
		json_decref(v);
	}
	return RELAY_OK;
}

enum relay_err
dialect_stream_to_response(enum dialect d, struct span sse,
    const struct ir_usage *usage, struct buf *out)
{
	struct ir_response r;
	struct ir_gather g;
	size_t before = out->len;
	enum relay_err err;

	ir_response_init(&r);
	ir_gather_init(&g, &r);
	err = replay_decode(d, sse, ir_gather_event, &g, usage);
	if (err == RELAY_OK && !g.done)
		err = RELAY_EPROTO;
	ir_gather_reset(&g);
	if (err == RELAY_OK && d == DIALECT_ANTHROPIC)
		err = replay_fix_args(&r);
	if (err == RELAY_OK)
		err = wires[d].emit_response(&r, out);
	if (err != RELAY_OK)
		truncate_to(out, before);
	ir_response_reset(&r);
	return err;
}

enum relay_err
dialect_stream_retell(enum dialect d, struct span sse,
    const struct dialect_req_info *info, const struct ir_usage *usage,
    struct buf *out)
{
	struct replay_enc re;
	size_t before = out->len;
	enum relay_err err;

	if (!dialect_ok(d))
		return RELAY_EPROTO;
	replay_enc_init(&re, d, info, out);
	err = replay_decode(d, sse, replay_encode, &re, usage);
	ir_enc_reset(&re.enc);
	if (err != RELAY_OK)
		truncate_to(out, before);
	return err;
}

int
dialect_stream_text_complete(enum dialect d, struct span sse)
{
	return replay_decode(d, sse, NULL, NULL, NULL) == RELAY_OK;
}
