/* SPDX-License-Identifier: MIT */
/* filter.c - the content filter's word lists per process, the check of a
 * request and the rewriting of a whole answer. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "filter.h"
#include "jsonx.h"
#include "limits.h"
#include "log.h"
#include "mem.h"

struct filter_store {
	pthread_mutex_t lock;
	struct wordfilter *wf; /* the last good list; NULL: none yet */
	char **paths; /* what wf was loaded from */
	size_t npaths;
	struct timespec checked; /* the last look at the files */
	int looked; /* checked is set */
	int warned; /* the current failure was logged */
};

struct filter_store *
filter_store_new(void)
{
	struct filter_store *fs = mem_calloc(1, sizeof(*fs));

	if (fs != NULL)
		pthread_mutex_init(&fs->lock, NULL);
	return fs;
}

static void
paths_free(struct filter_store *fs)
{
	size_t i;

	for (i = 0; i < fs->npaths; i++)
		mem_free(fs->paths[i]);
	mem_free(fs->paths);
	fs->paths = NULL;
	fs->npaths = 0;
}

void
filter_store_free(struct filter_store *fs)
{
	if (fs == NULL)
		return;
	wordfilter_free(fs->wf);
	paths_free(fs);
	pthread_mutex_destroy(&fs->lock);
	mem_free(fs);
}

static int
same_paths(const struct filter_store *fs, char *const *paths, size_t n)
{
	size_t i;

	if (fs->npaths != n)
		return 0;
	for (i = 0; i < fs->npaths; i++)
		if (strcmp(fs->paths[i], paths[i]) != 0)
			return 0;
	return 1;
}

static long
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Load the lists; the store keeps them when they loaded. Lock held. */
static void
reload(struct filter_store *fs, char *const *paths, size_t n)
{
	struct wordfilter *wf;
	char **copy;
	char eb[256];
	size_t i;

	wf = wordfilter_load((const char *const *)paths, n, eb, sizeof(eb));
	copy = wf != NULL ? mem_calloc(n, sizeof(*copy)) : NULL;
	for (i = 0; copy != NULL && i < n; i++) {
		copy[i] = mem_strdup(paths[i]);
		if (copy[i] == NULL) {
			while (i-- > 0)
				mem_free(copy[i]);
			mem_free(copy);
			copy = NULL;
			snprintf(eb, sizeof(eb), "out of memory");
		}
	}
	if (wf == NULL || copy == NULL) {
		wordfilter_free(wf);
		if (!fs->warned)
			log_warn("content filter: %s; %s", eb,
			    fs->wf != NULL ? "the last good word list stays"
					   : "filtered requests are refused");
		fs->warned = 1;
		return;
	}
	wordfilter_free(fs->wf);
	paths_free(fs);
	fs->wf = wf;
	fs->paths = copy;
	fs->npaths = n;
	fs->warned = 0;
	log_info("content filter: %zu words", wordfilter_count(wf));
}

struct wordfilter *
filter_acquire(struct filter_store *fs, const struct config *cfg, int *failed)
{
	return filter_acquire_files(
	    fs, cfg->filter_files, cfg->nfilter_files, failed);
}

struct wordfilter *
filter_acquire_files(
    struct filter_store *fs, char *const *paths, size_t n, int *failed)
{
	struct wordfilter *wf = NULL;
	int stale;

	*failed = 0;
	if (n == 0)
		return NULL;
	pthread_mutex_lock(&fs->lock);
	if (!fs->looked || ms_since(&fs->checked) >= RELAY_CONFIG_CHECK_MS) {
		clock_gettime(CLOCK_MONOTONIC, &fs->checked);
		fs->looked = 1;
		stale = fs->wf == NULL || !same_paths(fs, paths, n) ||
		    wordfilter_changed(fs->wf, (const char *const *)paths, n);
		if (stale)
			reload(fs, paths, n);
	}
	if (fs->wf != NULL)
		wf = wordfilter_ref(fs->wf);
	else
		*failed = 1;
	pthread_mutex_unlock(&fs->lock);
	return wf;
}

/* --- requests ---------------------------------------------------------- */

static int
text_member(const char *k)
{
	static const char *const names[] = {"content", "text", "system",
	    "input", "prompt", "instructions", "arguments",
	    "output", /* a Responses function_call_output */
	    NULL};
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(k, names[i]) == 0)
			return 1;
	return 0;
}

static int
walk(const struct wordfilter *wf, const json_t *v, int text)
{
	const char *k;
	json_t *e;
	size_t i, at, len;

	if (json_is_string(v))
		return text &&
		    wordfilter_match(wf, json_string_value(v),
			json_string_length(v), &at, &len);
	if (json_is_array(v)) {
		json_array_foreach (v, i, e)
			if (walk(wf, e, text))
				return 1;
		return 0;
	}
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, k, e)
			if (walk(wf, e, text_member(k)))
				return 1;
	}
	return 0;
}

int
filter_request_matches(const struct wordfilter *wf, const void *root)
{
	return walk(wf, root, 0);
}

/* --- whole answers ------------------------------------------------------- */

/* Filter the text string s: a new string, or NULL when nothing matched
 * (*err set on failure). *stopped: the text was cut. */
static json_t *
filter_text(const struct wordfilter *wf, enum filter_output action,
    const json_t *s, int *stopped, enum relay_err *err)
{
	const char *p = json_string_value(s);
	size_t n = json_string_length(s), at, len;
	struct buf b;
	json_t *out;

	if (!wordfilter_match(wf, p, n, &at, &len))
		return NULL;
	if (action == FILTER_OUT_STOP) {
		*stopped = 1;
		out = json_stringn(p, at);
	} else {
		buf_init(&b, 2 * n + 64);
		*err = wordfilter_mask(wf, p, n, &b);
		out = *err == RELAY_OK ? json_stringn(b.data, b.len) : NULL;
		buf_reset(&b);
	}
	if (out == NULL && *err == RELAY_OK)
		*err = RELAY_ENOMEM;
	return out;
}

/* Filter member key of o (a string) in place; 1 when it changed. */
static int
filter_member(const struct wordfilter *wf, enum filter_output action, json_t *o,
    const char *key, int *stopped, enum relay_err *err)
{
	json_t *s = json_object_get(o, key), *n;

	if (!json_is_string(s))
		return 0;
	n = filter_text(wf, action, s, stopped, err);
	if (n == NULL)
		return 0;
	if (json_object_set_new(o, key, n) != 0)
		*err = RELAY_ENOMEM;
	return 1;
}

/* Text blocks of an array (Anthropic content, Gemini parts): filtered; on
 * a stop, the blocks after the cut one are removed. */
static int
filter_blocks(const struct wordfilter *wf, enum filter_output action,
    json_t *arr, int anthropic, int *stopped, enum relay_err *err)
{
	size_t i;
	json_t *b;
	int changed = 0;

	json_array_foreach (arr, i, b) {
		if (anthropic && !json_is_string(json_object_get(b, "type")))
			continue;
		if (anthropic &&
		    strcmp(json_string_value(json_object_get(b, "type")),
			"text") != 0)
			continue;
		changed |= filter_member(wf, action, b, "text", stopped, err);
		if (*stopped) {
			while (json_array_size(arr) > i + 1)
				json_array_remove(arr, i + 1);
			break;
		}
	}
	return changed;
}

/* A Responses answer: the output_text parts of its message items; a stop
 * drops what follows the cut and marks the answer incomplete, as OpenAI
 * marks one its own filter ended. */
static int
filter_responses(const struct wordfilter *wf, enum filter_output action,
    json_t *root, enum relay_err *err)
{
	json_t *items = json_object_get(root, "output"), *it, *parts, *p;
	size_t i, j;
	int changed = 0, stopped = 0;
	const char *t;

	json_array_foreach (items, i, it) {
		parts = json_object_get(it, "content");
		json_array_foreach (parts, j, p) {
			t = json_string_value(json_object_get(p, "type"));
			if (t == NULL || strcmp(t, "output_text") != 0)
				continue;
			changed |=
			    filter_member(wf, action, p, "text", &stopped, err);
			if (stopped) {
				while (json_array_size(parts) > j + 1)
					json_array_remove(parts, j + 1);
				break;
			}
		}
		if (stopped) {
			while (json_array_size(items) > i + 1)
				json_array_remove(items, i + 1);
			break;
		}
	}
	if (stopped && *err == RELAY_OK &&
	    (json_object_set_new(root, "status", json_string("incomplete")) ||
		json_object_set_new(root, "incomplete_details",
		    json_pack("{s:s}", "reason", "content_filter"))))
		*err = RELAY_ENOMEM;
	return changed;
}

enum relay_err
filter_answer(const struct wordfilter *wf, enum filter_output action,
    enum dialect d, struct span body, struct buf *out, int *changed)
{
	json_t *root = NULL, *list, *e;
	enum relay_err err = RELAY_OK;
	char jerr[64];
	size_t i;
	int stopped;

	*changed = 0;
	if (action == FILTER_OUT_OFF)
		return RELAY_OK;
	err = jsonx_parse(body.p, body.len, &root, jerr, sizeof(jerr));
	if (err != RELAY_OK)
		return err == RELAY_ENOMEM ? err : RELAY_EPROTO;
	switch (d) {
	case DIALECT_OPENAI:
		list = json_object_get(root, "choices");
		json_array_foreach (list, i, e) {
			stopped = 0;
			*changed |= filter_member(wf, action,
			    json_object_get(e, "message"), "content", &stopped,
			    &err);
			if (stopped)
				err = err != RELAY_OK ? err
				    : json_object_set_new(e, "finish_reason",
					  json_string("content_filter")) != 0
				    ? RELAY_ENOMEM
				    : RELAY_OK;
		}
		break;
	case DIALECT_ANTHROPIC:
		stopped = 0;
		*changed = filter_blocks(wf, action,
		    json_object_get(root, "content"), 1, &stopped, &err);
		if (stopped && err == RELAY_OK &&
		    (json_object_set_new(
			 root, "stop_reason", json_string("refusal")) != 0 ||
			json_object_set_new(
			    root, "stop_sequence", json_null())))
			err = RELAY_ENOMEM;
		break;
	case DIALECT_GEMINI:
		list = json_object_get(root, "candidates");
		json_array_foreach (list, i, e) {
			stopped = 0;
			*changed |= filter_blocks(wf, action,
			    json_object_get(
				json_object_get(e, "content"), "parts"),
			    0, &stopped, &err);
			if (stopped && err == RELAY_OK &&
			    json_object_set_new(
				e, "finishReason", json_string("SAFETY")) != 0)
				err = RELAY_ENOMEM;
		}
		break;
	case DIALECT_RESPONSES:
		*changed = filter_responses(wf, action, root, &err);
		break;
	case DIALECT__MAX: break;
	}
	if (err == RELAY_OK && *changed)
		err = jsonx_dump(root, out);
	json_decref(root);
	return err;
}
