/* SPDX-License-Identifier: MIT */
/* count_tokens.h - POST /v1/messages/count_tokens (Anthropic) and POST
 * /v1beta/models/{model}:countTokens (Gemini): asked of the target's own
 * counting endpoint when it speaks the client's dialect, otherwise
 * estimated by the relay. Never a generation, never billed. */
#ifndef RELAY_COUNT_TOKENS_H
#define RELAY_COUNT_TOKENS_H

#include "buf.h"
#include "compiler.h"
#include "config.h"
#include "dialect.h"
#include "err.h"
#include "jsonx.h"

struct relay_req;

/*
 * Validate a counting request body of dialect d (Anthropic: model and
 * messages; Gemini: contents or generateContentRequest, one of them) into
 * *root (a new reference). *model spans Anthropic's model (inside *root);
 * untouched for Gemini, whose model is in the path. RELAY_EINVAL with a
 * message worded like d's API (eb, *param); RELAY_ENOMEM.
 */
enum relay_err count_parse(enum dialect d, struct span body, json_t **root,
    struct span *model, char *eb, size_t es,
    const char **param) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * The relay's own estimate of the input tokens of a counting request
 * (root as count_parse() gave it): one token per four bytes of the text
 * it carries (system prompt, messages, tool results, tool names,
 * descriptions and parameter schemas, tool-call arguments), plus
 * RELAY_COUNT_MSG_TOKENS per message and RELAY_COUNT_IMAGE_TOKENS per
 * image or document that is not text. At least 1.
 */
long long count_estimate(enum dialect d, const json_t *root) RELAY_NONNULL;

/* Append d's counting answer for n tokens to out: Anthropic
 * {"input_tokens":n}, Gemini {"totalTokens":n}. */
enum relay_err count_answer(
    enum dialect d, long long n, struct buf *out) RELAY_MUST_CHECK;

/*
 * Answer the counting request req of dialect d (body in req->body, parsed
 * into root) for model m, the client having asked for it by the name
 * asked: the first target of m by priority that speaks d is asked to
 * count (its own endpoint, its key, the model name rewritten), and its
 * answer, or its 400, goes back as it came (x-relay-count: upstream).
 * When no target speaks d, or the call fails in any other way, the
 * estimate answers (x-relay-count: estimate). Always answers req.
 */
void count_tokens(struct relay_req *req, const struct config *cfg,
    const struct config_model *m, enum dialect d, const json_t *root,
    struct span asked) RELAY_NONNULL;

#endif
