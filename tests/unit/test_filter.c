/* SPDX-License-Identifier: MIT */
/* test_filter.c - unit tests for lib/filter.c and the stream filter of
 * lib/dialect.c: which texts of a request are looked at, whole answers
 * masked or cut in each dialect, streams masked with a word split across
 * deltas, streams stopped with the dialect's finish reason, the word list
 * reloaded when its file changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/filter.h"
#include "../../lib/jsonx.h"

static char list_path[] = "/tmp/relay-test-filter-XXXXXX";
static struct wordfilter *wf;

static void
write_list(const char *words)
{
	FILE *f = fopen(list_path, "w");

	assert_non_null(f);
	fputs(words, f);
	fclose(f);
}

static int
setup(void **state)
{
	const char *p = list_path;
	char eb[256];
	int fd = mkstemp(list_path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	write_list("open sesame\nbadword\n违禁\n");
	wf = wordfilter_load(&p, 1, eb, sizeof(eb));
	return wf != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	wordfilter_free(wf);
	unlink(list_path);
	return 0;
}

static json_t *
doc(const char *s)
{
	json_t *v = NULL;
	char eb[64];

	assert_int_equal(
	    jsonx_parse(s, strlen(s), &v, eb, sizeof(eb)), RELAY_OK);
	return v;
}

static void
test_request(void **state)
{
	static const char *const hit[] = {
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"say BadWord\"}]}",
	    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"x 违禁 y\"}]}]}",
	    "{\"system\":\"open sesame\",\"messages\":[]}",
	    "{\"contents\":[{\"parts\":[{\"text\":\"ＢＡＤＷＯＲＤ\"}]}]}",
	    "{\"input\":[\"fine\",\"badword\"]}", NULL};
	static const char *const clean[] = {
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"all fine\"}]}",
	    /* not text: ids, image data, model names */
	    "{\"model\":\"badword\",\"messages\":[{\"role\":\"user\","
	    "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"data:image/png;base64,badword\"}}]}]}",
	    "{\"tool_call_id\":\"badword\",\"content\":\"ok\"}", NULL};
	size_t i;
	json_t *v;

	(void)state;
	for (i = 0; hit[i] != NULL; i++) {
		v = doc(hit[i]);
		assert_true(filter_request_matches(wf, v));
		json_decref(v);
	}
	for (i = 0; clean[i] != NULL; i++) {
		v = doc(clean[i]);
		assert_false(filter_request_matches(wf, v));
		json_decref(v);
	}
}

/* Filter body as a whole answer of d; the result parsed. */
static json_t *
whole(enum dialect d, enum filter_output act, const char *body, int *changed)
{
	struct buf out;
	json_t *v;

	buf_init(&out, 1 << 20);
	assert_int_equal(filter_answer(wf, act, d,
			     (struct span){body, strlen(body)}, &out, changed),
	    RELAY_OK);
	v = *changed ? doc(out.data) : NULL;
	buf_reset(&out);
	return v;
}

static void
test_whole(void **state)
{
	static const char oa[] =
	    "{\"id\":\"c\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"one badword two 违禁 three\"},"
	    "\"finish_reason\":\"stop\"}]}";
	static const char an[] =
	    "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"a badword b\"},{\"type\":\"text\",\"text\":\"later\"}],"
	    "\"stop_reason\":\"end_turn\"}";
	static const char ge[] =
	    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x open "
	    "sesame y\"},{\"text\":\"z\"}]},\"finishReason\":\"STOP\"}]}";
	int changed;
	json_t *v;

	(void)state;
	v = whole(DIALECT_OPENAI, FILTER_OUT_MASK, oa, &changed);
	assert_true(changed);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(
		    json_array_get(json_object_get(v, "choices"), 0),
		    "message"),
		"content")),
	    "one ******* two ** three");
	json_decref(v);
	v = whole(DIALECT_OPENAI, FILTER_OUT_STOP, oa, &changed);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(
		    json_array_get(json_object_get(v, "choices"), 0),
		    "message"),
		"content")),
	    "one ");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(v, "choices"), 0),
		"finish_reason")),
	    "content_filter");
	json_decref(v);
	v = whole(DIALECT_ANTHROPIC, FILTER_OUT_STOP, an, &changed);
	assert_int_equal(json_array_size(json_object_get(v, "content")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(v, "content"), 0), "text")),
	    "a ");
	assert_string_equal(
	    json_string_value(json_object_get(v, "stop_reason")), "refusal");
	json_decref(v);
	v = whole(DIALECT_GEMINI, FILTER_OUT_MASK, ge, &changed);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(
		    json_object_get(
			json_object_get(
			    json_array_get(json_object_get(v, "candidates"), 0),
			    "content"),
			"parts"),
		    0),
		"text")),
	    "x *********** y");
	json_decref(v);
	v = whole(DIALECT_GEMINI, FILTER_OUT_STOP, ge, &changed);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(v, "candidates"), 0),
		"finishReason")),
	    "SAFETY");
	json_decref(v);
	/* Clean: nothing rewritten. */
	v = whole(DIALECT_OPENAI, FILTER_OUT_MASK,
	    "{\"choices\":[{\"message\":{\"content\":\"fine\"}}]}", &changed);
	assert_false(changed);
	assert_null(v);
}

/* An OpenAI stream whose deltas are pieces[], through the filter. */
static void
stream(int stop, const char *const *pieces, struct buf *out)
{
	struct dialect_req_info info = {1, 0, "m", "", 0, NULL, "", 0};
	struct dialect_stream *ds =
	    dialect_stream_new(DIALECT_OPENAI, DIALECT_OPENAI, &info);
	struct wordfilter_stream *ws =
	    wordfilter_stream_new(wf, stop ? WORDFILTER_STOP : WORDFILTER_MASK);
	struct sse_event ev;
	char data[512];
	size_t i;

	assert_non_null(ds);
	assert_non_null(ws);
	dialect_stream_filter(ds, ws, stop);
	for (i = 0; pieces[i] != NULL; i++) {
		memset(&ev, 0, sizeof(ev));
		snprintf(data, sizeof(data),
		    "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
		    "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
		    "\"delta\":{\"content\":\"%s\"},\"finish_reason\":%s}]}",
		    pieces[i], pieces[i + 1] == NULL ? "\"stop\"" : "null");
		ev.has_data = 1;
		ev.data = (struct span){data, strlen(data)};
		assert_int_equal(dialect_stream_event(ds, &ev, out), RELAY_OK);
		if (i == 1 && !stop) {
			/* "open" waits for its continuation; "a " is out. */
			assert_non_null(strstr(out->data, "\"a \""));
			assert_null(strstr(out->data, "open"));
		}
	}
	assert_int_equal(dialect_stream_end(ds, out), RELAY_OK);
	if (stop)
		assert_true(dialect_stream_cut(ds));
	dialect_stream_free(ds);
}

/* The text of an OpenAI stream's content deltas, joined. */
static void
joined(const char *sse, char *text, size_t n, char *finish, size_t fn)
{
	const char *p = sse;
	json_t *v, *c;
	char eb[64];

	text[0] = finish[0] = '\0';
	while ((p = strstr(p, "data: {")) != NULL) {
		const char *e = strstr(p, "\n\n");

		assert_non_null(e);
		assert_int_equal(
		    jsonx_parse(p + 6, (size_t)(e - p - 6), &v, eb, sizeof(eb)),
		    RELAY_OK);
		c = json_array_get(json_object_get(v, "choices"), 0);
		if (json_is_string(json_object_get(
			json_object_get(c, "delta"), "content")))
			strncat(text,
			    json_string_value(json_object_get(
				json_object_get(c, "delta"), "content")),
			    n - strlen(text) - 1);
		if (json_is_string(json_object_get(c, "finish_reason")))
			snprintf(finish, fn, "%s",
			    json_string_value(
				json_object_get(c, "finish_reason")));
		json_decref(v);
		p = e;
	}
}

static void
test_stream(void **state)
{
	static const char *const pieces[] = {
	    "a ", "open", " ses", "ame b ", "bad", "word c", NULL};
	struct buf out;
	char text[256], finish[32];

	(void)state;
	buf_init(&out, 1 << 20);
	stream(0, pieces, &out);
	joined(out.data, text, sizeof(text), finish, sizeof(finish));
	assert_string_equal(text, "a *********** b ******* c");
	assert_string_equal(finish, "stop");
	assert_non_null(strstr(out.data, "data: [DONE]"));
	buf_clear(&out);
	stream(1, pieces, &out);
	joined(out.data, text, sizeof(text), finish, sizeof(finish));
	assert_string_equal(text, "a ");
	assert_string_equal(finish, "content_filter");
	assert_non_null(strstr(out.data, "data: [DONE]"));
	buf_reset(&out);
}

static void
test_store_reload(void **state)
{
	struct filter_store *fs = filter_store_new();
	struct config *cfg;
	struct wordfilter *a, *b;
	char text[1024], eb[256];
	size_t at, len;
	int failed, n;

	(void)state;
	n = snprintf(text, sizeof(text),
	    "{\"memcached\":{\"servers\":[\"127.0.0.1:1\"]},"
	    "\"content_filter\":{\"word_files\":[\"%s\"],\"input\":true},"
	    "\"providers\":[{\"name\":\"p\",\"type\":\"openai\","
	    "\"base_url\":\"http://127.0.0.1:1/v1\"}],"
	    "\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\"}]}]}",
	    list_path);
	assert_int_equal(
	    config_parse(text, (size_t)n, &cfg, eb, sizeof(eb)), RELAY_OK);
	assert_true(cfg->models[0].filter.input);
	assert_non_null(fs);
	a = filter_acquire(fs, cfg, &failed);
	assert_non_null(a);
	assert_false(failed);
	assert_false(wordfilter_match(a, "newword", 7, &at, &len));
	write_list("newword\n");
	sleep(1);
	usleep(100 * 1000);
	b = filter_acquire(fs, cfg, &failed);
	assert_true(wordfilter_match(b, "a newword", 9, &at, &len));
	/* The old list stays usable for whoever holds it. */
	assert_true(wordfilter_match(a, "badword", 7, &at, &len));
	wordfilter_free(a);
	wordfilter_free(b);
	write_list("open sesame\nbadword\n违禁\n");
	filter_store_free(fs);
	config_release(cfg);
	/* A missing list is a config error, not a filter of nothing. */
	n = snprintf(text, sizeof(text),
	    "{\"memcached\":{\"servers\":[\"127.0.0.1:1\"]},"
	    "\"content_filter\":{\"word_files\":[\"/nonexistent/words\"]},"
	    "\"providers\":[{\"name\":\"p\",\"type\":\"openai\","
	    "\"base_url\":\"http://127.0.0.1:1/v1\"}],"
	    "\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\"}]}]"
	    "}");
	assert_int_equal(
	    config_parse(text, (size_t)n, &cfg, eb, sizeof(eb)), RELAY_EINVAL);
	assert_non_null(strstr(eb, "$.content_filter"));
	/* A filter without lists is one too. */
	n = snprintf(text, sizeof(text),
	    "{\"memcached\":{\"servers\":[\"127.0.0.1:1\"]},"
	    "\"content_filter\":{\"output\":\"mask\"},"
	    "\"providers\":[{\"name\":\"p\",\"type\":\"openai\","
	    "\"base_url\":\"http://127.0.0.1:1/v1\"}],"
	    "\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\"}]}]"
	    "}");
	assert_int_equal(
	    config_parse(text, (size_t)n, &cfg, eb, sizeof(eb)), RELAY_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request),
	    cmocka_unit_test(test_whole),
	    cmocka_unit_test(test_stream),
	    cmocka_unit_test(test_store_reload),
	};

	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* no oom-safe cases */
	return cmocka_run_group_tests(tests, setup, teardown);
}
