/* SPDX-License-Identifier: MIT */
/* test_schema_gemini.c - Gemini's OpenAPI-style Schema to JSON Schema
 * (lib/schema_gemini.c), alone and through a Gemini request translated
 * for OpenAI and Anthropic; the oom-safe group also runs under
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

#include "../../lib/dialect.h"
#include "../../lib/schema_gemini.h"

static json_t *
parse(const char *s)
{
	char eb[128];
	json_t *v = NULL;

	assert_int_equal(
	    jsonx_parse(s, strlen(s), &v, eb, sizeof(eb)), RELAY_OK);
	return v;
}

/* Convert in and compare with want (both JSON text). */
static void
check(const char *in, const char *want)
{
	json_t *s = parse(in), *w = parse(want), *got;
	char *a, *b;

	got = schema_gemini_to_json(s);
	assert_non_null(got);
	if (!json_equal(got, w)) {
		a = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		b = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
		fail_msg("got %s\nwant %s", a, b);
	}
	json_decref(got);
	json_decref(w);
	json_decref(s);
}

static void
test_convert(void **state)
{
	(void)state;
	/* What @google/genai's Type.OBJECT tools look like on the wire. */
	check(
	    "{\"type\":\"OBJECT\",\"properties\":{\"city\":{\"type\":"
	    "\"STRING\",\"description\":\"City\",\"nullable\":true},"
	    "\"days\":{\"type\":\"INTEGER\",\"format\":\"int32\"},"
	    "\"tags\":{\"type\":\"ARRAY\",\"items\":{\"type\":\"STRING\","
	    "\"enum\":[\"a\",\"b\"],\"format\":\"enum\"},\"minItems\":\"1\","
	    "\"maxItems\":\"5\"},\"unit\":{\"anyOf\":[{\"type\":\"STRING\"},"
	    "{\"type\":\"NUMBER\"}],\"nullable\":true}},"
	    "\"required\":[\"city\"],\"propertyOrdering\":[\"city\",\"days\"],"
	    "\"example\":{\"city\":\"Paris\"}}",
	    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":["
	    "\"string\","
	    "\"null\"],\"description\":\"City\"},\"days\":{\"type\":"
	    "\"integer\","
	    "\"format\":\"int32\"},\"tags\":{\"type\":\"array\",\"items\":{"
	    "\"type\":\"string\",\"enum\":[\"a\",\"b\"],\"format\":\"enum\"},"
	    "\"minItems\":1,\"maxItems\":5},\"unit\":{\"anyOf\":[{\"type\":"
	    "\"string\"},{\"type\":\"number\"},{\"type\":\"null\"}]}},"
	    "\"required\":[\"city\"],\"examples\":[{\"city\":\"Paris\"}]}");
	/* a property named like a keyword is a name, not a keyword */
	check("{\"type\":\"OBJECT\",\"properties\":{\"type\":{\"type\":"
	      "\"BOOLEAN\"},\"nullable\":{\"type\":\"STRING\"}}}",
	    "{\"type\":\"object\",\"properties\":{\"type\":{\"type\":"
	    "\"boolean\"},\"nullable\":{\"type\":\"string\"}}}");
	/* JSON Schema already: unchanged; unspecified type dropped; a count
	 * that is no number left alone */
	check("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":"
	      "[\"string\",\"null\"]}},\"additionalProperties\":false}",
	    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":"
	    "[\"string\",\"null\"]}},\"additionalProperties\":false}");
	check("{\"type\":\"TYPE_UNSPECIFIED\",\"minLength\":\"x\","
	      "\"maxLength\":3}",
	    "{\"minLength\":\"x\",\"maxLength\":3}");
	assert_null(schema_gemini_to_json(NULL));
}

/* A Gemini request with an OpenAPI-style tool, translated. */
static const char GM_TOOL[] =
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
    "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\","
    "\"parameters\":{\"type\":\"OBJECT\",\"properties\":{\"city\":{"
    "\"type\":\"STRING\",\"nullable\":true}},\"required\":[\"city\"],"
    "\"propertyOrdering\":[\"city\"]}}]}],"
    "\"generationConfig\":{\"responseMimeType\":\"application/json\","
    "\"responseSchema\":{\"type\":\"OBJECT\",\"properties\":{\"n\":{"
    "\"type\":\"INTEGER\"}}}}}";

static json_t *
xreq(enum dialect out)
{
	struct dialect_req_info info;
	const char *param;
	char eb[256];
	struct buf b;
	json_t *v;

	memset(&info, 0, sizeof(info));
	buf_init(&b, 1 << 16);
	assert_int_equal(dialect_request(DIALECT_GEMINI,
			     (struct span){GM_TOOL, sizeof(GM_TOOL) - 1}, out,
			     "up", &b, &info, eb, sizeof(eb), &param),
	    RELAY_OK);
	v = parse(b.data);
	buf_reset(&b);
	return v;
}

static void
test_translated(void **state)
{
	json_t *v, *p;

	(void)state;
	v = xreq(DIALECT_OPENAI);
	p = json_object_get(
	    json_object_get(
		json_array_get(json_object_get(v, "tools"), 0), "function"),
	    "parameters");
	assert_string_equal(
	    json_string_value(json_object_get(p, "type")), "object");
	assert_null(json_object_get(p, "propertyOrdering"));
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(
		    json_object_get(json_object_get(p, "properties"), "city"),
		    "type"),
		0)),
	    "string");
	p = json_object_get(
	    json_object_get(
		json_object_get(v, "response_format"), "json_schema"),
	    "schema");
	assert_string_equal(
	    json_string_value(json_object_get(p, "type")), "object");
	json_decref(v);
	v = xreq(DIALECT_ANTHROPIC);
	p = json_object_get(
	    json_array_get(json_object_get(v, "tools"), 0), "input_schema");
	assert_string_equal(
	    json_string_value(json_object_get(p, "type")), "object");
	assert_null(json_object_get(p, "propertyOrdering"));
	json_decref(v);
}

static void
test_oom_convert(void **state)
{
	json_t *s, *got;
	static const char in[] =
	    "{\"type\":\"OBJECT\",\"properties\":{\"a\":{\"type\":\"ARRAY\","
	    "\"items\":{\"type\":\"STRING\"},\"minItems\":\"1\",\"nullable\":"
	    "true},\"b\":{\"anyOf\":[{\"type\":\"NUMBER\"}],\"nullable\":true}}"
	    ","
	    "\"example\":{},\"propertyOrdering\":[\"a\"]}";
	char eb[128];

	(void)state;
	if (jsonx_parse(in, sizeof(in) - 1, &s, eb, sizeof(eb)) != RELAY_OK)
		return;
	got = schema_gemini_to_json(s);
	json_decref(got);
	json_decref(s);
}

int
main(void)
{
	const struct CMUnitTest oom_tests[] = {
	    OOM_CASE(test_oom_convert),
	};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_convert),
	    cmocka_unit_test(test_translated),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests(oom_tests, NULL, NULL);
	if (oom_n == 0)
		failed += cmocka_run_group_tests(tests, NULL, NULL);
	return oom_exit(failed);
}
