/* SPDX-License-Identifier: MIT */
/* test_chatreq.c - unit tests for lib/chatreq.c: the checks OpenAI makes
 * first, each naming its parameter, and the stream flags. */
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
#include "../../lib/jsonx.h"
#include "../../lib/mem.h"

#include "oom_test.h"

/* Under torture RELAY_ENOMEM ends the case through its cleanup at out:. */
#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

static enum relay_err
cparse(const char *body, struct chatreq *cr, char *eb, size_t ebsz,
    const char **param)
{
	eb[0] = '\0';
	*param = "unset";
	return chatreq_parse(body, strlen(body), cr, eb, ebsz, param);
}

/* body must be refused naming param (NULL: none) with msg in the text. */
static void
bad_param(const char *body, const char *param, const char *msg)
{
	struct chatreq cr;
	const char *pm;
	char eb[256];

	assert_int_equal(cparse(body, &cr, eb, sizeof(eb), &pm), RELAY_EINVAL);
	if (param == NULL)
		assert_null(pm);
	else {
		assert_non_null(pm);
		assert_string_equal(pm, param);
	}
	if (strstr(eb, msg) == NULL)
		fail_msg("for %s: \"%s\" lacks \"%s\"", body, eb, msg);
	chatreq_free(&cr);
}

/* --- oom-safe cases (tokens under 16 bytes: see test_config.c) ---------- */

static void
test_valid_minimal(void **state)
{
	static const char body[] =
	    "{\"model\":\"gpt-x\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"}]}";
	struct chatreq cr;
	const char *pm;
	char eb[256];

	(void)state;
	TRY(cparse(body, &cr, eb, sizeof(eb), &pm), RELAY_OK);
	assert_null(pm);
	assert_int_equal(cr.model.len, 5);
	assert_memory_equal(cr.model.p, "gpt-x", 5);
	/* The span points into the parsed body. */
	assert_ptr_equal(
	    cr.model.p, json_string_value(json_object_get(cr.root, "model")));
	assert_false(cr.stream);
	assert_false(cr.include_usage);
out:
	chatreq_free(&cr);
	assert_null(cr.root);
}

static void
test_stream_flag(void **state)
{
	struct chatreq cr;
	const char *pm;
	char eb[256];

	(void)state;
	TRY(cparse("{\"model\":\"m\",\"messages\":[1],\"stream\":true}", &cr,
		eb, sizeof(eb), &pm),
	    RELAY_OK);
	assert_true(cr.stream);
	chatreq_free(&cr);
	TRY(cparse("{\"model\":\"m\",\"messages\":[1],\"stream\":null}", &cr,
		eb, sizeof(eb), &pm),
	    RELAY_OK);
	assert_false(cr.stream);
	chatreq_free(&cr);
	TRY(cparse("{\"stream\":\"yes\",\"model\":\"m\",\"messages\":[1]}", &cr,
		eb, sizeof(eb), &pm),
	    RELAY_EINVAL);
	assert_string_equal(pm, "stream");
out:
	chatreq_free(&cr);
}

static void
test_refusals_under_pressure(void **state)
{
	struct chatreq cr;
	const char *pm;
	char eb[256];

	(void)state;
	TRY(cparse("{\"messages\":[1]}", &cr, eb, sizeof(eb), &pm),
	    RELAY_EINVAL);
	assert_string_equal(pm, "model");
	chatreq_free(&cr);
	TRY(cparse(
		"{\"model\":\"m\",\"messages\":[]}", &cr, eb, sizeof(eb), &pm),
	    RELAY_EINVAL);
	assert_string_equal(pm, "messages");
	chatreq_free(&cr);
	TRY(cparse("{\"model\":\"m\"", &cr, eb, sizeof(eb), &pm), RELAY_EINVAL);
	assert_null(pm);
out:
	chatreq_free(&cr);
}

/* --- plain cases -------------------------------------------------------- */

static void
test_model_checks(void **state)
{
	char body[600], name[258];

	(void)state;
	bad_param("{\"messages\":[{}]}", "model", "you must provide a model");
	bad_param("{\"model\":\"\",\"messages\":[{}]}", "model",
	    "you must provide a model");
	bad_param("{\"model\":5,\"messages\":[{}]}", "model",
	    "you must provide a model");
	bad_param("{\"model\":null,\"messages\":[{}]}", "model",
	    "you must provide a model");
	memset(name, 'x', 257);
	name[257] = '\0';
	snprintf(
	    body, sizeof(body), "{\"model\":\"%s\",\"messages\":[{}]}", name);
	bad_param(body, "model", "too long");
}

static void
test_messages_checks(void **state)
{
	(void)state;
	bad_param("{\"model\":\"m\"}", "messages",
	    "Missing required parameter: 'messages'");
	bad_param("{\"model\":\"m\",\"messages\":[]}", "messages",
	    "expected a non-empty array");
	bad_param("{\"model\":\"m\",\"messages\":{}}", "messages",
	    "expected a non-empty array");
	bad_param("{\"model\":\"m\",\"messages\":null}", "messages",
	    "expected a non-empty array");
}

static void
test_body_checks(void **state)
{
	struct chatreq cr;
	const char *pm;
	char eb[256];

	(void)state;
	assert_int_equal(
	    chatreq_parse("", 0, &cr, eb, sizeof(eb), &pm), RELAY_EINVAL);
	assert_null(pm);
	assert_non_null(strstr(eb, "body is empty"));
	chatreq_free(&cr);
	bad_param("[1,2]", NULL, "must be a JSON object");
	bad_param("{\"model\":\"m\",", NULL, "invalid JSON");
	bad_param("{\"model\":\"a\",\"model\":\"b\",\"messages\":[1]}", NULL,
	    "duplicate");
	bad_param("{\"model\":\"m\",\"messages\":[1],\"stream\":1}", "stream",
	    "expected a boolean");
	bad_param("{\"model\":\"m\",\"messages\":[1],\"stream\":\"true\"}",
	    "stream", "expected a boolean");
}

static void
test_include_usage(void **state)
{
	static const struct {
		const char *body;
		int stream, usage;
	} t[] = {
	    {"{\"model\":\"m\",\"messages\":[1],\"stream\":true,"
	     "\"stream_options\":{\"include_usage\":true}}",
		1, 1},
	    {"{\"model\":\"m\",\"messages\":[1],\"stream\":true,"
	     "\"stream_options\":{\"include_usage\":false}}",
		1, 0},
	    {"{\"model\":\"m\",\"messages\":[1],\"stream\":true,"
	     "\"stream_options\":{}}",
		1, 0},
	    {"{\"model\":\"m\",\"messages\":[1],\"stream\":true,"
	     "\"stream_options\":[true]}",
		1, 0},
	    {"{\"model\":\"m\",\"messages\":[1],"
	     "\"stream_options\":{\"include_usage\":1}}",
		0, 0},
	    {"{\"model\":\"m\",\"messages\":[1],\"include_usage\":true}", 0, 0},
	};
	struct chatreq cr;
	const char *pm;
	char eb[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(
		    cparse(t[i].body, &cr, eb, sizeof(eb), &pm), RELAY_OK);
		assert_int_equal(cr.stream, t[i].stream);
		assert_int_equal(cr.include_usage, t[i].usage);
		chatreq_free(&cr);
	}
}

static void
test_unicode_model(void **state)
{
	struct chatreq cr;
	const char *pm;
	char eb[256];

	(void)state;
	/* An escaped model name is decoded by jansson. */
	assert_int_equal(cparse("{\"model\":\"g\\u0070t\",\"messages\":[1]}",
			     &cr, eb, sizeof(eb), &pm),
	    RELAY_OK);
	assert_int_equal(cr.model.len, 3);
	assert_memory_equal(cr.model.p, "gpt", 3);
	chatreq_free(&cr);
	chatreq_free(&cr); /* twice is fine */
}

/* --- the reservation (issue 19: every spelling, choices, saturation) --- */

/* Models: one with a Gemini and an Anthropic target (a translation may
 * add a thinking budget to max_tokens), one with a Gemini target only. */
static const struct config_provider p_an = {.type = PROVIDER_ANTHROPIC};
static const struct config_provider p_gm = {.type = PROVIDER_GEMINI};
static struct config_target t_both[2] = {
    {.provider = &p_gm}, {.provider = &p_an}};
static struct config_model m_an = {.targets = t_both, .ntargets = 2};
static struct config_model m_gm = {.targets = t_both, .ntargets = 1};

/* chatreq_reserve() of body in dialect d to model m (default 4096), or -1
 * when the body is refused. */
static long long
reserve_to(const struct config_model *m, enum dialect d, const char *body)
{
	struct chatreq cr;
	const char *pm;
	char eb[256];
	long long r = -1;

	if (chatreq_parse_dialect(
		d, body, strlen(body), &cr, eb, sizeof(eb), &pm) == RELAY_OK)
		r = chatreq_reserve(&cr, m, 4096);
	chatreq_free(&cr);
	return r;
}

static long long
reserve(enum dialect d, const char *body)
{
	return reserve_to(NULL, d, body);
}

#define OA(extra) "{\"model\":\"m\",\"messages\":[1]" extra "}"
#define AN(max) "{\"model\":\"m\",\"messages\":[1],\"max_tokens\":" max "}"
#define GM(gc) "{\"contents\":[1],\"generationConfig\":{" gc "}}"

static void
test_reserve_openai(void **state)
{
	(void)state;
	assert_int_equal(reserve(DIALECT_OPENAI, OA("")), 4096);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":100")), 100);
	/* Both spellings: the larger is reserved, whichever comes first. */
	assert_int_equal(
	    reserve(DIALECT_OPENAI,
		OA(",\"max_completion_tokens\":50,\"max_tokens\":200")),
	    200);
	assert_int_equal(
	    reserve(DIALECT_OPENAI,
		OA(",\"max_completion_tokens\":200,\"max_tokens\":50")),
	    200);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":4611686018427387903")),
	    4611686018427387903LL);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":9223372036854775807")),
	    LLONG_MAX);
	/* n choices each up to the limit; saturated, never wrapped. */
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":10,\"n\":100")), 1000);
	assert_int_equal(reserve(DIALECT_OPENAI, OA(",\"n\":100")), 409600);
	assert_int_equal(reserve(DIALECT_OPENAI,
			     OA(",\"max_tokens\":4611686018427387903,\"n\":2")),
	    9223372036854775806LL);
	assert_int_equal(reserve(DIALECT_OPENAI,
			     OA(",\"max_tokens\":4611686018427387904,\"n\":2")),
	    LLONG_MAX);
	assert_int_equal(reserve(DIALECT_OPENAI,
			     OA(",\"max_tokens\":2,\"n\":9223372036854775807")),
	    LLONG_MAX);
	/* A count the upstream refuses multiplies by one. */
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":10,\"n\":0")), 10);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":10,\"n\":-5")), 10);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":10,\"n\":2.5")), 10);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":10,\"n\":\"3\"")), 10);
	/* Limits that are not integers >= 1: refused. */
	assert_int_equal(reserve(DIALECT_OPENAI, OA(",\"max_tokens\":0")), -1);
	assert_int_equal(reserve(DIALECT_OPENAI, OA(",\"max_tokens\":-1")), -1);
	assert_int_equal(reserve(DIALECT_OPENAI, OA(",\"max_tokens\":-0")), -1);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":1.5")), -1);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":1e308")), -1);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_completion_tokens\":\"7\"")),
	    -1);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":-9223372036854775808")),
	    -1);
	assert_int_equal(
	    reserve(DIALECT_OPENAI, OA(",\"max_tokens\":18446744073709551616")),
	    -1);
}

static void
test_reserve_anthropic_gemini(void **state)
{
	(void)state;
	assert_int_equal(reserve(DIALECT_ANTHROPIC, AN("100")), 100);
	assert_int_equal(
	    reserve(DIALECT_ANTHROPIC, AN("9223372036854775807")), LLONG_MAX);
	assert_int_equal(reserve(DIALECT_ANTHROPIC, AN("0")), -1);
	assert_int_equal(reserve(DIALECT_ANTHROPIC, AN("2.5")), -1);
	assert_int_equal(reserve(DIALECT_GEMINI, GM("")), 4096);
	assert_int_equal(
	    reserve(DIALECT_GEMINI, GM("\"maxOutputTokens\":10")), 10);
	/* Gemini reads snake_case too: so does the reservation. */
	assert_int_equal(
	    reserve(DIALECT_GEMINI, GM("\"max_output_tokens\":500")), 500);
	assert_int_equal(
	    reserve(DIALECT_GEMINI,
		GM("\"maxOutputTokens\":10,\"max_output_tokens\":500")),
	    500);
	assert_int_equal(reserve(DIALECT_GEMINI,
			     "{\"contents\":[1],\"generation_config\":"
			     "{\"max_output_tokens\":70}}"),
	    70);
	assert_int_equal(reserve(DIALECT_GEMINI,
			     GM("\"maxOutputTokens\":10,\"candidateCount\":3")),
	    30);
	assert_int_equal(
	    reserve(DIALECT_GEMINI,
		GM("\"maxOutputTokens\":10,\"candidate_count\":3")),
	    30);
	assert_int_equal(reserve(DIALECT_GEMINI,
			     GM("\"maxOutputTokens\":10,\"thinkingConfig\":"
				"{\"thinkingBudget\":9223372036854775807}")),
	    10);
	assert_int_equal(reserve(DIALECT_GEMINI,
			     GM("\"maxOutputTokens\":3,\"candidateCount\":"
				"4611686018427387904")),
	    LLONG_MAX);
	assert_int_equal(
	    reserve(DIALECT_GEMINI, GM("\"maxOutputTokens\":0")), -1);
	assert_int_equal(
	    reserve(DIALECT_GEMINI, GM("\"max_output_tokens\":1.5")), -1);
	assert_int_equal(
	    reserve(DIALECT_GEMINI, GM("\"max_output_tokens\":-1")), -1);
}

/* A thinking budget is reserved on top when the model may translate the
 * call for an Anthropic provider (an_limits() adds it to max_tokens, at
 * least AN_BUDGET_MIN): a $0.01 key once got 24576 tokens of reasoning
 * for a reservation of 10. */
static void
test_reserve_thinking(void **state)
{
	static const char gm100[] =
	    GM("\"maxOutputTokens\":10,"
	       "\"thinkingConfig\":{\"thinkingBudget\":100}");
	static const char gmdyn[] =
	    GM("\"maxOutputTokens\":10,"
	       "\"thinkingConfig\":{\"thinkingBudget\":-1}");
	static const char gmbig[] =
	    GM("\"maxOutputTokens\":10,\"thinkingConfig\":{"
	       "\"thinkingBudget\":9223372036854775807},\"candidateCount\":2");

	(void)state;
	assert_int_equal(reserve_to(NULL, DIALECT_GEMINI, gm100), 10);
	assert_int_equal(reserve_to(&m_gm, DIALECT_GEMINI, gm100), 10);
	assert_int_equal(reserve_to(&m_an, DIALECT_GEMINI, gm100), 1034);
	assert_int_equal(reserve_to(&m_an, DIALECT_GEMINI, gmdyn), 8202);
	assert_int_equal(reserve_to(&m_gm, DIALECT_GEMINI, gmdyn), 10);
	assert_int_equal(reserve_to(&m_an, DIALECT_GEMINI, gmbig), LLONG_MAX);
	assert_int_equal(
	    reserve_to(&m_an, DIALECT_GEMINI,
		GM("\"thinking_config\":{\"thinking_budget\":5000}")),
	    9096);
	assert_int_equal(
	    reserve_to(&m_an, DIALECT_OPENAI,
		OA(",\"max_tokens\":10,\"reasoning_effort\":\"high\"")),
	    10 + OA_EFFORT_HIGH);
	assert_int_equal(
	    reserve_to(&m_an, DIALECT_OPENAI,
		OA(",\"max_tokens\":10,\"reasoning_effort\":\"low\","
		   "\"n\":3")),
	    3 * (10 + OA_EFFORT_LOW));
	assert_int_equal(
	    reserve_to(&m_gm, DIALECT_OPENAI,
		OA(",\"max_tokens\":10,\"reasoning_effort\":\"high\"")),
	    10);
	assert_int_equal(
	    reserve_to(&m_an, DIALECT_OPENAI,
		OA(",\"max_tokens\":10,\"reasoning_effort\":\"max\"")),
	    10);
	/* Anthropic's own budget is inside its max_tokens. */
	assert_int_equal(reserve_to(&m_an, DIALECT_ANTHROPIC,
			     "{\"model\":\"m\",\"messages\":[1],\"max_tokens\":"
			     "2000,\"thinking\":{\"type\":\"enabled\","
			     "\"budget_tokens\":1500}}"),
	    2000);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_valid_minimal),
	    OOM_CASE(test_stream_flag),
	    OOM_CASE(test_refusals_under_pressure),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_model_checks),
	    cmocka_unit_test(test_messages_checks),
	    cmocka_unit_test(test_body_checks),
	    cmocka_unit_test(test_include_usage),
	    cmocka_unit_test(test_unicode_model),
	    cmocka_unit_test(test_reserve_openai),
	    cmocka_unit_test(test_reserve_anthropic_gemini),
	    cmocka_unit_test(test_reserve_thinking),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "chatreq (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("chatreq", cases, NULL, NULL);
	return oom_exit(failed);
}
