/* SPDX-License-Identifier: MIT */
/* test_apierr.c - unit tests for lib/apierr.c: the one relay_err to HTTP
 * status mapping and the OpenAI error body. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/apierr.c"
#include "../../lib/jsonx.h"

static void
test_status_mapping(void **state)
{
	(void)state;
	assert_int_equal(apierr_status(RELAY_OK), 200);
	assert_int_equal(apierr_status(RELAY_EINVAL), 400);
	assert_int_equal(apierr_status(RELAY_ENOTFOUND), 404);
	assert_int_equal(apierr_status(RELAY_EMETHOD), 405);
	assert_int_equal(apierr_status(RELAY_ETOOBIG), 413);
	assert_int_equal(apierr_status(RELAY_EPROTO), 502);
	assert_int_equal(apierr_status(RELAY_EUPSTREAM), 502);
	assert_int_equal(apierr_status(RELAY_ETIMEOUT), 504);
	assert_int_equal(apierr_status(RELAY_ENOMEM), 503);
	assert_int_equal(apierr_status(RELAY_ECACHE), 503);
	assert_int_equal(apierr_status(RELAY_EIO), 503);
	assert_int_equal(apierr_status(RELAY_ECLOSED), 499);
	assert_int_equal(apierr_status(RELAY__MAX), 500);
	assert_int_equal(apierr_status((enum relay_err) - 1), 500);
}

static void
test_every_error_has_a_status(void **state)
{
	int i;

	(void)state;
	/* No real error falls through to the catch-all 500. */
	for (i = 0; i < RELAY__MAX; i++) {
		int s = apierr_status((enum relay_err)i);

		assert_true(s >= 200 && s <= 599);
		assert_int_not_equal(s, 500);
		if (i != RELAY_OK)
			assert_true(s >= 400);
	}
}

static void
test_openai_types(void **state)
{
	(void)state;
	assert_string_equal(openai_type(400), "invalid_request_error");
	assert_string_equal(openai_type(404), "invalid_request_error");
	assert_string_equal(openai_type(401), "authentication_error");
	assert_string_equal(openai_type(403), "permission_error");
	assert_string_equal(openai_type(429), "rate_limit_error");
	assert_string_equal(openai_type(502), "server_error");
}

static void
test_openai_body_escapes(void **state)
{
	static const char msg[] = "bad \"model\"\n\\ \x01";
	struct buf b;
	json_t *v, *e;
	char eb[128];

	(void)state;
	struct apierr_what w1 = {NULL, "model_not_found", NULL};
	struct apierr_what w2 = {"overloaded", NULL, NULL};
	struct apierr_what w3 = {NULL, "invalid_value", "messages"};

	buf_init(&b, 4096);
	assert_int_equal(
	    openai_body(&b, 404, &w1, msg, sizeof(msg) - 1), RELAY_OK);
	assert_int_equal(
	    jsonx_parse(b.data, b.len, &v, eb, sizeof(eb)), RELAY_OK);
	e = json_object_get(v, "error");
	assert_string_equal(
	    json_string_value(json_object_get(e, "message")), msg);
	assert_string_equal(json_string_value(json_object_get(e, "type")),
	    "invalid_request_error");
	assert_string_equal(
	    json_string_value(json_object_get(e, "code")), "model_not_found");
	assert_true(json_is_null(json_object_get(e, "param")));
	json_decref(v);
	buf_clear(&b);
	assert_int_equal(openai_body(&b, 503, &w2, "x", 1), RELAY_OK);
	assert_string_equal(b.data,
	    "{\"error\":{\"message\":\"x\",\"type\":"
	    "\"overloaded\",\"param\":null,\"code\":null}}");
	buf_clear(&b);
	/* The parameter at fault is named (OpenAI's "param"). */
	assert_int_equal(openai_body(&b, 400, &w3, "y", 1), RELAY_OK);
	assert_string_equal(b.data,
	    "{\"error\":{\"message\":\"y\",\"type\":"
	    "\"invalid_request_error\",\"param\":\"messages\","
	    "\"code\":\"invalid_value\"}}");
	buf_reset(&b);
}

/* Every path's errors speak the dialect of its route, whether or not a
 * handler serves it (issue 19: a Gemini path without :generateContent got
 * an OpenAI-shaped 404). */
static void
test_route_dialect(void **state)
{
	static const struct {
		const char *path;
		enum dialect d;
	} cases[] = {
	    {"/v1beta/models/gem-demo:generateContent", DIALECT_GEMINI},
	    {"/v1beta/models/gem-demo", DIALECT_GEMINI},
	    {"/v1beta/models/", DIALECT_GEMINI},
	    {"/v1beta/models", DIALECT_GEMINI},
	    {"/v1beta/files", DIALECT_GEMINI},
	    {"/v1beta", DIALECT_GEMINI},
	    {"/v1beta/models/:generateContent", DIALECT_GEMINI},
	    {"/v1/messages", DIALECT_ANTHROPIC},
	    {"/v1/messages/count_tokens", DIALECT_ANTHROPIC},
	    {"/v1/messages/batches/x", DIALECT_ANTHROPIC},
	    {"/v1/chat/completions", DIALECT_OPENAI},
	    {"/v1/chat/completionsx", DIALECT_OPENAI},
	    {"/v1/embeddings", DIALECT_OPENAI},
	    {"/v1/models", DIALECT_OPENAI},
	    {"/proxy/gem/v1beta/models/x", DIALECT_OPENAI},
	    /* Prefixes only when a whole segment matches. */
	    {"/v1betax/models/x", DIALECT_OPENAI},
	    {"/v1/messagesx", DIALECT_OPENAI},
	    {"/v1/message", DIALECT_OPENAI},
	    {"/v1bet", DIALECT_OPENAI},
	    {"/", DIALECT_OPENAI},
	    {"", DIALECT_OPENAI},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (apierr_route_dialect(span_str(cases[i].path)) != cases[i].d)
			fail_msg("%s: want dialect %d", cases[i].path,
			    (int)cases[i].d);
	}
	/* A request whose parameters were unusable has no path yet. */
	assert_int_equal(
	    apierr_route_dialect((struct span){NULL, 0}), DIALECT_OPENAI);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_status_mapping),
	    cmocka_unit_test(test_every_error_has_a_status),
	    cmocka_unit_test(test_openai_types),
	    cmocka_unit_test(test_openai_body_escapes),
	    cmocka_unit_test(test_route_dialect),
	};

	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* nothing here is oom-tortured */
	return cmocka_run_group_tests_name("apierr", cases, NULL, NULL);
}
