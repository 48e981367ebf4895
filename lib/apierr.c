/* SPDX-License-Identifier: MIT */
/* apierr.c - error bodies in each dialect (OpenAI: platform docs "Error
 * codes"), as a response or, mid-stream, as an SSE event. */
#include <stdarg.h>
#include <stdio.h>

#include "apierr.h"
#include "buf.h"
#include "req.h"

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
openai_body(struct buf *b, int status, const char *type, const char *code,
    const char *msg, size_t mlen)
{
	enum relay_err err;

	err = buf_puts(b, "{\"error\":{\"message\":\"");
	if (err == RELAY_OK)
		err = buf_json_escape(b, msg, mlen);
	if (err == RELAY_OK)
		err =
		    buf_printf(b, "\",\"type\":\"%s\",\"param\":null,\"code\":",
			type != NULL ? type : openai_type(status));
	if (err == RELAY_OK)
		err = code != NULL ? buf_printf(b, "\"%s\"}}", code)
				   : buf_puts(b, "null}}");
	return err;
}

void
apierr_send(struct relay_req *req, enum apierr_dialect d, int status,
    const char *type, const char *code, const char *fmt, ...)
{
	char msg[1024];
	struct buf b;
	va_list ap;
	int n;

	(void)d; /* one dialect so far */
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	buf_init(&b, 4096);
	if (req->head_sent) {
		if (buf_puts(&b, "data: ") == RELAY_OK &&
		    openai_body(&b, status, type, code, msg, (size_t)n) ==
			RELAY_OK &&
		    buf_puts(&b, "\n\n") == RELAY_OK &&
		    req_send(req, b.data, b.len, 1) == RELAY_OK)
			req->status = status;
	} else if (openai_body(&b, status, type, code, msg, (size_t)n) ==
	    RELAY_OK) {
		if (req_send_full(req, status, "application/json", b.data,
			b.len) != RELAY_OK)
			req->status = 499;
	} else if (req_send_full(req, 503, "application/json",
		       "{\"error\":{\"message\":\"out of memory\"}}",
		       37) != RELAY_OK)
		req->status = 499;
	buf_reset(&b);
}

void
apierr_send_err(struct relay_req *req, enum apierr_dialect d,
    enum relay_err err, const char *msg)
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
