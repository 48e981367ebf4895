/* SPDX-License-Identifier: MIT */
/* dialect.h - translation between the chat API dialects (OpenAI Chat
 * Completions, Anthropic Messages, Gemini generateContent) through the one
 * internal representation of ir.h: requests, responses, streams, errors.
 * Same-dialect traffic is not meant to come here: it passes through raw. */
#ifndef RELAY_DIALECT_H
#define RELAY_DIALECT_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"
#include "ir.h"
#include "limits.h"
#include "sse.h"

/* A wire format. Azure OpenAI speaks DIALECT_OPENAI (same body; only the
 * URL and the api-key header differ, which is the caller's business). */
enum dialect {
	DIALECT_OPENAI, /* POST /v1/chat/completions */
	DIALECT_ANTHROPIC, /* POST /v1/messages */
	DIALECT_GEMINI, /* POST /v1beta/models/{m}:generateContent */
	DIALECT_RESPONSES, /* POST /v1/responses (OpenAI Responses API) */
	DIALECT__MAX
};

/* What the relay needs to know about a translated request. */
struct dialect_req_info {
	/* In for DIALECT_GEMINI (the method, streamGenerateContent, decides;
	 * set it before the call); out for the others ("stream": true). */
	int stream;
	/* Out: the client wants usage in its stream. Always 1 for Anthropic
	 * and Gemini clients, whose streams always carry it; for OpenAI
	 * clients stream_options.include_usage. The upstream is always asked
	 * for usage regardless, so the relay can account. */
	int include_usage;
	/* Out: the model the client named; empty for Gemini, whose model is
	 * in the URL path (the caller may fill it in for the stream). */
	char model[RELAY_NAME_MAX + 1];
	/* Out: the names of the client's Responses custom tools, each
	 * between "\n"s ("" when none), so their calls go back to it as
	 * custom_tool_call items (see wire_responses.h). */
	char custom[RELAY_RS_CUSTOM_MAX];
	/* In: the OpenAI-compatible target wants thinking back as
	 * reasoning_content (config providers[].reasoning_content). */
	int reasoning_content;
	/* In: the master key that seals a translated target's reasoning for
	 * a Responses client, and opens the relay's reasoning and compaction
	 * items when they come back (lib/rseal.h); NULL or keyless: none
	 * (reasoning then does not cross turns, docs/dialects.md). */
	const struct creds_master *master;
	/* In: the config name of the target's provider: a sealed reasoning
	 * goes back only to the provider that made it. */
	char provider[RELAY_NAME_MAX + 1];
	/* In: POST /v1/responses/compact to a translated target: the
	 * request asks the target for a summary of the conversation, unary
	 * (see dialect_compaction()). */
	int compact;
};

/* "openai", "anthropic", "gemini", "responses" (static); "?" out of
 * range. */
const char *dialect_name(enum dialect d);

/*
 * The dialect whose error shape, rate-limit headers and not-found wording
 * d shares: the Responses API answers errors as OpenAI does.
 */
enum dialect dialect_error_family(enum dialect d);

/*
 * Fill info->custom from the parsed client request root of dialect d (a
 * cache replay, which does not translate the request, needs it too).
 * RELAY_EINVAL when the names do not fit.
 */
enum relay_err dialect_req_custom(enum dialect d, const json_t *root,
    struct dialect_req_info *info) RELAY_MUST_CHECK;

/*
 * Translate a client request body of dialect in into an upstream request
 * body of dialect out, appended to out_body (caller-owned, its ceiling
 * applies), for the upstream model upstream_model (NUL-terminated; placed
 * in the body's "model" for OpenAI and Anthropic; Gemini names it in the
 * URL and the body carries none).
 *
 * Returns RELAY_OK; RELAY_EINVAL when body is not a valid request of
 * dialect in or uses something out cannot express (errbuf, size errsz,
 * gets a message worded like dialect in's own API, *param the offending
 * top-level parameter or NULL); RELAY_ENOMEM; RELAY_ETOOBIG when out_body
 * would pass its ceiling. info is filled as described above. On failure
 * out_body is left truncated to its former length.
 */
enum relay_err dialect_request(enum dialect in, struct span body,
    enum dialect out, const char *upstream_model, struct buf *out_body,
    struct dialect_req_info *info, char *errbuf, size_t errsz,
    const char **param) RELAY_MUST_CHECK;

/*
 * Translate a successful (2xx) non-stream upstream response body of
 * dialect from into a client response of dialect to, appended to out. The
 * model reported is the upstream's own (info->model when it sent none).
 * When usage is not NULL it receives the upstream's counts (normalised,
 * see struct ir_usage) for accounting, also when the translation fails
 * after parsing. RELAY_EPROTO when body is not a response of dialect from
 * (the upstream broke its protocol: 502), RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err dialect_response(enum dialect from, struct span body,
    enum dialect to, const struct dialect_req_info *info, struct buf *out,
    struct ir_usage *usage) RELAY_MUST_CHECK;

/*
 * The answer of POST /v1/responses/compact for a translated target: the
 * upstream's 2xx body (of dialect from, the answer to the request
 * dialect_request() made with info->compact) holds the summary, which is
 * sealed under info->master into one compaction item, after the user
 * messages of the client's input (its "input" member). usage as in
 * dialect_response(). RELAY_EPROTO when body is not a response of from or
 * holds no text; RELAY_ENOTFOUND without a master key; RELAY_ENOMEM,
 * RELAY_ETOOBIG.
 */
enum relay_err dialect_compaction(enum dialect from, struct span body,
    json_t *input, const struct dialect_req_info *info, struct buf *out,
    struct ir_usage *usage) RELAY_MUST_CHECK;

/*
 * Append to out the JSON error body of dialect d for HTTP status:
 *   OpenAI    {"error":{"message","type","param":null,"code"}}, type from
 *             status, code = type_or_code (NULL: null);
 *   Anthropic {"type":"error","error":{"type","message"}}, type from
 *             status (400 invalid_request_error ... 529 overloaded_error);
 *   Gemini    {"error":{"code":status,"message","status":"INVALID_ARGUMENT"
 *             ...}}, the status string from status.
 * msg is NUL-terminated and must carry no secret. RELAY_ENOMEM,
 * RELAY_ETOOBIG; out is then truncated back.
 */
enum relay_err dialect_error_body(enum dialect d, int status,
    const char *type_or_code, const char *msg,
    struct buf *out) RELAY_MUST_CHECK;

/*
 * The same error as an SSE event in d's stream shape (OpenAI "data:
 * {error}", Anthropic "event: error", Gemini "data: {error}\r\n\r\n"),
 * for failures after the stream head was sent. Errors as above.
 */
enum relay_err dialect_error_event(enum dialect d, int status,
    const char *type_or_code, const char *msg,
    struct buf *out) RELAY_MUST_CHECK;

/*
 * Translate an upstream error body (any status >= 400) of dialect from
 * into dialect to, keeping its message (and for OpenAI clients its
 * provider type as "code"). A body that is not an error of dialect from
 * (an HTML page from a load balancer...) becomes a generic message naming
 * the status. RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err dialect_error_translate(enum dialect from, struct span body,
    int status, enum dialect to, struct buf *out) RELAY_MUST_CHECK;

/* --- streams ---------------------------------------------------------- */

struct dialect_stream;

/*
 * A translator from an upstream SSE stream of dialect from into the
 * client's SSE stream of dialect to, for a request described by info
 * (copied). NULL when memory is short. Free with dialect_stream_free().
 */
struct dialect_stream *dialect_stream_new(enum dialect from, enum dialect to,
    const struct dialect_req_info *info) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Translate one upstream event (as sse_feed() delivers it) and append the
 * zero or more client events it yields to out, ready to send and flush.
 * Comments (": ping") and unknown event types yield nothing. An upstream
 * error event becomes an error event in the client's dialect, after which
 * the stream is over and further events yield nothing.
 *
 * RELAY_OK; RELAY_EPROTO when the event's data is not JSON the dialect
 * allows (the stream is then over: the caller may send
 * dialect_error_event() and stop); RELAY_ENOMEM, RELAY_ETOOBIG (out is
 * then left as it was before the failing client event).
 */
enum relay_err dialect_stream_event(struct dialect_stream *ds,
    const struct sse_event *ev, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * The upstream stream ended (EOF). Append the closing events the client
 * still needs: OpenAI finish chunk, usage chunk (if asked) and "data:
 * [DONE]"; Anthropic message_delta and message_stop; Gemini the last
 * frame with finishReason and usageMetadata. Nothing when they were sent
 * already or an error event ended the stream. Errors as above.
 */
enum relay_err dialect_stream_end(
    struct dialect_stream *ds, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * The usage the upstream reported so far (normalised: input includes
 * cached tokens; -1 for counts never reported). Valid at any time, so a
 * stream cut short can still be accounted for.
 */
void dialect_stream_usage(
    const struct dialect_stream *ds, struct ir_usage *u) RELAY_NONNULL;

/* 1 once the upstream signalled a complete answer (OpenAI [DONE] or a
 * finish_reason, Anthropic message_stop, Gemini finishReason). */
int dialect_stream_complete(const struct dialect_stream *ds) RELAY_NONNULL;

struct wordfilter_stream;

/*
 * Put the content filter ws (ds takes it over and frees it) on the text
 * of the answer: text deltas go out masked, held back only while a
 * listed word may still be forming across deltas (the end of the block
 * lets the rest out). With stop, the first match ends the stream there:
 * the text before it, the block closed, and the dialect's end with its
 * content-filter finish (OpenAI "content_filter", Anthropic "refusal",
 * Gemini "SAFETY"); every later event yields nothing. Thinking and tool
 * arguments are not filtered.
 */
void dialect_stream_filter(struct dialect_stream *ds,
    struct wordfilter_stream *ws, int stop) RELAY_NONNULL;

/* A rewriter of the normalised events (lib/pii_out.c's restore): it
 * passes each event, changed or not, zero or more times, to next(arg). */
typedef enum relay_err (*dialect_sev_hook)(
    void *hook_arg, const struct ir_sev *ev, ir_sev_fn next, void *arg);

/*
 * Put fn(hook_arg, ...) between the decoder and the filter and encoder;
 * ds calls free_fn(hook_arg) (when not NULL) when it is freed.
 */
void dialect_stream_hook(struct dialect_stream *ds, dialect_sev_hook fn,
    void *hook_arg, void (*free_fn)(void *));

/* 1 once the filter ended the stream (the upstream may be left). */
int dialect_stream_cut(const struct dialect_stream *ds) RELAY_NONNULL;

/* Release ds; NULL is fine. */
void dialect_stream_free(struct dialect_stream *ds);

/* --- replay: a recorded answer told again in the other form ------------- */

/*
 * A response cache keeps what the client received, in its own dialect d:
 * a whole JSON body, or the SSE text of a complete stream (the bytes as
 * sent, events ending in "\n\n", "\r\n\r\n" for Gemini). A later
 * request may want the other form; these tell one as the other. Recorded
 * text is untrusted input (the store may hold anything): every path is a
 * parser. On failure out is left as it was.
 */

/*
 * A whole 2xx answer of dialect d (non-stream JSON body) told again as the
 * SSE stream a streaming request of d would have got, appended to out: the
 * dialect's full event sequence (OpenAI: role chunk, content chunks,
 * finish chunk, usage chunk when info->include_usage, "data: [DONE]";
 * Anthropic: message_start, content_block_start/delta/stop per block,
 * message_delta, message_stop; Gemini: data frames with "\r\n\r\n", the
 * last with finishReason and usageMetadata). Text and thinking are cut
 * into pieces of a few dozen bytes at spaces (never inside a UTF-8
 * sequence) so it reads like a stream; tool-call arguments go in one
 * delta. The id, model and created of the body are kept (info->model when
 * the body names none; info NULL: no model, usage included). Images and
 * redacted thinking have no stream form and are left out, as in a
 * translated live stream. RELAY_EPROTO when body is not a response of d;
 * RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err dialect_response_to_stream(enum dialect d, struct span body,
    const struct dialect_req_info *info, struct buf *out) RELAY_MUST_CHECK;

/*
 * A complete recorded SSE stream of dialect d told again as the whole
 * non-stream JSON answer of d, appended to out: text, thinking (with
 * signatures), tool calls (id, name, arguments joined), finish reason,
 * id, model, created. usage, when not NULL, fills counts the stream did
 * not carry (an OpenAI stream recorded without its usage chunk); counts
 * the stream did carry win. RELAY_EPROTO when sse is not a complete
 * stream of d (see dialect_stream_text_complete()) or an event's data is
 * not what d sends; RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err dialect_stream_to_response(enum dialect d, struct span sse,
    const struct ir_usage *usage, struct buf *out) RELAY_MUST_CHECK;

/*
 * A complete recorded SSE stream of dialect d told again, event for
 * event, for a client described by info (chiefly OpenAI include_usage,
 * which may differ from the recording's; NULL: usage included): decoded
 * and re-encoded, so the pieces of text stay as they were. usage, when
 * not NULL, fills counts the recording lacked, so an OpenAI client that
 * asks for usage gets the real counts. Errors as
 * dialect_stream_to_response().
 */
enum relay_err dialect_stream_retell(enum dialect d, struct span sse,
    const struct dialect_req_info *info, const struct ir_usage *usage,
    struct buf *out) RELAY_MUST_CHECK;

/*
 * 1 when sse is a complete recorded stream of dialect d: every event
 * decodes, none is an error, and the stream reaches its end (OpenAI
 * "data: [DONE]", Anthropic message_stop, Gemini a frame with
 * finishReason, which is its only end mark, and then nothing cut after
 * it), that last event whole with its blank line. Events after an
 * OpenAI or Anthropic end are not looked at. 0 otherwise,
 * also when memory is short: a cache must not store a cut stream.
 */
int dialect_stream_text_complete(enum dialect d, struct span sse);

#endif
