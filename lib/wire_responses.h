/* SPDX-License-Identifier: MIT */
/* wire_responses.h - OpenAI Responses API bodies and event streams to and
 * from the IR (platform.openai.com API reference: "Responses", "Streaming
 * events"). The same contracts as wire_openai.h; the differences:
 *
 * - a Responses "custom" tool (freeform text input, as Codex's
 *   apply_patch) becomes an IR function tool with one string argument
 *   "input" (ir_tool.freeform set); the emitters take the names of those
 *   tools (custom: "\n"-separated, with a leading and a trailing "\n";
 *   NULL: none) to turn the calls back into custom_tool_call items;
 * - a Responses provider's reasoning items become thinking parts whose
 *   signature is their encrypted_content, carried byte for byte; reasoning
 *   input items bound for a translated target become thinking parts only
 *   when the relay sealed them for that same provider (ir_request.master,
 *   .provider; lib/rseal.h), and its compaction items a user message with
 *   their summary (docs/dialects.md, "Reasoning across turns");
 * - previous_response_id and conversation need state the relay does not
 *   keep: a clear 400 saying to send the history. */
#ifndef RELAY_WIRE_RESPONSES_H
#define RELAY_WIRE_RESPONSES_H

#include "buf.h"
#include "compiler.h"
#include "err.h"
#include "ir.h"
#include "sse.h"

enum relay_err wire_responses_parse_request(struct span body,
    struct ir_request *r, char *errbuf, size_t errsz,
    const char **param) RELAY_MUST_CHECK;

enum relay_err wire_responses_emit_request(const struct ir_request *r,
    const char *model, struct buf *out, char *errbuf, size_t errsz,
    const char **param) RELAY_MUST_CHECK;

enum relay_err wire_responses_parse_response(struct span body,
    struct ir_response *r, char *errbuf, size_t errsz) RELAY_MUST_CHECK;

/* The whole response object; custom as above. */
enum relay_err wire_responses_emit_response_custom(const struct ir_response *r,
    const char *custom, struct buf *out) RELAY_MUST_CHECK;
enum relay_err wire_responses_emit_response(
    const struct ir_response *r, struct buf *out) RELAY_MUST_CHECK;

enum relay_err wire_responses_decode(struct ir_dec *d,
    const struct sse_event *ev, struct ir_norm *n) RELAY_MUST_CHECK;

/* The event stream; enc->custom names the custom tools. */
enum relay_err wire_responses_encode(struct ir_enc *e, const struct ir_sev *ev,
    struct buf *out) RELAY_MUST_CHECK;

/* {"error":{"message","type","param":null,"code"}}, OpenAI's shape. */
json_t *wire_responses_error(
    int status, const char *type, const char *msg, size_t mlen);

/* The same error as the data of a response.failed event (for the relay's
 * own failures after the stream began: its sequence_number is 0, the
 * count of the events before it being unknown there). */
json_t *wire_responses_error_event(
    int status, const char *type, const char *msg, size_t mlen);

/*
 * The answer of POST /v1/responses/compact that the relay makes itself
 * for a translated target: {"id", "object": "response.compaction",
 * "created_at", "output", "usage"}, output the user messages of the
 * client's input (a string or items, kept as they were) then one
 * compaction item whose encrypted_content is token (n bytes: the relay's
 * sealed summary, lib/rseal.h). RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err wire_responses_compaction(json_t *input, const char *token,
    size_t n, const struct ir_usage *u, struct buf *out) RELAY_MUST_CHECK;

/* 1 when name (n bytes) is among custom (see above). */
int wire_responses_is_custom(const char *custom, const char *name, size_t n);

#endif
