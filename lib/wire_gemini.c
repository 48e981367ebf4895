/* SPDX-License-Identifier: MIT */
/* wire_gemini.c - Gemini generateContent bodies and streamGenerateContent
 * SSE frames to and from the IR (ai.google.dev/api: "Generating content",
 * "Caching", "Function calling", "Thinking"). The API also accepts the
 * proto snake_case spelling of every field: both are read, camelCase is
 * written. */
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "num.h"
#include "schema_gemini.h"
#include "wire_gemini.h"

/* Google's documented placeholder for function calls whose signature is
 * unknown (history from another model): Gemini 3 otherwise answers 400
 * "Function call is missing a thought_signature". */
#define GM_SKIP_SIGNATURE "skip_thought_signature_validator"
/* Frames end with a CRLF blank line, as Google's servers send them. */
#define GM_TERM "\r\n\r\n"

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

/* Member camel of o, or its snake_case spelling. */
static json_t *
gget(const json_t *o, const char *camel, const char *snake)
{
	json_t *v = json_object_get(o, camel);

	return v != NULL ? v : json_object_get(o, snake);
}

static json_t *
gm_dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	json_t *r = s != NULL ? json_string_nocheck(s) : NULL;

	mem_free(s);
	return r;
}

/* --- request: parse ---------------------------------------------------- */

static enum relay_err
gm_media(json_t *part, struct ir_part *p, const char *where, char *eb,
    size_t es, const char **param)
{
	json_t *in = gget(part, "inlineData", "inline_data");
	json_t *fd = gget(part, "fileData", "file_data");
	json_t *mt = gget(in != NULL ? in : fd, "mimeType", "mime_type");

	if (!json_is_string(mt) ||
	    strncmp(json_string_value(mt), "image/", 6) != 0)
		return FAIL("contents",
		    "%s: only image media can be translated for this model's "
		    "provider",
		    where);
	p->media_type = json_incref(mt);
	if (in != NULL)
		p->data = ir_str(json_object_get(in, "data"));
	else
		p->url = ir_str(gget(fd, "fileUri", "file_uri"));
	if (p->data == NULL && p->url == NULL)
		return FAIL(
		    "contents", "%s: data or fileUri is required", where);
	return RELAY_OK;
}

static enum relay_err
gm_call(json_t *part, json_t *fc, struct ir_part *p, const char *where,
    char *eb, size_t es, const char **param)
{
	json_t *args = json_object_get(fc, "args");

	if (!json_is_string(json_object_get(fc, "name")))
		return FAIL(
		    "contents", "%s.functionCall.name: is required", where);
	p->name = json_incref(json_object_get(fc, "name"));
	p->id = ir_str(json_object_get(fc, "id"));
	p->signature =
	    ir_str(gget(part, "thoughtSignature", "thought_signature"));
	p->args = json_is_object(args) ? gm_dump(args) : json_string("{}");
	return p->args != NULL ? RELAY_OK : RELAY_ENOMEM;
}

/* A functionResponse's response as text: {"content": "..."} (what our
 * emitter writes) unwraps to its string, anything else is JSON text. */
static enum relay_err
gm_result(json_t *fr, struct ir_part *p)
{
	json_t *resp = json_object_get(fr, "response");
	json_t *c = json_object_get(resp, "content");

	p->name = ir_str(json_object_get(fr, "name"));
	p->id = ir_str(json_object_get(fr, "id"));
	if (json_object_size(resp) == 1 && json_is_string(c))
		p->text = json_incref(c);
	else
		p->text = resp != NULL ? gm_dump(resp) : json_string("");
	return p->text != NULL ? RELAY_OK : RELAY_ENOMEM;
}

static enum relay_err
gm_part(json_t *part, struct ir_msg *m, const char *where, char *eb, size_t es,
    const char **param)
{
	json_t *text = json_object_get(part, "text");
	json_t *fc = gget(part, "functionCall", "function_call");
	json_t *fr = gget(part, "functionResponse", "function_response");
	struct ir_part *p;
	enum relay_err err;
	enum ir_part_type t;

	if (fc != NULL)
		t = IR_PART_TOOL_CALL;
	else if (fr != NULL)
		t = IR_PART_TOOL_RESULT;
	else if (json_is_string(text))
		t = json_is_true(json_object_get(part, "thought"))
		    ? IR_PART_THINKING
		    : IR_PART_TEXT;
	else if (gget(part, "inlineData", "inline_data") != NULL ||
	    gget(part, "fileData", "file_data") != NULL)
		t = IR_PART_IMAGE;
	else
		return FAIL("contents",
		    "%s: this kind of part cannot be translated for this "
		    "model's provider (text, inlineData, fileData, "
		    "functionCall and functionResponse can)",
		    where);
	err = ir_msg_add_part(m, t, &p);
	if (err != RELAY_OK)
		return err;
	if (t == IR_PART_TOOL_CALL)
		return gm_call(part, fc, p, where, eb, es, param);
	if (t == IR_PART_TOOL_RESULT)
		return gm_result(fr, p);
	if (t == IR_PART_IMAGE)
		return gm_media(part, p, where, eb, es, param);
	p->text = json_incref(text);
	if (t == IR_PART_THINKING)
		p->signature =
		    ir_str(gget(part, "thoughtSignature", "thought_signature"));
	return RELAY_OK;
}

static enum relay_err
gm_content(json_t *c, struct ir_msg *m, size_t ci, char *eb, size_t es,
    const char **param)
{
	json_t *parts = json_object_get(c, "parts"), *part;
	enum relay_err err = RELAY_OK;
	char where[96];
	size_t i;

	if (!json_is_array(parts))
		return FAIL("contents",
		    "* GenerateContentRequest.contents[%zu].parts: "
		    "contents.parts "
		    "must not be empty.",
		    ci);
	json_array_foreach (parts, i, part) {
		snprintf(where, sizeof(where),
		    "* GenerateContentRequest.contents[%zu].parts[%zu]", ci, i);
		if (!json_is_object(part))
			return FAIL(
			    "contents", "%s: expected an object", where);
		err = gm_part(part, m, where, eb, es, param);
		if (err != RELAY_OK)
			break;
	}
	return err;
}

/* Tool calls and results need ids in the IR (OpenAI and Anthropic match
 * them by id); Gemini may leave them out and match by name and order. */
static enum relay_err
gm_fix_ids(struct ir_request *r)
{
	struct ir_part *p, *q;
	size_t i, j, k, lastcall = 0, n = 0;
	char buf[32];

	for (i = 0; i < r->nmsgs; i++)
		for (j = 0; j < r->msgs[i].nparts; j++) {
			p = &r->msgs[i].parts[j];
			if (p->type == IR_PART_TOOL_CALL && p->id == NULL) {
				snprintf(buf, sizeof(buf), "call_%zu", ++n);
				p->id = json_string(buf);
				if (p->id == NULL)
					return RELAY_ENOMEM;
			}
			if (p->type == IR_PART_TOOL_CALL)
				lastcall = i;
			if (p->type != IR_PART_TOOL_RESULT || p->id != NULL)
				continue;
			/* The first call of the last model turn by that name
			 * whose id no result of this turn took yet. */
			for (k = 0; k < r->msgs[lastcall].nparts; k++) {
				q = &r->msgs[lastcall].parts[k];
				if (q->type == IR_PART_TOOL_CALL &&
				    !q->is_error &&
				    json_equal(q->name, p->name)) {
					q->is_error = 1; /* used as a mark */
					p->id = json_incref(q->id);
					break;
				}
			}
			if (p->id == NULL)
				p->id = json_incref(p->name);
		}
	for (i = 0; i < r->nmsgs; i++)
		for (j = 0; j < r->msgs[i].nparts; j++)
			if (r->msgs[i].parts[j].type == IR_PART_TOOL_CALL)
				r->msgs[i].parts[j].is_error = 0;
	return RELAY_OK;
}

static enum relay_err
gm_contents(json_t *contents, struct ir_request *r, char *eb, size_t es,
    const char **param)
{
	enum relay_err err = RELAY_OK;
	const char *role;
	struct ir_msg *m;
	json_t *c;
	size_t i;

	if (!json_is_array(contents) || json_array_size(contents) == 0)
		return FAIL("contents",
		    "* GenerateContentRequest.contents: contents is not "
		    "specified");
	json_array_foreach (contents, i, c) {
		role = json_string_value(json_object_get(c, "role"));
		if (role != NULL && strcmp(role, "user") != 0 &&
		    strcmp(role, "model") != 0 && strcmp(role, "function") != 0)
			return FAIL("contents",
			    "Please use a valid role: user, model.");
		err = ir_request_add_msg(r,
		    role != NULL && strcmp(role, "model") == 0
			? IR_ROLE_ASSISTANT
			: IR_ROLE_USER,
		    &m);
		if (err == RELAY_OK)
			err = gm_content(c, m, i, eb, es, param);
		if (err != RELAY_OK)
			return err;
	}
	return gm_fix_ids(r);
}

static enum relay_err
gm_system(
    json_t *si, struct ir_request *r, char *eb, size_t es, const char **param)
{
	json_t *parts = json_object_get(si, "parts"), *part;
	struct ir_part *p;
	enum relay_err err;
	size_t i;

	if (si == NULL || json_is_null(si))
		return RELAY_OK;
	if (json_is_string(si)) {
		err = ir_msg_add_part(&r->system, IR_PART_TEXT, &p);
		if (err == RELAY_OK)
			p->text = json_incref(si);
		return err;
	}
	json_array_foreach (parts, i, part) {
		if (!json_is_string(json_object_get(part, "text")))
			return FAIL("systemInstruction",
			    "* GenerateContentRequest.system_instruction."
			    "parts[%zu]: only text parts are supported",
			    i);
		err = ir_msg_add_part(&r->system, IR_PART_TEXT, &p);
		if (err != RELAY_OK)
			return err;
		p->text = json_incref(json_object_get(part, "text"));
	}
	return RELAY_OK;
}

static enum relay_err
gm_decls(json_t *decls, struct ir_request *r, char *eb, size_t es,
    const char **param)
{
	struct ir_tool *t;
	enum relay_err err;
	json_t *d, *schema;
	size_t i;

	json_array_foreach (decls, i, d) {
		if (!json_is_string(json_object_get(d, "name")))
			return FAIL("tools",
			    "* GenerateContentRequest.tools[0]."
			    "function_declarations[%zu].name: Name is required",
			    i);
		schema =
		    gget(d, "parametersJsonSchema", "parameters_json_schema");
		err = ir_request_add_tool(r, &t);
		if (err != RELAY_OK)
			return err;
		t->name = json_incref(json_object_get(d, "name"));
		t->description = ir_str(json_object_get(d, "description"));
		if (json_is_object(schema))
			t->schema = json_incref(schema);
		else if (json_is_object(json_object_get(d, "parameters"))) {
			/* Gemini's own Schema (OpenAPI form) is no JSON
			 * Schema: upper-case types, nullable, counts as
			 * strings. */
			t->schema = schema_gemini_to_json(
			    json_object_get(d, "parameters"));
			if (t->schema == NULL)
				return RELAY_ENOMEM;
		}
	}
	return RELAY_OK;
}

static enum relay_err
gm_tools(json_t *tools, struct ir_request *r, char *eb, size_t es,
    const char **param)
{
	enum relay_err err = RELAY_OK;
	json_t *t, *decls;
	size_t i;

	json_array_foreach (tools, i, t) {
		decls =
		    gget(t, "functionDeclarations", "function_declarations");
		if (!json_is_array(decls) || json_object_size(t) != 1)
			return FAIL("tools",
			    "* GenerateContentRequest.tools[%zu]: only "
			    "functionDeclarations can be translated for this "
			    "model's provider",
			    i);
		err = gm_decls(decls, r, eb, es, param);
		if (err != RELAY_OK)
			break;
	}
	return err;
}

static enum relay_err
gm_tool_config(json_t *tc, struct ir_request *r)
{
	json_t *fcc =
	    gget(tc, "functionCallingConfig", "function_calling_config");
	json_t *names =
	    gget(fcc, "allowedFunctionNames", "allowed_function_names");
	const char *mode = json_string_value(json_object_get(fcc, "mode"));

	if (mode == NULL)
		return RELAY_OK;
	if (strcmp(mode, "NONE") == 0)
		r->tool_choice = IR_TOOL_CHOICE_NONE;
	else if (strcmp(mode, "ANY") == 0 && json_array_size(names) == 1 &&
	    json_is_string(json_array_get(names, 0))) {
		r->tool_choice = IR_TOOL_CHOICE_TOOL;
		r->tool_choice_name = json_incref(json_array_get(names, 0));
	} else if (strcmp(mode, "ANY") == 0)
		r->tool_choice = IR_TOOL_CHOICE_REQUIRED;
	else
		r->tool_choice = IR_TOOL_CHOICE_AUTO;
	return RELAY_OK;
}

static json_t *
gm_num(json_t *gc, const char *camel, const char *snake)
{
	json_t *v = gget(gc, camel, snake);

	return json_is_number(v) ? json_incref(v) : NULL;
}

static enum relay_err
gm_gen_config(
    json_t *gc, struct ir_request *r, char *eb, size_t es, const char **param)
{
	json_t *stop = gget(gc, "stopSequences", "stop_sequences");
	json_t *mime = gget(gc, "responseMimeType", "response_mime_type");
	json_t *schema = gget(gc, "responseJsonSchema", "response_json_schema");
	json_t *tc = gget(gc, "thinkingConfig", "thinking_config");
	json_t *cc = gget(gc, "candidateCount", "candidate_count");
	long long budget;

	if (gc != NULL && !json_is_object(gc))
		return FAIL("generationConfig",
		    "Invalid JSON payload received. generation_config must be "
		    "an object.");
	if (cc != NULL && ir_count(cc) != 1)
		return FAIL("generationConfig",
		    "* "
		    "GenerateContentRequest.generation_config.candidate_count:"
		    " only 1 can be translated for this model's provider");
	r->temperature = gm_num(gc, "temperature", "temperature");
	r->top_p = gm_num(gc, "topP", "top_p");
	r->top_k = gm_num(gc, "topK", "top_k");
	r->presence_penalty = gm_num(gc, "presencePenalty", "presence_penalty");
	r->frequency_penalty =
	    gm_num(gc, "frequencyPenalty", "frequency_penalty");
	r->seed = gm_num(gc, "seed", "seed");
	r->max_tokens =
	    ir_count(gget(gc, "maxOutputTokens", "max_output_tokens"));
	if (r->max_tokens < 0)
		r->max_tokens = 0;
	r->stop = json_is_array(stop) ? json_incref(stop) : NULL;
	if (json_is_object(schema)) {
		r->format = IR_FORMAT_JSON_SCHEMA;
		r->format_schema = json_incref(schema);
	} else if (json_is_object(
		       gget(gc, "responseSchema", "response_schema"))) {
		r->format = IR_FORMAT_JSON_SCHEMA;
		r->format_schema = schema_gemini_to_json(
		    gget(gc, "responseSchema", "response_schema"));
		if (r->format_schema == NULL)
			return RELAY_ENOMEM;
	} else if (json_is_string(mime) &&
	    strcmp(json_string_value(mime), "application/json") == 0)
		r->format = IR_FORMAT_JSON_OBJECT;
	budget =
	    json_integer_value(gget(tc, "thinkingBudget", "thinking_budget"));
	r->thinking_budget = budget < 0 ? GM_DYNAMIC_BUDGET : budget;
	return RELAY_OK;
}

enum relay_err
wire_gemini_parse_request(struct span body, struct ir_request *r, char *eb,
    size_t es, const char **param)
{
	json_t *root = NULL;
	enum relay_err err;

	*param = NULL;
	err = jsonx_parse(body.p, body.len, &root, eb, es);
	if (err != RELAY_OK)
		goto out;
	if (!json_is_object(root)) {
		err = FAIL(NULL,
		    "Invalid JSON payload received. Expected an "
		    "object.");
		goto out;
	}
	err = gm_contents(json_object_get(root, "contents"), r, eb, es, param);
	if (err == RELAY_OK)
		err = gm_system(
		    gget(root, "systemInstruction", "system_instruction"), r,
		    eb, es, param);
	if (err == RELAY_OK)
		err =
		    gm_tools(json_object_get(root, "tools"), r, eb, es, param);
	if (err == RELAY_OK)
		err =
		    gm_tool_config(gget(root, "toolConfig", "tool_config"), r);
	if (err == RELAY_OK)
		err = gm_gen_config(
		    gget(root, "generationConfig", "generation_config"), r, eb,
		    es, param);
	r->include_usage = 1;
out:
	json_decref(root);
	return err;
}

/* --- request: emit ------------------------------------------------------ */

/* The media type of an image URL, from its extension (fileData needs
 * one; OpenAI and Anthropic URLs come without). */
static const char *
gm_guess_mime(const json_t *url)
{
	const char *u = json_string_value(url);
	size_t n = json_string_length(url);

	if (n >= 4 && memcmp(u + n - 4, ".png", 4) == 0)
		return "image/png";
	if (n >= 4 && memcmp(u + n - 4, ".gif", 4) == 0)
		return "image/gif";
	if (n >= 5 && memcmp(u + n - 5, ".webp", 5) == 0)
		return "image/webp";
	return "image/jpeg";
}

static json_t *
gm_image(const struct ir_part *p)
{
	if (p->data != NULL)
		return json_pack("{s:{s:O,s:O}}", "inlineData", "mimeType",
		    p->media_type, "data", p->data);
	if (p->media_type != NULL)
		return json_pack("{s:{s:O,s:O}}", "fileData", "mimeType",
		    p->media_type, "fileUri", p->url);
	return json_pack("{s:{s:s,s:O}}", "fileData", "mimeType",
	    gm_guess_mime(p->url), "fileUri", p->url);
}

static json_t *
gm_call_json(const struct ir_part *p, int upstream, int *bad, int *invalid)
{
	json_t *o = json_object(), *fc = json_object(), *args;
	int oom = 0;

	args = p->args != NULL ? ir_parse_args(p->args, &oom) : json_object();
	if (args != NULL && !json_is_object(args)) {
		json_decref(args);
		args = NULL;
	}
	*invalid |= args == NULL && !oom;
	*bad |= oom;
	if (args == NULL && !oom)
		args = json_object();
	if (p->id != NULL && json_string_length(p->id) > 0)
		*bad |= ir_set(fc, "id", json_incref(p->id));
	*bad |= ir_set(fc, "name", json_incref(p->name));
	*bad |= ir_set(fc, "args", args);
	*bad |= ir_set(o, "functionCall", fc);
	if (p->signature != NULL)
		*bad |=
		    ir_set(o, "thoughtSignature", json_incref(p->signature));
	else if (upstream)
		*bad |= ir_set(
		    o, "thoughtSignature", json_string(GM_SKIP_SIGNATURE));
	return o;
}

static json_t *
gm_result_json(const struct ir_request *r, const struct ir_part *p)
{
	json_t *name = p->name, *resp, *fr;
	int oom = 0;

	if (name == NULL)
		name = ir_request_tool_name(r, p->id);
	resp = p->text != NULL ? ir_parse_args(p->text, &oom) : NULL;
	if (resp != NULL && !json_is_object(resp)) {
		json_decref(resp);
		resp = NULL;
	}
	if (resp == NULL && !oom)
		resp = json_pack("{s:O}", "content",
		    p->text != NULL ? p->text : json_null());
	fr = json_pack(
	    "{s:O,s:o}", "name", name != NULL ? name : p->id, "response", resp);
	if (fr != NULL && p->id != NULL &&
	    ir_set(fr, "id", json_incref(p->id)) != 0) {
		json_decref(fr);
		fr = NULL;
	}
	return json_pack("{s:o}", "functionResponse", fr);
}

static json_t *
gm_parts(
    const struct ir_request *r, const struct ir_msg *m, int *bad, int *invalid)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < m->nparts; i++) {
		const struct ir_part *p = &m->parts[i];

		switch (p->type) {
		case IR_PART_TEXT:
			if (json_string_length(p->text) > 0)
				*bad |= ir_push(
				    a, json_pack("{s:O}", "text", p->text));
			break;
		case IR_PART_IMAGE: *bad |= ir_push(a, gm_image(p)); break;
		case IR_PART_TOOL_CALL:
			*bad |= ir_push(a, gm_call_json(p, 1, bad, invalid));
			break;
		case IR_PART_TOOL_RESULT:
			*bad |= ir_push(a, gm_result_json(r, p));
			break;
		case IR_PART_THINKING: /* other families' signatures are
					  useless to Gemini */
		case IR_PART_REDACTED_THINKING:
		case IR_PART__MAX: break;
		}
	}
	return a;
}

static json_t *
gm_contents_json(const struct ir_request *r, int *bad, int *invalid)
{
	json_t *a = json_array(), *parts;
	size_t i;

	for (i = 0; i < r->nmsgs; i++) {
		parts = gm_parts(r, &r->msgs[i], bad, invalid);
		if (json_array_size(parts) == 0) {
			json_decref(parts);
			continue;
		}
		*bad |= ir_push(a,
		    json_pack("{s:s,s:o}", "role",
			r->msgs[i].role == IR_ROLE_USER ? "user" : "model",
			"parts", parts));
	}
	return a;
}

static int
gm_system_json(const struct ir_request *r, json_t *o)
{
	json_t *parts;
	int bad = 0;
	size_t i;

	if (r->system.nparts == 0)
		return 0;
	parts = json_array();
	for (i = 0; i < r->system.nparts; i++)
		bad |= ir_push(
		    parts, json_pack("{s:O}", "text", r->system.parts[i].text));
	return bad |
	    ir_set(o, "systemInstruction", json_pack("{s:o}", "parts", parts));
}

static int
gm_tools_json(const struct ir_request *r, json_t *o)
{
	json_t *decls, *d;
	const char *mode = NULL;
	int bad = 0;
	size_t i;

	if (r->ntools == 0)
		return 0;
	decls = json_array();
	for (i = 0; i < r->ntools; i++) {
		d = json_pack("{s:O}", "name", r->tools[i].name);
		if (r->tools[i].description != NULL)
			bad |= ir_set(d, "description",
			    json_incref(r->tools[i].description));
		if (r->tools[i].schema != NULL)
			bad |= ir_set(d, "parametersJsonSchema",
			    json_incref(r->tools[i].schema));
		bad |= ir_push(decls, d);
	}
	bad |= ir_set(
	    o, "tools", json_pack("[{s:o}]", "functionDeclarations", decls));
	switch (r->tool_choice) {
	case IR_TOOL_CHOICE_UNSET: break;
	case IR_TOOL_CHOICE_AUTO: mode = "AUTO"; break;
	case IR_TOOL_CHOICE_NONE: mode = "NONE"; break;
	case IR_TOOL_CHOICE_REQUIRED:
	case IR_TOOL_CHOICE_TOOL: mode = "ANY"; break;
	case IR_TOOL_CHOICE__MAX: break;
	}
	if (mode == NULL)
		return bad;
	d = json_pack("{s:s}", "mode", mode);
	if (r->tool_choice == IR_TOOL_CHOICE_TOOL)
		bad |= ir_set(d, "allowedFunctionNames",
		    json_pack("[O]", r->tool_choice_name));
	return bad |
	    ir_set(o, "toolConfig",
		json_pack("{s:o}", "functionCallingConfig", d));
}

static int
gm_opt(json_t *o, const char *key, json_t *v)
{
	return v != NULL ? ir_set(o, key, json_incref(v)) : 0;
}

static int
gm_gen_json(const struct ir_request *r, json_t *o)
{
	json_t *gc = json_object();
	int bad = 0;

	bad |= gm_opt(gc, "temperature", r->temperature);
	bad |= gm_opt(gc, "topP", r->top_p);
	bad |= gm_opt(gc, "topK", r->top_k);
	bad |= gm_opt(gc, "presencePenalty", r->presence_penalty);
	bad |= gm_opt(gc, "frequencyPenalty", r->frequency_penalty);
	bad |= gm_opt(gc, "seed", r->seed);
	bad |= gm_opt(gc, "stopSequences", r->stop);
	if (r->max_tokens > 0)
		bad |=
		    ir_set(gc, "maxOutputTokens", json_integer(r->max_tokens));
	if (r->format != IR_FORMAT_TEXT)
		bad |= ir_set(
		    gc, "responseMimeType", json_string("application/json"));
	if (r->format == IR_FORMAT_JSON_SCHEMA)
		bad |= gm_opt(gc, "responseJsonSchema", r->format_schema);
	if (r->thinking_budget > 0)
		bad |= ir_set(gc, "thinkingConfig",
		    json_pack("{s:I,s:b}", "thinkingBudget",
			(json_int_t)r->thinking_budget, "includeThoughts", 1));
	if (json_object_size(gc) == 0) {
		json_decref(gc);
		return bad;
	}
	return bad | ir_set(o, "generationConfig", gc);
}

enum relay_err
wire_gemini_emit_request(const struct ir_request *r, const char *model,
    struct buf *out, char *eb, size_t es, const char **param)
{
	json_t *o = json_object();
	enum relay_err err;
	int bad = 0, invalid = 0;

	(void)model; /* Gemini names the model in the URL */
	*param = NULL;
	bad |= ir_set(o, "contents", gm_contents_json(r, &bad, &invalid));
	bad |= gm_system_json(r, o);
	bad |= gm_tools_json(r, o);
	bad |= gm_gen_json(r, o);
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
gm_finish(const char *s, int saw_tool)
{
	static const char *const filtered[] = {"SAFETY", "RECITATION",
	    "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
	    "LANGUAGE"};
	size_t i;

	if (s == NULL)
		return IR_FINISH_NONE;
	if (strcmp(s, "STOP") == 0)
		return saw_tool ? IR_FINISH_TOOL_CALLS : IR_FINISH_STOP;
	if (strcmp(s, "MAX_TOKENS") == 0)
		return IR_FINISH_LENGTH;
	for (i = 0; i < sizeof(filtered) / sizeof(filtered[0]); i++)
		if (strcmp(s, filtered[i]) == 0)
			return IR_FINISH_CONTENT_FILTER;
	return IR_FINISH_OTHER;
}

static const char *
gm_finish_str(enum ir_finish f)
{
	switch (f) {
	case IR_FINISH_LENGTH: return "MAX_TOKENS";
	case IR_FINISH_CONTENT_FILTER:
	case IR_FINISH_REFUSAL: return "SAFETY";
	case IR_FINISH_NONE:
	case IR_FINISH_STOP:
	case IR_FINISH_TOOL_CALLS:
	case IR_FINISH_STOP_SEQUENCE:
	case IR_FINISH_PAUSE:
	case IR_FINISH_OTHER:
	case IR_FINISH__MAX: break;
	}
	return "STOP";
}

/* Gemini's promptTokenCount includes cachedContentTokenCount (as the IR
 * wants); candidatesTokenCount excludes thoughtsTokenCount (the IR's
 * output includes reasoning). */
static void
gm_usage(json_t *um, struct ir_usage *u)
{
	long long cand = ir_count(json_object_get(um, "candidatesTokenCount"));
	long long th = ir_count(json_object_get(um, "thoughtsTokenCount"));

	if (!json_is_object(um))
		return;
	u->input = ir_count(json_object_get(um, "promptTokenCount"));
	u->cache_read =
	    ir_count(json_object_get(um, "cachedContentTokenCount"));
	u->reasoning = th;
	if (cand >= 0 || th >= 0)
		u->output = num_addll_sat(cand > 0 ? cand : 0, th > 0 ? th : 0);
}

static json_t *
gm_usage_json(const struct ir_usage *u)
{
	long long in = u->input > 0 ? u->input : 0;
	long long outt = u->output > 0 ? u->output : 0;
	long long th = u->reasoning > 0 ? u->reasoning : 0;
	json_t *o;

	if (th > outt)
		th = outt;
	o = json_pack("{s:I,s:I,s:I}", "promptTokenCount", (json_int_t)in,
	    "candidatesTokenCount", (json_int_t)(outt - th), "totalTokenCount",
	    (json_int_t)num_addll_sat(in, outt));
	if (o != NULL && th > 0 &&
	    ir_set(o, "thoughtsTokenCount", json_integer(th)) != 0)
		goto fail;
	if (o != NULL && u->cache_read > 0 &&
	    ir_set(o, "cachedContentTokenCount", json_integer(u->cache_read)) !=
		0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static enum relay_err
gm_resp_parts(json_t *parts, struct ir_response *r, int *saw_tool)
{
	enum relay_err err = RELAY_OK;
	const char *param;
	char eb[8], where[8] = "";
	json_t *part;
	size_t i;

	json_array_foreach (parts, i, part) {
		if (!json_is_object(part))
			return RELAY_EPROTO;
		if (json_object_get(part, "text") == NULL &&
		    gget(part, "functionCall", "function_call") == NULL)
			continue; /* executable code and the like */
		err = gm_part(part, &r->msg, where, eb, sizeof(eb), &param);
		if (err == RELAY_EINVAL)
			err = RELAY_EPROTO;
		if (err != RELAY_OK)
			break;
		if (r->msg.parts[r->msg.nparts - 1].type == IR_PART_TOOL_CALL)
			*saw_tool = 1;
	}
	return err;
}

enum relay_err
wire_gemini_parse_response(
    struct span body, struct ir_response *r, char *eb, size_t es)
{
	json_t *root = NULL, *cand, *fr;
	enum relay_err err;
	int saw_tool = 0;

	err = jsonx_parse(body.p, body.len, &root, eb, es);
	if (err == RELAY_EINVAL || (err == RELAY_OK && !json_is_object(root)))
		err = RELAY_EPROTO;
	if (err != RELAY_OK)
		goto out;
	r->id = ir_str(json_object_get(root, "responseId"));
	r->model = ir_str(json_object_get(root, "modelVersion"));
	gm_usage(json_object_get(root, "usageMetadata"), &r->usage);
	cand = json_array_get(json_object_get(root, "candidates"), 0);
	if (cand == NULL) { /* promptFeedback.blockReason */
		r->finish = IR_FINISH_CONTENT_FILTER;
		goto out;
	}
	err = gm_resp_parts(
	    json_object_get(json_object_get(cand, "content"), "parts"), r,
	    &saw_tool);
	fr = json_object_get(cand, "finishReason");
	r->finish_raw = ir_str(fr);
	r->finish = gm_finish(json_string_value(fr), saw_tool);
out:
	json_decref(root);
	return err;
}

static json_t *
gm_resp_parts_json(const struct ir_msg *m, int *bad)
{
	json_t *a = json_array(), *p;
	int invalid = 0;
	size_t i;

	for (i = 0; i < m->nparts; i++) {
		const struct ir_part *ip = &m->parts[i];

		if (ip->type == IR_PART_TEXT)
			p = json_pack("{s:O}", "text", ip->text);
		else if (ip->type == IR_PART_THINKING && ip->text != NULL)
			p = json_pack(
			    "{s:O,s:b}", "text", ip->text, "thought", 1);
		else if (ip->type == IR_PART_TOOL_CALL)
			p = gm_call_json(ip, 0, bad, &invalid);
		else
			continue;
		if (ip->type == IR_PART_THINKING && ip->signature != NULL)
			*bad |= ir_set(
			    p, "thoughtSignature", json_incref(ip->signature));
		*bad |= ir_push(a, p);
	}
	return a;
}

/* One candidate object around parts (consumed). */
static json_t *
gm_candidate(json_t *parts, const char *finish)
{
	json_t *c = json_pack("{s:{s:s,s:o},s:i}", "content", "role", "model",
	    "parts", parts, "index", 0);

	if (c != NULL && finish != NULL &&
	    ir_set(c, "finishReason", json_string(finish)) != 0) {
		json_decref(c);
		c = NULL;
	}
	return c;
}

enum relay_err
wire_gemini_emit_response(const struct ir_response *r, struct buf *out)
{
	json_t *o = json_object(), *a = json_array();
	enum relay_err err;
	int bad = 0;

	bad |= ir_push(a,
	    gm_candidate(
		gm_resp_parts_json(&r->msg, &bad), gm_finish_str(r->finish)));
	bad |= ir_set(o, "candidates", a);
	bad |= ir_set(o, "usageMetadata", gm_usage_json(&r->usage));
	if (r->model != NULL)
		bad |= ir_set(o, "modelVersion", json_incref(r->model));
	if (r->id != NULL)
		bad |= ir_set(o, "responseId", json_incref(r->id));
	err = bad ? RELAY_ENOMEM : jsonx_dump(o, out);
	json_decref(o);
	return err;
}

/* --- errors -------------------------------------------------------------- */

static const char *
gm_status(int status)
{
	switch (status) {
	case 401: return "UNAUTHENTICATED";
	case 403: return "PERMISSION_DENIED";
	case 404: return "NOT_FOUND";
	case 429: return "RESOURCE_EXHAUSTED";
	case 502:
	case 503:
	case 529: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	}
	return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
}

json_t *
wire_gemini_error(int status, const char *type, const char *msg, size_t mlen)
{
	(void)type; /* the status string follows from the HTTP status */
	return json_pack("{s:{s:i,s:s%,s:s}}", "error", "code", status,
	    "message", msg, mlen, "status", gm_status(status));
}

/* --- stream: decode -------------------------------------------------------- */

static enum relay_err
gm_dec_part(struct ir_dec *d, json_t *part, struct ir_norm *n)
{
	json_t *fc = gget(part, "functionCall", "function_call"), *args;
	json_t *sig = gget(part, "thoughtSignature", "thought_signature");
	json_t *text = json_object_get(part, "text");
	enum relay_err err;
	long long key;

	if (json_is_true(json_object_get(part, "thought"))) {
		err = ir_norm_text(n, IR_DELTA_THINKING, jspan(text));
		return err == RELAY_OK ? ir_norm_signature(n, jspan(sig)) : err;
	}
	if (!json_is_object(fc))
		return ir_norm_text(n, IR_DELTA_TEXT, jspan(text));
	d->saw_tool = 1;
	key = d->keys++;
	err = ir_norm_tool(n, key, jspan(json_object_get(fc, "id")),
	    jspan(json_object_get(fc, "name")), jspan(sig));
	args = json_object_get(fc, "args");
	args = json_is_object(args) ? gm_dump(args) : json_string("{}");
	if (err == RELAY_OK)
		err = args != NULL ? ir_norm_args(n, key, jspan(args))
				   : RELAY_ENOMEM;
	json_decref(args);
	return err;
}

static enum relay_err
gm_dec_error(json_t *e, struct ir_norm *n)
{
	long long code = ir_count(json_object_get(e, "code"));

	return ir_norm_error(n, code >= 400 && code <= 599 ? (int)code : 500,
	    jspan(json_object_get(e, "status")),
	    jspan(json_object_get(e, "message")));
}

enum relay_err
wire_gemini_decode(
    struct ir_dec *d, const struct sse_event *ev, struct ir_norm *n)
{
	json_t *root = NULL, *cand, *parts, *part, *fr;
	struct ir_usage usage;
	char eb[128];
	enum relay_err err;
	size_t i;

	if (!ev->has_data)
		return RELAY_OK;
	err = jsonx_parse(ev->data.p, ev->data.len, &root, eb, sizeof(eb));
	if (err != RELAY_OK || !json_is_object(root)) {
		json_decref(root);
		return err == RELAY_ENOMEM ? err : RELAY_EPROTO;
	}
	if (json_is_object(json_object_get(root, "error"))) {
		err = gm_dec_error(json_object_get(root, "error"), n);
		goto out;
	}
	ir_usage_init(&usage);
	gm_usage(json_object_get(root, "usageMetadata"), &usage);
	ir_norm_usage(n, &usage);
	err = ir_norm_start(n, jspan(json_object_get(root, "responseId")),
	    jspan(json_object_get(root, "modelVersion")), 0);
	cand = json_array_get(json_object_get(root, "candidates"), 0);
	parts = json_object_get(json_object_get(cand, "content"), "parts");
	json_array_foreach (parts, i, part) {
		if (err != RELAY_OK)
			break;
		err = gm_dec_part(d, part, n);
	}
	fr = json_object_get(cand, "finishReason");
	if (err == RELAY_OK && json_is_string(fr))
		ir_norm_finish(n, gm_finish(json_string_value(fr), d->saw_tool),
		    jspan(fr));
out:
	json_decref(root);
	return err;
}

/* --- stream: encode -------------------------------------------------------- */

/* One frame: a candidate with parts (consumed), finish and usage when
 * not NULL. */
static enum relay_err
gm_frame(struct ir_enc *e, json_t *parts, const char *finish,
    const struct ir_usage *u, struct buf *out)
{
	json_t *o = json_object(), *a = json_array();
	enum relay_err err;
	int bad = 0;

	bad |= ir_push(a, gm_candidate(parts, finish));
	bad |= ir_set(o, "candidates", a);
	if (u != NULL)
		bad |= ir_set(o, "usageMetadata", gm_usage_json(u));
	bad |= ir_set(o, "modelVersion", json_string(e->model));
	bad |= ir_set(o, "responseId", json_string(e->id));
	err = bad ? RELAY_ENOMEM : ir_sse(out, NULL, o, GM_TERM);
	json_decref(o);
	return err;
}

static enum relay_err
gm_enc_tool_start(struct ir_enc *e, const struct ir_sev *ev)
{
	json_decref(e->tool_id);
	json_decref(e->tool_name);
	json_decref(e->tool_sig);
	e->tool_id = ev->id.len > 0 ? ir_span_json(ev->id) : NULL;
	e->tool_name = ir_span_json(ev->name);
	e->tool_sig =
	    ev->signature.len > 0 ? ir_span_json(ev->signature) : NULL;
	buf_clear(&e->args);
	if (e->tool_name == NULL)
		return RELAY_ENOMEM;
	return ir_enc_set_tool(e, ev->index, e->ntools++);
}

/* Gemini sends a call whole: the fragments gathered are sent at its
 * block's stop. */
static enum relay_err
gm_enc_tool_stop(struct ir_enc *e, struct buf *out)
{
	struct ir_part p;
	json_t *a;
	int bad = 0, invalid = 0;

	memset(&p, 0, sizeof(p));
	p.id = e->tool_id;
	p.name = e->tool_name;
	p.signature = e->tool_sig;
	p.args =
	    json_stringn(e->args.data != NULL ? e->args.data : "", e->args.len);
	if (p.args == NULL)
		return RELAY_ENOMEM;
	a = json_array();
	bad |= ir_push(a, gm_call_json(&p, 0, &bad, &invalid));
	json_decref(p.args);
	if (bad) {
		json_decref(a);
		return RELAY_ENOMEM;
	}
	return gm_frame(e, a, NULL, NULL, out);
}

static enum relay_err
gm_enc_delta(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	json_t *p = NULL;

	switch (ev->delta) {
	case IR_DELTA_TEXT:
		p = json_pack("[{s:s%}]", "text", ev->text.p, ev->text.len);
		break;
	case IR_DELTA_THINKING:
		p = json_pack("[{s:s%,s:b}]", "text", ev->text.p, ev->text.len,
		    "thought", 1);
		break;
	case IR_DELTA_SIGNATURE:
		p = json_pack("[{s:s,s:b,s:s%}]", "text", "", "thought", 1,
		    "thoughtSignature", ev->text.p, ev->text.len);
		break;
	case IR_DELTA_ARGS:
		if (ir_enc_tool(e, ev->index) != (long long)e->ntools - 1)
			return RELAY_OK; /* its call was sent already */
		return buf_append(&e->args, ev->text.p, ev->text.len);
	case IR_DELTA__MAX: return RELAY_OK;
	}
	return gm_frame(e, p, NULL, NULL, out);
}

enum relay_err
wire_gemini_encode(struct ir_enc *e, const struct ir_sev *ev, struct buf *out)
{
	switch (ev->kind) {
	case IR_SEV_START:
		if (ev->id.len > 0)
			ir_copy_span(e->id, sizeof(e->id), ev->id);
		else
			ir_new_id(e->id, sizeof(e->id), "");
		ir_copy_span(e->model, sizeof(e->model), ev->model);
		e->started = 1;
		return RELAY_OK;
	case IR_SEV_BLOCK_START:
		if (ev->part != IR_PART_TOOL_CALL)
			return RELAY_OK;
		return gm_enc_tool_start(e, ev);
	case IR_SEV_DELTA: return gm_enc_delta(e, ev, out);
	case IR_SEV_BLOCK_STOP:
		if (ev->part != IR_PART_TOOL_CALL)
			return RELAY_OK;
		return gm_enc_tool_stop(e, out);
	case IR_SEV_END:
		return gm_frame(e, json_pack("[{s:s}]", "text", ""),
		    gm_finish_str(ev->finish), ev->usage, out);
	case IR_SEV_ERROR: {
		json_t *o = wire_gemini_error(
		    ev->status, NULL, ev->text.p, ev->text.len);
		enum relay_err err = ir_sse(out, NULL, o, GM_TERM);

		json_decref(o);
		return err;
	}
	case IR_SEV__MAX: break;
	}
	return RELAY_OK;
}
