/* SPDX-License-Identifier: MIT */
/* wire_anthropic.c - Anthropic Messages bodies and event streams to and
 * from the IR (docs.anthropic.com: "Messages", "Streaming Messages",
 * "Errors"). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "num.h"
#include "wire_anthropic.h"

/* max_tokens is required by the Messages API; when the client's dialect
 * left it out (OpenAI and Gemini make it optional) we ask for this. */
#define AN_MAX_TOKENS_DEFAULT 4096

#define FAIL(name, ...) ir_fail(eb, es, param, name, __VA_ARGS__)

static struct span
jspan(const json_t *s)
{
	struct span sp = {"", 0};

	if (json_is_string(s)) {
		sp.p = json_string_value(s);
		sp.len = json_string_length(s);
	}
	return sp;
}

static const char *
jtype(const json_t *o)
{
	const char *t = json_string_value(json_object_get(o, "type"));

	return t != NULL ? t : "";
}

/* JSON text of v as a new string (NULL on OOM). */
static json_t *
an_dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	json_t *r = s != NULL ? json_string_nocheck(s) : NULL;

	mem_free(s);
	return r;
}

/* --- request: parse ---------------------------------------------------- */

static enum relay_err
an_image(json_t *b, struct ir_part *p, const char *where, char *eb, size_t es,
    const char **param)
{
	json_t *src = json_object_get(b, "source");
	const char *t = jtype(src);

	if (strcmp(t, "base64") == 0 &&
	    json_is_string(json_object_get(src, "data")) &&
	    json_is_string(json_object_get(src, "media_type"))) {
		p->data = json_incref(json_object_get(src, "data"));
		p->media_type = json_incref(json_object_get(src, "media_type"));
		return RELAY_OK;
	}
	if (strcmp(t, "url") == 0 &&
	    json_is_string(json_object_get(src, "url"))) {
		p->url = json_incref(json_object_get(src, "url"));
		return RELAY_OK;
	}
	return FAIL("messages",
	    "%s.source: Input should be a base64 or url image source", where);
}

/* The content of a tool_result: a string or text (and image) blocks. */
static enum relay_err
an_tool_result(json_t *b, struct ir_part *p, const char *where, char *eb,
    size_t es, const char **param)
{
	json_t *c = json_object_get(b, "content"), *item;
	struct ir_msg tmp;
	struct ir_part *tp;
	enum relay_err err = RELAY_OK;
	int oom = 0;
	size_t i;

	if (!json_is_string(json_object_get(b, "tool_use_id")))
		return FAIL(
		    "messages", "%s.tool_use_id: Field required", where);
	err = ir_id_split(
	    json_object_get(b, "tool_use_id"), &p->id, &p->signature);
	p->is_error = json_is_true(json_object_get(b, "is_error"));
	if (err != RELAY_OK || c == NULL || json_is_string(c)) {
		p->text = c != NULL ? json_incref(c) : json_string("");
		return err != RELAY_OK ? err
		    : p->text == NULL  ? RELAY_ENOMEM
				       : RELAY_OK;
	}
	if (!json_is_array(c))
		return FAIL("messages",
		    "%s.content: Input should be a valid list", where);
	memset(&tmp, 0, sizeof(tmp));
	json_array_foreach (c, i, item) {
		if (strcmp(jtype(item), "text") != 0)
			continue; /* images in tool results are not carried */
		err = ir_msg_add_part(&tmp, IR_PART_TEXT, &tp);
		if (err != RELAY_OK)
			break;
		tp->text = ir_str(json_object_get(item, "text"));
	}
	if (err == RELAY_OK) {
		p->text = ir_msg_text(&tmp, IR_PART_TEXT, "\n", &oom);
		if (p->text == NULL)
			p->text = oom ? NULL : json_string("");
		err = p->text == NULL ? RELAY_ENOMEM : RELAY_OK;
	}
	ir_msg_reset(&tmp);
	return err;
}

static enum relay_err
an_tool_use(json_t *b, struct ir_part *p, const char *where, char *eb,
    size_t es, const char **param)
{
	json_t *in = json_object_get(b, "input");
	enum relay_err err;

	if (!json_is_string(json_object_get(b, "id")) ||
	    !json_is_string(json_object_get(b, "name")))
		return FAIL("messages", "%s: id and name are required", where);
	if (in != NULL && !json_is_object(in))
		return FAIL("messages",
		    "%s.input: Input should be a valid dictionary", where);
	err = ir_id_split(json_object_get(b, "id"), &p->id, &p->signature);
	p->name = json_incref(json_object_get(b, "name"));
	p->args = in != NULL ? an_dump(in) : json_string("{}");
	if (err == RELAY_OK && p->args == NULL)
		err = RELAY_ENOMEM;
	return err;
}

static enum relay_err
an_thinking(json_t *b, struct ir_part *p, int redacted)
{
	if (redacted) {
		p->type = IR_PART_REDACTED_THINKING;
		p->data = ir_str(json_object_get(b, "data"));
		return RELAY_OK;
	}
	p->text = ir_str(json_object_get(b, "thinking"));
	p->signature = ir_str(json_object_get(b, "signature"));
	return RELAY_OK;
}

/*
 * Blocks only Anthropic's own servers act on: server tool calls and their
 * results (web search, code execution, tool search...), tool_reference
 * (what tool search loaded), container uploads. Another provider has no
 * use for them and the conversation reads the same without: dropped.
 */
static int
an_block_dropped(const char *t)
{
	static const char *const exact[] = {"server_tool_use", "mcp_tool_use",
	    "mcp_tool_result", "tool_reference", "container_upload",
	    "compaction"};
	static const char suffix[] = "_tool_result";
	size_t i, n = strlen(t);

	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcmp(t, exact[i]) == 0)
			return 1;
	return n > sizeof(suffix) - 1 &&
	    strcmp(t + n - (sizeof(suffix) - 1), suffix) == 0;
}

/* The text a document with a plain-text source stands for (borrowed), or
 * NULL: the other sources (PDF, URL) are not carried. */
static json_t *
an_block_text_of(json_t *b, const char *t)
{
	json_t *src = json_object_get(b, "source");

	if (strcmp(t, "document") != 0 || strcmp(jtype(src), "text") != 0)
		return NULL;
	return json_is_string(json_object_get(src, "data"))
	    ? json_object_get(src, "data")
	    : NULL;
}

/* What stands in a translated request for a document it cannot carry:
 * its title, or its kind, never its bytes. */
static const char *
an_doc_note(json_t *b, int with_title)
{
	static __thread char note[160];
	const char *title =
	    with_title ? json_string_value(json_object_get(b, "title")) : NULL;
	json_t *src = json_object_get(b, "source");
	const char *kind =
	    json_string_value(json_object_get(src, "media_type"));

	if (kind == NULL)
		kind = jtype(src)[0] != '\0' ? jtype(src) : "unknown";
	if (title != NULL)
		snprintf(note, sizeof(note),
		    "[document \"%.64s\" (%.32s) not carried to this model's "
		    "provider]",
		    title, kind);
	else
		snprintf(note, sizeof(note),
		    "[a document (%.32s) not carried to this model's provider]",
		    kind);
	return note;
}

static enum relay_err
an_block(json_t *b, struct ir_msg *m, const char *where, char *eb, size_t es,
    const char **param)
{
	const char *t = jtype(b);
	struct ir_part *p;
	enum relay_err err;

	if (strcmp(t, "text") == 0) {
		if (!json_is_string(json_object_get(b, "text")))
			return FAIL(
			    "messages", "%s.text: Field required", where);
		err = ir_msg_add_part(m, IR_PART_TEXT, &p);
		if (err == RELAY_OK)
			p->text = json_incref(json_object_get(b, "text"));
		return err;
	}
	if (strcmp(t, "image") == 0) {
		err = ir_msg_add_part(m, IR_PART_IMAGE, &p);
		return err != RELAY_OK ? err
				       : an_image(b, p, where, eb, es, param);
	}
	if (strcmp(t, "tool_use") == 0) {
		err = ir_msg_add_part(m, IR_PART_TOOL_CALL, &p);
		return err != RELAY_OK
		    ? err
		    : an_tool_use(b, p, where, eb, es, param);
	}
	if (strcmp(t, "tool_result") == 0) {
		err = ir_msg_add_part(m, IR_PART_TOOL_RESULT, &p);
		return err != RELAY_OK
		    ? err
		    : an_tool_result(b, p, where, eb, es, param);
	}
	if (strcmp(t, "thinking") == 0 || strcmp(t, "redacted_thinking") == 0) {
		err = ir_msg_add_part(m, IR_PART_THINKING, &p);
		return err != RELAY_OK ? err : an_thinking(b, p, t[0] == 'r');
	}
	if (an_block_text_of(b, t) != NULL) {
		err = ir_msg_add_part(m, IR_PART_TEXT, &p);
		if (err == RELAY_OK) {
			p->text = json_incref(an_block_text_of(b, t));
		}
		return err;
	}
	if (strcmp(t, "document") == 0 &&
	    json_is_object(json_object_get(b, "source"))) {
		/* A PDF, URL or file document (Claude Code reads PDFs) that
		 * another family cannot take as Anthropic sends it: left out
		 * on purpose, and the model is told so, rather than the
		 * request Anthropic itself accepts refused. */
		err = ir_msg_add_part(m, IR_PART_TEXT, &p);
		if (err == RELAY_OK)
			p->text = json_string(an_doc_note(b, 1));
		/* A title cut inside a UTF-8 sequence: without it. */
		if (err == RELAY_OK && p->text == NULL)
			p->text = json_string(an_doc_note(b, 0));
		return err != RELAY_OK ? err
		    : p->text != NULL  ? RELAY_OK
				       : RELAY_ENOMEM;
	}
	if (an_block_dropped(t))
		return RELAY_OK;
	return FAIL("messages",
	    "%s.type: content blocks of type '%.32s' cannot be translated for "
	    "this model's provider (text, image, tool_use, tool_result and "
	    "thinking can)",
	    where, t);
}

static enum relay_err
an_content(json_t *c, struct ir_msg *m, size_t mi, char *eb, size_t es,
    const char **param)
{
	enum relay_err err = RELAY_OK;
	char where[64];
	struct ir_part *p;
	json_t *b;
	size_t i;

	if (json_is_string(c)) {
		err = ir_msg_add_part(m, IR_PART_TEXT, &p);
		if (err == RELAY_OK)
			p->text = json_incref(c);
		return err;
	}
	if (!json_is_array(c))
		return FAIL("messages",
		    "messages.%zu.content: Input should be a valid list", mi);
	json_array_foreach (c, i, b) {
		snprintf(
		    where, sizeof(where), "messages.%zu.content.%zu", mi, i);
		if (!json_is_object(b))
			return FAIL("messages",
			    "%s: Input should be a valid dictionary", where);
		err = an_block(b, m, where, eb, es, param);
		if (err != RELAY_OK)
			break;
	}
	return err;
}

/* A system message inside messages holds text blocks only. */
static enum relay_err
an_system_msg(
    const struct ir_msg *m, size_t mi, char *eb, size_t es, const char **param)
{
	size_t i;

	for (i = 0; i < m->nparts; i++)
		if (m->parts[i].type != IR_PART_TEXT)
			return FAIL("messages",
			    "messages.%zu.content.%zu: a system message holds "
			    "text blocks only",
			    mi, i);
	return RELAY_OK;
}

static enum relay_err
an_messages(
    json_t *msgs, struct ir_request *r, char *eb, size_t es, const char **param)
{
	enum relay_err err = RELAY_OK;
	struct ir_msg *m;
	const char *role;
	json_t *msg;
	size_t i;

	if (!json_is_array(msgs))
		return FAIL("messages", "messages: Field required");
	json_array_foreach (msgs, i, msg) {
		role = json_string_value(json_object_get(msg, "role"));
		if (role == NULL ||
		    (strcmp(role, "user") != 0 &&
			strcmp(role, "assistant") != 0 &&
			strcmp(role, "system") != 0))
			return FAIL("messages",
			    "messages.%zu.role: Input should be 'user', "
			    "'assistant' or 'system'",
			    i);
		err = ir_request_add_msg(r,
		    role[0] == 'u'       ? IR_ROLE_USER
			: role[0] == 'a' ? IR_ROLE_ASSISTANT
					 : IR_ROLE_SYSTEM,
		    &m);
		if (err == RELAY_OK)
			err = an_content(json_object_get(msg, "content"), m, i,
			    eb, es, param);
		if (err == RELAY_OK && m->role == IR_ROLE_SYSTEM)
			err = an_system_msg(m, i, eb, es, param);
		if (err != RELAY_OK)
			break;
	}
	return err;
}

/*
 * Claude Code's first system block, "x-anthropic-billing-header:
 * cc_version=...; cc_entrypoint=...", is meant for Anthropic's billing,
 * not the model, and changes with every release: sent to another
 * provider it only spoils that provider's prompt cache. Dropped.
 */
static int
an_billing_block(const json_t *text)
{
	static const char mark[] = "x-anthropic-billing-header:";

	return json_string_length(text) >= sizeof(mark) - 1 &&
	    strncasecmp(json_string_value(text), mark, sizeof(mark) - 1) == 0;
}

static enum relay_err
an_system(
    json_t *sys, struct ir_request *r, char *eb, size_t es, const char **param)
{
	enum relay_err err = RELAY_OK;
	struct ir_part *p;
	json_t *b;
	size_t i;

	if (sys == NULL || json_is_null(sys))
		return RELAY_OK;
	if (json_is_string(sys)) {
		err = ir_msg_add_part(&r->system, IR_PART_TEXT, &p);
		if (err == RELAY_OK)
			p->text = json_incref(sys);
		return err;
	}
	if (!json_is_array(sys))
		return FAIL("system", "system: Input should be a valid list");
	json_array_foreach (sys, i, b) {
		if (strcmp(jtype(b), "text") != 0 ||
		    !json_is_string(json_object_get(b, "text")))
			return FAIL("system",
			    "system.%zu: Input should be a text block", i);
		if (an_billing_block(json_object_get(b, "text")))
			continue;
		err = ir_msg_add_part(&r->system, IR_PART_TEXT, &p);
		if (err != RELAY_OK)
			break;
		p->text = json_incref(json_object_get(b, "text"));
	}
	return err;
}

static enum relay_err
an_tools(json_t *tools, struct ir_request *r, char *eb, size_t es,
    const char **param)
{
	struct ir_tool *t;
	enum relay_err err;
	const char *type;
	json_t *item;
	size_t i;

	if (tools == NULL || json_is_null(tools))
		return RELAY_OK;
	if (!json_is_array(tools))
		return FAIL("tools", "tools: Input should be a valid list");
	json_array_foreach (tools, i, item) {
		type = json_string_value(json_object_get(item, "type"));
		/* Anthropic's own tools (web search, code execution, tool
		 * search, bash and text editor with their built-in schemas)
		 * run on Anthropic's side or need its trained formats: the
		 * other providers get the custom tools only. A deferred
		 * custom tool (defer_loading) is declared like any other,
		 * there being no tool search to load it later. */
		if (type != NULL && strcmp(type, "custom") != 0)
			continue;
		if (!json_is_string(json_object_get(item, "name")) ||
		    !json_is_object(json_object_get(item, "input_schema")))
			return FAIL("tools",
			    "tools.%zu: name and input_schema are required", i);
		err = ir_request_add_tool(r, &t);
		if (err != RELAY_OK)
			return err;
		t->name = json_incref(json_object_get(item, "name"));
		t->description = ir_str(json_object_get(item, "description"));
		t->schema = json_incref(json_object_get(item, "input_schema"));
	}
	return RELAY_OK;
}

static enum relay_err
an_tool_choice(
    json_t *tc, struct ir_request *r, char *eb, size_t es, const char **param)
{
	const char *t = jtype(tc);

	if (tc == NULL || json_is_null(tc))
		return RELAY_OK;
	if (strcmp(t, "auto") == 0)
		r->tool_choice = IR_TOOL_CHOICE_AUTO;
	else if (strcmp(t, "any") == 0)
		r->tool_choice = IR_TOOL_CHOICE_REQUIRED;
	else if (strcmp(t, "none") == 0)
		r->tool_choice = IR_TOOL_CHOICE_NONE;
	else if (strcmp(t, "tool") == 0 &&
	    json_is_string(json_object_get(tc, "name"))) {
		r->tool_choice = IR_TOOL_CHOICE_TOOL;
		r->tool_choice_name = json_incref(json_object_get(tc, "name"));
	} else
		return FAIL("tool_choice",
		    "tool_choice: Input tag '%.32s' found using 'type' does "
		    "not match any of the expected tags: 'auto', 'any', "
		    "'tool', 'none'",
		    t);
	if (json_is_true(json_object_get(tc, "disable_parallel_tool_use")))
		r->parallel_tool_calls = 0;
	return RELAY_OK;
}

static enum relay_err
an_number(json_t *root, const char *key, json_t **dst, char *eb, size_t es,
    const char **param)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL || json_is_null(v))
		return RELAY_OK;
	if (!json_is_number(v))
		return FAIL(key, "%s: Input should be a valid number", key);
	*dst = json_incref(v);
	return RELAY_OK;
}

/*
 * output_config.effort ("low" ... "max") as a thinking budget, for
 * adaptive thinking, where the model decides how much to think: the
 * other providers want a number (Gemini thinkingBudget). Without an
 * effort the budget Gemini's own "dynamic" stands for elsewhere.
 */
static long long
an_effort_budget(const char *e)
{
	if (e == NULL)
		return GM_DYNAMIC_BUDGET;
	return strcmp(e, "low") == 0   ? OA_EFFORT_LOW
	    : strcmp(e, "medium") == 0 ? OA_EFFORT_MEDIUM
				       : OA_EFFORT_HIGH;
}

/*
 * thinking {type: adaptive | between_tools} and output_config (effort,
 * format). The effort alone does not ask an OpenAI model for
 * reasoning_effort: the target may be a model without reasoning, which
 * refuses the parameter (the same as thinking "enabled" today).
 */
static enum relay_err
an_output_config(json_t *root, struct ir_request *r, json_t *th, char *eb,
    size_t es, const char **param)
{
	json_t *oc = json_object_get(root, "output_config");
	json_t *fmt = json_object_get(oc, "format");
	json_t *eff = json_object_get(oc, "effort");
	const char *t = jtype(th);

	if (oc != NULL && !json_is_null(oc) && !json_is_object(oc))
		return FAIL("output_config",
		    "output_config: Input should be a valid dictionary");
	if (eff != NULL && !json_is_null(eff) && !json_is_string(eff))
		return FAIL("output_config",
		    "output_config.effort: Input should be 'low', 'medium', "
		    "'high', 'xhigh' or 'max'");
	if (strcmp(t, "adaptive") == 0 || strcmp(t, "between_tools") == 0)
		r->thinking_budget = an_effort_budget(json_string_value(eff));
	if (fmt == NULL || json_is_null(fmt))
		return RELAY_OK;
	if (strcmp(jtype(fmt), "json_schema") != 0 ||
	    !json_is_object(json_object_get(fmt, "schema")))
		return FAIL("output_config",
		    "output_config.format: Input should be a json_schema "
		    "format with a schema");
	r->format = IR_FORMAT_JSON_SCHEMA;
	r->format_schema = json_incref(json_object_get(fmt, "schema"));
	return RELAY_OK;
}

static enum relay_err
an_scalars(
    json_t *root, struct ir_request *r, char *eb, size_t es, const char **param)
{
	json_t *mt = json_object_get(root, "max_tokens");
	json_t *stop = json_object_get(root, "stop_sequences");
	json_t *th = json_object_get(root, "thinking"), *v;
	json_t *stream = json_object_get(root, "stream");
	enum relay_err err;
	size_t i;

	if (mt == NULL)
		return FAIL("max_tokens", "max_tokens: Field required");
	if (ir_count(mt) < 1)
		return FAIL("max_tokens",
		    "max_tokens: Input should be a valid integer greater than "
		    "or equal to 1");
	r->max_tokens = ir_count(mt);
	err = an_number(root, "temperature", &r->temperature, eb, es, param);
	if (err == RELAY_OK)
		err = an_number(root, "top_p", &r->top_p, eb, es, param);
	if (err == RELAY_OK)
		err = an_number(root, "top_k", &r->top_k, eb, es, param);
	if (err != RELAY_OK)
		return err;
	if (stop != NULL && !json_is_null(stop)) {
		if (!json_is_array(stop))
			return FAIL("stop_sequences",
			    "stop_sequences: Input should be a valid list");
		json_array_foreach (stop, i, v)
			if (!json_is_string(v))
				return FAIL("stop_sequences",
				    "stop_sequences.%zu: Input should be a "
				    "valid string",
				    i);
		r->stop = json_incref(stop);
	}
	if (strcmp(jtype(th), "enabled") == 0)
		r->thinking_budget =
		    ir_count(json_object_get(th, "budget_tokens"));
	if (r->thinking_budget < 0)
		return FAIL("thinking",
		    "thinking.enabled.budget_tokens: Field required");
	err = an_output_config(root, r, th, eb, es, param);
	if (err != RELAY_OK)
		return err;
	if (stream != NULL && !json_is_boolean(stream) && !json_is_null(stream))
		return FAIL(
		    "stream", "stream: Input should be a valid boolean");
	r->stream = json_is_true(stream);
	r->include_usage = 1;
	return RELAY_OK;
}

enum relay_err
wire_anthropic_parse_request(struct span body, struct ir_request *r, char *eb,
    size_t es, const char **param)
{
	json_t *root = NULL, *model;
	enum relay_err err;

	*param = NULL;
	err = jsonx_parse(body.p, body.len, &root, eb, es);
	if (err != RELAY_OK)
		goto out;
	if (!json_is_object(root)) {
		err = FAIL(NULL, "Input should be a valid dictionary");
		goto out;
	}
	model = json_object_get(root, "model");
	if (!json_is_string(model) || json_string_length(model) == 0) {
		err = FAIL("model", "model: Field required");
		goto out;
	}
	r->model = json_incref(model);
	err = an_scalars(root, r, eb, es, param);
	if (err == RELAY_OK)
		err = an_messages(
		    json_object_get(root, "messages"), r, eb, es, param);
	if (err == RELAY_OK)
		err = an_system(
		    json_object_get(root, "system"), r, eb, es, param);
	if (err == RELAY_OK)
		err =
		    an_tools(json_object_get(root, "tools"), r, eb, es, param);
	if (err == RELAY_OK)
		err = an_tool_choice(
		    json_object_get(root, "tool_choice"), r, eb, es, param);
out:
	json_decref(root);
	return err;
}

/* --- request: emit ------------------------------------------------------ */

static json_t *
an_text_block(json_t *text)
{
	return json_pack("{s:s,s:O}", "type", "text", "text", text);
}

static json_t *
an_image_block(const struct ir_part *p)
{
	if (p->url != NULL)
		return json_pack("{s:s,s:{s:s,s:O}}", "type", "image", "source",
		    "type", "url", "url", p->url);
	return json_pack("{s:s,s:{s:s,s:O,s:O}}", "type", "image", "source",
	    "type", "base64", "media_type", p->media_type, "data", p->data);
}

/* A tool call's arguments as the object Anthropic wants. */
static json_t *
an_input(const struct ir_part *p, int *bad, int *invalid)
{
	json_t *v;
	int oom = 0;

	v = p->args != NULL ? ir_parse_args(p->args, &oom) : json_object();
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	if (v == NULL && !oom)
		*invalid = 1;
	*bad |= oom;
	return v;
}

static json_t *
an_tool_use_block(const struct ir_part *p, json_t *id, int *bad, int *invalid)
{
	json_t *o = json_object(), *in;

	*bad |= ir_set(o, "type", json_string("tool_use"));
	*bad |= ir_set(o, "id", id);
	*bad |= ir_set(o, "name", json_incref(p->name));
	in = an_input(p, bad, invalid);
	/* Arguments that do not parse are the caller's call (a request is
	 * refused, an answer gets {}); only a failed allocation is bad. */
	if (in != NULL)
		*bad |= ir_set(o, "input", in);
	else if (!*invalid)
		*bad = 1;
	return o;
}

static json_t *
an_result_block(const struct ir_part *p)
{
	json_t *o =
	    json_pack("{s:s,s:O,s:O}", "type", "tool_result", "tool_use_id",
		p->id, "content", p->text != NULL ? p->text : json_null());

	if (o != NULL && p->is_error &&
	    ir_set(o, "is_error", json_true()) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* One part as a block; NULL with *skip for parts Anthropic cannot take. */
static json_t *
an_part_block(const struct ir_part *p, int *skip, int *bad, int *invalid)
{
	*skip = 0;
	switch (p->type) {
	case IR_PART_TEXT:
		*skip = json_string_length(p->text) == 0;
		return *skip ? NULL : an_text_block(p->text);
	case IR_PART_IMAGE: return an_image_block(p);
	case IR_PART_TOOL_CALL:
		return an_tool_use_block(p, json_incref(p->id), bad, invalid);
	case IR_PART_TOOL_RESULT: return an_result_block(p);
	case IR_PART_THINKING:
		/* Only a signed block is accepted back by the API. */
		*skip = p->signature == NULL || p->text == NULL;
		return *skip
		    ? NULL
		    : json_pack("{s:s,s:O,s:O}", "type", "thinking", "thinking",
			  p->text, "signature", p->signature);
	case IR_PART_REDACTED_THINKING:
		*skip = p->data == NULL;
		return *skip ? NULL
			     : json_pack("{s:s,s:O}", "type",
				   "redacted_thinking", "data", p->data);
	case IR_PART__MAX: break;
	}
	*skip = 1;
	return NULL;
}

/* Blocks of m; tool results first, as the API requires of a user turn. */
static json_t *
an_blocks(const struct ir_msg *m, int *bad, int *invalid)
{
	json_t *a = json_array();
	int pass, skip;
	size_t i;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < m->nparts; i++) {
			const struct ir_part *p = &m->parts[i];
			json_t *b;

			if ((p->type == IR_PART_TOOL_RESULT) != (pass == 0))
				continue;
			b = an_part_block(p, &skip, bad, invalid);
			if (!skip)
				*bad |= ir_push(a, b);
		}
	return a;
}

static json_t *
an_messages_json(const struct ir_request *r, int *bad, int *invalid)
{
	json_t *a = json_array(), *blocks;
	size_t i;

	for (i = 0; i < r->nmsgs; i++) {
		blocks = an_blocks(&r->msgs[i], bad, invalid);
		if (json_array_size(blocks) == 0) {
			json_decref(blocks);
			continue;
		}
		*bad |= ir_push(a,
		    json_pack("{s:s,s:o}", "role",
			r->msgs[i].role == IR_ROLE_USER ? "user" : "assistant",
			"content", blocks));
	}
	return a;
}

static int
an_system_json(const struct ir_request *r, json_t *o)
{
	json_t *a;
	int bad = 0;
	size_t i;

	if (r->system.nparts == 0)
		return 0;
	a = json_array();
	for (i = 0; i < r->system.nparts; i++)
		if (json_string_length(r->system.parts[i].text) > 0)
			bad |=
			    ir_push(a, an_text_block(r->system.parts[i].text));
	if (json_array_size(a) == 0) {
		json_decref(a);
		return bad;
	}
	return bad | ir_set(o, "system", a);
}

static int
an_tools_json(const struct ir_request *r, json_t *o)
{
	json_t *a, *t;
	int bad = 0;
	size_t i;

	if (r->ntools == 0)
		return 0;
	a = json_array();
	for (i = 0; i < r->ntools; i++) {
		t = json_object();
		bad |= ir_set(t, "name", json_incref(r->tools[i].name));
		if (r->tools[i].description != NULL)
			bad |= ir_set(t, "description",
			    json_incref(r->tools[i].description));
		bad |= ir_set(t, "input_schema",
		    r->tools[i].schema != NULL ? json_incref(r->tools[i].schema)
					       : json_pack("{s:s,s:{}}", "type",
						     "object", "properties"));
		bad |= ir_push(a, t);
	}
	return bad | ir_set(o, "tools", a);
}

static int
an_choice_json(const struct ir_request *r, json_t *o)
{
	const char *t = "auto";
	json_t *c;
	int bad = 0;

	if (r->ntools == 0)
		return 0;
	switch (r->tool_choice) {
	case IR_TOOL_CHOICE_UNSET:
		if (r->parallel_tool_calls != 0)
			return 0;
		break;
	case IR_TOOL_CHOICE_AUTO: break;
	case IR_TOOL_CHOICE_NONE: t = "none"; break;
	case IR_TOOL_CHOICE_REQUIRED: t = "any"; break;
	case IR_TOOL_CHOICE_TOOL: t = "tool"; break;
	case IR_TOOL_CHOICE__MAX: return 0;
	}
	c = json_object();
	bad |= ir_set(c, "type", json_string(t));
	if (r->tool_choice == IR_TOOL_CHOICE_TOOL)
		bad |= ir_set(c, "name", json_incref(r->tool_choice_name));
	if (r->parallel_tool_calls == 0 &&
	    r->tool_choice != IR_TOOL_CHOICE_NONE)
		bad |= ir_set(c, "disable_parallel_tool_use", json_true());
	return bad | ir_set(o, "tool_choice", c);
}

/* Sampling parameters; the API refuses them beside extended thinking,
 * and takes temperatures in [0, 1] only (OpenAI and Gemini: [0, 2]). */
static int
an_sampling(const struct ir_request *r, json_t *o)
{
	double t;
	int bad = 0;

	if (r->thinking_budget > 0)
		return 0;
	if (r->temperature != NULL) {
		t = json_number_value(r->temperature);
		bad |= ir_set(o, "temperature",
		    t > 1.0 ? json_real(1.0) : json_incref(r->temperature));
	}
	if (r->top_p != NULL)
		bad |= ir_set(o, "top_p", json_incref(r->top_p));
	if (r->top_k != NULL)
		bad |= ir_set(o, "top_k", json_incref(r->top_k));
	return bad;
}

static int
an_limits(const struct ir_request *r, json_t *o)
{
	long long max =
	    r->max_tokens > 0 ? r->max_tokens : AN_MAX_TOKENS_DEFAULT;
	long long budget = r->thinking_budget;
	int bad = 0;

	if (budget > 0) {
		if (budget < AN_BUDGET_MIN)
			budget = AN_BUDGET_MIN;
		/* budget_tokens must stay below max_tokens: the client's
		 * max_tokens is kept for the visible answer. */
		if (max <= budget)
			max = num_addll_sat(max, budget);
		bad |= ir_set(o, "thinking",
		    json_pack("{s:s,s:I}", "type", "enabled", "budget_tokens",
			(json_int_t)budget));
	}
	bad |= ir_set(o, "max_tokens", json_integer(max));
	return bad;
}

enum relay_err
wire_anthropic_emit_request(const struct ir_request *r, const char *model,
    struct buf *out, char *eb, size_t es, const char **param)
{
	json_t *o = json_object();
	enum relay_err err;
	int bad = 0, invalid = 0;

	*param = NULL;
	bad |= ir_set(o, "model",
	    model != NULL ? json_string(model) : json_incref(r->model));
	bad |= an_limits(r, o);
	bad |= an_system_json(r, o);
	bad |= ir_set(o, "messages", an_messages_json(r, &bad, &invalid));
	if (r->stop != NULL)
		bad |= ir_set(o, "stop_sequences", json_incref(r->stop));
	bad |= an_sampling(r, o);
	bad |= an_tools_json(r, o);
	bad |= an_choice_json(r, o);
	if (r->stream)
		bad |= ir_set(o, "stream", json_true());
	if (invalid)
		err = FAIL("messages",
		    "the arguments of a tool call in the conversation are not "
		    "a JSON object");
	else
		err = bad ? RELAY_ENOMEM : jsonx_dump(o, out);
	json_decref(o);
	return err;
}

/* --- response ------------------------------------------------------------ */

static enum ir_finish
an_finish(const char *s)
{
	if (s == NULL)
		return IR_FINISH_NONE;
	if (strcmp(s, "end_turn") == 0)
		return IR_FINISH_STOP;
	if (strcmp(s, "max_tokens") == 0)
		return IR_FINISH_LENGTH;
	if (strcmp(s, "tool_use") == 0)
		return IR_FINISH_TOOL_CALLS;
	if (strcmp(s, "stop_sequence") == 0)
		return IR_FINISH_STOP_SEQUENCE;
	if (strcmp(s, "refusal") == 0)
		return IR_FINISH_REFUSAL;
	if (strcmp(s, "pause_turn") == 0)
		return IR_FINISH_PAUSE;
	return IR_FINISH_OTHER;
}

static const char *
an_finish_str(enum ir_finish f)
{
	switch (f) {
	case IR_FINISH_LENGTH: return "max_tokens";
	case IR_FINISH_TOOL_CALLS: return "tool_use";
	case IR_FINISH_STOP_SEQUENCE: return "stop_sequence";
	case IR_FINISH_CONTENT_FILTER:
	case IR_FINISH_REFUSAL: return "refusal";
	case IR_FINISH_PAUSE: return "pause_turn";
	case IR_FINISH_NONE:
	case IR_FINISH_STOP:
	case IR_FINISH_OTHER:
	case IR_FINISH__MAX: break;
	}
	return "end_turn";
}

/* Anthropic's counts into the normalised ones: input_tokens excludes the
 * cache reads and writes, which the IR's input includes. */
static void
an_norm_usage(long long in, long long cr, long long cw, long long outt,
    struct ir_usage *u)
{
	u->cache_read = cr;
	u->cache_write = cw;
	if (in >= 0)
		u->input = num_addll_sat(
		    num_addll_sat(in, cr > 0 ? cr : 0), cw > 0 ? cw : 0);
	u->output = outt;
}

static void
an_usage(json_t *u, struct ir_usage *out)
{
	if (!json_is_object(u))
		return;
	an_norm_usage(ir_count(json_object_get(u, "input_tokens")),
	    ir_count(json_object_get(u, "cache_read_input_tokens")),
	    ir_count(json_object_get(u, "cache_creation_input_tokens")),
	    ir_count(json_object_get(u, "output_tokens")), out);
}

static json_t *
an_usage_json(const struct ir_usage *u)
{
	long long cr = u->cache_read > 0 ? u->cache_read : 0;
	long long cw = u->cache_write > 0 ? u->cache_write : 0;
	long long in =
	    u->input > 0 ? num_addll_sat(num_addll_sat(u->input, -cr), -cw) : 0;

	return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens",
	    (json_int_t)(in > 0 ? in : 0), "cache_creation_input_tokens",
	    (json_int_t)cw, "cache_read_input_tokens", (json_int_t)cr,
	    "output_tokens", (json_int_t)(u->output > 0 ? u->output : 0));
}

static enum relay_err
an_resp_block(json_t *b, struct ir_msg *m)
{
	const char *t = jtype(b);
	const char *param;
	char eb[8];
	enum relay_err err;

	if (strcmp(t, "text") == 0 || strcmp(t, "tool_use") == 0 ||
	    strcmp(t, "thinking") == 0 || strcmp(t, "redacted_thinking") == 0) {
		err = an_block(b, m, "content", eb, sizeof(eb), &param);
		return err == RELAY_EINVAL ? RELAY_EPROTO : err;
	}
	return RELAY_OK; /* server tool blocks: not carried across */
}

enum relay_err
wire_anthropic_parse_response(
    struct span body, struct ir_response *r, char *eb, size_t es)
{
	json_t *root = NULL, *content, *b;
	enum relay_err err;
	size_t i;

	err = jsonx_parse(body.p, body.len, &root, eb, es);
	if (err == RELAY_EINVAL)
		err = RELAY_EPROTO;
	if (err != RELAY_OK)
		goto out;
	content = json_object_get(root, "content");
	if (!json_is_array(content)) {
		snprintf(eb, es, "no content array in the response");
		err = RELAY_EPROTO;
		goto out;
	}
	r->id = ir_str(json_object_get(root, "id"));
	r->model = ir_str(json_object_get(root, "model"));
	r->finish_raw = ir_str(json_object_get(root, "stop_reason"));
	r->finish = an_finish(json_string_value(r->finish_raw));
	r->stop_sequence = ir_str(json_object_get(root, "stop_sequence"));
	an_usage(json_object_get(root, "usage"), &r->usage);
	json_array_foreach (content, i, b) {
		err = an_resp_block(b, &r->msg);
		if (err != RELAY_OK)
			break;
	}
out:
	json_decref(root);
	return err;
}

static json_t *
an_new_id(json_t *id, json_t *sig, const char *prefix)
{
	char buf[64];

	json_t *fresh, *joined;

	if (id != NULL && json_string_length(id) > 0)
		return ir_id_join(id, sig);
	/* Gemini's calls carry no id: a new one, with the thought signature
	 * joined on as for any other id, so the next turn can give it back. */
	ir_new_id(buf, sizeof(buf), prefix);
	fresh = json_string(buf);
	if (fresh == NULL || sig == NULL)
		return fresh;
	joined = ir_id_join(fresh, sig);
	json_decref(fresh);
	return joined;
}

static json_t *
an_resp_content(const struct ir_msg *m, int *bad)
{
	json_t *a = json_array(), *b;
	int skip, invalid = 0;
	size_t i;

	for (i = 0; i < m->nparts; i++) {
		const struct ir_part *p = &m->parts[i];

		if (p->type == IR_PART_TOOL_CALL) {
			b = an_tool_use_block(p,
			    an_new_id(p->id, p->signature, "toolu_"), bad,
			    &invalid);
			if (invalid) /* unparseable upstream arguments */
				*bad |= ir_set(b, "input", json_object());
			invalid = 0;
		} else if (p->type == IR_PART_THINKING) {
			b = json_pack("{s:s,s:O,s:s}", "type", "thinking",
			    "thinking", p->text != NULL ? p->text : json_null(),
			    "signature", "");
			if (b != NULL && p->signature != NULL)
				*bad |= ir_set(
				    b, "signature", json_incref(p->signature));
			skip = p->text == NULL;
		} else
			b = an_part_block(p, &skip, bad, &invalid);
		if (p->type == IR_PART_TOOL_CALL || !skip)
			*bad |= ir_push(a, b);
		else
			json_decref(b);
	}
	return a;
}

enum relay_err
wire_anthropic_emit_response(const struct ir_response *r, struct buf *out)
{
	json_t *o = json_object();
	enum relay_err err;
	int bad = 0;

	bad |= ir_set(o, "id", an_new_id(r->id, NULL, "msg_"));
	bad |= ir_set(o, "type", json_string("message"));
	bad |= ir_set(o, "role", json_string("assistant"));
	bad |= ir_set(o, "model",
	    r->model != NULL ? json_incref(r->model) : json_string(""));
	bad |= ir_set(o, "content", an_resp_content(&r->msg, &bad));
	bad |= ir_set(o, "stop_reason", json_string(an_finish_str(r->finish)));
	bad |= ir_set(o, "stop_sequence",
	    r->stop_sequence != NULL ? json_incref(r->stop_sequence)
				     : json_null());
	bad |= ir_set(o, "usage", an_usage_json(&r->usage));
	err = bad ? RELAY_ENOMEM : jsonx_dump(o, out);
	json_decref(o);
	return err;
}

/* --- errors ------------------------------------------------------------- */

static const char *
an_type(int status)
{
	switch (status) {
	case 400: return "invalid_request_error";
	case 401: return "authentication_error";
	case 402: return "billing_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 504: return "timeout_error";
	case 529: return "overloaded_error";
	}
	return status >= 500 ? "api_error" : "invalid_request_error";
}

/* The status Anthropic answers with for an error type (mid-stream errors
 * carry the type only). */
static int
an_status(const char *type)
{
	static const int st[] = {400, 401, 402, 403, 404, 413, 429, 504, 529};
	size_t i;

	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (strcmp(type, an_type(st[i])) == 0)
			return st[i];
	return 500;
}

json_t *
wire_anthropic_error(int status, const char *type, const char *msg, size_t mlen)
{
	(void)type; /* the type follows from the status */
	return json_pack("{s:s,s:{s:s,s:s%}}", "type", "error", "error", "type",
	    an_type(status), "message", msg, mlen);
}

/* --- stream: decode -------------------------------------------------------- */

static enum relay_err
an_dec_start(struct ir_dec *d, json_t *root, struct ir_norm *n)
{
	json_t *msg = json_object_get(root, "message");
	json_t *u = json_object_get(msg, "usage");
	struct ir_usage usage;

	d->raw_input = ir_count(json_object_get(u, "input_tokens"));
	d->raw_cache_read =
	    ir_count(json_object_get(u, "cache_read_input_tokens"));
	d->raw_cache_write =
	    ir_count(json_object_get(u, "cache_creation_input_tokens"));
	ir_usage_init(&usage);
	an_norm_usage(d->raw_input, d->raw_cache_read, d->raw_cache_write,
	    ir_count(json_object_get(u, "output_tokens")), &usage);
	ir_norm_usage(n, &usage);
	return ir_norm_start(n, jspan(json_object_get(msg, "id")),
	    jspan(json_object_get(msg, "model")), 0);
}

static enum relay_err
an_dec_block_start(struct ir_dec *d, json_t *root, struct ir_norm *n)
{
	json_t *cb = json_object_get(root, "content_block"), *in, *args;
	long long key = ir_count(json_object_get(root, "index"));
	const char *t = jtype(cb);
	enum relay_err err;

	if (strcmp(t, "text") == 0)
		return ir_norm_text(
		    n, IR_DELTA_TEXT, jspan(json_object_get(cb, "text")));
	if (strcmp(t, "thinking") == 0) {
		err = ir_norm_text(n, IR_DELTA_THINKING,
		    jspan(json_object_get(cb, "thinking")));
		return err;
	}
	if (strcmp(t, "tool_use") != 0)
		return RELAY_OK; /* redacted thinking, server tools */
	d->saw_tool = 1;
	err = ir_norm_tool(n, key, jspan(json_object_get(cb, "id")),
	    jspan(json_object_get(cb, "name")), jspan(NULL));
	in = json_object_get(cb, "input");
	if (err != RELAY_OK || json_object_size(in) == 0)
		return err;
	args = an_dump(in);
	err = args != NULL ? ir_norm_args(n, key, jspan(args)) : RELAY_ENOMEM;
	json_decref(args);
	return err;
}

static enum relay_err
an_dec_delta(json_t *root, struct ir_norm *n)
{
	json_t *d = json_object_get(root, "delta");
	long long key = ir_count(json_object_get(root, "index"));
	const char *t = jtype(d);

	if (strcmp(t, "text_delta") == 0)
		return ir_norm_text(
		    n, IR_DELTA_TEXT, jspan(json_object_get(d, "text")));
	if (strcmp(t, "thinking_delta") == 0)
		return ir_norm_text(n, IR_DELTA_THINKING,
		    jspan(json_object_get(d, "thinking")));
	if (strcmp(t, "signature_delta") == 0)
		return ir_norm_signature(
		    n, jspan(json_object_get(d, "signature")));
	if (strcmp(t, "input_json_delta") == 0)
		return ir_norm_args(
		    n, key, jspan(json_object_get(d, "partial_json")));
	return RELAY_OK; /* citations_delta and newer kinds */
}

static void
an_dec_message_delta(struct ir_dec *d, json_t *root, struct ir_norm *n)
{
	json_t *u = json_object_get(root, "usage");
	json_t *sr =
	    json_object_get(json_object_get(root, "delta"), "stop_reason");
	struct ir_usage usage;
	long long v;

	if (json_is_string(sr))
		ir_norm_finish(n, an_finish(json_string_value(sr)), jspan(sr));
	if (!json_is_object(u))
		return;
	/* Counts are cumulative: assign. Newer servers repeat the input
	 * counts here too. */
	v = ir_count(json_object_get(u, "input_tokens"));
	d->raw_input = v >= 0 ? v : d->raw_input;
	v = ir_count(json_object_get(u, "cache_read_input_tokens"));
	d->raw_cache_read = v >= 0 ? v : d->raw_cache_read;
	v = ir_count(json_object_get(u, "cache_creation_input_tokens"));
	d->raw_cache_write = v >= 0 ? v : d->raw_cache_write;
	ir_usage_init(&usage);
	an_norm_usage(d->raw_input, d->raw_cache_read, d->raw_cache_write,
	    ir_count(json_object_get(u, "output_tokens")), &usage);
	ir_norm_usage(n, &usage);
}

static enum relay_err
an_dec_error(json_t *root, struct ir_norm *n)
{
	json_t *e = json_object_get(root, "error");
	const char *t = jtype(e);

	return ir_norm_error(n, an_status(t), jspan(json_object_get(e, "type")),
	    jspan(json_object_get(e, "message")));
}

enum relay_err
wire_anthropic_decode(
    struct ir_dec *d, const struct sse_event *ev, struct ir_norm *n)
{
	json_t *root = NULL;
	const char *t;
	char eb[128];
	enum relay_err err;

	if (!ev->has_data)
		return RELAY_OK;
	err = jsonx_parse(ev->data.p, ev->data.len, &root, eb, sizeof(eb));
	if (err != RELAY_OK || !json_is_object(root)) {
		json_decref(root);
		return err == RELAY_ENOMEM ? err : RELAY_EPROTO;
	}
	t = jtype(root);
	if (strcmp(t, "message_start") == 0)
		err = an_dec_start(d, root, n);
	else if (strcmp(t, "content_block_start") == 0)
		err = an_dec_block_start(d, root, n);
	else if (strcmp(t, "content_block_delta") == 0)
		err = an_dec_delta(root, n);
	else if (strcmp(t, "content_block_stop") == 0)
		err = ir_norm_stop(n);
	else if (strcmp(t, "message_delta") == 0)
		an_dec_message_delta(d, root, n);
	else if (strcmp(t, "message_stop") == 0)
		err = ir_norm_end(n);
	else if (strcmp(t, "error") == 0)
		err = an_dec_error(root, n);
	json_decref(root);
	return err; /* ping and unknown types: nothing */
}

/* --- stream: encode -------------------------------------------------------- */

static enum relay_err
an_event(const char *name, json_t *v, struct buf *out)
{
	enum relay_err err = ir_sse(out, name, v, "\n\n");

	json_decref(v);
	return err;
}

static enum relay_err
an_enc_start(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	json_t *msg;

	if (ev->id.len > 0)
		ir_copy_span(e->id, sizeof(e->id), ev->id);
	else
		ir_new_id(e->id, sizeof(e->id), "msg_");
	ir_copy_span(e->model, sizeof(e->model), ev->model);
	e->started = 1;
	msg = json_pack("{s:s,s:s,s:s,s:s,s:[],s:n,s:n,s:o}", "id", e->id,
	    "type", "message", "role", "assistant", "model", e->model,
	    "content", "stop_reason", "stop_sequence", "usage",
	    an_usage_json(ev->usage));
	return an_event("message_start",
	    json_pack("{s:s,s:o}", "type", "message_start", "message", msg),
	    out);
}

static json_t *
an_enc_block(const struct ir_sev *ev)
{
	json_t *id, *sig = NULL, *full;
	char buf[64];

	switch (ev->part) {
	case IR_PART_THINKING:
		return json_pack("{s:s,s:s,s:s}", "type", "thinking",
		    "thinking", "", "signature", "");
	case IR_PART_TOOL_CALL:
		if (ev->id.len == 0)
			ir_new_id(buf, sizeof(buf), "toolu_");
		id = ev->id.len > 0 ? ir_span_json(ev->id) : json_string(buf);
		if (ev->signature.len > 0)
			sig = ir_span_json(ev->signature);
		full = id != NULL ? ir_id_join(id, sig) : NULL;
		json_decref(id);
		json_decref(sig);
		return json_pack("{s:s,s:o,s:s%,s:{}}", "type", "tool_use",
		    "id", full, "name", ev->name.len > 0 ? ev->name.p : "",
		    ev->name.len, "input");
	case IR_PART_TEXT:
	case IR_PART_IMAGE:
	case IR_PART_TOOL_RESULT:
	case IR_PART_REDACTED_THINKING:
	case IR_PART__MAX: break;
	}
	return json_pack("{s:s,s:s}", "type", "text", "text", "");
}

static enum relay_err
an_enc_delta(const struct ir_sev *ev, struct buf *out)
{
	static const char *const kind[IR_DELTA__MAX] = {
	    [IR_DELTA_TEXT] = "text_delta",
	    [IR_DELTA_THINKING] = "thinking_delta",
	    [IR_DELTA_SIGNATURE] = "signature_delta",
	    [IR_DELTA_ARGS] = "input_json_delta",
	};
	static const char *const field[IR_DELTA__MAX] = {
	    [IR_DELTA_TEXT] = "text",
	    [IR_DELTA_THINKING] = "thinking",
	    [IR_DELTA_SIGNATURE] = "signature",
	    [IR_DELTA_ARGS] = "partial_json",
	};

	return an_event("content_block_delta",
	    json_pack("{s:s,s:I,s:{s:s,s:s%}}", "type", "content_block_delta",
		"index", (json_int_t)ev->index, "delta", "type",
		kind[ev->delta], field[ev->delta], ev->text.p, ev->text.len),
	    out);
}

static enum relay_err
an_enc_end(const struct ir_sev *ev, struct buf *out)
{
	enum relay_err err;

	err = an_event("message_delta",
	    json_pack("{s:s,s:{s:s,s:n},s:o}", "type", "message_delta", "delta",
		"stop_reason", an_finish_str(ev->finish), "stop_sequence",
		"usage", an_usage_json(ev->usage)),
	    out);
	if (err == RELAY_OK)
		err = an_event("message_stop",
		    json_pack("{s:s}", "type", "message_stop"), out);
	return err;
}

enum relay_err
wire_anthropic_encode(
    struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	switch (ev->kind) {
	case IR_SEV_START: return an_enc_start(e, ev, out);
	case IR_SEV_BLOCK_START:
		return an_event("content_block_start",
		    json_pack("{s:s,s:I,s:o}", "type", "content_block_start",
			"index", (json_int_t)ev->index, "content_block",
			an_enc_block(ev)),
		    out);
	case IR_SEV_DELTA:
		if (ev->delta >= IR_DELTA__MAX)
			return RELAY_OK;
		return an_enc_delta(ev, out);
	case IR_SEV_BLOCK_STOP:
		return an_event("content_block_stop",
		    json_pack("{s:s,s:I}", "type", "content_block_stop",
			"index", (json_int_t)ev->index),
		    out);
	case IR_SEV_END: return an_enc_end(ev, out);
	case IR_SEV_ERROR:
		return an_event("error",
		    wire_anthropic_error(
			ev->status, NULL, ev->text.p, ev->text.len),
		    out);
	case IR_SEV__MAX: break;
	}
	return RELAY_OK;
}
