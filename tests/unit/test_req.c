/* SPDX-License-Identifier: MIT */
/* test_req.c - unit tests for the pure helpers of lib/req.c: the
 * CONTENT_LENGTH parser, the x-request-id filter, ids and reason phrases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/req.c"

static void
test_length_absent(void **state)
{
	long long v = 7;

	(void)state;
	assert_int_equal(parse_length(NULL, &v), RELAY_OK);
	assert_int_equal(v, -1);
	v = 7;
	assert_int_equal(parse_length("", &v), RELAY_OK);
	assert_int_equal(v, -1);
	v = 7;
	assert_int_equal(parse_length("-1", &v), RELAY_OK);
	assert_int_equal(v, -1);
}

static void
test_length_values(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(parse_length("0", &v), RELAY_OK);
	assert_int_equal(v, 0);
	assert_int_equal(parse_length("4096", &v), RELAY_OK);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_length("007", &v), RELAY_OK);
	assert_int_equal(v, 7);
	/* 15 digits is the most accepted: no overflow is possible. */
	assert_int_equal(parse_length("999999999999999", &v), RELAY_OK);
	assert_int_equal(v, 999999999999999LL);
	assert_int_equal(parse_length("1000000000000000", &v), RELAY_EINVAL);
	assert_int_equal(
	    parse_length("99999999999999999999999", &v), RELAY_EINVAL);
}

static void
test_length_garbage(void **state)
{
	static const char *const bad[] = {"-2", "+1", " 1", "1 ", "1a", "0x10",
	    "1.0", "1e3", "--1", "-", "١"};
	long long v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_length(bad[i], &v), RELAY_EINVAL);
}

static void
test_reqid_filter(void **state)
{
	char max[RELAY_REQID_MAX + 2];

	(void)state;
	assert_true(reqid_ok("abc-DEF_012.x"));
	assert_true(reqid_ok("a"));
	assert_false(reqid_ok(""));
	assert_false(reqid_ok("a b"));
	assert_false(reqid_ok("a\r\nX-Evil: 1"));
	assert_false(reqid_ok("id;1"));
	assert_false(reqid_ok("caf\xc3\xa9"));
	assert_false(reqid_ok("a/b"));
	memset(max, 'a', sizeof(max));
	max[RELAY_REQID_MAX] = '\0';
	assert_true(reqid_ok(max));
	max[RELAY_REQID_MAX] = 'a';
	max[RELAY_REQID_MAX + 1] = '\0';
	assert_false(reqid_ok(max));
}

static void
test_new_id(void **state)
{
	char a[40], b[40], small[10] = "unchanged";
	size_t i;

	(void)state;
	req_new_id(a, sizeof(a));
	req_new_id(b, sizeof(b));
	assert_int_equal(strlen(a), 32);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	assert_true(reqid_ok(a)); /* our own ids pass our own filter */
	assert_string_not_equal(a, b);
	req_new_id(small, sizeof(small));
	assert_string_equal(small, "unchanged");
}

static void
test_status_text(void **state)
{
	(void)state;
	assert_string_equal(req_status_text(200), "OK");
	assert_string_equal(req_status_text(400), "Bad Request");
	assert_string_equal(req_status_text(401), "Unauthorized");
	assert_string_equal(req_status_text(404), "Not Found");
	assert_string_equal(req_status_text(405), "Method Not Allowed");
	assert_string_equal(req_status_text(413), "Payload Too Large");
	assert_string_equal(req_status_text(429), "Too Many Requests");
	assert_string_equal(req_status_text(502), "Bad Gateway");
	assert_string_equal(req_status_text(503), "Service Unavailable");
	assert_string_equal(req_status_text(504), "Gateway Timeout");
	assert_string_equal(req_status_text(299), "Status");
	assert_string_equal(req_status_text(-1), "Status");
}

static void
test_add_header_refuses_injection(void **state)
{
	struct relay_req req;

	(void)state;
	memset(&req, 0, sizeof(req));
	buf_init(&req.hdrs, 64);
	assert_int_equal(req_add_header(&req, "X-A: %d", 1), RELAY_OK);
	assert_int_equal(req_add_header(&req, "X-B: %s", "a\r\nSet-Cookie: x"),
	    RELAY_EINVAL);
	assert_int_equal(req_add_header(&req, "X-C: %s", "a\nb"), RELAY_EINVAL);
	assert_string_equal(req.hdrs.data, "X-A: 1\r\n");
	/* The queue has a ceiling too. */
	assert_int_equal(
	    req_add_header(&req, "X-Long: %060d", 0), RELAY_ETOOBIG);
	assert_string_equal(req.hdrs.data, "X-A: 1\r\n");
	buf_reset(&req.hdrs);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_length_absent),
	    cmocka_unit_test(test_length_values),
	    cmocka_unit_test(test_length_garbage),
	    cmocka_unit_test(test_reqid_filter),
	    cmocka_unit_test(test_new_id),
	    cmocka_unit_test(test_status_text),
	    cmocka_unit_test(test_add_header_refuses_injection),
	};

	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* nothing here is oom-tortured */
	return cmocka_run_group_tests_name("req", cases, NULL, NULL);
}
