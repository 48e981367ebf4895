/* SPDX-License-Identifier: MIT */
/* req.h - one HTTP request as a responder sees it: validated params in,
 * status, headers and body out, through fcgi_io. */
#ifndef RELAY_REQ_H
#define RELAY_REQ_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"
#include "limits.h"

struct fcgi_io;
struct fcgi_lreq;
struct loop_io;
struct upstream;
struct relay_ctx;

enum req_method {
	REQ_GET,
	REQ_POST,
	REQ_PUT,
	REQ_PATCH,
	REQ_DELETE,
	REQ_HEAD,
	REQ_OPTIONS,
	REQ_OTHER,
	REQ__MAX
};

/*
 * Per-request state. The handler reads the fields; req.c writes them.
 * Everything a request allocates is released by req_end().
 */
struct relay_req {
	struct fcgi_io *io; /* borrowed from the thread; or: */
	struct fcgi_lreq *lreq; /* the loop runtime's request */
	struct upstream *up; /* the thread's upstream handle */
	struct relay_ctx *ctx; /* process state */
	enum req_method method;
	struct span path; /* REQUEST_URI up to '?' */
	struct span query; /* after '?', without it; may be empty */
	long long content_length; /* -1: unknown (chunked) */
	char id[RELAY_REQID_MAX + 1]; /* x-request-id */
	char client_ip[64];
	struct buf body; /* filled by req_read_body() */
	int head_sent; /* status and headers are out */
	int status; /* the status sent, once head_sent */
	struct buf hdrs; /* extra response headers queued by handlers */
	int json_array; /* the body is a JSON array of items (Gemini
			    streamGenerateContent without alt=sse) */
	int array_open; /* its "[" is out */
	size_t array_items; /* items written into it */
	int array_closed; /* its "]" is out */
	/* For the metrics: filled by whoever knows them. */
	const char *m_route; /* "chat", "messages", "gemini", ... */
	const char *m_dialect; /* the client's dialect */
	const char *m_model; /* the public model (config-owned) */
	const char *m_provider; /* the provider that served (config-owned) */
	/* For the access log. */
	char m_key_id[24]; /* the virtual key's id, empty: none */
	/* A tier key's end user (the lower tier's key id, its signature
	 * checked: tier.h), empty: none. */
	char m_end_user[24];
	const char *m_cache; /* "HIT", "MISS"... (cache.h), NULL: none */
	/* Outbound protection's counts, "phone:pseudonymise=2,...";
	 * empty: none found. Never a value. */
	char m_pii[256];
	long long m_in, m_out; /* tokens charged */
	long long m_cached; /* of m_in, read from the provider's prompt cache */
	unsigned long long m_cost; /* micro-USD */
	double m_ttft; /* seconds to the first answer byte, <0: none */
	int m_attempts; /* upstream calls */
	const char *m_error; /* a static word: what failed, NULL: none */
};

/*
 * Fill req from the accepted request's params. Makes a fresh request id
 * unless the client sent an acceptable x-request-id. RELAY_EINVAL when the
 * web server sent unusable params (no REQUEST_URI, bad CONTENT_LENGTH).
 */
enum relay_err req_begin(struct relay_req *req, struct fcgi_io *io,
    struct relay_ctx *ctx, struct upstream *up) RELAY_MUST_CHECK;

/* req_begin() for a request served on the loop runtime (fcgi_loop.h);
 * req->up is NULL there. */
enum relay_err req_begin_loop(struct relay_req *req, struct fcgi_lreq *lreq,
    struct relay_ctx *ctx) RELAY_MUST_CHECK;

/* End the answer as broken (after its head went out): the web server
 * then aborts the client's transfer instead of ending it like a whole
 * one. */
void req_cut(struct relay_req *req) RELAY_NONNULL;

/* The client's connection, to notice it going away while waiting for an
 * upstream: *fd for poll(2) on a thread (else -1), or *io on the loop
 * runtime (else NULL). */
void req_watch(
    struct relay_req *req, int *fd, struct loop_io **io) RELAY_NONNULL;
/* Wait up to ms (in the loop when on it); 1 when the client went away
 * meanwhile, 0 when the time passed. */
int req_wait_gone(struct relay_req *req, long ms) RELAY_NONNULL;

/* Release everything req holds. The FastCGI request itself is finished
 * by the caller (the thread loop). */
void req_end(struct relay_req *req) RELAY_NONNULL;

/*
 * The value of request header name (any case, e.g. "x-api-key"), NULL when
 * absent. Trusted only as far as the web server validated it.
 */
const char *req_header(struct relay_req *req, const char *name) RELAY_NONNULL;

/*
 * Read the whole body into req->body. RELAY_ETOOBIG as soon as it is
 * known to pass max (from CONTENT_LENGTH before reading anything, or while
 * reading a body of unknown length), RELAY_ECLOSED when the connection
 * broke.
 */
enum relay_err req_read_body(
    struct relay_req *req, size_t max) RELAY_MUST_CHECK;

/* Queue one extra response header ("Name: value", no CRLF) for the head. */
enum relay_err req_add_header(struct relay_req *req, const char *fmt, ...)
    RELAY_PRINTF(2, 3) RELAY_MUST_CHECK;

/*
 * Send the status line, Content-Type, x-request-id, the queued headers and,
 * when content_length >= 0, Content-Length. Once only.
 */
enum relay_err req_send_head(struct relay_req *req, int status,
    const char *content_type, long long content_length) RELAY_MUST_CHECK;

/* Write body bytes (after req_send_head). flush: push them out now. */
enum relay_err req_send(
    struct relay_req *req, const void *p, size_t n, int flush) RELAY_MUST_CHECK;

/* Send a complete response, head plus body, and flush it to the web server. */
enum relay_err req_send_full(struct relay_req *req, int status,
    const char *content_type, const void *p, size_t n) RELAY_MUST_CHECK;

/* The reason phrase for status ("Not Found"). */
const char *req_status_text(int status);

/* Fill out (size outsz >= 33) with a fresh random request id. */
void req_new_id(char *out, size_t outsz);

#endif
