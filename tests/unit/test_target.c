/* SPDX-License-Identifier: MIT */
/* test_target.c - unit tests for lib/target.c: every provider type's URL
 * for chat and embeddings, a wildcard's client-chosen name kept inside its
 * provider's safe set (never a second path segment, a query, a fragment or
 * a header), and the client's header values and passthrough query. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../lib/chatreq.h"
#include "../../lib/jsonx.h"
#include "../../lib/mem.h"
#include "../../lib/target.h"

#include "oom_test.h"

static char s_name[] = "p", s_base[] = "http://up.example/base",
	    s_ver[] = "2024-10-21", s_star[] = "*", s_cfg[] = "cfg-model",
	    s_hname[] = "X-Extra", s_hval[] = "from-config";

static struct config_provider
provider(enum provider_type t)
{
	struct config_provider p;

	memset(&p, 0, sizeof(p));
	p.name = s_name;
	p.type = t;
	p.base_url = s_base;
	p.api_version = s_ver;
	return p;
}

/* An OpenAI body (chat or embeddings) with model name as its exact bytes
 * (n of them: a NUL may be among them), its text in text; *param names
 * the field chatreq refused. */
static enum relay_err
parse(const char *name, size_t n, int embed, struct buf *text,
    struct chatreq *cr, const char **param)
{
	json_t *o = json_pack("{s:s%}", "model", name, n);
	enum relay_err err = RELAY_ENOMEM;
	char eb[256];

	memset(cr, 0, sizeof(*cr));
	if (o != NULL &&
	    json_object_set_new(o, embed ? "input" : "messages",
		embed ? json_string("hi")
		      : json_pack("[{s:s,s:s}]", "role", "user", "content",
			    "hi")) == 0)
		err = jsonx_dump(o, text);
	if (err == RELAY_OK)
		err = embed ? chatreq_parse_embeddings(text->data, text->len,
				  cr, eb, sizeof(eb), param)
			    : chatreq_parse(text->data, text->len, cr, eb,
				  sizeof(eb), param);
	json_decref(o);
	return err;
}

/* target_build() of name for a wildcard (or configured) target of type t. */
static enum relay_err
build(struct target_req *tr, enum provider_type t, int wildcard,
    const char *name, size_t n, int embed, int stream, const char *beta,
    const char **param)
{
	struct config_provider p = provider(t);
	struct config_target tg = {&p, wildcard ? s_star : s_cfg, 0, 1, 0};
	struct chatreq cr;
	struct buf text;
	char eb[512];
	enum relay_err err;

	buf_init(&text, 1 << 20);
	*param = NULL;
	err = parse(name, n, embed, &text, &cr, param);
	if (err == RELAY_OK) {
		cr.stream = stream;
		err = target_build(tr, DIALECT_OPENAI, &cr,
		    (struct span){text.data, text.len}, &tg, "sk-key", stream,
		    beta, eb, sizeof(eb), param);
		if (err == RELAY_EINVAL)
			assert_true(
			    eb[0] != '\0'); /* a reason for the client */
	}
	chatreq_free(&cr);
	buf_reset(&text);
	return err;
}

/* --- the safe set --------------------------------------------------------- */

static void
test_name_ok(void **state)
{
	static const struct {
		const char *name;
		int url_ok; /* Gemini, Azure: one path segment */
		int body_ok; /* OpenAI, Anthropic: the JSON body only */
	} cases[] = {
	    {"gemini-1.5-pro-002", 1, 1},
	    {"gpt_4o.mini", 1, 1},
	    {"meta-llama/Llama-3-70b", 0, 1},
	    {"llama3:8b", 0, 1},
	    {"model@2024+x", 0, 1},
	    {".x", 1, 1},
	    {"x..y", 1, 1},
	    {"", 0, 0},
	    {".", 0, 0},
	    {"..", 0, 0},
	    {"a/..", 0, 0},
	    {"../a", 0, 0},
	    {"a/./b", 0, 0},
	    {"a//b", 0, 0},
	    {"/a", 0, 0},
	    {"a/", 0, 0},
	    {"a b", 0, 0},
	    {"a\tb", 0, 0},
	    {"a\r\nX-Injected: 1", 0, 0},
	    {"a?alt=media", 0, 0},
	    {"a#f", 0, 0},
	    {"a%2f..", 0, 0},
	    {"a%00", 0, 0},
	    {"a\\b", 0, 0},
	    {"a\"b", 0, 0},
	    {"caf\xc3\xa9", 0, 0},
	    {"a\x7f", 0, 0},
	};
	char big[RELAY_NAME_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct span s = span_str(cases[i].name);

		if (target_name_ok(PROVIDER_GEMINI, s) != cases[i].url_ok ||
		    target_name_ok(PROVIDER_AZURE, s) != cases[i].url_ok ||
		    target_name_ok(PROVIDER_OPENAI, s) != cases[i].body_ok ||
		    target_name_ok(PROVIDER_ANTHROPIC, s) != cases[i].body_ok)
			fail_msg("\"%s\": want url %d, body %d", cases[i].name,
			    cases[i].url_ok, cases[i].body_ok);
	}
	assert_false(target_name_ok(PROVIDER_OPENAI, (struct span){"a\0b", 3}));
	memset(big, 'a', sizeof(big));
	assert_true(target_name_ok(
	    PROVIDER_GEMINI, (struct span){big, RELAY_NAME_MAX}));
	assert_false(target_name_ok(
	    PROVIDER_GEMINI, (struct span){big, RELAY_NAME_MAX + 1}));
}

/* --- URLs ------------------------------------------------------------------ */

static void
expect_url(enum provider_type t, int wildcard, const char *name, int embed,
    int stream, const char *want)
{
	struct target_req tr;
	const char *param;
	enum relay_err err;

	target_init(&tr, 1 << 20);
	err = build(
	    &tr, t, wildcard, name, strlen(name), embed, stream, NULL, &param);
	if (err == RELAY_ENOMEM && oom_n != 0)
		goto out;
	if (err != RELAY_OK)
		fail_msg("%s: %s", want, err_name(err));
	assert_string_equal(target_url(&tr), want);
out:
	target_reset(&tr);
}

static void
test_urls(void **state)
{
	(void)state;
	expect_url(PROVIDER_OPENAI, 1, "vendor/m:tag", 0, 0,
	    "http://up.example/base/chat/completions");
	expect_url(
	    PROVIDER_OPENAI, 1, "m", 1, 0, "http://up.example/base/embeddings");
	expect_url(PROVIDER_ANTHROPIC, 1, "claude-x", 0, 1,
	    "http://up.example/base/v1/messages");
	expect_url(PROVIDER_GEMINI, 1, "gem-1.5_x", 0, 0,
	    "http://up.example/base/v1beta/models/gem-1.5_x:generateContent");
	expect_url(PROVIDER_GEMINI, 1, "gem-x", 0, 1,
	    "http://up.example/base/v1beta/models/gem-x:"
	    "streamGenerateContent?alt=sse");
	expect_url(PROVIDER_GEMINI, 1, "gem-e", 1, 0,
	    "http://up.example/base/v1beta/models/gem-e:batchEmbedContents");
	expect_url(PROVIDER_AZURE, 1, "dep.1", 0, 0,
	    "http://up.example/base/openai/deployments/dep.1/chat/"
	    "completions?api-version=2024-10-21");
	expect_url(PROVIDER_AZURE, 1, "dep-e", 1, 0,
	    "http://up.example/base/openai/deployments/dep-e/embeddings"
	    "?api-version=2024-10-21");
	/* A configured target: the config's name, whatever the client's. */
	expect_url(PROVIDER_GEMINI, 0, "any thing/..", 0, 0,
	    "http://up.example/base/v1beta/models/cfg-model:generateContent");
}

/* Two URLs, small enough for the allocation-failure torture. */
static void
test_urls_oom(void **state)
{
	(void)state;
	expect_url(PROVIDER_GEMINI, 1, "gem-x", 0, 1,
	    "http://up.example/base/v1beta/models/gem-x:"
	    "streamGenerateContent?alt=sse");
	expect_url(PROVIDER_AZURE, 1, "dep-e", 1, 0,
	    "http://up.example/base/openai/deployments/dep-e/embeddings"
	    "?api-version=2024-10-21");
}

/* Every hostile shape, to every provider type and call: refused, naming
 * "model", with no URL built. */
static void
test_wildcard_refusals(void **state)
{
	static const char *const hostile[] = {
	    "x y",
	    "x\r\nX-Injected: 1",
	    "x\ny",
	    "x/../../../v1beta/files?",
	    "x/..",
	    "..",
	    "x?alt=media",
	    "x#frag",
	    "x%2f..%2fv1beta%2ffiles",
	    "x%00y",
	    "x\xc3\xbc\xe2\x80\xa8y",
	    "",
	};
	static const enum provider_type types[] = {PROVIDER_OPENAI,
	    PROVIDER_AZURE, PROVIDER_ANTHROPIC, PROVIDER_GEMINI};
	char big[RELAY_NAME_MAX + 2];
	struct target_req tr;
	const char *param;
	size_t i, j;
	int embed, stream;

	(void)state;
	target_init(&tr, 1 << 20);
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		for (j = 0; j < 4; j++)
			for (embed = 0; embed < 2; embed++)
				for (stream = 0; stream < 2; stream++) {
					param = NULL;
					assert_int_equal(
					    build(&tr, types[j], 1, hostile[i],
						strlen(hostile[i]), embed,
						stream, NULL, &param),
					    RELAY_EINVAL);
					assert_string_equal(
					    target_url(&tr), "");
					if (types[j] != PROVIDER_ANTHROPIC ||
					    !embed)
						assert_string_equal(
						    param, "model");
				}
	/* '/' and ':' are structure in a Gemini or Azure URL only. */
	assert_int_equal(
	    build(&tr, PROVIDER_GEMINI, 1, "a/b", 3, 0, 0, NULL, &param),
	    RELAY_EINVAL);
	assert_int_equal(
	    build(&tr, PROVIDER_AZURE, 1, "a:b", 3, 0, 0, NULL, &param),
	    RELAY_EINVAL);
	/* A NUL inside: never cut short to a different name. */
	assert_int_equal(
	    build(&tr, PROVIDER_OPENAI, 1, "ok\0../x", 7, 0, 0, NULL, &param),
	    RELAY_EINVAL);
	/* Longer than a name may be: refused, not truncated. */
	memset(big, 'a', sizeof(big));
	assert_int_equal(build(&tr, PROVIDER_GEMINI, 1, big, RELAY_NAME_MAX + 1,
			     0, 0, NULL, &param),
	    RELAY_EINVAL);
	assert_int_equal(build(&tr, PROVIDER_GEMINI, 1, big, RELAY_NAME_MAX, 0,
			     0, NULL, &param),
	    RELAY_OK);
	target_reset(&tr);
}

/* --- headers ---------------------------------------------------------------- */

static int
has_line(const struct target_req *tr, const char *want)
{
	size_t i;

	for (i = 0; i < tr->nlines; i++)
		if (strcmp(tr->lines[i], want) == 0)
			return 1;
	return 0;
}

static void
test_anthropic_beta(void **state)
{
	char big[RELAY_UPSTREAM_HEADER_VALUE_MAX + 2];
	struct target_req tr;
	const char *param;

	(void)state;
	target_init(&tr, 1 << 20);
	assert_int_equal(build(&tr, PROVIDER_ANTHROPIC, 1, "c", 1, 0, 0,
			     "prompt-caching-2024-07-31, x", &param),
	    RELAY_OK);
	assert_true(
	    has_line(&tr, "anthropic-beta: prompt-caching-2024-07-31, x"));
	assert_int_equal(build(&tr, PROVIDER_ANTHROPIC, 1, "c", 1, 0, 0,
			     "a\r\nX-Injected: 1", &param),
	    RELAY_EINVAL);
	assert_string_equal(param, "anthropic-beta");
	assert_int_equal(
	    build(&tr, PROVIDER_ANTHROPIC, 0, "c", 1, 0, 0, "a\x01", &param),
	    RELAY_EINVAL);
	assert_int_equal(build(&tr, PROVIDER_ANTHROPIC, 0, "c", 1, 0, 0,
			     "caf\xc3\xa9", &param),
	    RELAY_EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(
	    build(&tr, PROVIDER_ANTHROPIC, 0, "c", 1, 0, 0, big, &param),
	    RELAY_EINVAL);
	/* Not sent to other providers, so not theirs to refuse. */
	assert_int_equal(build(&tr, PROVIDER_OPENAI, 1, "c", 1, 0, 0,
			     "a\r\nX-Injected: 1", &param),
	    RELAY_OK);
	assert_false(has_line(&tr, "X-Injected: 1"));
	target_reset(&tr);
}

/* A configured header or key with a control byte is never sent. */
static void
test_config_header_ctl(void **state)
{
	static char bad[] = "a\nX-Injected: 1";
	struct config_provider p = provider(PROVIDER_OPENAI);
	struct config_header h = {s_hname, s_hval};
	struct config_target tg = {&p, s_cfg, 0, 1, 0};
	struct target_req tr;
	struct chatreq cr;
	struct buf text;
	const char *param;
	char eb[256];

	(void)state;
	target_init(&tr, 1 << 20);
	p.headers = &h;
	p.nheaders = 1;
	buf_init(&text, 1 << 20);
	assert_int_equal(parse("m", 1, 0, &text, &cr, &param), RELAY_OK);
	assert_int_equal(
	    target_build(&tr, DIALECT_OPENAI, &cr, (struct span){"{}", 2}, &tg,
		"k", 0, NULL, eb, sizeof(eb), &param),
	    RELAY_OK);
	assert_true(has_line(&tr, "X-Extra: from-config"));
	h.value = bad;
	assert_int_equal(
	    target_build(&tr, DIALECT_OPENAI, &cr, (struct span){"{}", 2}, &tg,
		"k", 0, NULL, eb, sizeof(eb), &param),
	    RELAY_EINVAL);
	assert_true(eb[0] != '\0');
	h.value = s_hval;
	assert_int_equal(
	    target_build(&tr, DIALECT_OPENAI, &cr, (struct span){"{}", 2}, &tg,
		"k\r\nX: 1", 0, NULL, eb, sizeof(eb), &param),
	    RELAY_EINVAL);
	chatreq_free(&cr);
	buf_reset(&text);
	target_reset(&tr);
}

/* --- passthrough -------------------------------------------------------------- */

static void
test_passthru(void **state)
{
	struct config_provider p = provider(PROVIDER_OPENAI);
	struct target_req tr;

	(void)state;
	target_init(&tr, 0);
	assert_int_equal(
	    target_passthru(&tr, &p, "k", SPAN_LIT("models"),
		SPAN_LIT("key=secret&limit=2"), "application/json", NULL, NULL),
	    RELAY_OK);
	assert_string_equal(
	    target_url(&tr), "http://up.example/base/models?limit=2");
	assert_int_equal(target_passthru(&tr, &p, "k", SPAN_LIT("a/../b"),
			     SPAN_LIT(""), NULL, NULL, NULL),
	    RELAY_EINVAL);
	assert_int_equal(target_passthru(&tr, &p, "k", SPAN_LIT("models"),
			     SPAN_LIT("a=\xc3\xa9"), NULL, NULL, NULL),
	    RELAY_EINVAL);
	assert_int_equal(target_passthru(&tr, &p, "k", SPAN_LIT("models"),
			     SPAN_LIT("a=\x7f"), NULL, NULL, NULL),
	    RELAY_EINVAL);
	assert_int_equal(target_passthru(&tr, &p, "k", SPAN_LIT("models"),
			     SPAN_LIT("a#b"), NULL, NULL, NULL),
	    RELAY_EINVAL);
	assert_int_equal(target_passthru(&tr, &p, "k", SPAN_LIT("models"),
			     SPAN_LIT(""), "text/x\x01", NULL, NULL),
	    RELAY_EINVAL);
	assert_int_equal(target_passthru(&tr, &p, "k", SPAN_LIT("models"),
			     SPAN_LIT(""), NULL, "a\r\nX-Injected: 1", NULL),
	    RELAY_EINVAL);
	assert_string_equal(target_url(&tr), "");
	target_reset(&tr);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_urls_oom),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_urls),
	    cmocka_unit_test(test_name_ok),
	    cmocka_unit_test(test_wildcard_refusals),
	    cmocka_unit_test(test_anthropic_beta),
	    cmocka_unit_test(test_config_header_ctl),
	    cmocka_unit_test(test_passthru),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "target (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("target", cases, NULL, NULL);
	return oom_exit(failed);
}
