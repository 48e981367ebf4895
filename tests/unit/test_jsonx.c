/* SPDX-License-Identifier: MIT */
/* test_jsonx.c - unit tests for lib/jsonx.c: strict parsing (duplicates,
 * depth), compact dumps, and the raw top-level member scanner/editor. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/jsonx.h"
#include "../../lib/limits.h"
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

static struct span
sp(const char *s)
{
	return span_str(s);
}

/* The value's bytes as a string, for comparisons. */
static const char *
val_str(struct span v, char *out, size_t outsz)
{
	assert_true(v.len < outsz);
	memcpy(out, v.p, v.len);
	out[v.len] = '\0';
	return out;
}

/* n levels of '[' then n of ']', in b. */
static enum relay_err
nested(struct buf *b, size_t n)
{
	enum relay_err err = RELAY_OK;
	size_t i;

	for (i = 0; i < n && err == RELAY_OK; i++)
		err = buf_append(b, "[", 1);
	for (i = 0; i < n && err == RELAY_OK; i++)
		err = buf_append(b, "]", 1);
	return err;
}

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_parse_ok(void **state)
{
	static const char in[] =
	    "{\"model\":\"m\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"h\\u00e9\"}],\"n\":1.5}";
	char eb[256];
	json_t *v = NULL;

	(void)state;
	TRY(jsonx_parse(in, sizeof(in) - 1, &v, eb, sizeof(eb)), RELAY_OK);
	assert_non_null(v);
	assert_string_equal(
	    json_string_value(json_object_get(v, "model")), "m");
	assert_int_equal(json_array_size(json_object_get(v, "messages")), 1);
out:
	json_decref(v);
}

static void
test_parse_rejects_duplicates(void **state)
{
	static const char in[] = "{\"model\":\"a\",\"model\":\"b\"}";
	char eb[256] = "";
	json_t *v = NULL;

	(void)state;
	TRY(jsonx_parse(in, sizeof(in) - 1, &v, eb, sizeof(eb)), RELAY_EINVAL);
	assert_null(v);
	assert_non_null(strstr(eb, "duplicate"));
	/* Nested duplicates too. */
	TRY(jsonx_parse("[{\"a\":1,\"a\":1}]", 15, &v, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_null(v);
out:
	json_decref(v);
}

static void
test_parse_depth_limit(void **state)
{
	struct buf b;
	char eb[256] = "";
	json_t *v = NULL;

	(void)state;
	buf_init(&b, 4096);
	TRY(nested(&b, RELAY_JSON_DEPTH_MAX), RELAY_OK);
	TRY(jsonx_parse(b.data, b.len, &v, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(jsonx_depth(v), RELAY_JSON_DEPTH_MAX);
	json_decref(v);
	v = NULL;
	buf_clear(&b);
	TRY(nested(&b, RELAY_JSON_DEPTH_MAX + 1), RELAY_OK);
	TRY(jsonx_parse(b.data, b.len, &v, eb, sizeof(eb)), RELAY_EINVAL);
	assert_null(v);
	assert_non_null(strstr(eb, "nested deeper than 128"));
out:
	json_decref(v);
	buf_reset(&b);
}

static void
test_parse_errors(void **state)
{
	static const char *const bad[] = {"", "{", "{\"a\":}", "[1,]",
	    "{\"a\":1} x", "\"\xff\"", "nul", "{'a':1}"};
	char eb[256];
	json_t *v = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		eb[0] = '\0';
		TRY(jsonx_parse(bad[i], strlen(bad[i]), &v, eb, sizeof(eb)),
		    RELAY_EINVAL);
		assert_null(v);
		assert_non_null(strstr(eb, "invalid JSON at line"));
	}
	/* Only an object or array at the top; NUL inside a string is
	 * allowed. */
	TRY(jsonx_parse("42", 2, &v, eb, sizeof(eb)), RELAY_EINVAL);
	assert_null(v);
	TRY(jsonx_parse("[\"a\\u0000b\"]", 12, &v, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(json_string_length(json_array_get(v, 0)), 3);
out:
	json_decref(v);
}

static void
test_dump_compact(void **state)
{
	static const char in[] =
	    "{ \"a\" : [ 1 , 2.5 , \"x\\ny\" ], \"b\" : null }";
	char eb[256];
	json_t *v = NULL;
	struct buf b, small;

	(void)state;
	buf_init(&b, 1024);
	buf_init(&small, 8);
	TRY(jsonx_parse(in, sizeof(in) - 1, &v, eb, sizeof(eb)), RELAY_OK);
	TRY(jsonx_dump(v, &b), RELAY_OK);
	assert_string_equal(b.data, "{\"a\":[1,2.5,\"x\\ny\"],\"b\":null}");
	TRY(jsonx_dump(v, &small), RELAY_ETOOBIG);
	assert_int_equal(small.len, 0);
out:
	json_decref(v);
	buf_reset(&b);
	buf_reset(&small);
}

static void
test_set_member_replace(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	TRY(jsonx_set_member(
		sp("{\"model\":\"a\",\"b\":1}"), "model", "\"z\"", &b),
	    RELAY_OK);
	assert_string_equal(b.data, "{\"model\":\"z\",\"b\":1}");
	buf_clear(&b);
	/* Whitespace and every other byte stay as they were. */
	TRY(jsonx_set_member(sp(" { \"b\" : [1, {\"model\":0}] ,\n \"model\" :"
				" {\"x\": \"}\"} }\n"),
		"model", "\"gpt\"", &b),
	    RELAY_OK);
	assert_string_equal(b.data,
	    " { \"b\" : [1, {\"model\":0}] ,\n \"model\" : \"gpt\" }\n");
out:
	buf_reset(&b);
}

static void
test_set_member_insert(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	TRY(jsonx_set_member(sp("{}"), "model", "\"z\"", &b), RELAY_OK);
	assert_string_equal(b.data, "{\"model\":\"z\"}");
	buf_clear(&b);
	TRY(jsonx_set_member(sp(" { \n } "), "model", "1", &b), RELAY_OK);
	assert_string_equal(b.data, " {\"model\":1 \n } ");
	buf_clear(&b);
	TRY(jsonx_set_member(sp("{\"b\":1}"), "model", "\"z\"", &b), RELAY_OK);
	assert_string_equal(b.data, "{\"model\":\"z\",\"b\":1}");
	buf_clear(&b);
	TRY(jsonx_set_member(sp("{ \"b\":1}"), "stream", "true", &b), RELAY_OK);
	assert_string_equal(b.data, "{\"stream\":true, \"b\":1}");
out:
	buf_reset(&b);
}

static void
test_set_member_errors(void **state)
{
	struct buf b, small;

	(void)state;
	buf_init(&b, 1024);
	buf_init(&small, 11);
	assert_int_equal(
	    jsonx_set_member(sp("[1]"), "model", "1", &b), RELAY_EINVAL);
	assert_int_equal(
	    jsonx_set_member(sp("{\"mo\\u0064el\":1}"), "model", "1", &b),
	    RELAY_EINVAL);
	assert_int_equal(jsonx_set_member(sp("{\"model\":"), "model", "1", &b),
	    RELAY_EINVAL);
	assert_int_equal(b.len, 0);
	TRY(jsonx_set_member(sp("{\"model\":\"abc\"}"), "model",
		"\"much longer value\"", &small),
	    RELAY_ETOOBIG);
	buf_clear(&small);
	TRY(jsonx_set_member(sp("{\"model\":1}"), "model", "2", &small),
	    RELAY_OK);
	assert_string_equal(small.data, "{\"model\":2}");
out:
	buf_reset(&b);
	buf_reset(&small);
}

/* --- plain cases (the scanner never allocates) ------------------------- */

static void
test_member_simple(void **state)
{
	struct span v;
	char s[128];

	(void)state;
	assert_int_equal(
	    jsonx_member(sp("{\"model\":\"gpt\",\"x\":1}"), "model", &v),
	    RELAY_OK);
	assert_string_equal(val_str(v, s, sizeof(s)), "\"gpt\"");
	assert_int_equal(
	    jsonx_member(sp("{\"a\":1,\"model\":-1.5e3}"), "model", &v),
	    RELAY_OK);
	assert_string_equal(val_str(v, s, sizeof(s)), "-1.5e3");
	assert_int_equal(
	    jsonx_member(sp("{\"model\":true}"), "model", &v), RELAY_OK);
	assert_string_equal(val_str(v, s, sizeof(s)), "true");
	assert_int_equal(
	    jsonx_member(sp("{\"model\":null}"), "model", &v), RELAY_OK);
	assert_string_equal(val_str(v, s, sizeof(s)), "null");
}

static void
test_member_nested_and_whitespace(void **state)
{
	static const char in[] =
	    " \t\r\n{ \"a\" : [1, {\"model\": 2}] , "
	    "\"model\" :\n {\"n\":[1,{\"m\":\"}\"}]}  }\n ";
	struct span v;
	char s[128];

	(void)state;
	assert_int_equal(jsonx_member(sp(in), "model", &v), RELAY_OK);
	assert_string_equal(
	    val_str(v, s, sizeof(s)), "{\"n\":[1,{\"m\":\"}\"}]}");
	assert_int_equal(jsonx_member(sp(in), "a", &v), RELAY_OK);
	assert_string_equal(val_str(v, s, sizeof(s)), "[1, {\"model\": 2}]");
	/* Only top-level members count. */
	assert_int_equal(jsonx_member(sp("{\"a\":{\"model\":1}}"), "model", &v),
	    RELAY_ENOTFOUND);
}

static void
test_member_escaped_strings(void **state)
{
	static const char in[] = "{\"a\":\"he said \\\"model\\\":\",\"model\":"
				 "\"x\\\"y\\\\\"}";
	struct span v;
	char s[128];

	(void)state;
	assert_int_equal(jsonx_member(sp(in), "model", &v), RELAY_OK);
	assert_string_equal(val_str(v, s, sizeof(s)), "\"x\\\"y\\\\\"");
}

static void
test_member_not_found(void **state)
{
	struct span v;

	(void)state;
	assert_int_equal(jsonx_member(sp("{}"), "model", &v), RELAY_ENOTFOUND);
	assert_int_equal(
	    jsonx_member(sp(" { } "), "model", &v), RELAY_ENOTFOUND);
	assert_int_equal(
	    jsonx_member(sp("{\"models\":1,\"mode\":2}"), "model", &v),
	    RELAY_ENOTFOUND);
}

static void
test_member_invalid(void **state)
{
	static const char *const bad[] = {"", "[]", "\"model\"", "{",
	    "{\"model\"", "{\"model\":", "{\"model\":1", "{\"model\":1,}",
	    "{\"model\" 1}", "{model:1}", "{\"model\":1} x", "{\"model\":}",
	    "{\"model\":[1}", "{\"model\":\"abc}", "{\"model\":\"a\nb\"}",
	    "{\"a\":1 \"model\":2}"};
	struct span v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    jsonx_member(sp(bad[i]), "model", &v), RELAY_EINVAL);
}

static void
test_member_escaped_key(void **state)
{
	struct span v;

	(void)state;
	/* "mo\u0064el" is "model" to jansson: the scanner must not guess. */
	assert_int_equal(
	    jsonx_member(sp("{\"mo\\u0064el\":\"x\"}"), "model", &v),
	    RELAY_EINVAL);
	/* Any escaped key, even another one, sends the caller to jansson. */
	assert_int_equal(
	    jsonx_member(sp("{\"a\\\"b\":1,\"model\":2}"), "model", &v),
	    RELAY_EINVAL);
	/* Escapes inside values are fine. */
	assert_int_equal(
	    jsonx_member(sp("{\"a\":\"\\u0041\",\"model\":2}"), "model", &v),
	    RELAY_OK);
}

static void
test_member_not_nul_terminated(void **state)
{
	const char raw[] = {'{', '"', 'm', '"', ':', '1', '2', '}', '9'};
	struct span body = {raw, 8}, v;

	(void)state;
	assert_int_equal(jsonx_member(body, "m", &v), RELAY_OK);
	assert_int_equal(v.len, 2);
	assert_memory_equal(v.p, "12", 2);
	body.len = 6; /* cut inside the value */
	assert_int_equal(jsonx_member(body, "m", &v), RELAY_EINVAL);
}

static void
test_member_deep_value(void **state)
{
	struct buf b;
	struct span v;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(buf_puts(&b, "{\"model\":"), RELAY_OK);
	assert_int_equal(nested(&b, RELAY_JSON_DEPTH_MAX + 1), RELAY_OK);
	assert_int_equal(buf_puts(&b, "}"), RELAY_OK);
	/* The scanner's own nesting bound: refused, not recursed. */
	assert_int_equal(
	    jsonx_member((struct span){b.data, b.len}, "model", &v),
	    RELAY_EINVAL);
	buf_reset(&b);
}

static void
test_depth(void **state)
{
	json_t *v;

	(void)state;
	v = json_integer(1);
	assert_int_equal(jsonx_depth(v), 1);
	json_decref(v);
	v = json_loads("[[1]]", 0, NULL);
	assert_int_equal(jsonx_depth(v), 3);
	json_decref(v);
	v = json_pack("{s:{s:i},s:i}", "a", "b", 1, "c", 2);
	assert_int_equal(jsonx_depth(v), 3);
	json_decref(v);
	v = json_object();
	assert_int_equal(jsonx_depth(v), 1);
	json_decref(v);
}

/* Several keys in one pass: each found where jsonx_member() finds it,
 * absent ones NULL, the first of duplicates, nothing inside values. */
static void
test_members(void **state)
{
	static const char *const keys[] = {"a", "b", "missing", "c"};
	const char *in = "{ \"c\" : [1,{\"a\":2}], \"a\":\"x\\\"y\", \"b\":"
			 "{\"z\":1} , \"a\":3}";
	struct span v[4];
	char o[64];

	(void)state;
	assert_int_equal(jsonx_members(sp(in), keys, 4, v), RELAY_OK);
	assert_string_equal(val_str(v[0], o, sizeof(o)), "\"x\\\"y\"");
	assert_string_equal(val_str(v[1], o, sizeof(o)), "{\"z\":1}");
	assert_null(v[2].p);
	assert_string_equal(val_str(v[3], o, sizeof(o)), "[1,{\"a\":2}]");
	assert_int_equal(jsonx_members(sp("{}"), keys, 4, v), RELAY_OK);
	assert_null(v[0].p);
	assert_int_equal(
	    jsonx_members(sp("{\"a\":1"), keys, 4, v), RELAY_EINVAL);
	assert_int_equal(
	    jsonx_members(sp("{\"\\u0061\":1}"), keys, 4, v), RELAY_EINVAL);
	assert_int_equal(jsonx_members(sp("[1]"), keys, 4, v), RELAY_EINVAL);
	assert_int_equal(
	    jsonx_members(sp("{\"a\":1} x"), keys, 4, v), RELAY_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_parse_ok),
	    OOM_CASE(test_parse_rejects_duplicates),
	    OOM_CASE(test_parse_errors),
	    OOM_CASE(test_dump_compact),
	    OOM_CASE(test_set_member_replace),
	    OOM_CASE(test_set_member_insert),
	    OOM_CASE(test_set_member_errors),
	};
	const struct CMUnitTest cases[] = {
	    /* ~2 allocations per level: too many to torture cheaply. */
	    cmocka_unit_test(test_parse_depth_limit),
	    cmocka_unit_test(test_member_simple),
	    cmocka_unit_test(test_members),
	    cmocka_unit_test(test_member_nested_and_whitespace),
	    cmocka_unit_test(test_member_escaped_strings),
	    cmocka_unit_test(test_member_not_found),
	    cmocka_unit_test(test_member_invalid),
	    cmocka_unit_test(test_member_escaped_key),
	    cmocka_unit_test(test_member_not_nul_terminated),
	    cmocka_unit_test(test_member_deep_value),
	    cmocka_unit_test(test_depth),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "jsonx (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("jsonx", cases, NULL, NULL);
	return oom_exit(failed);
}
