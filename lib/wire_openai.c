/* SPDX-License-Identifier: MIT */
/* wire_openai.c - OpenAI Chat Completions bodies and chunk streams to and
 * from the IR (platform.openai.com API reference: "Create chat
 * completion", "The chat completion chunk object"). Azure: same bodies. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "num.h"
#include "wire_openai.h"

#define FAIL(name, ...) ir_fail(eb, es, param, name, __VA_ARGS__)

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

/* "data:<media type>;base64,<data>" into p's media_type and data. */
static int
oa_data_url(const char *u, size_t n, struct ir_part *p)
{
	const char *semi, *comma;

	if (n < 5 || memcmp(u, "data:", 5) != 0)
		return 0;
	semi = memchr(u, ';', n);
	comma = memchr(u, ',', n);
	if (semi == NULL || comma == NULL || comma < semi ||
	    (size_t)(comma - semi) != 7 || memcmp(semi, ";base64", 7) != 0)
		return -1;
	p->media_type = json_stringn_nocheck(u + 5, (size_t)(semi - u - 5));
	p->data = json_stringn_nocheck(comma + 1, n - (size_t)(comma + 1 - u));
	return p->media_type != NULL && p->data != NULL ? 1 : -2;
}

static enum relay_err
oa_image(json_t *item, struct ir_msg *m, size_t mi, char *eb, size_t es,
    const char **param)
{
	json_t *iu = json_object_get(item, "image_url"), *url;
	struct ir_part *p;
	enum relay_err err;
	int rc;

	url = json_is_object(iu) ? json_object_get(iu, "url") : iu;
	if (!json_is_string(url))
		return FAIL("messages",
		    "Missing required parameter: 'messages[%zu].content[]."
		    "image_url.url'.",
		    mi);
	err = ir_msg_add_part(m, IR_PART_IMAGE, &p);
	if (err != RELAY_OK)
		return err;
	rc = oa_data_url(json_string_value(url), json_string_length(url), p);
	if (rc == -2)
		return RELAY_ENOMEM;
	if (rc == -1)
		return FAIL("messages",
		    "Invalid 'messages[%zu].content[].image_url.url': only "
		    "base64 data URLs and http(s) URLs are supported.",
		    mi);
	if (rc == 0)
		p->url = json_incref(url);
	return RELAY_OK;
}

static enum relay_err
oa_text_part(json_t *text, struct ir_msg *m)
{
	struct ir_part *p;
	enum relay_err err;

	err = ir_msg_add_part(m, IR_PART_TEXT, &p);
	if (err == RELAY_OK)
		p->text = json_incref(text);
	return err;
}

/* One element of a content array. */
static enum relay_err
oa_content_item(json_t *item, struct ir_msg *m, size_t mi, char *eb, size_t es,
    const char **param)
{
	const char *t = json_string_value(json_object_get(item, "type"));
	json_t *text;

	if (t == NULL)
		return FAIL("messages",
		    "Missing required parameter: 'messages[%zu].content[]."
		    "type'.",
		    mi);
	if (strcmp(t, "text") == 0 || strcmp(t, "refusal") == 0) {
		text = json_object_get(item, t[0] == 't' ? "text" : "refusal");
		if (!json_is_string(text))
			return FAIL("messages",
			    "Invalid 'messages[%zu].content[].%s': expected a "
			    "string.",
			    mi, t);
		return oa_text_part(text, m);
	}
	if (strcmp(t, "image_url") == 0)
		return oa_image(item, m, mi, eb, es, param);
	return FAIL("messages",
	    "Invalid 'messages[%zu].content[].type': '%.32s' content "
	    "cannot be translated for this model's provider; supported types "
	    "are 'text' and 'image_url'.",
	    mi, t);
}

static enum relay_err
oa_content(json_t *c, struct ir_msg *m, size_t mi, char *eb, size_t es,
    const char **param)
{
	enum relay_err err = RELAY_OK;
	json_t *item;
	size_t i;

	if (c == NULL || json_is_null(c))
		return RELAY_OK;
	if (json_is_string(c))
		return json_string_length(c) > 0 ? oa_text_part(c, m)
						 : RELAY_OK;
	if (!json_is_array(c))
		return FAIL("messages",
		    "Invalid type for 'messages[%zu].content': expected one of "
		    "a string or array of objects, but got %s instead.",
		    mi, type_name(c));
	json_array_foreach (c, i, item) {
		if (!json_is_object(item))
			return FAIL("messages",
			    "Invalid type for 'messages[%zu].content[%zu]': "
			    "expected an object, but got %s instead.",
			    mi, i, type_name(item));
		err = oa_content_item(item, m, mi, eb, es, param);
		if (err != RELAY_OK)
			break;
	}
	return err;
}

static enum relay_err
oa_tool_call(json_t *tc, struct ir_msg *m, size_t mi, char *eb, size_t es,
    const char **param)
{
	json_t *fn = json_object_get(tc, "function"), *id, *name, *args;
	struct ir_part *p;
	enum relay_err err;

	id = json_object_get(tc, "id");
	name = json_is_object(fn) ? json_object_get(fn, "name") : NULL;
	args = json_is_object(fn) ? json_object_get(fn, "arguments") : NULL;
	if (!json_is_string(id) || !json_is_string(name))
		return FAIL("messages",
		    "Missing required parameter: "
		    "'messages[%zu].tool_calls[].%s'.",
		    mi, json_is_string(id) ? "function.name" : "id");
	err = ir_msg_add_part(m, IR_PART_TOOL_CALL, &p);
	if (err == RELAY_OK)
		err = ir_id_split(id, &p->id, &p->signature);
	if (err != RELAY_OK)
		return err;
	p->name = json_incref(name);
	if (json_is_string(args)) {
		p->args = json_incref(args);
	} else if (json_is_object(args)) {
		char *s = json_dumps(args, JSON_COMPACT);

		p->args = s != NULL ? json_string_nocheck(s) : NULL;
		mem_free(s);
	} else
		p->args = json_string("{}");
	return p->args != NULL ? RELAY_OK : RELAY_ENOMEM;
}

static enum relay_err
oa_assistant(json_t *msg, struct ir_request *r, size_t mi, char *eb, size_t es,
    const char **param)
{
	json_t *rc = json_object_get(msg, "reasoning_content");
	json_t *tcs = json_object_get(msg, "tool_calls"), *tc;
	struct ir_msg *m;
	struct ir_part *p;
	enum relay_err err;
	size_t i;

	err = ir_request_add_msg(r, IR_ROLE_ASSISTANT, &m);
	if (err == RELAY_OK && json_is_string(rc) &&
	    json_string_length(rc) > 0) {
		err = ir_msg_add_part(m, IR_PART_THINKING, &p);
		if (err == RELAY_OK)
			p->text = json_incref(rc);
	}
	if (err == RELAY_OK)
		err = oa_content(
		    json_object_get(msg, "content"), m, mi, eb, es, param);
	if (err != RELAY_OK || tcs == NULL || json_is_null(tcs))
		return err;
	if (!json_is_array(tcs))
		return FAIL("messages",
		    "Invalid type for 'messages[%zu].tool_calls': expected an "
		    "array, but got %s instead.",
		    mi, type_name(tcs));
	json_array_foreach (tcs, i, tc) {
		err = oa_tool_call(tc, m, mi, eb, es, param);
		if (err != RELAY_OK)
			break;
	}
	return err;
}

/* A role "tool" (or legacy "function") message: a tool result, merged
 * into the user message of the results before it. */
static enum relay_err
oa_tool_result(json_t *msg, struct ir_request *r, int *merge, size_t mi,
    char *eb, size_t es, const char **param)
{
	json_t *id = json_object_get(msg, "tool_call_id");
	json_t *name = json_object_get(msg, "name");
	struct ir_msg *m, tmp;
	struct ir_part *p;
	enum relay_err err;
	int oom = 0;

	if (!json_is_string(id))
		id = name;
	if (!json_is_string(id))
		return FAIL("messages",
		    "Missing parameter 'tool_call_id': messages with role "
		    "'tool' must have a 'tool_call_id'. (messages[%zu])",
		    mi);
	memset(&tmp, 0, sizeof(tmp));
	err = oa_content(
	    json_object_get(msg, "content"), &tmp, mi, eb, es, param);
	if (err == RELAY_OK && *merge && r->nmsgs > 0)
		m = &r->msgs[r->nmsgs - 1];
	else if (err == RELAY_OK)
		err = ir_request_add_msg(r, IR_ROLE_USER, &m);
	if (err == RELAY_OK)
		err = ir_msg_add_part(m, IR_PART_TOOL_RESULT, &p);
	if (err == RELAY_OK) {
		err = ir_id_split(id, &p->id, &p->signature);
		p->name = ir_str(name);
		p->text = ir_msg_text(&tmp, IR_PART_TEXT, "\n", &oom);
		if (p->text == NULL && !oom)
			p->text = json_string("");
		if (p->text == NULL && err == RELAY_OK)
			err = RELAY_ENOMEM;
	}
	ir_msg_reset(&tmp);
	*merge = err == RELAY_OK;
	return err;
}

static enum relay_err
oa_system(json_t *msg, struct ir_request *r, size_t mi, char *eb, size_t es,
    const char **param)
{
	size_t i, before = r->system.nparts;
	enum relay_err err;

	err = oa_content(
	    json_object_get(msg, "content"), &r->system, mi, eb, es, param);
	for (i = before; err == RELAY_OK && i < r->system.nparts; i++)
		if (r->system.parts[i].type != IR_PART_TEXT)
			return FAIL("messages",
			    "Invalid 'messages[%zu].content': system messages "
			    "may only contain text.",
			    mi);
	return err;
}

static enum relay_err
oa_message(json_t *msg, struct ir_request *r, int *merge, size_t mi, char *eb,
    size_t es, const char **param)
{
	const char *role = json_string_value(json_object_get(msg, "role"));
	struct ir_msg *m;
	enum relay_err err;

	if (!json_is_object(msg))
		return FAIL("messages",
		    "Invalid type for 'messages[%zu]': expected an object, "
		    "but got %s instead.",
		    mi, type_name(msg));
	if (role == NULL)
		return FAIL("messages",
		    "Missing required parameter: 'messages[%zu].role'.", mi);
	if (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0)
		return oa_tool_result(msg, r, merge, mi, eb, es, param);
	*merge = 0;
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
		return oa_system(msg, r, mi, eb, es, param);
	if (strcmp(role, "assistant") == 0)
		return oa_assistant(msg, r, mi, eb, es, param);
	if (strcmp(role, "user") != 0)
		return FAIL("messages",
		    "Invalid value: '%.32s'. Supported values are: 'system', "
		    "'assistant', 'user', 'function', 'tool', and "
		    "'developer'.",
		    role);
	err = ir_request_add_msg(r, IR_ROLE_USER, &m);
	if (err == RELAY_OK)
		err = oa_content(
		    json_object_get(msg, "content"), m, mi, eb, es, param);
	return err;
}

static enum relay_err
oa_tools(json_t *tools, struct ir_request *r, char *eb, size_t es,
    const char **param)
{
	struct ir_tool *t;
	json_t *item, *fn;
	enum relay_err err;
	size_t i;

	if (tools == NULL || json_is_null(tools))
		return RELAY_OK;
	if (!json_is_array(tools))
		return FAIL("tools",
		    "Invalid type for 'tools': expected an array, but got %s "
		    "instead.",
		    type_name(tools));
	json_array_foreach (tools, i, item) {
		fn = json_object_get(item, "function");
		if (fn == NULL && json_is_string(json_object_get(item, "name")))
			fn = item; /* legacy "functions" entry */
		if (!json_is_object(fn) ||
		    !json_is_string(json_object_get(fn, "name")))
			return FAIL("tools",
			    "Missing required parameter: "
			    "'tools[%zu].function.name'.",
			    i);
		err = ir_request_add_tool(r, &t);
		if (err != RELAY_OK)
			return err;
		t->name = ir_str(json_object_get(fn, "name"));
		t->description = ir_str(json_object_get(fn, "description"));
		t->schema = json_incref(json_object_get(fn, "parameters"));
		if (t->schema != NULL && !json_is_object(t->schema))
			return FAIL("tools",
			    "Invalid type for 'tools[%zu].function."
			    "parameters': expected an object.",
			    i);
	}
	return RELAY_OK;
}

static enum relay_err
oa_tool_choice(
    json_t *tc, struct ir_request *r, char *eb, size_t es, const char **param)
{
	const char *s = json_string_value(tc);
	json_t *fn, *name;

	if (tc == NULL || json_is_null(tc))
		return RELAY_OK;
	if (s != NULL && strcmp(s, "auto") == 0)
		r->tool_choice = IR_TOOL_CHOICE_AUTO;
	else if (s != NULL && strcmp(s, "none") == 0)
		r->tool_choice = IR_TOOL_CHOICE_NONE;
	else if (s != NULL && strcmp(s, "required") == 0)
		r->tool_choice = IR_TOOL_CHOICE_REQUIRED;
	else if (s == NULL && json_is_object(tc)) {
		fn = json_object_get(tc, "function");
		name = json_is_object(fn) ? json_object_get(fn, "name")
					  : json_object_get(tc, "name");
		if (!json_is_string(name))
			return FAIL("tool_choice",
			    "Missing required parameter: "
			    "'tool_choice.function.name'.");
		r->tool_choice = IR_TOOL_CHOICE_TOOL;
		r->tool_choice_name = json_incref(name);
	} else
		return FAIL("tool_choice",
		    "Invalid value for 'tool_choice': expected 'none', "
		    "'auto', 'required' or a named function.");
	return RELAY_OK;
}

static enum relay_err
oa_stop(
    json_t *stop, struct ir_request *r, char *eb, size_t es, const char **param)
{
	json_t *v;
	size_t i;

	if (stop == NULL || json_is_null(stop))
		return RELAY_OK;
	if (json_is_string(stop)) {
		r->stop = json_array();
		return ir_push(r->stop, json_incref(stop)) ? RELAY_ENOMEM
							   : RELAY_OK;
	}
	if (!json_is_array(stop))
		return FAIL("stop",
		    "Invalid type for 'stop': expected one of a string or "
		    "array of strings, but got %s instead.",
		    type_name(stop));
	json_array_foreach (stop, i, v)
		if (!json_is_string(v))
			return FAIL("stop",
			    "Invalid type for 'stop[%zu]': expected a string.",
			    i);
	r->stop = json_incref(stop);
	return RELAY_OK;
}

static enum relay_err
oa_format(
    json_t *rf, struct ir_request *r, char *eb, size_t es, const char **param)
{
	const char *t = json_string_value(json_object_get(rf, "type"));
	json_t *js;

	if (rf == NULL || json_is_null(rf))
		return RELAY_OK;
	if (t == NULL)
		return FAIL("response_format",
		    "Missing required parameter: 'response_format.type'.");
	if (strcmp(t, "json_object") == 0)
		r->format = IR_FORMAT_JSON_OBJECT;
	else if (strcmp(t, "json_schema") == 0) {
		js = json_object_get(rf, "json_schema");
		if (!json_is_object(json_object_get(js, "schema")))
			return FAIL("response_format",
			    "Missing required parameter: "
			    "'response_format.json_schema.schema'.");
		r->format = IR_FORMAT_JSON_SCHEMA;
		r->format_schema = json_incref(json_object_get(js, "schema"));
		r->format_name = ir_str(json_object_get(js, "name"));
	} else if (strcmp(t, "text") != 0)
		return FAIL("response_format",
		    "Invalid value: '%.32s'. Supported values are: 'text', "
		    "'json_object', and 'json_schema'.",
		    t);
	return RELAY_OK;
}

/* A number or null parameter; kept as the client's JSON value. */
static enum relay_err
oa_number(json_t *root, const char *key, json_t **dst, char *eb, size_t es,
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
oa_scalars(
    json_t *root, struct ir_request *r, char *eb, size_t es, const char **param)
{
	json_t *mt = json_object_get(root, "max_completion_tokens");
	json_t *eff = json_object_get(root, "reasoning_effort");
	json_t *n = json_object_get(root, "n");
	const char *e;
	enum relay_err err;

	err = oa_number(root, "temperature", &r->temperature, eb, es, param);
	if (err == RELAY_OK)
		err = oa_number(root, "top_p", &r->top_p, eb, es, param);
	if (err == RELAY_OK)
		err = oa_number(root, "presence_penalty", &r->presence_penalty,
		    eb, es, param);
	if (err == RELAY_OK)
		err = oa_number(root, "frequency_penalty",
		    &r->frequency_penalty, eb, es, param);
	if (err == RELAY_OK)
		err = oa_number(root, "seed", &r->seed, eb, es, param);
	if (err != RELAY_OK)
		return err;
	if (mt == NULL || json_is_null(mt))
		mt = json_object_get(root, "max_tokens");
	if (mt != NULL && !json_is_null(mt) && ir_count(mt) < 1)
		return FAIL("max_tokens",
		    "Invalid 'max_tokens': integer below minimum value. "
		    "Expected a value >= 1.");
	r->max_tokens = mt != NULL && !json_is_null(mt) ? ir_count(mt) : 0;
	if (n != NULL && !json_is_null(n) && ir_count(n) != 1)
		return FAIL("n",
		    "Invalid 'n': only n = 1 can be translated for this "
		    "model's provider.");
	e = json_string_value(eff);
	r->reasoning_effort = ir_str(eff);
	r->user = ir_str(json_object_get(root, "user"));
	r->safety_id = ir_str(json_object_get(root, "safety_identifier"));
	r->cache_key = ir_str(json_object_get(root, "prompt_cache_key"));
	if (e != NULL)
		r->thinking_budget = strcmp(e, "low") == 0 ? OA_EFFORT_LOW
		    : strcmp(e, "medium") == 0             ? OA_EFFORT_MEDIUM
		    : strcmp(e, "high") == 0               ? OA_EFFORT_HIGH
							   : 0;
	return RELAY_OK;
}

static enum relay_err
oa_flags(
    json_t *root, struct ir_request *r, char *eb, size_t es, const char **param)
{
	json_t *stream = json_object_get(root, "stream");
	json_t *opts = json_object_get(root, "stream_options");
	json_t *ptc = json_object_get(root, "parallel_tool_calls");

	if (stream != NULL && !json_is_boolean(stream) && !json_is_null(stream))
		return FAIL(
		    "stream", "Invalid type for 'stream': expected a boolean.");
	r->stream = json_is_true(stream);
	r->include_usage = json_is_true(json_object_get(opts, "include_usage"));
	if (json_is_boolean(ptc))
		r->parallel_tool_calls = json_is_true(ptc);
	return RELAY_OK;
}

static enum relay_err
oa_messages(
    json_t *msgs, struct ir_request *r, char *eb, size_t es, const char **param)
{
	enum relay_err err = RELAY_OK;
	int merge = 0;
	json_t *msg;
	size_t i;

	if (msgs == NULL)
		return FAIL(
		    "messages", "Missing required parameter: 'messages'.");
	if (!json_is_array(msgs) || json_array_size(msgs) == 0)
		return FAIL("messages",
		    "Invalid 'messages': expected a non-empty array.");
	json_array_foreach (msgs, i, msg) {
		err = oa_message(msg, r, &merge, i, eb, es, param);
		if (err != RELAY_OK)
			break;
	}
	return err;
}

enum relay_err
wire_openai_parse_request(struct span body, struct ir_request *r, char *eb,
    size_t es, const char **param)
{
	json_t *root = NULL, *model, *tools;
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
	err = oa_messages(json_object_get(root, "messages"), r, eb, es, param);
	tools = json_object_get(root, "tools");
	if (tools == NULL)
		tools = json_object_get(root, "functions");
	if (err == RELAY_OK)
		err = oa_tools(tools, r, eb, es, param);
	if (err == RELAY_OK)
		err = oa_tool_choice(
		    json_object_get(root, "tool_choice"), r, eb, es, param);
	if (err == RELAY_OK)
		err = oa_stop(json_object_get(root, "stop"), r, eb, es, param);
	if (err == RELAY_OK)
		err = oa_format(
		    json_object_get(root, "response_format"), r, eb, es, param);
	if (err == RELAY_OK)
		err = oa_scalars(root, r, eb, es, param);
	if (err == RELAY_OK)
		err = oa_flags(root, r, eb, es, param);
out:
	json_decref(root);
	return err;
}

/* --- request: emit ------------------------------------------------------ */

static json_t *
oa_image_json(const struct ir_part *p)
{
	json_t *o = json_object(), *iu = json_object();
	struct buf b;
	int bad = 0;

	if (p->url != NULL) {
		bad |= ir_set(iu, "url", json_incref(p->url));
	} else {
		buf_init(&b, (size_t)-1 / 2);
		bad |= buf_puts(&b, "data:") != RELAY_OK;
		bad |= buf_append(&b, json_string_value(p->media_type),
			   json_string_length(p->media_type)) != RELAY_OK;
		bad |= buf_puts(&b, ";base64,") != RELAY_OK;
		bad |= buf_append(&b, json_string_value(p->data),
			   json_string_length(p->data)) != RELAY_OK;
		if (!bad)
			bad |= ir_set(
			    iu, "url", json_stringn_nocheck(b.data, b.len));
		buf_reset(&b);
	}
	bad |= ir_set(o, "type", json_string("image_url"));
	bad |= ir_set(o, "image_url", iu);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The content of a user message: a string when it is one text part. */
static json_t *
oa_user_content(const struct ir_msg *m)
{
	json_t *a = json_array(), *o;
	size_t i, n = 0, ntext = 0;
	int bad = 0;

	for (i = 0; i < m->nparts; i++) {
		const struct ir_part *p = &m->parts[i];

		if (p->type == IR_PART_TEXT) {
			o = json_object();
			bad |= ir_set(o, "type", json_string("text"));
			bad |= ir_set(o, "text", json_incref(p->text));
			bad |= ir_push(a, o);
			n++;
			ntext++;
		} else if (p->type == IR_PART_IMAGE) {
			bad |= ir_push(a, oa_image_json(p));
			n++;
		}
	}
	if (bad || n == 0) {
		json_decref(a);
		return NULL;
	}
	if (n == 1 && ntext == 1) {
		o = json_incref(json_object_get(json_array_get(a, 0), "text"));
		json_decref(a);
		return o;
	}
	return a;
}

static json_t *
oa_tool_call_json(const struct ir_part *p, json_t *id)
{
	json_t *o = json_object(), *fn = json_object();
	int bad = 0;

	bad |= ir_set(o, "id", id);
	bad |= ir_set(o, "type", json_string("function"));
	bad |= ir_set(fn, "name", json_incref(p->name));
	bad |= ir_set(fn, "arguments",
	    p->args != NULL ? json_incref(p->args) : json_string("{}"));
	bad |= ir_set(o, "function", fn);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* An assistant message; with_sig: tool call ids carry their signature;
 * reasoning: a message with tool calls carries its thinking as
 * reasoning_content (ir_request.reasoning_back). */
static json_t *
oa_assistant_json(const struct ir_msg *m, int with_sig, int reasoning, int *bad)
{
	json_t *o = json_object(), *tcs = json_array(), *text, *id;
	int oom = 0;
	size_t i;

	text = ir_msg_text(m, IR_PART_TEXT, "", &oom);
	*bad |= oom;
	*bad |= ir_set(o, "role", json_string("assistant"));
	*bad |= ir_set(o, "content", text != NULL ? text : json_null());
	for (i = 0; i < m->nparts; i++) {
		const struct ir_part *p = &m->parts[i];

		if (p->type != IR_PART_TOOL_CALL)
			continue;
		if (p->id == NULL) {
			/* A Gemini call carries no id: make one. */
			char fresh[32];

			ir_new_id(fresh, sizeof(fresh), "call_");
			id = json_string(fresh);
			if (with_sig && id != NULL && p->signature != NULL) {
				json_t *joined = ir_id_join(id, p->signature);

				json_decref(id);
				id = joined;
			}
		} else
			id = with_sig ? ir_id_join(p->id, p->signature)
				      : json_incref(p->id);
		*bad |= ir_push(tcs, oa_tool_call_json(p, id));
	}
	if (json_array_size(tcs) > 0 && reasoning) {
		json_t *th = ir_msg_text(m, IR_PART_THINKING, "", &oom);

		*bad |= oom;
		if (th != NULL)
			*bad |= ir_set(o, "reasoning_content", th);
	}
	if (json_array_size(tcs) > 0)
		*bad |= ir_set(o, "tool_calls", tcs);
	else
		json_decref(tcs);
	return o;
}

/* A user message: its tool results as "tool" messages, then the rest. */
static int
oa_user_json(const struct ir_msg *m, json_t *out)
{
	json_t *o, *c;
	int bad = 0;
	size_t i;

	for (i = 0; i < m->nparts; i++) {
		const struct ir_part *p = &m->parts[i];

		if (p->type != IR_PART_TOOL_RESULT)
			continue;
		o = json_object();
		bad |= ir_set(o, "role", json_string("tool"));
		bad |= ir_set(o, "tool_call_id", json_incref(p->id));
		bad |= ir_set(o, "content",
		    p->text != NULL ? json_incref(p->text) : json_string(""));
		bad |= ir_push(out, o);
	}
	c = oa_user_content(m);
	if (c != NULL) {
		o = json_object();
		bad |= ir_set(o, "role", json_string("user"));
		bad |= ir_set(o, "content", c);
		bad |= ir_push(out, o);
	}
	return bad;
}

/* A system message inside the conversation stays where it was. */
static int
oa_system_json(const struct ir_msg *m, json_t *out)
{
	json_t *o, *text;
	int oom = 0;

	text = ir_msg_text(m, IR_PART_TEXT, "\n\n", &oom);
	if (text == NULL)
		return oom;
	o = json_object();
	return ir_set(o, "role", json_string("system")) |
	    ir_set(o, "content", text) | ir_push(out, o);
}

static json_t *
oa_messages_json(const struct ir_request *r)
{
	json_t *a = json_array(), *o, *sys;
	int bad = 0, oom = 0;
	size_t i;

	sys = ir_msg_text(&r->system, IR_PART_TEXT, "\n\n", &oom);
	bad |= oom;
	if (sys != NULL) {
		o = json_object();
		bad |= ir_set(o, "role", json_string("system"));
		bad |= ir_set(o, "content", sys);
		bad |= ir_push(a, o);
	}
	for (i = 0; i < r->nmsgs && !bad; i++) {
		if (r->msgs[i].role == IR_ROLE_ASSISTANT)
			bad |= ir_push(a,
			    oa_assistant_json(
				&r->msgs[i], 0, r->reasoning_back, &bad));
		else if (r->msgs[i].role == IR_ROLE_SYSTEM)
			bad |= oa_system_json(&r->msgs[i], a);
		else
			bad |= oa_user_json(&r->msgs[i], a);
	}
	if (bad) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static int
oa_tools_json(const struct ir_request *r, json_t *o)
{
	json_t *a, *t, *fn;
	int bad = 0;
	size_t i;

	if (r->ntools == 0)
		return 0;
	a = json_array();
	for (i = 0; i < r->ntools; i++) {
		t = json_object();
		fn = json_object();
		bad |= ir_set(fn, "name", json_incref(r->tools[i].name));
		if (r->tools[i].description != NULL)
			bad |= ir_set(fn, "description",
			    json_incref(r->tools[i].description));
		bad |= ir_set(fn, "parameters",
		    r->tools[i].schema != NULL ? json_incref(r->tools[i].schema)
					       : json_pack("{s:s,s:{}}", "type",
						     "object", "properties"));
		bad |= ir_set(t, "type", json_string("function"));
		bad |= ir_set(t, "function", fn);
		bad |= ir_push(a, t);
	}
	return bad | ir_set(o, "tools", a);
}

static int
oa_choice_json(const struct ir_request *r, json_t *o)
{
	json_t *c;

	switch (r->tool_choice) {
	case IR_TOOL_CHOICE_UNSET: break;
	case IR_TOOL_CHOICE_AUTO:
		return ir_set(o, "tool_choice", json_string("auto"));
	case IR_TOOL_CHOICE_NONE:
		return ir_set(o, "tool_choice", json_string("none"));
	case IR_TOOL_CHOICE_REQUIRED:
		return ir_set(o, "tool_choice", json_string("required"));
	case IR_TOOL_CHOICE_TOOL:
		c = json_pack("{s:s,s:{s:O}}", "type", "function", "function",
		    "name", r->tool_choice_name);
		return ir_set(o, "tool_choice", c);
	case IR_TOOL_CHOICE__MAX: break;
	}
	return 0;
}

static int
oa_format_json(const struct ir_request *r, json_t *o)
{
	json_t *f = NULL, *js;

	switch (r->format) {
	case IR_FORMAT_TEXT: return 0;
	case IR_FORMAT_JSON_OBJECT:
		f = json_pack("{s:s}", "type", "json_object");
		break;
	case IR_FORMAT_JSON_SCHEMA:
		js = json_pack("{s:O}", "schema", r->format_schema);
		if (js != NULL &&
		    ir_set(js, "name",
			r->format_name != NULL
			    ? json_incref(r->format_name)
			    : json_string("response")) != 0) {
			json_decref(js);
			js = NULL;
		}
		f = js != NULL ? json_pack("{s:s,s:o}", "type", "json_schema",
				     "json_schema", js)
			       : NULL;
		break;
	case IR_FORMAT__MAX: return 0;
	}
	return ir_set(o, "response_format", f);
}

static int
oa_opt(json_t *o, const char *key, json_t *v)
{
	return v != NULL ? ir_set(o, key, json_incref(v)) : 0;
}

enum relay_err
wire_openai_emit_request(const struct ir_request *r, const char *model,
    struct buf *out, char *eb, size_t es, const char **param)
{
	json_t *o = json_object();
	enum relay_err err;
	int bad = 0;

	(void)eb;
	(void)es;
	*param = NULL;
	bad |= model != NULL ? ir_set(o, "model", json_string(model))
			     : oa_opt(o, "model", r->model);
	bad |= ir_set(o, "messages", oa_messages_json(r));
	if (r->stream) {
		bad |= ir_set(o, "stream", json_true());
		bad |= ir_set(o, "stream_options",
		    json_pack("{s:b}", "include_usage", 1));
	}
	if (r->max_tokens > 0)
		bad |= ir_set(o,
		    r->reasoning_effort != NULL ? "max_completion_tokens"
						: "max_tokens",
		    json_integer(r->max_tokens));
	bad |= oa_opt(o, "temperature", r->temperature);
	bad |= oa_opt(o, "top_p", r->top_p);
	bad |= oa_opt(o, "presence_penalty", r->presence_penalty);
	bad |= oa_opt(o, "frequency_penalty", r->frequency_penalty);
	bad |= oa_opt(o, "seed", r->seed);
	bad |= oa_opt(o, "stop", r->stop);
	bad |= oa_opt(o, "reasoning_effort", r->reasoning_effort);
	/* user only: safety_identifier and prompt_cache_key are OpenAI's
	 * own, which compatible vendors may refuse. */
	bad |= oa_opt(o, "user", r->user);
	bad |= oa_tools_json(r, o);
	bad |= oa_choice_json(r, o);
	if (r->parallel_tool_calls >= 0 && r->ntools > 0)
		bad |= ir_set(o, "parallel_tool_calls",
		    json_boolean(r->parallel_tool_calls));
	bad |= oa_format_json(r, o);
	err = bad ? RELAY_ENOMEM : jsonx_dump(o, out);
	json_decref(o);
	return err;
}

/* --- response ----------------------------------------------------------- */

static enum ir_finish
oa_finish(const char *s)
{
	if (s == NULL)
		return IR_FINISH_NONE;
	if (strcmp(s, "stop") == 0)
		return IR_FINISH_STOP;
	if (strcmp(s, "length") == 0)
		return IR_FINISH_LENGTH;
	if (strcmp(s, "tool_calls") == 0 || strcmp(s, "function_call") == 0)
		return IR_FINISH_TOOL_CALLS;
	if (strcmp(s, "content_filter") == 0)
		return IR_FINISH_CONTENT_FILTER;
	return IR_FINISH_OTHER;
}

static const char *
oa_finish_str(enum ir_finish f)
{
	switch (f) {
	case IR_FINISH_LENGTH: return "length";
	case IR_FINISH_TOOL_CALLS: return "tool_calls";
	case IR_FINISH_CONTENT_FILTER:
	case IR_FINISH_REFUSAL: return "content_filter";
	case IR_FINISH_NONE:
	case IR_FINISH_STOP:
	case IR_FINISH_STOP_SEQUENCE:
	case IR_FINISH_PAUSE:
	case IR_FINISH_OTHER:
	case IR_FINISH__MAX: break;
	}
	return "stop";
}

static void
oa_usage(json_t *u, struct ir_usage *out)
{
	json_t *pd = json_object_get(u, "prompt_tokens_details");
	json_t *cd = json_object_get(u, "completion_tokens_details");

	if (!json_is_object(u))
		return;
	out->input = ir_count(json_object_get(u, "prompt_tokens"));
	out->output = ir_count(json_object_get(u, "completion_tokens"));
	out->cache_read = ir_count(json_object_get(pd, "cached_tokens"));
	out->reasoning = ir_count(json_object_get(cd, "reasoning_tokens"));
}

static json_t *
oa_usage_json(const struct ir_usage *u)
{
	long long in = u->input > 0 ? u->input : 0;
	long long outt = u->output > 0 ? u->output : 0;

	return json_pack("{s:I,s:I,s:I,s:{s:I},s:{s:I}}", "prompt_tokens",
	    (json_int_t)in, "completion_tokens", (json_int_t)outt,
	    "total_tokens", (json_int_t)num_addll_sat(in, outt),
	    "prompt_tokens_details", "cached_tokens",
	    (json_int_t)(u->cache_read > 0 ? u->cache_read : 0),
	    "completion_tokens_details", "reasoning_tokens",
	    (json_int_t)(u->reasoning > 0 ? u->reasoning : 0));
}

static enum relay_err
oa_resp_tool_calls(json_t *tcs, struct ir_msg *m)
{
	char eb[8];
	const char *param;
	enum relay_err err = RELAY_OK;
	json_t *tc;
	size_t i;

	json_array_foreach (tcs, i, tc) {
		err = oa_tool_call(tc, m, 0, eb, sizeof(eb), &param);
		if (err != RELAY_OK)
			break;
	}
	return err;
}

static enum relay_err
oa_resp_message(json_t *msg, struct ir_msg *m)
{
	json_t *rc = json_object_get(msg, "reasoning_content");
	json_t *c = json_object_get(msg, "content");
	json_t *ref = json_object_get(msg, "refusal");
	struct ir_part *p;
	enum relay_err err = RELAY_OK;

	if (!json_is_string(rc))
		rc = json_object_get(msg, "reasoning");
	if (json_is_string(rc) && json_string_length(rc) > 0) {
		err = ir_msg_add_part(m, IR_PART_THINKING, &p);
		if (err == RELAY_OK)
			p->text = json_incref(rc);
	}
	if (err == RELAY_OK && json_is_string(c) && json_string_length(c) > 0)
		err = oa_text_part(c, m);
	if (err == RELAY_OK && json_is_string(ref) &&
	    json_string_length(ref) > 0)
		err = oa_text_part(ref, m);
	if (err == RELAY_OK &&
	    json_is_array(json_object_get(msg, "tool_calls")))
		err = oa_resp_tool_calls(json_object_get(msg, "tool_calls"), m);
	return err == RELAY_EINVAL ? RELAY_EPROTO : err;
}

enum relay_err
wire_openai_parse_response(
    struct span body, struct ir_response *r, char *eb, size_t es)
{
	json_t *root = NULL, *ch, *msg;
	enum relay_err err;

	err = jsonx_parse(body.p, body.len, &root, eb, es);
	if (err == RELAY_EINVAL)
		err = RELAY_EPROTO;
	if (err != RELAY_OK)
		goto out;
	ch = json_array_get(json_object_get(root, "choices"), 0);
	msg = json_object_get(ch, "message");
	if (!json_is_object(msg)) {
		snprintf(eb, es, "no choices[0].message in the response");
		err = RELAY_EPROTO;
		goto out;
	}
	r->id = ir_str(json_object_get(root, "id"));
	r->model = ir_str(json_object_get(root, "model"));
	r->created = ir_count(json_object_get(root, "created"));
	r->finish_raw = ir_str(json_object_get(ch, "finish_reason"));
	r->finish = oa_finish(json_string_value(r->finish_raw));
	oa_usage(json_object_get(root, "usage"), &r->usage);
	err = oa_resp_message(msg, &r->msg);
out:
	json_decref(root);
	return err;
}

static json_t *
oa_id_or_new(json_t *id, const char *prefix)
{
	char buf[64];

	if (id != NULL && json_string_length(id) > 0)
		return json_incref(id);
	ir_new_id(buf, sizeof(buf), prefix);
	return json_string(buf);
}

static json_t *
oa_resp_message_json(const struct ir_msg *m, int *bad)
{
	json_t *o, *th, *tcs;
	size_t i;
	int oom = 0;

	o = oa_assistant_json(m, 1, 0, bad);
	tcs = json_object_get(o, "tool_calls");
	for (i = 0; i < json_array_size(tcs); i++) {
		json_t *tc = json_array_get(tcs, i);

		if (json_string_length(json_object_get(tc, "id")) == 0)
			*bad |= ir_set(tc, "id", oa_id_or_new(NULL, "call_"));
	}
	*bad |= ir_set(o, "refusal", json_null());
	th = ir_msg_text(m, IR_PART_THINKING, "", &oom);
	*bad |= oom;
	if (th != NULL)
		*bad |= ir_set(o, "reasoning_content", th);
	return o;
}

enum relay_err
wire_openai_emit_response(const struct ir_response *r, struct buf *out)
{
	json_t *o = json_object(), *ch = json_object(), *a = json_array();
	enum relay_err err;
	int bad = 0;

	bad |= ir_set(o, "id", oa_id_or_new(r->id, "chatcmpl-"));
	bad |= ir_set(o, "object", json_string("chat.completion"));
	bad |= ir_set(o, "created",
	    json_integer(r->created > 0 ? r->created : (long long)time(NULL)));
	bad |= ir_set(o, "model",
	    r->model != NULL ? json_incref(r->model) : json_string(""));
	bad |= ir_set(ch, "index", json_integer(0));
	bad |= ir_set(ch, "message", oa_resp_message_json(&r->msg, &bad));
	bad |= ir_set(ch, "logprobs", json_null());
	bad |=
	    ir_set(ch, "finish_reason", json_string(oa_finish_str(r->finish)));
	bad |= ir_push(a, ch);
	bad |= ir_set(o, "choices", a);
	bad |= ir_set(o, "usage", oa_usage_json(&r->usage));
	err = bad ? RELAY_ENOMEM : jsonx_dump(o, out);
	json_decref(o);
	return err;
}

/* --- errors ----------------------------------------------------------- */

static const char *
oa_type(int status)
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
wire_openai_error(int status, const char *type, const char *msg, size_t mlen)
{
	json_t *e = json_object(), *o = json_object();
	int bad = 0;

	bad |= ir_set(e, "message", json_stringn(msg, mlen));
	bad |= ir_set(e, "type", json_string(oa_type(status)));
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

/* --- stream: decode ---------------------------------------------------- */

/* The normaliser's key for one delta.tool_calls[] item. */
static long long
oa_tool_key(struct ir_dec *d, json_t *tc, int *fresh)
{
	json_t *id = json_object_get(tc, "id");
	long long idx = ir_count(json_object_get(tc, "index"));
	int has_id = json_is_string(id) && json_string_length(id) > 0;

	*fresh = 0;
	if (has_id ||
	    (idx >= 0 && idx < IR_DEC_TOOL_SLOTS && d->slot_key[idx] == 0)) {
		*fresh = 1;
		d->last_key = ++d->keys;
		if (idx >= 0 && idx < IR_DEC_TOOL_SLOTS)
			d->slot_key[idx] = d->last_key;
		return d->last_key;
	}
	if (idx >= 0 && idx < IR_DEC_TOOL_SLOTS)
		return d->slot_key[idx];
	return d->last_key;
}

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

static enum relay_err
oa_dec_tools(struct ir_dec *d, json_t *tcs, struct ir_norm *n)
{
	enum relay_err err = RELAY_OK;
	json_t *tc, *fn;
	long long key;
	int fresh;
	size_t i;

	json_array_foreach (tcs, i, tc) {
		if (!json_is_object(tc))
			return RELAY_EPROTO;
		fn = json_object_get(tc, "function");
		key = oa_tool_key(d, tc, &fresh);
		if (fresh)
			err = ir_norm_tool(n, key,
			    jspan(json_object_get(tc, "id")),
			    jspan(json_object_get(fn, "name")), jspan(NULL));
		if (err == RELAY_OK)
			err = ir_norm_args(
			    n, key, jspan(json_object_get(fn, "arguments")));
		if (err != RELAY_OK)
			break;
	}
	d->saw_tool = 1;
	return err;
}

static enum relay_err
oa_dec_choice(struct ir_dec *d, json_t *ch, struct ir_norm *n)
{
	json_t *delta = json_object_get(ch, "delta");
	json_t *rc = json_object_get(delta, "reasoning_content");
	json_t *tcs = json_object_get(delta, "tool_calls");
	json_t *fr = json_object_get(ch, "finish_reason");
	enum relay_err err;

	if (!json_is_string(rc))
		rc = json_object_get(delta, "reasoning");
	err = ir_norm_text(n, IR_DELTA_THINKING, jspan(rc));
	if (err == RELAY_OK)
		err = ir_norm_text(
		    n, IR_DELTA_TEXT, jspan(json_object_get(delta, "content")));
	if (err == RELAY_OK)
		err = ir_norm_text(
		    n, IR_DELTA_TEXT, jspan(json_object_get(delta, "refusal")));
	if (err == RELAY_OK && json_is_array(tcs))
		err = oa_dec_tools(d, tcs, n);
	if (err == RELAY_OK && json_is_string(fr))
		ir_norm_finish(n, oa_finish(json_string_value(fr)), jspan(fr));
	return err;
}

static enum relay_err
oa_dec_error(json_t *e, struct ir_norm *n)
{
	json_t *code = json_object_get(e, "code");
	json_t *type = json_object_get(e, "type");
	json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;
	int status = c >= 400 && c <= 599 ? (int)c : 500;

	if (!json_is_string(type))
		type = code;
	return ir_norm_error(
	    n, status, jspan(type), jspan(json_object_get(e, "message")));
}

enum relay_err
wire_openai_decode(
    struct ir_dec *d, const struct sse_event *ev, struct ir_norm *n)
{
	json_t *root = NULL, *ch, *u;
	struct ir_usage usage;
	char eb[128];
	enum relay_err err;

	if (!ev->has_data)
		return RELAY_OK;
	if (span_eq(ev->data, "[DONE]"))
		return ir_norm_end(n);
	err = jsonx_parse(ev->data.p, ev->data.len, &root, eb, sizeof(eb));
	if (err != RELAY_OK || !json_is_object(root)) {
		err = err == RELAY_ENOMEM ? err : RELAY_EPROTO;
		goto out;
	}
	if (json_is_object(json_object_get(root, "error"))) {
		err = oa_dec_error(json_object_get(root, "error"), n);
		goto out;
	}
	err = ir_norm_start(n, jspan(json_object_get(root, "id")),
	    jspan(json_object_get(root, "model")),
	    ir_count(json_object_get(root, "created")));
	ch = json_array_get(json_object_get(root, "choices"), 0);
	if (err == RELAY_OK && json_is_object(ch))
		err = oa_dec_choice(d, ch, n);
	u = json_object_get(root, "usage");
	if (err == RELAY_OK && json_is_object(u)) {
		ir_usage_init(&usage);
		oa_usage(u, &usage);
		ir_norm_usage(n, &usage);
	}
out:
	json_decref(root);
	return err;
}

/* --- stream: encode ---------------------------------------------------- */

/* One chunk with delta (consumed) and finish_reason (NULL: null). */
static enum relay_err
oa_chunk(struct ir_enc *e, json_t *delta, const char *finish, struct buf *out)
{
	json_t *o = json_object(), *ch = json_object(), *a = json_array();
	enum relay_err err;
	int bad = 0;

	bad |= ir_set(o, "id", json_string(e->id));
	bad |= ir_set(o, "object", json_string("chat.completion.chunk"));
	bad |= ir_set(o, "created", json_integer(e->created));
	bad |= ir_set(o, "model", json_string(e->model));
	bad |= ir_set(ch, "index", json_integer(0));
	bad |= ir_set(ch, "delta", delta);
	bad |= ir_set(ch, "logprobs", json_null());
	bad |= ir_set(ch, "finish_reason",
	    finish != NULL ? json_string(finish) : json_null());
	bad |= ir_push(a, ch);
	bad |= ir_set(o, "choices", a);
	err = bad ? RELAY_ENOMEM : ir_sse(out, NULL, o, "\n\n");
	json_decref(o);
	return err;
}

static enum relay_err
oa_enc_start(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	if (ev->id.len > 0)
		ir_copy_span(e->id, sizeof(e->id), ev->id);
	else
		ir_new_id(e->id, sizeof(e->id), "chatcmpl-");
	ir_copy_span(e->model, sizeof(e->model), ev->model);
	if (ev->created > 0)
		e->created = ev->created;
	e->started = 1;
	return oa_chunk(e,
	    json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL,
	    out);
}

static enum relay_err
oa_enc_tool(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	json_t *tc, *id = NULL, *sig = NULL;
	char buf[64];
	enum relay_err err;

	err = ir_enc_set_tool(e, ev->index, e->ntools);
	if (err != RELAY_OK)
		return err;
	if (ev->id.len == 0)
		ir_new_id(buf, sizeof(buf), "call_");
	id = ev->id.len > 0 ? ir_span_json(ev->id) : json_string(buf);
	if (ev->signature.len > 0) {
		sig = ir_span_json(ev->signature);
		tc = ir_id_join(id, sig);
		json_decref(id);
		id = tc;
	}
	json_decref(sig);
	tc = json_pack("[{s:I,s:o,s:s,s:{s:s%,s:s}}]", "index",
	    (json_int_t)e->ntools++, "id", id, "type", "function", "function",
	    "name", ev->name.len > 0 ? ev->name.p : "", ev->name.len,
	    "arguments", "");
	return oa_chunk(e, json_pack("{s:o}", "tool_calls", tc), NULL, out);
}

static enum relay_err
oa_enc_delta(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	long long ord;
	json_t *d = NULL;

	switch (ev->delta) {
	case IR_DELTA_TEXT:
		d = json_pack("{s:s%}", "content", ev->text.p, ev->text.len);
		break;
	case IR_DELTA_THINKING:
		d = json_pack(
		    "{s:s%}", "reasoning_content", ev->text.p, ev->text.len);
		break;
	case IR_DELTA_ARGS:
		ord = ir_enc_tool(e, ev->index);
		if (ord < 0)
			return RELAY_OK;
		d = json_pack("{s:[{s:I,s:{s:s%}}]}", "tool_calls", "index",
		    (json_int_t)ord, "function", "arguments", ev->text.p,
		    ev->text.len);
		break;
	case IR_DELTA_SIGNATURE:
	case IR_DELTA__MAX: return RELAY_OK;
	}
	return oa_chunk(e, d, NULL, out);
}

static enum relay_err
oa_enc_end(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	enum relay_err err;
	json_t *o;

	err = oa_chunk(e, json_object(), oa_finish_str(ev->finish), out);
	if (err == RELAY_OK && e->include_usage) {
		o = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", e->id,
		    "object", "chat.completion.chunk", "created",
		    (json_int_t)e->created, "model", e->model, "choices",
		    "usage", oa_usage_json(ev->usage));
		err = ir_sse(out, NULL, o, "\n\n");
		json_decref(o);
	}
	if (err == RELAY_OK)
		err = buf_puts(out, "data: [DONE]\n\n");
	return err;
}

enum relay_err
wire_openai_encode(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	char type[64] = "";
	json_t *o;
	enum relay_err err;

	switch (ev->kind) {
	case IR_SEV_START: return oa_enc_start(e, ev, out);
	case IR_SEV_BLOCK_START:
		if (ev->part != IR_PART_TOOL_CALL)
			return RELAY_OK;
		return oa_enc_tool(e, ev, out);
	case IR_SEV_DELTA: return oa_enc_delta(e, ev, out);
	case IR_SEV_BLOCK_STOP: return RELAY_OK;
	case IR_SEV_END: return oa_enc_end(e, ev, out);
	case IR_SEV_ERROR:
		ir_copy_span(type, sizeof(type), ev->name);
		o = wire_openai_error(ev->status, type[0] != '\0' ? type : NULL,
		    ev->text.p, ev->text.len);
		err = ir_sse(out, NULL, o, "\n\n");
		json_decref(o);
		return err;
	case IR_SEV__MAX: break;
	}
	return RELAY_OK;
}
