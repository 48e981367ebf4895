/* SPDX-License-Identifier: MIT */
/* filter.h - the content filter as the relay applies it: the config's word
 * lists (lib/wordfilter.h), reloaded when their files change; requests
 * holding a listed word refused; answers masked or stopped, whole ones
 * here, streams in lib/dialect.c. */
#ifndef RELAY_FILTER_H
#define RELAY_FILTER_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "config.h"
#include "dialect.h"
#include "err.h"
#include "wordfilter.h"

struct filter_store;

/* One per process, shared by its threads. NULL when memory is short. */
struct filter_store *filter_store_new(void) RELAY_MUST_CHECK;
void filter_store_free(struct filter_store *fs);

/*
 * The filter of cfg's content_filter.word_files with a reference the
 * caller drops with wordfilter_free(): loaded on first use, loaded again
 * when the config names other files or a file changed (looked at once per
 * RELAY_CONFIG_CHECK_MS). When a changed list cannot be loaded the last
 * good one stays (and the reason is logged once). NULL when cfg names no
 * files, or none could ever be loaded (*failed then set: the caller
 * refuses rather than let unfiltered text through).
 */
struct wordfilter *filter_acquire(struct filter_store *fs,
    const struct config *cfg, int *failed) RELAY_NONNULL;

/* The same for any list of word files (pii_protection.word_files). */
struct wordfilter *filter_acquire_files(
    struct filter_store *fs, char *const *paths, size_t n, int *failed);

/*
 * 1 when a text of the request document (a json_t: the string values of
 * members named content, text, system, input, prompt, instructions or
 * arguments, at any depth; not ids, URLs, images or signatures, whose
 * random characters would match short words) holds a listed word.
 */
int filter_request_matches(
    const struct wordfilter *wf, const void *root) RELAY_NONNULL;

/*
 * A whole 2xx answer of dialect d filtered into out: each text of the
 * answer (OpenAI choices[].message.content, Anthropic text blocks, Gemini
 * candidate text parts) masked, or with FILTER_OUT_STOP cut before the
 * first match, later text dropped and the finish reason made the
 * dialect's content-filter one (OpenAI "content_filter", Anthropic
 * "refusal", Gemini "SAFETY"). *changed says whether anything matched
 * (out is then the rewritten answer; else out is left empty).
 * RELAY_EPROTO when body is not JSON; RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err filter_answer(const struct wordfilter *wf,
    enum filter_output action, enum dialect d, struct span body,
    struct buf *out, int *changed) RELAY_MUST_CHECK RELAY_NONNULL;

#endif
