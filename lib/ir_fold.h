/* SPDX-License-Identifier: MIT */
/* ir_fold.h - reshaping a parsed request for a target that cannot say
 * what the source said: system messages inside the conversation. */
#ifndef RELAY_IR_FOLD_H
#define RELAY_IR_FOLD_H

#include "compiler.h"
#include "err.h"
#include "ir.h"

/*
 * Fold r's IR_ROLE_SYSTEM messages (Anthropic's role "system" inside
 * messages) for a target whose conversation has no such role (Anthropic
 * upstreams other than Anthropic's own, Gemini), keeping their order:
 *   - those before any user or assistant message join the system prompt,
 *     after what it already holds;
 *   - one right after a user message is appended to that message;
 *   - one before a user message (after an assistant turn) goes into that
 *     message after its tool results, which must stay first (Anthropic
 *     wants them right after the tool calls);
 *   - otherwise it becomes a user message where it stands.
 * Afterwards r has no IR_ROLE_SYSTEM message. RELAY_ENOMEM: r is still
 * whole (every part has exactly one owner) but partly folded.
 */
enum relay_err ir_fold_system(
    struct ir_request *r) RELAY_MUST_CHECK RELAY_NONNULL;

#endif
