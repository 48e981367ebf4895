/* SPDX-License-Identifier: MIT */
/* sse.h - incremental Server-Sent Events parser (WHATWG HTML, "Server-sent
 * events", §9.2.6 "Interpreting an event stream"). */
#ifndef RELAY_SSE_H
#define RELAY_SSE_H

#include "buf.h"
#include "compiler.h"
#include "err.h"

/* One complete event; every span points into the parser and is valid only
 * during the callback. */
struct sse_event {
	struct span raw; /* the event's bytes, blank line included */
	struct span name; /* "event:" value, empty when absent */
	struct span data; /* "data:" lines joined by '\n' */
	int has_data; /* at least one data line was seen */
};

/* Return 0 to go on, non-zero to stop: sse_feed() then returns
 * RELAY_ECLOSED. */
typedef int (*sse_event_fn)(void *arg, const struct sse_event *ev);

/* Callers allocate it; fields are private to sse.c. */
struct sse_parser {
	struct buf raw; /* bytes of the event being assembled */
	struct buf data; /* its data lines, joined */
	size_t scan; /* raw[0..scan) holds whole lines already read */
	size_t look; /* no line end in raw[scan..look): resume there */
	size_t name_off, name_len;
	int has_data;
	int has_name;
};

/* Start a parser whose events may be at most max bytes. */
void sse_init(struct sse_parser *sp, size_t max) RELAY_NONNULL;
/* Release its memory; it may be initialised again. */
void sse_reset(struct sse_parser *sp) RELAY_NONNULL;

/*
 * Feed n bytes; call fn for every event they complete, in order. Lines may
 * end in CRLF, LF or CR, also when split across feeds. RELAY_ETOOBIG when
 * an event grows past max, RELAY_ENOMEM, or RELAY_ECLOSED when fn asked to
 * stop. Events are also dispatched when they carry no data (comments such
 * as ": ping"), so a relay can forward them; check has_data.
 */
enum relay_err sse_feed(struct sse_parser *sp, const char *p, size_t n,
    sse_event_fn fn, void *arg) RELAY_MUST_CHECK;

/* Bytes held of an unfinished event (0 when the stream ended cleanly). */
size_t sse_pending(const struct sse_parser *sp) RELAY_NONNULL;

#endif
