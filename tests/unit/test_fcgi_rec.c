/* SPDX-License-Identifier: MIT */
/* test_fcgi_rec.c - unit tests for lib/fcgi_rec.c: records whole or not
 * yet, name-value pairs of both length forms, a request as lighttpd sends
 * it (whole and byte by byte), multiplexing and roles refused, management
 * records, the params bound, protocol errors, and the writers read back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fastcgi.h>

#include "../../lib/fcgi_rec.h"
#include "../../lib/limits.h"

#include "oom_test.h"

#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

/* A BEGIN_REQUEST record for id with role and flags. */
static enum relay_err
put_begin(struct buf *b, unsigned id, unsigned role, unsigned flags)
{
	unsigned char r[16] = {FCGI_VERSION_1, FCGI_BEGIN_REQUEST,
	    (unsigned char)(id >> 8), (unsigned char)id, 0, 8, 0, 0,
	    (unsigned char)(role >> 8), (unsigned char)role,
	    (unsigned char)flags, 0, 0, 0, 0, 0};

	return buf_append(b, r, sizeof(r));
}

/* One pair in the one-byte or four-byte length form. */
static enum relay_err
put_pair(struct buf *b, const char *n, const char *v, int long_form)
{
	size_t nl = strlen(n), vl = strlen(v);
	unsigned char l[8];
	size_t k = 0;
	enum relay_err err;

	if (long_form) {
		l[k++] = (unsigned char)(0x80 | nl >> 24);
		l[k++] = (unsigned char)(nl >> 16);
		l[k++] = (unsigned char)(nl >> 8);
		l[k++] = (unsigned char)nl;
	} else {
		l[k++] = (unsigned char)nl;
	}
	l[k++] = (unsigned char)vl; /* short values in these tests */
	if ((err = buf_append(b, l, k)) == RELAY_OK &&
	    (err = buf_append(b, n, nl)) == RELAY_OK)
		err = buf_append(b, v, vl);
	return err;
}

/* A whole responder request: begin, params in two records, the body in
 * two records, each stream ended by an empty record. */
static enum relay_err
make_request(struct buf *b, unsigned id, const char *body)
{
	struct buf pairs;
	enum relay_err err;
	size_t half = strlen(body) / 2;

	buf_init(&pairs, 4096);
	if ((err = put_begin(b, id, FCGI_RESPONDER, 0)) == RELAY_OK &&
	    (err = put_pair(&pairs, "REQUEST_METHOD", "POST", 0)) == RELAY_OK &&
	    (err = put_pair(&pairs, "REQUEST_URI", "/v1/chat/completions",
		 1)) == RELAY_OK &&
	    (err = put_pair(&pairs, "CONTENT_LENGTH", "5", 0)) == RELAY_OK &&
	    (err = fcgi_put_stream(b, FCGI_PARAMS, id, pairs.data, 20)) ==
		RELAY_OK &&
	    (err = fcgi_put_stream(b, FCGI_PARAMS, id, pairs.data + 20,
		 pairs.len - 20)) == RELAY_OK &&
	    (err = fcgi_put_stream(b, FCGI_PARAMS, id, NULL, 0)) == RELAY_OK &&
	    (err = fcgi_put_stream(b, FCGI_STDIN, id, body, half)) ==
		RELAY_OK &&
	    (err = fcgi_put_stream(b, FCGI_STDIN, id, body + half,
		 strlen(body) - half)) == RELAY_OK)
		err = fcgi_put_stream(b, FCGI_STDIN, id, NULL, 0);
	buf_reset(&pairs);
	return err;
}

/* What a feed produced, in order. */
struct seen {
	enum fcgi_ev ev[16];
	size_t n;
	char body[64];
	size_t body_len;
};

/* Feed in[0..len) in pieces of at most step bytes, as reads would bring
 * it; bytes not consumed wait for the next piece. */
static enum relay_err
feed(struct fcgi_conn *c, const char *in, size_t len, size_t step,
    struct seen *s)
{
	size_t have = 0, pos = 0, used = 0;
	struct fcgi_event ev;
	enum relay_err err;

	memset(s, 0, sizeof(*s));
	while (pos < len) {
		have = have + step < len - pos ? have + step : len - pos;
		for (;;) {
			err = fcgi_conn_feed(c, in + pos, have, &used, &ev);
			if (err != RELAY_OK)
				return err;
			if (used == 0)
				break;
			pos += used;
			have -= used;
			if (ev.ev == FCGI_EV_NONE)
				continue;
			assert_true(s->n < 16);
			s->ev[s->n++] = ev.ev;
			if (ev.ev == FCGI_EV_STDIN) {
				assert_true(s->body_len + ev.data.len <
				    sizeof(s->body));
				memcpy(s->body + s->body_len, ev.data.p,
				    ev.data.len);
				s->body_len += ev.data.len;
			}
		}
	}
	return RELAY_OK;
}

static void
test_rec_parse_partial(void **state)
{
	unsigned char h[8 + 3 + 5] = {
	    1, FCGI_STDIN, 0, 7, 0, 3, 5, 0, 'a', 'b', 'c'};
	struct fcgi_rec r;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(h); k++) { /* nothing until header+content+pad */
		assert_int_equal(
		    fcgi_rec_parse((const char *)h, k, &r), RELAY_OK);
		assert_int_equal(r.size, 0);
	}
	assert_int_equal(
	    fcgi_rec_parse((const char *)h, sizeof(h), &r), RELAY_OK);
	assert_int_equal(r.size, sizeof(h));
	assert_int_equal(r.type, FCGI_STDIN);
	assert_int_equal(r.id, 7);
	assert_int_equal(r.content.len, 3);
	assert_memory_equal(r.content.p, "abc", 3);
	h[0] = 2; /* not version 1 */
	assert_int_equal(
	    fcgi_rec_parse((const char *)h, sizeof(h), &r), RELAY_EPROTO);
}

static void
test_pairs(void **state)
{
	struct buf b;
	struct span in, n, v;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(put_pair(&b, "A", "1", 0), RELAY_OK);
	assert_int_equal(put_pair(&b, "LONG_FORM", "two", 1), RELAY_OK);
	in = (struct span){b.data, b.len};
	assert_int_equal(fcgi_pair_next(&in, &n, &v), RELAY_OK);
	assert_true(span_eq(n, "A") && span_eq(v, "1"));
	assert_int_equal(fcgi_pair_next(&in, &n, &v), RELAY_OK);
	assert_true(span_eq(n, "LONG_FORM") && span_eq(v, "two"));
	assert_int_equal(fcgi_pair_next(&in, &n, &v), RELAY_OK);
	assert_null(n.p);
	v = fcgi_param_get((struct span){b.data, b.len}, "LONG_FORM");
	assert_true(span_eq(v, "two"));
	assert_null(
	    fcgi_param_get((struct span){b.data, b.len}, "long_form").p);
	/* A length that runs past the input, in each form and place. */
	in = (struct span){b.data, b.len - 1};
	assert_int_equal(fcgi_pair_next(&in, &n, &v), RELAY_OK);
	assert_int_equal(fcgi_pair_next(&in, &n, &v), RELAY_EPROTO);
	in = (struct span){"\x80\x00\x00", 3};
	assert_int_equal(fcgi_pair_next(&in, &n, &v), RELAY_EPROTO);
	in = (struct span){"\xff\xff\xff\xff\x01", 5};
	assert_int_equal(fcgi_pair_next(&in, &n, &v), RELAY_EPROTO);
	buf_reset(&b);
}

/* The whole request, fed at once and byte by byte: the same events. */
static void
test_request_any_split(void **state)
{
	static const size_t steps[] = {1, 3, 8, 9, 64, 100000};
	static const enum fcgi_ev want[] = {FCGI_EV_BEGIN, FCGI_EV_PARAMS,
	    FCGI_EV_STDIN, FCGI_EV_STDIN, FCGI_EV_STDIN_END};
	struct fcgi_conn c;
	struct buf in;
	struct seen s;
	size_t i;

	(void)state;
	buf_init(&in, 1 << 20);
	fcgi_conn_init(&c, RELAY_FCGI_PARAMS_MAX);
	TRY(make_request(&in, 1, "hello"), RELAY_OK);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		TRY(feed(&c, in.data, in.len, steps[i], &s), RELAY_OK);
		assert_int_equal(s.n, 5);
		assert_memory_equal(s.ev, want, sizeof(want));
		assert_int_equal(s.body_len, 5);
		assert_memory_equal(s.body, "hello", 5);
		assert_true(span_eq(
		    fcgi_param_get((struct span){c.params.data, c.params.len},
			"REQUEST_URI"),
		    "/v1/chat/completions"));
		fcgi_conn_end(&c);
	}
out:
	fcgi_conn_reset(&c);
	buf_reset(&in);
}

static void
test_refusals(void **state)
{
	struct fcgi_conn c;
	struct buf in;
	struct fcgi_event ev;
	size_t used;

	(void)state;
	buf_init(&in, 4096);
	fcgi_conn_init(&c, RELAY_FCGI_PARAMS_MAX);
	assert_int_equal(
	    put_begin(&in, 1, FCGI_RESPONDER, FCGI_KEEP_CONN), RELAY_OK);
	assert_int_equal(
	    fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_OK);
	assert_int_equal(ev.ev, FCGI_EV_BEGIN);
	assert_int_equal(ev.keep_conn, 1);
	/* A second request on the connection: we do not multiplex. */
	buf_clear(&in);
	assert_int_equal(put_begin(&in, 2, FCGI_RESPONDER, 0), RELAY_OK);
	assert_int_equal(
	    fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_OK);
	assert_int_equal(ev.ev, FCGI_EV_REFUSE);
	assert_int_equal(ev.id, 2);
	assert_int_equal(ev.status, FCGI_CANT_MPX_CONN);
	assert_int_equal(c.id, 1);
	/* The same id beginning again breaks the protocol. */
	buf_clear(&in);
	assert_int_equal(put_begin(&in, 1, FCGI_RESPONDER, 0), RELAY_OK);
	assert_int_equal(
	    fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_EPROTO);
	assert_int_equal(used, 0);
	/* Body bytes before the params ended. */
	buf_clear(&in);
	assert_int_equal(fcgi_put_stream(&in, FCGI_STDIN, 1, "x", 1), RELAY_OK);
	assert_int_equal(
	    fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_EPROTO);
	/* Records of a request not in progress are skipped whole. */
	buf_clear(&in);
	assert_int_equal(
	    fcgi_put_stream(&in, FCGI_PARAMS, 9, "zz", 2), RELAY_OK);
	assert_int_equal(
	    fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_OK);
	assert_int_equal(used, in.len);
	assert_int_equal(ev.ev, FCGI_EV_NONE);
	/* The abort of the one in progress. */
	buf_clear(&in);
	assert_int_equal(
	    fcgi_put_stream(&in, FCGI_ABORT_REQUEST, 1, NULL, 0), RELAY_OK);
	assert_int_equal(
	    fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_OK);
	assert_int_equal(ev.ev, FCGI_EV_ABORT);
	/* After the answer, the kept connection begins another one; an
	 * authorizer is refused by role. */
	fcgi_conn_end(&c);
	buf_clear(&in);
	assert_int_equal(put_begin(&in, 3, FCGI_AUTHORIZER, 0), RELAY_OK);
	assert_int_equal(
	    fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_OK);
	assert_int_equal(ev.ev, FCGI_EV_REFUSE);
	assert_int_equal(ev.status, FCGI_UNKNOWN_ROLE);
	assert_int_equal(c.id, 0);
	/* A short BEGIN body. */
	buf_clear(&in);
	assert_int_equal(
	    fcgi_put_stream(&in, FCGI_BEGIN_REQUEST, 4, "\0\1", 2), RELAY_OK);
	assert_int_equal(
	    fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_EPROTO);
	fcgi_conn_reset(&c);
	buf_reset(&in);
}

static void
test_params_bound(void **state)
{
	static char big[1000];
	struct fcgi_conn c;
	struct buf in;
	struct fcgi_event ev;
	size_t used, pos = 0;
	enum relay_err err = RELAY_OK;

	(void)state;
	memset(big, 'p', sizeof(big));
	buf_init(&in, 1 << 20);
	fcgi_conn_init(&c, 2500);
	TRY(put_begin(&in, 1, FCGI_RESPONDER, 0), RELAY_OK);
	TRY(fcgi_put_stream(&in, FCGI_PARAMS, 1, big, sizeof(big)), RELAY_OK);
	TRY(fcgi_put_stream(&in, FCGI_PARAMS, 1, big, sizeof(big)), RELAY_OK);
	TRY(fcgi_put_stream(&in, FCGI_PARAMS, 1, big, sizeof(big)), RELAY_OK);
	while (pos < in.len &&
	    (err = fcgi_conn_feed(
		 &c, in.data + pos, in.len - pos, &used, &ev)) == RELAY_OK)
		pos += used;
	TRY(err, RELAY_ETOOBIG);
	assert_true(c.params.len <= 2500);
	/* Params that are not pairs, ended: a protocol error. */
	fcgi_conn_reset(&c);
	buf_clear(&in);
	TRY(put_begin(&in, 1, FCGI_RESPONDER, 0), RELAY_OK);
	TRY(fcgi_put_stream(&in, FCGI_PARAMS, 1,
		"\x05\x01"
		"ab",
		4),
	    RELAY_OK);
	TRY(fcgi_put_stream(&in, FCGI_PARAMS, 1, NULL, 0), RELAY_OK);
	pos = 0;
	while (pos < in.len &&
	    (err = fcgi_conn_feed(
		 &c, in.data + pos, in.len - pos, &used, &ev)) == RELAY_OK)
		pos += used;
	TRY(err, RELAY_EPROTO);
out:
	fcgi_conn_reset(&c);
	buf_reset(&in);
}

static void
test_management(void **state)
{
	struct fcgi_conn c;
	struct buf in, out, q;
	struct fcgi_event ev;
	struct fcgi_rec r;
	size_t used;

	(void)state;
	buf_init(&in, 4096);
	buf_init(&out, 4096);
	buf_init(&q, 4096);
	fcgi_conn_init(&c, RELAY_FCGI_PARAMS_MAX);
	TRY(put_pair(&q, FCGI_MAX_CONNS, "", 0), RELAY_OK);
	TRY(put_pair(&q, "FCGI_SOMETHING_ELSE", "", 0), RELAY_OK);
	TRY(put_pair(&q, FCGI_MPXS_CONNS, "", 0), RELAY_OK);
	TRY(fcgi_put_stream(&in, FCGI_GET_VALUES, 0, q.data, q.len), RELAY_OK);
	TRY(fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_OK);
	assert_int_equal(ev.ev, FCGI_EV_GET_VALUES);
	TRY(fcgi_put_values(&out, ev.data, 1000, 4000), RELAY_OK);
	TRY(fcgi_rec_parse(out.data, out.len, &r), RELAY_OK);
	assert_int_equal(r.type, FCGI_GET_VALUES_RESULT);
	assert_int_equal(r.id, 0);
	assert_true(span_eq(fcgi_param_get(r.content, FCGI_MAX_CONNS), "1000"));
	assert_true(span_eq(fcgi_param_get(r.content, FCGI_MPXS_CONNS), "0"));
	assert_null(fcgi_param_get(r.content, FCGI_MAX_REQS).p);
	assert_null(fcgi_param_get(r.content, "FCGI_SOMETHING_ELSE").p);
	/* An unknown management record: answered with its type. */
	buf_clear(&in);
	buf_clear(&out);
	TRY(fcgi_put_stream(&in, 42, 0, "xyz", 3), RELAY_OK);
	TRY(fcgi_conn_feed(&c, in.data, in.len, &used, &ev), RELAY_OK);
	assert_int_equal(ev.ev, FCGI_EV_UNKNOWN_TYPE);
	assert_int_equal(ev.type, 42);
	TRY(fcgi_put_unknown(&out, ev.type), RELAY_OK);
	TRY(fcgi_rec_parse(out.data, out.len, &r), RELAY_OK);
	assert_int_equal(r.type, FCGI_UNKNOWN_TYPE);
	assert_int_equal(r.content.len, 8);
	assert_int_equal((unsigned char)r.content.p[0], 42);
out:
	fcgi_conn_reset(&c);
	buf_reset(&in);
	buf_reset(&out);
	buf_reset(&q);
}

/* The writers, read back: a long stream cut at FCGI_MAX_LENGTH, the
 * empty end record, END_REQUEST's layout; a full buffer is left as it
 * was. */
static void
test_writers(void **state)
{
	static char big[70000];
	struct buf out;
	struct fcgi_rec r;
	size_t pos = 0, i;
	const unsigned char *e;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	buf_init(&out, 1 << 20);
	TRY(fcgi_put_stream(&out, FCGI_STDOUT, 300, big, sizeof(big)),
	    RELAY_OK);
	TRY(fcgi_put_stream(&out, FCGI_STDOUT, 300, NULL, 0), RELAY_OK);
	TRY(fcgi_put_end(&out, 300, 0x01020304, FCGI_REQUEST_COMPLETE),
	    RELAY_OK);
	TRY(fcgi_rec_parse(out.data, out.len, &r), RELAY_OK);
	assert_int_equal(r.content.len, FCGI_MAX_LENGTH);
	assert_int_equal(r.id, 300);
	assert_memory_equal(r.content.p, big, FCGI_MAX_LENGTH);
	pos += r.size;
	TRY(fcgi_rec_parse(out.data + pos, out.len - pos, &r), RELAY_OK);
	assert_int_equal(r.content.len, sizeof(big) - FCGI_MAX_LENGTH);
	assert_memory_equal(
	    r.content.p, big + FCGI_MAX_LENGTH, sizeof(big) - FCGI_MAX_LENGTH);
	pos += r.size;
	TRY(fcgi_rec_parse(out.data + pos, out.len - pos, &r), RELAY_OK);
	assert_int_equal(r.type, FCGI_STDOUT);
	assert_int_equal(r.content.len, 0);
	pos += r.size;
	TRY(fcgi_rec_parse(out.data + pos, out.len - pos, &r), RELAY_OK);
	assert_int_equal(r.type, FCGI_END_REQUEST);
	e = (const unsigned char *)r.content.p;
	assert_int_equal(r.content.len, 8);
	assert_int_equal(e[0], 1);
	assert_int_equal(e[3], 4);
	assert_int_equal(e[4], FCGI_REQUEST_COMPLETE);
	assert_int_equal(pos + r.size, out.len);
	/* Over the buffer's ceiling: nothing half-written. */
	buf_reset(&out);
	buf_init(&out, 100);
	TRY(fcgi_put_stream(&out, FCGI_STDOUT, 1, "abc", 3), RELAY_OK);
	assert_int_equal(
	    fcgi_put_stream(&out, FCGI_STDOUT, 1, big, 200), RELAY_ETOOBIG);
	assert_int_equal(out.len, 11);
out:
	buf_reset(&out);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_request_any_split),
	    OOM_CASE(test_params_bound),
	    OOM_CASE(test_management),
	    OOM_CASE(test_writers),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_rec_parse_partial),
	    cmocka_unit_test(test_pairs),
	    cmocka_unit_test(test_refusals),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "fcgi_rec (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("fcgi_rec", cases, NULL, NULL);
	return oom_exit(failed);
}
