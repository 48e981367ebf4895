/* SPDX-License-Identifier: MIT */
/* chatreq.h - validation of an OpenAI Chat Completions request body into
 * the few facts the relay acts on; the body itself travels untouched. */
#ifndef RELAY_CHATREQ_H
#define RELAY_CHATREQ_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "dialect.h"
#include "err.h"

struct config_model;
struct creds_master;

struct chatreq {
	void *root; /* the parsed body (json_t *), owned */
	struct span model; /* points into root; valid until chatreq_free */
	int stream; /* "stream": true */
	int include_usage; /* "stream_options": {"include_usage": true} */
	/* The largest output limit it sets, in any spelling its upstream
	 * honours (max_completion_tokens, max_tokens; maxOutputTokens,
	 * max_output_tokens); 0: unset. */
	long long max_tokens;
	/* The thinking budget it asks for (reasoning_effort's, Gemini's
	 * thinkingBudget), which a translation for an Anthropic provider
	 * adds to max_tokens; 0: none. */
	long long think;
	enum dialect d; /* the body's dialect */
	long long choices; /* n, candidateCount: 1 unless an integer > 1 */
	int embed; /* an embeddings request (POST /v1/embeddings) */
	/* POST /v1/responses/compact (set by the caller): unary, and only
	 * for a provider's Responses API. */
	int compact;
	/* The process's master keys (set by the caller; NULL: none): seal
	 * and open the relay's reasoning and compaction items. */
	const struct creds_master *master;
};

/*
 * Validate n bytes of body. RELAY_OK fills cr; RELAY_EINVAL puts an
 * OpenAI-style message in errbuf and the offending parameter's name (or
 * NULL) in *param; RELAY_ENOMEM. cr is safe to chatreq_free() either way.
 */
enum relay_err chatreq_parse(const char *p, size_t n, struct chatreq *cr,
    char *errbuf, size_t errsz, const char **param) RELAY_MUST_CHECK;

/*
 * The same first look for a body of dialect d: OpenAI as above; Anthropic
 * Messages (model, messages and max_tokens required, as the API does);
 * Gemini generateContent (contents required; the model and whether it
 * streams come from the URL, so the caller fills cr->model and
 * cr->stream). Errors as chatreq_parse(), worded like d's own API.
 */
enum relay_err chatreq_parse_dialect(enum dialect d, const char *p, size_t n,
    struct chatreq *cr, char *errbuf, size_t errsz,
    const char **param) RELAY_MUST_CHECK;

/*
 * An OpenAI embeddings body: "model" and "input" (a string, or an array
 * of strings or of token arrays) required. Sets cr->embed. Errors as
 * chatreq_parse().
 */
enum relay_err chatreq_parse_embeddings(const char *p, size_t n,
    struct chatreq *cr, char *errbuf, size_t errsz,
    const char **param) RELAY_MUST_CHECK;

/*
 * The output tokens to reserve for cr sent to model m (NULL: a
 * passthrough): its max_tokens (def when unset), plus its thinking budget
 * when m may translate it for an Anthropic provider, times its choices;
 * saturated at LLONG_MAX, never wrapped (each choice may use the whole
 * limit).
 */
long long chatreq_reserve(
    const struct chatreq *cr, const struct config_model *m, long long def);

/* Release what chatreq_parse() allocated. */
void chatreq_free(struct chatreq *cr) RELAY_NONNULL;

#endif
