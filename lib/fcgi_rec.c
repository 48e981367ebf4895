/* SPDX-License-Identifier: MIT */
/* fcgi_rec.c - FastCGI records over (ptr, len); see fcgi_rec.h. The
 * protocol: https://fastcgi-archives.github.io/FastCGI_Specification.html
 * (records, name-value pairs, the management records); the layouts and
 * constants come from libfcgi's <fastcgi.h>. */
#include <fastcgi.h>
#include <string.h>

#include "fcgi_rec.h"

enum { S_IDLE, S_PARAMS, S_STDIN, S_DONE };

static unsigned
be16(const unsigned char *b)
{
	return (unsigned)b[0] << 8 | b[1];
}

enum relay_err
fcgi_rec_parse(const char *p, size_t len, struct fcgi_rec *r)
{
	const unsigned char *h = (const unsigned char *)p;
	size_t clen, size;

	memset(r, 0, sizeof(*r));
	if (len < FCGI_HEADER_LEN)
		return RELAY_OK;
	if (h[0] != FCGI_VERSION_1)
		return RELAY_EPROTO;
	clen = be16(h + 4);
	size = FCGI_HEADER_LEN + clen + h[6];
	if (len < size)
		return RELAY_OK;
	r->type = h[1];
	r->id = be16(h + 2);
	r->content.p = p + FCGI_HEADER_LEN;
	r->content.len = clen;
	r->size = size;
	return RELAY_OK;
}

/* A pair's length: one byte below 128, else four with the top bit set. */
static int
pair_len(struct span *in, size_t *n)
{
	const unsigned char *b = (const unsigned char *)in->p;

	if (in->len < 1)
		return -1;
	if (b[0] < 0x80) {
		*n = b[0];
		in->p++;
		in->len--;
		return 0;
	}
	if (in->len < 4)
		return -1;
	*n = (size_t)(b[0] & 0x7f) << 24 | (size_t)b[1] << 16 |
	    (size_t)b[2] << 8 | b[3];
	in->p += 4;
	in->len -= 4;
	return 0;
}

enum relay_err
fcgi_pair_next(struct span *in, struct span *name, struct span *value)
{
	struct span s = *in;
	size_t nl, vl;

	name->p = value->p = NULL;
	name->len = value->len = 0;
	if (s.len == 0)
		return RELAY_OK;
	if (pair_len(&s, &nl) != 0 || pair_len(&s, &vl) != 0 || nl > s.len ||
	    vl > s.len - nl)
		return RELAY_EPROTO;
	name->p = s.p;
	name->len = nl;
	value->p = s.p + nl;
	value->len = vl;
	in->p = s.p + nl + vl;
	in->len = s.len - nl - vl;
	return RELAY_OK;
}

struct span
fcgi_param_get(struct span params, const char *name)
{
	struct span n, v, none = {NULL, 0};

	while (fcgi_pair_next(&params, &n, &v) == RELAY_OK && n.p != NULL)
		if (span_eq(n, name))
			return v;
	return none;
}

void
fcgi_conn_init(struct fcgi_conn *c, size_t params_max)
{
	memset(c, 0, sizeof(*c));
	buf_init(&c->params, params_max);
}

void
fcgi_conn_reset(struct fcgi_conn *c)
{
	size_t max = c->params.max;

	buf_reset(&c->params);
	fcgi_conn_init(c, max);
}

void
fcgi_conn_end(struct fcgi_conn *c)
{
	c->id = 0;
	c->keep_conn = 0;
	c->state = S_IDLE;
	buf_clear(&c->params);
}

/* Every pair of the whole params stream reads. */
static int
params_valid(const struct buf *b)
{
	struct span in = {b->data, b->len}, n, v;

	do {
		if (fcgi_pair_next(&in, &n, &v) != RELAY_OK)
			return 0;
	} while (n.p != NULL);
	return 1;
}

static enum relay_err
begin(struct fcgi_conn *c, const struct fcgi_rec *r, struct fcgi_event *ev)
{
	const unsigned char *b = (const unsigned char *)r->content.p;

	if (r->content.len < sizeof(FCGI_BeginRequestBody))
		return RELAY_EPROTO;
	if (c->id == r->id)
		return RELAY_EPROTO; /* began twice */
	ev->id = r->id;
	if (c->id != 0) {
		ev->ev = FCGI_EV_REFUSE;
		ev->status = FCGI_CANT_MPX_CONN;
		return RELAY_OK;
	}
	if (be16(b) != FCGI_RESPONDER) {
		ev->ev = FCGI_EV_REFUSE;
		ev->status = FCGI_UNKNOWN_ROLE;
		return RELAY_OK;
	}
	c->id = r->id;
	c->keep_conn = (b[2] & FCGI_KEEP_CONN) != 0;
	c->state = S_PARAMS;
	buf_clear(&c->params);
	ev->ev = FCGI_EV_BEGIN;
	ev->keep_conn = c->keep_conn;
	return RELAY_OK;
}

/* A record of the request in progress. */
static enum relay_err
current(struct fcgi_conn *c, const struct fcgi_rec *r, struct fcgi_event *ev)
{
	switch (r->type) {
	case FCGI_ABORT_REQUEST: ev->ev = FCGI_EV_ABORT; return RELAY_OK;
	case FCGI_PARAMS:
		if (c->state != S_PARAMS)
			return RELAY_EPROTO;
		if (r->content.len > 0)
			return buf_append(
			    &c->params, r->content.p, r->content.len);
		if (!params_valid(&c->params))
			return RELAY_EPROTO;
		c->state = S_STDIN;
		ev->ev = FCGI_EV_PARAMS;
		return RELAY_OK;
	case FCGI_STDIN:
		if (c->state != S_STDIN)
			return RELAY_EPROTO;
		if (r->content.len == 0) {
			c->state = S_DONE;
			ev->ev = FCGI_EV_STDIN_END;
		} else {
			ev->ev = FCGI_EV_STDIN;
			ev->data = r->content;
		}
		return RELAY_OK;
	case FCGI_DATA: /* the filter role's; we are a responder */
		return RELAY_OK;
	case FCGI_STDOUT:
	case FCGI_STDERR:
	case FCGI_END_REQUEST:
		return RELAY_EPROTO; /* an application's records */
	default: return RELAY_OK; /* a type newer than us: skipped */
	}
}

enum relay_err
fcgi_conn_feed(struct fcgi_conn *c, const char *p, size_t len, size_t *used,
    struct fcgi_event *ev)
{
	struct fcgi_rec r;
	enum relay_err err;

	memset(ev, 0, sizeof(*ev));
	*used = 0;
	if ((err = fcgi_rec_parse(p, len, &r)) != RELAY_OK)
		return err;
	if (r.size == 0)
		return RELAY_OK;
	ev->id = r.id;
	ev->type = r.type;
	if (r.id == FCGI_NULL_REQUEST_ID) {
		if (r.type == FCGI_GET_VALUES) {
			ev->ev = FCGI_EV_GET_VALUES;
			ev->data = r.content;
		} else {
			ev->ev = FCGI_EV_UNKNOWN_TYPE;
		}
	} else if (r.type == FCGI_BEGIN_REQUEST) {
		err = begin(c, &r, ev);
	} else if (r.id == c->id) {
		err = current(c, &r, ev);
	} /* else: a request not in progress, skipped */
	if (err == RELAY_OK)
		*used = r.size;
	else
		memset(ev, 0, sizeof(*ev));
	return err;
}

/* --- writing ------------------------------------------------------------- */

static void
head(unsigned char *h, unsigned type, unsigned id, size_t clen)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(clen >> 8);
	h[5] = (unsigned char)clen;
	h[6] = 0; /* no padding: it is optional */
	h[7] = 0;
}

static enum relay_err
put(struct buf *out, unsigned type, unsigned id, const void *p, size_t n)
{
	unsigned char h[FCGI_HEADER_LEN];
	enum relay_err err;

	head(h, type, id, n);
	if ((err = buf_append(out, h, sizeof(h))) == RELAY_OK && n > 0)
		err = buf_append(out, p, n);
	return err;
}

/* put(), leaving out unchanged when it fails. */
static enum relay_err
put_whole(struct buf *out, unsigned type, unsigned id, const void *p, size_t n)
{
	size_t was = out->len;
	enum relay_err err = put(out, type, id, p, n);

	if (err != RELAY_OK)
		buf_truncate(out, was);
	return err;
}

enum relay_err
fcgi_put_stream(
    struct buf *out, unsigned type, unsigned id, const void *p, size_t n)
{
	const char *s = p;
	size_t was = out->len, k;
	enum relay_err err = RELAY_OK;

	if (n == 0)
		err = put(out, type, id, NULL, 0);
	while (n > 0 && err == RELAY_OK) {
		k = n < FCGI_MAX_LENGTH ? n : FCGI_MAX_LENGTH;
		err = put(out, type, id, s, k);
		s += k;
		n -= k;
	}
	if (err != RELAY_OK)
		buf_truncate(out, was);
	return err;
}

enum relay_err
fcgi_put_end(
    struct buf *out, unsigned id, uint32_t app_status, unsigned protocol_status)
{
	unsigned char b[sizeof(FCGI_EndRequestBody)] = {0};

	b[0] = (unsigned char)(app_status >> 24);
	b[1] = (unsigned char)(app_status >> 16);
	b[2] = (unsigned char)(app_status >> 8);
	b[3] = (unsigned char)app_status;
	b[4] = (unsigned char)protocol_status;
	return put_whole(out, FCGI_END_REQUEST, id, b, sizeof(b));
}

/* Write one short name-value pair (both below 128 bytes) at b + *off. */
static void
pair(char *b, size_t *off, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	b[(*off)++] = (char)nl;
	b[(*off)++] = (char)vl;
	memcpy(b + *off, name, nl);
	memcpy(b + *off + nl, value, vl);
	*off += nl + vl;
}

/* Decimal digits of v into s (room for 11). */
static const char *
udec(char *s, unsigned v)
{
	char *e = s + 11;

	*--e = '\0';
	do
		*--e = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return e;
}

enum relay_err
fcgi_put_values(
    struct buf *out, struct span query, unsigned max_conns, unsigned max_reqs)
{
	/* Three pairs at most, each once: 2 + 15 + 10 bytes each at most. */
	char pairs[3 * (2 + 15 + 10)], d[12];
	struct span n, v;
	size_t off = 0;
	unsigned seen = 0;

	while (fcgi_pair_next(&query, &n, &v) == RELAY_OK && n.p != NULL) {
		if (span_eq(n, FCGI_MAX_CONNS) && !(seen & 1u)) {
			seen |= 1u;
			pair(pairs, &off, FCGI_MAX_CONNS, udec(d, max_conns));
		} else if (span_eq(n, FCGI_MAX_REQS) && !(seen & 2u)) {
			seen |= 2u;
			pair(pairs, &off, FCGI_MAX_REQS, udec(d, max_reqs));
		} else if (span_eq(n, FCGI_MPXS_CONNS) && !(seen & 4u)) {
			seen |= 4u;
			pair(pairs, &off, FCGI_MPXS_CONNS, "0");
		}
	}
	/* A malformed query is answered with what could be read. */
	return put_whole(
	    out, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, pairs, off);
}

enum relay_err
fcgi_put_unknown(struct buf *out, unsigned type)
{
	unsigned char b[sizeof(FCGI_UnknownTypeBody)] = {0};

	b[0] = (unsigned char)type;
	return put_whole(
	    out, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, b, sizeof(b));
}
