/* SPDX-License-Identifier: MIT */
/* wire_responses.c - OpenAI Responses API bodies and event streams to and
 * from the IR (platform.openai.com API reference: "Create a model
 * response", "The response object", "Streaming events"). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "rseal.h"
#include "wire_responses.h"

#define FAIL(name, ...) ir_fail(eb, es, param, name, __VA_ARGS__)

/* The one argument a custom tool's input travels in to providers that
 * have only function tools. */
#define RS_CUSTOM_ARG "input"

int
wire_responses_is_custom(const char *custom, const char *name, size_t n)
{
	const char *p = custom;

	if (custom == NULL || n == 0)
		return 0;
	while ((p = strstr(p, "\n")) != NULL && p[1] != '\0') {
		if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '\n')
			return 1;
		p++;
	}
	return 0;
}

/* --- request: parse ---------------------------------------------------- */

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

static const char *
str_of(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The message items are merged into: the last one when it has role,
 * else a new one. */
static enum relay_err
rs_msg(struct ir_request *r, enum ir_role role, struct ir_msg **m)
{
	if (r->nmsgs > 0 && r->msgs[r->nmsgs - 1].role == role) {
		*m = &r->msgs[r->nmsgs - 1];
		return RELAY_OK;
	}
	return ir_request_add_msg(r, role, m);
}

static enum relay_err
rs_text(struct ir_msg *m, json_t *text)
{
	struct ir_part *p;
	enum relay_err err = ir_msg_add_part(m, IR_PART_TEXT, &p);

	if (err == RELAY_OK)
		p->text = json_incref(text);
	return err;
}

/* input_image: a data URL, or an https URL for providers that fetch. */
static enum relay_err
rs_image(json_t *part, struct ir_msg *m, size_t ii, char *eb, size_t es,
    const char **param)
{
	json_t *url = json_object_get(part, "image_url");
	const char *u = json_string_value(url), *semi, *comma;
	size_t n = json_string_length(url);
	struct ir_part *p;
	enum relay_err err;

	if (u == NULL)
		return FAIL("input",
		    "Invalid 'input[%zu]': an input_image needs an image_url "
		    "(file_id needs OpenAI's file storage, which this "
		    "model's provider has not).",
		    ii);
	err = ir_msg_add_part(m, IR_PART_IMAGE, &p);
	if (err != RELAY_OK)
		return err;
	if (n < 5 || memcmp(u, "data:", 5) != 0) {
		p->url = json_incref(url);
		return RELAY_OK;
	}
	semi = memchr(u, ';', n);
	comma = memchr(u, ',', n);
	if (semi == NULL || comma == NULL || comma < semi ||
	    (size_t)(comma - semi) != 7 || memcmp(semi, ";base64", 7) != 0)
		return FAIL("input",
		    "Invalid 'input[%zu].image_url': expected a base64 data "
		    "URL or an http(s) URL.",
		    ii);
	p->media_type = json_stringn_nocheck(u + 5, (size_t)(semi - u - 5));
	p->data = json_stringn_nocheck(comma + 1, n - (size_t)(comma + 1 - u));
	return p->media_type != NULL && p->data != NULL ? RELAY_OK
							: RELAY_ENOMEM;
}

/* A message's content: a string or an array of parts. */
static enum relay_err
rs_content(json_t *c, struct ir_msg *m, size_t ii, char *eb, size_t es,
    const char **param)
{
	json_t *part, *text;
	const char *t;
	enum relay_err err = RELAY_OK;
	size_t i;

	if (json_is_string(c))
		return rs_text(m, c);
	if (!json_is_array(c))
		return FAIL("input",
		    "Invalid type for 'input[%zu].content': expected a string "
		    "or an array of content parts.",
		    ii);
	json_array_foreach (c, i, part) {
		t = str_of(part, "type");
		text = json_object_get(part, "text");
		if (t != NULL &&
		    (strcmp(t, "input_text") == 0 ||
			strcmp(t, "output_text") == 0 ||
			strcmp(t, "text") == 0) &&
		    json_is_string(text))
			err = rs_text(m, text);
		else if (t != NULL && strcmp(t, "refusal") == 0 &&
		    json_is_string(json_object_get(part, "refusal")))
			err = rs_text(m, json_object_get(part, "refusal"));
		else if (t != NULL && strcmp(t, "input_image") == 0)
			err = rs_image(part, m, ii, eb, es, param);
		else
			return FAIL("input",
			    "Invalid 'input[%zu].content[%zu]': the part type "
			    "'%.32s' cannot be sent to this model's provider.",
			    ii, i, t != NULL ? t : "?");
		if (err != RELAY_OK)
			break;
	}
	return err;
}

static enum relay_err
rs_message(json_t *item, struct ir_request *r, size_t ii, char *eb, size_t es,
    const char **param)
{
	const char *role = str_of(item, "role");
	struct ir_msg *m;
	enum relay_err err;

	if (role == NULL)
		return FAIL("input",
		    "Missing required parameter: 'input[%zu].role'.", ii);
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
		return rs_content(json_object_get(item, "content"), &r->system,
		    ii, eb, es, param);
	if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)
		return FAIL("input",
		    "Invalid value for 'input[%zu].role': '%.32s'. Supported "
		    "values are: 'user', 'assistant', 'system', and "
		    "'developer'.",
		    ii, role);
	err = rs_msg(r,
	    strcmp(role, "user") == 0 ? IR_ROLE_USER : IR_ROLE_ASSISTANT, &m);
	if (err != RELAY_OK)
		return err;
	return rs_content(
	    json_object_get(item, "content"), m, ii, eb, es, param);
}

/* function_call and custom_tool_call: an assistant's tool call. The
 * call_id may carry a Gemini thought signature (IR_SIG_MARK). */
static enum relay_err
rs_call(json_t *item, int custom, struct ir_request *r, size_t ii, char *eb,
    size_t es, const char **param)
{
	json_t *id = json_object_get(item, "call_id");
	json_t *name = json_object_get(item, "name");
	json_t *args = json_object_get(item, custom ? "input" : "arguments");
	struct ir_part *p;
	struct ir_msg *m;
	struct buf b;
	enum relay_err err;
	json_t *o;

	if (!json_is_string(id) || !json_is_string(name) ||
	    !json_is_string(args))
		return FAIL("input",
		    "Invalid 'input[%zu]': a %s needs the strings call_id, "
		    "name and %s.",
		    ii, custom ? "custom_tool_call" : "function_call",
		    custom ? "input" : "arguments");
	err = rs_msg(r, IR_ROLE_ASSISTANT, &m);
	if (err == RELAY_OK)
		err = ir_msg_add_part(m, IR_PART_TOOL_CALL, &p);
	if (err != RELAY_OK)
		return err;
	err = ir_id_split(id, &p->id, &p->signature);
	p->name = json_incref(name);
	if (err != RELAY_OK || !custom) {
		p->args = json_incref(args);
		return err;
	}
	/* The freeform input as the one argument the provider saw. */
	o = json_object();
	if (ir_set(o, RS_CUSTOM_ARG, json_incref(args))) {
		json_decref(o);
		return RELAY_ENOMEM;
	}
	buf_init(&b, RELAY_BODY_MAX_CEILING);
	err = jsonx_dump(o, &b);
	json_decref(o);
	if (err == RELAY_OK) {
		p->args = json_stringn(b.data, b.len);
		err = p->args != NULL ? RELAY_OK : RELAY_ENOMEM;
	}
	buf_reset(&b);
	return err;
}

/* The text of a function_call_output's output: a string, or the text of
 * its parts. */
static json_t *
rs_output_text(json_t *out, int *oom)
{
	struct buf b;
	json_t *part, *s;
	size_t i;

	*oom = 0;
	if (json_is_string(out))
		return json_incref(out);
	if (!json_is_array(out))
		return NULL;
	buf_init(&b, RELAY_BODY_MAX_CEILING);
	json_array_foreach (out, i, part) {
		s = json_object_get(part, "text");
		if (json_is_string(s) &&
		    buf_append(&b, json_string_value(s),
			json_string_length(s)) != RELAY_OK) {
			*oom = 1;
			break;
		}
	}
	s = *oom ? NULL : json_stringn(b.len > 0 ? b.data : "", b.len);
	*oom |= s == NULL;
	buf_reset(&b);
	return s;
}

static enum relay_err
rs_call_output(json_t *item, struct ir_request *r, size_t ii, char *eb,
    size_t es, const char **param)
{
	json_t *id = json_object_get(item, "call_id"), *sig = NULL;
	struct ir_part *p;
	struct ir_msg *m;
	enum relay_err err;
	int oom;

	if (!json_is_string(id))
		return FAIL("input",
		    "Missing required parameter: 'input[%zu].call_id'.", ii);
	err = rs_msg(r, IR_ROLE_USER, &m);
	if (err == RELAY_OK)
		err = ir_msg_add_part(m, IR_PART_TOOL_RESULT, &p);
	if (err != RELAY_OK)
		return err;
	err = ir_id_split(id, &p->id, &sig);
	json_decref(sig);
	if (err != RELAY_OK)
		return err;
	p->name = ir_str(ir_request_tool_name(r, p->id));
	p->text = rs_output_text(json_object_get(item, "output"), &oom);
	if (oom)
		return RELAY_ENOMEM;
	if (p->text == NULL)
		return FAIL("input",
		    "Invalid type for 'input[%zu].output': expected a string "
		    "or an array of content parts.",
		    ii);
	return RELAY_OK;
}

/* A reasoning item: its summary as thinking text, its encrypted_content
 * as the signature, byte for byte. */
static enum relay_err
rs_reasoning(json_t *item, struct ir_request *r)
{
	json_t *sum = json_object_get(item, "summary"), *s, *enc;
	struct ir_part *p;
	struct ir_msg *m;
	struct buf b;
	enum relay_err err = RELAY_OK;
	size_t i;

	enc = json_object_get(item, "encrypted_content");
	buf_init(&b, RELAY_BODY_MAX_CEILING);
	json_array_foreach (sum, i, s) {
		s = json_object_get(s, "text");
		if (json_is_string(s)) {
			if (b.len > 0)
				err = buf_puts(&b, "\n\n");
			if (err == RELAY_OK)
				err = buf_append(&b, json_string_value(s),
				    json_string_length(s));
		}
	}
	if (err == RELAY_OK && (b.len > 0 || json_is_string(enc))) {
		err = rs_msg(r, IR_ROLE_ASSISTANT, &m);
		if (err == RELAY_OK)
			err = ir_msg_add_part(m, IR_PART_THINKING, &p);
		if (err == RELAY_OK) {
			p->text = json_stringn(b.len > 0 ? b.data : "", b.len);
			p->signature = ir_str(enc);
			if (p->text == NULL)
				err = RELAY_ENOMEM;
		}
	}
	buf_reset(&b);
	return err;
}

/*
 * A reasoning input item, for a translated target (a Responses target is
 * sent the client's body as it is): only the relay's own sealed reasoning
 * of that same provider goes back, restored as the part it was. OpenAI's
 * own encrypted_content, a summary without one, a token that does not
 * open and reasoning sealed for another provider are left out: reasoning
 * of one provider is never sent to another.
 */
static enum relay_err
rs_reasoning_in(json_t *item, struct ir_request *r)
{
	json_t *enc = json_object_get(item, "encrypted_content");
	struct rseal_reasoning rr;
	struct ir_part *p;
	struct ir_msg *m;
	enum relay_err err;

	if (!json_is_string(enc) || r->master == NULL || r->provider == NULL ||
	    !rseal_reasoning_is(
		json_string_value(enc), json_string_length(enc)))
		return RELAY_OK;
	memset(&rr, 0, sizeof(rr));
	err = rseal_reasoning_unwrap(
	    r->master, json_string_value(enc), json_string_length(enc), &rr);
	if (err != RELAY_OK || strcmp(rr.provider, r->provider) != 0) {
		rseal_reasoning_reset(&rr);
		return err == RELAY_ENOMEM ? err : RELAY_OK;
	}
	err = rs_msg(r, IR_ROLE_ASSISTANT, &m);
	if (err == RELAY_OK)
		err = ir_msg_add_part(m,
		    rr.redacted ? IR_PART_REDACTED_THINKING : IR_PART_THINKING,
		    &p);
	if (err == RELAY_OK) {
		p->text = rr.text;
		p->signature = rr.sig;
		p->data = rr.data;
		rr.text = rr.sig = rr.data = NULL;
		if (!rr.redacted && p->text == NULL &&
		    (p->text = json_string("")) == NULL)
			err = RELAY_ENOMEM;
	}
	rseal_reasoning_reset(&rr);
	return err;
}

/*
 * A compaction item, for a translated target: the relay's own (from
 * /v1/responses/compact on such a target) is opened and its summary goes
 * on as a user message. Any other (OpenAI's, or one that no longer opens)
 * can be read only by OpenAI's Responses API: refused, since leaving it
 * out would lose the history it stands for.
 */
static enum relay_err
rs_compaction_in(json_t *item, struct ir_request *r, size_t ii, char *eb,
    size_t es, const char **param)
{
	json_t *enc = json_object_get(item, "encrypted_content"), *text;
	enum relay_err err = RELAY_EINVAL;
	struct ir_msg *m;
	struct buf sum;

	buf_init(&sum, RELAY_BODY_MAX_CEILING);
	if (json_is_string(enc) && r->master != NULL &&
	    rseal_compaction_is(
		json_string_value(enc), json_string_length(enc)))
		err = rseal_compaction_unwrap(r->master, json_string_value(enc),
		    json_string_length(enc), &sum);
	if (err == RELAY_OK) {
		text = json_stringn(sum.data, sum.len);
		err = text == NULL ? RELAY_ENOMEM : rs_msg(r, IR_ROLE_USER, &m);
		if (err == RELAY_OK)
			err = rs_text(m, text);
		json_decref(text);
	} else if (err != RELAY_ENOMEM)
		err = FAIL("input",
		    "Invalid 'input[%zu]': this compaction item was not made "
		    "by this relay for this model's provider (or its master "
		    "key has changed since); only a model served by OpenAI's "
		    "Responses API can read it.",
		    ii);
	buf_reset(&sum);
	return err;
}

static enum relay_err
rs_item(json_t *item, struct ir_request *r, size_t ii, char *eb, size_t es,
    const char **param)
{
	const char *t = str_of(item, "type");

	if (!json_is_object(item))
		return FAIL("input",
		    "Invalid type for 'input[%zu]': expected an object.", ii);
	if (t == NULL || strcmp(t, "message") == 0)
		return rs_message(item, r, ii, eb, es, param);
	if (strcmp(t, "function_call") == 0)
		return rs_call(item, 0, r, ii, eb, es, param);
	if (strcmp(t, "custom_tool_call") == 0)
		return rs_call(item, 1, r, ii, eb, es, param);
	if (strcmp(t, "function_call_output") == 0 ||
	    strcmp(t, "custom_tool_call_output") == 0)
		return rs_call_output(item, r, ii, eb, es, param);
	if (strcmp(t, "reasoning") == 0)
		return rs_reasoning_in(item, r);
	if (strcmp(t, "compaction") == 0)
		return rs_compaction_in(item, r, ii, eb, es, param);
	if (strcmp(t, "item_reference") == 0)
		return FAIL("input",
		    "Invalid 'input[%zu]': item_reference needs stored "
		    "responses, which this model's provider does not keep; "
		    "send the items themselves.",
		    ii);
	return FAIL("input",
	    "Invalid 'input[%zu]': the item type '%.40s' cannot be sent to "
	    "this model's provider.",
	    ii, t);
}

static enum relay_err
rs_input(json_t *input, struct ir_request *r, char *eb, size_t es,
    const char **param)
{
	enum relay_err err = RELAY_OK;
	struct ir_msg *m;
	json_t *item;
	size_t i;

	if (input == NULL || json_is_null(input))
		return FAIL("input", "Missing required parameter: 'input'.");
	if (json_is_string(input)) {
		err = ir_request_add_msg(r, IR_ROLE_USER, &m);
		return err == RELAY_OK ? rs_text(m, input) : err;
	}
	if (!json_is_array(input))
		return FAIL("input",
		    "Invalid type for 'input': expected a string or an array "
		    "of input items, but got %s instead.",
		    type_name(input));
	json_array_foreach (input, i, item) {
		err = rs_item(item, r, i, eb, es, param);
		if (err != RELAY_OK)
			break;
	}
	if (err == RELAY_OK && r->nmsgs == 0)
		return FAIL("input",
		    "Invalid 'input': expected at least one user or "
		    "assistant item.");
	return err;
}

/* A custom tool's one string argument, as a JSON Schema. */
static json_t *
rs_custom_schema(json_t *tool)
{
	json_t *fmt = json_object_get(tool, "format");
	const char *def = str_of(fmt, "definition");
	const char *syn = str_of(fmt, "syntax");
	char desc[160];

	snprintf(desc, sizeof(desc), "%s%s%s",
	    def != NULL ? "Freeform input in the given "
			: "Freeform text input",
	    def != NULL && syn != NULL ? syn : "",
	    def != NULL ? " grammar" : "");
	return json_pack("{s:s,s:{s:{s:s,s:s}},s:[s]}", "type", "object",
	    "properties", RS_CUSTOM_ARG, "type", "string", "description", desc,
	    "required", RS_CUSTOM_ARG);
}

/* One function or custom tool (item, tools[i] or a namespace's j-th). */
static enum relay_err
rs_tool(json_t *item, const char *type, size_t i, struct ir_request *r,
    char *eb, size_t es, const char **param)
{
	struct ir_tool *t;
	enum relay_err err;

	if (!json_is_string(json_object_get(item, "name")))
		return FAIL("tools",
		    "Missing required parameter: 'tools[%zu].name'.", i);
	err = ir_request_add_tool(r, &t);
	if (err != RELAY_OK)
		return err;
	t->name = ir_str(json_object_get(item, "name"));
	t->description = ir_str(json_object_get(item, "description"));
	if (strcmp(type, "custom") == 0) {
		t->freeform = 1;
		t->schema = rs_custom_schema(item);
		return t->schema != NULL ? RELAY_OK : RELAY_ENOMEM;
	}
	t->schema = json_incref(json_object_get(item, "parameters"));
	if (json_is_null(t->schema)) {
		json_decref(t->schema);
		t->schema = NULL;
	}
	if (t->schema != NULL && !json_is_object(t->schema))
		return FAIL("tools",
		    "Invalid type for 'tools[%zu].parameters': expected an "
		    "object.",
		    i);
	return RELAY_OK;
}

static int
rs_tool_type_ok(const char *type)
{
	return type != NULL &&
	    (strcmp(type, "function") == 0 || strcmp(type, "custom") == 0);
}

/*
 * Function and custom tools; a "namespace" (a named group of them, as
 * Codex sends its sub-agent tools) is flattened into its members, their
 * names unchanged. Built-in tools are refused: only OpenAI runs them.
 */
static enum relay_err
rs_tools(json_t *tools, struct ir_request *r, char *eb, size_t es,
    const char **param)
{
	json_t *item, *sub;
	const char *type;
	enum relay_err err = RELAY_OK;
	size_t i, j;

	if (tools == NULL || json_is_null(tools))
		return RELAY_OK;
	if (!json_is_array(tools))
		return FAIL("tools",
		    "Invalid type for 'tools': expected an array, but got %s "
		    "instead.",
		    type_name(tools));
	json_array_foreach (tools, i, item) {
		type = str_of(item, "type");
		if (type != NULL && strcmp(type, "namespace") == 0) {
			json_array_foreach (
			    json_object_get(item, "tools"), j, sub) {
				if (!rs_tool_type_ok(str_of(sub, "type")))
					return FAIL("tools",
					    "Invalid 'tools[%zu].tools[%zu]': "
					    "a namespace may hold only "
					    "function "
					    "and custom tools here.",
					    i, j);
				err = rs_tool(sub, str_of(sub, "type"), i, r,
				    eb, es, param);
				if (err != RELAY_OK)
					return err;
			}
			continue;
		}
		if (!rs_tool_type_ok(type))
			return FAIL("tools",
			    "Invalid 'tools[%zu]': the tool type '%.40s' is "
			    "built into OpenAI's Responses API; this model's "
			    "provider has only function and custom tools "
			    "(Codex: -c web_search=\"disabled\").",
			    i, type != NULL ? type : "?");
		err = rs_tool(item, type, i, r, eb, es, param);
		if (err != RELAY_OK)
			return err;
	}
	return RELAY_OK;
}

static enum relay_err
rs_tool_choice(
    json_t *tc, struct ir_request *r, char *eb, size_t es, const char **param)
{
	const char *s = json_string_value(tc), *t;
	json_t *name;

	if (tc == NULL || json_is_null(tc))
		return RELAY_OK;
	if (s != NULL && strcmp(s, "auto") == 0)
		r->tool_choice = IR_TOOL_CHOICE_AUTO;
	else if (s != NULL && strcmp(s, "none") == 0)
		r->tool_choice = IR_TOOL_CHOICE_NONE;
	else if (s != NULL && strcmp(s, "required") == 0)
		r->tool_choice = IR_TOOL_CHOICE_REQUIRED;
	else if (json_is_object(tc)) {
		t = str_of(tc, "type");
		name = json_object_get(tc, "name");
		if (t == NULL ||
		    (strcmp(t, "function") != 0 && strcmp(t, "custom") != 0) ||
		    !json_is_string(name))
			return FAIL("tool_choice",
			    "Invalid 'tool_choice': this model's provider "
			    "takes 'none', 'auto', 'required' or a named "
			    "function or custom tool.");
		r->tool_choice = IR_TOOL_CHOICE_TOOL;
		r->tool_choice_name = json_incref(name);
	} else
		return FAIL("tool_choice",
		    "Invalid value for 'tool_choice': expected 'none', "
		    "'auto', 'required' or a named tool.");
	return RELAY_OK;
}

/* text.format: text, json_object, or json_schema {name, schema}. */
static enum relay_err
rs_format(
    json_t *text, struct ir_request *r, char *eb, size_t es, const char **param)
{
	json_t *f = json_object_get(text, "format");
	const char *t = str_of(f, "type");

	if (f == NULL || json_is_null(f))
		return RELAY_OK;
	if (t == NULL)
		return FAIL(
		    "text", "Missing required parameter: 'text.format.type'.");
	if (strcmp(t, "json_object") == 0)
		r->format = IR_FORMAT_JSON_OBJECT;
	else if (strcmp(t, "json_schema") == 0) {
		if (!json_is_object(json_object_get(f, "schema")))
			return FAIL("text",
			    "Missing required parameter: "
			    "'text.format.schema'.");
		r->format = IR_FORMAT_JSON_SCHEMA;
		r->format_schema = json_incref(json_object_get(f, "schema"));
		r->format_name = ir_str(json_object_get(f, "name"));
	} else if (strcmp(t, "text") != 0)
		return FAIL("text",
		    "Invalid value: '%.32s'. Supported values are: 'text', "
		    "'json_object', and 'json_schema'.",
		    t);
	return RELAY_OK;
}

static enum relay_err
rs_number(json_t *root, const char *key, json_t **dst, char *eb, size_t es,
    const char **param)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL || json_is_null(v))
		return RELAY_OK;
	if (!json_is_number(v))
		return FAIL(key,
		    "Invalid type for '%s': expected a number, but got %s "
		    "instead.",
		    key, type_name(v));
	*dst = json_incref(v);
	return RELAY_OK;
}

static enum relay_err
rs_scalars(
    json_t *root, struct ir_request *r, char *eb, size_t es, const char **param)
{
	json_t *mt = json_object_get(root, "max_output_tokens");
	json_t *eff =
	    json_object_get(json_object_get(root, "reasoning"), "effort");
	json_t *stream = json_object_get(root, "stream");
	json_t *ptc = json_object_get(root, "parallel_tool_calls");
	const char *e = json_string_value(eff);
	enum relay_err err;

	err = rs_number(root, "temperature", &r->temperature, eb, es, param);
	if (err == RELAY_OK)
		err = rs_number(root, "top_p", &r->top_p, eb, es, param);
	if (err != RELAY_OK)
		return err;
	if (mt != NULL && !json_is_null(mt) && ir_count(mt) < 1)
		return FAIL("max_output_tokens",
		    "Invalid 'max_output_tokens': integer below minimum "
		    "value. Expected a value >= 1.");
	r->max_tokens = mt != NULL && !json_is_null(mt) ? ir_count(mt) : 0;
	if (stream != NULL && !json_is_boolean(stream) && !json_is_null(stream))
		return FAIL(
		    "stream", "Invalid type for 'stream': expected a boolean.");
	r->stream = json_is_true(stream);
	r->include_usage = 1; /* response.completed always carries it */
	r->user = ir_str(json_object_get(root, "user"));
	r->safety_id = ir_str(json_object_get(root, "safety_identifier"));
	r->cache_key = ir_str(json_object_get(root, "prompt_cache_key"));
	if (json_is_boolean(ptc))
		r->parallel_tool_calls = json_is_true(ptc);
	/* "none" and "minimal" ask for no (or next to no) thinking. */
	if (e != NULL && strcmp(e, "none") != 0) {
		r->reasoning_effort = ir_str(eff);
		r->thinking_budget =
		    strcmp(e, "low") == 0 || strcmp(e, "minimal") == 0
		    ? OA_EFFORT_LOW
		    : strcmp(e, "medium") == 0 ? OA_EFFORT_MEDIUM
		    : strcmp(e, "high") == 0 || strcmp(e, "xhigh") == 0
		    ? OA_EFFORT_HIGH
		    : 0;
	}
	return RELAY_OK;
}

/* State the relay does not keep: refused where the target is not
 * OpenAI's own Responses API (a same-dialect call never comes here). */
static enum relay_err
rs_stateless(json_t *root, char *eb, size_t es, const char **param)
{
	json_t *prev = json_object_get(root, "previous_response_id");
	json_t *conv = json_object_get(root, "conversation");

	if (prev != NULL && !json_is_null(prev))
		return FAIL("previous_response_id",
		    "previous_response_id is not supported for this model: "
		    "its provider is not OpenAI's Responses API and the relay "
		    "keeps no conversation state. Send the whole history in "
		    "'input' (with store: false, as Codex does).");
	if (conv != NULL && !json_is_null(conv))
		return FAIL("conversation",
		    "conversation is not supported for this model: its "
		    "provider is not OpenAI's Responses API and the relay "
		    "keeps no conversation state. Send the whole history in "
		    "'input'.");
	return RELAY_OK;
}

enum relay_err
wire_responses_parse_request(struct span body, struct ir_request *r, char *eb,
    size_t es, const char **param)
{
	json_t *root = NULL, *model, *ins;
	enum relay_err err;

	*param = NULL;
	err = jsonx_parse(body.p, body.len, &root, eb, es);
	if (err != RELAY_OK)
		goto out;
	if (!json_is_object(root)) {
		err = FAIL(NULL, "The request body must be a JSON object.");
		goto out;
	}
	model = json_object_get(root, "model");
	if (!json_is_string(model) || json_string_length(model) == 0) {
		err = FAIL("model", "you must provide a model parameter");
		goto out;
	}
	r->model = json_incref(model);
	err = rs_stateless(root, eb, es, param);
	ins = json_object_get(root, "instructions");
	if (err == RELAY_OK && json_is_string(ins) &&
	    json_string_length(ins) > 0)
		err = rs_text(&r->system, ins);
	else if (err == RELAY_OK && ins != NULL && !json_is_null(ins) &&
	    !json_is_string(ins))
		err = FAIL("instructions",
		    "Invalid type for 'instructions': expected a string.");
	if (err == RELAY_OK)
		err =
		    rs_input(json_object_get(root, "input"), r, eb, es, param);
	if (err == RELAY_OK)
		err =
		    rs_tools(json_object_get(root, "tools"), r, eb, es, param);
	if (err == RELAY_OK)
		err = rs_tool_choice(
		    json_object_get(root, "tool_choice"), r, eb, es, param);
	if (err == RELAY_OK)
		err =
		    rs_format(json_object_get(root, "text"), r, eb, es, param);
	if (err == RELAY_OK)
		err = rs_scalars(root, r, eb, es, param);
out:
	json_decref(root);
	return err;
}

/* --- response: emit ---------------------------------------------------- */

static json_t *
rs_new_id(const char *prefix)
{
	char buf[64];

	ir_new_id(buf, sizeof(buf), prefix);
	return json_string(buf);
}

static json_t *
rs_usage_json(const struct ir_usage *u)
{
	long long in = u->input > 0 ? u->input : 0;
	long long out = u->output > 0 ? u->output : 0;

	return json_pack("{s:I,s:{s:I},s:I,s:{s:I},s:I}", "input_tokens",
	    (json_int_t)in, "input_tokens_details", "cached_tokens",
	    (json_int_t)(u->cache_read > 0 ? u->cache_read : 0),
	    "output_tokens", (json_int_t)out, "output_tokens_details",
	    "reasoning_tokens",
	    (json_int_t)(u->reasoning > 0 ? u->reasoning : 0), "total_tokens",
	    (json_int_t)(in + out));
}

static json_t *
rs_text_part(json_t *text)
{
	return json_pack("{s:s,s:o,s:[],s:[]}", "type", "output_text", "text",
	    text, "annotations", "logprobs");
}

/* A message item with one output_text part (text consumed). */
static json_t *
rs_message_item(json_t *id, json_t *text, const char *status)
{
	json_t *content =
	    text != NULL ? json_pack("[o]", rs_text_part(text)) : json_array();

	return json_pack("{s:o,s:s,s:s,s:s,s:o}", "id", id, "type", "message",
	    "status", status, "role", "assistant", "content", content);
}

/* A reasoning item: the thinking as its summary, the signature as its
 * encrypted_content (both consumed; text NULL: no summary yet). */
static json_t *
rs_reasoning_item(json_t *id, json_t *text, json_t *sig)
{
	json_t *sum = json_array(), *o;

	if (text != NULL && json_string_length(text) > 0)
		ir_push(sum,
		    json_pack(
			"{s:s,s:O}", "type", "summary_text", "text", text));
	json_decref(text);
	o = json_pack(
	    "{s:o,s:s,s:o}", "id", id, "type", "reasoning", "summary", sum);
	if (sig != NULL)
		ir_set(o, "encrypted_content", sig);
	return o;
}

/* The input of a custom tool's call: the one argument's string, or the
 * arguments as they came when the model sent something else. */
static json_t *
rs_custom_input(const char *args, size_t n)
{
	json_t *root = NULL, *v;
	char jerr[64];

	if (jsonx_parse(args, n, &root, jerr, sizeof(jerr)) == RELAY_OK &&
	    json_is_string(v = json_object_get(root, RS_CUSTOM_ARG))) {
		json_incref(v);
		json_decref(root);
		return v;
	}
	json_decref(root);
	return json_stringn(n > 0 ? args : "", n);
}

/* function_call or custom_tool_call (call_id, name consumed). */
static json_t *
rs_call_item(json_t *call_id, json_t *name, const char *args, size_t n,
    const char *custom, const char *status)
{
	int is_custom = name != NULL &&
	    wire_responses_is_custom(
		custom, json_string_value(name), json_string_length(name));

	if (is_custom)
		return json_pack("{s:o,s:s,s:s,s:o,s:o,s:o}", "id",
		    rs_new_id("ctc_"), "type", "custom_tool_call", "status",
		    status, "call_id", call_id, "name", name, "input",
		    rs_custom_input(args, n));
	return json_pack("{s:o,s:s,s:s,s:o,s:o,s:s%}", "id", rs_new_id("fc_"),
	    "type", "function_call", "status", status, "call_id", call_id,
	    "name", name, "arguments", n > 0 ? args : "", n);
}

static const char *
rs_status(enum ir_finish f)
{
	return f == IR_FINISH_LENGTH || f == IR_FINISH_CONTENT_FILTER
	    ? "incomplete"
	    : "completed";
}

/* The response object (items consumed; usage NULL: null). */
static json_t *
rs_response_json(const char *id, const char *model, long long created,
    const char *status, json_t *items, const struct ir_usage *u,
    enum ir_finish f)
{
	json_t *o = json_object();
	int bad = 0;

	bad |= ir_set(o, "id", json_string(id));
	bad |= ir_set(o, "object", json_string("response"));
	bad |= ir_set(o, "created_at", json_integer(created));
	bad |= ir_set(o, "status", json_string(status));
	bad |= ir_set(o, "error", json_null());
	bad |= ir_set(o, "incomplete_details",
	    strcmp(status, "incomplete") != 0
		? json_null()
		: json_pack("{s:s}", "reason",
		      f == IR_FINISH_LENGTH ? "max_output_tokens"
					    : "content_filter"));
	bad |= ir_set(o, "instructions", json_null());
	bad |= ir_set(o, "max_output_tokens", json_null());
	bad |= ir_set(o, "model", json_string(model));
	bad |= ir_set(o, "output", items);
	bad |= ir_set(o, "parallel_tool_calls", json_true());
	bad |= ir_set(o, "previous_response_id", json_null());
	bad |=
	    ir_set(o, "reasoning", json_pack("{s:n,s:n}", "effort", "summary"));
	bad |= ir_set(o, "store", json_false());
	bad |= ir_set(o, "temperature", json_null());
	bad |=
	    ir_set(o, "text", json_pack("{s:{s:s}}", "format", "type", "text"));
	bad |= ir_set(o, "tool_choice", json_string("auto"));
	bad |= ir_set(o, "tools", json_array());
	bad |= ir_set(o, "top_p", json_null());
	bad |= ir_set(o, "truncation", json_string("disabled"));
	bad |= ir_set(o, "usage", u != NULL ? rs_usage_json(u) : json_null());
	bad |= ir_set(o, "metadata", json_object());
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The IR parts as output items: text, thinking, tool calls (images,
 * results and redacted thinking have no Responses output form). */
static json_t *
rs_items_json(const struct ir_msg *m, const char *custom)
{
	json_t *items = json_array();
	const struct ir_part *p;
	size_t i;
	int bad = items == NULL;

	for (i = 0; i < m->nparts && !bad; i++) {
		p = &m->parts[i];
		switch (p->type) {
		case IR_PART_TEXT:
			bad |= ir_push(items,
			    rs_message_item(rs_new_id("msg_"),
				json_incref(p->text), "completed"));
			break;
		case IR_PART_THINKING:
			bad |= ir_push(items,
			    rs_reasoning_item(rs_new_id("rs_"),
				json_incref(p->text),
				json_incref(p->signature)));
			break;
		case IR_PART_TOOL_CALL:
			bad |= ir_push(items,
			    rs_call_item(p->signature != NULL
				    ? ir_id_join(p->id, p->signature)
				    : p->id != NULL ? json_incref(p->id)
						    : rs_new_id("call_"),
				json_incref(p->name),
				p->args != NULL ? json_string_value(p->args)
						: "",
				p->args != NULL ? json_string_length(p->args)
						: 0,
				custom, "completed"));
			break;
		default: break;
		}
	}
	if (bad) {
		json_decref(items);
		return NULL;
	}
	return items;
}

enum relay_err
wire_responses_emit_response_custom(
    const struct ir_response *r, const char *custom, struct buf *out)
{
	json_t *items = rs_items_json(&r->msg, custom), *o;
	char id[64];
	enum relay_err err;

	ir_new_id(id, sizeof(id), "resp_");
	o = items == NULL
	    ? NULL
	    : rs_response_json(id,
		  r->model != NULL ? json_string_value(r->model) : "",
		  r->created > 0 ? r->created : (long long)time(NULL),
		  rs_status(r->finish), items, &r->usage, r->finish);
	err = o != NULL ? jsonx_dump(o, out) : RELAY_ENOMEM;
	json_decref(o);
	return err;
}

enum relay_err
wire_responses_emit_response(const struct ir_response *r, struct buf *out)
{
	return wire_responses_emit_response_custom(r, NULL, out);
}

enum relay_err
wire_responses_compaction(json_t *input, const char *token, size_t n,
    const struct ir_usage *u, struct buf *out)
{
	json_t *items = json_array(), *o = NULL, *it;
	const char *role;
	enum relay_err err;
	size_t i;
	int bad = items == NULL;

	if (!bad && json_is_string(input))
		bad |= ir_push(items,
		    json_pack("{s:s,s:s,s:O}", "type", "message", "role",
			"user", "content", input));
	json_array_foreach (json_is_array(input) ? input : NULL, i, it) {
		role = str_of(it, "role");
		if (!bad && role != NULL && strcmp(role, "user") == 0 &&
		    (str_of(it, "type") == NULL ||
			strcmp(str_of(it, "type"), "message") == 0))
			bad |= ir_push(items, json_incref(it));
	}
	if (!bad)
		bad |= ir_push(items,
		    json_pack("{s:o,s:s,s:s%}", "id", rs_new_id("cmp_"), "type",
			"compaction", "encrypted_content", token, n));
	if (!bad) {
		o = json_pack("{s:o,s:s,s:I,s:o,s:o}", "id", rs_new_id("resp_"),
		    "object", "response.compaction", "created_at",
		    (json_int_t)time(NULL), "output", items, "usage",
		    rs_usage_json(u));
		items = NULL;
	}
	json_decref(items);
	err = o != NULL ? jsonx_dump(o, out) : RELAY_ENOMEM;
	json_decref(o);
	return err;
}

/* --- errors ----------------------------------------------------------- */

static const char *
rs_type(int status)
{
	if (status == 401)
		return "authentication_error";
	if (status == 403)
		return "permission_error";
	if (status == 404)
		return "not_found_error";
	if (status == 429)
		return "rate_limit_error";
	if (status >= 500)
		return "server_error";
	return "invalid_request_error";
}

json_t *
wire_responses_error(int status, const char *type, const char *msg, size_t mlen)
{
	json_t *e = json_object(), *o = json_object();
	int bad = 0;

	bad |= ir_set(e, "message", json_stringn(msg, mlen));
	bad |= ir_set(e, "type", json_string(rs_type(status)));
	bad |= ir_set(e, "param", json_null());
	bad |=
	    ir_set(e, "code", type != NULL ? json_string(type) : json_null());
	bad |= ir_set(o, "error", e);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The error code Codex acts on for an upstream error of status and
 * provider type (it reads rate_limit_exceeded with "try again in",
 * insufficient_quota, context_length_exceeded). */
static const char *
rs_code(int status, const char *type)
{
	if (type != NULL &&
	    (strcmp(type, "insufficient_quota") == 0 ||
		strcmp(type, "context_length_exceeded") == 0 ||
		strcmp(type, "rate_limit_exceeded") == 0))
		return type;
	if (status == 429)
		return "rate_limit_exceeded";
	if (status >= 500 || status <= 0)
		return "server_error";
	return type != NULL && type[0] != '\0' ? type : rs_type(status);
}

json_t *
wire_responses_error_event(
    int status, const char *type, const char *msg, size_t mlen)
{
	char id[64];
	json_t *r;

	ir_new_id(id, sizeof(id), "resp_");
	r = rs_response_json(
	    id, "", (long long)time(NULL), "failed", json_array(), NULL, 0);
	if (r != NULL &&
	    ir_set(r, "error",
		json_pack("{s:s,s:s%}", "code", rs_code(status, type),
		    "message", msg, mlen))) {
		json_decref(r);
		return NULL;
	}
	return json_pack("{s:s,s:i,s:o}", "type", "response.failed",
	    "sequence_number", 0, "response", r);
}

/* --- stream: encode ---------------------------------------------------- */

/* One event: o (consumed) gets its type and sequence_number. */
static enum relay_err
rs_event(struct ir_enc *e, const char *type, json_t *o, struct buf *out)
{
	enum relay_err err;
	int bad = o == NULL;

	bad |= ir_set(o, "type", json_string(type));
	bad |= ir_set(o, "sequence_number", json_integer(e->seq));
	err = bad ? RELAY_ENOMEM : ir_sse(out, type, o, "\n\n");
	if (err == RELAY_OK)
		e->seq++;
	json_decref(o);
	return err;
}

static enum relay_err
rs_enc_start(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	json_t *items = json_array();
	enum relay_err err;

	/* Our own id: the upstream's (chatcmpl-, msg_...) is not one. */
	ir_new_id(e->id, sizeof(e->id), "resp_");
	ir_copy_span(e->model, sizeof(e->model), ev->model);
	if (ev->created > 0)
		e->created = ev->created;
	e->started = 1;
	e->items = json_array();
	if (e->items == NULL || items == NULL) {
		json_decref(items);
		return RELAY_ENOMEM;
	}
	err = rs_event(e, "response.created",
	    json_pack("{s:o}", "response",
		rs_response_json(e->id, e->model, e->created, "in_progress",
		    json_incref(items), NULL, IR_FINISH_NONE)),
	    out);
	if (err == RELAY_OK)
		err = rs_event(e, "response.in_progress",
		    json_pack("{s:o}", "response",
			rs_response_json(e->id, e->model, e->created,
			    "in_progress", json_incref(items), NULL,
			    IR_FINISH_NONE)),
		    out);
	json_decref(items);
	return err;
}

static size_t
rs_out_index(const struct ir_enc *e)
{
	return json_array_size(e->items);
}

static int
rs_open_custom(const struct ir_enc *e)
{
	return e->tool_name != NULL &&
	    wire_responses_is_custom(e->custom, json_string_value(e->tool_name),
		json_string_length(e->tool_name));
}

/* The open item as it stands (status in_progress or completed). */
static json_t *
rs_open_item(struct ir_enc *e, const char *status)
{
	json_t *text;
	int done = strcmp(status, "completed") == 0;

	switch (e->item_kind) {
	case IR_PART_TEXT:
		text = done ? json_stringn(
				  e->acc.len > 0 ? e->acc.data : "", e->acc.len)
			    : NULL;
		return rs_message_item(json_string(e->item_id), text, status);
	case IR_PART_THINKING:
		return rs_reasoning_item(json_string(e->item_id),
		    done ? json_stringn(
			       e->acc.len > 0 ? e->acc.data : "", e->acc.len)
			 : NULL,
		    done && e->args.len > 0
			? json_stringn(e->args.data, e->args.len)
			: NULL);
	case IR_PART_TOOL_CALL: {
		json_t *o = rs_call_item(json_incref(e->tool_id),
		    json_incref(e->tool_name), done ? e->acc.data : "",
		    done ? e->acc.len : 0, e->custom, status);

		ir_set(o, "id", json_string(e->item_id));
		return o;
	}
	default: return NULL;
	}
}

static enum relay_err
rs_enc_block_start(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	size_t oi = rs_out_index(e);
	enum relay_err err;
	char buf[64];
	json_t *id;

	if (ev->part != IR_PART_TEXT && ev->part != IR_PART_THINKING &&
	    ev->part != IR_PART_TOOL_CALL)
		return RELAY_OK;
	e->item_kind = (int)ev->part;
	e->item_block = ev->index;
	buf_clear(&e->acc);
	buf_clear(&e->args);
	ir_new_id(e->item_id, sizeof(e->item_id),
	    ev->part == IR_PART_TEXT           ? "msg_"
		: ev->part == IR_PART_THINKING ? "rs_"
					       : "fc_");
	if (ev->part == IR_PART_TOOL_CALL) {
		json_decref(e->tool_id);
		json_decref(e->tool_name);
		if (ev->id.len == 0)
			ir_new_id(buf, sizeof(buf), "call_");
		id = ev->id.len > 0 ? ir_span_json(ev->id) : json_string(buf);
		if (id != NULL && ev->signature.len > 0) {
			json_t *sig = ir_span_json(ev->signature);

			e->tool_id = ir_id_join(id, sig);
			json_decref(sig);
			json_decref(id);
		} else
			e->tool_id = id;
		e->tool_name = ir_span_json(ev->name);
		if (e->tool_id == NULL || e->tool_name == NULL)
			return RELAY_ENOMEM;
		if (rs_open_custom(e))
			ir_new_id(e->item_id, sizeof(e->item_id), "ctc_");
	}
	err = rs_event(e, "response.output_item.added",
	    json_pack("{s:I,s:o}", "output_index", (json_int_t)oi, "item",
		rs_open_item(e, "in_progress")),
	    out);
	if (err == RELAY_OK && ev->part == IR_PART_TEXT)
		err = rs_event(e, "response.content_part.added",
		    json_pack("{s:s,s:I,s:i,s:o}", "item_id", e->item_id,
			"output_index", (json_int_t)oi, "content_index", 0,
			"part", rs_text_part(json_string(""))),
		    out);
	if (err == RELAY_OK && ev->part == IR_PART_THINKING)
		err = rs_event(e, "response.reasoning_summary_part.added",
		    json_pack("{s:s,s:I,s:i,s:{s:s,s:s}}", "item_id",
			e->item_id, "output_index", (json_int_t)oi,
			"summary_index", 0, "part", "type", "summary_text",
			"text", ""),
		    out);
	return err;
}

static enum relay_err
rs_enc_delta(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	size_t oi = rs_out_index(e);
	enum relay_err err;

	if (e->item_kind < 0 || ev->index != e->item_block)
		return RELAY_OK; /* a block with no item, or stopped */
	if (ev->delta == IR_DELTA_SIGNATURE)
		return buf_append(&e->args, ev->text.p, ev->text.len);
	err = buf_append(&e->acc, ev->text.p, ev->text.len);
	if (err != RELAY_OK || ev->text.len == 0)
		return err;
	switch (ev->delta) {
	case IR_DELTA_TEXT:
		return rs_event(e, "response.output_text.delta",
		    json_pack("{s:s,s:I,s:i,s:s%,s:[]}", "item_id", e->item_id,
			"output_index", (json_int_t)oi, "content_index", 0,
			"delta", ev->text.p, ev->text.len, "logprobs"),
		    out);
	case IR_DELTA_THINKING:
		return rs_event(e, "response.reasoning_summary_text.delta",
		    json_pack("{s:s,s:I,s:i,s:s%}", "item_id", e->item_id,
			"output_index", (json_int_t)oi, "summary_index", 0,
			"delta", ev->text.p, ev->text.len),
		    out);
	case IR_DELTA_ARGS:
		/* A custom tool's input is told whole at the end: its
		 * deltas are the one argument's JSON, not the input. */
		if (rs_open_custom(e))
			return RELAY_OK;
		return rs_event(e, "response.function_call_arguments.delta",
		    json_pack("{s:s,s:I,s:s%}", "item_id", e->item_id,
			"output_index", (json_int_t)oi, "delta", ev->text.p,
			ev->text.len),
		    out);
	default: return RELAY_OK;
	}
}

static enum relay_err
rs_enc_text_done(struct ir_enc *e, size_t oi, struct buf *out)
{
	enum relay_err err;

	err = rs_event(e, "response.output_text.done",
	    json_pack("{s:s,s:I,s:i,s:s%,s:[]}", "item_id", e->item_id,
		"output_index", (json_int_t)oi, "content_index", 0, "text",
		e->acc.len > 0 ? e->acc.data : "", e->acc.len, "logprobs"),
	    out);
	if (err == RELAY_OK)
		err = rs_event(e, "response.content_part.done",
		    json_pack("{s:s,s:I,s:i,s:o}", "item_id", e->item_id,
			"output_index", (json_int_t)oi, "content_index", 0,
			"part",
			rs_text_part(json_stringn(
			    e->acc.len > 0 ? e->acc.data : "", e->acc.len))),
		    out);
	return err;
}

static enum relay_err
rs_enc_thinking_done(struct ir_enc *e, size_t oi, struct buf *out)
{
	const char *t = e->acc.len > 0 ? e->acc.data : "";
	enum relay_err err;

	err = rs_event(e, "response.reasoning_summary_text.done",
	    json_pack("{s:s,s:I,s:i,s:s%}", "item_id", e->item_id,
		"output_index", (json_int_t)oi, "summary_index", 0, "text", t,
		e->acc.len),
	    out);
	if (err == RELAY_OK)
		err = rs_event(e, "response.reasoning_summary_part.done",
		    json_pack("{s:s,s:I,s:i,s:{s:s,s:s%}}", "item_id",
			e->item_id, "output_index", (json_int_t)oi,
			"summary_index", 0, "part", "type", "summary_text",
			"text", t, e->acc.len),
		    out);
	return err;
}

static enum relay_err
rs_enc_call_done(struct ir_enc *e, size_t oi, json_t *item, struct buf *out)
{
	json_t *input;
	enum relay_err err;

	if (!rs_open_custom(e))
		return rs_event(e, "response.function_call_arguments.done",
		    json_pack("{s:s,s:I,s:O,s:s%}", "item_id", e->item_id,
			"output_index", (json_int_t)oi, "name", e->tool_name,
			"arguments", e->acc.len > 0 ? e->acc.data : "",
			e->acc.len),
		    out);
	input = json_object_get(item, "input");
	err = json_string_length(input) == 0
	    ? RELAY_OK
	    : rs_event(e, "response.custom_tool_call_input.delta",
		  json_pack("{s:s,s:I,s:O}", "item_id", e->item_id,
		      "output_index", (json_int_t)oi, "delta", input),
		  out);
	if (err == RELAY_OK)
		err = rs_event(e, "response.custom_tool_call_input.done",
		    json_pack("{s:s,s:I,s:o}", "item_id", e->item_id,
			"output_index", (json_int_t)oi, "input",
			input != NULL ? json_incref(input) : json_string("")),
		    out);
	return err;
}

static enum relay_err
rs_enc_block_stop(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	size_t oi = rs_out_index(e);
	json_t *item;
	enum relay_err err = RELAY_OK;

	if (e->item_kind < 0 || ev->index != e->item_block)
		return RELAY_OK;
	item = rs_open_item(e, "completed");
	if (item == NULL)
		return RELAY_ENOMEM;
	if (e->item_kind == IR_PART_TEXT)
		err = rs_enc_text_done(e, oi, out);
	else if (e->item_kind == IR_PART_THINKING)
		err = rs_enc_thinking_done(e, oi, out);
	else
		err = rs_enc_call_done(e, oi, item, out);
	if (err == RELAY_OK)
		err = rs_event(e, "response.output_item.done",
		    json_pack("{s:I,s:O}", "output_index", (json_int_t)oi,
			"item", item),
		    out);
	if (err == RELAY_OK && ir_push(e->items, json_incref(item)))
		err = RELAY_ENOMEM;
	json_decref(item);
	if (err == RELAY_OK)
		e->item_kind = -1;
	return err;
}

static enum relay_err
rs_enc_end(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	const char *status = rs_status(ev->finish);

	e->done = 1;
	return rs_event(e,
	    strcmp(status, "completed") == 0 ? "response.completed"
					     : "response.incomplete",
	    json_pack("{s:o}", "response",
		rs_response_json(e->id, e->model, e->created, status,
		    json_incref(e->items), ev->usage, ev->finish)),
	    out);
}

/* response.failed, with the error code Codex reads. */
static enum relay_err
rs_enc_error(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	char type[64] = "";
	json_t *r;

	ir_copy_span(type, sizeof(type), ev->name);
	if (!e->started) {
		ir_new_id(e->id, sizeof(e->id), "resp_");
		e->started = 1;
	}
	r = rs_response_json(e->id, e->model, e->created, "failed",
	    e->items != NULL ? json_incref(e->items) : json_array(), ev->usage,
	    IR_FINISH_NONE);
	if (r != NULL &&
	    ir_set(r, "error",
		json_pack("{s:s,s:s%}", "code",
		    rs_code(ev->status, type[0] != '\0' ? type : NULL),
		    "message", ev->text.len > 0 ? ev->text.p : "",
		    ev->text.len))) {
		json_decref(r);
		r = NULL;
	}
	e->done = 1;
	return rs_event(
	    e, "response.failed", json_pack("{s:o}", "response", r), out);
}

enum relay_err
wire_responses_encode(
    struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	switch (ev->kind) {
	case IR_SEV_START: return rs_enc_start(e, ev, out);
	case IR_SEV_BLOCK_START: return rs_enc_block_start(e, ev, out);
	case IR_SEV_DELTA: return rs_enc_delta(e, ev, out);
	case IR_SEV_BLOCK_STOP: return rs_enc_block_stop(e, ev, out);
	case IR_SEV_END: return rs_enc_end(e, ev, out);
	case IR_SEV_ERROR: return rs_enc_error(e, ev, out);
	case IR_SEV__MAX: break;
	}
	return RELAY_OK;
}

/* --- request: emit (a Responses API provider) -------------------------- */

static json_t *
rs_input_image(const struct ir_part *p)
{
	char *u;
	size_t n;
	json_t *o;

	if (p->url != NULL)
		return json_pack("{s:s,s:O,s:s}", "type", "input_image",
		    "image_url", p->url, "detail", "auto");
	if (p->media_type == NULL || p->data == NULL)
		return NULL;
	n = 5 + json_string_length(p->media_type) + 8 +
	    json_string_length(p->data);
	u = mem_malloc(n + 1);
	if (u == NULL)
		return NULL;
	snprintf(u, n + 1, "data:%s;base64,%s",
	    json_string_value(p->media_type), json_string_value(p->data));
	o = json_pack("{s:s,s:s%,s:s}", "type", "input_image", "image_url", u,
	    n, "detail", "auto");
	mem_free(u);
	return o;
}

/* A message item of role with the text content part c (consumed). */
static json_t *
rs_msg_json(const char *role, json_t *c)
{
	return json_pack(
	    "{s:s,s:s,s:[o]}", "type", "message", "role", role, "content", c);
}

static int
rs_user_items(const struct ir_msg *m, json_t *items)
{
	const struct ir_part *p;
	size_t i;
	int bad = 0;

	for (i = 0; i < m->nparts && !bad; i++) {
		p = &m->parts[i];
		if (p->type == IR_PART_TEXT)
			bad |= ir_push(items,
			    rs_msg_json("user",
				json_pack("{s:s,s:O}", "type", "input_text",
				    "text", p->text)));
		else if (p->type == IR_PART_IMAGE)
			bad |= ir_push(
			    items, rs_msg_json("user", rs_input_image(p)));
		else if (p->type == IR_PART_TOOL_RESULT)
			bad |= ir_push(items,
			    json_pack("{s:s,s:O,s:o}", "type",
				"function_call_output", "call_id", p->id,
				"output",
				p->text != NULL ? json_incref(p->text)
						: json_string("")));
	}
	return bad;
}

static int
rs_assistant_items(const struct ir_msg *m, json_t *items)
{
	const struct ir_part *p;
	json_t *o;
	size_t i;
	int bad = 0;

	for (i = 0; i < m->nparts && !bad; i++) {
		p = &m->parts[i];
		switch (p->type) {
		case IR_PART_TEXT:
			bad |= ir_push(items,
			    rs_msg_json("assistant",
				json_pack("{s:s,s:O,s:[]}", "type",
				    "output_text", "text", p->text,
				    "annotations")));
			break;
		case IR_PART_TOOL_CALL:
			bad |= ir_push(items,
			    json_pack("{s:s,s:O,s:O,s:o}", "type",
				"function_call", "call_id", p->id, "name",
				p->name, "arguments",
				p->args != NULL ? json_incref(p->args)
						: json_string("{}")));
			break;
		case IR_PART_THINKING:
			/* Only an encrypted_content can go back. */
			if (p->signature == NULL)
				break;
			o = json_pack("{s:s,s:[],s:O}", "type", "reasoning",
			    "summary", "encrypted_content", p->signature);
			if (o != NULL && json_string_length(p->text) > 0)
				bad |= ir_push(json_object_get(o, "summary"),
				    json_pack("{s:s,s:O}", "type",
					"summary_text", "text", p->text));
			bad |= ir_push(items, o);
			break;
		default: break;
		}
	}
	return bad;
}

static json_t *
rs_tools_json(const struct ir_request *r)
{
	json_t *a = json_array(), *t;
	size_t i;

	for (i = 0; i < r->ntools && a != NULL; i++) {
		t = json_pack(
		    "{s:s,s:O}", "type", "function", "name", r->tools[i].name);
		if (r->tools[i].description != NULL)
			ir_set(t, "description",
			    json_incref(r->tools[i].description));
		ir_set(t, "parameters",
		    r->tools[i].schema != NULL ? json_incref(r->tools[i].schema)
					       : json_pack("{s:s,s:{}}", "type",
						     "object", "properties"));
		if (t == NULL || ir_push(a, t)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
rs_choice_json(const struct ir_request *r)
{
	switch (r->tool_choice) {
	case IR_TOOL_CHOICE_AUTO: return json_string("auto");
	case IR_TOOL_CHOICE_NONE: return json_string("none");
	case IR_TOOL_CHOICE_REQUIRED: return json_string("required");
	case IR_TOOL_CHOICE_TOOL:
		return json_pack("{s:s,s:O}", "type", "function", "name",
		    r->tool_choice_name);
	default: return NULL;
	}
}

static const char *
rs_effort(const struct ir_request *r)
{
	const char *e = json_string_value(r->reasoning_effort);

	if (e != NULL)
		return e;
	if (r->thinking_budget <= 0)
		return NULL;
	return r->thinking_budget <= OA_EFFORT_LOW   ? "low"
	    : r->thinking_budget <= OA_EFFORT_MEDIUM ? "medium"
						     : "high";
}

static int
rs_emit_options(const struct ir_request *r, json_t *o)
{
	const char *e = rs_effort(r);
	json_t *f;
	int bad = 0;

	if (r->ntools > 0) {
		bad |= ir_set(o, "tools", rs_tools_json(r));
		if (r->tool_choice != IR_TOOL_CHOICE_UNSET)
			bad |= ir_set(o, "tool_choice", rs_choice_json(r));
	}
	if (r->parallel_tool_calls >= 0)
		bad |= ir_set(o, "parallel_tool_calls",
		    json_boolean(r->parallel_tool_calls));
	if (r->format == IR_FORMAT_JSON_OBJECT)
		bad |= ir_set(o, "text",
		    json_pack("{s:{s:s}}", "format", "type", "json_object"));
	else if (r->format == IR_FORMAT_JSON_SCHEMA) {
		f = json_pack("{s:s,s:o,s:O}", "type", "json_schema", "name",
		    r->format_name != NULL ? json_incref(r->format_name)
					   : json_string("response"),
		    "schema", r->format_schema);
		bad |= ir_set(o, "text", json_pack("{s:o}", "format", f));
	}
	if (e != NULL) {
		bad |= ir_set(o, "reasoning",
		    json_pack("{s:s,s:s}", "effort", e, "summary", "auto"));
		bad |= ir_set(o, "include",
		    json_pack("[s]", "reasoning.encrypted_content"));
	}
	if (r->max_tokens > 0)
		bad |= ir_set(o, "max_output_tokens",
		    json_integer(r->max_tokens < RELAY_RS_MAX_OUTPUT_MIN
			    ? RELAY_RS_MAX_OUTPUT_MIN
			    : r->max_tokens));
	if (r->temperature != NULL)
		bad |= ir_set(o, "temperature", json_incref(r->temperature));
	if (r->top_p != NULL)
		bad |= ir_set(o, "top_p", json_incref(r->top_p));
	if (r->stream)
		bad |= ir_set(o, "stream", json_true());
	if (r->user != NULL)
		bad |= ir_set(o, "user", json_incref(r->user));
	if (r->safety_id != NULL)
		bad |=
		    ir_set(o, "safety_identifier", json_incref(r->safety_id));
	if (r->cache_key != NULL)
		bad |= ir_set(o, "prompt_cache_key", json_incref(r->cache_key));
	/* The relay keeps no state; neither need the provider. */
	bad |= ir_set(o, "store", json_false());
	return bad;
}

enum relay_err
wire_responses_emit_request(const struct ir_request *r, const char *model,
    struct buf *out, char *eb, size_t es, const char **param)
{
	json_t *o, *items, *sys;
	enum relay_err err;
	size_t i;
	int bad = 0, oom = 0;

	*param = NULL;
	if (json_array_size(r->stop) > 0)
		return FAIL("stop",
		    "Stop sequences cannot be sent to this model: OpenAI's "
		    "Responses API has none.");
	o = json_object();
	items = json_array();
	bad |= ir_set(o, "model", json_string(model));
	sys = ir_msg_text(&r->system, IR_PART_TEXT, "\n\n", &oom);
	bad |= oom;
	if (sys != NULL)
		bad |= ir_set(o, "instructions", sys);
	for (i = 0; i < r->nmsgs && !bad && items != NULL; i++)
		bad |= r->msgs[i].role == IR_ROLE_USER
		    ? rs_user_items(&r->msgs[i], items)
		    : rs_assistant_items(&r->msgs[i], items);
	bad |= ir_set(o, "input", items);
	bad |= rs_emit_options(r, o);
	err = bad ? RELAY_ENOMEM : jsonx_dump(o, out);
	json_decref(o);
	return err;
}

/* --- response: parse ---------------------------------------------------- */

static void
rs_usage(json_t *u, struct ir_usage *out)
{
	if (!json_is_object(u))
		return;
	out->input = ir_count(json_object_get(u, "input_tokens"));
	out->output = ir_count(json_object_get(u, "output_tokens"));
	out->cache_read = ir_count(json_object_get(
	    json_object_get(u, "input_tokens_details"), "cached_tokens"));
	out->reasoning = ir_count(json_object_get(
	    json_object_get(u, "output_tokens_details"), "reasoning_tokens"));
}

static enum ir_finish
rs_finish(json_t *resp, int saw_tool)
{
	const char *st = str_of(resp, "status");
	const char *why =
	    str_of(json_object_get(resp, "incomplete_details"), "reason");

	if (st != NULL && strcmp(st, "incomplete") == 0)
		return why != NULL && strcmp(why, "content_filter") == 0
		    ? IR_FINISH_CONTENT_FILTER
		    : IR_FINISH_LENGTH;
	return saw_tool ? IR_FINISH_TOOL_CALLS : IR_FINISH_STOP;
}

/* The arguments a custom tool call's input travels in (new string). */
static json_t *
rs_custom_args(json_t *input)
{
	json_t *o = json_object();
	struct buf b;
	json_t *s = NULL;

	buf_init(&b, RELAY_BODY_MAX_CEILING);
	if (!ir_set(o, RS_CUSTOM_ARG, json_incref(input)) &&
	    jsonx_dump(o, &b) == RELAY_OK)
		s = json_stringn(b.data, b.len);
	buf_reset(&b);
	json_decref(o);
	return s;
}

static enum relay_err
rs_resp_item(json_t *item, struct ir_msg *m, int *saw_tool)
{
	const char *t = str_of(item, "type");
	json_t *c, *v, *sig = NULL;
	struct ir_part *p;
	enum relay_err err = RELAY_OK;
	size_t i;

	if (t == NULL)
		return RELAY_OK;
	if (strcmp(t, "message") == 0) {
		json_array_foreach (json_object_get(item, "content"), i, c) {
			v = json_object_get(c, "text");
			if (!json_is_string(v))
				v = json_object_get(c, "refusal");
			if (json_is_string(v))
				err = rs_text(m, v);
			if (err != RELAY_OK)
				return err;
		}
		return RELAY_OK;
	}
	if (strcmp(t, "function_call") == 0 ||
	    strcmp(t, "custom_tool_call") == 0) {
		err = ir_msg_add_part(m, IR_PART_TOOL_CALL, &p);
		if (err != RELAY_OK)
			return err;
		*saw_tool = 1;
		p->id = ir_str(json_object_get(item, "call_id"));
		p->name = ir_str(json_object_get(item, "name"));
		p->args = t[0] == 'f'
		    ? ir_str(json_object_get(item, "arguments"))
		    : rs_custom_args(json_object_get(item, "input"));
		return p->args != NULL || t[0] == 'f' ? RELAY_OK : RELAY_ENOMEM;
	}
	if (strcmp(t, "reasoning") == 0) {
		struct ir_request tmp;

		/* The same reading as a reasoning input item. */
		ir_request_init(&tmp);
		err = rs_reasoning(item, &tmp);
		if (err == RELAY_OK && tmp.nmsgs == 1 &&
		    tmp.msgs[0].nparts == 1) {
			err = ir_msg_add_part(m, IR_PART_THINKING, &p);
			if (err == RELAY_OK) {
				*p = tmp.msgs[0].parts[0];
				memset(&tmp.msgs[0].parts[0], 0,
				    sizeof(tmp.msgs[0].parts[0]));
			}
		}
		ir_request_reset(&tmp);
	}
	(void)sig;
	return err;
}

enum relay_err
wire_responses_parse_response(
    struct span body, struct ir_response *r, char *eb, size_t es)
{
	json_t *root = NULL, *out, *item;
	enum relay_err err;
	size_t i;
	int saw_tool = 0;

	err = jsonx_parse(body.p, body.len, &root, eb, es);
	if (err != RELAY_OK)
		return err == RELAY_ENOMEM ? err : RELAY_EPROTO;
	out = json_object_get(root, "output");
	if (!json_is_object(root) || !json_is_array(out)) {
		json_decref(root);
		return RELAY_EPROTO;
	}
	r->id = ir_str(json_object_get(root, "id"));
	r->model = ir_str(json_object_get(root, "model"));
	r->created = ir_count(json_object_get(root, "created_at"));
	if (r->created < 0)
		r->created = 0;
	json_array_foreach (out, i, item) {
		err = rs_resp_item(item, &r->msg, &saw_tool);
		if (err != RELAY_OK)
			break;
	}
	r->finish = rs_finish(root, saw_tool);
	r->finish_raw = json_string(rs_status(r->finish));
	rs_usage(json_object_get(root, "usage"), &r->usage);
	json_decref(root);
	return err;
}

/* --- stream: decode ----------------------------------------------------- */

static struct span
rs_span(json_t *s)
{
	return json_is_string(s)
	    ? (struct span){json_string_value(s), json_string_length(s)}
	    : (struct span){"", 0};
}

static int
rs_status_of(const char *code)
{
	if (code == NULL)
		return 500;
	if (strcmp(code, "rate_limit_exceeded") == 0 ||
	    strcmp(code, "insufficient_quota") == 0)
		return 429;
	if (strcmp(code, "context_length_exceeded") == 0 ||
	    strcmp(code, "invalid_prompt") == 0)
		return 400;
	return 500;
}

static enum relay_err
rs_dec_error(json_t *e, struct ir_norm *n)
{
	json_t *code = json_object_get(e, "code");

	if (!json_is_string(code))
		code = json_object_get(e, "type");
	return ir_norm_error(n, rs_status_of(json_string_value(code)),
	    rs_span(code), rs_span(json_object_get(e, "message")));
}

static enum relay_err
rs_dec_item_added(struct ir_dec *d, json_t *v, struct ir_norm *n)
{
	json_t *item = json_object_get(v, "item"), *id, *plain = NULL,
	       *sig = NULL;
	const char *t = str_of(item, "type");
	long long key = ir_count(json_object_get(v, "output_index"));
	enum relay_err err;

	if (t == NULL ||
	    (strcmp(t, "function_call") != 0 &&
		strcmp(t, "custom_tool_call") != 0))
		return RELAY_OK;
	d->saw_tool = 1;
	d->last_key = key;
	id = json_object_get(item, "call_id");
	if (!json_is_string(id))
		return ir_norm_tool(n, key, (struct span){"", 0},
		    rs_span(json_object_get(item, "name")),
		    (struct span){"", 0});
	err = ir_id_split(id, &plain, &sig);
	if (err == RELAY_OK)
		err = ir_norm_tool(n, key, rs_span(plain),
		    rs_span(json_object_get(item, "name")), rs_span(sig));
	json_decref(plain);
	json_decref(sig);
	return err;
}

static enum relay_err
rs_dec_item_done(json_t *v, struct ir_norm *n)
{
	json_t *item = json_object_get(v, "item"), *args;
	const char *t = str_of(item, "type");
	long long key = ir_count(json_object_get(v, "output_index"));
	json_t *enc = json_object_get(item, "encrypted_content");
	enum relay_err err = RELAY_OK;

	if (t == NULL)
		return RELAY_OK;
	if (strcmp(t, "reasoning") == 0 && json_is_string(enc))
		err = ir_norm_signature(n, rs_span(enc));
	else if (strcmp(t, "custom_tool_call") == 0) {
		/* Its input whole, as the one argument. */
		args = rs_custom_args(json_object_get(item, "input"));
		err = args != NULL ? ir_norm_args(n, key, rs_span(args))
				   : RELAY_ENOMEM;
		json_decref(args);
	}
	if (err == RELAY_OK && strcmp(t, "reasoning") != 0)
		err = ir_norm_stop(n);
	return err;
}

static enum relay_err
rs_dec_end(struct ir_dec *d, json_t *resp, struct ir_norm *n)
{
	struct ir_usage u;
	enum ir_finish f = rs_finish(resp, d->saw_tool);
	const char *raw = rs_status(f);

	ir_usage_init(&u);
	rs_usage(json_object_get(resp, "usage"), &u);
	ir_norm_usage(n, &u);
	ir_norm_finish(n, f, (struct span){raw, strlen(raw)});
	return ir_norm_end(n);
}

enum relay_err
wire_responses_decode(
    struct ir_dec *d, const struct sse_event *ev, struct ir_norm *n)
{
	json_t *v = NULL, *r;
	const char *t;
	char jerr[64];
	enum relay_err err = RELAY_OK;

	if (!ev->has_data)
		return RELAY_OK;
	if (jsonx_parse(ev->data.p, ev->data.len, &v, jerr, sizeof(jerr)) !=
	    RELAY_OK) {
		json_decref(v);
		return RELAY_EPROTO;
	}
	t = str_of(v, "type");
	r = json_object_get(v, "response");
	if (!json_is_object(v) || t == NULL)
		err = RELAY_EPROTO;
	else if (strcmp(t, "response.created") == 0)
		err = ir_norm_start(n, rs_span(json_object_get(r, "id")),
		    rs_span(json_object_get(r, "model")),
		    ir_count(json_object_get(r, "created_at")));
	else if (strcmp(t, "response.output_item.added") == 0)
		err = rs_dec_item_added(d, v, n);
	else if (strcmp(t, "response.output_text.delta") == 0 ||
	    strcmp(t, "response.refusal.delta") == 0)
		err = ir_norm_text(
		    n, IR_DELTA_TEXT, rs_span(json_object_get(v, "delta")));
	else if (strcmp(t, "response.reasoning_summary_text.delta") == 0 ||
	    strcmp(t, "response.reasoning_text.delta") == 0)
		err = ir_norm_text(
		    n, IR_DELTA_THINKING, rs_span(json_object_get(v, "delta")));
	else if (strcmp(t, "response.function_call_arguments.delta") == 0)
		err = ir_norm_args(n,
		    ir_count(json_object_get(v, "output_index")),
		    rs_span(json_object_get(v, "delta")));
	else if (strcmp(t, "response.output_item.done") == 0)
		err = rs_dec_item_done(v, n);
	else if (strcmp(t, "response.completed") == 0 ||
	    strcmp(t, "response.incomplete") == 0)
		err = rs_dec_end(d, r, n);
	else if (strcmp(t, "response.failed") == 0)
		err = rs_dec_error(json_object_get(r, "error"), n);
	else if (strcmp(t, "error") == 0)
		err = rs_dec_error(v, n);
	json_decref(v);
	return err;
}
