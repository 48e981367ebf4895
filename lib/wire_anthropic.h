/* SPDX-License-Identifier: MIT */
/* wire_anthropic.h - Anthropic Messages (docs.anthropic.com, "Messages" and "Streaming Messages")
 * to and from the internal representation of ir.h. Used by dialect.c. */
#ifndef RELAY_WIRE_ANTHROPIC_H
#define RELAY_WIRE_ANTHROPIC_H

#include "buf.h"
#include "compiler.h"
#include "err.h"
#include "ir.h"
#include "sse.h"

/*
 * Parse a client request body into r (initialised by the caller, who
 * resets it whatever the result). RELAY_EINVAL with a message in this
 * API's own wording in errbuf and the parameter's name in *param (static,
 * or NULL); RELAY_ENOMEM.
 */
enum relay_err wire_anthropic_parse_request(struct span body,
    struct ir_request *r, char *errbuf, size_t errsz,
    const char **param) RELAY_MUST_CHECK;

/*
 * Append to out the upstream request body for r, naming model (NULL: the
 * request's own). The upstream is always asked for stream usage.
 * RELAY_EINVAL (errbuf, *param) when r holds something this API cannot
 * take; RELAY_ENOMEM; RELAY_ETOOBIG.
 */
enum relay_err wire_anthropic_emit_request(const struct ir_request *r,
    const char *model, struct buf *out, char *errbuf, size_t errsz,
    const char **param) RELAY_MUST_CHECK;

/*
 * Parse a non-stream upstream response body into r (initialised by the
 * caller, who resets it). RELAY_EPROTO when it is not one (reason in
 * errbuf); RELAY_ENOMEM.
 */
enum relay_err wire_anthropic_parse_response(struct span body,
    struct ir_response *r, char *errbuf, size_t errsz) RELAY_MUST_CHECK;

/* Append to out the client response body for r. RELAY_ENOMEM,
 * RELAY_ETOOBIG. */
enum relay_err wire_anthropic_emit_response(
    const struct ir_response *r, struct buf *out) RELAY_MUST_CHECK;

/*
 * Decode one upstream SSE event into calls on n. RELAY_EPROTO when its
 * data is not what this API sends; otherwise what n returned.
 */
enum relay_err wire_anthropic_decode(struct ir_dec *d,
    const struct sse_event *ev, struct ir_norm *n) RELAY_MUST_CHECK;

/*
 * Encode one normalised event into zero or more client SSE events
 * appended to out. RELAY_ENOMEM, RELAY_ETOOBIG (out truncated back to the
 * end of the last whole event).
 */
enum relay_err wire_anthropic_encode(struct ir_enc *e, const struct ir_sev *ev,
    struct buf *out) RELAY_MUST_CHECK;

/*
 * Build this API's error object (new reference, NULL on OOM) for HTTP
 * status, message msg (mlen bytes) and provider type/code type (may be
 * NULL), as documented for dialect_error_body().
 */
json_t *wire_anthropic_error(
    int status, const char *type, const char *msg, size_t mlen);

#endif
