/* SPDX-License-Identifier: MIT */
/* test_rseal.c - unit tests for lib/rseal.c: tokens round-trip in the URL
 * alphabet, open under the previous master key after a rotation, and are
 * refused when forged, damaged, of another purpose or another key; relay
 * response ids carry provider, key and upstream id and refuse bad fields.
 * The oom-safe group also runs under RELAY_FAIL_ALLOC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/mem.h"
#include "../../lib/rseal.c"

#include "oom_test.h"

/* Under torture RELAY_ENOMEM ends the case through its cleanup at out:. */
#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

static void
master(struct creds_master *m, unsigned char cur, unsigned char prev)
{
	memset(m, 0, sizeof(*m));
	memset(m->cur, cur, sizeof(m->cur));
	m->have_cur = cur != 0;
	memset(m->prev, prev, sizeof(m->prev));
	m->have_prev = prev != 0;
}

static int
url_alphabet(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') ||
			(p[i] >= 'a' && p[i] <= 'z') ||
			(p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
			p[i] == '_'))
			return 0;
	return 1;
}

static void
test_round_trip_all_lengths(void **state)
{
	struct creds_master m;
	unsigned char plain[70];
	struct buf tok, back;
	size_t n;

	(void)state;
	master(&m, 7, 0);
	buf_init(&tok, 4096);
	buf_init(&back, 4096);
	for (n = 0; n < sizeof(plain); n++)
		plain[n] = (unsigned char)(n * 37 + 250); /* '+' '/' in b64 */
	for (n = 0; n <= sizeof(plain); n++) {
		buf_clear(&tok);
		buf_clear(&back);
		TRY(rseal_seal(&m, RSEAL_PURPOSE_COMPACTION, plain, n, &tok),
		    RELAY_OK);
		assert_true(url_alphabet(tok.data, tok.len));
		TRY(rseal_open(
			&m, RSEAL_PURPOSE_COMPACTION, tok.data, tok.len, &back),
		    RELAY_OK);
		assert_int_equal(back.len, n);
		assert_memory_equal(back.data, plain, n);
	}
out:
	buf_reset(&tok);
	buf_reset(&back);
}

static void
test_refusals(void **state)
{
	struct creds_master m, other, none;
	struct buf tok, back;
	char *bad = NULL;
	size_t i;

	(void)state;
	master(&m, 7, 0);
	master(&other, 9, 0);
	master(&none, 0, 0);
	buf_init(&tok, 4096);
	buf_init(&back, 4096);
	assert_int_equal(rseal_seal(&none, "x", "a", 1, &tok), RELAY_ENOTFOUND);
	assert_int_equal(tok.len, 0);
	TRY(rseal_seal(&m, RSEAL_PURPOSE_COMPACTION, "summary", 7, &tok),
	    RELAY_OK);
	/* another purpose, another key, no key */
	TRY(rseal_open(&m, RSEAL_PURPOSE_RESPID, tok.data, tok.len, &back),
	    RELAY_EINVAL);
	TRY(rseal_open(
		&other, RSEAL_PURPOSE_COMPACTION, tok.data, tok.len, &back),
	    RELAY_EINVAL);
	assert_int_equal(rseal_open(&none, RSEAL_PURPOSE_COMPACTION, tok.data,
			     tok.len, &back),
	    RELAY_ENOTFOUND);
	assert_int_equal(back.len, 0);
	/* every character changed, one at a time, is refused */
	bad = mem_malloc(tok.len);
	if (bad == NULL && oom_n != 0)
		goto out;
	assert_non_null(bad);
	for (i = 0; i < tok.len; i++) {
		memcpy(bad, tok.data, tok.len);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		TRY(rseal_open(
			&m, RSEAL_PURPOSE_COMPACTION, bad, tok.len, &back),
		    RELAY_EINVAL);
		assert_int_equal(back.len, 0);
	}
	/* cut short, the standard alphabet, padding, empty */
	TRY(rseal_open(
		&m, RSEAL_PURPOSE_COMPACTION, tok.data, tok.len - 1, &back),
	    RELAY_EINVAL);
	memcpy(bad, tok.data, tok.len);
	bad[3] = '+';
	TRY(rseal_open(&m, RSEAL_PURPOSE_COMPACTION, bad, tok.len, &back),
	    RELAY_EINVAL);
	TRY(rseal_open(&m, RSEAL_PURPOSE_COMPACTION, "", 0, &back),
	    RELAY_EINVAL);
	TRY(rseal_open(&m, RSEAL_PURPOSE_COMPACTION, "AAAA====", 8, &back),
	    RELAY_EINVAL);
	assert_int_equal(back.len, 0);
out:
	mem_free(bad);
	buf_reset(&tok);
	buf_reset(&back);
}

static void
test_rotation(void **state)
{
	struct creds_master old, rotated, next;
	struct buf tok, back;

	(void)state;
	master(&old, 7, 0);
	master(&rotated, 8, 7); /* new current, the old one previous */
	master(&next, 9, 8); /* rotated again: 7 is gone */
	buf_init(&tok, 4096);
	buf_init(&back, 4096);
	TRY(rseal_seal(&old, RSEAL_PURPOSE_COMPACTION, "kept", 4, &tok),
	    RELAY_OK);
	TRY(rseal_open(
		&rotated, RSEAL_PURPOSE_COMPACTION, tok.data, tok.len, &back),
	    RELAY_OK);
	assert_int_equal(back.len, 4);
	assert_memory_equal(back.data, "kept", 4);
	buf_clear(&back);
	TRY(rseal_open(
		&next, RSEAL_PURPOSE_COMPACTION, tok.data, tok.len, &back),
	    RELAY_EINVAL);
out:
	buf_reset(&tok);
	buf_reset(&back);
}

static void
test_respid_round_trip(void **state)
{
	struct rseal_respid r = {.key_fp = "0123456789abcdef"}, got;
	struct creds_master m;
	struct buf id;

	(void)state;
	master(&m, 7, 0);
	buf_init(&id, 4096);
	snprintf(r.provider, sizeof(r.provider), "%s", "openai-main");
	snprintf(r.upstream, sizeof(r.upstream), "%s",
	    "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452b3");
	TRY(rseal_respid_wrap(&m, &r, &id), RELAY_OK);
	assert_true(rseal_respid_is(id.data, id.len));
	assert_memory_equal(
	    id.data, RSEAL_RESPID_PREFIX, sizeof(RSEAL_RESPID_PREFIX) - 1);
	/* one response, one id: sealed again, the same */
	{
		size_t n1 = id.len;

		TRY(rseal_respid_wrap(&m, &r, &id), RELAY_OK);
		assert_int_equal(id.len, 2 * n1);
		assert_memory_equal(id.data, id.data + n1, n1);
		buf_truncate(&id, n1);
	}
	/* the upstream id is not readable in it */
	assert_null(memmem(id.data, id.len, "67ccd2", 6));
	memset(&got, 0x55, sizeof(got));
	TRY(rseal_respid_unwrap(&m, id.data, id.len, &got), RELAY_OK);
	assert_string_equal(got.provider, "openai-main");
	assert_string_equal(got.key_fp, "0123456789abcdef");
	assert_string_equal(got.upstream, r.upstream);
	/* OpenAI's own ids are not ours */
	assert_false(rseal_respid_is(r.upstream, strlen(r.upstream)));
	TRY(rseal_respid_unwrap(&m, r.upstream, strlen(r.upstream), &got),
	    RELAY_EINVAL);
	/* the prefix alone */
	TRY(rseal_respid_unwrap(
		&m, RSEAL_RESPID_PREFIX, sizeof(RSEAL_RESPID_PREFIX) - 1, &got),
	    RELAY_EINVAL);
out:
	buf_reset(&id);
}

/* A token of another purpose with the prefix put before it is no id. */
static void
test_respid_other_purpose(void **state)
{
	struct creds_master m;
	struct rseal_respid got;
	struct buf id;
	static const char plain[] = "mock\0\0resp_1";

	(void)state;
	master(&m, 7, 0);
	buf_init(&id, 4096);
	TRY(buf_puts(&id, RSEAL_RESPID_PREFIX), RELAY_OK);
	TRY(rseal_seal(
		&m, RSEAL_PURPOSE_COMPACTION, plain, sizeof(plain) - 1, &id),
	    RELAY_OK);
	TRY(rseal_respid_unwrap(&m, id.data, id.len, &got), RELAY_EINVAL);
out:
	buf_reset(&id);
}

/* Sealed by the relay yet not three fields: still refused. */
static void
test_respid_bad_fields(void **state)
{
	static const struct {
		const char *p;
		size_t n;
	} bad[] = {
	    {"mock", 4}, /* one field */
	    {"mock\0", 5}, /* two */
	    {"\0\0r", 3}, /* no provider */
	    {"mock\0"
	     "0123456789abcdeX\0r",
		23}, /* fingerprint not hex */
	    {"mock\0"
	     "0123\0r",
		11}, /* fingerprint short */
	    {"mock\0\0", 6}, /* no upstream */
	    {"mock\0\0r\0s", 9}, /* four fields */
	};
	struct creds_master m;
	struct rseal_respid got;
	struct buf id;
	size_t i;

	(void)state;
	master(&m, 7, 0);
	buf_init(&id, 4096);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_clear(&id);
		TRY(buf_puts(&id, RSEAL_RESPID_PREFIX), RELAY_OK);
		TRY(rseal_seal(
			&m, RSEAL_PURPOSE_RESPID, bad[i].p, bad[i].n, &id),
		    RELAY_OK);
		TRY(rseal_respid_unwrap(&m, id.data, id.len, &got),
		    RELAY_EINVAL);
	}
out:
	buf_reset(&id);
}

static void
test_respid_wrap_refuses(void **state)
{
	struct rseal_respid r = {.key_fp = ""};
	struct creds_master m, none;
	struct buf id;

	(void)state;
	master(&m, 7, 0);
	master(&none, 0, 0);
	buf_init(&id, 4096);
	snprintf(r.upstream, sizeof(r.upstream), "%s", "resp_1");
	assert_int_equal(rseal_respid_wrap(&m, &r, &id), RELAY_EINVAL);
	snprintf(r.provider, sizeof(r.provider), "%s", "mock");
	r.upstream[0] = '\0';
	assert_int_equal(rseal_respid_wrap(&m, &r, &id), RELAY_EINVAL);
	snprintf(r.upstream, sizeof(r.upstream), "%s", "resp_1");
	snprintf(r.key_fp, sizeof(r.key_fp), "%s", "ABC");
	assert_int_equal(rseal_respid_wrap(&m, &r, &id), RELAY_EINVAL);
	r.key_fp[0] = '\0';
	assert_int_equal(rseal_respid_wrap(&none, &r, &id), RELAY_ENOTFOUND);
	assert_int_equal(id.len, 0);
	buf_reset(&id);
}

/* An answer body and a stream event get the wrapped id; what has no
 * plain string id, or ours already, is left alone. */
static void
test_respid_rewrite(void **state)
{
	static const char body[] =
	    "{\"id\":\"resp_abc\",\"object\":\"response\",\"output\":[{"
	    "\"id\":\"msg_1\"}]}";
	static const char ev[] = "{\"type\":\"response.created\","
				 "\"sequence_number\":0,\"response\":{\"id\":"
				 "\"resp_abc\",\"status\":\"in_progress\"}}";
	struct creds_master m;
	struct rseal_respid got;
	struct buf out, again;
	json_t *j = NULL;
	const char *id;

	(void)state;
	master(&m, 7, 0);
	buf_init(&out, 1 << 20);
	buf_init(&again, 1 << 20);
	TRY(rseal_respid_rewrite(&m, "oa", "", SPAN_LIT(body), 0, &out),
	    RELAY_OK);
	j = json_loadb(out.data, out.len, 0, NULL);
	if (j == NULL && oom_n != 0)
		goto out;
	assert_non_null(j);
	id = json_string_value(json_object_get(j, "id"));
	assert_non_null(id);
	TRY(rseal_respid_unwrap(&m, id, strlen(id), &got), RELAY_OK);
	assert_string_equal(got.provider, "oa");
	assert_string_equal(got.key_fp, "");
	assert_string_equal(got.upstream, "resp_abc");
	/* the items keep their ids */
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(j, "output"), 0), "id")),
	    "msg_1");
	/* wrapped once only */
	TRY(rseal_respid_rewrite(
		&m, "oa", "", (struct span){out.data, out.len}, 0, &again),
	    RELAY_ENOTFOUND);
	assert_int_equal(again.len, 0);
	json_decref(j);
	j = NULL;
	buf_clear(&out);
	TRY(rseal_respid_rewrite(
		&m, "oa", "0123456789abcdef", SPAN_LIT(ev), 1, &out),
	    RELAY_OK);
	j = json_loadb(out.data, out.len, 0, NULL);
	if (j == NULL && oom_n != 0)
		goto out;
	assert_non_null(j);
	assert_string_equal(
	    json_string_value(json_object_get(j, "type")), "response.created");
	id = json_string_value(
	    json_object_get(json_object_get(j, "response"), "id"));
	assert_non_null(id);
	TRY(rseal_respid_unwrap(&m, id, strlen(id), &got), RELAY_OK);
	assert_string_equal(got.key_fp, "0123456789abcdef");
	assert_string_equal(got.upstream, "resp_abc");
	/* events without a response, bodies without an id */
	buf_clear(&again);
	TRY(rseal_respid_rewrite(&m, "oa", "",
		SPAN_LIT("{\"type\":\"response.output_text.delta\"}"), 1,
		&again),
	    RELAY_ENOTFOUND);
	TRY(rseal_respid_rewrite(
		&m, "oa", "", SPAN_LIT("{\"id\":7}"), 0, &again),
	    RELAY_ENOTFOUND);
	assert_int_equal(again.len, 0);
out:
	json_decref(j);
	buf_reset(&out);
	buf_reset(&again);
}

/* Reasoning tokens: the provider and what it needs back, byte for byte
 * (a NUL and a '+' in the text), under the prefix; after a rotation too. */
static void
test_reasoning_round_trip(void **state)
{
	struct rseal_reasoning in, back;
	struct creds_master m, rotated;
	struct buf tok;

	(void)state;
	master(&m, 7, 0);
	master(&rotated, 8, 7);
	memset(&in, 0, sizeof(in));
	memset(&back, 0, sizeof(back));
	buf_init(&tok, 1 << 20);
	snprintf(in.provider, sizeof(in.provider), "anthropic-eu");
	in.text = json_stringn("think\0 +/=\n\xc3\xa9", 13);
	in.sig = json_string("EqQB+/==");
	if (in.text == NULL || in.sig == NULL) {
		TRY(RELAY_ENOMEM, RELAY_OK);
	}
	TRY(rseal_reasoning_wrap(&m, &in, &tok), RELAY_OK);
	assert_true(rseal_reasoning_is(tok.data, tok.len));
	assert_false(rseal_compaction_is(tok.data, tok.len));
	assert_null(memmem(tok.data, tok.len, "EqQB", 4));
	TRY(rseal_reasoning_unwrap(&rotated, tok.data, tok.len, &back),
	    RELAY_OK);
	assert_string_equal(back.provider, "anthropic-eu");
	assert_int_equal(back.redacted, 0);
	assert_true(json_equal(back.text, in.text));
	assert_true(json_equal(back.sig, in.sig));
	assert_null(back.data);
	rseal_reasoning_reset(&back);
	/* a redacted block: its data alone */
	rseal_reasoning_reset(&in);
	snprintf(in.provider, sizeof(in.provider), "an");
	in.redacted = 1;
	in.data = json_string("REDACTED+/=");
	if (in.data == NULL) {
		TRY(RELAY_ENOMEM, RELAY_OK);
	}
	buf_clear(&tok);
	TRY(rseal_reasoning_wrap(&m, &in, &tok), RELAY_OK);
	TRY(rseal_reasoning_unwrap(&m, tok.data, tok.len, &back), RELAY_OK);
	assert_int_equal(back.redacted, 1);
	assert_string_equal(json_string_value(back.data), "REDACTED+/=");
	assert_null(back.text);
out:
	rseal_reasoning_reset(&in);
	rseal_reasoning_reset(&back);
	buf_reset(&tok);
}

/* What is not a reasoning token, or not one of this relay's, never opens;
 * nothing to give back, or no key, seals nothing. */
static void
test_reasoning_refusals(void **state)
{
	struct rseal_reasoning in, back;
	struct creds_master m, other, none;
	struct buf tok, c;
	size_t k = sizeof(RSEAL_REASONING_PREFIX) - 1;

	(void)state;
	master(&m, 7, 0);
	master(&other, 5, 0);
	master(&none, 0, 0);
	memset(&in, 0, sizeof(in));
	memset(&back, 0, sizeof(back));
	buf_init(&tok, 1 << 20);
	buf_init(&c, 1 << 20);
	snprintf(in.provider, sizeof(in.provider), "an");
	/* nothing the provider needs back */
	assert_int_equal(rseal_reasoning_wrap(&m, &in, &tok), RELAY_EINVAL);
	in.redacted = 1;
	assert_int_equal(rseal_reasoning_wrap(&m, &in, &tok), RELAY_EINVAL);
	in.redacted = 0;
	in.text = json_string("t");
	if (in.text == NULL) {
		TRY(RELAY_ENOMEM, RELAY_OK);
	}
	in.provider[0] = '\0';
	assert_int_equal(rseal_reasoning_wrap(&m, &in, &tok), RELAY_EINVAL);
	snprintf(in.provider, sizeof(in.provider), "an");
	assert_int_equal(
	    rseal_reasoning_wrap(&none, &in, &tok), RELAY_ENOTFOUND);
	assert_int_equal(tok.len, 0);
	TRY(rseal_reasoning_wrap(&m, &in, &tok), RELAY_OK);
	/* another key, damaged, cut, without its prefix, OpenAI's own */
	TRY(rseal_reasoning_unwrap(&other, tok.data, tok.len, &back),
	    RELAY_EINVAL);
	TRY(rseal_reasoning_unwrap(&none, tok.data, tok.len, &back),
	    RELAY_ENOTFOUND);
	tok.data[k + 5] = tok.data[k + 5] == 'A' ? 'B' : 'A';
	TRY(rseal_reasoning_unwrap(&m, tok.data, tok.len, &back), RELAY_EINVAL);
	TRY(rseal_reasoning_unwrap(&m, tok.data + k, tok.len - k, &back),
	    RELAY_EINVAL);
	TRY(rseal_reasoning_unwrap(&m, "gAAAAABn", 8, &back), RELAY_EINVAL);
	TRY(rseal_reasoning_unwrap(&m, RSEAL_REASONING_PREFIX, k, &back),
	    RELAY_EINVAL);
	/* a compaction token is no reasoning token, and the reverse */
	TRY(rseal_compaction_wrap(&m, (struct span){"sum", 3}, &c), RELAY_OK);
	assert_true(rseal_compaction_is(c.data, c.len));
	TRY(rseal_reasoning_unwrap(&m, c.data, c.len, &back), RELAY_EINVAL);
	buf_clear(&tok);
	TRY(rseal_reasoning_wrap(&m, &in, &tok), RELAY_OK);
	memcpy(tok.data, RSEAL_COMPACTION_PREFIX,
	    sizeof(RSEAL_COMPACTION_PREFIX) - 1);
	TRY(rseal_compaction_unwrap(&m, tok.data, tok.len, &c), RELAY_EINVAL);
	assert_null(back.text);
out:
	rseal_reasoning_reset(&in);
	rseal_reasoning_reset(&back);
	buf_reset(&tok);
	buf_reset(&c);
}

/* The record inside: only the shapes the relay writes. */
static void
test_reasoning_parse(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{}",
	    "{\"p\":\"an\"}",
	    "{\"p\":\"\",\"k\":\"t\",\"x\":\"a\"}",
	    "{\"p\":\"an\",\"k\":\"q\",\"x\":\"a\"}",
	    "{\"p\":\"an\",\"k\":\"t\"}",
	    "{\"p\":\"an\",\"k\":\"t\",\"x\":1}",
	    "{\"p\":\"an\",\"k\":\"t\",\"x\":\"a\",\"d\":\"b\"}",
	    "{\"p\":\"an\",\"k\":\"r\",\"x\":\"a\"}",
	    "{\"p\":\"an\",\"k\":\"r\",\"d\":\"a\",\"s\":\"b\"}",
	    "{\"p\":\"a\\u0000b\",\"k\":\"t\",\"x\":\"a\"}",
	    "{\"p\":\"an\",\"k\":\"t\",\"x\":\"a\",\"x\":\"b\"}",
	    "{\"p\":\"an\",\"k\":\"t\",\"x\":\"a\"",
	    "{\"p\":[],\"k\":\"t\"}",
	};
	struct rseal_reasoning r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum relay_err e = rseal_reasoning_parse(
		    (struct span){bad[i], strlen(bad[i])}, &r);

		if (e == RELAY_ENOMEM && oom_n != 0)
			continue;
		if (e != RELAY_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_null(r.text);
	}
	if (rseal_reasoning_parse(
		(struct span){"{\"p\":\"an\",\"k\":\"t\",\"s\":\"S\"}", 26},
		&r) == RELAY_OK) {
		assert_string_equal(r.provider, "an");
		assert_null(r.text);
		assert_string_equal(json_string_value(r.sig), "S");
		rseal_reasoning_reset(&r);
	}
}

/* Compaction tokens: the summary back as it was, under the prefix. */
static void
test_compaction_round_trip(void **state)
{
	struct creds_master m;
	struct buf tok, back;
	static const char sum[] = "Summary:\n- fixed the bug\n- next: tests";

	(void)state;
	master(&m, 7, 0);
	buf_init(&tok, 1 << 20);
	buf_init(&back, 1 << 20);
	assert_int_equal(rseal_compaction_wrap(&m, (struct span){sum, 0}, &tok),
	    RELAY_EINVAL);
	TRY(rseal_compaction_wrap(
		&m, (struct span){sum, sizeof(sum) - 1}, &tok),
	    RELAY_OK);
	assert_true(rseal_compaction_is(tok.data, tok.len));
	assert_null(memmem(tok.data, tok.len, "Summary", 7));
	TRY(rseal_compaction_unwrap(&m, tok.data, tok.len, &back), RELAY_OK);
	assert_int_equal(back.len, sizeof(sum) - 1);
	assert_memory_equal(back.data, sum, back.len);
	buf_clear(&back);
	TRY(rseal_compaction_unwrap(&m, tok.data + 3, tok.len - 3, &back),
	    RELAY_EINVAL);
out:
	buf_reset(&tok);
	buf_reset(&back);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_round_trip_all_lengths),
	    OOM_CASE(test_refusals),
	    OOM_CASE(test_rotation),
	    OOM_CASE(test_respid_round_trip),
	    OOM_CASE(test_respid_other_purpose),
	    OOM_CASE(test_respid_bad_fields),
	    OOM_CASE(test_respid_rewrite),
	    OOM_CASE(test_reasoning_round_trip),
	    OOM_CASE(test_reasoning_refusals),
	    OOM_CASE(test_reasoning_parse),
	    OOM_CASE(test_compaction_round_trip),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_respid_wrap_refuses),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests(oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed += cmocka_run_group_tests(cases, NULL, NULL);
	return oom_exit(failed);
}
