/* SPDX-License-Identifier: MIT */
/* test_pii.c - unit tests for lib/pii.c: every kind masked, ordinary
 * numbers left alone, CJK text intact; the oom-safe group also runs under
 * RELAY_FAIL_ALLOC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/mem.h"
#include "../../lib/pii.c"

#include "oom_test.h"

struct pii_case {
	const char *in;
	const char *want;
};

/* Mask every case into one buffer; under torture ENOMEM ends the case. */
static void
run_cases(const struct pii_case *c, size_t n)
{
	struct buf b;
	enum relay_err e;
	size_t i;

	buf_init(&b, 4096);
	for (i = 0; i < n; i++) {
		buf_clear(&b);
		e = pii_mask(c[i].in, strlen(c[i].in), &b);
		if (e == RELAY_ENOMEM && oom_n != 0)
			break;
		assert_int_equal(e, RELAY_OK);
		if (b.len != strlen(c[i].want) ||
		    memcmp(b.data, c[i].want, b.len) != 0)
			fail_msg("case %zu: \"%s\" gave \"%.*s\", want \"%s\"",
			    i, c[i].in, (int)b.len, b.data, c[i].want);
	}
	buf_reset(&b);
}

#define RUN(cases) run_cases((cases), sizeof(cases) / sizeof((cases)[0]))

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_mobile(void **state)
{
	static const struct pii_case c[] = {
	    {"13812345678", "138****5678"},
	    {"call 13812345678 now", "call 138****5678 now"},
	    {"19987654321.", "199****4321."},
	    {"+8613812345678", "+86138****5678"},
	    {"+86 13812345678", "+86 138****5678"},
	    {"+86-138-1234-5678", "+86-138****5678"},
	    {"0086 15912345678", "0086 159****5678"},
	    {"138 1234 5678", "138****5678"},
	    {"138-1234-5678", "138****5678"},
	    {"(13812345678)", "(138****5678)"},
	    {"tel:13812345678,", "tel:138****5678,"},
	    {"a 13812345678\n17712345678", "a 138****5678\n177****5678"},
	    {"13812345678 13912345678", "138****5678 139****5678"},
	    {"[\"15000000000\"]", "[\"150****0000\"]"},
	};

	(void)state;
	RUN(c);
}

static void
test_mobile_negative(void **state)
{
	static const struct pii_case c[] = {
	    /* Not 1[3-9], wrong length, or glued to a word. */
	    {"12812345678", "12812345678"},
	    {"10012345678", "10012345678"},
	    {"1381234567", "1381234567"},
	    {"138123456789", "138123456789"},
	    {"order13812345678", "order13812345678"},
	    {"13812345678x", "13812345678x"},
	    {"x13812345678y", "x13812345678y"},
	    /* Mixed separators are not a 3-4-4 number. */
	    {"138-1234 5678", "138-1234 5678"},
	    {"1381-234-5678", "1381-234-5678"},
	    {"+87 13812345678x", "+87 13812345678x"},
	};

	(void)state;
	RUN(c);
}

static void
test_resident_id(void **state)
{
	static const struct pii_case c[] = {
	    {"11010519491231002X", "1101**********002X"},
	    {"11010519491231002x", "1101**********002x"},
	    {"id: 440524188001010014.", "id: 4405**********0014."},
	    {"320106199003071234", "3201**********1234"},
	    {"身份证510108200011114568号", "身份证5101**********4568号"},
	    /* 15-digit legacy form: region, YYMMDD, sequence. */
	    {"110105491231002", "1101*******1002"},
	};

	(void)state;
	RUN(c);
}

static void
test_resident_id_negative(void **state)
{
	static const struct pii_case c[] = {
	    /* Wrong check digit, impossible date, region 0 or 9. */
	    {"110105194912310021", "110105194912310021"},
	    {"11010519491331002X", "11010519491331002X"},
	    {"110105194912320023", "110105194912320023"},
	    {"010105194912310025", "010105194912310025"},
	    {"110105491331002", "110105491331002"},
	    {"x11010519491231002X", "x11010519491231002X"},
	    {"11010519491231002Xy", "11010519491231002Xy"},
	    {"110105194912310029", "110105194912310029"},
	};

	(void)state;
	RUN(c);
}

static void
test_card(void **state)
{
	static const struct pii_case c[] = {
	    {"4111111111111111", "4111********1111"},
	    {"card 4111 1111 1111 1111.", "card 4111********1111."},
	    {"4111-1111-1111-1111", "4111********1111"},
	    {"5555555555554444", "5555********4444"},
	    {"378282246310005", "3782*******0005"},
	    {"3782 822463 10005", "3782*******0005"},
	    {"6222021234567890128", "6222***********0128"},
	    {"6222 0212 3456 7890 128", "6222***********0128"},
	    {"4012888888881881", "4012********1881"},
	    {"40000566556652", "4000******6652"},
	    {"卡号6011111111111117，", "卡号6011********1117，"},
	};

	(void)state;
	RUN(c);
}

static void
test_card_negative(void **state)
{
	static const struct pii_case c[] = {
	    /* Luhn fails, issuer digit 1/7/8/9/0, too short or too long. */
	    {"4111111111111112", "4111111111111112"},
	    {"1111111111111117", "1111111111111117"},
	    {"7111111111111114", "7111111111111114"},
	    {"411111111111", "411111111111"},
	    {"41111111111111111113", "41111111111111111113"},
	    /* Millisecond and second timestamps, nanoseconds. */
	    {"ts=1700000000123", "ts=1700000000123"},
	    {"1700000000", "1700000000"},
	    {"1700000000123456789", "1700000000123456789"},
	    /* Groups of 1-2 digits are dates and the like, not cards. */
	    {"4111 11 11 11 11 11 11", "4111 11 11 11 11 11 11"},
	    {"2024-01-15 12:00:00", "2024-01-15 12:00:00"},
	    {"4111111111111111z", "4111111111111111z"},
	};

	(void)state;
	RUN(c);
}

static void
test_email(void **state)
{
	static const struct pii_case c[] = {
	    {"alice@example.com", "a***@example.com"},
	    {"mail john.doe+x@example.com.", "mail j***@example.com."},
	    {"a@163.com", "a***@163.com"},
	    {"<bob_1@mail.example.co.uk>", "<b***@mail.example.co.uk>"},
	    {"邮箱：zhang.san@qq.com。", "邮箱：z***@qq.com。"},
	    {"x@sub.example.com.13812345678",
		"x***@sub.example.com.138****5678"},
	    {"u@13812345678.cn", "u***@***********.cn"},
	    {"13812345678@qq.com", "1***@qq.com"},
	};

	(void)state;
	RUN(c);
}

static void
test_email_negative(void **state)
{
	static const struct pii_case c[] = {
	    {"@example.com", "@example.com"},
	    {"a@localhost", "a@localhost"},
	    {"a@b.c", "a@b.c"},
	    {"a@.com", "a@.com"},
	    {"user@example.123", "user@example.123"},
	    {"a.@example.com", "a.@example.com"},
	    {"see @mention and x@y", "see @mention and x@y"},
	};

	(void)state;
	RUN(c);
}

static void
test_keys(void **state)
{
	static const struct pii_case c[] = {
	    {"sk-proj-AbCdEfGhIjKlMnOpQrStUv", "sk-...[redacted]"},
	    {"key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA end",
		"key sk-ant-...[redacted] end"},
	    {"sk-relay-abcdefghijklmnopqrstuv", "sk-relay-...[redacted]"},
	    {"\"sk-0123456789abcdef0123\"", "\"sk-...[redacted]\""},
	    {"x AIzaSyD-1234567890abcdefghijklmnopqrstu",
		"x AIza...[redacted]"},
	    {"Authorization: Bearer abc.def-ghi_jkl",
		"Authorization: Bearer [redacted]"},
	    {"authorization: bearer  eyJ0eXAiOiJKV1Qi",
		"authorization: bearer [redacted]"},
	    {"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc.",
		"jwt [redacted]."},
	    {"md5 d41d8cd98f00b204e9800998ecf8427e", "md5 [redacted]"},
	    {"b64=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=;",
		"b64=[redacted];"},
	    {"k_0123456789abcdef0123456789abcdef01", "k_[redacted]"},
	};

	(void)state;
	RUN(c);
}

static void
test_keys_negative(void **state)
{
	static const struct pii_case c[] = {
	    {"sk-short", "sk-short"},
	    {"task-0123456789abcdef0123", "task-0123456789abcdef0123"},
	    {"risk-assessment", "risk-assessment"},
	    {"Bearer abc", "Bearer abc"},
	    {"Bearerabcdefghijkl", "Bearerabcdefghijkl"},
	    {"AIzaShort", "AIzaShort"},
	    /* Long, but words only, or digits only, or a UUID. */
	    {"abcdefghijklmnopqrstuvwxyzabcdefghij",
		"abcdefghijklmnopqrstuvwxyzabcdefghij"},
	    {"12345678901234567890123456789012345",
		"12345678901234567890123456789012345"},
	    {"123e4567-e89b-12d3-a456-426614174000",
		"123e4567-e89b-12d3-a456-426614174000"},
	    {"/v1/chat/completions", "/v1/chat/completions"},
	    {"claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20241022"},
	};

	(void)state;
	RUN(c);
}

static void
test_utf8_and_mix(void **state)
{
	static const struct pii_case c[] = {
	    {"", ""},
	    {"你好，世界", "你好，世界"},
	    {"用户13812345678的邮箱是a@b.cn，卡号4111111111111111。",
		"用户138****5678的邮箱是a***@b.cn，卡号4111********1111。"},
	    /* Invalid UTF-8 passes through byte for byte. */
	    {"\xff\xfe 13812345678 \xc3", "\xff\xfe 138****5678 \xc3"},
	    {"é13812345678é", "é138****5678é"},
	    {"2024-05-01T12:00:00Z status=200 latency_ms=1532 tokens=4096",
		"2024-05-01T12:00:00Z status=200 latency_ms=1532 tokens=4096"},
	};

	(void)state;
	RUN(c);
}

static void
test_embedded_nul(void **state)
{
	static const char in[] = "a\0"
				 "13812345678\0b";
	static const char want[] = "a\0"
				   "138****5678\0b";
	struct buf b;
	enum relay_err e;

	(void)state;
	buf_init(&b, 64);
	e = pii_mask(in, sizeof(in) - 1, &b);
	if (e == RELAY_ENOMEM && oom_n != 0)
		goto out;
	assert_int_equal(e, RELAY_OK);
	assert_int_equal(b.len, sizeof(want) - 1);
	assert_memory_equal(b.data, want, b.len);
out:
	buf_reset(&b);
}

/* --- plain cases -------------------------------------------------------- */

static void
test_ceiling(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(pii_mask("hello world", 11, &b), RELAY_ETOOBIG);
	assert_true(b.len <= 8);
	buf_reset(&b);
	buf_init(&b, 11);
	assert_int_equal(pii_mask("13812345678", 11, &b), RELAY_OK);
	assert_string_equal(b.data, "138****5678");
	buf_reset(&b);
}

/* Output length bound from the header: at most 2n + 16. */
static void
test_growth_bound(void **state)
{
	static const char *in[] = {"a@b.co", "a@b.co a@b.co a@b.co",
	    "Bearer abcdefgh", "sk-0123456789abcdef", ""};
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1024);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		buf_clear(&b);
		assert_int_equal(pii_mask(in[i], strlen(in[i]), &b), RELAY_OK);
		assert_true(b.len <= 2 * strlen(in[i]) + 16);
	}
	buf_reset(&b);
}

/* Long hostile inputs finish quickly (linear pass) and stay intact. */
static void
test_linear_on_hostile_input(void **state)
{
	static const char *unit[] = {"a.", "a+", "1-", "a.b@", "1 "};
	struct buf in, out;
	size_t u, k;

	(void)state;
	for (u = 0; u < sizeof(unit) / sizeof(unit[0]); u++) {
		buf_init(&in, 1u << 20);
		buf_init(&out, 1u << 21);
		for (k = 0; k < 100000; k++)
			assert_int_equal(buf_puts(&in, unit[u]), RELAY_OK);
		assert_int_equal(pii_mask(in.data, in.len, &out), RELAY_OK);
		assert_int_equal(out.len, in.len);
		assert_memory_equal(out.data, in.data, in.len);
		buf_reset(&in);
		buf_reset(&out);
	}
}

static void
test_checks(void **state)
{
	(void)state;
	assert_true(pii_id18_ok("11010519491231002X"));
	assert_true(pii_id18_ok("11010519491231002x"));
	assert_false(pii_id18_ok("110105194912310020"));
	assert_true(pii_id15_ok("110105491231002"));
	assert_true(pii_card_ok("4111111111111111", 16));
	assert_false(pii_card_ok("4111111111111111", 15));
	assert_false(pii_card_ok("0000000000000", 13));
	assert_true(pii_mobile_ok("139"));
	assert_false(pii_mobile_ok("120"));
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_mobile),
	    OOM_CASE(test_mobile_negative),
	    OOM_CASE(test_resident_id),
	    OOM_CASE(test_resident_id_negative),
	    OOM_CASE(test_card),
	    OOM_CASE(test_card_negative),
	    OOM_CASE(test_email),
	    OOM_CASE(test_email_negative),
	    OOM_CASE(test_keys),
	    OOM_CASE(test_keys_negative),
	    OOM_CASE(test_utf8_and_mix),
	    OOM_CASE(test_embedded_nul),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_ceiling),
	    cmocka_unit_test(test_growth_bound),
	    cmocka_unit_test(test_linear_on_hostile_input),
	    cmocka_unit_test(test_checks),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "pii (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed += cmocka_run_group_tests_name("pii", cases, NULL, NULL);
	return oom_exit(failed);
}
