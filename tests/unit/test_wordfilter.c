/* SPDX-License-Identifier: MIT */
/* test_wordfilter.c - unit tests for lib/wordfilter.c: folding, CJK,
 * overlaps, streams split anywhere, the exact hold-back, stop, reload, a
 * 10,000-word list; the oom-safe group also runs under RELAY_FAIL_ALLOC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/mem.h"
#include "../../lib/wordfilter.c"

#include "oom_test.h"

#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

/* --- helpers ------------------------------------------------------------ */

static char list_path[64];

/* Write text to a fresh temporary file; its name stays in list_path. */
static const char *
write_list(const char *text)
{
	FILE *f;
	int fd;

	snprintf(list_path, sizeof(list_path), "/tmp/wf_test.XXXXXX");
	fd = mkstemp(list_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return list_path;
}

/* Load a filter from one list; NULL only under allocation torture. */
static struct wordfilter *
load_words(const char *text)
{
	const char *path = write_list(text);
	char err[256];
	struct wordfilter *wf;

	wf = wordfilter_load(&path, 1, err, sizeof(err));
	unlink(path);
	if (wf == NULL) {
		assert_int_not_equal(oom_n, 0);
		assert_string_equal(err, "out of memory");
	}
	return wf;
}

static void
want_mask(const struct wordfilter *wf, const char *in, const char *want)
{
	struct buf b;
	enum relay_err e;

	buf_init(&b, 4096);
	e = wordfilter_mask(wf, in, strlen(in), &b);
	if (!(e == RELAY_ENOMEM && oom_n != 0)) {
		assert_int_equal(e, RELAY_OK);
		if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
			fail_msg("\"%s\" gave \"%.*s\", want \"%s\"", in,
			    (int)b.len, b.data, want);
	}
	buf_reset(&b);
}

/* Feed in one step-sized piece after another; flush; compare with want. */
static enum relay_err
stream_pieces(struct wordfilter *wf, enum wordfilter_action act, const char *in,
    size_t step, struct buf *out, int *matched)
{
	struct wordfilter_stream *ws;
	size_t n = strlen(in), off, k;
	enum relay_err err = RELAY_OK;

	*matched = 0;
	ws = wordfilter_stream_new(wf, act);
	if (ws == NULL)
		return RELAY_ENOMEM;
	for (off = 0; off < n && err == RELAY_OK; off += k) {
		k = n - off < step ? n - off : step;
		err = wordfilter_stream_feed(ws, in + off, k, out, matched);
	}
	if (err == RELAY_OK)
		err = wordfilter_stream_flush(ws, out);
	wordfilter_stream_free(ws);
	return err;
}

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_fold_and_cjk(void **state)
{
	struct wordfilter *wf;

	(void)state;
	wf = load_words("# a comment\n\nBadWord\n  敏感词  \r\n"
			"ｆｕｌｌ\nAbC中文\n");
	if (wf == NULL)
		return;
	assert_int_equal(wordfilter_count(wf), 4);
	want_mask(wf, "a badword here", "a ******* here");
	want_mask(wf, "BADWORD!", "*******!");
	want_mask(wf, "ＢａｄＷｏｒｄ", "*******");
	want_mask(wf, "这是敏感词测试", "这是***测试");
	want_mask(wf, "full and ＦＵＬＬ", "**** and ****");
	want_mask(wf, "xabc中文y", "x*****y");
	want_mask(wf, "ａＢｃ中文", "*****");
	want_mask(wf, "敏感 词", "敏感 词");
	want_mask(wf, "", "");
	/* Invalid UTF-8 around a match is copied byte for byte. */
	want_mask(wf, "\xff敏感词\xe6", "\xff***\xe6");
	wordfilter_free(wf);
}

static void
test_overlaps(void **state)
{
	struct wordfilter *wf;

	(void)state;
	wf = load_words("he\nshe\nhers\nhis\nabcdef\ncd\nxyz\n");
	if (wf == NULL)
		return;
	want_mask(wf, "ushers", "u*****");
	want_mask(wf, "ahishe", "a*****");
	want_mask(wf, "abcdeX", "ab**eX");
	want_mask(wf, "abcdef", "******");
	want_mask(wf, "xyzxyz", "******");
	want_mask(wf, "h e", "h e");
	wordfilter_free(wf);
}

static void
test_match_first(void **state)
{
	struct wordfilter *wf;
	size_t at = 99, len = 99;

	(void)state;
	wf = load_words("world\n世界\nor\n");
	if (wf == NULL)
		return;
	assert_int_equal(wordfilter_match(wf, "hello", 5, &at, &len), 0);
	assert_int_equal(at, 99);
	assert_int_equal(wordfilter_match(wf, "hello WORLD", 11, &at, &len), 1);
	assert_int_equal(at, 7); /* "or" ends before "world" does */
	assert_int_equal(len, 2);
	assert_int_equal(
	    wordfilter_match(wf, "你好世界", strlen("你好世界"), &at, &len), 1);
	assert_int_equal(at, 6);
	assert_int_equal(len, 6);
	wordfilter_free(wf);
}

/* Every piece size, 1 byte (splits UTF-8 sequences) up to the whole. */
static void
test_stream_any_split(void **state)
{
	static const char *texts[] = {
	    "ushers and his abcdef, ＳＨＥ said 敏感词!",
	    "敏敏感感词词 shhhe hershe",
	    "no match at all 你好",
	};
	struct wordfilter *wf;
	struct buf whole, got;
	size_t t, step;
	int matched;

	(void)state;
	buf_init(&whole, 4096);
	buf_init(&got, 4096);
	wf = load_words("he\nshe\nhers\nhis\nabcdef\ncd\n敏感词\n");
	if (wf == NULL)
		goto out;
	for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		buf_clear(&whole);
		TRY(wordfilter_mask(wf, texts[t], strlen(texts[t]), &whole),
		    RELAY_OK);
		for (step = 1; step <= strlen(texts[t]); step++) {
			buf_clear(&got);
			TRY(stream_pieces(wf, WORDFILTER_MASK, texts[t], step,
				&got, &matched),
			    RELAY_OK);
			assert_int_equal(got.len, whole.len);
			assert_memory_equal(got.data, whole.data, got.len);
			assert_int_equal(matched, t < 2);
		}
	}
out:
	wordfilter_free(wf);
	buf_reset(&whole);
	buf_reset(&got);
}

/* The exact text emitted after each piece: only a possible word prefix
 * is held back. */
static void
test_stream_holdback_exact(void **state)
{
	struct wordfilter *wf;
	struct wordfilter_stream *ws = NULL;
	struct buf b;
	int m = 0;

	(void)state;
	buf_init(&b, 256);
	wf = load_words("abcd\n敏感词\nbcx\n");
	if (wf == NULL)
		goto out;
	ws = wordfilter_stream_new(wf, WORDFILTER_MASK);
	if (ws == NULL)
		goto out;
	TRY(wordfilter_stream_feed(ws, "xxab", 4, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "xx"); /* "ab" may become "abcd" */
	TRY(wordfilter_stream_feed(ws, "c", 1, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "xx"); /* "abc", "bc" are prefixes */
	TRY(wordfilter_stream_feed(ws, "e", 1, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "xxabce");
	assert_int_equal(m, 0);
	TRY(wordfilter_stream_feed(ws, "zab", 3, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "xxabcez");
	TRY(wordfilter_stream_feed(ws, "cd!", 3, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "xxabcez****!");
	assert_int_equal(m, 1);
	buf_clear(&b);
	/* CJK: held back by whole code points, never inside one. */
	TRY(wordfilter_stream_feed(ws, "好敏\xe6\x84", 8, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "好");
	TRY(wordfilter_stream_feed(ws, "\x9f", 1, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "好");
	TRY(wordfilter_stream_feed(ws, "词。", strlen("词。"), &b, &m),
	    RELAY_OK);
	assert_string_equal(b.data, "好***。");
	/* A cut UTF-8 sequence that is no prefix waits for its end only. */
	buf_clear(&b);
	TRY(wordfilter_stream_feed(ws, "q\xe4\xbd", 3, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "q");
	TRY(wordfilter_stream_feed(ws, "\xa0", 1, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "q你");
	/* Flush emits what is held back, as is. */
	TRY(wordfilter_stream_feed(ws, "ab", 2, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "q你");
	TRY(wordfilter_stream_flush(ws, &b), RELAY_OK);
	assert_string_equal(b.data, "q你ab");
out:
	wordfilter_stream_free(ws);
	wordfilter_free(wf);
	buf_reset(&b);
}

static void
test_stream_stop(void **state)
{
	struct wordfilter *wf;
	struct wordfilter_stream *ws = NULL;
	struct buf b;
	int m = 0;

	(void)state;
	buf_init(&b, 256);
	wf = load_words("bad\n坏话\n");
	if (wf == NULL)
		goto out;
	ws = wordfilter_stream_new(wf, WORDFILTER_STOP);
	if (ws == NULL)
		goto out;
	TRY(wordfilter_stream_feed(ws, "this is b", 9, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "this is ");
	assert_int_equal(m, 0);
	TRY(wordfilter_stream_feed(ws, "AD stuff", 8, &b, &m), RELAY_OK);
	assert_string_equal(b.data, "this is ");
	assert_int_equal(m, 1);
	TRY(wordfilter_stream_feed(ws, "more", 4, &b, &m), RELAY_OK);
	TRY(wordfilter_stream_flush(ws, &b), RELAY_OK);
	assert_string_equal(b.data, "this is ");
	/* After a flush the stream starts a new text. */
	buf_clear(&b);
	m = 0;
	TRY(wordfilter_stream_feed(ws, "说坏", strlen("说坏"), &b, &m),
	    RELAY_OK);
	TRY(wordfilter_stream_feed(ws, "话了", strlen("话了"), &b, &m),
	    RELAY_OK);
	assert_string_equal(b.data, "说");
	assert_int_equal(m, 1);
out:
	wordfilter_stream_free(ws);
	wordfilter_free(wf);
	buf_reset(&b);
}

/* A stream keeps its filter alive after the owner dropped it (reload). */
static void
test_stream_outlives_reload(void **state)
{
	struct wordfilter *wf;
	struct wordfilter_stream *ws;
	struct buf b;
	int m = 0;

	(void)state;
	buf_init(&b, 256);
	wf = load_words("secret\n");
	if (wf == NULL)
		goto out;
	ws = wordfilter_stream_new(wf, WORDFILTER_MASK);
	wordfilter_free(wf);
	if (ws == NULL)
		goto out;
	if (wordfilter_stream_feed(ws, "a secr", 6, &b, &m) == RELAY_OK &&
	    wordfilter_stream_feed(ws, "et", 2, &b, &m) == RELAY_OK &&
	    wordfilter_stream_flush(ws, &b) == RELAY_OK)
		assert_string_equal(b.data, "a ******");
	wordfilter_stream_free(ws);
out:
	buf_reset(&b);
}

/* --- plain cases -------------------------------------------------------- */

static void
test_load_errors(void **state)
{
	const char *paths[2];
	char err[256], big[WORDFILTER_WORD_MAX + 2];
	struct wordfilter *wf;

	(void)state;
	paths[0] = "/nonexistent/words.txt";
	assert_null(wordfilter_load(paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/words.txt"));
	paths[0] = write_list("ok\n\xc3\x28\n");
	assert_null(wordfilter_load(paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, ":2: not UTF-8"));
	unlink(list_path);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	paths[0] = write_list(big);
	assert_null(wordfilter_load(paths, 1, err, sizeof(err)));
	assert_non_null(strstr(err, ":1: word too long"));
	unlink(list_path);
	/* Regression (fuzz_wordfilter, UBSan): an empty file did pointer
	 * arithmetic on the NULL data of an empty buffer. */
	paths[0] = write_list("");
	wf = wordfilter_load(paths, 1, err, sizeof(err));
	unlink(list_path);
	assert_non_null(wf);
	assert_int_equal(wordfilter_count(wf), 0);
	wordfilter_free(wf);
	/* No files, or only comments: a filter that matches nothing. */
	wf = wordfilter_load(paths, 0, err, sizeof(err));
	assert_non_null(wf);
	assert_int_equal(wordfilter_count(wf), 0);
	want_mask(wf, "anything", "anything");
	wordfilter_free(wf);
	wordfilter_free(NULL);
	wordfilter_stream_free(NULL);
}

static void
test_changed(void **state)
{
	char p1[64], p2[64], err[128];
	const char *paths[2] = {p1, p2};
	struct wordfilter *wf;
	FILE *f;

	(void)state;
	write_list("one\n");
	memcpy(p1, list_path, sizeof(p1));
	write_list("two\n");
	memcpy(p2, list_path, sizeof(p2));
	wf = wordfilter_load(paths, 2, err, sizeof(err));
	assert_non_null(wf);
	assert_int_equal(wordfilter_count(wf), 2);
	assert_int_equal(wordfilter_changed(wf, paths, 2), 0);
	assert_int_equal(wordfilter_changed(wf, paths, 1), 1);
	f = fopen(p2, "a");
	assert_non_null(f);
	fputs("three\n", f);
	fclose(f);
	assert_int_equal(wordfilter_changed(wf, paths, 2), 1);
	wordfilter_free(wf);
	wf = wordfilter_load(paths, 2, err, sizeof(err));
	assert_non_null(wf);
	assert_int_equal(wordfilter_count(wf), 3);
	assert_int_equal(wordfilter_changed(wf, paths, 2), 0);
	unlink(p1);
	assert_int_equal(wordfilter_changed(wf, paths, 2), 1);
	unlink(p2);
	wordfilter_free(wf);
}

static void
test_piece_limit(void **state)
{
	struct wordfilter *wf;
	struct wordfilter_stream *ws;
	struct buf b;
	int m = 0;

	(void)state;
	wf = load_words("x\n");
	ws = wordfilter_stream_new(wf, WORDFILTER_MASK);
	buf_init(&b, 16);
	assert_int_equal(
	    wordfilter_stream_feed(ws, "", WORDFILTER_PIECE_MAX + 1, &b, &m),
	    RELAY_ETOOBIG);
	/* emit too small: the error comes back. */
	assert_int_equal(
	    wordfilter_stream_feed(ws, "0123456789abcdefg", 17, &b, &m),
	    RELAY_ETOOBIG);
	wordfilter_stream_free(ws);
	wordfilter_free(wf);
	buf_reset(&b);
}

/* 10,000 words in one automaton; every one found, one pass over the text
 * (transitions <= 2 per folded byte, Aho-Corasick's bound). */
static void
test_ten_thousand_words(void **state)
{
	struct buf list, text, out;
	struct wordfilter *wf;
	struct wordfilter_stream *ws;
	char w[64];
	size_t i, at, len;
	int m = 0;

	(void)state;
	buf_init(&list, 1u << 20);
	buf_init(&text, 1u << 20);
	buf_init(&out, 1u << 20);
	for (i = 0; i < 10000; i++) {
		snprintf(w, sizeof(w), "%s%zuzq\n", i % 3 == 0 ? "词" : "w", i);
		assert_int_equal(buf_puts(&list, w), RELAY_OK);
	}
	wf = load_words(list.data);
	unlink(list_path);
	assert_int_equal(wordfilter_count(wf), 10000);
	for (i = 0; i < 20000; i++)
		assert_int_equal(
		    buf_puts(&text, "lorem ipsum 1234zq "), RELAY_OK);
	assert_int_equal(
	    wordfilter_match(wf, text.data, text.len, &at, &len), 0);
	assert_int_equal(
	    buf_puts(&text, "W9999ZQ 词9999zq 词3333zq"), RELAY_OK);
	assert_int_equal(
	    wordfilter_match(wf, text.data, text.len, &at, &len), 1);
	assert_int_equal(at, 20000 * 19 + 8); /* 9999 % 3 == 0: 词9999zq */
	assert_int_equal(len, strlen("词9999zq"));
	ws = wordfilter_stream_new(wf, WORDFILTER_MASK);
	assert_int_equal(
	    wordfilter_stream_feed(ws, text.data, text.len, &out, &m),
	    RELAY_OK);
	assert_int_equal(wordfilter_stream_flush(ws, &out), RELAY_OK);
	assert_true(ws->sc.steps > 0 && ws->sc.steps <= 2 * text.len);
	assert_string_equal(out.data + 20000 * 19, "W9999ZQ ******* *******");
	wordfilter_stream_free(ws);
	wordfilter_free(wf);
	buf_reset(&list);
	buf_reset(&text);
	buf_reset(&out);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_fold_and_cjk),
	    OOM_CASE(test_overlaps),
	    OOM_CASE(test_match_first),
	    OOM_CASE(test_stream_any_split),
	    OOM_CASE(test_stream_holdback_exact),
	    OOM_CASE(test_stream_stop),
	    OOM_CASE(test_stream_outlives_reload),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_changed),
	    cmocka_unit_test(test_piece_limit),
	    cmocka_unit_test(test_ten_thousand_words),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "wordfilter (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed += cmocka_run_group_tests_name(
		    "wordfilter", cases, NULL, NULL);
	return oom_exit(failed);
}
