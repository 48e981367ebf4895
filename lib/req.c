/* SPDX-License-Identifier: MIT */
/* req.c - CGI params in, HTTP head and body out (RFC 3875 §6.3 for the
 * CGI response header fields a FastCGI responder sends). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto.h"
#include "fcgi_io.h"
#include "fcgi_loop.h"
#include "loop.h"
#include "mem.h"
#include "req.h"

/* Extra headers a handler may queue: bytes. */
#define REQ_HDRS_MAX 16384

static const struct {
	const char *name;
	enum req_method m;
} req_methods[] = {
    {"GET", REQ_GET},
    {"POST", REQ_POST},
    {"PUT", REQ_PUT},
    {"PATCH", REQ_PATCH},
    {"DELETE", REQ_DELETE},
    {"HEAD", REQ_HEAD},
    {"OPTIONS", REQ_OPTIONS},
};

void
req_new_id(char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	size_t i;

	if (outsz < 33)
		return;
	if (crypto_id_bytes(rnd, sizeof(rnd)) != RELAY_OK)
		memset(rnd, 0, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		out[2 * i] = hex[rnd[i] >> 4];
		out[2 * i + 1] = hex[rnd[i] & 15];
	}
	out[32] = '\0';
}

/* A client's id is kept only when it is short and plain. */
static int
reqid_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= RELAY_REQID_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' ||
			c == '.'))
			return 0;
	}
	return i > 0;
}

/* Ranged decimal parse of CONTENT_LENGTH; -1 means absent or "-1". */
static enum relay_err
parse_length(const char *s, long long *out)
{
	long long v = 0;
	size_t i;

	*out = -1;
	if (s == NULL || *s == '\0' || strcmp(s, "-1") == 0)
		return RELAY_OK;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 15)
			return RELAY_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return RELAY_OK;
}

/* The request's FastCGI side: libfcgi on a thread (io), or the loop
 * runtime's connection (lreq). */
static const char *
io_param(struct relay_req *req, const char *name)
{
	return req->lreq != NULL ? fcgi_lreq_param(req->lreq, name)
				 : fcgi_io_param(req->io, name);
}

static enum relay_err
io_read(struct relay_req *req, char *p, size_t n, size_t *got)
{
	return req->lreq != NULL ? fcgi_lreq_read(req->lreq, p, n, got)
				 : fcgi_io_read(req->io, p, n, got);
}

static enum relay_err
io_write(struct relay_req *req, const void *p, size_t n)
{
	return req->lreq != NULL ? fcgi_lreq_write(req->lreq, p, n)
				 : fcgi_io_write(req->io, p, n);
}

static enum relay_err
io_flush(struct relay_req *req)
{
	return req->lreq != NULL ? fcgi_lreq_flush(req->lreq)
				 : fcgi_io_flush(req->io);
}

static enum relay_err
begin(struct relay_req *req)
{
	const char *uri, *method, *rid, *ip, *q;
	size_t i;

	buf_init(&req->body, 0);
	buf_init(&req->hdrs, REQ_HDRS_MAX);
	rid = io_param(req, "HTTP_X_REQUEST_ID");
	if (rid != NULL && reqid_ok(rid))
		snprintf(req->id, sizeof(req->id), "%s", rid);
	else
		req_new_id(req->id, sizeof(req->id));
	ip = io_param(req, "REMOTE_ADDR");
	snprintf(
	    req->client_ip, sizeof(req->client_ip), "%s", ip != NULL ? ip : "");
	method = io_param(req, "REQUEST_METHOD");
	req->method = REQ_OTHER;
	req->m_ttft = -1;
	for (i = 0;
	     method != NULL && i < sizeof(req_methods) / sizeof(req_methods[0]);
	     i++)
		if (strcmp(method, req_methods[i].name) == 0)
			req->method = req_methods[i].m;
	uri = io_param(req, "REQUEST_URI");
	if (uri == NULL || uri[0] != '/')
		return RELAY_EINVAL;
	q = strchr(uri, '?');
	req->path.p = uri;
	req->path.len = q != NULL ? (size_t)(q - uri) : strlen(uri);
	req->query = span_str(q != NULL ? q + 1 : "");
	return parse_length(
	    io_param(req, "CONTENT_LENGTH"), &req->content_length);
}

void
req_cut(struct relay_req *req)
{
	if (req->lreq != NULL)
		fcgi_lreq_abort(req->lreq);
	else if (req->io != NULL)
		fcgi_io_cut(req->io);
}

void
req_watch(struct relay_req *req, int *fd, struct loop_io **io)
{
	*fd = -1;
	*io = NULL;
	if (req->lreq != NULL)
		*io = fcgi_lreq_watch(req->lreq);
	else if (req->io != NULL)
		*fd = fcgi_io_fd(req->io);
}

int
req_wait_gone(struct relay_req *req, long ms)
{
	struct loop_io *io = NULL;
	struct pollfd pfd;
	uint64_t deadline = 0;
	int fd, ready;
	char ch;
	ssize_t r;

	req_watch(req, &fd, &io);
	if (io != NULL)
		deadline = loop_now(loop_current()) + (uint64_t)ms;
	for (;;) {
		if (io != NULL) {
			ready = loop_io_wait(io, LOOP_IN, deadline);
			fd = io->fd;
		} else {
			pfd.fd = fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			ready = fd >= 0 && poll(&pfd, 1, (int)ms) > 0;
		}
		if (ready <= 0)
			return 0;
		r = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
		if (io == NULL) { /* level-triggered: bytes we do not read */
			if (ms > 0)
				usleep((useconds_t)ms * 1000);
			return 0;
		}
		/* Bytes, not a goodbye (readiness the loop remembered from
		 * before the wait, say): the wait is not over, only this
		 * edge. A backoff that returned here lost its delay. */
		loop_io_clear(io, LOOP_IN);
		if (loop_now(loop_current()) >= deadline)
			return 0;
	}
}

enum relay_err
req_begin(struct relay_req *req, struct fcgi_io *io, struct relay_ctx *ctx,
    struct upstream *up)
{
	memset(req, 0, sizeof(*req));
	req->io = io;
	req->ctx = ctx;
	req->up = up;
	return begin(req);
}

enum relay_err
req_begin_loop(
    struct relay_req *req, struct fcgi_lreq *lreq, struct relay_ctx *ctx)
{
	memset(req, 0, sizeof(*req));
	req->lreq = lreq;
	req->ctx = ctx;
	return begin(req);
}

void
req_end(struct relay_req *req)
{
	buf_reset(&req->body);
	buf_reset(&req->hdrs);
}

const char *
req_header(struct relay_req *req, const char *name)
{
	char key[128];
	size_t i, o = 0;

	if (strcasecmp(name, "content-type") != 0 &&
	    strcasecmp(name, "content-length") != 0) {
		memcpy(key, "HTTP_", 5);
		o = 5;
	}
	for (i = 0; name[i] != '\0' && o + 1 < sizeof(key); i++) {
		char c = name[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (c == '-')
			c = '_';
		key[o++] = c;
	}
	key[o] = '\0';
	return io_param(req, key);
}

/* Body bytes one read asks for when the length is unknown (a chunked body
 * through Caddy): on the stack, which a coroutine keeps resident for the
 * rest of its request, so small. */
#define REQ_READ_CHUNK 4096

enum relay_err
req_read_body(struct relay_req *req, size_t max)
{
	char chunk[REQ_READ_CHUNK], *tail;
	enum relay_err err;
	size_t got, k;

	buf_init(&req->body, max);
	if (req->content_length > 0 &&
	    (unsigned long long)req->content_length > (unsigned long long)max)
		return RELAY_ETOOBIG;
	/* A declared length is read straight into the body, in one piece
	 * of exactly its size; then one more read must find the end. */
	while (req->content_length > 0 &&
	    req->body.len < (size_t)req->content_length) {
		k = (size_t)req->content_length - req->body.len;
		if ((err = buf_extend(&req->body, k, &tail)) != RELAY_OK)
			return err;
		err = io_read(req, tail, k, &got);
		buf_truncate(&req->body, req->body.len - k + got);
		if (err != RELAY_OK)
			return err;
		if (got == 0)
			break; /* shorter than declared: the web server's word */
	}
	for (;;) {
		err = io_read(req, chunk, sizeof(chunk), &got);
		if (err != RELAY_OK)
			return err;
		if (got == 0)
			break;
		err = buf_append(&req->body, chunk, got);
		if (err != RELAY_OK)
			return err;
	}
	/* Guarantee a NUL-terminated (possibly empty) body. */
	return buf_append(&req->body, "", 0);
}

enum relay_err
req_add_header(struct relay_req *req, const char *fmt, ...)
{
	size_t at = req->hdrs.len, n;
	va_list ap;
	enum relay_err err;

	/* Formatted in place; a line over 1 KiB or with a CR or LF in it
	 * (header injection) is taken back. */
	va_start(ap, fmt);
	err = buf_vprintf(&req->hdrs, fmt, ap);
	va_end(ap);
	if (err != RELAY_OK) {
		buf_truncate(&req->hdrs, at);
		return err;
	}
	n = req->hdrs.len - at;
	if (n >= 1024 || memchr(req->hdrs.data + at, '\r', n) != NULL ||
	    memchr(req->hdrs.data + at, '\n', n) != NULL) {
		buf_truncate(&req->hdrs, at);
		return RELAY_EINVAL;
	}
	return buf_append(&req->hdrs, "\r\n", 2);
}

const char *
req_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 529: return "Overloaded";
	default: return "Status";
	}
}

enum relay_err
req_send_head(struct relay_req *req, int status, const char *content_type,
    long long content_length)
{
	char head[512];
	enum relay_err err;
	int n;

	if (req->head_sent)
		return RELAY_EINVAL;
	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\nContent-Type: %s\r\nx-request-id: %s\r\n", status,
	    req_status_text(status), content_type, req->id);
	if (n < 0 || (size_t)n >= sizeof(head))
		return RELAY_EINVAL;
	if (content_length >= 0) {
		int m = snprintf(head + n, sizeof(head) - (size_t)n,
		    "Content-Length: %lld\r\n", content_length);

		if (m < 0 || (size_t)m >= sizeof(head) - (size_t)n)
			return RELAY_EINVAL;
		n += m;
	}
	req->head_sent = 1;
	req->status = status;
	err = io_write(req, head, (size_t)n);
	if (err == RELAY_OK && req->hdrs.len > 0)
		err = io_write(req, req->hdrs.data, req->hdrs.len);
	if (err == RELAY_OK)
		err = io_write(req, "\r\n", 2);
	return err;
}

enum relay_err
req_send(struct relay_req *req, const void *p, size_t n, int flush)
{
	enum relay_err err = RELAY_OK;

	if (n > 0 && req->method != REQ_HEAD)
		err = io_write(req, p, n);
	if (err == RELAY_OK && flush)
		err = io_flush(req);
	return err;
}

enum relay_err
req_send_full(struct relay_req *req, int status, const char *content_type,
    const void *p, size_t n)
{
	enum relay_err err;

	/* Out at once: the client has the whole answer (its length is
	 * known) while this request is still settled, logged and counted. */
	err = req_send_head(req, status, content_type, (long long)n);
	if (err == RELAY_OK)
		err = req_send(req, p, n, 1);
	return err;
}
