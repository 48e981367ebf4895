/* SPDX-License-Identifier: MIT */
/* apierr.c - error bodies in each dialect (OpenAI: platform docs "Error
 * codes"), as a response or, mid-stream, as an SSE event. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apierr.h"
#include "buf.h"
#include "req.h"

/* 1 when path is prefix itself or lies under it (prefix "/"...). */
static int
path_under(struct span path, const char *prefix)
{
	size_t n = strlen(prefix);

	return path.p != NULL && path.len >= n &&
	    memcmp(path.p, prefix, n) == 0 &&
	    (path.len == n || path.p[n] == '/');
}

enum dialect
apierr_route_dialect(struct span path)
{
	if (path_under(path, "/v1beta"))
		return DIALECT_GEMINI;
	if (path_under(path, "/v1/messages"))
		return DIALECT_ANTHROPIC;
	return DIALECT_OPENAI;
}

int
apierr_status(enum relay_err err)
{
	switch (err) {
	case RELAY_OK: return 200;
	case RELAY_EINVAL: return 400;
	case RELAY_ENOTFOUND: return 404;
	case RELAY_EMETHOD: return 405;
	case RELAY_ETOOBIG: return 413;
	case RELAY_EPROTO:
	case RELAY_EUPSTREAM: return 502;
	case RELAY_ETIMEOUT: return 504;
	case RELAY_ENOMEM:
	case RELAY_ECACHE:
	case RELAY_EIO: return 503;
	case RELAY_ECLOSED: return 499;
	case RELAY__MAX: break;
	}
	return 500;
}

static const char *
openai_type(int status)
{
	if (status == 401)
		return "authentication_error";
	if (status == 403)
		return "permission_error";
	if (status == 429)
		return "rate_limit_error";
	if (status >= 500)
		return "server_error";
	return "invalid_request_error";
}

static enum relay_err
json_str_or_null(struct buf *b, const char *s)
{
	enum relay_err err;

	if (s == NULL)
		return buf_puts(b, "null");
	err = buf_append(b, "\"", 1);
	if (err == RELAY_OK)
		err = buf_json_escape(b, s, strlen(s));
	if (err == RELAY_OK)
		err = buf_append(b, "\"", 1);
	return err;
}

static enum relay_err
openai_body(struct buf *b, int status, const struct apierr_what *w,
    const char *msg, size_t mlen)
{
	enum relay_err err;

	err = buf_puts(b, "{\"error\":{\"message\":\"");
	if (err == RELAY_OK)
		err = buf_json_escape(b, msg, mlen);
	if (err == RELAY_OK)
		err = buf_puts(b, "\",\"type\":");
	if (err == RELAY_OK)
		err = json_str_or_null(
		    b, w->type != NULL ? w->type : openai_type(status));
	if (err == RELAY_OK)
		err = buf_puts(b, ",\"param\":");
	if (err == RELAY_OK)
		err = json_str_or_null(b, w->param);
	if (err == RELAY_OK)
		err = buf_puts(b, ",\"code\":");
	if (err == RELAY_OK)
		err = json_str_or_null(b, w->code);
	if (err == RELAY_OK)
		err = buf_puts(b, "}}");
	return err;
}

/* The error as a JSON body (event 0) or a stream event (event 1). */
static enum relay_err
render(struct buf *b, enum dialect d, int status, const struct apierr_what *w,
    const char *msg, size_t n, int event)
{
	enum relay_err err;

	/* The Responses API's error body is OpenAI's; its stream event is
	 * its own (response.failed, below). */
	if (d == DIALECT_OPENAI ||
	    (!event && dialect_error_family(d) == DIALECT_OPENAI)) {
		err = event ? buf_puts(b, "data: ") : RELAY_OK;
		if (err == RELAY_OK)
			err = openai_body(b, status, w, msg, n);
		if (err == RELAY_OK && event)
			err = buf_puts(b, "\n\n");
		return err;
	}
	/* msg is NUL-terminated: it comes from format() below. */
	return event ? dialect_error_event(d, status, w->code, msg, b)
		     : dialect_error_body(d, status, w->code, msg, b);
}

static void
send_msg(struct relay_req *req, enum dialect d, int status,
    const struct apierr_what *w, const char *msg, size_t n)
{
	struct buf b;

	buf_init(&b, 4096);
	if (req->head_sent && req->json_array) {
		/* Gemini's streamGenerateContent without alt=sse: the answer
		 * is one JSON array; the error is its last element. */
		if (buf_puts(&b,
			!req->array_open           ? "["
			    : req->array_items > 0 ? ",\r\n"
						   : "") == RELAY_OK &&
		    render(&b, d, status, w, msg, n, 0) == RELAY_OK &&
		    buf_puts(&b, "]") == RELAY_OK &&
		    req_send(req, b.data, b.len, 1) == RELAY_OK)
			req->status = status;
		req->array_closed = 1;
	} else if (req->head_sent) {
		if (render(&b, d, status, w, msg, n, 1) == RELAY_OK &&
		    req_send(req, b.data, b.len, 1) == RELAY_OK)
			req->status = status;
	} else if (render(&b, d, status, w, msg, n, 0) == RELAY_OK) {
		if (req_send_full(req, status, "application/json", b.data,
			b.len) != RELAY_OK)
			req->status = 499;
	} else if (req_send_full(req, 503, "application/json",
		       "{\"error\":{\"message\":\"out of memory\"}}",
		       37) != RELAY_OK)
		req->status = 499;
	buf_reset(&b);
}

static size_t
format(char *msg, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(msg, size, fmt, ap);

	if (n < 0)
		return 0;
	return (size_t)n >= size ? size - 1 : (size_t)n;
}

void
apierr_send(struct relay_req *req, enum dialect d, int status, const char *type,
    const char *code, const char *fmt, ...)
{
	struct apierr_what w = {type, code, NULL};
	char msg[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = format(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_msg(req, d, status, &w, msg, n);
}

void
apierr_sendw(struct relay_req *req, enum dialect d, int status,
    const struct apierr_what *w, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = format(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_msg(req, d, status, w, msg, n);
}

void
apierr_send_err(
    struct relay_req *req, enum dialect d, enum relay_err err, const char *msg)
{
	static const char *const codes[RELAY__MAX] = {
	    [RELAY_ENOMEM] = "service_unavailable",
	    [RELAY_EINVAL] = "invalid_request",
	    [RELAY_ETOOBIG] = "request_too_large",
	    [RELAY_ENOTFOUND] = "not_found",
	    [RELAY_EMETHOD] = "method_not_allowed",
	    [RELAY_EPROTO] = "upstream_bad_response",
	    [RELAY_EUPSTREAM] = "upstream_unreachable",
	    [RELAY_ETIMEOUT] = "upstream_timeout",
	    [RELAY_ECACHE] = "service_unavailable",
	    [RELAY_EIO] = "service_unavailable",
	};

	if (err == RELAY_ECLOSED || err == RELAY_OK ||
	    (unsigned)err >= RELAY__MAX)
		return;
	apierr_send(req, d, apierr_status(err), NULL, codes[err], "%s",
	    msg != NULL ? msg : err_name(err));
}
