/* SPDX-License-Identifier: MIT */
/* fcgi_loop.h - FastCGI served on the loop (issue 15): a listener
 * coroutine accepts the web server's connections, each connection is a
 * coroutine that reads records (fcgi_rec.c) and runs the handler for
 * each request on it, in order (keep-alive connections too). Reads and
 * writes wait in the loop, never in the kernel: a request that waits for
 * its body, or for a slow client to take its answer, holds only its own
 * coroutine. The same operations as fcgi_io.h, which it is to replace. */
#ifndef RELAY_FCGI_LOOP_H
#define RELAY_FCGI_LOOP_H

#include <stddef.h>

#include "compiler.h"
#include "err.h"

struct loop;
struct loop_io;
struct fcgi_lreq;
struct fcgi_listener;

/* Serve one request; return when it is answered (the connection then
 * ends it, or reads the next request of a kept connection). */
typedef void (*fcgi_loop_fn)(struct fcgi_lreq *r, void *arg);

/*
 * Accept on listen_fd (made non-blocking here) from loop l, which may be
 * one of several loops sharing the socket: each connection is served by
 * a coroutine of stack_size bytes running fn(request, arg). NULL when
 * memory is short.
 */
struct fcgi_listener *fcgi_listen(struct loop *l, int listen_fd,
    fcgi_loop_fn fn, void *arg, size_t stack_size) RELAY_MUST_CHECK;
/* Stop accepting (from l's thread): connections in progress finish;
 * then the listener frees itself. */
void fcgi_listen_stop(struct fcgi_listener *ls) RELAY_NONNULL;
/* Connections open on this listener now. */
size_t fcgi_listen_conns(const struct fcgi_listener *ls) RELAY_NONNULL;

/* The CGI param called name (exact), or NULL; lives until the request
 * ends. */
const char *fcgi_lreq_param(
    struct fcgi_lreq *r, const char *name) RELAY_NONNULL;
/* The ith param as "NAME=value", or NULL past the end. */
const char *fcgi_lreq_param_at(struct fcgi_lreq *r, size_t i) RELAY_NONNULL;

/* Up to n body bytes into p, waiting for them; *got 0 at the body's end.
 * RELAY_ECLOSED when the web server went away or broke the protocol. */
enum relay_err fcgi_lreq_read(
    struct fcgi_lreq *r, char *p, size_t n, size_t *got) RELAY_MUST_CHECK;
/* Queue n bytes of answer (sent once enough is queued, or at flush).
 * RELAY_ECLOSED when the connection broke. */
enum relay_err fcgi_lreq_write(
    struct fcgi_lreq *r, const void *p, size_t n) RELAY_MUST_CHECK;
/* Send what is queued, waiting while the web server is not taking it.
 * RELAY_ECLOSED when the connection broke. */
enum relay_err fcgi_lreq_flush(struct fcgi_lreq *r) RELAY_MUST_CHECK;

/* The connection, for a wait that must also notice the web server going
 * away (the client left): readable or hung up after the body means gone. */
struct loop_io *fcgi_lreq_watch(struct fcgi_lreq *r) RELAY_NONNULL;

/* End the answer so that the web server sees it incomplete (the
 * connection closed without FCGI_END_REQUEST): for an answer whose
 * upstream broke off after its head went out. */
void fcgi_lreq_abort(struct fcgi_lreq *r) RELAY_NONNULL;

#endif
