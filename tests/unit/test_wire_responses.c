/* SPDX-License-Identifier: MIT */
/* test_wire_responses.c - unit tests for lib/wire_responses.c through
 * lib/dialect.c: the Responses API in (requests to the three other wires,
 * answers and event streams back), out (a Responses provider for the
 * other clients), errors and replay; the oom-safe group also runs under
 * RELAY_FAIL_ALLOC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/chatreq.h"
#include "../../lib/config.h"
#include "../../lib/dialect.h"
#include "../../lib/jsonx.h"
#include "../../lib/mem.h"
#include "../../lib/rseal.h"
#include "../../lib/target.h"
#include "oom_test.h"

#define OOM_CASE(f) cmocka_unit_test_setup_teardown(f, oom_setup, oom_teardown)

/* --- helpers ------------------------------------------------------------- */

/* The master key xresp() and xstream() seal with (NULL: none), as the
 * provider "an". */
static const struct creds_master *use_master;
static const struct creds_master test_master = {
    .cur = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6,
	4, 3, 3, 8, 3, 2, 7, 9, 5},
    .have_cur = 1,
};

/* A small decimal index ("12"). */
static size_t
idx(const char *s)
{
	size_t n = 0;

	for (; *s >= '0' && *s <= '9'; s++)
		n = n * 10 + (size_t)(*s - '0');
	return n;
}

static json_t *
jp(json_t *v, const char *path)
{
	char key[64];
	const char *dot;
	size_t n;

	while (v != NULL && *path != '\0') {
		dot = strchr(path, '.');
		n = dot != NULL ? (size_t)(dot - path) : strlen(path);
		assert_true(n < sizeof(key));
		memcpy(key, path, n);
		key[n] = '\0';
		if (json_is_array(v))
			v = json_array_get(v, idx(key));
		else
			v = json_object_get(v, key);
		path += n + (dot != NULL);
	}
	return v;
}

static const char *
js(json_t *v, const char *path)
{
	return json_string_value(jp(v, path));
}

static long long
ji(json_t *v, const char *path)
{
	json_t *x = jp(v, path);

	assert_true(json_is_integer(x));
	return json_integer_value(x);
}

static json_t *
load(const struct buf *b)
{
	char eb[128];
	json_t *v = NULL;

	assert_int_equal(
	    jsonx_parse(b->data, b->len, &v, eb, sizeof(eb)), RELAY_OK);
	return v;
}

static json_t *
xreq(enum dialect in, const char *body, enum dialect out,
    struct dialect_req_info *info)
{
	struct buf b;
	char eb[256];
	const char *param;
	json_t *v;
	enum relay_err err;

	buf_init(&b, 1 << 20);
	err = dialect_request(in, span_str(body), out, "up-model", &b, info, eb,
	    sizeof(eb), &param);
	if (err != RELAY_OK)
		fail_msg("dialect_request %d->%d: %s", in, out, eb);
	v = load(&b);
	buf_reset(&b);
	return v;
}

/* A request that must be refused: its param and a word of the message. */
static void
xreq_bad(
    const char *body, enum dialect out, const char *param, const char *word)
{
	struct dialect_req_info info;
	struct buf b;
	char eb[512];
	const char *p = NULL;

	memset(&info, 0, sizeof(info));
	buf_init(&b, 1 << 20);
	assert_int_equal(dialect_request(DIALECT_RESPONSES, span_str(body), out,
			     "up", &b, &info, eb, sizeof(eb), &p),
	    RELAY_EINVAL);
	assert_int_equal(b.len, 0);
	if (param == NULL)
		assert_null(p);
	else
		assert_string_equal(p, param);
	if (strstr(eb, word) == NULL)
		fail_msg("'%s' lacks '%s'", eb, word);
	buf_reset(&b);
}

static json_t *
xresp(enum dialect from, const char *body, enum dialect to, const char *custom,
    struct ir_usage *u)
{
	struct dialect_req_info info;
	struct buf b;
	json_t *v;

	memset(&info, 0, sizeof(info));
	snprintf(info.custom, sizeof(info.custom), "%s", custom);
	info.master = use_master;
	snprintf(info.provider, sizeof(info.provider), "an");
	buf_init(&b, 1 << 20);
	assert_int_equal(
	    dialect_response(from, span_str(body), to, &info, &b, u), RELAY_OK);
	v = load(&b);
	buf_reset(&b);
	return v;
}

struct evs {
	char names[96][64];
	json_t *data[96];
	int done;
	size_t n;
};

static int
collect(void *arg, const struct sse_event *ev)
{
	struct evs *e = arg;
	char eb[128];
	json_t *v = NULL;

	if (!ev->has_data)
		return 0;
	if (span_eq(ev->data, "[DONE]")) {
		e->done++;
		return 0;
	}
	assert_true(e->n < 96);
	assert_int_equal(
	    jsonx_parse(ev->data.p, ev->data.len, &v, eb, sizeof(eb)),
	    RELAY_OK);
	snprintf(e->names[e->n], sizeof(e->names[0]), "%.*s", (int)ev->name.len,
	    ev->name.p);
	e->data[e->n++] = v;
	return 0;
}

struct feed {
	struct dialect_stream *ds;
	struct buf *out;
};

static int
feed_one(void *arg, const struct sse_event *ev)
{
	struct feed *f = arg;

	assert_int_equal(dialect_stream_event(f->ds, ev, f->out), RELAY_OK);
	return 0;
}

/* Translate the upstream transcript up, chunk bytes at a time. */
static void
xstream(enum dialect from, const char *up, enum dialect to, const char *custom,
    size_t chunk, struct evs *e, struct ir_usage *u)
{
	struct dialect_req_info info;
	struct sse_parser in, outp;
	struct buf out;
	struct feed f;
	size_t off, len = strlen(up), n;

	memset(&info, 0, sizeof(info));
	memset(e, 0, sizeof(*e));
	info.include_usage = 1;
	snprintf(info.model, sizeof(info.model), "asked-model");
	snprintf(info.custom, sizeof(info.custom), "%s", custom);
	info.master = use_master;
	snprintf(info.provider, sizeof(info.provider), "an");
	buf_init(&out, 1 << 20);
	sse_init(&in, 1 << 20);
	f.ds = dialect_stream_new(from, to, &info);
	f.out = &out;
	assert_non_null(f.ds);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		assert_int_equal(
		    sse_feed(&in, up + off, n, feed_one, &f), RELAY_OK);
	}
	assert_int_equal(dialect_stream_end(f.ds, &out), RELAY_OK);
	if (u != NULL)
		dialect_stream_usage(f.ds, u);
	dialect_stream_free(f.ds);
	sse_init(&outp, 1 << 20);
	assert_int_equal(sse_feed(&outp, out.data != NULL ? out.data : "",
			     out.len, collect, e),
	    RELAY_OK);
	assert_int_equal(sse_pending(&outp), 0);
	sse_reset(&outp);
	sse_reset(&in);
	buf_reset(&out);
}

static void
evs_free(struct evs *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		json_decref(e->data[i]);
	e->n = 0;
}

/* The index of the first event of type t at or after from; -1: none. */
static long
find(const struct evs *e, const char *t, size_t from)
{
	size_t i;

	for (i = from; i < e->n; i++)
		if (strcmp(js(e->data[i], "type"), t) == 0)
			return (long)i;
	return -1;
}

/* Every event: its SSE name is its type, sequence numbers count from 0. */
static void
check_seq(const struct evs *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		assert_string_equal(e->names[i], js(e->data[i], "type"));
		assert_int_equal(
		    ji(e->data[i], "sequence_number"), (long long)i);
	}
}

/* --- fixtures ------------------------------------------------------------ */

/* A Codex-like turn: instructions, developer message, a user image, a
 * reasoning item, a function call and its output, a custom tool call and
 * its output; function and custom tools. */
static const char RS_REQ[] =
    "{\"model\":\"gpt-5-codex\",\"instructions\":\"You are Codex.\","
    "\"input\":["
    "{\"type\":\"message\",\"role\":\"developer\",\"content\":"
    "[{\"type\":\"input_text\",\"text\":\"Sandbox: read-only.\"}]},"
    "{\"type\":\"message\",\"role\":\"user\",\"content\":["
    "{\"type\":\"input_text\",\"text\":\"List files\"},"
    "{\"type\":\"input_image\",\"image_url\":"
    "\"data:image/png;base64,iVBORw0KGgo=\"}]},"
    "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":"
    "\"summary_text\",\"text\":\"Call ls\"}],\"encrypted_content\":"
    "\"gAAAA+/=sealed\"},"
    "{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_A\","
    "\"name\":\"shell\",\"arguments\":\"{\\\"cmd\\\":[\\\"ls\\\"]}\"},"
    "{\"type\":\"function_call_output\",\"call_id\":\"call_A\","
    "\"output\":\"a.txt\"},"
    "{\"type\":\"custom_tool_call\",\"call_id\":\"call_B\",\"name\":"
    "\"apply_patch\",\"input\":\"*** Begin Patch\\n*** End Patch\"},"
    "{\"type\":\"custom_tool_call_output\",\"call_id\":\"call_B\","
    "\"output\":\"Done\"},"
    "{\"role\":\"user\",\"content\":\"go on\"}],"
    "\"tools\":[{\"type\":\"function\",\"name\":\"shell\",\"description\":"
    "\"Run\",\"strict\":false,\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"cmd\":{\"type\":\"array\"}}}},"
    "{\"type\":\"custom\",\"name\":\"apply_patch\",\"description\":"
    "\"Patch files\",\"format\":{\"type\":\"grammar\",\"syntax\":\"lark\","
    "\"definition\":\"start: x\"}}],"
    "\"tool_choice\":\"auto\",\"parallel_tool_calls\":false,"
    "\"reasoning\":{\"effort\":\"medium\",\"summary\":\"auto\"},"
    "\"store\":false,\"stream\":true,\"include\":"
    "[\"reasoning.encrypted_content\"],\"prompt_cache_key\":\"k1\","
    "\"max_output_tokens\":700,\"temperature\":0.3,\"top_p\":0.8,"
    "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"out\","
    "\"schema\":{\"type\":\"object\"}}},\"metadata\":{\"a\":\"b\"},"
    "\"safety_identifier\":\"u1\"}";

/* An OpenAI Chat Completions stream: text then a call of the custom
 * tool, with usage (cached and reasoning tokens). */
static const char OA_STREAM[] =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1700000000,\"model\":\"gpt-up\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"Hé\"}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"content\":\"llo\"}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"tool_calls\":[{\"index\":0,\"id\":\"call_9\",\"type\":\"function\","
    "\"function\":{\"name\":\"apply_patch\",\"arguments\":\"{\\\"inp\"}}]}}"
    "]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
    "\"ut\\\":\\\"P\\\\n\\\"}\"}}]}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{"
    "\"prompt_tokens\":50,\"completion_tokens\":20,\"total_tokens\":70,"
    "\"prompt_tokens_details\":{\"cached_tokens\":30},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":5}}}\n\n"
    "data: [DONE]\n\n";

/* An Anthropic stream with thinking (signature) and text. */
static const char AN_STREAM[] =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-up\",\"content\":[],\"usage\":{\"input_tokens\":10,"
    "\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    "\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":"
    "\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":"
    "\"Hmm.\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":"
    "\"SIG+/=\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
    "\"index\":0}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    "\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
    "\"index\":1}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
    "{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":9}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/* A Responses API answer (a provider speaking it): reasoning, text, a
 * function call. */
static const char RS_RESP[] =
    "{\"id\":\"resp_up\",\"object\":\"response\",\"created_at\":1700000001,"
    "\"status\":\"completed\",\"model\":\"gpt-5-pro\",\"output\":["
    "{\"type\":\"reasoning\",\"id\":\"rs_9\",\"summary\":[{\"type\":"
    "\"summary_text\",\"text\":\"Think\"}],\"encrypted_content\":\"ENC\"},"
    "{\"type\":\"message\",\"id\":\"msg_9\",\"role\":\"assistant\","
    "\"status\":\"completed\",\"content\":[{\"type\":\"output_text\","
    "\"text\":\"Sure\",\"annotations\":[]}]},"
    "{\"type\":\"function_call\",\"id\":\"fc_9\",\"call_id\":\"call_9\","
    "\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\","
    "\"status\":\"completed\"}],"
    "\"usage\":{\"input_tokens\":40,\"input_tokens_details\":{"
    "\"cached_tokens\":8},\"output_tokens\":12,\"output_tokens_details\":"
    "{\"reasoning_tokens\":4},\"total_tokens\":52}}";

/* The same as a Responses event stream (as OpenAI sends it). */
static const char RS_STREAM[] =
    "event: response.created\ndata: {\"type\":\"response.created\","
    "\"sequence_number\":0,\"response\":{\"id\":\"resp_up\",\"object\":"
    "\"response\",\"created_at\":1700000001,\"status\":\"in_progress\","
    "\"model\":\"gpt-5-pro\",\"output\":[]}}\n\n"
    "event: response.output_item.added\ndata: {\"type\":"
    "\"response.output_item.added\",\"sequence_number\":1,"
    "\"output_index\":0,\"item\":{\"type\":\"reasoning\",\"id\":\"rs_9\","
    "\"summary\":[]}}\n\n"
    "event: response.reasoning_summary_text.delta\ndata: {\"type\":"
    "\"response.reasoning_summary_text.delta\",\"sequence_number\":2,"
    "\"output_index\":0,\"summary_index\":0,\"delta\":\"Think\"}\n\n"
    "event: response.output_item.done\ndata: {\"type\":"
    "\"response.output_item.done\",\"sequence_number\":3,\"output_index\":0,"
    "\"item\":{\"type\":\"reasoning\",\"id\":\"rs_9\",\"summary\":[{"
    "\"type\":\"summary_text\",\"text\":\"Think\"}],\"encrypted_content\":"
    "\"ENC\"}}\n\n"
    "event: response.output_item.added\ndata: {\"type\":"
    "\"response.output_item.added\",\"sequence_number\":4,"
    "\"output_index\":1,\"item\":{\"type\":\"message\",\"id\":\"msg_9\","
    "\"role\":\"assistant\",\"content\":[]}}\n\n"
    "event: response.output_text.delta\ndata: {\"type\":"
    "\"response.output_text.delta\",\"sequence_number\":5,"
    "\"output_index\":1,\"content_index\":0,\"item_id\":\"msg_9\","
    "\"delta\":\"Su\"}\n\n"
    "event: response.output_text.delta\ndata: {\"type\":"
    "\"response.output_text.delta\",\"sequence_number\":6,"
    "\"output_index\":1,\"content_index\":0,\"item_id\":\"msg_9\","
    "\"delta\":\"re\"}\n\n"
    "event: response.output_item.done\ndata: {\"type\":"
    "\"response.output_item.done\",\"sequence_number\":7,\"output_index\":1,"
    "\"item\":{\"type\":\"message\"}}\n\n"
    "event: response.output_item.added\ndata: {\"type\":"
    "\"response.output_item.added\",\"sequence_number\":8,"
    "\"output_index\":2,\"item\":{\"type\":\"function_call\",\"id\":"
    "\"fc_9\",\"call_id\":\"call_9\",\"name\":\"get_weather\","
    "\"arguments\":\"\"}}\n\n"
    "event: response.function_call_arguments.delta\ndata: {\"type\":"
    "\"response.function_call_arguments.delta\",\"sequence_number\":9,"
    "\"output_index\":2,\"delta\":\"{\\\"city\\\":\"}\n\n"
    "event: response.function_call_arguments.delta\ndata: {\"type\":"
    "\"response.function_call_arguments.delta\",\"sequence_number\":10,"
    "\"output_index\":2,\"delta\":\"\\\"Oslo\\\"}\"}\n\n"
    "event: response.output_item.done\ndata: {\"type\":"
    "\"response.output_item.done\",\"sequence_number\":11,"
    "\"output_index\":2,\"item\":{\"type\":\"function_call\"}}\n\n"
    "event: response.completed\ndata: {\"type\":\"response.completed\","
    "\"sequence_number\":12,\"response\":{\"id\":\"resp_up\",\"status\":"
    "\"completed\",\"output\":[],\"usage\":{\"input_tokens\":40,"
    "\"input_tokens_details\":{\"cached_tokens\":8},\"output_tokens\":12,"
    "\"output_tokens_details\":{\"reasoning_tokens\":4},"
    "\"total_tokens\":52}}}\n\n";

/* --- requests in ----------------------------------------------------------- */

static void
test_req_to_anthropic(void **state)
{
	struct dialect_req_info info;
	json_t *v, *m;
	char *sys;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_RESPONSES, RS_REQ, DIALECT_ANTHROPIC, &info);
	assert_int_equal(info.stream, 1);
	assert_string_equal(info.model, "gpt-5-codex");
	assert_string_equal(info.custom, "\napply_patch\n");
	/* instructions and the developer message: the system prompt */
	assert_non_null(strstr(js(v, "system.0.text"), "You are Codex."));
	sys = json_dumps(jp(v, "system"), 0);
	assert_non_null(strstr(sys, "Sandbox: read-only."));
	mem_free(sys); /* jansson allocates through lib/mem.c */
	m = jp(v, "messages");
	assert_string_equal(js(m, "0.role"), "user");
	assert_string_equal(js(m, "0.content.0.text"), "List files");
	assert_string_equal(js(m, "0.content.1.type"), "image");
	assert_string_equal(
	    js(m, "0.content.1.source.media_type"), "image/png");
	/* the reasoning item is OpenAI's own (not the relay's): left out */
	assert_string_equal(js(m, "1.role"), "assistant");
	assert_int_equal(json_array_size(jp(m, "1.content")), 1);
	assert_string_equal(js(m, "1.content.0.type"), "tool_use");
	assert_string_equal(js(m, "1.content.0.id"), "call_A");
	assert_string_equal(js(m, "1.content.0.input.cmd.0"), "ls");
	assert_string_equal(js(m, "2.content.0.type"), "tool_result");
	assert_string_equal(js(m, "2.content.0.tool_use_id"), "call_A");
	/* the custom call: its input as the one argument */
	assert_string_equal(js(m, "3.content.0.name"), "apply_patch");
	assert_string_equal(
	    js(m, "3.content.0.input.input"), "*** Begin Patch\n*** End Patch");
	assert_string_equal(js(m, "4.content.0.tool_use_id"), "call_B");
	assert_string_equal(js(m, "4.content.1.text"), "go on");
	/* tools: the custom one as a one-string function */
	assert_string_equal(js(v, "tools.0.name"), "shell");
	assert_string_equal(js(v, "tools.1.name"), "apply_patch");
	assert_string_equal(
	    js(v, "tools.1.input_schema.properties.input.type"), "string");
	assert_string_equal(js(v, "tools.1.input_schema.required.0"), "input");
	assert_true(
	    json_is_true(jp(v, "tool_choice.disable_parallel_tool_use")));
	assert_string_equal(js(v, "thinking.type"), "enabled");
	assert_true(json_is_true(jp(v, "stream")));
	json_decref(v);
}

static void
test_req_to_openai_and_gemini(void **state)
{
	struct dialect_req_info info;
	json_t *v, *m;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_RESPONSES, RS_REQ, DIALECT_OPENAI, &info);
	m = jp(v, "messages");
	assert_string_equal(js(m, "0.role"), "system");
	assert_string_equal(js(v, "model"), "up-model");
	assert_int_equal(ji(v, "max_completion_tokens"), 700);
	assert_string_equal(js(v, "reasoning_effort"), "medium");
	assert_string_equal(js(v, "response_format.type"), "json_schema");
	assert_string_equal(js(v, "response_format.json_schema.name"), "out");
	assert_true(json_is_false(jp(v, "parallel_tool_calls")));
	assert_string_equal(js(v, "tools.1.function.name"), "apply_patch");
	assert_true(json_is_true(jp(v, "stream_options.include_usage")));
	/* OpenAI's own fields only to its Responses API (compatible vendors
	 * may refuse them); the user goes everywhere. */
	assert_null(jp(v, "safety_identifier"));
	assert_null(jp(v, "prompt_cache_key"));
	json_decref(v);
	v = xreq(DIALECT_RESPONSES, RS_REQ, DIALECT_GEMINI, &info);
	assert_non_null(jp(v, "systemInstruction"));
	assert_int_equal(ji(v, "generationConfig.maxOutputTokens"), 700);
	assert_string_equal(
	    js(v, "generationConfig.responseMimeType"), "application/json");
	json_decref(v);
	/* A namespace (Codex's sub-agent tools) is flattened. */
	v = xreq(DIALECT_RESPONSES,
	    "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":"
	    "\"namespace\",\"name\":\"ns\",\"tools\":[{\"type\":\"function\","
	    "\"name\":\"f1\",\"parameters\":{\"type\":\"object\"}},{\"type\":"
	    "\"custom\",\"name\":\"c1\"}]},{\"type\":\"function\",\"name\":"
	    "\"f2\"}]}",
	    DIALECT_OPENAI, &info);
	assert_string_equal(js(v, "tools.0.function.name"), "f1");
	assert_string_equal(js(v, "tools.1.function.name"), "c1");
	assert_string_equal(js(v, "tools.2.function.name"), "f2");
	assert_string_equal(info.custom, "\nc1\n");
	json_decref(v);
	/* A plain string input is one user message. */
	v = xreq(DIALECT_RESPONSES,
	    "{\"model\":\"m\",\"input\":\"hey\",\"user\":\"u9\"}",
	    DIALECT_OPENAI, &info);
	assert_string_equal(js(v, "user"), "u9");
	assert_string_equal(js(v, "messages.0.role"), "user");
	assert_string_equal(js(v, "messages.0.content"), "hey");
	assert_int_equal(info.stream, 0);
	assert_string_equal(info.custom, "");
	json_decref(v);
}

static void
test_req_invalid(void **state)
{
	(void)state;
	xreq_bad("{\"model\":\"m\",\"input\":\"x\",\"previous_response_id\":"
		 "\"resp_1\"}",
	    DIALECT_ANTHROPIC, "previous_response_id", "history");
	xreq_bad("{\"model\":\"m\",\"input\":\"x\",\"conversation\":\"c\"}",
	    DIALECT_OPENAI, "conversation", "history");
	xreq_bad("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":"
		 "\"web_search\"}]}",
	    DIALECT_GEMINI, "tools", "web_search");
	xreq_bad("{\"model\":\"m\"}", DIALECT_OPENAI, "input", "input");
	xreq_bad("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":"
		 "\"namespace\",\"name\":\"n\",\"tools\":[{\"type\":"
		 "\"web_search\"}]}]}",
	    DIALECT_ANTHROPIC, "tools", "namespace");
	xreq_bad("{\"model\":\"m\",\"input\":[]}", DIALECT_OPENAI, "input",
	    "at least one");
	xreq_bad("{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\","
		 "\"id\":\"x\"}]}",
	    DIALECT_OPENAI, "input", "item_reference");
	xreq_bad("{\"model\":\"m\",\"input\":[{\"role\":\"tool\",\"content\":"
		 "\"x\"}]}",
	    DIALECT_OPENAI, "input", "role");
	xreq_bad("{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":0}",
	    DIALECT_OPENAI, "max_output_tokens", ">= 1");
	xreq_bad("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":"
		 "[{\"type\":\"input_image\",\"file_id\":\"f\"}]}]}",
	    DIALECT_OPENAI, "input", "file_id");
	xreq_bad("{\"input\":\"x\"}", DIALECT_OPENAI, "model", "model");
	xreq_bad("[1]", DIALECT_OPENAI, NULL, "object");
}

/* --- answers in ------------------------------------------------------------ */

static void
test_resp_from_openai(void **state)
{
	static const char oa[] =
	    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":"
	    "1700000000,\"model\":\"gpt-up\",\"choices\":[{\"index\":0,"
	    "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
	    "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
	    "\"function\":{\"name\":\"apply_patch\",\"arguments\":"
	    "\"{\\\"input\\\":\\\"P\\\"}\"}},{\"id\":\"call_2\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
	    "\"{\\\"a\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}],"
	    "\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":20,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":30},"
	    "\"completion_tokens_details\":{\"reasoning_tokens\":5}}}";
	struct ir_usage u;
	json_t *v;

	(void)state;
	v = xresp(DIALECT_OPENAI, oa, DIALECT_RESPONSES, "\napply_patch\n", &u);
	assert_string_equal(js(v, "object"), "response");
	assert_memory_equal(js(v, "id"), "resp_", 5);
	assert_string_equal(js(v, "status"), "completed");
	assert_string_equal(js(v, "model"), "gpt-up");
	assert_int_equal(ji(v, "created_at"), 1700000000);
	assert_string_equal(js(v, "output.0.type"), "message");
	assert_string_equal(js(v, "output.0.content.0.type"), "output_text");
	assert_string_equal(js(v, "output.0.content.0.text"), "Hi");
	assert_string_equal(js(v, "output.1.type"), "custom_tool_call");
	assert_string_equal(js(v, "output.1.input"), "P");
	assert_string_equal(js(v, "output.1.call_id"), "call_1");
	assert_string_equal(js(v, "output.2.type"), "function_call");
	assert_string_equal(js(v, "output.2.arguments"), "{\"a\":1}");
	assert_int_equal(ji(v, "usage.input_tokens"), 50);
	assert_int_equal(ji(v, "usage.input_tokens_details.cached_tokens"), 30);
	assert_int_equal(ji(v, "usage.output_tokens"), 20);
	assert_int_equal(
	    ji(v, "usage.output_tokens_details.reasoning_tokens"), 5);
	assert_int_equal(ji(v, "usage.total_tokens"), 70);
	assert_int_equal(u.input, 50);
	json_decref(v);
}

static void
test_resp_incomplete(void **state)
{
	static const char an[] =
	    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"claude-up\",\"content\":[{\"type\":\"thinking\","
	    "\"thinking\":\"T\",\"signature\":\"S/+=\"},{\"type\":\"text\","
	    "\"text\":\"cut\"}],\"stop_reason\":\"max_tokens\",\"usage\":{"
	    "\"input_tokens\":5,\"cache_read_input_tokens\":3,"
	    "\"output_tokens\":7}}";
	json_t *v;

	(void)state;
	v = xresp(DIALECT_ANTHROPIC, an, DIALECT_RESPONSES, "", NULL);
	assert_string_equal(js(v, "status"), "incomplete");
	assert_string_equal(
	    js(v, "incomplete_details.reason"), "max_output_tokens");
	assert_string_equal(js(v, "output.0.type"), "reasoning");
	assert_string_equal(js(v, "output.0.summary.0.text"), "T");
	/* no master key: no encrypted_content (never the raw signature) */
	assert_null(jp(v, "output.0.encrypted_content"));
	assert_string_equal(js(v, "output.1.content.0.text"), "cut");
	assert_int_equal(ji(v, "usage.input_tokens"), 8);
	assert_int_equal(ji(v, "usage.input_tokens_details.cached_tokens"), 3);
	json_decref(v);
}

/* --- streams in ------------------------------------------------------------ */

static void
test_stream_from_openai(void **state)
{
	static const size_t chunks[] = {1, 7, 4096};
	struct ir_usage u;
	struct evs e;
	size_t c;
	long i, j;

	(void)state;
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		xstream(DIALECT_OPENAI, OA_STREAM, DIALECT_RESPONSES,
		    "\napply_patch\n", chunks[c], &e, &u);
		check_seq(&e);
		assert_int_equal(e.done, 0);
		assert_string_equal(js(e.data[0], "type"), "response.created");
		assert_string_equal(
		    js(e.data[0], "response.status"), "in_progress");
		assert_string_equal(js(e.data[0], "response.model"), "gpt-up");
		i = find(&e, "response.output_item.added", 0);
		assert_true(i > 0);
		assert_string_equal(js(e.data[i], "item.type"), "message");
		assert_string_equal(
		    js(e.data[i + 1], "type"), "response.content_part.added");
		/* the text, split inside "é" by the 1-byte chunking or
		 * not, comes out whole in its .done */
		j = find(&e, "response.output_text.done", 0);
		assert_string_equal(js(e.data[j], "text"), "Héllo");
		assert_string_equal(
		    js(e.data[j + 1], "type"), "response.content_part.done");
		assert_string_equal(
		    js(e.data[j + 2], "type"), "response.output_item.done");
		assert_string_equal(
		    js(e.data[j + 2], "item.content.0.text"), "Héllo");
		/* the custom tool's call: its input told whole */
		i = find(&e, "response.output_item.added", (size_t)j);
		assert_string_equal(
		    js(e.data[i], "item.type"), "custom_tool_call");
		assert_int_equal(ji(e.data[i], "output_index"), 1);
		assert_int_equal(
		    find(&e, "response.function_call_arguments.delta", 0), -1);
		j = find(&e, "response.custom_tool_call_input.done", 0);
		assert_string_equal(js(e.data[j], "input"), "P\n");
		j = find(&e, "response.output_item.done", (size_t)j);
		assert_string_equal(js(e.data[j], "item.input"), "P\n");
		assert_string_equal(js(e.data[j], "item.name"), "apply_patch");
		assert_string_equal(js(e.data[j], "item.call_id"), "call_9");
		/* the end: the whole response with usage */
		assert_string_equal(
		    js(e.data[e.n - 1], "type"), "response.completed");
		assert_string_equal(
		    js(e.data[e.n - 1], "response.output.1.type"),
		    "custom_tool_call");
		assert_int_equal(ji(e.data[e.n - 1],
				     "response.usage.input_tokens_details."
				     "cached_tokens"),
		    30);
		assert_int_equal(ji(e.data[e.n - 1],
				     "response.usage.output_tokens_details."
				     "reasoning_tokens"),
		    5);
		assert_int_equal(u.output, 20);
		evs_free(&e);
	}
}

static void
test_stream_from_anthropic(void **state)
{
	struct evs e;
	long i;

	(void)state;
	xstream(
	    DIALECT_ANTHROPIC, AN_STREAM, DIALECT_RESPONSES, "", 5, &e, NULL);
	check_seq(&e);
	i = find(&e, "response.output_item.added", 0);
	assert_string_equal(js(e.data[i], "item.type"), "reasoning");
	assert_string_equal(
	    js(e.data[i + 1], "type"), "response.reasoning_summary_part.added");
	i = find(&e, "response.reasoning_summary_text.delta", 0);
	assert_string_equal(js(e.data[i], "delta"), "Hmm.");
	i = find(&e, "response.output_item.done", 0);
	assert_null(jp(e.data[i], "item.encrypted_content"));
	assert_string_equal(js(e.data[i], "item.summary.0.text"), "Hmm.");
	/* max_tokens: response.incomplete */
	assert_string_equal(js(e.data[e.n - 1], "type"), "response.incomplete");
	assert_string_equal(
	    js(e.data[e.n - 1], "response.incomplete_details.reason"),
	    "max_output_tokens");
	assert_string_equal(
	    js(e.data[e.n - 1], "response.output.1.content.0.text"), "Hi");
	evs_free(&e);
}

/* An upstream error mid-stream: response.failed with Codex's codes. */
static void
test_stream_error(void **state)
{
	static const char up[] =
	    "event: message_start\ndata: {\"type\":\"message_start\","
	    "\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{}}}\n\n"
	    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
	    "\"rate_limit_error\",\"message\":\"Please try again in 3s\"}}\n\n";
	struct evs e;

	(void)state;
	xstream(DIALECT_ANTHROPIC, up, DIALECT_RESPONSES, "", 4096, &e, NULL);
	check_seq(&e);
	assert_string_equal(js(e.data[e.n - 1], "type"), "response.failed");
	assert_string_equal(js(e.data[e.n - 1], "response.status"), "failed");
	assert_string_equal(
	    js(e.data[e.n - 1], "response.error.code"), "rate_limit_exceeded");
	assert_string_equal(js(e.data[e.n - 1], "response.error.message"),
	    "Please try again in 3s");
	evs_free(&e);
}

/* --- Responses out: a Responses API provider for the other clients ------ */

static void
test_out_request(void **state)
{
	static const char an[] =
	    "{\"model\":\"claude\",\"max_tokens\":900,\"system\":\"Be brief.\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
	    "\"thinking\":\"T\",\"signature\":\"ENC\"},{\"type\":\"tool_use\","
	    "\"id\":\"call_1\",\"name\":\"f\",\"input\":{\"a\":1}}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
	    "\"tool_use_id\":\"call_1\",\"content\":\"ok\"}]}],"
	    "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":"
	    "\"object\"}}],\"tool_choice\":{\"type\":\"any\"},"
	    "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2000},"
	    "\"stream\":true}";
	struct dialect_req_info info;
	json_t *v, *in;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_ANTHROPIC, an, DIALECT_RESPONSES, &info);
	assert_string_equal(js(v, "model"), "up-model");
	assert_string_equal(js(v, "instructions"), "Be brief.");
	in = jp(v, "input");
	assert_string_equal(js(in, "0.type"), "message");
	assert_string_equal(js(in, "0.content.0.type"), "input_text");
	assert_string_equal(js(in, "1.type"), "reasoning");
	assert_string_equal(js(in, "1.encrypted_content"), "ENC");
	assert_string_equal(js(in, "2.type"), "function_call");
	assert_string_equal(js(in, "2.call_id"), "call_1");
	assert_string_equal(js(in, "3.type"), "function_call_output");
	assert_string_equal(js(in, "3.output"), "ok");
	assert_string_equal(js(v, "tools.0.type"), "function");
	assert_string_equal(js(v, "tool_choice"), "required");
	assert_string_equal(js(v, "reasoning.effort"), "medium");
	assert_string_equal(js(v, "include.0"), "reasoning.encrypted_content");
	assert_int_equal(ji(v, "max_output_tokens"), 900);
	assert_true(json_is_true(jp(v, "stream")));
	assert_true(json_is_false(jp(v, "store")));
	json_decref(v);
	/* OpenAI's own request fields between its two wires. */
	v = xreq(DIALECT_OPENAI,
	    "{\"model\":\"m\",\"user\":\"u\",\"safety_identifier\":\"s\","
	    "\"prompt_cache_key\":\"c\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}]}",
	    DIALECT_RESPONSES, &info);
	assert_string_equal(js(v, "user"), "u");
	assert_string_equal(js(v, "safety_identifier"), "s");
	assert_string_equal(js(v, "prompt_cache_key"), "c");
	json_decref(v);
}

static void
test_out_response_and_stream(void **state)
{
	struct ir_usage u;
	struct evs e;
	json_t *v;
	long i;

	(void)state;
	v = xresp(DIALECT_RESPONSES, RS_RESP, DIALECT_OPENAI, "", &u);
	assert_string_equal(js(v, "choices.0.message.content"), "Sure");
	assert_string_equal(
	    js(v, "choices.0.message.reasoning_content"), "Think");
	assert_string_equal(
	    js(v, "choices.0.message.tool_calls.0.id"), "call_9");
	assert_string_equal(js(v, "choices.0.finish_reason"), "tool_calls");
	assert_int_equal(ji(v, "usage.prompt_tokens"), 40);
	assert_int_equal(u.cache_read, 8);
	json_decref(v);
	v = xresp(DIALECT_RESPONSES, RS_RESP, DIALECT_ANTHROPIC, "", NULL);
	assert_string_equal(js(v, "content.0.type"), "thinking");
	assert_string_equal(js(v, "content.0.signature"), "ENC");
	assert_string_equal(js(v, "stop_reason"), "tool_use");
	json_decref(v);
	xstream(DIALECT_RESPONSES, RS_STREAM, DIALECT_ANTHROPIC, "", 3, &e, &u);
	i = find(&e, "content_block_start", 0);
	assert_string_equal(js(e.data[i], "content_block.type"), "thinking");
	i = find(&e, "content_block_delta", 0);
	assert_string_equal(js(e.data[i], "delta.thinking"), "Think");
	i = find(&e, "content_block_delta", (size_t)i + 1);
	assert_string_equal(js(e.data[i], "delta.signature"), "ENC");
	i = find(&e, "content_block_start", (size_t)i);
	assert_string_equal(js(e.data[i], "content_block.type"), "text");
	i = find(&e, "content_block_start", (size_t)i + 1);
	assert_string_equal(js(e.data[i], "content_block.type"), "tool_use");
	assert_string_equal(js(e.data[i], "content_block.id"), "call_9");
	assert_string_equal(
	    js(e.data[e.n - 2], "delta.stop_reason"), "tool_use");
	assert_string_equal(js(e.data[e.n - 1], "type"), "message_stop");
	assert_int_equal(u.input, 40);
	assert_int_equal(u.output, 12);
	evs_free(&e);
	/* the OpenAI client: its tool call's arguments joined */
	xstream(
	    DIALECT_RESPONSES, RS_STREAM, DIALECT_OPENAI, "", 4096, &e, NULL);
	assert_int_equal(e.done, 1);
	evs_free(&e);
}

/* --- errors and replay ----------------------------------------------------- */

static void
test_errors(void **state)
{
	struct buf b;
	json_t *v;

	(void)state;
	buf_init(&b, 1 << 16);
	assert_int_equal(dialect_error_body(DIALECT_RESPONSES, 429,
			     "rate_limit_exceeded", "slow", &b),
	    RELAY_OK);
	v = load(&b);
	assert_string_equal(js(v, "error.message"), "slow");
	assert_string_equal(js(v, "error.type"), "rate_limit_error");
	assert_string_equal(js(v, "error.code"), "rate_limit_exceeded");
	json_decref(v);
	buf_clear(&b);
	assert_int_equal(dialect_error_event(DIALECT_RESPONSES, 503, NULL,
			     "upstream went away", &b),
	    RELAY_OK);
	assert_memory_equal(b.data, "event: response.failed\ndata: {", 30);
	assert_non_null(strstr(b.data, "\"server_error\""));
	assert_non_null(strstr(b.data, "upstream went away"));
	buf_clear(&b);
	assert_int_equal(
	    dialect_error_translate(DIALECT_ANTHROPIC,
		span_str("{\"type\":\"error\",\"error\":{\"type\":"
			 "\"overloaded_error\",\"message\":\"busy\"}}"),
		529, DIALECT_RESPONSES, &b),
	    RELAY_OK);
	v = load(&b);
	assert_string_equal(js(v, "error.message"), "busy");
	assert_string_equal(js(v, "error.code"), "overloaded_error");
	json_decref(v);
	buf_reset(&b);
	assert_int_equal(
	    dialect_error_family(DIALECT_RESPONSES), DIALECT_OPENAI);
	assert_string_equal(dialect_name(DIALECT_RESPONSES), "responses");
}

/* A recorded Responses stream told as the whole answer and back. */
static void
test_replay(void **state)
{
	struct dialect_req_info info;
	struct buf b, s;
	json_t *v;

	(void)state;
	assert_true(dialect_stream_text_complete(
	    DIALECT_RESPONSES, span_str(RS_STREAM)));
	assert_false(dialect_stream_text_complete(DIALECT_RESPONSES,
	    (struct span){RS_STREAM, strlen(RS_STREAM) - 60}));
	buf_init(&b, 1 << 20);
	assert_int_equal(dialect_stream_to_response(
			     DIALECT_RESPONSES, span_str(RS_STREAM), NULL, &b),
	    RELAY_OK);
	v = load(&b);
	assert_string_equal(js(v, "output.0.type"), "reasoning");
	assert_string_equal(js(v, "output.0.encrypted_content"), "ENC");
	assert_string_equal(js(v, "output.1.content.0.text"), "Sure");
	assert_string_equal(js(v, "output.2.arguments"), "{\"city\":\"Oslo\"}");
	assert_int_equal(ji(v, "usage.total_tokens"), 52);
	json_decref(v);
	memset(&info, 0, sizeof(info));
	buf_init(&s, 1 << 20);
	assert_int_equal(dialect_response_to_stream(DIALECT_RESPONSES,
			     (struct span){b.data, b.len}, &info, &s),
	    RELAY_OK);
	assert_true(dialect_stream_text_complete(
	    DIALECT_RESPONSES, (struct span){s.data, s.len}));
	assert_non_null(strstr(s.data, "event: response.completed"));
	assert_null(strstr(s.data, "custom_tool_call"));
	/* A replay remembers the request's custom tools. */
	buf_clear(&s);
	snprintf(info.custom, sizeof(info.custom), "\nget_weather\n");
	assert_int_equal(dialect_response_to_stream(DIALECT_RESPONSES,
			     (struct span){b.data, b.len}, &info, &s),
	    RELAY_OK);
	assert_non_null(strstr(s.data, "\"type\":\"custom_tool_call\""));
	buf_reset(&s);
	buf_reset(&b);
}

/* --- the provider side: config and target --------------------------------- */

#define CFG_API(type, api)                                                     \
	"{\"memcached\":{\"servers\":[\"127.0.0.1:11211\"]},\"providers\":"    \
	"[{\"name\":\"p\",\"type\":\"" type "\",\"base_url\":"                 \
	"\"http://127.0.0.1:9\",\"api_keys\":[\"k\"]}],\"models\":[{"          \
	"\"name\":\"m\",\"targets\":[{\"provider\":\"p\",\"api\":" api "}]}]}"

static void
test_config_api(void **state)
{
	static const struct {
		const char *text;
		enum relay_err want;
		int responses;
		const char *msg;
	} cases[] = {
	    {CFG_API("openai", "\"responses\""), RELAY_OK, 1, NULL},
	    {CFG_API("azure", "\"responses\""), RELAY_OK, 1, NULL},
	    {CFG_API("openai", "\"chat\""), RELAY_OK, 0, NULL},
	    {CFG_API("anthropic", "\"responses\""), RELAY_EINVAL, 0,
		"needs an openai or azure provider"},
	    {CFG_API("gemini", "\"responses\""), RELAY_EINVAL, 0,
		"needs an openai or azure provider"},
	    {CFG_API("openai", "\"resp\""), RELAY_EINVAL, 0, "must be"},
	    {CFG_API("openai", "1"), RELAY_EINVAL, 0, "must be"},
	};
	struct config *c;
	char eb[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = NULL;
		eb[0] = '\0';
		assert_int_equal(config_parse(cases[i].text,
				     strlen(cases[i].text), &c, eb, sizeof(eb)),
		    cases[i].want);
		if (cases[i].want == RELAY_OK)
			assert_int_equal(c->models[0].targets[0].responses,
			    cases[i].responses);
		else if (strstr(eb, cases[i].msg) == NULL)
			fail_msg(
			    "case %zu: '%s' lacks '%s'", i, eb, cases[i].msg);
		config_release(c);
	}
}

/* target_build() for a target with "api": "responses". */
static void
target_case(enum provider_type type, enum dialect in, const char *body,
    const char *want_url, int want_spliced)
{
	static char name[] = "p", base[] = "http://up.example", ver[] = "v1",
		    model[] = "up-model";
	struct config_provider p;
	struct config_target t;
	struct target_req tr;
	struct chatreq cr;
	char eb[256];
	const char *param = NULL;
	json_t *v;

	memset(&p, 0, sizeof(p));
	p.name = name;
	p.type = type;
	p.base_url = base;
	p.api_version = ver;
	memset(&t, 0, sizeof(t));
	t.provider = &p;
	t.model = model;
	t.weight = 1;
	t.responses = 1;
	assert_int_equal(chatreq_parse_dialect(in, body, strlen(body), &cr, eb,
			     sizeof(eb), &param),
	    RELAY_OK);
	target_init(&tr, 1 << 20);
	assert_int_equal(target_build(&tr, in, &cr, span_str(body), &t, "sk-k",
			     cr.stream, NULL, eb, sizeof(eb), &param),
	    RELAY_OK);
	assert_int_equal(tr.out, DIALECT_RESPONSES);
	assert_string_equal(target_url(&tr), want_url);
	v = load(&tr.body);
	assert_string_equal(js(v, "model"), "up-model");
	assert_non_null(jp(v, "input"));
	if (want_spliced) /* same dialect: the client's body, model set */
		assert_string_equal(js(v, "previous_response_id"), "resp_1");
	else
		assert_null(jp(v, "messages"));
	json_decref(v);
	target_reset(&tr);
	chatreq_free(&cr);
}

static void
test_target_responses(void **state)
{
	(void)state;
	target_case(PROVIDER_OPENAI, DIALECT_RESPONSES,
	    "{\"model\":\"m\",\"input\":\"hi\",\"previous_response_id\":"
	    "\"resp_1\"}",
	    "http://up.example/responses", 1);
	target_case(PROVIDER_OPENAI, DIALECT_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"hi\"}],\"stream\":true}",
	    "http://up.example/responses", 0);
	target_case(PROVIDER_AZURE, DIALECT_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"}]}",
	    "http://up.example/openai/v1/responses", 0);
}

/* A Responses target gets the client's body without the relay's reasoning
 * (sealed for a translated provider) and with its compaction opened;
 * OpenAI's own items as they came. */
static void
test_target_unseal(void **state)
{
	static char name[] = "oa", base[] = "http://up.example",
		    model[] = "up-rs";
	struct rseal_reasoning rr;
	struct config_provider p;
	struct config_target t;
	struct target_req tr;
	struct buf rtok, ctok;
	struct chatreq cr;
	char eb[256], body[8192];
	const char *param = NULL;
	json_t *v;

	(void)state;
	memset(&rr, 0, sizeof(rr));
	snprintf(rr.provider, sizeof(rr.provider), "an");
	rr.text = json_string("T");
	rr.sig = json_string("S");
	buf_init(&rtok, 1 << 20);
	buf_init(&ctok, 1 << 20);
	assert_int_equal(
	    rseal_reasoning_wrap(&test_master, &rr, &rtok), RELAY_OK);
	assert_int_equal(rseal_compaction_wrap(&test_master,
			     (struct span){"the summary", 11}, &ctok),
	    RELAY_OK);
	rseal_reasoning_reset(&rr);
	snprintf(body, sizeof(body),
	    "{\"model\":\"m\",\"store\":false,\"input\":[{\"type\":"
	    "\"compaction\","
	    "\"encrypted_content\":\"%s\"},{\"type\":\"reasoning\",\"summary\":"
	    "[],\"encrypted_content\":\"%s\"},{\"type\":\"reasoning\","
	    "\"summary\":[],\"encrypted_content\":\"gAAAAB==\"},{\"role\":"
	    "\"user\",\"content\":\"go\"}]}",
	    ctok.data, rtok.data);
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.type = PROVIDER_OPENAI;
	p.base_url = base;
	memset(&t, 0, sizeof(t));
	t.provider = &p;
	t.model = model;
	t.weight = 1;
	t.responses = 1;
	assert_int_equal(chatreq_parse_dialect(DIALECT_RESPONSES, body,
			     strlen(body), &cr, eb, sizeof(eb), &param),
	    RELAY_OK);
	cr.master = &test_master;
	target_init(&tr, 1 << 20);
	assert_int_equal(
	    target_build(&tr, DIALECT_RESPONSES, &cr, span_str(body), &t,
		"sk-k", 0, NULL, eb, sizeof(eb), &param),
	    RELAY_OK);
	v = load(&tr.body);
	assert_string_equal(js(v, "model"), "up-rs");
	assert_true(json_is_false(jp(v, "store")));
	assert_int_equal(json_array_size(jp(v, "input")), 3);
	assert_string_equal(js(v, "input.0.role"), "user");
	assert_string_equal(js(v, "input.0.content.0.text"), "the summary");
	assert_string_equal(js(v, "input.1.encrypted_content"), "gAAAAB==");
	assert_string_equal(js(v, "input.2.content"), "go");
	json_decref(v);
	/* a compaction of another key: 400 on input */
	cr.master = &(const struct creds_master){.cur = {1}, .have_cur = 1};
	assert_int_equal(
	    target_build(&tr, DIALECT_RESPONSES, &cr, span_str(body), &t,
		"sk-k", 0, NULL, eb, sizeof(eb), &param),
	    RELAY_EINVAL);
	assert_string_equal(param, "input");
	assert_non_null(strstr(eb, "compaction"));
	target_reset(&tr);
	chatreq_free(&cr);
	buf_reset(&rtok);
	buf_reset(&ctok);
}

/* A client's max_tokens below the Responses API's floor is raised to it. */
static void
test_out_max_tokens_floor(void **state)
{
	struct dialect_req_info info;
	json_t *v;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_OPENAI,
	    "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"ping\"}]}",
	    DIALECT_RESPONSES, &info);
	assert_int_equal(ji(v, "max_output_tokens"), RELAY_RS_MAX_OUTPUT_MIN);
	json_decref(v);
}

/* --- allocation failures ----------------------------------------------------- */

/* --- relay-sealed reasoning and compaction (issue 16) -------------------- */

/* An Anthropic answer with a thinking block, a redacted one and text. */
static const char AN_THINK[] =
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-up\",\"content\":[{\"type\":\"thinking\","
    "\"thinking\":\"Let me think.\\nOK\",\"signature\":\"SIG/+=\"},"
    "{\"type\":\"redacted_thinking\",\"data\":\"RED+/=\"},{\"type\":"
    "\"text\",\"text\":\"Hi\"}],\"stop_reason\":\"end_turn\",\"usage\":{"
    "\"input_tokens\":5,\"output_tokens\":7}}";

/* A second turn: turn 1's output items (out, as JSON text), then a user
 * message; translated for provider prov of wire d with the test key. */
static json_t *
turn2(json_t *out, const char *prov, enum dialect d, const char *extra)
{
	char *items = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
	struct dialect_req_info info;
	char body[16384];
	json_t *v;

	snprintf(body, sizeof(body),
	    "{\"model\":\"m\",\"store\":false,\"include\":["
	    "\"reasoning.encrypted_content\"],\"input\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}%s%.*s%s,{\"role\":\"user\",\"content\":"
	    "\"more\"}]}",
	    items != NULL ? "," : "",
	    items != NULL ? (int)strlen(items) - 2 : 0,
	    items != NULL ? items + 1 : "", extra);
	mem_free(items);
	memset(&info, 0, sizeof(info));
	info.master = &test_master;
	snprintf(info.provider, sizeof(info.provider), "%s", prov);
	v = xreq(DIALECT_RESPONSES, body, d, &info);
	return v;
}

/* The thinking blocks of an Anthropic request, as one string. */
static char *
blocks_of(json_t *v)
{
	return json_dumps(jp(v, "messages.1.content"), JSON_COMPACT);
}

static void
test_reasoning_sealed_whole(void **state)
{
	struct rseal_reasoning rr;
	json_t *v, *v2;
	const char *tok;
	char *b;

	(void)state;
	use_master = &test_master;
	v = xresp(DIALECT_ANTHROPIC, AN_THINK, DIALECT_RESPONSES, "", NULL);
	use_master = NULL;
	assert_string_equal(js(v, "output.0.type"), "reasoning");
	assert_string_equal(
	    js(v, "output.0.summary.0.text"), "Let me think.\nOK");
	tok = js(v, "output.0.encrypted_content");
	assert_non_null(tok);
	assert_true(rseal_reasoning_is(tok, strlen(tok)));
	assert_null(strstr(tok, "SIG"));
	/* what it holds: the provider, the text and signature unchanged */
	memset(&rr, 0, sizeof(rr));
	assert_int_equal(
	    rseal_reasoning_unwrap(&test_master, tok, strlen(tok), &rr),
	    RELAY_OK);
	assert_string_equal(rr.provider, "an");
	assert_int_equal(rr.redacted, 0);
	assert_string_equal(json_string_value(rr.text), "Let me think.\nOK");
	assert_string_equal(json_string_value(rr.sig), "SIG/+=");
	rseal_reasoning_reset(&rr);
	/* the redacted block: a reasoning item with no summary */
	assert_string_equal(js(v, "output.1.type"), "reasoning");
	assert_int_equal(json_array_size(jp(v, "output.1.summary")), 0);
	tok = js(v, "output.1.encrypted_content");
	assert_true(rseal_reasoning_is(tok, strlen(tok)));
	assert_string_equal(js(v, "output.2.content.0.text"), "Hi");

	/* back to the same provider: restored byte for byte, in order */
	v2 = turn2(jp(v, "output"), "an", DIALECT_ANTHROPIC, "");
	assert_string_equal(js(v2, "messages.1.role"), "assistant");
	assert_string_equal(js(v2, "messages.1.content.0.type"), "thinking");
	assert_string_equal(
	    js(v2, "messages.1.content.0.thinking"), "Let me think.\nOK");
	assert_string_equal(js(v2, "messages.1.content.0.signature"), "SIG/+=");
	assert_string_equal(
	    js(v2, "messages.1.content.1.type"), "redacted_thinking");
	assert_string_equal(js(v2, "messages.1.content.1.data"), "RED+/=");
	assert_string_equal(js(v2, "messages.1.content.2.text"), "Hi");
	json_decref(v2);
	/* another provider of the same wire: never */
	v2 = turn2(jp(v, "output"), "an-other", DIALECT_ANTHROPIC, "");
	b = blocks_of(v2);
	assert_null(strstr(b, "thinking"));
	assert_null(strstr(b, "SIG"));
	mem_free(b);
	json_decref(v2);
	/* another family: nothing of it reaches OpenAI chat or Gemini */
	v2 = turn2(jp(v, "output"), "oa", DIALECT_OPENAI, "");
	b = json_dumps(v2, JSON_COMPACT);
	assert_null(strstr(b, "SIG"));
	assert_null(strstr(b, "Let me think"));
	assert_null(strstr(b, "rly:"));
	mem_free(b);
	json_decref(v2);
	v2 = turn2(jp(v, "output"), "ge", DIALECT_GEMINI, "");
	b = json_dumps(v2, JSON_COMPACT);
	assert_null(strstr(b, "SIG"));
	assert_null(strstr(b, "rly:"));
	mem_free(b);
	json_decref(v2);
	/* a damaged token and OpenAI's own: left out, no error */
	v2 = turn2(jp(v, "nothing"), "an", DIALECT_ANTHROPIC,
	    ",{\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":"
	    "\"rly:rs1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},"
	    "{\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\","
	    "\"text\":\"x\"}],\"encrypted_content\":\"gAAAAB\"},"
	    "{\"role\":\"assistant\",\"content\":\"ok\"}");
	b = json_dumps(jp(v2, "messages"), JSON_COMPACT);
	assert_null(strstr(b, "thinking"));
	assert_null(strstr(b, "gAAAAB"));
	mem_free(b);
	json_decref(v2);
	json_decref(v);
}

static void
test_reasoning_sealed_stream(void **state)
{
	struct rseal_reasoning rr;
	struct evs e;
	const char *tok;
	long i;

	(void)state;
	use_master = &test_master;
	xstream(
	    DIALECT_ANTHROPIC, AN_STREAM, DIALECT_RESPONSES, "", 3, &e, NULL);
	use_master = NULL;
	check_seq(&e);
	i = find(&e, "response.output_item.done", 0);
	assert_true(i >= 0);
	tok = js(e.data[i], "item.encrypted_content");
	assert_non_null(tok);
	memset(&rr, 0, sizeof(rr));
	assert_int_equal(
	    rseal_reasoning_unwrap(&test_master, tok, strlen(tok), &rr),
	    RELAY_OK);
	assert_string_equal(json_string_value(rr.text), "Hmm.");
	assert_string_equal(json_string_value(rr.sig), "SIG+/=");
	rseal_reasoning_reset(&rr);
	/* the completed response holds the same item */
	assert_string_equal(
	    js(e.data[e.n - 1], "response.output.0.encrypted_content"), tok);
	evs_free(&e);
}

static void
test_compaction_sealed(void **state)
{
	struct dialect_req_info info;
	struct ir_usage u = {10, 4, -1, -1, -1};
	struct buf b, tok;
	json_t *v, *in;
	char body[8192];

	(void)state;
	memset(&info, 0, sizeof(info));
	info.master = &test_master;
	info.compact = 1;
	snprintf(info.provider, sizeof(info.provider), "an");
	/* the request: the conversation, then the ask; unary, no tool */
	v = xreq(DIALECT_RESPONSES,
	    "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":"
	    "\"fix the bug\"},{\"role\":\"assistant\",\"content\":\"done\"}],"
	    "\"tools\":[{\"type\":\"function\",\"name\":\"f\"}]}",
	    DIALECT_ANTHROPIC, &info);
	assert_null(jp(v, "stream"));
	assert_string_equal(js(v, "messages.2.role"), "user");
	assert_non_null(
	    strstr(js(v, "messages.2.content.0.text"), "handoff summary"));
	assert_string_equal(js(v, "tool_choice.type"), "none");
	json_decref(v);
	/* the answer: user messages kept, one compaction item */
	buf_init(&b, 1 << 20);
	in = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "role", "user",
	    "content", "fix the bug", "role", "assistant", "content", "done",
	    "role", "developer", "content", "rules");
	assert_int_equal(dialect_compaction(DIALECT_ANTHROPIC,
			     span_str(AN_THINK), in, &info, &b, NULL),
	    RELAY_OK);
	json_decref(in);
	v = load(&b);
	buf_reset(&b);
	assert_string_equal(js(v, "object"), "response.compaction");
	assert_int_equal(json_array_size(jp(v, "output")), 2);
	assert_string_equal(js(v, "output.0.content"), "fix the bug");
	assert_string_equal(js(v, "output.1.type"), "compaction");
	assert_int_equal(ji(v, "usage.output_tokens"), 7);
	(void)u;
	/* it comes back: its summary (the answer's text) as a user turn */
	snprintf(body, sizeof(body),
	    "{\"model\":\"m\",\"input\":[{\"type\":\"compaction\","
	    "\"encrypted_content\":\"%s\"},{\"role\":\"user\",\"content\":"
	    "\"next\"}]}",
	    js(v, "output.1.encrypted_content"));
	json_decref(v);
	memset(&info, 0, sizeof(info));
	info.master = &test_master;
	v = xreq(DIALECT_RESPONSES, body, DIALECT_GEMINI, &info);
	assert_string_equal(js(v, "contents.0.role"), "user");
	assert_string_equal(js(v, "contents.0.parts.0.text"), "Hi");
	assert_string_equal(js(v, "contents.0.parts.1.text"), "next");
	json_decref(v);
	/* not ours (OpenAI's, or damaged): refused, never dropped */
	xreq_bad("{\"model\":\"m\",\"input\":[{\"type\":\"compaction\","
		 "\"encrypted_content\":\"gAAAA\"}]}",
	    DIALECT_ANTHROPIC, "input", "compaction");
	/* no master key: compaction cannot be sealed */
	memset(&info, 0, sizeof(info));
	buf_init(&tok, 1 << 20);
	assert_int_equal(dialect_compaction(DIALECT_ANTHROPIC,
			     span_str(AN_THINK), NULL, &info, &tok, NULL),
	    RELAY_ENOTFOUND);
	buf_reset(&tok);
}

/*
 * jansson 2.14's lexer mishandles a failed growth of its token buffer (see
 * test_config.c): the oom-safe cases parse only JSON whose tokens are
 * shorter than 16 bytes, quotes included. The long names
 * (function_call_output, encrypted_content...) are covered above.
 */

static const char RS_REQ_SHORT[] =
    "{\"model\":\"m\",\"instructions\":\"Be\",\"input\":[{\"role\":"
    "\"developer\",\"content\":\"x\"},{\"role\":\"user\",\"content\":"
    "[{\"type\":\"input_text\",\"text\":\"hi\"}]},{\"type\":"
    "\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":"
    "\"{}\"}],\"tools\":[{\"type\":\"function\",\"name\":\"f\"},{\"type\":"
    "\"custom\",\"name\":\"p\"}],\"stream\":true}";
static const char RS_RESP_SHORT[] =
    "{\"id\":\"r\",\"status\":\"completed\",\"model\":\"m\",\"output\":[{"
    "\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":"
    "\"Sure\"}]},{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":"
    "\"f\",\"arguments\":\"{}\"}],\"usage\":{\"input_tokens\":4}}";

static void
test_oom_request(void **state)
{
	struct dialect_req_info info;
	struct buf b;
	char eb[256];
	const char *p;
	enum relay_err err;

	(void)state;
	memset(&info, 0, sizeof(info));
	buf_init(&b, 1 << 20);
	err = dialect_request(DIALECT_RESPONSES, span_str(RS_REQ_SHORT),
	    DIALECT_ANTHROPIC, "up", &b, &info, eb, sizeof(eb), &p);
	if (err == RELAY_ENOMEM)
		assert_int_equal(b.len, 0);
	else
		assert_int_equal(err, RELAY_OK);
	buf_reset(&b);
}

static void
test_oom_stream(void **state)
{
	struct dialect_req_info info;
	struct dialect_stream *ds;
	struct sse_event ev;
	struct buf out;
	enum relay_err err = RELAY_OK;

	(void)state;
	memset(&info, 0, sizeof(info));
	memset(&ev, 0, sizeof(ev));
	ev.has_data = 1;
	ev.data =
	    SPAN_LIT("{\"candidates\":[{\"content\":{\"parts\":[{"
		     "\"text\":\"hi\"},{\"functionCall\":{\"name\":"
		     "\"f\",\"args\":{}}}]},\"finishReason\":\"STOP\"}]}");
	buf_init(&out, 1 << 16);
	ds = dialect_stream_new(DIALECT_GEMINI, DIALECT_RESPONSES, &info);
	if (ds != NULL)
		err = dialect_stream_event(ds, &ev, &out);
	if (ds != NULL && err == RELAY_OK)
		err = dialect_stream_end(ds, &out);
	if (ds == NULL || err == RELAY_ENOMEM)
		assert_int_not_equal(oom_n, 0);
	else
		assert_int_equal(err, RELAY_OK);
	dialect_stream_free(ds);
	buf_reset(&out);
}

static void
test_oom_response(void **state)
{
	struct buf b;
	enum relay_err err;

	(void)state;
	buf_init(&b, 1 << 16);
	err = dialect_response(DIALECT_RESPONSES, span_str(RS_RESP_SHORT),
	    DIALECT_GEMINI, NULL, &b, NULL);
	if (err == RELAY_ENOMEM)
		assert_int_equal(b.len, 0);
	else
		assert_int_equal(err, RELAY_OK);
	buf_reset(&b);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_oom_request),
	    OOM_CASE(test_oom_stream),
	    OOM_CASE(test_oom_response),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_req_to_anthropic),
	    cmocka_unit_test(test_req_to_openai_and_gemini),
	    cmocka_unit_test(test_req_invalid),
	    cmocka_unit_test(test_resp_from_openai),
	    cmocka_unit_test(test_resp_incomplete),
	    cmocka_unit_test(test_stream_from_openai),
	    cmocka_unit_test(test_stream_from_anthropic),
	    cmocka_unit_test(test_stream_error),
	    cmocka_unit_test(test_out_request),
	    cmocka_unit_test(test_out_response_and_stream),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_config_api),
	    cmocka_unit_test(test_target_responses),
	    cmocka_unit_test(test_out_max_tokens_floor),
	    cmocka_unit_test(test_reasoning_sealed_whole),
	    cmocka_unit_test(test_reasoning_sealed_stream),
	    cmocka_unit_test(test_compaction_sealed),
	    cmocka_unit_test(test_target_unseal),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "wire_responses (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n != 0)
		return oom_exit(failed);
	failed +=
	    cmocka_run_group_tests_name("wire_responses", cases, NULL, NULL);
	return failed != 0 ? 1 : 0;
}
