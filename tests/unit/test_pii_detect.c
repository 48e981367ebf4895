/* SPDX-License-Identifier: MIT */
/* test_pii_detect.c - unit tests for lib/pii_detect.c: code points to
 * bytes (ASCII, CJK, 4-byte characters, back and forth), the request
 * body, the answer parser (Presidio's shape, thresholds, types, kinds
 * left off, cut at the separator, every malformed answer refused), and the
 * found values through pii_out: each occurrence, word boundaries, masks,
 * restore. The oom-safe group also runs under RELAY_FAIL_ALLOC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/mem.h"
#include "../../lib/pii_detect.h"
#include "../../lib/pii_out.h"

#include "oom_test.h"

#define PH_OPEN "\xE2\x9F\xA6"
#define PH_CLOSE "\xE2\x9F\xA7"
#define PH(t) PH_OPEN t PH_CLOSE

/* "张三 at 北京市 😀 Alice Smith": code points 0..1 张三, 2 ' ',
 * 3..4 at, 5 ' ', 6..8 北京市, 9 ' ', 10 😀, 11 ' ', 12..22 Alice Smith. */
static const char text[] = "张三 at 北京市 \xF0\x9F\x98\x80 Alice Smith";

static void
policy(struct config_pii *p, enum pii_action a)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < PII_ENT__MAX; i++)
		p->act[i] = (unsigned char)a;
}

/* Parse ans over text into po; the result, ENOMEM tolerated under
 * torture (returned as is). */
static enum relay_err
parse(struct pii_out *po, const char *ans, const char *t, double th)
{
	return pii_detect_parse(ans, strlen(ans), t, strlen(t), th, po);
}

static int
found(const struct pii_out *po, enum pii_entity e, const char *v)
{
	size_t i;

	for (i = 0; i < po->nfound; i++)
		if (po->found[i].type == e && po->found[i].len == strlen(v) &&
		    memcmp(po->found[i].orig, v, po->found[i].len) == 0)
			return 1;
	return 0;
}

/* --- plain --------------------------------------------------------------- */

static void
test_code_points(void **state)
{
	struct pii_cp c;
	size_t b;

	(void)state;
	pii_cp_init(&c, text, strlen(text));
	assert_int_equal(pii_cp_seek(&c, 0, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(pii_cp_seek(&c, 2, &b), 0);
	assert_int_equal(b, 6); /* 张三: 3 bytes each */
	assert_int_equal(pii_cp_seek(&c, 6, &b), 0);
	assert_int_equal(b, 10);
	assert_int_equal(pii_cp_seek(&c, 9, &b), 0);
	assert_int_equal(b, 19);
	assert_int_equal(pii_cp_seek(&c, 11, &b), 0);
	assert_int_equal(b, 24); /* 😀: 4 bytes, one code point */
	assert_int_equal(pii_cp_seek(&c, 23, &b), 0);
	assert_int_equal(b, strlen(text)); /* just past the last */
	assert_int_equal(pii_cp_seek(&c, 24, &b), -1);
	/* Back again, any distance, the same answers. */
	assert_int_equal(pii_cp_seek(&c, 10, &b), 0);
	assert_int_equal(b, 20);
	assert_int_equal(pii_cp_seek(&c, 1, &b), 0);
	assert_int_equal(b, 3);
	assert_int_equal(pii_cp_seek(&c, 12, &b), 0);
	assert_int_equal(b, 25);
	pii_cp_init(&c, "", 0);
	assert_int_equal(pii_cp_seek(&c, 0, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(pii_cp_seek(&c, 1, &b), -1);
}

static void
test_body(void **state)
{
	char *ents[] = {"PERSON", "LOCATION"};
	struct config_detector d = {0};
	struct buf b;

	(void)state;
	d.entities.v = ents;
	d.entities.n = 2;
	d.language = "zh";
	d.score_threshold = 0.5;
	buf_init(&b, 1 << 16);
	assert_int_equal(pii_detect_body(&d, "张三 \"q\"\n\n x",
			     strlen("张三 \"q\"\n\n x"), &b),
	    RELAY_OK);
	assert_int_equal(buf_append(&b, "", 1), RELAY_OK);
	assert_string_equal(b.data,
	    "{\"text\":\"张三 \\\"q\\\"\\n\\n x\",\"language\":\"zh\","
	    "\"entities\":[\"PERSON\",\"LOCATION\"],"
	    "\"score_threshold\":0.5}");
	buf_reset(&b);
}

static void
test_wanted(void **state)
{
	struct config_detector d = {0};
	struct config_pii pol;
	struct pii_out po;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	assert_false(pii_detect_wanted(&d, &po)); /* none configured */
	d.url = "http://127.0.0.1:1/analyze";
	assert_true(pii_detect_wanted(&d, &po));
	pol.act[PII_ENT_NAME] = PII_ACT_OFF;
	pii_out_init(&po, &pol, NULL);
	assert_true(pii_detect_wanted(&d, &po)); /* address still on */
	pol.act[PII_ENT_ADDRESS] = PII_ACT_OFF;
	pii_out_init(&po, &pol, NULL);
	assert_false(pii_detect_wanted(&d, &po));
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {"", "{}", "null", "[1]", "[[]]",
	    "[{\"start\":0,\"end\":2}]",
	    "[{\"entity_type\":1,\"start\":0,\"end\":2}]",
	    "[{\"entity_type\":\"PERSON\",\"start\":-1,\"end\":2}]",
	    "[{\"entity_type\":\"PERSON\",\"start\":3,\"end\":2}]",
	    "[{\"entity_type\":\"PERSON\",\"start\":0,\"end\":24}]",
	    "[{\"entity_type\":\"PERSON\",\"start\":0.0,\"end\":2}]",
	    "[{\"entity_type\":\"PERSON\",\"start\":0,\"end\":2,"
	    "\"score\":\"high\"}]",
	    /* Out of range even for a type that is not ours. */
	    "[{\"entity_type\":\"US_SSN\",\"start\":0,\"end\":99}]",
	    "[{\"entity_type\":\"PERSON\",\"start\":0,\"end\":2}", NULL};
	struct config_pii pol;
	struct pii_out po;
	size_t i;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	for (i = 0; bad[i] != NULL; i++) {
		pii_out_init(&po, &pol, NULL);
		if (parse(&po, bad[i], text, 0.5) != RELAY_EPROTO)
			fail_msg("accepted: %s", bad[i]);
		pii_out_reset(&po);
	}
}

/* --- oom-safe ------------------------------------------------------------ */

static void
test_parse(void **state)
{
	/* Presidio's shape, in no particular order, with the fields it
	 * adds; a low score, a type not ours, one at the very end. */
	static const char ans[] =
	    "[{\"analysis_explanation\":null,\"end\":23,"
	    "\"entity_type\":\"PERSON\",\"recognition_metadata\":{},"
	    "\"score\":0.85,\"start\":12},"
	    "{\"entity_type\":\"PERSON\",\"start\":0,\"end\":2,\"score\":0.9},"
	    "{\"entity_type\":\"LOCATION\",\"start\":6,\"end\":9,"
	    "\"score\":0.7},"
	    "{\"entity_type\":\"PERSON\",\"start\":3,\"end\":5,"
	    "\"score\":0.1},"
	    "{\"entity_type\":\"DATE_TIME\",\"start\":3,\"end\":5,"
	    "\"score\":1.0}]";
	struct config_pii pol;
	struct pii_out po;
	enum relay_err e;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	e = parse(&po, ans, text, 0.5);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_int_equal(po.nfound, 3);
	assert_true(found(&po, PII_ENT_NAME, "Alice Smith"));
	assert_true(found(&po, PII_ENT_NAME, "张三"));
	assert_true(found(&po, PII_ENT_ADDRESS, "北京市"));
	/* A kind the policy leaves off is not kept. */
	pii_out_reset(&po);
	pol.act[PII_ENT_ADDRESS] = PII_ACT_OFF;
	pii_out_init(&po, &pol, NULL);
	e = parse(&po, ans, text, 0.5);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_int_equal(po.nfound, 2);
	assert_false(found(&po, PII_ENT_ADDRESS, "北京市"));
	/* An empty answer: nothing found. */
	pii_out_reset(&po);
	pii_out_init(&po, &pol, NULL);
	e = parse(&po, "[]", text, 0.5);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_int_equal(po.nfound, 0);
out:
	pii_out_reset(&po);
}

static void
test_separator_and_trim(void **state)
{
	/* A span running over the blank line between two texts is cut at
	 * it, and white space is trimmed; one byte is no name. */
	static const char t[] = " Bob\n\nLee said x";
	struct config_pii pol;
	struct pii_out po;
	enum relay_err e;

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	e = parse(&po,
	    "[{\"entity_type\":\"PERSON\",\"start\":0,\"end\":9},"
	    "{\"entity_type\":\"PERSON\",\"start\":15,\"end\":16}]",
	    t, 0.5);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_int_equal(po.nfound, 1);
	assert_true(found(&po, PII_ENT_NAME, "Bob"));
out:
	pii_out_reset(&po);
}

static void
test_found_rewrite(void **state)
{
	struct config_pii pol;
	struct pii_out po;
	struct buf b, r;
	enum relay_err e;
	const char *in = "Alice Smith, 张三 and Alice Smithson; "
			 "ask Alice Smith at 北京市 (13812345678)";

	(void)state;
	policy(&pol, PII_ACT_PSEUDO);
	pii_out_init(&po, &pol, NULL);
	buf_init(&b, 1 << 16);
	buf_init(&r, 1 << 16);
	e = pii_out_found(&po, PII_ENT_NAME, "Alice Smith", 11);
	if (e == RELAY_OK)
		e = pii_out_found(&po, PII_ENT_NAME, "张三", 6);
	if (e == RELAY_OK)
		e = pii_out_found(&po, PII_ENT_ADDRESS, "北京市", 9);
	if (e == RELAY_OK) /* the same value again: kept once */
		e = pii_out_found(&po, PII_ENT_NAME, "张三", 6);
	if (e == RELAY_OK)
		e = pii_out_text(&po, in, strlen(in), &b);
	if (e == RELAY_OK)
		e = buf_append(&b, "", 1);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_int_equal(po.nfound, 3);
	/* Each occurrence, the same placeholder; "Alice Smithson" is
	 * another word. */
	assert_string_equal(b.data,
	    PH("NAME_1") ", " PH("NAME_2") " and Alice Smithson; ask " PH(
		"NAME_1") " at " PH("ADDR_1") " (" PH("PHONE_1") ")");
	assert_int_equal(po.hits[PII_ENT_NAME], 3);
	assert_int_equal(po.hits[PII_ENT_ADDRESS], 1);
	e = pii_out_restore(&po, b.data, b.len - 1, 0, &r);
	if (e == RELAY_OK)
		e = buf_append(&r, "", 1);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_string_equal(r.data, in);
	/* Masked: one '*' per character, as terms are. */
	pii_out_reset(&po);
	policy(&pol, PII_ACT_MASK);
	pii_out_init(&po, &pol, NULL);
	buf_clear(&b);
	e = pii_out_found(&po, PII_ENT_NAME, "张三", 6);
	if (e == RELAY_OK)
		e = pii_out_text(&po, "我是张三。", 15, &b);
	if (e == RELAY_OK)
		e = buf_append(&b, "", 1);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_string_equal(b.data, "我是**。");
out:
	pii_out_reset(&po);
	buf_reset(&b);
	buf_reset(&r);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_parse),
	    OOM_CASE(test_separator_and_trim),
	    OOM_CASE(test_found_rewrite),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_code_points),
	    cmocka_unit_test(test_body),
	    cmocka_unit_test(test_wanted),
	    cmocka_unit_test(test_malformed),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "pii_detect (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed += cmocka_run_group_tests_name(
		    "pii_detect", cases, NULL, NULL);
	return oom_exit(failed);
}
