/* SPDX-License-Identifier: MIT */
/* fcgi_rec.h - FastCGI records over (ptr, len): the parser and writer the
 * event-loop runtime needs in place of libfcgi's blocking streams. No I/O,
 * no allocation but the caller's bounded buffer for params. The record
 * layouts and constants are libfcgi's own (<fastcgi.h>). As slowcgi does,
 * nothing is consumed until a whole record is there. */
#ifndef RELAY_FCGI_REC_H
#define RELAY_FCGI_REC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"

/* One record, as found at the start of the input. */
struct fcgi_rec {
	unsigned type; /* FCGI_BEGIN_REQUEST... */
	unsigned id; /* request id; 0 for management records */
	struct span content; /* points into the input */
	size_t size; /* header + content + padding: the bytes it takes */
};

/*
 * The record at the start of p[0..len). RELAY_OK with r filled, or with
 * r->size 0 when the input does not yet hold a whole record (read more);
 * RELAY_EPROTO when the header is not FastCGI version 1.
 */
enum relay_err fcgi_rec_parse(
    const char *p, size_t len, struct fcgi_rec *r) RELAY_MUST_CHECK;

/*
 * The next name-value pair of a params (or get-values) stream in *in,
 * which is advanced past it. RELAY_OK with name->p NULL at the end;
 * RELAY_EPROTO when a length runs past the input.
 */
enum relay_err fcgi_pair_next(
    struct span *in, struct span *name, struct span *value) RELAY_MUST_CHECK;
/* The value of the param called name (exact, case-sensitive as CGI) in a
 * whole params stream, or a span with p NULL. */
struct span fcgi_param_get(struct span params, const char *name);

/* What fcgi_conn_feed() found. */
enum fcgi_ev {
	FCGI_EV_NONE, /* consumed a record that needs no action */
	FCGI_EV_BEGIN, /* a request began: ev->id, ev->keep_conn */
	FCGI_EV_PARAMS, /* the params are whole: fcgi_conn.params */
	FCGI_EV_STDIN, /* ev->data: request body bytes (never empty) */
	FCGI_EV_STDIN_END, /* the body is whole */
	FCGI_EV_ABORT, /* the web server aborted the request */
	FCGI_EV_GET_VALUES, /* answer with fcgi_get_values_result() */
	FCGI_EV_UNKNOWN_TYPE, /* answer with fcgi_unknown_type(ev->type) */
	FCGI_EV_REFUSE, /* answer END_REQUEST(ev->id, ev->status) */
};

struct fcgi_event {
	enum fcgi_ev ev;
	unsigned id;
	unsigned type;
	int keep_conn;
	unsigned status; /* FCGI_CANT_MPX_CONN, FCGI_UNKNOWN_ROLE */
	struct span data;
};

/* One connection's request as it comes in. Callers allocate it and call
 * fcgi_conn_init(); fields read-only outside fcgi_rec.c. */
struct fcgi_conn {
	unsigned id; /* the request in progress; 0: none */
	int keep_conn;
	int state;
	struct buf params; /* the raw name-value pairs, bounded */
};

/* params_max: the params' bytes bound (RELAY_FCGI_PARAMS_MAX). */
void fcgi_conn_init(struct fcgi_conn *c, size_t params_max) RELAY_NONNULL;
/* Release the params' memory; c may be fed again from a new connection. */
void fcgi_conn_reset(struct fcgi_conn *c) RELAY_NONNULL;

/*
 * Take at most one record from p[0..len): *used is how many bytes it took
 * (0: not a whole record yet, read more) and *ev what it meant. Records
 * of a request that is not in progress are skipped (as the spec says); a
 * second BEGIN while one runs is refused (no multiplexing). RELAY_EPROTO
 * when the web server broke the protocol (close the connection);
 * RELAY_ETOOBIG when the params passed their bound (answer 431 or close);
 * RELAY_ENOMEM.
 */
enum relay_err fcgi_conn_feed(struct fcgi_conn *c, const char *p, size_t len,
    size_t *used, struct fcgi_event *ev) RELAY_MUST_CHECK;

/* The request in progress was answered: a kept connection may begin the
 * next one. */
void fcgi_conn_end(struct fcgi_conn *c) RELAY_NONNULL;

/* --- writing ------------------------------------------------------------- */

/* Append records of type (FCGI_STDOUT, FCGI_STDERR) carrying p[0..n) for
 * request id, cut at FCGI_MAX_LENGTH; n 0 appends the empty record that
 * ends the stream. Errors as buf_append(); out is then unchanged. */
enum relay_err fcgi_put_stream(struct buf *out, unsigned type, unsigned id,
    const void *p, size_t n) RELAY_MUST_CHECK;
/* Append FCGI_END_REQUEST for id. */
enum relay_err fcgi_put_end(struct buf *out, unsigned id, uint32_t app_status,
    unsigned protocol_status) RELAY_MUST_CHECK;
/* Append FCGI_GET_VALUES_RESULT answering the names asked in query (the
 * GET_VALUES record's content): FCGI_MAX_CONNS, FCGI_MAX_REQS and
 * FCGI_MPXS_CONNS (0: we do not multiplex); unknown names are left out. */
enum relay_err fcgi_put_values(struct buf *out, struct span query,
    unsigned max_conns, unsigned max_reqs) RELAY_MUST_CHECK;
/* Append FCGI_UNKNOWN_TYPE for a management record of type. */
enum relay_err fcgi_put_unknown(
    struct buf *out, unsigned type) RELAY_MUST_CHECK;

#endif
