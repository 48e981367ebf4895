/* SPDX-License-Identifier: MIT */
/* apierr.h - the relay's own errors, in the caller's API dialect. */
#ifndef RELAY_APIERR_H
#define RELAY_APIERR_H

#include "compiler.h"
#include "dialect.h"
#include "err.h"

struct relay_req;

/*
 * Answer req with an error in dialect d's shape: OpenAI
 * {"error":{"message","type","param","code"}}, Anthropic {"type":"error",
 * "error":{"type","message"}}, Gemini {"error":{"code","message","status"}}.
 * Before the head is sent: status with that JSON body. After (a stream is
 * under way): the same as an error event of the dialect's stream, which
 * the official SDKs raise as an error. type and code may be NULL (code then JSON null, type derived from
 * the status). The message is formatted, bounded and JSON-escaped; it must
 * carry no secret.
 */
void apierr_send(struct relay_req *req, enum dialect d, int status,
    const char *type, const char *code, const char *fmt, ...)
    RELAY_PRINTF(6, 7);

/* What an error is, beyond its status; NULL members are left out (type:
 * derived from the status; param and code: JSON null). */
struct apierr_what {
	const char *type;
	const char *code;
	const char *param; /* the request field at fault, e.g. "model" */
};

/* apierr_send() with every member of w. */
void apierr_sendw(struct relay_req *req, enum dialect d, int status,
    const struct apierr_what *w, const char *fmt, ...) RELAY_PRINTF(5, 6);

/*
 * The dialect of the errors a request path gets, decided by the route
 * alone and before anything else is known: everything under /v1beta
 * (Gemini's API) in Gemini's shape, /v1/messages and what lies under it
 * (Anthropic's) in Anthropic's, the rest in OpenAI's. A path no handler
 * serves (a Gemini model without :generateContent, an unknown sub-path)
 * is still answered in the shape its client's SDK parses.
 */
enum dialect apierr_route_dialect(struct span path);

/* The one mapping of enum relay_err to an HTTP status. */
int apierr_status(enum relay_err err);

/* apierr_send() for err with its status, a code derived from err, and
 * msg (NULL: a generic text). RELAY_ECLOSED sends nothing. */
void apierr_send_err(
    struct relay_req *req, enum dialect d, enum relay_err err, const char *msg);

#endif
