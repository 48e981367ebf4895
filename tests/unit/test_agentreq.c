/* SPDX-License-Identifier: MIT */
/* test_agentreq.c - what today's coding agents send, translated: Claude
 * Code's Messages requests (system messages inside messages, adaptive
 * thinking, effort, context management, deferred and server tools, tool
 * search blocks, the billing-header system block) to every other
 * dialect, and the folding of system messages (lib/ir_fold.c). The
 * oom-safe group also runs under RELAY_FAIL_ALLOC. */
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
#include "../../lib/ir_fold.h"
#include "../../lib/jsonx.h"

/* Value at a dotted path ("messages.0.content"); NULL if absent. */
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
			v = json_array_get(v, (size_t)(key[0] - '0'));
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

/* Translate; the parsed upstream body, or NULL with *err set. */
static json_t *
xlate(enum dialect in, const char *body, enum dialect out, enum relay_err *err)
{
	struct dialect_req_info info;
	const char *param;
	char eb[256];
	struct buf b;
	json_t *v = NULL;

	memset(&info, 0, sizeof(info));
	buf_init(&b, 1 << 20);
	*err = dialect_request(in, (struct span){body, strlen(body)}, out,
	    "up-model", &b, &info, eb, sizeof(eb), &param);
	if (*err == RELAY_EINVAL)
		fail_msg("dialect_request %d->%d: %s", in, out, eb);
	if (*err == RELAY_OK &&
	    jsonx_parse(b.data, b.len, &v, eb, sizeof(eb)) != RELAY_OK)
		*err = RELAY_ENOMEM; /* the parse itself ran out */
	buf_reset(&b);
	return v;
}

static json_t *
xreq(enum dialect in, const char *body, enum dialect out)
{
	enum relay_err err;
	json_t *v = xlate(in, body, out, &err);

	assert_int_equal(err, RELAY_OK);
	return v;
}

/* A Claude Code 2.1 first turn, shapes as in @anthropic-ai/sdk 1.12's
 * MessageCreateParams: the billing-header block first in system, a
 * system message inside messages (role "system"), adaptive thinking with
 * display, output_config.effort, context_management, metadata.user_id,
 * tools with cache_control, defer_loading and eager_input_streaming,
 * Anthropic's tool search server tool, and a turn where tool search
 * loaded a tool (server_tool_use, tool_search_tool_result with
 * tool_reference blocks, tool_reference inside a tool_result). */
static const char CC_REQ[] =
    "{\"model\":\"claude-opus-4-7\",\"max_tokens\":32000,\"stream\":true,"
    "\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: "
    "cc_version=2.1.328.a1b; cc_entrypoint=sdk-cli; cch=00000;\"},"
    "{\"type\":\"text\",\"text\":\"You are Claude Code.\","
    "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}],"
    "\"messages\":["
    "{\"role\":\"system\",\"content\":\"Early note.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Fix "
    "it\",\"cache_control\":{\"type\":\"ephemeral\"}}]},"
    "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"<system-reminder>todo list empty</system-reminder>\"}]},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
    "\"thinking\":\"\",\"signature\":\"sig\"},{\"type\":"
    "\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":"
    "\"tool_search_tool_regex\",\"input\":{\"query\":\"Read\"}},{\"type\":"
    "\"tool_search_tool_result\",\"tool_use_id\":\"srvtoolu_1\","
    "\"content\":{\"type\":\"tool_search_tool_search_result\","
    "\"tool_references\":[{\"type\":\"tool_reference\",\"tool_name\":"
    "\"Read\"}]}},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":"
    "\"Read\",\"input\":{\"file_path\":\"/a\"}}]},"
    "{\"role\":\"system\",\"content\":\"Between call and result.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
    "\"tool_use_id\":\"toolu_1\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"hello\"},{\"type\":\"tool_reference\",\"tool_name\":\"Read\"}]},"
    "{\"type\":\"text\",\"text\":\"and now?\"}]}],"
    "\"tools\":[{\"name\":\"Read\",\"description\":\"Read a file\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"file_path\":"
    "{\"type\":\"string\"}},\"required\":[\"file_path\"]},"
    "\"defer_loading\":true,\"eager_input_streaming\":true},"
    "{\"name\":\"Bash\",\"input_schema\":{\"type\":\"object\"},"
    "\"cache_control\":{\"type\":\"ephemeral\"}},"
    "{\"type\":\"tool_search_tool_regex_20251119\",\"name\":"
    "\"tool_search_tool_regex\"},"
    "{\"type\":\"web_search_20250305\",\"name\":\"web_search\","
    "\"max_uses\":5}],"
    "\"metadata\":{\"user_id\":\"user_abc_account__session_1234\"},"
    "\"thinking\":{\"type\":\"adaptive\",\"display\":\"summarized\"},"
    "\"output_config\":{\"effort\":\"high\"},"
    "\"context_management\":{\"edits\":[{\"type\":"
    "\"clear_thinking_20251015\",\"keep\":\"all\"}]}}";

/* The billing-header block reaches no provider but Anthropic. */
static void
no_billing(json_t *v)
{
	char *d = json_dumps(v, JSON_COMPACT);

	assert_non_null(d);
	assert_null(strstr(d, "x-anthropic-billing-header"));
	mem_free(d);
}

static void
test_claude_code_to_openai(void **state)
{
	json_t *v, *m;

	(void)state;
	v = xreq(DIALECT_ANTHROPIC, CC_REQ, DIALECT_OPENAI);
	m = jp(v, "messages");
	/* the billing header is gone; the early note stays a system
	 * message, in its place, as does every later one */
	assert_string_equal(js(m, "0.role"), "system");
	assert_string_equal(js(m, "0.content"), "You are Claude Code.");
	assert_string_equal(js(m, "1.role"), "system");
	assert_string_equal(js(m, "1.content"), "Early note.");
	assert_string_equal(js(m, "2.role"), "user");
	assert_string_equal(js(m, "3.role"), "system");
	assert_string_equal(js(m, "3.content"),
	    "<system-reminder>todo list empty</system-reminder>");
	assert_string_equal(js(m, "4.role"), "assistant");
	assert_string_equal(js(m, "4.tool_calls.0.function.name"), "Read");
	assert_null(jp(m, "4.tool_calls.1"));
	assert_string_equal(js(m, "5.role"), "system");
	assert_string_equal(js(m, "6.role"), "tool");
	assert_string_equal(js(m, "6.content"), "hello");
	assert_string_equal(js(m, "7.content"), "and now?");
	assert_null(jp(m, "8"));
	/* custom tools only, the deferred one included */
	assert_string_equal(js(v, "tools.0.function.name"), "Read");
	assert_string_equal(js(v, "tools.1.function.name"), "Bash");
	assert_null(jp(v, "tools.2"));
	assert_null(jp(v, "tools.0.function.defer_loading"));
	/* nothing Anthropic-only leaks */
	assert_null(jp(v, "metadata"));
	assert_null(jp(v, "context_management"));
	assert_null(jp(v, "output_config"));
	assert_null(jp(v, "thinking"));
	assert_null(jp(v, "reasoning_effort"));
	no_billing(v);
	json_decref(v);
}

static void
test_claude_code_to_gemini(void **state)
{
	json_t *v, *c;

	(void)state;
	v = xreq(DIALECT_ANTHROPIC, CC_REQ, DIALECT_GEMINI);
	/* leading system messages join the system prompt, in order */
	assert_string_equal(
	    js(v, "systemInstruction.parts.0.text"), "You are Claude Code.");
	assert_string_equal(
	    js(v, "systemInstruction.parts.1.text"), "Early note.");
	assert_null(jp(v, "systemInstruction.parts.2"));
	c = jp(v, "contents");
	/* the reminder after the user's turn joins it */
	assert_string_equal(js(c, "0.role"), "user");
	assert_string_equal(js(c, "0.parts.0.text"), "Fix it");
	assert_string_equal(js(c, "0.parts.1.text"),
	    "<system-reminder>todo list empty</system-reminder>");
	assert_string_equal(js(c, "1.role"), "model");
	assert_string_equal(js(c, "1.parts.0.functionCall.name"), "Read");
	assert_null(jp(c, "1.parts.1"));
	/* the note between call and result goes after the result */
	assert_string_equal(js(c, "2.role"), "user");
	assert_string_equal(js(c, "2.parts.0.functionResponse.name"), "Read");
	assert_string_equal(
	    js(c, "2.parts.1.text"), "Between call and result.");
	assert_string_equal(js(c, "2.parts.2.text"), "and now?");
	assert_null(jp(c, "3"));
	assert_int_equal(json_integer_value(jp(v,
			     "generationConfig.thinkingConfig.thinkingBudget")),
	    OA_EFFORT_HIGH);
	no_billing(v);
	assert_string_equal(
	    js(v, "tools.0.functionDeclarations.0.name"), "Read");
	assert_string_equal(
	    js(v, "tools.0.functionDeclarations.1.name"), "Bash");
	assert_null(jp(v, "tools.0.functionDeclarations.2"));
	json_decref(v);
}

/* Through the IR to the Anthropic emitter (what a Responses or any
 * future source would get): no system message inside messages, which an
 * Anthropic-compatible upstream other than Anthropic's own may refuse. */
static void
test_claude_code_to_anthropic_upstream(void **state)
{
	json_t *v, *m;
	size_t i;

	(void)state;
	v = xreq(DIALECT_ANTHROPIC, CC_REQ, DIALECT_ANTHROPIC);
	m = jp(v, "messages");
	for (i = 0; i < json_array_size(m); i++)
		assert_string_not_equal(js(m, "0.role"), "system");
	no_billing(v);
	assert_string_equal(js(m, "0.content.1.text"),
	    "<system-reminder>todo list empty</system-reminder>");
	assert_string_equal(js(v, "system.1.text"), "Early note.");
	assert_null(jp(v, "system.2"));
	assert_int_equal(json_integer_value(jp(v, "max_tokens")), 32000);
	json_decref(v);
}

static void
test_effort_and_format(void **state)
{
	json_t *v;

	(void)state;
	v = xreq(DIALECT_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}],\"thinking\":{\"type\":\"adaptive\","
	    "\"display\":\"omitted\"},\"output_config\":{\"effort\":\"low\","
	    "\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":"
	    "\"object\"}}}}",
	    DIALECT_GEMINI);
	assert_int_equal(json_integer_value(jp(v,
			     "generationConfig.thinkingConfig.thinkingBudget")),
	    OA_EFFORT_LOW);
	assert_string_equal(
	    js(v, "generationConfig.responseMimeType"), "application/json");
	assert_string_equal(
	    js(v, "generationConfig.responseJsonSchema.type"), "object");
	json_decref(v);
	v = xreq(DIALECT_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}],\"thinking\":{\"type\":\"adaptive\""
	    "},\"output_config\":{\"format\":{\"type\":\"json_schema\","
	    "\"schema\":{\"type\":\"object\"}}}}",
	    DIALECT_OPENAI);
	assert_string_equal(js(v, "response_format.type"), "json_schema");
	assert_string_equal(
	    js(v, "response_format.json_schema.schema.type"), "object");
	json_decref(v);
}

/* Every Claude Code request, translated anywhere, under allocation
 * failure: no leak, no crash, ENOMEM or a whole body. */
static void
test_oom_claude_code(void **state)
{
	enum relay_err err;
	size_t i;
	/* one target: the torture's runs are capped (scripts/unit.sh) */
	static const enum dialect to[] = {DIALECT_GEMINI};

	/* smaller than CC_REQ, so that the torture ends within its runs,
	 * with a system message in each place the fold treats apart */
	static const char small[] =
	    "{\"model\":\"m\",\"max_tokens\":9,\"system\":[{\"type\":"
	    "\"text\",\"text\":\"x-anthropic-billing-header: v\"}],"
	    "\"messages\":[{\"role\":\"system\",\"content\":\"s0\"},"
	    "{\"role\":\"user\",\"content\":\"u\"},{\"role\":\"system\","
	    "\"content\":\"s1\"},{\"role\":\"assistant\",\"content\":[{"
	    "\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"R\",\"input\":"
	    "{}}]},{\"role\":\"system\",\"content\":\"s2\"},{\"role\":"
	    "\"system\",\"content\":\"s3\"},{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":"
	    "\"r\"}]}],\"thinking\":{\"type\":\"adaptive\"}}";

	struct dialect_req_info info;
	const char *param;
	char eb[256];
	struct buf b;

	(void)state;
	for (i = 0; i < sizeof(to) / sizeof(to[0]); i++) {
		memset(&info, 0, sizeof(info));
		buf_init(&b, 1 << 16);
		err = dialect_request(DIALECT_ANTHROPIC,
		    (struct span){small, sizeof(small) - 1}, to[i], "up", &b,
		    &info, eb, sizeof(eb), &param);
		assert_true(err == RELAY_OK || err == RELAY_ENOMEM);
		assert_true(err == RELAY_OK || b.len == 0);
		buf_reset(&b);
	}
}

/* ir_fold_system() on its own: runs of system messages keep their order
 * when they go into the next user message, and a system message between
 * two assistant turns becomes a user turn. */
static void
test_fold_order(void **state)
{
	struct ir_request r;
	struct ir_msg *m;
	struct ir_part *p;
	static const struct {
		enum ir_role role;
		enum ir_part_type type;
		const char *text;
	} in[] = {
	    {IR_ROLE_USER, IR_PART_TEXT, "u1"},
	    {IR_ROLE_ASSISTANT, IR_PART_TEXT, "a1"},
	    {IR_ROLE_SYSTEM, IR_PART_TEXT, "s1"},
	    {IR_ROLE_SYSTEM, IR_PART_TEXT, "s2"},
	    {IR_ROLE_USER, IR_PART_TOOL_RESULT, "r1"},
	    {IR_ROLE_ASSISTANT, IR_PART_TEXT, "a2"},
	    {IR_ROLE_SYSTEM, IR_PART_TEXT, "s3"},
	    {IR_ROLE_ASSISTANT, IR_PART_TEXT, "a3"},
	};
	size_t i;

	(void)state;
	ir_request_init(&r);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		assert_int_equal(
		    ir_request_add_msg(&r, in[i].role, &m), RELAY_OK);
		assert_int_equal(ir_msg_add_part(m, in[i].type, &p), RELAY_OK);
		p->text = json_string(in[i].text);
	}
	assert_int_equal(ir_fold_system(&r), RELAY_OK);
	assert_int_equal(r.nmsgs, 6);
	assert_int_equal(r.msgs[2].role, IR_ROLE_USER);
	assert_int_equal(r.msgs[2].nparts, 3);
	assert_string_equal(json_string_value(r.msgs[2].parts[0].text), "r1");
	assert_string_equal(json_string_value(r.msgs[2].parts[1].text), "s1");
	assert_string_equal(json_string_value(r.msgs[2].parts[2].text), "s2");
	assert_int_equal(r.msgs[4].role, IR_ROLE_USER);
	assert_string_equal(json_string_value(r.msgs[4].parts[0].text), "s3");
	assert_int_equal(r.msgs[5].role, IR_ROLE_ASSISTANT);
	ir_request_reset(&r);
}

static void
test_system_message_shapes(void **state)
{
	enum relay_err err;
	struct dialect_req_info info;
	const char *param;
	char eb[256];
	struct buf b;
	static const char body[] =
	    "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
	    "\"system\",\"content\":[{\"type\":\"image\",\"source\":{"
	    "\"type\":\"url\",\"url\":\"https://x/y.png\"}}]}]}";

	(void)state;
	memset(&info, 0, sizeof(info));
	buf_init(&b, 1 << 16);
	/* a system message holds text only, as Anthropic's SDK types say */
	err = dialect_request(DIALECT_ANTHROPIC,
	    (struct span){body, sizeof(body) - 1}, DIALECT_OPENAI, "m", &b,
	    &info, eb, sizeof(eb), &param);
	assert_int_equal(err, RELAY_EINVAL);
	assert_string_equal(param, "messages");
	assert_non_null(strstr(eb, "text blocks only"));
	buf_reset(&b);
}

/* A PDF document (Claude Code reads PDFs) is left out for another family,
 * said in its place, never a 400 for a request Anthropic accepts. */
static void
test_pdf_document_left_out(void **state)
{
	static const char body[] =
	    "{\"model\":\"m\",\"max_tokens\":64,\"messages\":[{\"role\":"
	    "\"user\","
	    "\"content\":[{\"type\":\"document\",\"title\":\"spec.pdf\","
	    "\"source\":{\"type\":\"base64\",\"media_type\":\"application/"
	    "pdf\","
	    "\"data\":\"JVBERi0xLjQK\"}},{\"type\":\"text\",\"text\":"
	    "\"summarise\"}]}]}";
	json_t *v;
	char *dump;

	(void)state;
	v = xreq(DIALECT_ANTHROPIC, body, DIALECT_OPENAI);
	assert_non_null(strstr(js(v, "messages.0.content.0.text"), "spec.pdf"));
	assert_string_equal(js(v, "messages.0.content.1.text"), "summarise");
	dump = json_dumps(v, 0);
	assert_non_null(dump);
	assert_null(strstr(dump, "JVBERi0x")); /* never its bytes */
	free(dump); /* lint: allow - jansson's own malloc */
	json_decref(v);
	v = xreq(DIALECT_ANTHROPIC, body, DIALECT_GEMINI);
	assert_non_null(
	    strstr(js(v, "contents.0.parts.0.text"), "application/pdf"));
	json_decref(v);
}

int
main(void)
{
	const struct CMUnitTest oom_tests[] = {
	    OOM_CASE(test_oom_claude_code),
	};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_claude_code_to_openai),
	    cmocka_unit_test(test_claude_code_to_gemini),
	    cmocka_unit_test(test_claude_code_to_anthropic_upstream),
	    cmocka_unit_test(test_effort_and_format),
	    cmocka_unit_test(test_fold_order),
	    cmocka_unit_test(test_system_message_shapes),
	    cmocka_unit_test(test_pdf_document_left_out),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests(oom_tests, NULL, NULL);
	if (oom_n == 0)
		failed += cmocka_run_group_tests(tests, NULL, NULL);
	return oom_exit(failed);
}
