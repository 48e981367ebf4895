/* SPDX-License-Identifier: MIT */
/* test_count_tokens.c - the counting requests' validation and the relay's
 * own estimate (lib/count_tokens.c); the oom-safe group also runs under
 * RELAY_FAIL_ALLOC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "oom_test.h"

#include "../../lib/count_tokens.h"

static long long
estimate(enum dialect d, const char *body)
{
	const char *param;
	struct span model = {NULL, 0};
	char eb[256];
	json_t *root;
	long long n;

	assert_int_equal(count_parse(d, (struct span){body, strlen(body)},
			     &root, &model, eb, sizeof(eb), &param),
	    RELAY_OK);
	n = count_estimate(d, root);
	json_decref(root);
	return n;
}

static void
test_estimate(void **state)
{
	(void)state;
	/* 16 bytes of text: 4 tokens, plus 4 for the message */
	assert_int_equal(
	    estimate(DIALECT_ANTHROPIC,
		"{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"0123456789abcdef\"}]}"),
	    8);
	/* ids, types, signatures, settings and image bytes are not text; an
	 * image counts as a whole; a schema's property names are */
	assert_int_equal(
	    estimate(DIALECT_ANTHROPIC,
		"{\"model\":\"m\",\"thinking\":{\"type\":\"adaptive\"},"
		"\"metadata\":{\"user_id\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"},"
		"\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		"\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
		"\"image/png\",\"data\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}},"
		"{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
		"\"content\":\"abcd\"}]}],\"tools\":[{\"name\":\"abcd\","
		"\"input_schema\":{\"type\":\"object\",\"properties\":{"
		"\"type\":{\"type\":\"string\"}}}}]}"),
	    (4 + 4 + 4 + 3) / 4 + RELAY_COUNT_MSG_TOKENS +
		RELAY_COUNT_IMAGE_TOKENS);
	/* Gemini: contents or generateContentRequest, inlineData whole */
	assert_int_equal(estimate(DIALECT_GEMINI,
			     "{\"contents\":[{\"role\":\"user\",\"parts\":[{"
			     "\"text\":\"abcdefgh\"},{\"inlineData\":{"
			     "\"mimeType\":\"image/png\",\"data\":\"AAAA\"}}]}"
			     "]}"),
	    2 + RELAY_COUNT_MSG_TOKENS + RELAY_COUNT_IMAGE_TOKENS);
	assert_int_equal(
	    estimate(DIALECT_GEMINI,
		"{\"generateContentRequest\":{\"model\":\"models/"
		"x\",\"contents\":[{\"parts\":[{\"text\":\"abcd\"}]"
		"}]}}"),
	    1 + RELAY_COUNT_MSG_TOKENS);
	/* never 0 */
	assert_int_equal(estimate(DIALECT_GEMINI, "{\"contents\":[]}"), 1);
}

static void
check_bad(enum dialect d, const char *body, const char *want_param,
    const char *want_msg)
{
	const char *param;
	struct span model = {NULL, 0};
	char eb[256];
	json_t *root = (json_t *)1;

	assert_int_equal(count_parse(d, (struct span){body, strlen(body)},
			     &root, &model, eb, sizeof(eb), &param),
	    RELAY_EINVAL);
	assert_null(root);
	if (want_param == NULL)
		assert_null(param);
	else
		assert_string_equal(param, want_param);
	if (strstr(eb, want_msg) == NULL)
		fail_msg("'%s' lacks '%s'", eb, want_msg);
}

static void
test_parse(void **state)
{
	const char *param;
	struct span model = {NULL, 0};
	char eb[256];
	json_t *root;
	static const char ok[] =
	    "{\"model\":\"claude-x\",\"messages\":[],\"max_tokens\":5}";

	(void)state;
	assert_int_equal(
	    count_parse(DIALECT_ANTHROPIC, (struct span){ok, sizeof(ok) - 1},
		&root, &model, eb, sizeof(eb), &param),
	    RELAY_OK);
	assert_true(span_eq(model, "claude-x"));
	json_decref(root);
	check_bad(DIALECT_ANTHROPIC, "{\"messages\":[]}", "model",
	    "model: Field required");
	check_bad(DIALECT_ANTHROPIC, "{\"model\":\"m\"}", "messages",
	    "messages: Field required");
	check_bad(DIALECT_ANTHROPIC, "[]", NULL, "JSON object");
	check_bad(
	    DIALECT_GEMINI, "{}", "contents", "contents is not specified");
	check_bad(DIALECT_GEMINI,
	    "{\"contents\":[],\"generateContentRequest\":{\"contents\":[]}}",
	    "contents", "mutually exclusive");
	check_bad(DIALECT_OPENAI, "{}", NULL, "not served");
}

static void
test_answer(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(count_answer(DIALECT_ANTHROPIC, 42, &b), RELAY_OK);
	assert_int_equal(count_answer(DIALECT_GEMINI, 7, &b), RELAY_OK);
	assert_int_equal(
	    b.len, strlen("{\"input_tokens\":42}{\"totalTokens\":7}"));
	assert_memory_equal(
	    b.data, "{\"input_tokens\":42}{\"totalTokens\":7}", b.len);
	buf_reset(&b);
}

static void
test_oom_estimate(void **state)
{
	static const char body[] =
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"hello there\"}]}],\"tools\":[{"
	    "\"name\":\"R\",\"input_schema\":{\"type\":\"object\"}}]}";
	const char *param;
	struct span model = {NULL, 0};
	char eb[256];
	json_t *root = NULL;
	enum relay_err err;

	(void)state;
	err = count_parse(DIALECT_ANTHROPIC,
	    (struct span){body, sizeof(body) - 1}, &root, &model, eb,
	    sizeof(eb), &param);
	assert_true(err == RELAY_OK || err == RELAY_ENOMEM);
	if (err == RELAY_OK)
		assert_true(count_estimate(DIALECT_ANTHROPIC, root) > 0);
	json_decref(root);
}

int
main(void)
{
	const struct CMUnitTest oom_tests[] = {
	    OOM_CASE(test_oom_estimate),
	};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_estimate),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_answer),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests(oom_tests, NULL, NULL);
	if (oom_n == 0)
		failed += cmocka_run_group_tests(tests, NULL, NULL);
	return oom_exit(failed);
}
