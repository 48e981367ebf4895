/* SPDX-License-Identifier: MIT */
/* test_pii_out.c - unit tests for lib/pii_out.c: placeholders numbered by
 * first appearance and stable, masks, blocks, no false positives, the
 * request document's texts and nothing else, restore whole and over every
 * split, the stream hook; the oom-safe group also runs under
 * RELAY_FAIL_ALLOC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/jsonx.h"
#include "../../lib/mem.h"
#include "../../lib/pii_out.h"
#include "../../lib/wordfilter.h"

#include "oom_test.h"

#define PH_OPEN "\xE2\x9F\xA6"
#define PH_CLOSE "\xE2\x9F\xA7"
#define PH(t) PH_OPEN t PH_CLOSE
#define PHONE1 PH_OPEN "PHONE_1" PH_CLOSE
#define PHONE9 PH_OPEN "PHONE_9" PH_CLOSE
#define TERM1 PH_OPEN "TERM_1" PH_CLOSE

static const char prompt[] =
    "我的手机 13812345678，身份证 11010519491231002X，"
    "卡号 4111111111111111，邮箱 zhang.san@example.com。"
    "再说一次 13812345678";

static void
policy(struct config_pii *p, enum pii_action a)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < PII_ENT__MAX; i++)
		p->act[i] = (unsigned char)a;
}

/* Rewrite s with po into out (NUL-terminated); 0 on ENOMEM under
 * torture. */
static int
rewrite(struct pii_out *po, const char *s, struct buf *out)
{
	enum relay_err e;

	buf_clear(out);
	e = pii_out_text(po, s, strlen(s), out);
	if (e == RELAY_ENOMEM && oom_n != 0)
		return 0;
	assert_int_equal(e, RELAY_OK);
	e = buf_append(out, "", 1);
	if (e == RELAY_ENOMEM && oom_n != 0)
		return 0;
	assert_int_equal(e, RELAY_OK);
	return 1;
}

/* --- oom-safe ----------------------------------------------------------- */

static void
test_pseudonymise_and_restore(void **state)
{
	struct config_pii pol;
	struct pii_out po;
	struct buf b, r;
	enum relay_err e;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	buf_init(&b, 1 << 20);
	buf_init(&r, 1 << 20);
	if (!rewrite(&po, prompt, &b))
		goto out;
	assert_string_equal(b.data,
	    "我的手机 " PH("PHONE_1") "，身份证 " PH("ID_1") "，卡号 " PH(
		"CARD_1") "，邮箱 " PH("EMAIL_1") "。再说一次 " PH("PHONE_1"));
	assert_null(strstr(b.data, "13812345678"));
	assert_int_equal(po.hits[PII_ENT_PHONE], 2);
	assert_int_equal(po.hits[PII_ENT_EMAIL], 1);
	assert_true(pii_out_mapped(&po));
	e = pii_out_restore(&po, b.data, b.len - 1, 0, &r);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_int_equal(r.len, strlen(prompt));
	assert_memory_equal(r.data, prompt, r.len);
	/* The history sent back comes out as the same placeholders. */
	buf_clear(&r);
	if (!rewrite(&po, "13812345678 and 13900000000 and 13812345678", &r))
		goto out;
	assert_string_equal(
	    r.data, PH("PHONE_1") " and " PH("PHONE_2") " and " PH("PHONE_1"));
out:
	buf_reset(&b);
	buf_reset(&r);
	pii_out_reset(&po);
}

static void
test_mask_block_off(void **state)
{
	struct config_pii pol;
	struct pii_out po;
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	policy(&pol, PII_ACT_MASK);
	pii_out_init(&po, &pol, NULL);
	if (rewrite(&po, "call 13812345678 or mail zhang.san@example.com", &b))
		assert_string_equal(
		    b.data, "call 138****5678 or mail z***@example.com");
	assert_false(pii_out_mapped(&po));
	pii_out_reset(&po);

	/* Per kind: phones blocked, emails sent, cards masked. */
	policy(&pol, PII_ACT_OFF);
	pol.act[PII_ENT_PHONE] = PII_ACT_BLOCK;
	pol.act[PII_ENT_CARD] = PII_ACT_MASK;
	pii_out_init(&po, &pol, NULL);
	if (rewrite(&po, "13812345678 4111111111111111 a.b@example.com", &b)) {
		assert_string_equal(
		    b.data, "13812345678 4111********1111 a.b@example.com");
		assert_int_equal(po.blocked, 1u << PII_ENT_PHONE);
		assert_int_equal(po.hits[PII_ENT_EMAIL], 0);
	}
	pii_out_reset(&po);

	policy(&pol, PII_ACT_OFF);
	pii_out_init(&po, &pol, NULL);
	assert_false(pii_out_on(&po));
	buf_reset(&b);
}

/* Numbers that look like data and are not: unchanged, nothing counted. */
static void
test_no_false_positives(void **state)
{
	static const char *const clean[] = {
	    "order 1202412071234567890 shipped", /* 19 digits, issuer 1 */
	    "ts=1700000000123", /* 13-digit millisecond timestamp */
	    "bucket S3 and grid C4", "id 550e8400-e29b-41d4-a716-446655440000",
	    "110105194912310021", /* 18 digits, wrong check character */
	    "4111111111111112", /* 16 digits failing Luhn */
	    "v1.2.3 build 20241207", "sk-relay-0123456789abcdef0123",
	    PH("PHONE_1") " stays what it is", NULL};
	struct config_pii pol;
	struct pii_out po;
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1 << 20);
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	for (i = 0; clean[i] != NULL; i++) {
		if (!rewrite(&po, clean[i], &b))
			break;
		if (strcmp(b.data, clean[i]) != 0)
			fail_msg("\"%s\" became \"%s\"", clean[i], b.data);
	}
	for (i = 0; i < PII_ENT__MAX; i++)
		assert_int_equal(po.hits[i], 0);
	assert_false(pii_out_mapped(&po));
	pii_out_reset(&po);
	buf_reset(&b);
}

static const char openai_req[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"Agent "
    "13812345678\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"mail zhang.san@example.com\"},{\"type\":\"image_url\","
    "\"image_url\":{\"url\":\"https://x.test/13812345678.png\"}}]},"
    "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_13812345678\","
    "\"type\":\"function\",\"function\":{\"name\":\"dial\",\"arguments\":"
    "\"{\\\"to\\\":\\\"13812345678\\\"}\"}}]},{\"role\":\"tool\","
    "\"tool_call_id\":\"call_13812345678\",\"content\":\"card "
    "4111111111111111\"}],\"user\":\"13812345678\"}";

static const char openai_want[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
    "\"Agent " PH(
	"PHONE_1") "\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
		   "\"text\":\"mail " PH(
		       "EMAIL_1") "\"},{\"type\":\"image_url\","
				  "\"image_url\":{\"url\":\"https://x.test/"
				  "13812345678.png\"}}]},"
				  "{\"role\":\"assistant\",\"tool_calls\":[{"
				  "\"id\":\"call_13812345678\","
				  "\"type\":\"function\",\"function\":{"
				  "\"name\":\"dial\",\"arguments\":"
				  "\"{\\\"to\\\":\\\"" PH(
				      "PHONE_1") "\\\"}\"}}]},{\"role\":"
						 "\"tool\","
						 "\"tool_call_id\":\"call_"
						 "13812345678\",\"content\":"
						 "\"card " PH(
						     "CARD_1") "\"}],\"user\":"
							       "\"13812345678\""
							       "}";

static const char anthropic_req[] =
    "{\"model\":\"m\",\"system\":[{\"type\":\"text\",\"text\":\"13812345678\"}"
    "],\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
    "\"thinking\",\"thinking\":\"user 13812345678\",\"signature\":"
    "\"13812345678\"},{\"type\":\"tool_use\",\"id\":\"toolu_13812345678\","
    "\"name\":\"dial\",\"input\":{\"to\":\"13812345678\",\"n\":{\"deep\":"
    "[\"zhang.san@example.com\"]}}}]},{\"role\":\"user\",\"content\":[{"
    "\"type\":\"tool_result\",\"tool_use_id\":\"toolu_13812345678\","
    "\"content\":[{\"type\":\"text\",\"text\":\"ok 13812345678\"}]},{\"type\":"
    "\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
    "\"data\":\"13812345678\"}}]}]}";

static const char gemini_req[] =
    "{\"systemInstruction\":{\"parts\":[{\"text\":\"13812345678\"}]},"
    "\"contents\":[{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
    "\"dial\",\"args\":{\"to\":\"13812345678\"}},\"thoughtSignature\":"
    "\"13812345678\"}]},{\"role\":\"user\",\"parts\":[{\"functionResponse\":{"
    "\"name\":\"dial\",\"response\":{\"result\":\"zhang.san@example.com\"}}},"
    "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"13812345678\"}}]}]"
    "}";

/* Parse with the torture paused: jansson's parser does not survive a
 * failed allocation; the code under test is what comes after. */
static unsigned long rearmed; /* the failure's new count, 0: none */

static enum relay_err
parse_paused(const char *body, json_t **root)
{
	unsigned long used = mem_count();
	char jerr[64];
	enum relay_err e;

	if (oom_n != 0)
		mem_fail_after(0);
	e = jsonx_parse(body, strlen(body), root, jerr, sizeof(jerr));
	if (oom_n != 0) {
		rearmed = oom_n > used ? oom_n - used : 1;
		mem_fail_after(rearmed);
	}
	return e;
}

/* The teardown counts from the re-arming: tell it the Nth came; then
 * dump root into out with the torture off (jansson drops a key it fails
 * to allocate for and reports success). */
static enum relay_err
paused_done(enum relay_err e, json_t *root, struct buf *out)
{
	if (oom_n != 0 && rearmed != 0 && mem_count() >= rearmed)
		oom_reached = 1;
	rearmed = 0;
	if (oom_n != 0)
		mem_fail_after(0);
	if (e == RELAY_OK)
		e = jsonx_dump(root, out);
	if (e == RELAY_OK)
		e = buf_append(out, "", 1);
	return e;
}

/* Rewrite body as a document; its dump (NUL-terminated) in out. 0 on
 * ENOMEM under torture. */
static int
rewrite_doc(struct pii_out *po, const char *body, struct buf *out)
{
	json_t *root = NULL;
	enum relay_err e;
	int changed = 0;

	buf_clear(out);
	e = parse_paused(body, &root);
	if (e == RELAY_OK)
		e = pii_out_request(po, root, &changed);
	e = paused_done(e, root, out);
	json_decref(root);
	if (e == RELAY_ENOMEM && oom_n != 0)
		return 0;
	assert_int_equal(e, RELAY_OK);
	assert_true(changed);
	return 1;
}

static void
test_request_documents(void **state)
{
	struct config_pii pol;
	struct pii_out po;
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	if (rewrite_doc(&po, openai_req, &b))
		assert_string_equal(b.data, openai_want);
	pii_out_reset(&po);
	pii_out_init(&po, &pol, NULL);
	if (rewrite_doc(&po, anthropic_req, &b)) {
		/* Texts, thinking, tool input at any depth, tool results. */
		assert_non_null(strstr(b.data, "\"text\":\"" PH("PHONE_1")));
		assert_non_null(
		    strstr(b.data, "\"thinking\":\"user " PH("PHONE_1")));
		assert_non_null(strstr(b.data, "\"to\":\"" PH("PHONE_1")));
		assert_non_null(strstr(b.data, "[\"" PH("EMAIL_1") "\"]"));
		assert_non_null(strstr(b.data, "\"ok " PH("PHONE_1")));
		/* Never ids, signatures or media. */
		assert_non_null(
		    strstr(b.data, "\"signature\":\"13812345678\""));
		assert_non_null(strstr(b.data, "\"toolu_13812345678\""));
		if (strstr(b.data, "\"data\":\"13812345678\"") == NULL)
			fail_msg("%s", b.data);
	}
	pii_out_reset(&po);
	pii_out_init(&po, &pol, NULL);
	if (rewrite_doc(&po, gemini_req, &b)) {
		assert_non_null(strstr(b.data, "\"text\":\"" PH("PHONE_1")));
		assert_non_null(strstr(b.data, "\"to\":\"" PH("PHONE_1")));
		assert_non_null(strstr(b.data, "\"result\":\"" PH("EMAIL_1")));
		assert_non_null(
		    strstr(b.data, "\"thoughtSignature\":\"13812345678\""));
		assert_non_null(strstr(b.data, "\"data\":\"13812345678\""));
	}
	pii_out_reset(&po);
	buf_reset(&b);
}

/* body through pii_out_request_body(): its result (NUL-terminated) in
 * out, which must say what the rewritten document says. */
static void
splice_body(const char *body, struct buf *out, int want_changed)
{
	struct config_pii pol;
	struct pii_out po;
	json_t *root = NULL, *again = NULL;
	char jerr[64];
	int changed = -1;

	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	buf_clear(out);
	assert_int_equal(
	    jsonx_parse(body, strlen(body), &root, jerr, sizeof(jerr)),
	    RELAY_OK);
	assert_int_equal(
	    pii_out_request_body(&po, root, body, strlen(body), out, &changed),
	    RELAY_OK);
	assert_int_equal(changed, want_changed);
	if (!want_changed) {
		assert_int_equal(out->len, 0);
		goto out;
	}
	assert_int_equal(
	    jsonx_parse(out->data, out->len, &again, jerr, sizeof(jerr)),
	    RELAY_OK);
	if (!json_equal(again, root))
		fail_msg("splice differs: %.*s", (int)out->len, out->data);
	assert_int_equal(buf_append(out, "", 1), RELAY_OK);
out:
	json_decref(again);
	json_decref(root);
	pii_out_reset(&po);
}

/* The body made again by splicing: the changed strings only, every other
 * byte as the client sent it; a key written with escapes gives up to the
 * document's dump, which says the same. */
static void
test_request_splice(void **state)
{
	static const char formatted[] =
	    "{ \"model\" : \"m\",\n  \"temperature\": 1.0e0,\n"
	    "  \"previous_response_id\": \"13812345678\",\n"
	    "  \"messages\": [ {\"role\": \"user\", \"content\": "
	    "\"caf\\u00e9 \\\"q\\\" 13812345678\\n\"},\n"
	    "   {\"role\": \"user\", \"content\": \"\\u4e2d 13812345678\"},"
	    "{\"role\":\"user\",\"name\":\"13812345678\",\"content\":"
	    "\"plain \\u00e9\"} ] }";
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	splice_body(openai_req, &b, 1);
	splice_body(anthropic_req, &b, 1);
	assert_non_null(strstr(b.data, "\"signature\":\"13812345678\""));
	splice_body(gemini_req, &b, 1);
	splice_body(formatted, &b, 1);
	/* White space, number spellings, escapes of unchanged strings and
	 * members that are not text: as they came. */
	assert_non_null(strstr(b.data, "{ \"model\" : \"m\",\n  "));
	assert_non_null(strstr(b.data, "\"temperature\": 1.0e0,"));
	assert_non_null(
	    strstr(b.data, "\"previous_response_id\": \"13812345678\""));
	assert_non_null(strstr(b.data, "\"name\":\"13812345678\""));
	assert_non_null(strstr(b.data, "\"plain \\u00e9\"} ] }"));
	/* A changed string written anew, escaped where it must be. */
	assert_non_null(strstr(
	    b.data, "\"content\": \"café \\\"q\\\" " PH("PHONE_1") "\\n\"}"));
	assert_non_null(
	    strstr(b.data, "\"content\": \"中 " PH("PHONE_1") "\"}"));
	/* An escaped key: the dump, compact. */
	splice_body("{ \"model\": \"m\", \"messages\": [{\"role\": \"user\", "
		    "\"con\\u0074ent\": \"13812345678\"}] }",
	    &b, 1);
	assert_non_null(strstr(b.data, "{\"model\":\"m\",\"messages\":[{"));
	assert_non_null(strstr(b.data, "\"content\":\"" PH("PHONE_1") "\""));
	/* Nothing found: nothing made. */
	splice_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
		    "\"content\":\"hello\"}]}",
	    &b, 0);
	buf_reset(&b);
}

/* A whole answer: strings restored, OpenAI's argument text escaped as
 * JSON. */
static void
test_restore_doc(void **state)
{
	static const char answer[] =
	    "{\"choices\":[{\"message\":{\"content\":\"Call " PHONE1
	    " about " TERM1 " (" PHONE9 ")\",\"tool_calls\":[{\"function\":"
	    "{\"arguments\":\"{\\\"who\\\":\\\"" TERM1 "\\\"}\"}}]}}]}";
	struct config_pii pol;
	struct pii_out po;
	struct buf b;
	json_t *root = NULL;
	enum relay_err e;
	int changed = 0;

	(void)state;
	buf_init(&b, 1 << 20);
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	/* The map as a request with a quoted term would make it. */
	if (!rewrite(&po, "13812345678", &b))
		goto out;
	{
		struct pii_out_entry *nv =
		    mem_reallocarray(po.map, 2, sizeof(*po.map));

		if (nv == NULL && oom_n != 0)
			goto out;
		assert_non_null(nv);
		po.map = nv;
		po.capmap = 2;
	}
	memset(&po.map[1], 0, sizeof(po.map[1]));
	po.map[1].type = PII_ENT_TERM;
	po.map[1].ord = 1;
	po.map[1].orig = mem_strdup("Big \"Q\"");
	po.map[1].len = 7;
	if (po.map[1].orig == NULL && oom_n != 0)
		goto out;
	po.nmap = 2;
	buf_clear(&b);
	e = parse_paused(answer, &root);
	if (e == RELAY_OK)
		e = pii_out_restore_doc(&po, root, &changed);
	e = paused_done(e, root, &b);
	json_decref(root);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_string_equal(b.data,
	    "{\"choices\":[{\"message\":{\"content\":\"Call 13812345678 about "
	    "Big \\\"Q\\\" (" PH(
		"PHONE_9") ")\",\"tool_calls\":[{\"function\":"
			   "{\"arguments\":\"{\\\"who\\\":\\\"Big "
			   "\\\\\\\"Q\\\\\\\"\\\"}\"}}]}}"
			   "]}");
out:
	pii_out_reset(&po);
	buf_reset(&b);
}

/* --- not under torture ------------------------------------------------- */

/* Every split of a text into three pieces restores it exactly once, and
 * a piece with no bracket byte pending goes out whole at once. */
static void
test_restorer_every_split(void **state)
{
	static const char text[] = "a" PH("PHONE_1") "b" PH_OPEN "x" PH(
	    "EMAIL_1") PH("PHONE_1") "\xE2\x80\x94" PH("CARD_7") "z";
	static const char want[] =
	    "a13812345678b" PH_OPEN "xzhang.san@example.com13812345678"
	    "\xE2\x80\x94" PH("CARD_7") "z";
	struct config_pii pol;
	struct pii_out po;
	struct pii_restorer r;
	struct buf b;
	size_t n = strlen(text), i, j;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	buf_init(&b, 1 << 20);
	assert_true(rewrite(&po, "13812345678 zhang.san@example.com", &b));
	for (i = 0; i <= n; i++)
		for (j = i; j <= n; j++) {
			buf_clear(&b);
			pii_restorer_init(&r, &po, 0);
			assert_int_equal(
			    pii_restorer_feed(&r, text, i, &b), RELAY_OK);
			assert_int_equal(
			    pii_restorer_feed(&r, text + i, j - i, &b),
			    RELAY_OK);
			assert_int_equal(
			    pii_restorer_feed(&r, text + j, n - j, &b),
			    RELAY_OK);
			assert_int_equal(pii_restorer_flush(&r, &b), RELAY_OK);
			if (b.len != strlen(want) ||
			    memcmp(b.data, want, b.len) != 0)
				fail_msg("split %zu/%zu: \"%.*s\"", i, j,
				    (int)b.len, b.data);
		}
	/* Text with no bracket byte is never held. */
	buf_clear(&b);
	pii_restorer_init(&r, &po, 0);
	assert_int_equal(pii_restorer_feed(&r, "plain ", 6, &b), RELAY_OK);
	assert_int_equal(b.len, 6);
	assert_int_equal(pii_restorer_feed(&r, PH_OPEN "PH", 5, &b), RELAY_OK);
	assert_int_equal(b.len, 6);
	assert_int_equal(pii_restorer_feed(&r, "ase", 3, &b), RELAY_OK);
	assert_int_equal(b.len, 6 + 8);
	pii_out_reset(&po);
	buf_reset(&b);
}

/* The stream hook: what it passes on, recorded as "kind:index:text". */
struct rec {
	struct buf b;
};

static enum relay_err
record_ev(void *arg, const struct ir_sev *ev)
{
	struct rec *r = arg;
	static const char *const kinds[] = {
	    "start", "bstart", "delta", "bstop", "end", "error"};

	if (ev->kind == IR_SEV_DELTA)
		return buf_printf(&r->b, "delta:%zu:%.*s|", ev->index,
		    (int)ev->text.len, ev->text.p);
	return buf_printf(&r->b, "%s:%zu|", kinds[ev->kind], ev->index);
}

static void
sev(struct pii_stream *ps, struct rec *r, enum ir_sev_kind k, size_t index,
    enum ir_part_type part, enum ir_delta d, const char *text)
{
	struct ir_sev ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = k;
	ev.index = index;
	ev.part = part;
	ev.delta = d;
	if (text != NULL)
		ev.text = (struct span){text, strlen(text)};
	assert_int_equal(pii_stream_event(ps, &ev, record_ev, r), RELAY_OK);
}

static void
test_stream_hook(void **state)
{
	struct config_pii pol;
	struct pii_out po;
	struct pii_stream *ps;
	struct rec r;
	struct buf b;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	buf_init(&b, 1 << 20);
	buf_init(&r.b, 1 << 20);
	assert_true(rewrite(&po, "13812345678 zhang.san@example.com", &b));
	ps = pii_stream_new(&po);
	assert_non_null(ps);
	sev(ps, &r, IR_SEV_START, 0, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	sev(ps, &r, IR_SEV_BLOCK_START, 0, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	sev(ps, &r, IR_SEV_DELTA, 0, IR_PART_TEXT, IR_DELTA_TEXT, "Hi \xE2");
	sev(ps, &r, IR_SEV_DELTA, 0, IR_PART_TEXT, IR_DELTA_TEXT,
	    "\x9F\xA6PHO");
	sev(ps, &r, IR_SEV_DELTA, 0, IR_PART_TEXT, IR_DELTA_TEXT,
	    "NE_1" PH_CLOSE " and " PH_OPEN "EM");
	/* The block ends inside a placeholder; the next text block takes
	 * the tail after this block's stop. */
	sev(ps, &r, IR_SEV_BLOCK_STOP, 0, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	sev(ps, &r, IR_SEV_BLOCK_START, 1, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	sev(ps, &r, IR_SEV_DELTA, 1, IR_PART_TEXT, IR_DELTA_TEXT,
	    "AIL_1" PH_CLOSE "!");
	sev(ps, &r, IR_SEV_BLOCK_STOP, 1, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	/* Tool arguments: JSON text, fragments split inside the brackets. */
	sev(ps, &r, IR_SEV_BLOCK_START, 2, IR_PART_TOOL_CALL, IR_DELTA_ARGS,
	    NULL);
	sev(ps, &r, IR_SEV_DELTA, 2, IR_PART_TOOL_CALL, IR_DELTA_ARGS,
	    "{\"to\":\"\xE2\x9F");
	sev(ps, &r, IR_SEV_DELTA, 2, IR_PART_TOOL_CALL, IR_DELTA_ARGS,
	    "\xA6PHONE_1\xE2\x9F\xA7\"}");
	sev(ps, &r, IR_SEV_BLOCK_STOP, 2, IR_PART_TOOL_CALL, IR_DELTA_ARGS,
	    NULL);
	/* A text block that ends on a bracket start with none to follow. */
	sev(ps, &r, IR_SEV_BLOCK_START, 3, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	sev(ps, &r, IR_SEV_DELTA, 3, IR_PART_TEXT, IR_DELTA_TEXT,
	    "end " PH_OPEN);
	sev(ps, &r, IR_SEV_BLOCK_STOP, 3, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	sev(ps, &r, IR_SEV_END, 0, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	assert_int_equal(buf_append(&r.b, "", 1), RELAY_OK);
	assert_string_equal(r.b.data,
	    "start:0|bstart:0|delta:0:Hi |delta:0:13812345678 and |bstop:0|"
	    "bstart:1|delta:1:zhang.san@example.com!|bstop:1|bstart:2|"
	    "delta:2:{\"to\":\"|delta:2:13812345678\"}|bstop:2|bstart:3|"
	    "delta:3:end |delta:3:" PH_OPEN "|bstop:3|end:0|");
	pii_stream_free(ps);
	pii_out_reset(&po);
	buf_reset(&b);
	buf_reset(&r.b);
}

/* --- surrogates (pii_protection.surrogates) ----------------------------- */

#define S_PHONE1 "19900000001"
#define S_ID1 "100000190001010010"
#define S_CARD1 "2000000000000014"

struct scan_rec {
	char kinds[64];
	size_t n;
};

static int
scan_rec(void *arg, enum pii_entity e, size_t at, size_t len)
{
	struct scan_rec *r = arg;

	(void)at;
	(void)len;
	if (r->n + 1 < sizeof(r->kinds))
		r->kinds[r->n++] = (char)('0' + e);
	r->kinds[r->n] = '\0';
	return 0;
}

/* Phones, IDs and cards become digits of their own shape that pass the
 * scanner's own checks (mobile prefix, MOD 11-2, Luhn), the same for the
 * same ord in every request, never an original; the rest keep their
 * placeholders; whole answers come back exactly. */
static void
test_surrogates(void **state)
{
	static const char want[] =
	    "我的手机 " S_PHONE1 "，身份证 " S_ID1 "，卡号 " S_CARD1
	    "，邮箱 " PH("EMAIL_1") "。再说一次 " S_PHONE1;
	struct config_pii pol;
	struct pii_out po, po2;
	struct scan_rec sr = {{0}, 0};
	struct buf b, r;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pol.surrogates = 1;
	pii_out_init(&po, &pol, NULL);
	buf_init(&b, 1 << 20);
	buf_init(&r, 1 << 20);
	assert_true(rewrite(&po, prompt, &b));
	assert_string_equal(b.data, want);
	assert_int_equal(po.nsur, 3);
	/* Valid: the scanner finds each as its kind (email is a
	 * placeholder now). */
	assert_int_equal(pii_scan(b.data, b.len - 1, scan_rec, &sr), 0);
	assert_string_equal(sr.kinds, "0120");
	/* The history comes back restored: the same surrogates. */
	assert_true(rewrite(&po, prompt, &b));
	assert_string_equal(b.data, want);
	assert_int_equal(po.nmap, 4);
	/* Deterministic: another request, the same text. */
	pii_out_init(&po2, &pol, NULL);
	assert_true(rewrite(&po2, prompt, &b));
	assert_string_equal(b.data, want);
	pii_out_reset(&po2);
	/* Whole answers restored, as text and as JSON. */
	assert_int_equal(
	    pii_out_restore(&po, b.data, b.len - 1, 0, &r), RELAY_OK);
	assert_int_equal(r.len, strlen(prompt));
	assert_memory_equal(r.data, prompt, r.len);
	/* Digits next to a surrogate: not one. */
	buf_clear(&r);
	assert_int_equal(
	    pii_out_restore(&po, "1" S_PHONE1 " " S_PHONE1 "2 " S_CARD1,
		strlen("1" S_PHONE1 " " S_PHONE1 "2 " S_CARD1), 0, &r),
	    RELAY_OK);
	assert_int_equal(buf_append(&r, "", 1), RELAY_OK);
	assert_string_equal(
	    r.data, "1" S_PHONE1 " " S_PHONE1 "2 4111111111111111");
	pii_out_reset(&po);

	/* An original that is a surrogate gets another; a 15-digit ID
	 * 15 digits; a 13-digit card 13. */
	pii_out_init(&po, &pol, NULL);
	assert_true(rewrite(
	    &po, S_PHONE1 " 13812345678 110105491231002 4222222222222", &b));
	assert_string_equal(b.data,
	    "19900100004 19900000002 "
	    "100000000101001 2000000000016");
	buf_clear(&r);
	assert_int_equal(
	    pii_out_restore(&po, b.data, b.len - 1, 0, &r), RELAY_OK);
	assert_int_equal(buf_append(&r, "", 1), RELAY_OK);
	assert_string_equal(
	    r.data, S_PHONE1 " 13812345678 110105491231002 4222222222222");
	pii_out_reset(&po);

	/* Off: placeholders, as before. */
	pol.surrogates = 0;
	pii_out_init(&po, &pol, NULL);
	assert_true(rewrite(&po, "13812345678", &b));
	assert_string_equal(b.data, PHONE1);
	assert_int_equal(po.nsur, 0);
	pii_out_reset(&po);
	buf_reset(&b);
	buf_reset(&r);
}

/* Every split of text into three pieces restores it as want. */
static void
split3(const struct pii_out *po, int json, const char *text, const char *want)
{
	struct pii_restorer r;
	struct buf b;
	size_t n = strlen(text), i, j;

	buf_init(&b, 1 << 20);
	for (i = 0; i <= n; i++)
		for (j = i; j <= n; j++) {
			buf_clear(&b);
			pii_restorer_init(&r, po, json);
			assert_int_equal(
			    pii_restorer_feed(&r, text, i, &b), RELAY_OK);
			assert_int_equal(
			    pii_restorer_feed(&r, text + i, j - i, &b),
			    RELAY_OK);
			assert_int_equal(
			    pii_restorer_feed(&r, text + j, n - j, &b),
			    RELAY_OK);
			assert_int_equal(pii_restorer_flush(&r, &b), RELAY_OK);
			if (b.len != strlen(want) ||
			    memcmp(b.data, want, b.len) != 0)
				fail_msg("split %zu/%zu: \"%.*s\"", i, j,
				    (int)b.len, b.data);
		}
	buf_reset(&b);
}

/* Every split of a text with surrogates and placeholders into three
 * pieces restores it exactly once; text that can begin none is never
 * held. */
static void
test_surrogate_every_split(void **state)
{
	static const char text[] = "a " S_PHONE1 "," S_CARD1 " 1" S_PHONE1
				   " " S_PHONE1 "9 " PH("EMAIL_1") S_ID1
	    "." PH_OPEN "1" S_PHONE1 " x" S_PHONE1 " " S_PHONE1 "y " S_CARD1
	    "-12345 " S_PHONE1;
	static const char want[] =
	    "a 13812345678,4111111111111111 1" S_PHONE1 " " S_PHONE1
	    "9 zhang.san@example.com11010519491231002X." PH_OPEN "1" S_PHONE1
	    " x" S_PHONE1 " " S_PHONE1 "y 4111111111111111-12345 13812345678";
	struct config_pii pol;
	struct pii_out po;
	struct pii_restorer r;
	struct buf b;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pol.surrogates = 1;
	pii_out_init(&po, &pol, NULL);
	buf_init(&b, 1 << 20);
	assert_true(rewrite(&po,
	    "13812345678 zhang.san@example.com 4111111111111111 "
	    "11010519491231002X",
	    &b));
	split3(&po, 0, text, want);
	/* JSON text (tool arguments, a raw stream): an escape before a
	 * surrogate is one character, not the letter it is spelt with. */
	split3(&po, 1,
	    "{\"a\":\"\\n" S_PHONE1 "\\u53f7" S_PHONE1 "\\\\x" S_PHONE1
	    "\",\"b\":" S_CARD1 "}",
	    "{\"a\":\"\\n13812345678\\u53f713812345678\\\\x" S_PHONE1
	    "\",\"b\":4111111111111111}");
	/* Not held: words, and digits that begin no surrogate ("2" does
	 * not, "1" does). */
	buf_clear(&b);
	pii_restorer_init(&r, &po, 0);
	assert_int_equal(
	    pii_restorer_feed(&r, "plain 2024 ", 11, &b), RELAY_OK);
	assert_int_equal(b.len, 11);
	assert_int_equal(pii_restorer_feed(&r, "1990", 4, &b), RELAY_OK);
	assert_int_equal(b.len, 11);
	assert_int_equal(pii_restorer_feed(&r, "5", 1, &b), RELAY_OK);
	assert_int_equal(b.len, 16);
	/* A whole surrogate waits for the byte after it. */
	assert_int_equal(pii_restorer_feed(&r, " " S_PHONE1, 12, &b), RELAY_OK);
	assert_int_equal(b.len, 17);
	assert_int_equal(pii_restorer_feed(&r, ",", 1, &b), RELAY_OK);
	assert_int_equal(b.len, 17 + 11 + 1);
	pii_out_reset(&po);
	buf_reset(&b);
}

/* The stream hook with surrogates: split digits restored per block, a
 * surrogate that ends a text block with none to follow restored before
 * its stop, tool arguments as JSON. */
static void
test_surrogate_stream(void **state)
{
	struct config_pii pol;
	struct pii_out po;
	struct pii_stream *ps;
	struct rec r;
	struct buf b;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pol.surrogates = 1;
	pii_out_init(&po, &pol, NULL);
	buf_init(&b, 1 << 20);
	buf_init(&r.b, 1 << 20);
	assert_true(rewrite(&po, "13812345678 4111111111111111", &b));
	ps = pii_stream_new(&po);
	assert_non_null(ps);
	sev(ps, &r, IR_SEV_BLOCK_START, 0, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	sev(ps, &r, IR_SEV_DELTA, 0, IR_PART_TEXT, IR_DELTA_TEXT, "Call 1990");
	sev(ps, &r, IR_SEV_DELTA, 0, IR_PART_TEXT, IR_DELTA_TEXT,
	    "0000001 or ");
	sev(ps, &r, IR_SEV_DELTA, 0, IR_PART_TEXT, IR_DELTA_TEXT, "2000000");
	sev(ps, &r, IR_SEV_DELTA, 0, IR_PART_TEXT, IR_DELTA_TEXT, "000000014");
	sev(ps, &r, IR_SEV_BLOCK_STOP, 0, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	sev(ps, &r, IR_SEV_BLOCK_START, 1, IR_PART_TOOL_CALL, IR_DELTA_ARGS,
	    NULL);
	sev(ps, &r, IR_SEV_DELTA, 1, IR_PART_TOOL_CALL, IR_DELTA_ARGS,
	    "{\"to\":\"19900");
	sev(ps, &r, IR_SEV_DELTA, 1, IR_PART_TOOL_CALL, IR_DELTA_ARGS,
	    "000001\",\"n\":12}");
	sev(ps, &r, IR_SEV_BLOCK_STOP, 1, IR_PART_TOOL_CALL, IR_DELTA_ARGS,
	    NULL);
	sev(ps, &r, IR_SEV_END, 0, IR_PART_TEXT, IR_DELTA_TEXT, NULL);
	assert_int_equal(buf_append(&r.b, "", 1), RELAY_OK);
	assert_string_equal(r.b.data,
	    "bstart:0|delta:0:Call |delta:0:13812345678 or |"
	    "delta:0:4111111111111111|bstop:0|bstart:1|delta:1:{\"to\":\"|"
	    "delta:1:13812345678\",\"n\":12}|bstop:1|end:0|");
	pii_stream_free(ps);
	pii_out_reset(&po);
	buf_reset(&b);
	buf_reset(&r.b);
}

/* Operator terms through the word-list automaton, case-folded; a term
 * inside a detected entity yields to it. */
static void
test_terms(void **state)
{
	char path[] = "/tmp/test_pii_out_XXXXXX";
	const char *paths[1] = {path};
	struct wordfilter *wf;
	struct config_pii pol;
	struct pii_out po;
	struct buf b;
	char eb[128];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "Project Phoenix\n张三\n1234\n", 28), 28);
	close(fd);
	wf = wordfilter_load(paths, 1, eb, sizeof(eb));
	unlink(path);
	assert_non_null(wf);
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, wf);
	buf_init(&b, 1 << 20);
	assert_true(rewrite(
	    &po, "张三 leads PROJECT PHOENIX; 张三 calls 13812345678", &b));
	assert_string_equal(b.data,
	    PH("TERM_1") " leads " PH("TERM_2") "; " PH("TERM_1") " calls " PH(
		"PHONE_1"));
	pii_out_reset(&po);
	pol.act[PII_ENT_TERM] = PII_ACT_MASK;
	pii_out_init(&po, &pol, wf);
	assert_true(rewrite(&po, "张三!", &b));
	assert_string_equal(b.data, "**!");
	pii_out_reset(&po);
	wordfilter_free(wf);
	buf_reset(&b);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_pseudonymise_and_restore),
	    OOM_CASE(test_mask_block_off),
	    OOM_CASE(test_no_false_positives),
	    OOM_CASE(test_request_documents),
	    OOM_CASE(test_restore_doc),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_restorer_every_split),
	    cmocka_unit_test(test_stream_hook),
	    cmocka_unit_test(test_terms),
	    cmocka_unit_test(test_request_splice),
	    cmocka_unit_test(test_surrogates),
	    cmocka_unit_test(test_surrogate_every_split),
	    cmocka_unit_test(test_surrogate_stream),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "pii_out (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("pii_out", cases, NULL, NULL);
	return oom_exit(failed);
}
