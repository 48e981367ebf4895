/* SPDX-License-Identifier: MIT */
/* test_replay.c - unit tests for the replay functions of lib/dialect.c
 * (a cached answer told again in the other form): whole responses told as
 * streams and back, recorded streams told as whole responses and retold
 * for another client, cut and broken recordings; the oom-safe group also
 * runs under RELAY_FAIL_ALLOC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
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

/* A small decimal index ("12"). */
static size_t
idx(const char *s)
{
	size_t n = 0;

	for (; *s >= '0' && *s <= '9'; s++)
		n = n * 10 + (size_t)(*s - '0');
	return n;
}

/* Value at a dotted path ("choices.0.delta.content"); NULL if absent. */
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
	assert_true(json_is_integer(jp(v, path)));
	return (long long)json_integer_value(jp(v, path));
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

#define EVS_MAX 256

/* The events of an SSE text, data parsed. */
struct evs {
	char names[EVS_MAX][32];
	json_t *data[EVS_MAX];
	size_t n;
	int done; /* data: [DONE] seen */
	size_t done_at; /* events before it */
};

static int
collect(void *arg, const struct sse_event *ev)
{
	struct evs *e = arg;
	char eb[128];
	json_t *v = NULL;

	if (!ev->has_data)
		return 0;
	assert_int_equal(e->done, 0); /* nothing after [DONE] */
	if (span_eq(ev->data, "[DONE]")) {
		e->done = 1;
		e->done_at = e->n;
		return 0;
	}
	assert_true(e->n < EVS_MAX);
	assert_int_equal(
	    jsonx_parse(ev->data.p, ev->data.len, &v, eb, sizeof(eb)),
	    RELAY_OK);
	snprintf(e->names[e->n], sizeof(e->names[0]), "%.*s", (int)ev->name.len,
	    ev->name.p);
	e->data[e->n++] = v;
	return 0;
}

/* Parse an SSE text of dialect d: whole events only, Gemini's ended by
 * CRLF CRLF. */
static void
parse_sse(enum dialect d, const struct buf *b, struct evs *e)
{
	struct sse_parser sp;
	const char *p;
	size_t frames = 0;

	memset(e, 0, sizeof(*e));
	assert_true(b->len > 0);
	sse_init(&sp, 1 << 20);
	assert_int_equal(sse_feed(&sp, b->data, b->len, collect, e), RELAY_OK);
	assert_int_equal(sse_pending(&sp), 0);
	sse_reset(&sp);
	if (d != DIALECT_GEMINI)
		return;
	for (p = b->data; (p = strstr(p, "\r\n\r\n")) != NULL; p += 4)
		frames++;
	assert_int_equal(frames, e->n);
	assert_null(strstr(b->data, "}\n\n"));
}

static void
evs_free(struct evs *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		json_decref(e->data[i]);
	e->n = 0;
}

/*
 * The pieces of text (thinking when thought) in a stream of dialect d,
 * joined into out; *pieces counts them. Every piece must be short.
 */
static void
pieces(enum dialect d, struct evs *e, int thought, char *out, size_t n,
    size_t *count)
{
	size_t i, used = 0, len;
	const char *s;

	out[0] = '\0';
	*count = 0;
	for (i = 0; i < e->n; i++) {
		json_t *v = e->data[i];

		s = NULL;
		if (d == DIALECT_OPENAI)
			s = js(v,
			    thought ? "choices.0.delta.reasoning_content"
				    : "choices.0.delta.content");
		else if (d == DIALECT_ANTHROPIC &&
		    strcmp(e->names[i], "content_block_delta") == 0)
			s = js(v, thought ? "delta.thinking" : "delta.text");
		else if (d == DIALECT_GEMINI &&
		    json_is_true(jp(
			v, "candidates.0.content.parts.0.thought")) == thought)
			s = js(v, "candidates.0.content.parts.0.text");
		if (s == NULL || s[0] == '\0')
			continue;
		len = strlen(s);
		assert_true(len <= IR_PIECE_MAX);
		assert_true(used + len < n);
		memcpy(out + used, s, len + 1);
		used += len;
		(*count)++;
	}
}

static struct dialect_req_info
info_for(int include_usage)
{
	struct dialect_req_info info;

	memset(&info, 0, sizeof(info));
	info.stream = 1;
	info.include_usage = include_usage;
	snprintf(info.model, sizeof(info.model), "asked-model");
	return info;
}

/* body -> stream of d (parsed into e); the SSE text stays in sse. */
static void
to_stream(enum dialect d, const char *body, int include_usage, struct buf *sse,
    struct evs *e)
{
	struct dialect_req_info info = info_for(include_usage);

	buf_init(sse, 1 << 20);
	assert_int_equal(
	    dialect_response_to_stream(d, span_str(body), &info, sse),
	    RELAY_OK);
	assert_int_equal(
	    dialect_stream_text_complete(d, (struct span){sse->data, sse->len}),
	    1);
	parse_sse(d, sse, e);
}

/* A recorded stream of d -> whole body of d, parsed. */
static json_t *
to_whole(enum dialect d, const char *sse, size_t len, const struct ir_usage *u)
{
	struct buf b;
	json_t *v;

	buf_init(&b, 1 << 20);
	assert_int_equal(
	    dialect_stream_to_response(d, (struct span){sse, len}, u, &b),
	    RELAY_OK);
	v = load(&b);
	buf_reset(&b);
	return v;
}

/* --- fixtures ------------------------------------------------------------ */

#define NIHAO "你好，世界"
/* Words, then CJK without a space for 60 bytes, then words again. */
#define LONG_TEXT                                                              \
	"The quick brown fox jumps over the lazy dog, and then it turns "      \
	"around to look at the sleepy dog once more. " NIHAO NIHAO NIHAO NIHAO \
	" Done."

static const char OA_WHOLE[] =
    "{\"id\":\"chatcmpl-77\",\"object\":\"chat.completion\",\"created\":"
    "1700000123,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"" LONG_TEXT "\","
    "\"reasoning_content\":\"Weather first, then the answer.\","
    "\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":"
    "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}"
    "}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":"
    "1200,\"completion_tokens\":50,\"total_tokens\":1250,"
    "\"prompt_tokens_details\":{\"cached_tokens\":1000},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":20}}}";

static const char AN_WHOLE[] =
    "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"thinking\","
    "\"thinking\":\"The user wants a greeting; I will also call f to check "
    "the numbers.\",\"signature\":\"EqQBCkgIARAB+/=\"},{\"type\":\"text\","
    "\"text\":\"" LONG_TEXT "\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\","
    "\"name\":\"f\",\"input\":{\"a\":1,\"b\":\"" NIHAO "\"}}],"
    "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{"
    "\"input_tokens\":200,\"cache_creation_input_tokens\":100,"
    "\"cache_read_input_tokens\":1000,\"output_tokens\":30}}";

static const char GM_WHOLE[] =
    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":"
    "\"Planning the answer in some detail, step by step.\",\"thought\":"
    "true},{\"text\":\"" LONG_TEXT "\"},{\"functionCall\":{\"name\":\"f\","
    "\"args\":{\"x\":[1,2]}},\"thoughtSignature\":\"GSIG\"}]},"
    "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{"
    "\"promptTokenCount\":500,\"candidatesTokenCount\":40,"
    "\"thoughtsTokenCount\":60,\"totalTokenCount\":600,"
    "\"cachedContentTokenCount\":300},\"modelVersion\":\"gemini-2.5-pro\","
    "\"responseId\":\"resp-1\"}";

/* An OpenAI stream as a client with include_usage got it. */
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

/* An OpenAI stream as a client without include_usage got it: no usage
 * chunk. */
static const char OA_STREAM_NOUSAGE[] =
    "data: {\"id\":\"chatcmpl-5\",\"object\":\"chat.completion.chunk\","
    "\"created\":1700000005,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-5\",\"object\":\"chat.completion.chunk\","
    "\"created\":1700000005,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":"
    "null}]}\n\n"
    "data: {\"id\":\"chatcmpl-5\",\"object\":\"chat.completion.chunk\","
    "\"created\":1700000005,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"lo, \"},\"logprobs\":null,\"finish_reason\":"
    "null}]}\n\n"
    "data: {\"id\":\"chatcmpl-5\",\"object\":\"chat.completion.chunk\","
    "\"created\":1700000005,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"" NIHAO "\"},\"logprobs\":null,"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-5\",\"object\":\"chat.completion.chunk\","
    "\"created\":1700000005,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
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
    "\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"ls\"}}\n\n"
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
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"there\"}],"
    "\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"gemini-2.5-flash\","
    "\"responseId\":\"r-1\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{"
    "\"name\":\"read_file\",\"args\":{\"path\":\"a b.md\"}},"
    "\"thoughtSignature\":\"TSIG\"}],\"role\":\"model\"},\"finishReason\":"
    "\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":70,"
    "\"candidatesTokenCount\":12,\"thoughtsTokenCount\":30,"
    "\"cachedContentTokenCount\":50,\"totalTokenCount\":112},"
    "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n";

/* --- whole -> stream (-> whole) ------------------------------------------ */

static void
test_openai_to_stream(void **state)
{
	char text[1024];
	struct evs e;
	struct buf sse;
	json_t *v, *last;
	size_t i, n;

	(void)state;
	to_stream(DIALECT_OPENAI, OA_WHOLE, 1, &sse, &e);
	/* role chunk first, every chunk of the body's id/model/created */
	assert_string_equal(js(e.data[0], "choices.0.delta.role"), "assistant");
	for (i = 0; i < e.n; i++) {
		assert_string_equal(js(e.data[i], "id"), "chatcmpl-77");
		assert_string_equal(js(e.data[i], "model"), "gpt-4o-mini");
		assert_int_equal(ji(e.data[i], "created"), 1700000123);
	}
	pieces(DIALECT_OPENAI, &e, 0, text, sizeof(text), &n);
	assert_string_equal(text, LONG_TEXT);
	assert_true(n >= 4);
	pieces(DIALECT_OPENAI, &e, 1, text, sizeof(text), &n);
	assert_string_equal(text, "Weather first, then the answer.");
	/* the tool call: its head, then its arguments in one delta */
	for (i = 0; i < e.n; i++)
		if (js(e.data[i], "choices.0.delta.tool_calls.0.id") != NULL)
			break;
	assert_true(i + 1 < e.n);
	assert_string_equal(
	    js(e.data[i], "choices.0.delta.tool_calls.0.id"), "call_a");
	assert_string_equal(
	    js(e.data[i], "choices.0.delta.tool_calls.0.function.name"),
	    "get_weather");
	assert_string_equal(js(e.data[i + 1],
				"choices.0.delta.tool_calls.0.function."
				"arguments"),
	    "{\"city\":\"Oslo\"}");
	/* finish chunk, usage chunk, [DONE] */
	assert_int_equal(e.done, 1);
	assert_int_equal(e.done_at, e.n);
	assert_string_equal(
	    js(e.data[i + 2], "choices.0.finish_reason"), "tool_calls");
	last = e.data[e.n - 1];
	assert_int_equal(json_array_size(jp(last, "choices")), 0);
	assert_int_equal(ji(last, "usage.prompt_tokens"), 1200);
	assert_int_equal(ji(last, "usage.completion_tokens"), 50);
	assert_int_equal(e.n, i + 4);

	/* and back: the same answer */
	v = to_whole(DIALECT_OPENAI, sse.data, sse.len, NULL);
	assert_string_equal(js(v, "id"), "chatcmpl-77");
	assert_string_equal(js(v, "model"), "gpt-4o-mini");
	assert_int_equal(ji(v, "created"), 1700000123);
	assert_string_equal(js(v, "choices.0.message.content"), LONG_TEXT);
	assert_string_equal(js(v, "choices.0.message.reasoning_content"),
	    "Weather first, then the answer.");
	assert_string_equal(
	    js(v, "choices.0.message.tool_calls.0.id"), "call_a");
	assert_string_equal(
	    js(v, "choices.0.message.tool_calls.0.function.arguments"),
	    "{\"city\":\"Oslo\"}");
	assert_string_equal(js(v, "choices.0.finish_reason"), "tool_calls");
	assert_int_equal(ji(v, "usage.prompt_tokens"), 1200);
	assert_int_equal(ji(v, "usage.completion_tokens"), 50);
	assert_int_equal(
	    ji(v, "usage.prompt_tokens_details.cached_tokens"), 1000);
	assert_int_equal(
	    ji(v, "usage.completion_tokens_details.reasoning_tokens"), 20);
	json_decref(v);
	evs_free(&e);
	buf_reset(&sse);

	/* without include_usage: no usage chunk */
	to_stream(DIALECT_OPENAI, OA_WHOLE, 0, &sse, &e);
	for (i = 0; i < e.n; i++)
		assert_null(jp(e.data[i], "usage"));
	assert_string_equal(
	    js(e.data[e.n - 1], "choices.0.finish_reason"), "tool_calls");
	evs_free(&e);
	buf_reset(&sse);
}

static void
test_anthropic_to_stream(void **state)
{
	static const char *const want[] = {"message_start",
	    "content_block_start", "content_block_delta", "content_block_delta",
	    "content_block_delta", "content_block_stop", "content_block_start"};
	char text[1024];
	struct evs e;
	struct buf sse;
	json_t *v, *ev;
	size_t i, n, nstop = 0;

	(void)state;
	to_stream(DIALECT_ANTHROPIC, AN_WHOLE, 0, &sse, &e);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(e.names[i], want[i]);
	assert_string_equal(js(e.data[0], "message.id"), "msg_01");
	assert_string_equal(
	    js(e.data[0], "message.model"), "claude-sonnet-4-5");
	/* the prompt's counts at the start, as Anthropic sends them */
	assert_int_equal(ji(e.data[0], "message.usage.input_tokens"), 200);
	assert_int_equal(
	    ji(e.data[0], "message.usage.cache_read_input_tokens"), 1000);
	assert_string_equal(js(e.data[1], "content_block.type"), "thinking");
	assert_string_equal(js(e.data[4], "delta.type"), "signature_delta");
	assert_string_equal(
	    js(e.data[4], "delta.signature"), "EqQBCkgIARAB+/=");
	pieces(DIALECT_ANTHROPIC, &e, 1, text, sizeof(text), &n);
	assert_string_equal(text,
	    "The user wants a greeting; I will also call f to check the "
	    "numbers.");
	assert_int_equal(n, 2);
	pieces(DIALECT_ANTHROPIC, &e, 0, text, sizeof(text), &n);
	assert_string_equal(text, LONG_TEXT);
	assert_true(n >= 4);
	for (i = 0; i < e.n; i++) {
		ev = e.data[i];
		if (strcmp(e.names[i], "content_block_stop") == 0)
			assert_int_equal(ji(ev, "index"), nstop++);
		if (strcmp(e.names[i], "content_block_start") == 0 &&
		    strcmp(js(ev, "content_block.type"), "tool_use") == 0) {
			assert_string_equal(
			    js(ev, "content_block.id"), "toolu_1");
			assert_string_equal(js(ev, "content_block.name"), "f");
			assert_string_equal(js(e.data[i + 1], "delta.type"),
			    "input_json_delta");
			assert_string_equal(
			    js(e.data[i + 1], "delta.partial_json"),
			    "{\"a\":1,\"b\":\"" NIHAO "\"}");
			assert_string_equal(
			    e.names[i + 2], "content_block_stop");
		}
	}
	assert_int_equal(nstop, 3);
	assert_string_equal(e.names[e.n - 2], "message_delta");
	assert_string_equal(
	    js(e.data[e.n - 2], "delta.stop_reason"), "tool_use");
	assert_int_equal(ji(e.data[e.n - 2], "usage.output_tokens"), 30);
	assert_string_equal(e.names[e.n - 1], "message_stop");

	v = to_whole(DIALECT_ANTHROPIC, sse.data, sse.len, NULL);
	assert_string_equal(js(v, "id"), "msg_01");
	assert_string_equal(js(v, "model"), "claude-sonnet-4-5");
	assert_string_equal(js(v, "content.0.type"), "thinking");
	assert_string_equal(js(v, "content.0.signature"), "EqQBCkgIARAB+/=");
	assert_string_equal(js(v, "content.1.text"), LONG_TEXT);
	assert_string_equal(js(v, "content.2.id"), "toolu_1");
	assert_int_equal(ji(v, "content.2.input.a"), 1);
	assert_string_equal(js(v, "content.2.input.b"), NIHAO);
	assert_int_equal(json_array_size(jp(v, "content")), 3);
	assert_string_equal(js(v, "stop_reason"), "tool_use");
	assert_int_equal(ji(v, "usage.input_tokens"), 200);
	assert_int_equal(ji(v, "usage.cache_creation_input_tokens"), 100);
	assert_int_equal(ji(v, "usage.cache_read_input_tokens"), 1000);
	assert_int_equal(ji(v, "usage.output_tokens"), 30);
	json_decref(v);
	evs_free(&e);
	buf_reset(&sse);
}

static void
test_gemini_to_stream(void **state)
{
	char text[1024];
	struct evs e;
	struct buf sse;
	json_t *v, *last;
	size_t i, n, calls = 0;

	(void)state;
	to_stream(DIALECT_GEMINI, GM_WHOLE, 0, &sse, &e);
	for (i = 0; i < e.n; i++) {
		assert_string_equal(js(e.data[i], "responseId"), "resp-1");
		assert_string_equal(
		    js(e.data[i], "modelVersion"), "gemini-2.5-pro");
		if (i + 1 < e.n) {
			assert_null(jp(e.data[i], "candidates.0.finishReason"));
			assert_null(jp(e.data[i], "usageMetadata"));
		}
		if (jp(e.data[i],
			"candidates.0.content.parts.0.functionCall") == NULL)
			continue;
		calls++;
		assert_int_equal(ji(e.data[i],
				     "candidates.0.content.parts.0."
				     "functionCall.args.x.1"),
		    2);
		assert_string_equal(js(e.data[i],
					"candidates.0.content.parts.0."
					"thoughtSignature"),
		    "GSIG");
	}
	assert_int_equal(calls, 1);
	pieces(DIALECT_GEMINI, &e, 1, text, sizeof(text), &n);
	assert_string_equal(
	    text, "Planning the answer in some detail, step by step.");
	assert_int_equal(n, 2);
	pieces(DIALECT_GEMINI, &e, 0, text, sizeof(text), &n);
	assert_string_equal(text, LONG_TEXT);
	assert_true(n >= 4);
	last = e.data[e.n - 1];
	assert_string_equal(js(last, "candidates.0.finishReason"), "STOP");
	assert_int_equal(ji(last, "usageMetadata.promptTokenCount"), 500);
	assert_int_equal(ji(last, "usageMetadata.candidatesTokenCount"), 40);
	assert_int_equal(ji(last, "usageMetadata.thoughtsTokenCount"), 60);

	v = to_whole(DIALECT_GEMINI, sse.data, sse.len, NULL);
	assert_string_equal(js(v, "responseId"), "resp-1");
	assert_string_equal(js(v, "modelVersion"), "gemini-2.5-pro");
	assert_true(
	    json_is_true(jp(v, "candidates.0.content.parts.0.thought")));
	assert_string_equal(js(v, "candidates.0.content.parts.0.text"),
	    "Planning the answer in some detail, step by step.");
	assert_string_equal(
	    js(v, "candidates.0.content.parts.1.text"), LONG_TEXT);
	assert_int_equal(
	    ji(v, "candidates.0.content.parts.2.functionCall.args.x.0"), 1);
	assert_string_equal(
	    js(v, "candidates.0.content.parts.2.thoughtSignature"), "GSIG");
	assert_string_equal(js(v, "candidates.0.finishReason"), "STOP");
	assert_int_equal(ji(v, "usageMetadata.promptTokenCount"), 500);
	assert_int_equal(ji(v, "usageMetadata.candidatesTokenCount"), 40);
	assert_int_equal(ji(v, "usageMetadata.thoughtsTokenCount"), 60);
	assert_int_equal(ji(v, "usageMetadata.cachedContentTokenCount"), 300);
	json_decref(v);
	evs_free(&e);
	buf_reset(&sse);
}

/* Pieces are cut at spaces, and never inside UTF-8 (a piece is a JSON
 * string: collect() would fail on a cut sequence). */
static void
test_pieces(void **state)
{
	static const char body[] =
	    "{\"choices\":[{\"message\":{\"content\":\"" NIHAO NIHAO NIHAO NIHAO
		NIHAO NIHAO "x" NIHAO NIHAO "\"},\"finish_reason\":"
	    "\"stop\"}]}";
	char text[1024];
	struct evs e;
	struct buf sse;
	size_t i, n;
	const char *s;

	(void)state;
	to_stream(DIALECT_OPENAI, body, 0, &sse, &e);
	pieces(DIALECT_OPENAI, &e, 0, text, sizeof(text), &n);
	assert_string_equal(
	    text, NIHAO NIHAO NIHAO NIHAO NIHAO NIHAO "x" NIHAO NIHAO);
	assert_true(n >= 3);
	evs_free(&e);
	buf_reset(&sse);
	to_stream(DIALECT_OPENAI, OA_WHOLE, 0, &sse, &e);
	for (i = 1; i < e.n; i++) {
		s = js(e.data[i], "choices.0.delta.content");
		/* a piece of words starts at a word: " fox jumps" */
		if (s != NULL && i > 1 && s[0] >= 'a' && s[0] <= 'z')
			fail_msg("piece cut inside a word: \"%s\"", s);
	}
	evs_free(&e);
	buf_reset(&sse);
}

/* --- recorded stream -> whole -------------------------------------------- */

static void
test_openai_stream_to_whole(void **state)
{
	struct ir_usage u;
	json_t *v;

	(void)state;
	v = to_whole(DIALECT_OPENAI, OA_STREAM, strlen(OA_STREAM), NULL);
	assert_string_equal(js(v, "id"), "chatcmpl-9");
	assert_string_equal(js(v, "object"), "chat.completion");
	assert_string_equal(js(v, "model"), "gpt-4o");
	assert_int_equal(ji(v, "created"), 1700000001);
	assert_string_equal(
	    js(v, "choices.0.message.content"), "Let me check.");
	assert_string_equal(
	    js(v, "choices.0.message.tool_calls.0.id"), "call_x");
	assert_string_equal(
	    js(v, "choices.0.message.tool_calls.0.function.name"),
	    "get_weather");
	assert_string_equal(
	    js(v, "choices.0.message.tool_calls.0.function.arguments"),
	    "{\"city\":\"Oslo\"}");
	assert_string_equal(
	    js(v, "choices.0.message.tool_calls.1.id"), "call_y");
	assert_string_equal(
	    js(v, "choices.0.message.tool_calls.1.function.arguments"), "{}");
	assert_string_equal(js(v, "choices.0.finish_reason"), "tool_calls");
	assert_int_equal(ji(v, "usage.prompt_tokens"), 900);
	assert_int_equal(ji(v, "usage.completion_tokens"), 40);
	assert_int_equal(
	    ji(v, "usage.prompt_tokens_details.cached_tokens"), 800);
	json_decref(v);

	/* counts the recording carried win over the ones given */
	ir_usage_init(&u);
	u.input = 12;
	u.output = 7;
	v = to_whole(DIALECT_OPENAI, OA_STREAM, strlen(OA_STREAM), &u);
	assert_int_equal(ji(v, "usage.prompt_tokens"), 900);
	assert_int_equal(ji(v, "usage.completion_tokens"), 40);
	json_decref(v);

	/* recorded without usage: the given counts fill in */
	v = to_whole(
	    DIALECT_OPENAI, OA_STREAM_NOUSAGE, strlen(OA_STREAM_NOUSAGE), &u);
	assert_string_equal(
	    js(v, "choices.0.message.content"), "Hello, " NIHAO);
	assert_string_equal(js(v, "choices.0.finish_reason"), "stop");
	assert_null(jp(v, "choices.0.message.tool_calls"));
	assert_int_equal(ji(v, "usage.prompt_tokens"), 12);
	assert_int_equal(ji(v, "usage.completion_tokens"), 7);
	assert_int_equal(ji(v, "usage.total_tokens"), 19);
	json_decref(v);
	v = to_whole(
	    DIALECT_OPENAI, OA_STREAM_NOUSAGE, strlen(OA_STREAM_NOUSAGE), NULL);
	assert_int_equal(ji(v, "usage.prompt_tokens"), 0);
	json_decref(v);
}

static void
test_anthropic_stream_to_whole(void **state)
{
	json_t *v;

	(void)state;
	v = to_whole(DIALECT_ANTHROPIC, AN_STREAM, strlen(AN_STREAM), NULL);
	assert_string_equal(js(v, "id"), "msg_7");
	assert_string_equal(js(v, "type"), "message");
	assert_string_equal(js(v, "model"), "claude-opus-4");
	assert_int_equal(json_array_size(jp(v, "content")), 3);
	assert_string_equal(js(v, "content.0.type"), "thinking");
	assert_string_equal(js(v, "content.0.thinking"), "Need ls.");
	assert_string_equal(js(v, "content.0.signature"), "EqQBCgIYAh+/=");
	assert_string_equal(js(v, "content.1.type"), "text");
	assert_string_equal(js(v, "content.1.text"), "Running ls");
	assert_string_equal(js(v, "content.2.type"), "tool_use");
	assert_string_equal(js(v, "content.2.id"), "toolu_9");
	assert_string_equal(js(v, "content.2.name"), "Bash");
	assert_string_equal(js(v, "content.2.input.command"), "ls");
	assert_string_equal(js(v, "stop_reason"), "tool_use");
	assert_int_equal(ji(v, "usage.input_tokens"), 25);
	assert_int_equal(ji(v, "usage.cache_creation_input_tokens"), 10);
	assert_int_equal(ji(v, "usage.cache_read_input_tokens"), 2000);
	assert_int_equal(ji(v, "usage.output_tokens"), 87);
	json_decref(v);
}

static void
test_gemini_stream_to_whole(void **state)
{
	json_t *v;

	(void)state;
	v = to_whole(DIALECT_GEMINI, GM_STREAM, strlen(GM_STREAM), NULL);
	assert_string_equal(js(v, "responseId"), "r-1");
	assert_string_equal(js(v, "modelVersion"), "gemini-2.5-flash");
	assert_true(
	    json_is_true(jp(v, "candidates.0.content.parts.0.thought")));
	assert_string_equal(
	    js(v, "candidates.0.content.parts.0.text"), "Thinking about it");
	assert_string_equal(
	    js(v, "candidates.0.content.parts.1.text"), "Hi there");
	assert_string_equal(
	    js(v, "candidates.0.content.parts.2.functionCall.name"),
	    "read_file");
	assert_string_equal(
	    js(v, "candidates.0.content.parts.2.functionCall.args.path"),
	    "a b.md");
	assert_string_equal(
	    js(v, "candidates.0.content.parts.2.thoughtSignature"), "TSIG");
	assert_string_equal(js(v, "candidates.0.finishReason"), "STOP");
	assert_int_equal(ji(v, "usageMetadata.promptTokenCount"), 70);
	assert_int_equal(ji(v, "usageMetadata.candidatesTokenCount"), 12);
	assert_int_equal(ji(v, "usageMetadata.thoughtsTokenCount"), 30);
	assert_int_equal(ji(v, "usageMetadata.cachedContentTokenCount"), 50);
	json_decref(v);
}

/* --- retell ----------------------------------------------------------------- */

static void
retell(enum dialect d, const char *rec, int include_usage,
    const struct ir_usage *u, struct evs *e)
{
	struct dialect_req_info info = info_for(include_usage);
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(
	    dialect_stream_retell(d, span_str(rec), &info, u, &b), RELAY_OK);
	assert_int_equal(
	    dialect_stream_text_complete(d, (struct span){b.data, b.len}), 1);
	parse_sse(d, &b, e);
	buf_reset(&b);
}

static void
test_retell_openai_usage(void **state)
{
	struct evs rec, e;
	struct buf b;
	struct ir_usage u;
	size_t i, j;
	const char *s;
	json_t *last;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_puts(&b, OA_STREAM_NOUSAGE), RELAY_OK);
	parse_sse(DIALECT_OPENAI, &b, &rec);
	buf_reset(&b);
	ir_usage_init(&u);
	u.input = 12;
	u.output = 7;
	retell(DIALECT_OPENAI, OA_STREAM_NOUSAGE, 1, &u, &e);
	assert_int_equal(e.done, 1);
	assert_int_equal(e.done_at, e.n);
	last = e.data[e.n - 1];
	assert_int_equal(json_array_size(jp(last, "choices")), 0);
	assert_int_equal(ji(last, "usage.prompt_tokens"), 12);
	assert_int_equal(ji(last, "usage.completion_tokens"), 7);
	assert_string_equal(js(last, "id"), "chatcmpl-5");
	/* the same chunks of text, one for one, then one more: usage */
	assert_int_equal(e.n, rec.n + 1);
	for (i = j = 0; i < rec.n; i++) {
		s = js(rec.data[i], "choices.0.delta.content");
		if (s == NULL || s[0] == '\0')
			continue;
		while (j < e.n &&
		    (js(e.data[j], "choices.0.delta.content") == NULL ||
			js(e.data[j], "choices.0.delta.content")[0] == '\0'))
			j++;
		assert_true(j < e.n);
		assert_string_equal(
		    js(e.data[j], "choices.0.delta.content"), s);
		assert_string_equal(js(e.data[j], "id"), "chatcmpl-5");
		assert_int_equal(ji(e.data[j], "created"), 1700000005);
		j++;
	}
	for (; j < e.n; j++)
		assert_null(js(e.data[j], "choices.0.delta.content"));
	evs_free(&e);

	/* without usage given: the usage chunk says 0 */
	retell(DIALECT_OPENAI, OA_STREAM_NOUSAGE, 1, NULL, &e);
	assert_int_equal(ji(e.data[e.n - 1], "usage.prompt_tokens"), 0);
	evs_free(&e);
	/* include_usage 0: none, also from a recording with one */
	retell(DIALECT_OPENAI, OA_STREAM, 0, &u, &e);
	assert_int_equal(e.done, 1);
	for (i = 0; i < e.n; i++)
		assert_null(jp(e.data[i], "usage"));
	assert_string_equal(
	    js(e.data[e.n - 1], "choices.0.finish_reason"), "tool_calls");
	evs_free(&e);
	/* a recording with usage keeps its own counts */
	retell(DIALECT_OPENAI, OA_STREAM, 1, &u, &e);
	assert_int_equal(ji(e.data[e.n - 1], "usage.prompt_tokens"), 900);
	evs_free(&e);
	evs_free(&rec);
}

/* Anthropic and Gemini recordings keep their pieces too. */
static void
test_retell_others(void **state)
{
	static const struct {
		enum dialect d;
		const char *rec;
	} cases[] = {
	    {DIALECT_ANTHROPIC, AN_STREAM},
	    {DIALECT_GEMINI, GM_STREAM},
	    {DIALECT_OPENAI, OA_STREAM},
	};
	char a[512], b[512];
	struct evs rec, e;
	struct buf buf;
	size_t i, na, nb;
	int th;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&buf, 1 << 20);
		assert_int_equal(buf_puts(&buf, cases[i].rec), RELAY_OK);
		parse_sse(cases[i].d, &buf, &rec);
		buf_reset(&buf);
		retell(cases[i].d, cases[i].rec, 1, NULL, &e);
		for (th = 0; th < 2; th++) {
			pieces(cases[i].d, &rec, th, a, sizeof(a), &na);
			pieces(cases[i].d, &e, th, b, sizeof(b), &nb);
			assert_string_equal(a, b);
			assert_int_equal(na, nb);
		}
		evs_free(&rec);
		evs_free(&e);
	}
}

/* --- cut and broken recordings ------------------------------------------- */

/* Every strict prefix of a complete recording is refused by all three,
 * and out is left as it was. */
static void
check_cuts(enum dialect d, const char *rec)
{
	struct dialect_req_info info = info_for(1);
	size_t len = strlen(rec), cut;
	struct span s;
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(buf_puts(&b, "kept"), RELAY_OK);
	assert_int_equal(
	    dialect_stream_text_complete(d, (struct span){rec, len}), 1);
	for (cut = 0; cut < len; cut++) {
		s.p = rec;
		s.len = cut;
		assert_int_equal(dialect_stream_text_complete(d, s), 0);
		assert_int_equal(
		    dialect_stream_to_response(d, s, NULL, &b), RELAY_EPROTO);
		assert_int_equal(
		    dialect_stream_retell(d, s, &info, NULL, &b), RELAY_EPROTO);
		assert_int_equal(b.len, 4);
	}
	buf_reset(&b);
}

static void
test_cut_streams(void **state)
{
	(void)state;
	check_cuts(DIALECT_OPENAI, OA_STREAM);
	check_cuts(DIALECT_OPENAI, OA_STREAM_NOUSAGE);
	check_cuts(DIALECT_ANTHROPIC, AN_STREAM);
	check_cuts(DIALECT_GEMINI, GM_STREAM);
}

static void
test_garbage(void **state)
{
	static const struct {
		enum dialect d;
		const char *sse;
	} bad[] = {
	    {DIALECT_OPENAI, "hello"},
	    {DIALECT_OPENAI, "data: {\n\n"},
	    {DIALECT_OPENAI, "data: not json\n\ndata: [DONE]\n\n"},
	    {DIALECT_OPENAI, "data: [1]\n\ndata: [DONE]\n\n"},
	    {DIALECT_OPENAI,
		"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
		"data: {\"error\":{\"message\":\"overloaded\",\"type\":"
		"\"server_error\"}}\n\ndata: [DONE]\n\n"},
	    {DIALECT_OPENAI, OA_WHOLE},
	    {DIALECT_ANTHROPIC,
		"event: message_start\ndata: {\"type\":\"message_start\","
		"\"message\":{\"id\":\"m\"}}\n\nevent: error\ndata: {\"type\":"
		"\"error\",\"error\":{\"type\":\"overloaded_error\","
		"\"message\":\"Overloaded\"}}\n\n"
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"},
	    {DIALECT_ANTHROPIC, ": ping\n\n"},
	    {DIALECT_ANTHROPIC, "data: [DONE]\n\n"},
	    {DIALECT_GEMINI,
		"data: {\"error\":{\"code\":429,\"message\":\"quota\","
		"\"status\":\"RESOURCE_EXHAUSTED\"}}\r\n\r\n"},
	    {DIALECT_GEMINI,
		"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
		"\"no finish\"}]}}]}\r\n\r\n"},
	    {DIALECT_GEMINI, ""},
	    /* the finish frame, then a frame cut short */
	    {DIALECT_GEMINI,
		"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
		"\"a\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n"
		"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"},
	    {(enum dialect)7, "data: [DONE]\n\n"},
	};
	struct dialect_req_info info = info_for(1);
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1 << 20);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct span s = span_str(bad[i].sse);

		assert_int_equal(dialect_stream_text_complete(bad[i].d, s), 0);
		assert_int_equal(
		    dialect_stream_to_response(bad[i].d, s, NULL, &b),
		    RELAY_EPROTO);
		assert_int_equal(
		    dialect_stream_retell(bad[i].d, s, &info, NULL, &b),
		    RELAY_EPROTO);
		assert_int_equal(b.len, 0);
	}
	/* a stream is not a whole body, nor garbage, nor the wrong dialect */
	assert_int_equal(dialect_response_to_stream(
			     DIALECT_OPENAI, span_str(OA_STREAM), &info, &b),
	    RELAY_EPROTO);
	assert_int_equal(dialect_response_to_stream(DIALECT_ANTHROPIC,
			     SPAN_LIT("{\"content\":"), &info, &b),
	    RELAY_EPROTO);
	assert_int_equal(dialect_response_to_stream(
			     DIALECT_ANTHROPIC, span_str(OA_WHOLE), &info, &b),
	    RELAY_EPROTO);
	assert_int_equal(dialect_response_to_stream(
			     (enum dialect) - 1, span_str(OA_WHOLE), &info, &b),
	    RELAY_EPROTO);
	assert_int_equal(b.len, 0);
	/* the output's ceiling */
	buf_reset(&b);
	buf_init(&b, 64);
	assert_int_equal(dialect_response_to_stream(
			     DIALECT_OPENAI, span_str(OA_WHOLE), &info, &b),
	    RELAY_ETOOBIG);
	assert_int_equal(dialect_stream_retell(DIALECT_ANTHROPIC,
			     span_str(AN_STREAM), &info, NULL, &b),
	    RELAY_ETOOBIG);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
}

/* A recording may end in LF or CRLF lines, and events after its end
 * are not looked at. */
static void
test_line_ends(void **state)
{
	static const char crlf[] =
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{"
	    "\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\r\n\r\n"
	    "data: [DONE]\r\n\r\n";
	static const char after[] =
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{"
	    "\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n"
	    "data: [DONE]\n\ndata: not json\n\n";
	json_t *v;

	(void)state;
	v = to_whole(DIALECT_OPENAI, crlf, strlen(crlf), NULL);
	assert_string_equal(js(v, "choices.0.message.content"), "x");
	json_decref(v);
	v = to_whole(DIALECT_OPENAI, after, strlen(after), NULL);
	assert_string_equal(js(v, "choices.0.message.content"), "x");
	json_decref(v);
}

/* Odd but complete recordings still give a whole answer the client's
 * SDK can read: a call without id gets one, arguments that do not join
 * into an object become {} for Anthropic. */
static void
test_odd_recordings(void **state)
{
	static const char noid[] =
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{"
	    "\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
	    "\"{}\"}}]}}]}\n\n"
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},"
	    "\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
	static const char cut_args[] =
	    "event: message_start\ndata: {\"type\":\"message_start\","
	    "\"message\":{\"id\":\"m\",\"model\":\"c\"}}\n\n"
	    "event: content_block_start\ndata: {\"type\":"
	    "\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
	    "\"tool_use\",\"id\":\"toolu_2\",\"name\":\"Bash\",\"input\":{}}}"
	    "\n\n"
	    "event: content_block_delta\ndata: {\"type\":"
	    "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	    "\"input_json_delta\",\"partial_json\":\"{\\\"command\\\": "
	    "\\\"l\"}}\n\n"
	    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
	const char *id;
	json_t *v;

	(void)state;
	v = to_whole(DIALECT_OPENAI, noid, strlen(noid), NULL);
	id = js(v, "choices.0.message.tool_calls.0.id");
	assert_non_null(id);
	assert_memory_equal(id, "call_", 5);
	assert_string_equal(
	    js(v, "choices.0.message.tool_calls.0.function.arguments"), "{}");
	json_decref(v);
	v = to_whole(DIALECT_ANTHROPIC, cut_args, strlen(cut_args), NULL);
	assert_string_equal(js(v, "content.0.id"), "toolu_2");
	assert_true(json_is_object(jp(v, "content.0.input")));
	assert_int_equal(json_object_size(jp(v, "content.0.input")), 0);
	json_decref(v);
}

/* A model name past RELAY_NAME_MAX bytes of CJK is cut at a character,
 * not inside one (which made the encoder fail as if memory were short). */
static void
test_long_model(void **state)
{
	struct dialect_req_info info = info_for(1);
	struct buf body, sse;
	struct evs e;
	size_t i;
	const char *m;

	(void)state;
	buf_init(&body, 1 << 16);
	assert_int_equal(buf_puts(&body,
			     "{\"choices\":[{\"message\":{\"content\":\"hi\"},"
			     "\"finish_reason\":\"stop\"}],\"model\":\""),
	    RELAY_OK);
	for (i = 0; i < 100; i++)
		assert_int_equal(buf_puts(&body, NIHAO), RELAY_OK);
	assert_int_equal(buf_puts(&body, "\"}"), RELAY_OK);
	buf_init(&sse, 1 << 20);
	assert_int_equal(dialect_response_to_stream(DIALECT_OPENAI,
			     (struct span){body.data, body.len}, &info, &sse),
	    RELAY_OK);
	parse_sse(DIALECT_OPENAI, &sse, &e);
	m = js(e.data[0], "model");
	assert_true(
	    strlen(m) <= RELAY_NAME_MAX && strlen(m) > RELAY_NAME_MAX - 3);
	assert_memory_equal(m, NIHAO, strlen(NIHAO));
	evs_free(&e);
	buf_reset(&sse);
	buf_reset(&body);
}

/* --- oom-safe cases (few allocations each) ---------------------------------- */

static void
test_oom_to_stream(void **state)
{
	struct dialect_req_info info = info_for(1);
	struct buf b;
	enum relay_err err;

	(void)state;
	buf_init(&b, 1 << 16);
	err = dialect_response_to_stream(DIALECT_ANTHROPIC,
	    SPAN_LIT("{\"id\":\"m\",\"model\":\"c\",\"content\":[{\"type\":"
		     "\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"},"
		     "{\"type\":\"text\",\"text\":\"hi\"},{\"type\":"
		     "\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}],"
		     "\"stop_reason\":\"tool_use\"}"),
	    &info, &b);
	if (err == RELAY_ENOMEM)
		assert_int_equal(b.len, 0);
	else
		assert_int_equal(err, RELAY_OK);
	buf_reset(&b);
}

static void
test_oom_to_whole(void **state)
{
	struct ir_usage u;
	struct buf b;
	enum relay_err err;

	(void)state;
	ir_usage_init(&u);
	u.input = 3;
	buf_init(&b, 1 << 16);
	err = dialect_stream_to_response(DIALECT_OPENAI,
	    SPAN_LIT("data: {\"id\":\"c\",\"choices\":[{\"delta\":{"
		     "\"reasoning_content\":\"r\",\"content\":\"a\"}}]}\n\n"
		     "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{"
		     "\"index\":0,\"id\":\"k\",\"function\":{\"name\":\"f\","
		     "\"arguments\":\"{}\"}}]},\"finish_reason\":"
		     "\"tool_calls\"}]}\n\ndata: [DONE]\n\n"),
	    &u, &b);
	if (err == RELAY_ENOMEM)
		assert_int_equal(b.len, 0);
	else
		assert_int_equal(err, RELAY_OK);
	buf_reset(&b);
}

static void
test_oom_retell(void **state)
{
	struct dialect_req_info info = info_for(1);
	struct buf b;
	enum relay_err err;

	(void)state;
	buf_init(&b, 1 << 16);
	err = dialect_stream_retell(DIALECT_GEMINI,
	    SPAN_LIT("data: {\"candidates\":[{\"content\":{\"parts\":[{"
		     "\"text\":\"hi\"},{\"functionCall\":{\"name\":\"f\","
		     "\"args\":{}}}]},\"finishReason\":\"STOP\"}]}\r\n\r\n"),
	    &info, NULL, &b);
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
	    OOM_CASE(test_oom_to_stream),
	    OOM_CASE(test_oom_to_whole),
	    OOM_CASE(test_oom_retell),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_openai_to_stream),
	    cmocka_unit_test(test_anthropic_to_stream),
	    cmocka_unit_test(test_gemini_to_stream),
	    cmocka_unit_test(test_pieces),
	    cmocka_unit_test(test_openai_stream_to_whole),
	    cmocka_unit_test(test_anthropic_stream_to_whole),
	    cmocka_unit_test(test_gemini_stream_to_whole),
	    cmocka_unit_test(test_retell_openai_usage),
	    cmocka_unit_test(test_retell_others),
	    cmocka_unit_test(test_cut_streams),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_line_ends),
	    cmocka_unit_test(test_odd_recordings),
	    cmocka_unit_test(test_long_model),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "replay (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n != 0) {
		if (failed != 0)
			return 1;
		if (!oom_reached) {
			printf("oom-torture: exhausted at %lu\n", oom_n);
			return 77;
		}
		return 0;
	}
	failed += cmocka_run_group_tests_name("replay", cases, NULL, NULL);
	return failed != 0 ? 1 : 0;
}
