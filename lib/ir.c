/* SPDX-License-Identifier: MIT */
/* ir.c - lifetime of the internal chat representation, small helpers the
 * wire modules share, and the stream normaliser (block numbering). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "ir.h"
#include "mem.h"

void
ir_usage_init(struct ir_usage *u)
{
	u->input = u->output = u->cache_read = u->cache_write = -1;
	u->reasoning = -1;
}

void
ir_usage_fill(struct ir_usage *dst, const struct ir_usage *src)
{
	if (dst->input < 0)
		dst->input = src->input;
	if (dst->output < 0)
		dst->output = src->output;
	if (dst->cache_read < 0)
		dst->cache_read = src->cache_read;
	if (dst->cache_write < 0)
		dst->cache_write = src->cache_write;
	if (dst->reasoning < 0)
		dst->reasoning = src->reasoning;
}

void
ir_usage_merge(struct ir_usage *dst, const struct ir_usage *src)
{
	if (src->input >= 0)
		dst->input = src->input;
	if (src->output >= 0)
		dst->output = src->output;
	if (src->cache_read >= 0)
		dst->cache_read = src->cache_read;
	if (src->cache_write >= 0)
		dst->cache_write = src->cache_write;
	if (src->reasoning >= 0)
		dst->reasoning = src->reasoning;
}

void
ir_request_init(struct ir_request *r)
{
	memset(r, 0, sizeof(*r));
	r->parallel_tool_calls = -1;
}

static void
part_reset(struct ir_part *p)
{
	json_decref(p->text);
	json_decref(p->media_type);
	json_decref(p->data);
	json_decref(p->url);
	json_decref(p->id);
	json_decref(p->name);
	json_decref(p->args);
	json_decref(p->signature);
	memset(p, 0, sizeof(*p));
}

void
ir_msg_reset(struct ir_msg *m)
{
	size_t i;

	for (i = 0; i < m->nparts; i++)
		part_reset(&m->parts[i]);
	mem_free(m->parts);
	m->parts = NULL;
	m->nparts = m->cap = 0;
}

void
ir_request_reset(struct ir_request *r)
{
	size_t i;

	json_decref(r->model);
	ir_msg_reset(&r->system);
	for (i = 0; i < r->nmsgs; i++)
		ir_msg_reset(&r->msgs[i]);
	mem_free(r->msgs);
	for (i = 0; i < r->ntools; i++) {
		json_decref(r->tools[i].name);
		json_decref(r->tools[i].description);
		json_decref(r->tools[i].schema);
	}
	mem_free(r->tools);
	json_decref(r->tool_choice_name);
	json_decref(r->stop);
	json_decref(r->temperature);
	json_decref(r->top_p);
	json_decref(r->top_k);
	json_decref(r->presence_penalty);
	json_decref(r->frequency_penalty);
	json_decref(r->seed);
	json_decref(r->reasoning_effort);
	json_decref(r->user);
	json_decref(r->safety_id);
	json_decref(r->cache_key);
	json_decref(r->format_schema);
	json_decref(r->format_name);
	ir_request_init(r);
}

void
ir_response_init(struct ir_response *r)
{
	memset(r, 0, sizeof(*r));
	ir_usage_init(&r->usage);
}

void
ir_response_reset(struct ir_response *r)
{
	json_decref(r->id);
	json_decref(r->model);
	ir_msg_reset(&r->msg);
	json_decref(r->finish_raw);
	json_decref(r->stop_sequence);
	ir_response_init(r);
}

/* Make room for one more element of size sz in *arr (n used, *cap). */
static enum relay_err
grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return RELAY_OK;
	ncap = *cap != 0 ? *cap * 2 : 4;
	if (ncap < *cap)
		return RELAY_ENOMEM;
	p = mem_reallocarray(*arr, ncap, sz);
	if (p == NULL)
		return RELAY_ENOMEM;
	*arr = p;
	*cap = ncap;
	return RELAY_OK;
}

enum relay_err
ir_request_add_msg(struct ir_request *r, enum ir_role role, struct ir_msg **out)
{
	void *arr = r->msgs;
	enum relay_err err;

	err = grow(&arr, r->nmsgs, &r->capmsgs, sizeof(*r->msgs));
	r->msgs = arr;
	if (err != RELAY_OK)
		return err;
	*out = &r->msgs[r->nmsgs++];
	memset(*out, 0, sizeof(**out));
	(*out)->role = role;
	return RELAY_OK;
}

enum relay_err
ir_msg_add_part(struct ir_msg *m, enum ir_part_type t, struct ir_part **out)
{
	void *arr = m->parts;
	enum relay_err err;

	err = grow(&arr, m->nparts, &m->cap, sizeof(*m->parts));
	m->parts = arr;
	if (err != RELAY_OK)
		return err;
	*out = &m->parts[m->nparts++];
	memset(*out, 0, sizeof(**out));
	(*out)->type = t;
	return RELAY_OK;
}

enum relay_err
ir_request_add_tool(struct ir_request *r, struct ir_tool **out)
{
	void *arr = r->tools;
	enum relay_err err;

	err = grow(&arr, r->ntools, &r->captools, sizeof(*r->tools));
	r->tools = arr;
	if (err != RELAY_OK)
		return err;
	*out = &r->tools[r->ntools++];
	memset(*out, 0, sizeof(**out));
	return RELAY_OK;
}

json_t *
ir_request_tool_name(const struct ir_request *r, const json_t *id)
{
	size_t i, j;

	if (id == NULL)
		return NULL;
	for (i = 0; i < r->nmsgs; i++) {
		const struct ir_msg *m = &r->msgs[i];

		for (j = 0; j < m->nparts; j++) {
			const struct ir_part *p = &m->parts[j];

			if (p->type == IR_PART_TOOL_CALL && p->id != NULL &&
			    json_equal(p->id, id))
				return p->name;
		}
	}
	return NULL;
}

json_t *
ir_msg_text(
    const struct ir_msg *m, enum ir_part_type t, const char *sep, int *oom)
{
	struct buf b;
	json_t *s = NULL;
	size_t i, n = 0;
	int bad = 0;

	buf_init(&b, (size_t)-1 / 2);
	for (i = 0; i < m->nparts && !bad; i++) {
		const struct ir_part *p = &m->parts[i];

		if (p->type != t || p->text == NULL)
			continue;
		if (n++ > 0)
			bad |= buf_puts(&b, sep) != RELAY_OK;
		bad |= buf_append(&b, json_string_value(p->text),
			   json_string_length(p->text)) != RELAY_OK;
	}
	if (!bad && n > 0) {
		s = json_stringn_nocheck(b.data != NULL ? b.data : "", b.len);
		bad = s == NULL;
	}
	if (bad)
		*oom = 1;
	buf_reset(&b);
	return s;
}

void
ir_new_id(char *out, size_t n, const char *prefix)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[24];
	size_t plen = strlen(prefix), i;

	if (crypto_id_bytes(rnd, sizeof(rnd)) != RELAY_OK) {
		unsigned long t =
		    (unsigned long)time(NULL) ^ (unsigned long)out;

		for (i = 0; i < sizeof(rnd);
		     i++, t = t * 6364136223846793005UL + 1)
			rnd[i] = (unsigned char)(t >> 33);
	}
	if (plen > n - 1)
		plen = n - 1;
	memcpy(out, prefix, plen);
	for (i = 0; i < sizeof(rnd) && plen + i < n - 1; i++)
		out[plen + i] = al[rnd[i] % (sizeof(al) - 1)];
	out[plen + i] = '\0';
}

enum relay_err
ir_id_split(json_t *id, json_t **plain, json_t **sig)
{
	const char *s = json_string_value(id), *m;
	size_t n = json_string_length(id), ml = strlen(IR_SIG_MARK);

	*plain = *sig = NULL;
	m = s != NULL ? memmem(s, n, IR_SIG_MARK, ml) : NULL;
	if (m == NULL) {
		*plain = json_incref(id);
		return RELAY_OK;
	}
	*plain = json_stringn_nocheck(s, (size_t)(m - s));
	*sig = json_stringn_nocheck(m + ml, n - (size_t)(m - s) - ml);
	if (*plain == NULL || *sig == NULL) {
		json_decref(*plain);
		json_decref(*sig);
		*plain = *sig = NULL;
		return RELAY_ENOMEM;
	}
	return RELAY_OK;
}

json_t *
ir_id_join(json_t *id, json_t *sig)
{
	struct buf b;
	json_t *s = NULL;

	if (sig == NULL || json_string_length(sig) == 0)
		return json_incref(id);
	buf_init(&b, (size_t)-1 / 2);
	if (buf_append(&b, json_string_value(id), json_string_length(id)) ==
		RELAY_OK &&
	    buf_puts(&b, IR_SIG_MARK) == RELAY_OK &&
	    buf_append(&b, json_string_value(sig), json_string_length(sig)) ==
		RELAY_OK)
		s = json_stringn_nocheck(b.data, b.len);
	buf_reset(&b);
	return s;
}

json_t *
ir_str(json_t *s)
{
	return json_is_string(s) ? json_incref(s) : NULL;
}

long long
ir_count(const json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	return (long long)json_integer_value(v);
}

json_t *
ir_count_json(long long n)
{
	return n >= 0 ? json_integer(n) : json_null();
}

json_t *
ir_parse_args(const json_t *s, int *oom)
{
	char eb[128];
	json_t *v = NULL;
	enum relay_err err;

	*oom = 0;
	if (json_string_length(s) == 0) {
		v = json_object();
		*oom = v == NULL;
		return v;
	}
	err = jsonx_parse(
	    json_string_value(s), json_string_length(s), &v, eb, sizeof(eb));
	*oom = err == RELAY_ENOMEM;
	return v;
}

/* --- the stream normaliser ----------------------------------------------- */

void
ir_norm_init(struct ir_norm *n, ir_sev_fn emit, void *arg)
{
	memset(n, 0, sizeof(*n));
	n->emit = emit;
	n->arg = arg;
	ir_usage_init(&n->usage);
}

void
ir_norm_reset(struct ir_norm *n)
{
	mem_free(n->tools);
	n->tools = NULL;
	n->ntools = n->captools = 0;
}

static enum relay_err
norm_send(struct ir_norm *n, struct ir_sev *ev)
{
	ev->usage = &n->usage;
	return n->emit(n->arg, ev);
}

enum relay_err
ir_norm_start(
    struct ir_norm *n, struct span id, struct span model, long long created)
{
	struct ir_sev ev;

	if (n->started || n->ended)
		return RELAY_OK;
	n->started = 1;
	memset(&ev, 0, sizeof(ev));
	ev.kind = IR_SEV_START;
	ev.id = id;
	ev.model = model;
	ev.created = created;
	return norm_send(n, &ev);
}

static enum relay_err
norm_started(struct ir_norm *n)
{
	struct span e = {"", 0};

	return ir_norm_start(n, e, e, 0);
}

enum relay_err
ir_norm_stop(struct ir_norm *n)
{
	struct ir_sev ev;

	if (!n->open || n->ended)
		return RELAY_OK;
	n->open = 0;
	memset(&ev, 0, sizeof(ev));
	ev.kind = IR_SEV_BLOCK_STOP;
	ev.index = n->open_index;
	ev.part = n->open_type;
	return norm_send(n, &ev);
}

/* Stop the open block unless it is of type t; open one of type t. */
static enum relay_err
norm_open(struct ir_norm *n, enum ir_part_type t, struct ir_sev *start)
{
	enum relay_err err;

	if (n->open && n->open_type == t && t != IR_PART_TOOL_CALL)
		return RELAY_OK;
	err = ir_norm_stop(n);
	if (err != RELAY_OK)
		return err;
	n->open = 1;
	n->open_type = t;
	n->open_index = n->next++;
	start->kind = IR_SEV_BLOCK_START;
	start->index = n->open_index;
	start->part = t;
	return norm_send(n, start);
}

static enum relay_err
norm_delta(struct ir_norm *n, size_t index, enum ir_delta d, struct span s)
{
	struct ir_sev ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = IR_SEV_DELTA;
	ev.index = index;
	ev.delta = d;
	ev.text = s;
	return norm_send(n, &ev);
}

enum relay_err
ir_norm_text(struct ir_norm *n, enum ir_delta kind, struct span s)
{
	enum ir_part_type t =
	    kind == IR_DELTA_THINKING ? IR_PART_THINKING : IR_PART_TEXT;
	struct ir_sev start;
	enum relay_err err;

	if (n->ended || s.len == 0)
		return RELAY_OK;
	err = norm_started(n);
	memset(&start, 0, sizeof(start));
	if (err == RELAY_OK)
		err = norm_open(n, t, &start);
	if (err == RELAY_OK)
		err = norm_delta(n, n->open_index, kind, s);
	return err;
}

enum relay_err
ir_norm_signature(struct ir_norm *n, struct span s)
{
	struct ir_sev start;
	enum relay_err err;

	if (n->ended || s.len == 0)
		return RELAY_OK;
	err = norm_started(n);
	memset(&start, 0, sizeof(start));
	if (err == RELAY_OK)
		err = norm_open(n, IR_PART_THINKING, &start);
	if (err == RELAY_OK)
		err = norm_delta(n, n->open_index, IR_DELTA_SIGNATURE, s);
	return err;
}

enum relay_err
ir_norm_tool(struct ir_norm *n, long long key, struct span id, struct span name,
    struct span sig)
{
	struct ir_sev start;
	void *arr = n->tools;
	enum relay_err err;

	if (n->ended)
		return RELAY_OK;
	err = norm_started(n);
	if (err == RELAY_OK)
		err = grow(&arr, n->ntools, &n->captools, sizeof(*n->tools));
	n->tools = arr;
	if (err != RELAY_OK)
		return err;
	memset(&start, 0, sizeof(start));
	start.id = id;
	start.name = name;
	start.signature = sig;
	err = norm_open(n, IR_PART_TOOL_CALL, &start);
	n->open_key = key;
	n->tools[n->ntools].key = key;
	n->tools[n->ntools++].index = n->open_index;
	return err;
}

enum relay_err
ir_norm_args(struct ir_norm *n, long long key, struct span s)
{
	size_t i;

	if (n->ended || s.len == 0)
		return RELAY_OK;
	if (n->open && n->open_type == IR_PART_TOOL_CALL && n->open_key == key)
		return norm_delta(n, n->open_index, IR_DELTA_ARGS, s);
	for (i = n->ntools; i > 0; i--)
		if (n->tools[i - 1].key == key)
			return norm_delta(
			    n, n->tools[i - 1].index, IR_DELTA_ARGS, s);
	if (n->open && n->open_type == IR_PART_TOOL_CALL)
		return norm_delta(n, n->open_index, IR_DELTA_ARGS, s);
	return RELAY_OK;
}

void
ir_norm_finish(struct ir_norm *n, enum ir_finish f, struct span raw)
{
	/* An over-long value is dropped rather than cut inside UTF-8. */
	size_t len = raw.len < sizeof(n->finish_raw) ? raw.len : 0;

	n->finish = f;
	if (len > 0)
		memcpy(n->finish_raw, raw.p, len);
	n->finish_raw_len = len;
}

void
ir_norm_usage(struct ir_norm *n, const struct ir_usage *u)
{
	ir_usage_merge(&n->usage, u);
}

enum relay_err
ir_norm_end(struct ir_norm *n)
{
	struct ir_sev ev;
	enum relay_err err;

	if (n->ended)
		return RELAY_OK;
	err = norm_started(n);
	if (err == RELAY_OK)
		err = ir_norm_stop(n);
	if (err != RELAY_OK)
		return err;
	n->ended = 1;
	memset(&ev, 0, sizeof(ev));
	ev.kind = IR_SEV_END;
	ev.finish = n->finish;
	ev.finish_raw.p = n->finish_raw;
	ev.finish_raw.len = n->finish_raw_len;
	return norm_send(n, &ev);
}

enum relay_err
ir_norm_error(struct ir_norm *n, int status, struct span type, struct span msg)
{
	struct ir_sev ev;

	if (n->ended)
		return RELAY_OK;
	n->ended = 1;
	memset(&ev, 0, sizeof(ev));
	ev.kind = IR_SEV_ERROR;
	ev.status = status;
	ev.name = type;
	ev.text = msg;
	return norm_send(n, &ev);
}

/* --- replay ---------------------------------------------------------------- */

/* The bytes of a JSON string (empty for NULL or a non-string). */
static struct span
json_span(const json_t *s)
{
	struct span sp = {"", 0};

	if (json_is_string(s)) {
		sp.p = json_string_value(s);
		sp.len = json_string_length(s);
	}
	return sp;
}

static int
utf8_cont(char c)
{
	return ((unsigned char)c & 0xc0) == 0x80;
}

/*
 * The length of the next piece of the n bytes at s: all of them when
 * short; else up to the last space or newline past IR_PIECE_MIN (the
 * next piece starts with it, as tokens do); else IR_PIECE_MAX moved back
 * to the start of a UTF-8 sequence (CJK text has no spaces), since each
 * piece becomes a JSON string of its own and must be valid UTF-8.
 */
static size_t
piece_len(const char *s, size_t n)
{
	size_t i;

	if (n <= IR_PIECE_MAX)
		return n;
	for (i = IR_PIECE_MAX; i > IR_PIECE_MIN; i--)
		if (s[i] == ' ' || s[i] == '\n')
			return i;
	for (i = IR_PIECE_MAX; i > 0 && utf8_cont(s[i]); i--)
		;
	if (i > 0)
		return i;
	/* Not UTF-8 (jansson's strings always are): never stall. */
	for (i = IR_PIECE_MAX; i < n && utf8_cont(s[i]); i++)
		;
	return i;
}

static enum relay_err
replay_text(struct ir_norm *n, enum ir_delta kind, const json_t *text)
{
	struct span s = json_span(text);
	enum relay_err err = RELAY_OK;
	size_t k;

	while (err == RELAY_OK && s.len > 0) {
		k = piece_len(s.p, s.len);
		err = ir_norm_text(n, kind, (struct span){s.p, k});
		s.p += k;
		s.len -= k;
	}
	return err;
}

static enum relay_err
replay_part(struct ir_norm *n, const struct ir_part *p, long long key)
{
	enum relay_err err = RELAY_OK;

	switch (p->type) {
	case IR_PART_TEXT: err = replay_text(n, IR_DELTA_TEXT, p->text); break;
	case IR_PART_THINKING:
		err = replay_text(n, IR_DELTA_THINKING, p->text);
		if (err == RELAY_OK)
			err = ir_norm_signature(n, json_span(p->signature));
		break;
	case IR_PART_TOOL_CALL:
		err = ir_norm_tool(n, key, json_span(p->id), json_span(p->name),
		    json_span(p->signature));
		if (err == RELAY_OK)
			err = ir_norm_args(n, key, json_span(p->args));
		break;
	case IR_PART_IMAGE:
	case IR_PART_TOOL_RESULT:
	case IR_PART_REDACTED_THINKING:
	case IR_PART__MAX: break;
	}
	/* Two text parts in a row stay two blocks. */
	return err == RELAY_OK ? ir_norm_stop(n) : err;
}

enum relay_err
ir_response_replay(const struct ir_response *r, struct ir_norm *n)
{
	struct ir_usage head;
	enum relay_err err;
	size_t i;

	/* A provider knows the prompt's counts when it starts (Anthropic's
	 * message_start carries them) and the output's only at the end. */
	ir_usage_init(&head);
	head.input = r->usage.input;
	head.cache_read = r->usage.cache_read;
	head.cache_write = r->usage.cache_write;
	ir_norm_usage(n, &head);
	err = ir_norm_start(n, json_span(r->id), json_span(r->model),
	    r->created > 0 ? r->created : 0);
	for (i = 0; i < r->msg.nparts && err == RELAY_OK; i++)
		err = replay_part(n, &r->msg.parts[i], (long long)i);
	if (err != RELAY_OK)
		return err;
	ir_norm_usage(n, &r->usage);
	ir_norm_finish(n, r->finish, json_span(r->finish_raw));
	return ir_norm_end(n);
}

void
ir_gather_init(struct ir_gather *g, struct ir_response *r)
{
	memset(g, 0, sizeof(*g));
	g->r = r;
}

void
ir_gather_reset(struct ir_gather *g)
{
	size_t i;

	for (i = 0; i < g->nblk; i++) {
		buf_reset(&g->blk[i].text);
		buf_reset(&g->blk[i].sig);
	}
	mem_free(g->blk);
	ir_gather_init(g, g->r);
}

/* A JSON string of the span, NULL when it is empty; *bad set on OOM. The
 * bytes come from JSON strings a decoder parsed, so they are UTF-8. */
static json_t *
gather_str(struct span s, int *bad)
{
	json_t *v;

	if (s.len == 0)
		return NULL;
	v = json_stringn_nocheck(s.p, s.len);
	*bad |= v == NULL;
	return v;
}

static json_t *
gather_buf(const struct buf *b)
{
	return json_stringn_nocheck(b->data != NULL ? b->data : "", b->len);
}

static enum relay_err
gather_block(struct ir_gather *g, const struct ir_sev *ev)
{
	void *arr = g->blk;
	struct ir_part *p;
	enum relay_err err;
	int bad = 0;

	/* The normaliser numbers blocks from 0 in order: block i is part i. */
	if (ev->index != g->nblk || ev->index != g->r->msg.nparts)
		return RELAY_EPROTO;
	err = grow(&arr, g->nblk, &g->capblk, sizeof(*g->blk));
	g->blk = arr;
	if (err == RELAY_OK)
		err = ir_msg_add_part(&g->r->msg, ev->part, &p);
	if (err != RELAY_OK)
		return err;
	buf_init(&g->blk[g->nblk].text, (size_t)-1 / 2);
	buf_init(&g->blk[g->nblk].sig, (size_t)-1 / 2);
	g->nblk++;
	if (ev->part != IR_PART_TOOL_CALL)
		return RELAY_OK;
	/* An empty id rather than none: the emitters want a string, and
	 * make an id of their own for an empty one, as the stream encoders
	 * do for a call that came without. */
	p->id = ir_span_json(ev->id);
	p->name = ir_span_json(ev->name);
	p->signature = gather_str(ev->signature, &bad);
	return bad || p->id == NULL || p->name == NULL ? RELAY_ENOMEM
						       : RELAY_OK;
}

static enum relay_err
gather_delta(struct ir_gather *g, const struct ir_sev *ev)
{
	struct ir_gather_blk *b;

	if (ev->index >= g->nblk)
		return RELAY_OK;
	b = &g->blk[ev->index];
	if (ev->delta == IR_DELTA_SIGNATURE)
		return buf_append(&b->sig, ev->text.p, ev->text.len);
	return buf_append(&b->text, ev->text.p, ev->text.len);
}

/* The blocks' bytes become the parts' strings; the answer is whole. */
static enum relay_err
gather_end(struct ir_gather *g, const struct ir_sev *ev)
{
	struct ir_response *r = g->r;
	size_t i;
	int bad = 0;

	for (i = 0; i < g->nblk && !bad; i++) {
		struct ir_part *p = &r->msg.parts[i];
		struct ir_gather_blk *b = &g->blk[i];
		json_t *s = gather_buf(&b->text);

		bad |= s == NULL;
		/* Text and thinking keep an empty string: Anthropic's emitter
		 * drops a thinking block without one, signature and all. */
		if (p->type == IR_PART_TOOL_CALL)
			p->args = s;
		else
			p->text = s;
		if (p->type == IR_PART_THINKING && b->sig.len > 0) {
			p->signature = gather_buf(&b->sig);
			bad |= p->signature == NULL;
		}
	}
	r->finish = ev->finish;
	json_decref(r->finish_raw);
	r->finish_raw = gather_str(ev->finish_raw, &bad);
	if (ev->usage != NULL)
		r->usage = *ev->usage;
	g->done = !bad;
	return bad ? RELAY_ENOMEM : RELAY_OK;
}

enum relay_err
ir_gather_event(void *arg, const struct ir_sev *ev)
{
	struct ir_gather *g = arg;
	struct ir_response *r = g->r;
	int bad = 0;

	switch (ev->kind) {
	case IR_SEV_START:
		json_decref(r->id);
		json_decref(r->model);
		r->id = gather_str(ev->id, &bad);
		r->model = gather_str(ev->model, &bad);
		r->created = ev->created > 0 ? ev->created : 0;
		return bad ? RELAY_ENOMEM : RELAY_OK;
	case IR_SEV_BLOCK_START: return gather_block(g, ev);
	case IR_SEV_DELTA: return gather_delta(g, ev);
	case IR_SEV_BLOCK_STOP: return RELAY_OK;
	case IR_SEV_END: return gather_end(g, ev);
	case IR_SEV_ERROR:
	case IR_SEV__MAX: break;
	}
	return RELAY_EPROTO;
}

/* --- encoder state --------------------------------------------------------- */

void
ir_copy_span(char *dst, size_t n, struct span s)
{
	size_t len = s.len < n ? s.len : n - 1;

	if (s.len == 0)
		return;
	/* The copy becomes a JSON string (an id, a model): a cut inside a
	 * UTF-8 sequence would make json_string() fail as if memory were
	 * short. */
	if (len < s.len)
		while (len > 0 && utf8_cont(s.p[len]))
			len--;
	memcpy(dst, s.p, len);
	dst[len] = '\0';
}

void
ir_enc_init(struct ir_enc *enc, const char *model, int include_usage)
{
	memset(enc, 0, sizeof(*enc));
	ir_copy_span(enc->model, sizeof(enc->model), span_str(model));
	enc->include_usage = include_usage;
	enc->created = (long long)time(NULL);
	buf_init(&enc->args, RELAY_SSE_EVENT_MAX);
	buf_init(&enc->acc, RELAY_UPSTREAM_BODY_MAX);
	enc->item_kind = -1;
}

void
ir_enc_reset(struct ir_enc *enc)
{
	mem_free(enc->tool_ord);
	buf_reset(&enc->args);
	json_decref(enc->tool_id);
	json_decref(enc->tool_name);
	json_decref(enc->tool_sig);
	json_decref(enc->think_sig);
	buf_reset(&enc->acc);
	json_decref(enc->items);
	memset(enc, 0, sizeof(*enc));
}

enum relay_err
ir_enc_set_tool(struct ir_enc *enc, size_t index, size_t ord)
{
	size_t ncap = enc->capblk;
	size_t *p;

	if (index >= enc->capblk) {
		while (ncap <= index)
			ncap = ncap != 0 ? ncap * 2 : 8;
		p = mem_reallocarray(enc->tool_ord, ncap, sizeof(*p));
		if (p == NULL)
			return RELAY_ENOMEM;
		memset(p + enc->capblk, 0, (ncap - enc->capblk) * sizeof(*p));
		enc->tool_ord = p;
		enc->capblk = ncap;
	}
	enc->tool_ord[index] = ord + 1;
	return RELAY_OK;
}

long long
ir_enc_tool(const struct ir_enc *enc, size_t index)
{
	if (index >= enc->capblk || enc->tool_ord[index] == 0)
		return -1;
	return (long long)enc->tool_ord[index] - 1;
}

/* --- builders --------------------------------------------------------------- */

enum relay_err
ir_fail(char *errbuf, size_t errsz, const char **param, const char *name,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errsz, fmt, ap);
	va_end(ap);
	*param = name;
	return RELAY_EINVAL;
}

int
ir_set(json_t *o, const char *key, json_t *v)
{
	if (o == NULL || v == NULL) {
		json_decref(v);
		return 1;
	}
	return json_object_set_new(o, key, v) != 0;
}

int
ir_push(json_t *a, json_t *v)
{
	if (a == NULL || v == NULL) {
		json_decref(v);
		return 1;
	}
	return json_array_append_new(a, v) != 0;
}

json_t *
ir_span_json(struct span s)
{
	return json_stringn(s.len > 0 ? s.p : "", s.len);
}

enum relay_err
ir_sse(struct buf *out, const char *name, const json_t *v, const char *term)
{
	size_t before = out->len;
	enum relay_err err = RELAY_OK;

	if (v == NULL)
		return RELAY_ENOMEM;
	if (name != NULL)
		err = buf_printf(out, "event: %s\n", name);
	if (err == RELAY_OK)
		err = buf_puts(out, "data: ");
	if (err == RELAY_OK)
		err = jsonx_dump(v, out);
	if (err == RELAY_OK)
		err = buf_puts(out, term);
	if (err != RELAY_OK)
		out->len = before;
	if (err != RELAY_OK && out->data != NULL)
		out->data[before] = '\0';
	return err;
}
