/* SPDX-License-Identifier: MIT */
/* test_sse.c - unit tests for lib/sse.c: line endings (also split across
 * feeds), comments, multi-line data, names, the size bound, stop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/mem.h"
#include "../../lib/sse.h"

#include "oom_test.h"

/* Under torture RELAY_ENOMEM ends the case through its cleanup at out:. */
#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

/* Copies of the events seen, since their spans die with the callback. */
#define REC_EVENTS 16
#define REC_BYTES 256

struct rec {
	int n;
	int stop_at; /* stop when the nth event (1-based) arrives; 0: never */
	struct {
		char raw[REC_BYTES], name[REC_BYTES], data[REC_BYTES];
		size_t raw_len, name_len, data_len;
		int has_data;
	} ev[REC_EVENTS];
};

static void
rec_copy(char *dst, size_t *dlen, struct span s)
{
	assert_true(s.len < REC_BYTES);
	assert_non_null(s.p);
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	*dlen = s.len;
}

static int
rec_event(void *arg, const struct sse_event *ev)
{
	struct rec *r = arg;

	assert_true(r->n < REC_EVENTS);
	rec_copy(r->ev[r->n].raw, &r->ev[r->n].raw_len, ev->raw);
	rec_copy(r->ev[r->n].name, &r->ev[r->n].name_len, ev->name);
	rec_copy(r->ev[r->n].data, &r->ev[r->n].data_len, ev->data);
	r->ev[r->n].has_data = ev->has_data;
	r->n++;
	return r->stop_at != 0 && r->n == r->stop_at;
}

/* Feed s in pieces of step bytes (0: all at once). */
static enum relay_err
feed_steps(struct sse_parser *sp, const char *s, size_t len, size_t step,
    struct rec *r)
{
	enum relay_err err = RELAY_OK;
	size_t off = 0, k;

	if (step == 0)
		return sse_feed(sp, s, len, rec_event, r);
	while (off < len && err == RELAY_OK) {
		k = len - off < step ? len - off : step;
		err = sse_feed(sp, s + off, k, rec_event, r);
		off += k;
	}
	return err;
}

#define FEED(sp, lit, r)                                                       \
	TRY(sse_feed((sp), (lit), sizeof(lit) - 1, rec_event, (r)), RELAY_OK)

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_lf_event(void **state)
{
	static const char in[] = "data: hello\n\n";
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	sse_init(&sp, 1024);
	FEED(&sp, in, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].raw, in);
	assert_string_equal(r.ev[0].data, "hello");
	assert_int_equal(r.ev[0].name_len, 0);
	assert_true(r.ev[0].has_data);
	assert_int_equal(sse_pending(&sp), 0);
out:
	sse_reset(&sp);
}

static void
test_crlf_named_event(void **state)
{
	static const char in[] = "event: delta\r\ndata: {\"a\":1}\r\n\r\n"
				 "event:stop\r\ndata:x\r\n\r\n";
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	sse_init(&sp, 1024);
	FEED(&sp, in, &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(
	    r.ev[0].raw, "event: delta\r\ndata: {\"a\":1}\r\n\r\n");
	assert_string_equal(r.ev[0].name, "delta");
	assert_string_equal(r.ev[0].data, "{\"a\":1}");
	assert_string_equal(r.ev[1].name, "stop");
	assert_string_equal(r.ev[1].data, "x");
	assert_int_equal(sse_pending(&sp), 0);
out:
	sse_reset(&sp);
}

static void
test_cr_only(void **state)
{
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	sse_init(&sp, 1024);
	FEED(&sp, "data: a\r\rdata: b\r\r", &r);
	/* A CR as the very last byte may be the first half of a CRLF, so
	 * the second event waits for the next byte. */
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].raw, "data: a\r\r");
	assert_string_equal(r.ev[0].data, "a");
	assert_int_equal(sse_pending(&sp), 9);
	FEED(&sp, ":\r", &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[1].raw, "data: b\r\r");
	assert_string_equal(r.ev[1].data, "b");
	assert_int_equal(sse_pending(&sp), 2);
out:
	sse_reset(&sp);
}

static void
test_cr_then_lf_next_feed(void **state)
{
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	sse_init(&sp, 1024);
	FEED(&sp, "data: x\r", &r);
	assert_int_equal(r.n, 0);
	/* The LF completes the CRLF: it is not an empty line of its own. */
	FEED(&sp, "\ndata: y\r", &r);
	assert_int_equal(r.n, 0);
	FEED(&sp, "\n\r", &r);
	assert_int_equal(r.n, 0);
	FEED(&sp, "\n", &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].data, "x\ny");
	assert_string_equal(r.ev[0].raw, "data: x\r\ndata: y\r\n\r\n");
	assert_int_equal(sse_pending(&sp), 0);
out:
	sse_reset(&sp);
}

static void
test_comment_event(void **state)
{
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	sse_init(&sp, 1024);
	FEED(&sp, ": ping\n\n:\n\n", &r);
	assert_int_equal(r.n, 2);
	assert_false(r.ev[0].has_data);
	assert_string_equal(r.ev[0].raw, ": ping\n\n");
	assert_int_equal(r.ev[0].data_len, 0);
	assert_string_equal(r.ev[1].raw, ":\n\n");
	/* A comment inside an event does not end it or add data. */
	FEED(&sp, "data: 1\n: note\ndata: 2\n\n", &r);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.ev[2].data, "1\n2");
out:
	sse_reset(&sp);
}

static void
test_multiline_data(void **state)
{
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	sse_init(&sp, 1024);
	/* "data" without a colon is a data line with an empty value; only
	 * one space after the colon is dropped. */
	FEED(&sp, "data: a\ndata:b\ndata\ndata:  c\n\n", &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].data, "a\nb\n\n c");
	assert_true(r.ev[0].has_data);
	/* id, retry and unknown fields are ignored, but kept in raw. */
	FEED(&sp, "id: 7\nretry: 10\nfoo: bar\ndata: z\n\n", &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[1].data, "z");
	assert_string_equal(
	    r.ev[1].raw, "id: 7\nretry: 10\nfoo: bar\ndata: z\n\n");
	/* An empty data line still counts as data. */
	FEED(&sp, "data:\n\n", &r);
	assert_int_equal(r.n, 3);
	assert_true(r.ev[2].has_data);
	assert_int_equal(r.ev[2].data_len, 0);
out:
	sse_reset(&sp);
}

static void
test_byte_by_byte_equals_whole(void **state)
{
	static const char in[] =
	    "event: a\r\ndata: 1\r\n\r\n: c\n\ndata: 2\rdata: 3\r\r"
	    "data: [DONE]\n\npartial";
	struct sse_parser sp;
	struct rec whole = {0}, bytes = {0};
	size_t step;
	int i;

	(void)state;
	sse_init(&sp, 1024);
	TRY(feed_steps(&sp, in, sizeof(in) - 1, 0, &whole), RELAY_OK);
	assert_int_equal(whole.n, 4);
	assert_int_equal(sse_pending(&sp), 7);
	sse_reset(&sp);
	for (step = 1; step <= 5; step++) {
		memset(&bytes, 0, sizeof(bytes));
		sse_init(&sp, 1024);
		TRY(feed_steps(&sp, in, sizeof(in) - 1, step, &bytes),
		    RELAY_OK);
		assert_int_equal(bytes.n, whole.n);
		for (i = 0; i < whole.n; i++) {
			assert_string_equal(bytes.ev[i].raw, whole.ev[i].raw);
			assert_string_equal(bytes.ev[i].data, whole.ev[i].data);
			assert_string_equal(bytes.ev[i].name, whole.ev[i].name);
		}
		assert_int_equal(sse_pending(&sp), 7);
		sse_reset(&sp);
	}
	assert_string_equal(whole.ev[0].name, "a");
	assert_string_equal(whole.ev[2].data, "2\n3");
	assert_string_equal(whole.ev[3].data, "[DONE]");
out:
	sse_reset(&sp);
}

static void
test_event_over_max(void **state)
{
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	sse_init(&sp, 16);
	/* Exactly max bytes is fine. */
	FEED(&sp, "data: 01234567\n\n", &r);
	FEED(&sp, "data: 01234567\n", &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(sse_pending(&sp), 15);
	/* Growing it past 16 bytes is refused and leaves it as it was. */
	assert_int_equal(
	    sse_feed(&sp, "\n\n", 2, rec_event, &r), RELAY_ETOOBIG);
	assert_int_equal(sse_pending(&sp), 15);
	assert_int_equal(r.n, 1);
	sse_reset(&sp);
	sse_init(&sp, 16);
	assert_int_equal(
	    sse_feed(&sp, "data: 0123456789abc", 19, rec_event, &r),
	    RELAY_ETOOBIG);
	assert_int_equal(sse_pending(&sp), 0);
out:
	sse_reset(&sp);
}

static void
test_callback_stop(void **state)
{
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	r.stop_at = 1;
	sse_init(&sp, 1024);
	TRY(sse_feed(&sp, "data: 1\n\ndata: 2\n\n", 18, rec_event, &r),
	    RELAY_ECLOSED);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].data, "1");
	/* The first event was consumed; the rest waits. */
	assert_int_equal(sse_pending(&sp), 9);
	r.stop_at = 0;
	FEED(&sp, "", &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[1].data, "2");
	assert_int_equal(sse_pending(&sp), 0);
out:
	sse_reset(&sp);
}

/* --- plain cases -------------------------------------------------------- */

static void
test_reset_reuses(void **state)
{
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	sse_init(&sp, 64);
	assert_int_equal(
	    sse_feed(&sp, "data: half", 10, rec_event, &r), RELAY_OK);
	assert_int_equal(sse_pending(&sp), 10);
	sse_reset(&sp);
	assert_int_equal(sse_pending(&sp), 0);
	assert_int_equal(
	    sse_feed(&sp, "data: new\n\n", 11, rec_event, &r), RELAY_OK);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].data, "new");
	sse_reset(&sp);
	sse_reset(&sp);
}

static void
test_empty_feed(void **state)
{
	struct sse_parser sp;
	struct rec r = {0};

	(void)state;
	sse_init(&sp, 64);
	assert_int_equal(sse_feed(&sp, "", 0, rec_event, &r), RELAY_OK);
	assert_int_equal(r.n, 0);
	assert_int_equal(sse_pending(&sp), 0);
	/* A blank line alone is an (empty) event. */
	assert_int_equal(sse_feed(&sp, "\n", 1, rec_event, &r), RELAY_OK);
	assert_int_equal(r.n, 1);
	assert_false(r.ev[0].has_data);
	assert_string_equal(r.ev[0].raw, "\n");
	sse_reset(&sp);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_lf_event),
	    OOM_CASE(test_crlf_named_event),
	    OOM_CASE(test_cr_only),
	    OOM_CASE(test_cr_then_lf_next_feed),
	    OOM_CASE(test_comment_event),
	    OOM_CASE(test_multiline_data),
	    OOM_CASE(test_byte_by_byte_equals_whole),
	    OOM_CASE(test_event_over_max),
	    OOM_CASE(test_callback_stop),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_reset_reuses),
	    cmocka_unit_test(test_empty_feed),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "sse (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed += cmocka_run_group_tests_name("sse", cases, NULL, NULL);
	return oom_exit(failed);
}
