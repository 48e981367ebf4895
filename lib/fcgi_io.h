/* SPDX-License-Identifier: MIT */
/* fcgi_io.h - the project's only door to libfcgi: accept, params, stdin,
 * stdout, and the connection's fd for disconnect watching. */
#ifndef RELAY_FCGI_IO_H
#define RELAY_FCGI_IO_H

#include <stddef.h>

#include "compiler.h"
#include "err.h"

struct fcgi_io;

/* Process-wide libfcgi setup; call once before any thread starts. */
enum relay_err fcgi_io_init(void) RELAY_MUST_CHECK;

/* A request slot bound to the listening socket listen_fd, for one thread.
 * NULL when memory is short. */
struct fcgi_io *fcgi_io_new(int listen_fd) RELAY_MUST_CHECK;
/* Finish any open request and free the slot. NULL is ok. */
void fcgi_io_free(struct fcgi_io *io);

/*
 * Finish the previous request (if any) and wait for the next one.
 * RELAY_OK with a request open; RELAY_EIO when the listening socket was
 * shut down or failed (the thread should exit).
 */
enum relay_err fcgi_io_accept(struct fcgi_io *io) RELAY_MUST_CHECK;
/* End the current request now: flush, send FCGI_END_REQUEST, close. */
void fcgi_io_finish(struct fcgi_io *io) RELAY_NONNULL;
/*
 * Mark the current response as broken (a stream cut short): what was
 * queued is flushed now, later writes fail, and when the request
 * finishes the connection is reset instead of ended, so the web server
 * aborts the client's response and the client sees an incomplete
 * transfer rather than a complete one.
 */
void fcgi_io_cut(struct fcgi_io *io) RELAY_NONNULL;

/* The CGI/1.1 parameter name (RFC 3875 §4.1) as sent by the web server,
 * or NULL. The pointer lives until the request finishes. */
const char *fcgi_io_param(struct fcgi_io *io, const char *name) RELAY_NONNULL;
/* Walk all params: returns the ith "NAME=value" or NULL past the end. */
const char *fcgi_io_param_at(struct fcgi_io *io, size_t i) RELAY_NONNULL;

/* The connection to the web server, for poll(2): it reads EOF or errors
 * when the server dropped the request (the client went away). */
int fcgi_io_fd(struct fcgi_io *io) RELAY_NONNULL;

/* Read up to n bytes of the request body into p; *got is 0 at the end.
 * RELAY_ECLOSED when the connection broke. */
enum relay_err fcgi_io_read(
    struct fcgi_io *io, char *p, size_t n, size_t *got) RELAY_MUST_CHECK;
/* Queue n bytes of response. RELAY_ECLOSED when the connection broke. */
enum relay_err fcgi_io_write(
    struct fcgi_io *io, const void *p, size_t n) RELAY_MUST_CHECK;
/* Send what is queued now, as one FCGI_STDOUT record. RELAY_ECLOSED when
 * the connection broke. */
enum relay_err fcgi_io_flush(struct fcgi_io *io) RELAY_MUST_CHECK;

#endif
