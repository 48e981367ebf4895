/* SPDX-License-Identifier: MIT */
/* test_dialect.c - unit tests for lib/dialect.c and the wire modules:
 * every cross direction for requests, responses, streams and errors,
 * with realistic transcripts; the oom-safe group also runs under
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

#include "../../lib/dialect.c"

/* --- allocation-failure torture (RELAY_FAIL_ALLOC=N, scripts/unit.sh) --- */
static unsigned long oom_n;
static int oom_reached;

static void
oom_init(void)
{
	const char *s = getenv("RELAY_FAIL_ALLOC");

	for (; s != NULL && *s >= '0' && *s <= '9'; s++)
		oom_n = oom_n * 10 + (unsigned long)(*s - '0');
}

static int
oom_setup(void **state)
{
	(void)state;
	if (oom_n != 0)
		mem_fail_after(oom_n);
	return 0;
}

static int
oom_teardown(void **state)
{
	(void)state;
	if (oom_n != 0) {
		if (mem_count() >= oom_n)
			oom_reached = 1;
		mem_fail_after(0);
	}
	return 0;
}

#define OOM_CASE(f) cmocka_unit_test_setup_teardown(f, oom_setup, oom_teardown)

/* --- helpers ------------------------------------------------------------- */

static const enum dialect ALL[] = {
    DIALECT_OPENAI, DIALECT_ANTHROPIC, DIALECT_GEMINI};

/* A small decimal index ("12"). */
static size_t
idx(const char *s)
{
	size_t n = 0;

	for (; *s >= '0' && *s <= '9'; s++)
		n = n * 10 + (size_t)(*s - '0');
	return n;
}

/* Value at a dotted path ("choices.0.message.content"); NULL if absent. */
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

static json_t *
load(const struct buf *b)
{
	char eb[128];
	json_t *v = NULL;

	assert_int_equal(
	    jsonx_parse(b->data, b->len, &v, eb, sizeof(eb)), RELAY_OK);
	return v;
}

/* Translate a request; returns the parsed upstream body. */
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

static json_t *
xresp(enum dialect from, const char *body, enum dialect to, struct ir_usage *u)
{
	struct dialect_req_info info;
	struct buf b;
	json_t *v;

	memset(&info, 0, sizeof(info));
	buf_init(&b, 1 << 20);
	assert_int_equal(
	    dialect_response(from, span_str(body), to, &info, &b, u), RELAY_OK);
	v = load(&b);
	buf_reset(&b);
	return v;
}

/* Collected client events of a translated stream. */
struct evs {
	char names[64][32];
	json_t *data[64];
	int done; /* saw data: [DONE] */
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
	assert_true(e->n < 64);
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

/* Run an upstream transcript through a translator, chunk bytes at a time
 * (any grouping of events must give the same output); parse the output. */
static void
xstream(enum dialect from, const char *up, enum dialect to, int include_usage,
    size_t chunk, struct evs *e, struct ir_usage *u)
{
	struct dialect_req_info info;
	struct sse_parser in, outp;
	struct buf out;
	struct feed f;
	size_t off, len = strlen(up), n;

	memset(&info, 0, sizeof(info));
	memset(e, 0, sizeof(*e));
	info.include_usage = include_usage;
	snprintf(info.model, sizeof(info.model), "asked-model");
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
	if (to == DIALECT_GEMINI && out.len > 0)
		assert_non_null(strstr(out.data, "\r\n\r\n"));
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

/* --- fixtures ------------------------------------------------------------ */

/* A Claude Code-like turn: system, tool use with thinking, tool result
 * with an error, an image. */
static const char AN_REQ[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":2048,"
    "\"system\":[{\"type\":\"text\",\"text\":\"You are terse.\"},"
    "{\"type\":\"text\",\"text\":\"Use tools.\",\"cache_control\":"
    "{\"type\":\"ephemeral\"}}],"
    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"List files\"},{\"type\":\"image\",\"source\":{\"type\":"
    "\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}}]},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
    "\"thinking\":\"I should call ls\",\"signature\":\"EqQBCkgIARAB+/=\"},"
    "{\"type\":\"text\",\"text\":\"Calling ls.\"},{\"type\":\"tool_use\","
    "\"id\":\"toolu_01A\",\"name\":\"Bash\",\"input\":{\"command\":\"ls "
    "-la\"}}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
    "\"tool_use_id\":\"toolu_01A\",\"content\":\"a.txt\\nb.txt\","
    "\"is_error\":true},{\"type\":\"text\",\"text\":\"go on\"}]}],"
    "\"tools\":[{\"name\":\"Bash\",\"description\":\"Run a command\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"command\":"
    "{\"type\":\"string\"}},\"required\":[\"command\"]}}],"
    "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true},"
    "\"stop_sequences\":[\"END\"],\"temperature\":0.5,\"stream\":true,"
    "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1500}}";

/* A Codex-like OpenAI request: developer prompt, tool calls and results,
 * image URL, JSON schema. */
static const char OA_REQ[] =
    "{\"model\":\"gpt-4o\",\"messages\":["
    "{\"role\":\"developer\",\"content\":\"Be exact.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is "
    "in it?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
    "\"https://example.com/cat.png\"}},{\"type\":\"image_url\","
    "\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j/4AAQ\"}}]},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
    "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
    "\"get_time\",\"arguments\":\"{}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18C\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":"
    "\"text\",\"text\":\"12:00\"}]},"
    "{\"role\":\"user\",\"content\":\"thanks\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"description\":\"Weather\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}],"
    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\"}},\"parallel_tool_calls\":false,"
    "\"stop\":\"STOP\",\"temperature\":1.7,\"top_p\":0.9,"
    "\"max_completion_tokens\":300,\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true},"
    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
    "\"name\":\"w\",\"schema\":{\"type\":\"object\"}}}}";

/* A Gemini CLI-like request: function call with thoughtSignature, result
 * without id, thinking config, snake_case system instruction. */
static const char GM_REQ[] =
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Read "
    "README\"}]},{\"role\":\"model\",\"parts\":[{\"functionCall\":{"
    "\"name\":\"read_file\",\"args\":{\"path\":\"README.md\"}},"
    "\"thoughtSignature\":\"CiQBVKhc7sig==\"}]},{\"role\":\"user\","
    "\"parts\":[{\"functionResponse\":{\"name\":\"read_file\",\"response\":"
    "{\"output\":\"# relay\"}}}]}],"
    "\"system_instruction\":{\"parts\":[{\"text\":\"You are Gemini "
    "CLI.\"}]},"
    "\"tools\":[{\"functionDeclarations\":[{\"name\":\"read_file\","
    "\"description\":\"Read\",\"parametersJsonSchema\":{\"type\":\"object\","
    "\"properties\":{\"path\":{\"type\":\"string\"}}}}]}],"
    "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\"}},"
    "\"generationConfig\":{\"temperature\":0.2,\"maxOutputTokens\":1000,"
    "\"stopSequences\":[\"X\"],\"thinkingConfig\":{\"thinkingBudget\":-1,"
    "\"includeThoughts\":true}}}";

/* --- requests ------------------------------------------------------------- */

static void
test_req_anthropic_to_openai(void **state)
{
	struct dialect_req_info info;
	json_t *v, *m;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_ANTHROPIC, AN_REQ, DIALECT_OPENAI, &info);
	assert_true(info.stream);
	assert_true(info.include_usage);
	assert_string_equal(info.model, "claude-sonnet-4-5");
	assert_string_equal(js(v, "model"), "up-model");
	assert_true(json_is_true(jp(v, "stream_options.include_usage")));
	m = jp(v, "messages");
	assert_string_equal(js(m, "0.role"), "system");
	assert_string_equal(js(m, "0.content"), "You are terse.\n\nUse tools.");
	assert_string_equal(js(m, "1.content.1.image_url.url"),
	    "data:image/png;base64,iVBORw0KGgo=");
	assert_string_equal(js(m, "2.content"), "Calling ls.");
	assert_string_equal(js(m, "2.tool_calls.0.id"), "toolu_01A");
	assert_string_equal(js(m, "2.tool_calls.0.function.arguments"),
	    "{\"command\":\"ls -la\"}");
	assert_string_equal(js(m, "3.role"), "tool");
	assert_string_equal(js(m, "3.tool_call_id"), "toolu_01A");
	assert_string_equal(js(m, "3.content"), "a.txt\nb.txt");
	assert_string_equal(js(m, "4.content"), "go on");
	assert_string_equal(js(v, "tool_choice"), "required");
	assert_true(json_is_false(jp(v, "parallel_tool_calls")));
	assert_string_equal(js(v, "stop.0"), "END");
	assert_int_equal(json_integer_value(jp(v, "max_tokens")), 2048);
	assert_string_equal(js(v, "tools.0.function.name"), "Bash");
	/* Official OpenAI refuses unknown message fields: no thinking. */
	assert_null(jp(m, "2.reasoning_content"));
	json_decref(v);
}

/* A vendor that wants thinking back (DeepSeek, Kimi, GLM, Qwen): the
 * assistant's tool-call message carries it as reasoning_content; a plain
 * answer does not. From every dialect that has thinking in requests. */
static void
test_req_reasoning_content_back(void **state)
{
	static const char an_plain[] =
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":"
	    "[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"s\"},"
	    "{\"type\":\"text\",\"text\":\"yo\"}]},{\"role\":\"user\","
	    "\"content\":\"again\"}]}";
	static const char oa_rc[] =
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"ls\"},{\"role\":\"assistant\",\"content\":null,"
	    "\"reasoning_content\":\"Need ls.\",\"tool_calls\":[{\"id\":"
	    "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"Bash\","
	    "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
	    "\"c1\",\"content\":\"a\"}]}";
	struct dialect_req_info info;
	json_t *v;

	(void)state;
	memset(&info, 0, sizeof(info));
	info.reasoning_content = 1;
	v = xreq(DIALECT_ANTHROPIC, AN_REQ, DIALECT_OPENAI, &info);
	assert_string_equal(
	    js(v, "messages.2.reasoning_content"), "I should call ls");
	assert_non_null(jp(v, "messages.2.tool_calls"));
	json_decref(v);
	memset(&info, 0, sizeof(info));
	info.reasoning_content = 1;
	v = xreq(DIALECT_ANTHROPIC, an_plain, DIALECT_OPENAI, &info);
	assert_string_equal(js(v, "messages.1.content"), "yo");
	assert_null(jp(v, "messages.1.reasoning_content"));
	json_decref(v);
	/* An OpenAI client's own reasoning_content, through the IR: back
	 * with the switch, dropped without. */
	memset(&info, 0, sizeof(info));
	info.reasoning_content = 1;
	v = xreq(DIALECT_OPENAI, oa_rc, DIALECT_OPENAI, &info);
	assert_string_equal(js(v, "messages.1.reasoning_content"), "Need ls.");
	json_decref(v);
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_OPENAI, oa_rc, DIALECT_OPENAI, &info);
	assert_null(jp(v, "messages.1.reasoning_content"));
	assert_string_equal(js(v, "messages.1.tool_calls.0.id"), "c1");
	json_decref(v);
}

static void
test_req_anthropic_to_gemini(void **state)
{
	struct dialect_req_info info;
	json_t *v, *c;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_ANTHROPIC, AN_REQ, DIALECT_GEMINI, &info);
	assert_null(jp(v, "model"));
	assert_string_equal(
	    js(v, "systemInstruction.parts.1.text"), "Use tools.");
	c = jp(v, "contents");
	assert_string_equal(
	    js(c, "0.parts.1.inlineData.mimeType"), "image/png");
	assert_string_equal(js(c, "1.role"), "model");
	/* thinking from another family is not sent to Gemini */
	assert_string_equal(js(c, "1.parts.0.text"), "Calling ls.");
	assert_string_equal(js(c, "1.parts.1.functionCall.name"), "Bash");
	assert_string_equal(
	    js(c, "1.parts.1.functionCall.args.command"), "ls -la");
	assert_string_equal(js(c, "1.parts.1.thoughtSignature"),
	    "skip_thought_signature_validator");
	assert_string_equal(js(c, "2.parts.0.functionResponse.name"), "Bash");
	assert_string_equal(
	    js(c, "2.parts.0.functionResponse.response.content"),
	    "a.txt\nb.txt");
	assert_string_equal(
	    js(v, "toolConfig.functionCallingConfig.mode"), "ANY");
	assert_int_equal(json_integer_value(jp(v,
			     "generationConfig.thinkingConfig.thinkingBudget")),
	    1500);
	assert_string_equal(js(v, "generationConfig.stopSequences.0"), "END");
	assert_int_equal(
	    json_integer_value(jp(v, "generationConfig.maxOutputTokens")),
	    2048);
	json_decref(v);
}

static void
test_req_openai_to_anthropic(void **state)
{
	struct dialect_req_info info;
	json_t *v, *m;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_OPENAI, OA_REQ, DIALECT_ANTHROPIC, &info);
	assert_true(info.stream);
	assert_true(info.include_usage);
	assert_string_equal(js(v, "system.0.text"), "Be exact.");
	assert_int_equal(json_integer_value(jp(v, "max_tokens")), 300);
	/* clamped to Anthropic's [0, 1] */
	assert_true(json_real_value(jp(v, "temperature")) == 1.0);
	m = jp(v, "messages");
	assert_string_equal(js(m, "0.content.1.source.type"), "url");
	assert_string_equal(
	    js(m, "0.content.2.source.media_type"), "image/jpeg");
	assert_string_equal(js(m, "0.content.2.source.data"), "/9j/4AAQ");
	assert_string_equal(js(m, "1.content.0.type"), "tool_use");
	assert_string_equal(js(m, "1.content.0.input.city"), "Paris");
	assert_true(json_is_object(jp(m, "1.content.1.input")));
	/* both tool messages merged into one user turn */
	assert_string_equal(js(m, "2.role"), "user");
	assert_string_equal(js(m, "2.content.0.tool_use_id"), "call_1");
	assert_string_equal(js(m, "2.content.1.content"), "12:00");
	assert_string_equal(js(m, "3.content.0.text"), "thanks");
	assert_string_equal(js(v, "tool_choice.type"), "tool");
	assert_string_equal(js(v, "tool_choice.name"), "get_weather");
	assert_true(
	    json_is_true(jp(v, "tool_choice.disable_parallel_tool_use")));
	assert_string_equal(js(v, "stop_sequences.0"), "STOP");
	assert_string_equal(js(v, "tools.1.input_schema.type"), "object");
	json_decref(v);
}

static void
test_req_openai_to_gemini(void **state)
{
	struct dialect_req_info info;
	json_t *v, *c;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_OPENAI, OA_REQ, DIALECT_GEMINI, &info);
	c = jp(v, "contents");
	assert_string_equal(
	    js(c, "0.parts.1.fileData.fileUri"), "https://example.com/cat.png");
	assert_string_equal(js(c, "0.parts.1.fileData.mimeType"), "image/png");
	assert_string_equal(js(c, "1.parts.0.functionCall.id"), "call_1");
	assert_string_equal(
	    js(c, "2.parts.0.functionResponse.name"), "get_weather");
	assert_string_equal(
	    js(c, "2.parts.1.functionResponse.name"), "get_time");
	assert_string_equal(
	    js(v, "toolConfig.functionCallingConfig.allowedFunctionNames.0"),
	    "get_weather");
	assert_string_equal(
	    js(v, "generationConfig.responseMimeType"), "application/json");
	assert_string_equal(
	    js(v, "generationConfig.responseJsonSchema.type"), "object");
	assert_true(
	    json_real_value(jp(v, "generationConfig.temperature")) > 1.6);
	assert_string_equal(js(v, "generationConfig.stopSequences.0"), "STOP");
	json_decref(v);
}

static void
test_req_gemini_to_openai(void **state)
{
	struct dialect_req_info info;
	json_t *v, *m;
	const char *id;

	(void)state;
	memset(&info, 0, sizeof(info));
	info.stream = 1; /* streamGenerateContent */
	v = xreq(DIALECT_GEMINI, GM_REQ, DIALECT_OPENAI, &info);
	assert_true(info.stream);
	assert_string_equal(info.model, "");
	assert_true(json_is_true(jp(v, "stream")));
	m = jp(v, "messages");
	assert_string_equal(js(m, "0.content"), "You are Gemini CLI.");
	id = js(m, "2.tool_calls.0.id");
	assert_non_null(id);
	/* the result found its call by name */
	assert_string_equal(js(m, "3.tool_call_id"), id);
	assert_string_equal(js(m, "3.content"), "{\"output\":\"# relay\"}");
	assert_string_equal(js(v, "tool_choice"), "required");
	assert_int_equal(json_integer_value(jp(v, "max_tokens")), 1000);
	json_decref(v);
}

static void
test_req_gemini_to_anthropic(void **state)
{
	struct dialect_req_info info;
	json_t *v, *m;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_GEMINI, GM_REQ, DIALECT_ANTHROPIC, &info);
	assert_false(info.stream);
	m = jp(v, "messages");
	assert_string_equal(js(m, "1.content.0.name"), "read_file");
	assert_string_equal(
	    js(m, "1.content.0.id"), js(m, "2.content.0.tool_use_id"));
	assert_string_equal(js(v, "thinking.type"), "enabled");
	/* dynamic budget 8192 >= max_tokens 1000: max_tokens raised */
	assert_int_equal(
	    json_integer_value(jp(v, "thinking.budget_tokens")), 8192);
	assert_int_equal(json_integer_value(jp(v, "max_tokens")), 9192);
	assert_null(jp(v, "temperature")); /* refused beside thinking */
	assert_string_equal(js(v, "stop_sequences.0"), "X");
	json_decref(v);
}

static void
test_req_anthropic_default_max_tokens(void **state)
{
	struct dialect_req_info info;
	json_t *v;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"hi\"}]}",
	    DIALECT_ANTHROPIC, &info);
	assert_int_equal(json_integer_value(jp(v, "max_tokens")), 4096);
	assert_false(info.stream);
	assert_false(info.include_usage);
	assert_null(jp(v, "stream"));
	json_decref(v);
}

/* Gemini 3 signatures ride in tool call ids through OpenAI clients and
 * come back to Gemini. */
static void
test_req_signature_roundtrip(void **state)
{
	struct dialect_req_info info;
	json_t *v;

	(void)state;
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"hi\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
	    "\"call_9__thought__c2lnbmF0dXJl\",\"type\":\"function\","
	    "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},{\"role\":"
	    "\"tool\",\"tool_call_id\":\"call_9__thought__c2lnbmF0dXJl\","
	    "\"content\":\"ok\"}]}",
	    DIALECT_GEMINI, &info);
	assert_string_equal(
	    js(v, "contents.1.parts.0.thoughtSignature"), "c2lnbmF0dXJl");
	assert_string_equal(
	    js(v, "contents.1.parts.0.functionCall.id"), "call_9");
	assert_string_equal(
	    js(v, "contents.2.parts.0.functionResponse.id"), "call_9");
	json_decref(v);
	/* and to Anthropic the mark is stripped (its ids are [A-Za-z0-9_-]) */
	v = xreq(DIALECT_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
	    "\"tool_calls\":[{\"id\":\"call_9__thought__c2ln+/=\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}"
	    "]}",
	    DIALECT_ANTHROPIC, &info);
	assert_string_equal(js(v, "messages.0.content.0.id"), "call_9");
	json_decref(v);
}

/* Every request fixture to every other provider re-parses as JSON. */
static void
test_req_all_directions(void **state)
{
	static const char *const fx[DIALECT__MAX] = {
	    [DIALECT_OPENAI] = OA_REQ,
	    [DIALECT_ANTHROPIC] = AN_REQ,
	    [DIALECT_GEMINI] = GM_REQ,
	};
	struct dialect_req_info info;
	size_t i, j;

	(void)state;
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++) {
			memset(&info, 0, sizeof(info));
			json_decref(xreq(ALL[i], fx[ALL[i]], ALL[j], &info));
		}
}

static void
check_einval(enum dialect d, const char *body, const char *want_param,
    const char *want_msg)
{
	struct dialect_req_info info;
	const char *param = "x";
	char eb[256] = "";
	struct buf b;

	memset(&info, 0, sizeof(info));
	buf_init(&b, 1 << 16);
	assert_int_equal(dialect_request(d, span_str(body), DIALECT_OPENAI, "m",
			     &b, &info, eb, sizeof(eb), &param),
	    RELAY_EINVAL);
	assert_int_equal(b.len, 0);
	if (want_param == NULL)
		assert_null(param);
	else
		assert_string_equal(param, want_param);
	if (strstr(eb, want_msg) == NULL)
		fail_msg("message '%s' lacks '%s'", eb, want_msg);
	buf_reset(&b);
}

static void
test_req_invalid(void **state)
{
	(void)state;
	check_einval(DIALECT_OPENAI, "{\"model\":\"m\"}", "messages",
	    "Missing required parameter: 'messages'.");
	check_einval(DIALECT_OPENAI, "[1]", NULL, "must be a JSON object");
	check_einval(DIALECT_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"bot\"}]}", "messages",
	    "Invalid value: 'bot'");
	check_einval(DIALECT_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"input_audio\"}]}]}",
	    "messages", "cannot be translated");
	check_einval(DIALECT_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}],\"n\":3}",
	    "n", "only n = 1");
	check_einval(DIALECT_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}],\"temperature\":\"hot\"}",
	    "temperature", "expected a number");
	check_einval(DIALECT_ANTHROPIC, "{\"model\":\"m\",\"messages\":[]}",
	    "max_tokens", "max_tokens: Field required");
	check_einval(DIALECT_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
	    "\"tool\",\"content\":\"x\"}]}",
	    "messages",
	    "messages.0.role: Input should be 'user', 'assistant' or "
	    "'system'");
	check_einval(DIALECT_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
	    "\"user\","
	    "\"content\":[{\"type\":\"document\"}]}]}",
	    "messages", "messages.0.content.0.type");
	check_einval(
	    DIALECT_GEMINI, "{}", "contents", "contents is not specified");
	check_einval(DIALECT_GEMINI,
	    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"executableCode\":"
	    "{}}]}]}",
	    "contents", "cannot be translated");
	check_einval(DIALECT_GEMINI,
	    "{\"contents\":[{\"parts\":[{\"text\":\"x\"}]}],\"tools\":[{"
	    "\"googleSearch\":{}}]}",
	    "tools", "only functionDeclarations");
	check_einval(DIALECT_GEMINI, "{\"contents\":[", NULL, "invalid JSON");
}

/* --- responses -------------------------------------------------------------- */

static const char OA_RESP[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":"
    "1700000000,\"model\":\"gpt-4o-2024\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"Checking.\","
    "\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":"
    "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}"
    "}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":"
    "1200,\"completion_tokens\":50,\"total_tokens\":1250,"
    "\"prompt_tokens_details\":{\"cached_tokens\":1000},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":20}}}";

static const char AN_RESP[] =
    "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"thinking\","
    "\"thinking\":\"hmm\",\"signature\":\"sig==\"},{\"type\":\"text\","
    "\"text\":\"Hello\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\","
    "\"name\":\"f\",\"input\":{\"a\":1}}],\"stop_reason\":\"tool_use\","
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":200,"
    "\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":1000,"
    "\"output_tokens\":30}}";

static const char GM_RESP[] =
    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":"
    "\"plan\",\"thought\":true},{\"text\":\"Sure\"},{\"functionCall\":{"
    "\"name\":\"f\",\"args\":{\"x\":[1,2]}},\"thoughtSignature\":\"GSIG\"}]},"
    "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{"
    "\"promptTokenCount\":500,\"candidatesTokenCount\":40,"
    "\"thoughtsTokenCount\":60,\"totalTokenCount\":600,"
    "\"cachedContentTokenCount\":300},\"modelVersion\":\"gemini-2.5-pro\","
    "\"responseId\":\"resp-1\"}";

static void
test_resp_openai_to_others(void **state)
{
	struct ir_usage u;
	json_t *v;

	(void)state;
	v = xresp(DIALECT_OPENAI, OA_RESP, DIALECT_ANTHROPIC, &u);
	assert_int_equal(u.input, 1200);
	assert_int_equal(u.cache_read, 1000);
	assert_int_equal(u.output, 50);
	assert_int_equal(u.reasoning, 20);
	assert_string_equal(js(v, "stop_reason"), "tool_use");
	assert_string_equal(js(v, "content.0.text"), "Checking.");
	assert_string_equal(js(v, "content.1.input.city"), "Oslo");
	/* Anthropic input excludes the cache: 1200 - 1000 */
	assert_int_equal(json_integer_value(jp(v, "usage.input_tokens")), 200);
	assert_int_equal(
	    json_integer_value(jp(v, "usage.cache_read_input_tokens")), 1000);
	json_decref(v);
	v = xresp(DIALECT_OPENAI, OA_RESP, DIALECT_GEMINI, NULL);
	assert_string_equal(js(v, "candidates.0.finishReason"), "STOP");
	assert_string_equal(
	    js(v, "candidates.0.content.parts.1.functionCall.args.city"),
	    "Oslo");
	assert_int_equal(
	    json_integer_value(jp(v, "usageMetadata.promptTokenCount")), 1200);
	assert_int_equal(
	    json_integer_value(jp(v, "usageMetadata.candidatesTokenCount")),
	    30);
	assert_int_equal(
	    json_integer_value(jp(v, "usageMetadata.thoughtsTokenCount")), 20);
	assert_int_equal(
	    json_integer_value(jp(v, "usageMetadata.cachedContentTokenCount")),
	    1000);
	json_decref(v);
}

static void
test_resp_anthropic_to_others(void **state)
{
	struct ir_usage u;
	json_t *v;

	(void)state;
	v = xresp(DIALECT_ANTHROPIC, AN_RESP, DIALECT_OPENAI, &u);
	/* 200 + 100 written + 1000 read */
	assert_int_equal(u.input, 1300);
	assert_int_equal(u.cache_read, 1000);
	assert_int_equal(u.cache_write, 100);
	assert_int_equal(
	    json_integer_value(jp(v, "usage.prompt_tokens")), 1300);
	assert_int_equal(json_integer_value(jp(
			     v, "usage.prompt_tokens_details.cached_tokens")),
	    1000);
	assert_int_equal(json_integer_value(jp(v, "usage.total_tokens")), 1330);
	assert_string_equal(js(v, "choices.0.finish_reason"), "tool_calls");
	assert_string_equal(js(v, "choices.0.message.content"), "Hello");
	assert_string_equal(
	    js(v, "choices.0.message.reasoning_content"), "hmm");
	assert_string_equal(js(v,
				"choices.0.message.tool_calls.0.function."
				"arguments"),
	    "{\"a\":1}");
	assert_string_equal(js(v, "id"), "msg_01");
	json_decref(v);
	v = xresp(DIALECT_ANTHROPIC, AN_RESP, DIALECT_GEMINI, NULL);
	assert_true(
	    json_is_true(jp(v, "candidates.0.content.parts.0.thought")));
	assert_string_equal(
	    js(v, "candidates.0.content.parts.0.thoughtSignature"), "sig==");
	assert_int_equal(json_integer_value(jp(v,
			     "candidates.0.content.parts.2."
			     "functionCall.args.a")),
	    1);
	json_decref(v);
}

static void
test_resp_gemini_to_others(void **state)
{
	struct ir_usage u;
	json_t *v;
	const char *id;

	(void)state;
	v = xresp(DIALECT_GEMINI, GM_RESP, DIALECT_OPENAI, &u);
	assert_int_equal(u.input, 500);
	assert_int_equal(u.output, 100);
	assert_int_equal(u.reasoning, 60);
	assert_int_equal(u.cache_read, 300);
	/* STOP with a function call is a tool call finish */
	assert_string_equal(js(v, "choices.0.finish_reason"), "tool_calls");
	id = js(v, "choices.0.message.tool_calls.0.id");
	assert_non_null(id);
	assert_non_null(strstr(id, IR_SIG_MARK "GSIG"));
	assert_int_equal(
	    json_integer_value(jp(v, "usage.completion_tokens")), 100);
	assert_string_equal(js(v, "model"), "gemini-2.5-pro");
	json_decref(v);
	v = xresp(DIALECT_GEMINI, GM_RESP, DIALECT_ANTHROPIC, NULL);
	assert_string_equal(js(v, "stop_reason"), "tool_use");
	assert_string_equal(js(v, "content.0.type"), "thinking");
	assert_string_equal(js(v, "content.2.type"), "tool_use");
	assert_int_equal(json_integer_value(jp(v, "content.2.input.x.1")), 2);
	assert_int_equal(json_integer_value(jp(v, "usage.input_tokens")), 200);
	assert_int_equal(
	    json_integer_value(jp(v, "usage.cache_read_input_tokens")), 300);
	json_decref(v);
}

/* Issue 19: usage counts at LLONG_MAX from an upstream, and a Gemini
 * thinking budget of LLONG_MAX for an Anthropic provider: sums saturate
 * (signed overflow before, undefined). */
#define LLMAX "9223372036854775807"

static void
test_usage_and_budget_extremes(void **state)
{
	static const char an[] =
	    "{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"c\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"x\"}],\"stop_reason\":\"end_turn\",\"usage\":{"
	    "\"input_tokens\":" LLMAX ",\"cache_creation_input_tokens\":" LLMAX
	    ",\"cache_read_input_tokens\":" LLMAX ",\"output_tokens\":" LLMAX
	    "}}";
	static const char gm[] =
	    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
	    "[{\"text\":\"x\"}]},\"finishReason\":\"STOP\",\"index\":0}],"
	    "\"usageMetadata\":{\"promptTokenCount\":" LLMAX
	    ",\"candidatesTokenCount\":" LLMAX ",\"thoughtsTokenCount\":" LLMAX
	    ",\"cachedContentTokenCount\":" LLMAX "}}";
	static const char oa[] =
	    "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,"
	    "\"model\":\"g\",\"choices\":[{\"index\":0,\"message\":{"
	    "\"role\":\"assistant\",\"content\":\"x\"},\"finish_reason\":"
	    "\"stop\"}],\"usage\":{\"prompt_tokens\":" LLMAX
	    ",\"completion_tokens\":" LLMAX ",\"prompt_tokens_details\":{"
	    "\"cached_tokens\":" LLMAX "}}}";
	static const char gm_req[] =
	    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":"
	    "\"hi\"}]}],\"generationConfig\":{\"maxOutputTokens\":10,"
	    "\"thinkingConfig\":{\"thinkingBudget\":" LLMAX "}}}";
	struct dialect_req_info info;
	struct ir_usage u;
	json_t *v;

	(void)state;
	v = xresp(DIALECT_ANTHROPIC, an, DIALECT_OPENAI, &u);
	assert_true(u.input == LLONG_MAX && u.output == LLONG_MAX);
	assert_true(
	    json_integer_value(jp(v, "usage.prompt_tokens")) == LLONG_MAX);
	assert_true(
	    json_integer_value(jp(v, "usage.total_tokens")) == LLONG_MAX);
	json_decref(v);
	v = xresp(DIALECT_ANTHROPIC, an, DIALECT_GEMINI, NULL);
	assert_true(json_integer_value(
			jp(v, "usageMetadata.totalTokenCount")) == LLONG_MAX);
	json_decref(v);
	v = xresp(DIALECT_GEMINI, gm, DIALECT_OPENAI, &u);
	assert_true(u.output == LLONG_MAX);
	assert_true(
	    json_integer_value(jp(v, "usage.completion_tokens")) == LLONG_MAX);
	json_decref(v);
	v = xresp(DIALECT_GEMINI, gm, DIALECT_ANTHROPIC, NULL);
	assert_true(json_integer_value(jp(v, "usage.input_tokens")) >= 0);
	json_decref(v);
	v = xresp(DIALECT_OPENAI, oa, DIALECT_GEMINI, NULL);
	assert_true(json_integer_value(
			jp(v, "usageMetadata.totalTokenCount")) == LLONG_MAX);
	json_decref(v);
	v = xresp(DIALECT_OPENAI, oa, DIALECT_ANTHROPIC, NULL);
	assert_int_equal(json_integer_value(jp(v, "usage.input_tokens")), 0);
	json_decref(v);
	memset(&info, 0, sizeof(info));
	v = xreq(DIALECT_GEMINI, gm_req, DIALECT_ANTHROPIC, &info);
	assert_true(json_integer_value(jp(v, "max_tokens")) == LLONG_MAX);
	json_decref(v);
}

static void
test_resp_finish_reasons(void **state)
{
	static const struct {
		enum dialect from;
		const char *body;
		enum dialect to;
		const char *path, *want;
	} cases[] = {
	    {DIALECT_OPENAI,
		"{\"choices\":[{\"message\":{\"content\":\"x\"},"
		"\"finish_reason\":\"length\"}]}",
		DIALECT_ANTHROPIC, "stop_reason", "max_tokens"},
	    {DIALECT_OPENAI,
		"{\"choices\":[{\"message\":{\"content\":\"x\"},"
		"\"finish_reason\":\"content_filter\"}]}",
		DIALECT_GEMINI, "candidates.0.finishReason", "SAFETY"},
	    {DIALECT_ANTHROPIC,
		"{\"content\":[],\"stop_reason\":\"max_tokens\"}",
		DIALECT_GEMINI, "candidates.0.finishReason", "MAX_TOKENS"},
	    {DIALECT_ANTHROPIC, "{\"content\":[],\"stop_reason\":\"refusal\"}",
		DIALECT_OPENAI, "choices.0.finish_reason", "content_filter"},
	    {DIALECT_ANTHROPIC,
		"{\"content\":[],\"stop_reason\":\"stop_sequence\","
		"\"stop_sequence\":\"END\"}",
		DIALECT_OPENAI, "choices.0.finish_reason", "stop"},
	    {DIALECT_GEMINI,
		"{\"candidates\":[{\"content\":{\"parts\":[]},"
		"\"finishReason\":\"MAX_TOKENS\"}]}",
		DIALECT_OPENAI, "choices.0.finish_reason", "length"},
	    {DIALECT_GEMINI,
		"{\"candidates\":[{\"finishReason\":\"RECITATION\"}]}",
		DIALECT_ANTHROPIC, "stop_reason", "refusal"},
	    {DIALECT_GEMINI,
		"{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}",
		DIALECT_OPENAI, "choices.0.finish_reason", "content_filter"},
	};
	size_t i;
	json_t *v;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = xresp(cases[i].from, cases[i].body, cases[i].to, NULL);
		assert_string_equal(js(v, cases[i].path), cases[i].want);
		json_decref(v);
	}
}

/* Tool calls an emitter once refused as out of memory: a Gemini call with
 * neither id nor signature for an OpenAI client (an id is made), and
 * arguments that are not JSON for an Anthropic client (input {}). */
static void
test_resp_tool_call_edges(void **state)
{
	static const char ge[] =
	    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
	    "[{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}}}]},"
	    "\"finishReason\":\"STOP\"}]}";
	static const char oa[] =
	    "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,"
	    "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{"
	    "\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
	    "\"id\":\"call_1\",\"type\":\"function\",\"function\":{"
	    "\"name\":\"f\",\"arguments\":\"{not json\"}}]},"
	    "\"finish_reason\":\"tool_calls\"}]}";
	json_t *v, *tc, *blk;

	(void)state;
	v = xresp(DIALECT_GEMINI, ge, DIALECT_OPENAI, NULL);
	tc = json_array_get(
	    json_object_get(
		json_object_get(
		    json_array_get(json_object_get(v, "choices"), 0),
		    "message"),
		"tool_calls"),
	    0);
	assert_non_null(tc);
	assert_true(strncmp(json_string_value(json_object_get(tc, "id")),
			"call_", 5) == 0);
	json_decref(v);
	v = xresp(DIALECT_OPENAI, oa, DIALECT_ANTHROPIC, NULL);
	blk = json_array_get(json_object_get(v, "content"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(blk, "type")), "tool_use");
	assert_true(json_is_object(json_object_get(blk, "input")));
	assert_int_equal(json_object_size(json_object_get(blk, "input")), 0);
	json_decref(v);
}

static void
test_resp_not_a_response(void **state)
{
	struct dialect_req_info info;
	struct buf b;
	size_t i, j;

	(void)state;
	memset(&info, 0, sizeof(info));
	buf_init(&b, 1 << 16);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++) {
			assert_int_equal(dialect_response(ALL[i],
					     SPAN_LIT("<html>502</html>"),
					     ALL[j], &info, &b, NULL),
			    RELAY_EPROTO);
			assert_int_equal(b.len, 0);
		}
	buf_reset(&b);
}

/* --- streams --------------------------------------------------------------- */

static const char OA_STREAM[] =
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\","
    "\"created\":1700000001,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":"
    "null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"content\":\"Let me \"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"content\":\"check.\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"tool_calls\":[{\"index\":0,\"id\":\"call_x\",\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
    "\"{\\\"ci\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
    "\"ty\\\":\\\"Oslo\\\"}\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"tool_calls\":[{\"index\":1,\"id\":\"call_y\",\"type\":\"function\","
    "\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[],\"usage\":{"
    "\"prompt_tokens\":900,\"completion_tokens\":40,\"total_tokens\":940,"
    "\"prompt_tokens_details\":{\"cached_tokens\":800}}}\n\n"
    "data: [DONE]\n\n";

static const char AN_STREAM[] =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
    "\"id\":\"msg_7\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
    "\"claude-opus-4\",\"content\":[],\"stop_reason\":null,"
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
    "\"cache_creation_input_tokens\":10,\"cache_read_input_tokens\":2000,"
    "\"output_tokens\":1}}}\n\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    "\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\","
    "\"signature\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":"
    "\"Need ls.\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":"
    "\"EqQBCgIYAh+/=\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
    "\"index\":0}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    "\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Running "
    "ls\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
    "\"index\":1}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    "\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":"
    "\"toolu_9\",\"name\":\"Bash\",\"input\":{}}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
    "\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
    "\"{\\\"command\\\": \\\"l\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
    "\"s\\\"}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
    "\"index\":2}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{"
    "\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{"
    "\"output_tokens\":87}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static const char GM_STREAM[] =
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Thinking "
    "about it\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":70,\"totalTokenCount\":70},"
    "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi \"}],"
    "\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"gemini-2.5-flash\","
    "\"responseId\":\"r-1\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{"
    "\"name\":\"read_file\",\"args\":{\"path\":\"a b.md\"}},"
    "\"thoughtSignature\":\"TSIG\"}],\"role\":\"model\"},\"finishReason\":"
    "\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":70,"
    "\"candidatesTokenCount\":12,\"thoughtsTokenCount\":30,"
    "\"cachedContentTokenCount\":50,\"totalTokenCount\":112},"
    "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n";

static json_t *
ev_at(struct evs *e, size_t i)
{
	assert_true(i < e->n);
	return e->data[i];
}

/* Concatenated OpenAI tool call arguments for tool index idx. */
static void
oa_args(struct evs *e, int idx, char *out, size_t n)
{
	size_t i, k, used = 0;
	json_t *tc;

	out[0] = '\0';
	for (i = 0; i < e->n; i++) {
		json_t *tcs = jp(e->data[i], "choices.0.delta.tool_calls");

		json_array_foreach (tcs, k, tc) {
			const char *a = js(tc, "function.arguments");

			if (json_integer_value(jp(tc, "index")) != idx ||
			    a == NULL)
				continue;
			used += (size_t)snprintf(out + used, n - used, "%s", a);
		}
	}
}

static void
an_args(struct evs *e, int idx, char *out, size_t n)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < e->n; i++) {
		const char *a = js(e->data[i], "delta.partial_json");

		if (a != NULL &&
		    json_integer_value(jp(e->data[i], "index")) == idx)
			used += (size_t)snprintf(out + used, n - used, "%s", a);
	}
}

static void
test_stream_openai_to_anthropic(void **state)
{
	static const char *const want[] = {"message_start",
	    "content_block_start", "content_block_delta", "content_block_delta",
	    "content_block_stop", "content_block_start", "content_block_delta",
	    "content_block_delta", "content_block_stop", "content_block_start",
	    "content_block_delta", "content_block_stop", "message_delta",
	    "message_stop"};
	static const size_t chunks[] = {1, 7, 64, 100000};
	struct ir_usage u;
	struct evs e;
	char args[256];
	size_t c, i;

	(void)state;
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		xstream(DIALECT_OPENAI, OA_STREAM, DIALECT_ANTHROPIC, 0,
		    chunks[c], &e, &u);
		assert_int_equal(e.n, sizeof(want) / sizeof(want[0]));
		for (i = 0; i < e.n; i++) {
			assert_string_equal(e.names[i], want[i]);
			assert_string_equal(js(e.data[i], "type"), want[i]);
		}
		assert_string_equal(
		    js(ev_at(&e, 0), "message.id"), "chatcmpl-9");
		assert_string_equal(
		    js(ev_at(&e, 5), "content_block.id"), "call_x");
		assert_int_equal(
		    json_integer_value(jp(ev_at(&e, 5), "index")), 1);
		an_args(&e, 1, args, sizeof(args));
		assert_string_equal(args, "{\"city\":\"Oslo\"}");
		an_args(&e, 2, args, sizeof(args));
		assert_string_equal(args, "{}");
		assert_string_equal(
		    js(ev_at(&e, 12), "delta.stop_reason"), "tool_use");
		/* usage arrived after finish_reason and still made it */
		assert_int_equal(
		    json_integer_value(jp(ev_at(&e, 12), "usage.input_tokens")),
		    100);
		assert_int_equal(json_integer_value(jp(ev_at(&e, 12),
				     "usage.cache_read_input_tokens")),
		    800);
		assert_int_equal(json_integer_value(
				     jp(ev_at(&e, 12), "usage.output_tokens")),
		    40);
		assert_int_equal(u.input, 900);
		assert_int_equal(u.cache_read, 800);
		evs_free(&e);
	}
}

static void
test_stream_openai_to_gemini(void **state)
{
	struct ir_usage u;
	struct evs e;

	(void)state;
	xstream(DIALECT_OPENAI, OA_STREAM, DIALECT_GEMINI, 0, 13, &e, &u);
	assert_int_equal(e.n, 5); /* 2 text, 2 calls, last frame */
	assert_string_equal(
	    js(ev_at(&e, 0), "candidates.0.content.parts.0.text"), "Let me ");
	assert_string_equal(
	    js(ev_at(&e, 2),
		"candidates.0.content.parts.0.functionCall.args."
		"city"),
	    "Oslo");
	assert_string_equal(
	    js(ev_at(&e, 3), "candidates.0.content.parts.0.functionCall.name"),
	    "get_time");
	assert_string_equal(
	    js(ev_at(&e, 4), "candidates.0.finishReason"), "STOP");
	assert_int_equal(json_integer_value(jp(
			     ev_at(&e, 4), "usageMetadata.promptTokenCount")),
	    900);
	assert_int_equal(e.done, 0);
	evs_free(&e);
}

static void
test_stream_anthropic_to_openai(void **state)
{
	struct ir_usage u;
	struct evs e;
	char args[256];
	size_t i;
	int ntext = 0;

	(void)state;
	xstream(DIALECT_ANTHROPIC, AN_STREAM, DIALECT_OPENAI, 1, 5, &e, &u);
	assert_int_equal(e.done, 1);
	assert_string_equal(
	    js(ev_at(&e, 0), "choices.0.delta.role"), "assistant");
	for (i = 0; i < e.n; i++) {
		/* a stable id and created on every chunk */
		assert_string_equal(js(e.data[i], "id"), "msg_7");
		assert_int_equal(json_integer_value(jp(e.data[i], "created")),
		    json_integer_value(jp(e.data[0], "created")));
		ntext += js(e.data[i], "choices.0.delta.content") != NULL;
	}
	assert_int_equal(ntext, 2); /* role chunk "" and "Running ls" */
	assert_string_equal(
	    js(ev_at(&e, 1), "choices.0.delta.reasoning_content"), "Need ls.");
	oa_args(&e, 0, args, sizeof(args));
	assert_string_equal(args, "{\"command\": \"ls\"}");
	assert_string_equal(
	    js(ev_at(&e, e.n - 2), "choices.0.finish_reason"), "tool_calls");
	/* the usage chunk: input includes cache reads and writes */
	assert_int_equal(json_array_size(jp(ev_at(&e, e.n - 1), "choices")), 0);
	assert_int_equal(
	    json_integer_value(jp(ev_at(&e, e.n - 1), "usage.prompt_tokens")),
	    2035);
	assert_int_equal(json_integer_value(jp(ev_at(&e, e.n - 1),
			     "usage.prompt_tokens_details.cached_tokens")),
	    2000);
	assert_int_equal(json_integer_value(
			     jp(ev_at(&e, e.n - 1), "usage.completion_tokens")),
	    87);
	assert_int_equal(u.input, 2035);
	assert_int_equal(u.cache_write, 10);
	assert_int_equal(u.output, 87);
	evs_free(&e);
	/* without include_usage: no usage chunk, usage still accounted */
	xstream(DIALECT_ANTHROPIC, AN_STREAM, DIALECT_OPENAI, 0, 4096, &e, &u);
	assert_non_null(jp(ev_at(&e, e.n - 1), "choices.0.finish_reason"));
	assert_int_equal(u.output, 87);
	evs_free(&e);
}

static void
test_stream_anthropic_to_gemini(void **state)
{
	struct evs e;

	(void)state;
	xstream(DIALECT_ANTHROPIC, AN_STREAM, DIALECT_GEMINI, 0, 3, &e, NULL);
	assert_true(json_is_true(
	    jp(ev_at(&e, 0), "candidates.0.content.parts.0.thought")));
	assert_string_equal(
	    js(ev_at(&e, 1), "candidates.0.content.parts.0.thoughtSignature"),
	    "EqQBCgIYAh+/=");
	assert_string_equal(
	    js(ev_at(&e, 3),
		"candidates.0.content.parts.0.functionCall.args."
		"command"),
	    "ls");
	assert_string_equal(
	    js(ev_at(&e, 3), "candidates.0.content.parts.0.functionCall.id"),
	    "toolu_9");
	assert_int_equal(json_integer_value(jp(ev_at(&e, 4),
			     "usageMetadata.candidatesTokenCount")),
	    87);
	assert_int_equal(json_integer_value(jp(
			     ev_at(&e, 4), "usageMetadata.promptTokenCount")),
	    2035);
	assert_int_equal(e.n, 5);
	evs_free(&e);
}

static void
test_stream_gemini_to_anthropic(void **state)
{
	struct ir_usage u;
	struct evs e;
	char args[256];

	(void)state;
	xstream(DIALECT_GEMINI, GM_STREAM, DIALECT_ANTHROPIC, 0, 9, &e, &u);
	assert_string_equal(e.names[0], "message_start");
	assert_int_equal(
	    json_integer_value(jp(ev_at(&e, 0), "message.usage.input_tokens")),
	    70);
	assert_string_equal(js(ev_at(&e, 1), "content_block.type"), "thinking");
	assert_string_equal(
	    js(ev_at(&e, 2), "delta.thinking"), "Thinking about it");
	assert_string_equal(e.names[3], "content_block_stop");
	assert_string_equal(js(ev_at(&e, 4), "content_block.type"), "text");
	assert_string_equal(js(ev_at(&e, 7), "content_block.type"), "tool_use");
	assert_non_null(
	    strstr(js(ev_at(&e, 7), "content_block.id"), IR_SIG_MARK "TSIG"));
	/* the whole args as one input_json_delta: none lost (LiteLLM
	 * #25836) */
	an_args(&e, 2, args, sizeof(args));
	assert_string_equal(args, "{\"path\":\"a b.md\"}");
	assert_string_equal(
	    js(ev_at(&e, e.n - 2), "delta.stop_reason"), "tool_use");
	assert_int_equal(
	    json_integer_value(jp(ev_at(&e, e.n - 2), "usage.input_tokens")),
	    20);
	assert_int_equal(
	    json_integer_value(jp(ev_at(&e, e.n - 2), "usage.output_tokens")),
	    42);
	assert_string_equal(e.names[e.n - 1], "message_stop");
	assert_int_equal(u.input, 70);
	assert_int_equal(u.reasoning, 30);
	evs_free(&e);
}

static void
test_stream_gemini_to_openai(void **state)
{
	struct evs e;
	char args[256];

	(void)state;
	xstream(DIALECT_GEMINI, GM_STREAM, DIALECT_OPENAI, 1, 1, &e, NULL);
	assert_int_equal(e.done, 1);
	assert_string_equal(js(ev_at(&e, 0), "id"), "r-1");
	oa_args(&e, 0, args, sizeof(args));
	assert_string_equal(args, "{\"path\":\"a b.md\"}");
	assert_string_equal(
	    js(ev_at(&e, e.n - 2), "choices.0.finish_reason"), "tool_calls");
	assert_int_equal(
	    json_integer_value(jp(ev_at(&e, e.n - 1),
		"usage.completion_tokens_details.reasoning_tokens")),
	    30);
	assert_int_equal(json_integer_value(
			     jp(ev_at(&e, e.n - 1), "usage.completion_tokens")),
	    42);
	evs_free(&e);
}

/* Mid-stream upstream errors reach the client in its own shape. */
static void
test_stream_errors(void **state)
{
	struct evs e;

	(void)state;
	xstream(DIALECT_ANTHROPIC,
	    "event: message_start\ndata: "
	    "{\"type\":\"message_start\",\"message\":"
	    "{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":5}}}\n\n"
	    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
	    "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
	    DIALECT_OPENAI, 0, 17, &e, NULL);
	assert_int_equal(e.done, 0);
	assert_string_equal(
	    js(ev_at(&e, e.n - 1), "error.message"), "Overloaded");
	assert_string_equal(
	    js(ev_at(&e, e.n - 1), "error.code"), "overloaded_error");
	assert_string_equal(
	    js(ev_at(&e, e.n - 1), "error.type"), "server_error");
	evs_free(&e);
	xstream(DIALECT_OPENAI,
	    "data: {\"error\":{\"message\":\"Rate limit\",\"type\":"
	    "\"rate_limit_exceeded\",\"code\":429}}\n\n",
	    DIALECT_ANTHROPIC, 0, 8, &e, NULL);
	assert_string_equal(e.names[e.n - 1], "error");
	assert_string_equal(
	    js(ev_at(&e, e.n - 1), "error.type"), "rate_limit_error");
	evs_free(&e);
	xstream(DIALECT_ANTHROPIC,
	    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
	    "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
	    DIALECT_GEMINI, 0, 8, &e, NULL);
	assert_int_equal(e.n, 1);
	assert_string_equal(js(ev_at(&e, 0), "error.status"), "UNAVAILABLE");
	assert_int_equal(
	    json_integer_value(jp(ev_at(&e, 0), "error.code")), 529);
	evs_free(&e);
}

/* Gemini EOF without anything: the client still gets a well-formed end;
 * a stream cut after text gets its closing events. */
static void
test_stream_eof_closing(void **state)
{
	struct evs e;

	(void)state;
	xstream(DIALECT_GEMINI, "", DIALECT_ANTHROPIC, 0, 1, &e, NULL);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.names[0], "message_start");
	assert_string_equal(e.names[1], "message_delta");
	assert_string_equal(e.names[2], "message_stop");
	evs_free(&e);
	xstream(DIALECT_ANTHROPIC,
	    "event: message_start\ndata: "
	    "{\"type\":\"message_start\",\"message\":"
	    "{\"id\":\"m\"}}\n\nevent: content_block_start\ndata: {\"type\":"
	    "\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
	    "\"text\",\"text\":\"\"}}\n\nevent: content_block_delta\ndata: {"
	    "\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	    "\"text_delta\",\"text\":\"cut\"}}\n\n",
	    DIALECT_OPENAI, 0, 1, &e, NULL);
	assert_int_equal(e.done, 1);
	assert_string_equal(
	    js(ev_at(&e, e.n - 1), "choices.0.finish_reason"), "stop");
	evs_free(&e);
}

static void
test_stream_bad_event(void **state)
{
	struct dialect_req_info info;
	struct dialect_stream *ds;
	struct sse_event ev;
	struct buf out;
	size_t i, j;

	(void)state;
	memset(&info, 0, sizeof(info));
	memset(&ev, 0, sizeof(ev));
	ev.data = SPAN_LIT("{not json");
	ev.has_data = 1;
	buf_init(&out, 1 << 16);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++) {
			ds = dialect_stream_new(ALL[i], ALL[j], &info);
			assert_non_null(ds);
			assert_int_equal(
			    dialect_stream_event(ds, &ev, &out), RELAY_EPROTO);
			/* the stream is over: nothing more comes out */
			assert_int_equal(
			    dialect_stream_event(ds, &ev, &out), RELAY_OK);
			assert_int_equal(
			    dialect_stream_end(ds, &out), RELAY_OK);
			dialect_stream_free(ds);
			assert_int_equal(out.len, 0);
		}
	buf_reset(&out);
	dialect_stream_free(NULL);
}

/* Every transcript to every other dialect, one byte at a time and all at
 * once, yields well-formed client events (xstream checks them). */
static void
test_stream_all_directions(void **state)
{
	static const char *const fx[DIALECT__MAX] = {
	    [DIALECT_OPENAI] = OA_STREAM,
	    [DIALECT_ANTHROPIC] = AN_STREAM,
	    [DIALECT_GEMINI] = GM_STREAM,
	};
	struct evs e;
	size_t i, j;

	(void)state;
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++) {
			if (i == j)
				continue;
			xstream(ALL[i], fx[ALL[i]], ALL[j], 1, 1, &e, NULL);
			assert_true(e.n >= 3);
			evs_free(&e);
		}
}

/* --- errors ------------------------------------------------------------------ */

static void
test_error_bodies(void **state)
{
	static const struct {
		int status;
		const char *an, *gm, *oa;
	} cases[] = {
	    {400, "invalid_request_error", "INVALID_ARGUMENT",
		"invalid_request_error"},
	    {401, "authentication_error", "UNAUTHENTICATED",
		"authentication_error"},
	    {403, "permission_error", "PERMISSION_DENIED", "permission_error"},
	    {404, "not_found_error", "NOT_FOUND", "not_found_error"},
	    {413, "request_too_large", "INVALID_ARGUMENT",
		"invalid_request_error"},
	    {429, "rate_limit_error", "RESOURCE_EXHAUSTED", "rate_limit_error"},
	    {500, "api_error", "INTERNAL", "server_error"},
	    {503, "api_error", "UNAVAILABLE", "server_error"},
	    {504, "timeout_error", "DEADLINE_EXCEEDED", "server_error"},
	    {529, "overloaded_error", "UNAVAILABLE", "server_error"},
	};
	struct buf b;
	json_t *v;
	size_t i;

	(void)state;
	buf_init(&b, 4096);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_clear(&b);
		assert_int_equal(dialect_error_body(DIALECT_ANTHROPIC,
				     cases[i].status, NULL, "m \"q\"", &b),
		    RELAY_OK);
		v = load(&b);
		assert_string_equal(js(v, "type"), "error");
		assert_string_equal(js(v, "error.type"), cases[i].an);
		assert_string_equal(js(v, "error.message"), "m \"q\"");
		json_decref(v);
		buf_clear(&b);
		assert_int_equal(dialect_error_body(DIALECT_GEMINI,
				     cases[i].status, NULL, "m", &b),
		    RELAY_OK);
		v = load(&b);
		assert_string_equal(js(v, "error.status"), cases[i].gm);
		assert_int_equal(
		    json_integer_value(jp(v, "error.code")), cases[i].status);
		json_decref(v);
		buf_clear(&b);
		assert_int_equal(dialect_error_body(DIALECT_OPENAI,
				     cases[i].status, "some_code", "m", &b),
		    RELAY_OK);
		v = load(&b);
		assert_string_equal(js(v, "error.type"), cases[i].oa);
		assert_string_equal(js(v, "error.code"), "some_code");
		assert_true(json_is_null(jp(v, "error.param")));
		json_decref(v);
	}
	buf_clear(&b);
	assert_int_equal(
	    dialect_error_event(DIALECT_ANTHROPIC, 529, NULL, "busy", &b),
	    RELAY_OK);
	assert_true(strncmp(b.data, "event: error\ndata: {", 20) == 0);
	buf_clear(&b);
	assert_int_equal(
	    dialect_error_event(DIALECT_GEMINI, 500, NULL, "x", &b), RELAY_OK);
	assert_true(
	    b.len > 4 && memcmp(b.data + b.len - 4, "\r\n\r\n", 4) == 0);
	buf_reset(&b);
}

static void
test_error_translate(void **state)
{
	struct buf b;
	json_t *v;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(dialect_error_translate(DIALECT_ANTHROPIC,
			     SPAN_LIT("{\"type\":\"error\",\"error\":{\"type\":"
				      "\"overloaded_error\",\"message\":"
				      "\"Overloaded\"},\"request_id\":\"r\"}"),
			     529, DIALECT_OPENAI, &b),
	    RELAY_OK);
	v = load(&b);
	assert_string_equal(js(v, "error.message"), "Overloaded");
	assert_string_equal(js(v, "error.code"), "overloaded_error");
	json_decref(v);
	buf_clear(&b);
	assert_int_equal(dialect_error_translate(DIALECT_GEMINI,
			     SPAN_LIT("{\"error\":{\"code\":429,\"message\":"
				      "\"Quota exceeded\",\"status\":"
				      "\"RESOURCE_EXHAUSTED\"}}"),
			     429, DIALECT_ANTHROPIC, &b),
	    RELAY_OK);
	v = load(&b);
	assert_string_equal(js(v, "error.type"), "rate_limit_error");
	assert_string_equal(js(v, "error.message"), "Quota exceeded");
	json_decref(v);
	buf_clear(&b);
	assert_int_equal(
	    dialect_error_translate(DIALECT_OPENAI,
		SPAN_LIT("<html>bad gateway</html>"), 502, DIALECT_GEMINI, &b),
	    RELAY_OK);
	v = load(&b);
	assert_string_equal(
	    js(v, "error.message"), "the upstream provider answered HTTP 502");
	assert_string_equal(js(v, "error.status"), "UNAVAILABLE");
	json_decref(v);
	buf_reset(&b);
}

/* --- oom-safe cases (few allocations each) ---------------------------------- */

static void
test_oom_request(void **state)
{
	struct dialect_req_info info;
	const char *param;
	char eb[256];
	struct buf b;
	enum relay_err err;

	(void)state;
	memset(&info, 0, sizeof(info));
	buf_init(&b, 1 << 16);
	err = dialect_request(DIALECT_OPENAI,
	    SPAN_LIT(
		"{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"hi\"},{\"role\":\"assistant\",\"tool_calls\":"
		"[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":"
		"\"f\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\","
		"\"tool_call_id\":\"c\",\"content\":\"r\"}]}"),
	    DIALECT_ANTHROPIC, "up", &b, &info, eb, sizeof(eb), &param);
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
	ev.data = SPAN_LIT(
	    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"},"
	    "{\"functionCall\":{\"name\":\"f\",\"args\":{}}}]},"
	    "\"finishReason\":\"STOP\"}]}");
	buf_init(&out, 1 << 16);
	ds = dialect_stream_new(DIALECT_GEMINI, DIALECT_ANTHROPIC, &info);
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
	err = dialect_response(DIALECT_ANTHROPIC, span_str(AN_RESP),
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
	    cmocka_unit_test(test_req_anthropic_to_openai),
	    cmocka_unit_test(test_req_reasoning_content_back),
	    cmocka_unit_test(test_req_anthropic_to_gemini),
	    cmocka_unit_test(test_req_openai_to_anthropic),
	    cmocka_unit_test(test_req_openai_to_gemini),
	    cmocka_unit_test(test_req_gemini_to_openai),
	    cmocka_unit_test(test_req_gemini_to_anthropic),
	    cmocka_unit_test(test_req_anthropic_default_max_tokens),
	    cmocka_unit_test(test_req_signature_roundtrip),
	    cmocka_unit_test(test_req_all_directions),
	    cmocka_unit_test(test_req_invalid),
	    cmocka_unit_test(test_resp_openai_to_others),
	    cmocka_unit_test(test_resp_anthropic_to_others),
	    cmocka_unit_test(test_resp_gemini_to_others),
	    cmocka_unit_test(test_usage_and_budget_extremes),
	    cmocka_unit_test(test_resp_finish_reasons),
	    cmocka_unit_test(test_resp_not_a_response),
	    cmocka_unit_test(test_resp_tool_call_edges),
	    cmocka_unit_test(test_stream_openai_to_anthropic),
	    cmocka_unit_test(test_stream_openai_to_gemini),
	    cmocka_unit_test(test_stream_anthropic_to_openai),
	    cmocka_unit_test(test_stream_anthropic_to_gemini),
	    cmocka_unit_test(test_stream_gemini_to_anthropic),
	    cmocka_unit_test(test_stream_gemini_to_openai),
	    cmocka_unit_test(test_stream_errors),
	    cmocka_unit_test(test_stream_eof_closing),
	    cmocka_unit_test(test_stream_bad_event),
	    cmocka_unit_test(test_stream_all_directions),
	    cmocka_unit_test(test_error_bodies),
	    cmocka_unit_test(test_error_translate),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "dialect (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n != 0) {
		if (failed != 0)
			return 1;
		if (!oom_reached) {
			printf("oom-torture: exhausted at %lu\n", oom_n);
			return 77;
		}
		return 0;
	}
	failed += cmocka_run_group_tests_name("dialect", cases, NULL, NULL);
	return failed != 0 ? 1 : 0;
}
