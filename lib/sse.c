/* SPDX-License-Identifier: MIT */
/* sse.c - incremental SSE framing: whole events out, whatever the chunking. */
#include <string.h>

#include "sse.h"

void
sse_init(struct sse_parser *sp, size_t max)
{
	buf_init(&sp->raw, max);
	buf_init(&sp->data, max);
	sp->scan = sp->look = 0;
	sp->name_off = sp->name_len = 0;
	sp->has_data = sp->has_name = 0;
}

void
sse_reset(struct sse_parser *sp)
{
	buf_reset(&sp->raw);
	buf_reset(&sp->data);
	sse_init(sp, sp->raw.max);
}

size_t
sse_pending(const struct sse_parser *sp)
{
	return sp->raw.len;
}

/* Apply one non-empty line (without its terminator) at raw[off, off+len). */
static enum relay_err
sse_field(struct sse_parser *sp, size_t off, size_t len)
{
	const char *line = sp->raw.data + off;
	const char *colon = memchr(line, ':', len);
	size_t flen = colon != NULL ? (size_t)(colon - line) : len;
	size_t voff = colon != NULL ? flen + 1 : len;
	enum relay_err err;

	if (flen == 0)
		return RELAY_OK; /* comment */
	if (voff < len && line[voff] == ' ')
		voff++;
	if (flen == 4 && memcmp(line, "data", 4) == 0) {
		if (sp->has_data) {
			err = buf_append(&sp->data, "\n", 1);
			if (err != RELAY_OK)
				return err;
		}
		sp->has_data = 1;
		return buf_append(&sp->data, line + voff, len - voff);
	}
	if (flen == 5 && memcmp(line, "event", 5) == 0) {
		sp->has_name = 1;
		sp->name_off = off + voff;
		sp->name_len = len - voff;
	}
	return RELAY_OK; /* id, retry and unknown fields are not needed */
}

static int
sse_dispatch(struct sse_parser *sp, size_t end, sse_event_fn fn, void *arg)
{
	struct sse_event ev;
	int rc;

	ev.raw.p = sp->raw.data;
	ev.raw.len = end;
	ev.name.p = sp->has_name ? sp->raw.data + sp->name_off : "";
	ev.name.len = sp->has_name ? sp->name_len : 0;
	ev.data.p = sp->data.data != NULL ? sp->data.data : "";
	ev.data.len = sp->data.len;
	ev.has_data = sp->has_data;
	rc = fn(arg, &ev);
	buf_consume(&sp->raw, end);
	buf_clear(&sp->data);
	sp->scan = sp->look = 0;
	sp->has_data = sp->has_name = 0;
	return rc;
}

enum relay_err
sse_feed(
    struct sse_parser *sp, const char *p, size_t n, sse_event_fn fn, void *arg)
{
	enum relay_err err;

	err = buf_append(&sp->raw, p, n);
	if (err != RELAY_OK)
		return err;
	for (;;) {
		const char *base = sp->raw.data + sp->scan;
		size_t avail = sp->raw.len - sp->scan, i, llen, tlen;

		/* Resume where the last feed stopped looking: a long line
		 * arriving in small pieces is scanned once, not again and
		 * again. */
		i = sp->look > sp->scan ? sp->look - sp->scan : 0;
		for (; i < avail && base[i] != '\n' && base[i] != '\r'; i++)
			;
		if (i == avail) {
			sp->look = sp->scan + i;
			return RELAY_OK;
		}
		llen = i;
		tlen = 1;
		if (base[i] == '\r') {
			if (i + 1 == avail) {
				sp->look = sp->scan + i; /* CR or CRLF: wait */
				return RELAY_OK;
			}
			if (base[i + 1] == '\n')
				tlen = 2;
		}
		if (llen == 0) {
			if (sse_dispatch(sp, sp->scan + tlen, fn, arg) != 0)
				return RELAY_ECLOSED;
			continue;
		}
		err = sse_field(sp, sp->scan, llen);
		if (err != RELAY_OK)
			return err;
		sp->scan += llen + tlen;
		sp->look = sp->scan;
	}
}
