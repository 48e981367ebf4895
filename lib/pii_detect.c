/* SPDX-License-Identifier: MIT */
/* pii_detect.c - the external detector of outbound protection (see
 * pii_detect.h): one POST per request, its answer mapped from code points
 * to bytes and into request-local values. */
#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "limits.h"
#include "mem.h"
#include "pii_detect.h"
#include "upstream.h"

/* --- code points ----------------------------------------------------------- */

static int
cont_byte(const struct pii_cp *c, size_t i)
{
	return ((unsigned char)c->p[i] & 0xC0) == 0x80;
}

void
pii_cp_init(struct pii_cp *c, const char *p, size_t n)
{
	c->p = p;
	c->n = n;
	c->byte = 0;
	c->cp = 0;
}

int
pii_cp_seek(struct pii_cp *c, size_t cp, size_t *byte)
{
	/* Forward: one lead byte and its continuation bytes a code point
	 * (a stray continuation byte rides with the one before it). */
	while (c->cp < cp) {
		if (c->byte >= c->n)
			return -1;
		c->byte++;
		while (c->byte < c->n && cont_byte(c, c->byte))
			c->byte++;
		c->cp++;
	}
	/* Backward, the same steps undone. */
	while (c->cp > cp) {
		c->byte--;
		while (c->byte > 0 && cont_byte(c, c->byte))
			c->byte--;
		c->cp--;
	}
	*byte = c->byte;
	return 0;
}

/* --- the call's body ------------------------------------------------------- */

enum relay_err
pii_detect_body(const struct config_detector *d, const char *text, size_t n,
    struct buf *out)
{
	enum relay_err err;
	size_t i;

	err = buf_puts(out, "{\"text\":\"");
	if (err == RELAY_OK)
		err = buf_json_escape(out, text, n);
	if (err == RELAY_OK)
		err = buf_puts(out, "\",\"language\":\"");
	if (err == RELAY_OK)
		err = buf_json_escape(out,
		    d->language != NULL ? d->language : "en",
		    d->language != NULL ? strlen(d->language) : 2);
	if (err == RELAY_OK)
		err = buf_puts(out, "\",\"entities\":[");
	for (i = 0; i < d->entities.n && err == RELAY_OK; i++) {
		err = buf_puts(out, i > 0 ? ",\"" : "\"");
		if (err == RELAY_OK)
			err = buf_json_escape(
			    out, d->entities.v[i], strlen(d->entities.v[i]));
		if (err == RELAY_OK)
			err = buf_puts(out, "\"");
	}
	if (err == RELAY_OK)
		err = buf_printf(
		    out, "],\"score_threshold\":%g}", d->score_threshold);
	return err;
}

/* --- the answer ------------------------------------------------------------ */

/* The kind a detector's entity type is, or PII_ENT__MAX: not ours. */
static enum pii_entity
kind_of(const char *type)
{
	static const struct {
		const char *type;
		enum pii_entity e;
	} map[] = {
	    {"PERSON", PII_ENT_NAME},
	    {"LOCATION", PII_ENT_ADDRESS},
	    {"ADDRESS", PII_ENT_ADDRESS},
	    {"GPE", PII_ENT_ADDRESS},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(type, map[i].type) == 0)
			return map[i].e;
	return PII_ENT__MAX;
}

static int
space_byte(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One finding, text[b0, b1): cut at the separator, trimmed, kept. */
static enum relay_err
keep(struct pii_out *po, enum pii_entity e, const char *text, size_t b0,
    size_t b1)
{
	const char *sep = memmem(
	    text + b0, b1 - b0, PII_DETECT_SEP, sizeof(PII_DETECT_SEP) - 1);

	if (sep != NULL)
		b1 = (size_t)(sep - text);
	while (b0 < b1 && space_byte(text[b0]))
		b0++;
	while (b1 > b0 && space_byte(text[b1 - 1]))
		b1--;
	/* One byte names nobody, and would be found everywhere. */
	if (b1 - b0 < 2)
		return RELAY_OK;
	return pii_out_found(po, e, text + b0, b1 - b0);
}

/* A non-negative integer member, or -1. */
static json_int_t
offset_of(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) && json_integer_value(v) >= 0
	    ? json_integer_value(v)
	    : -1;
}

/* One item of the answer. */
static enum relay_err
item(json_t *it, struct pii_cp *cur, const char *text, double threshold,
    struct pii_out *po)
{
	json_t *type = json_object_get(it, "entity_type");
	json_t *score = json_object_get(it, "score");
	json_int_t start = offset_of(it, "start"), end = offset_of(it, "end");
	size_t b0, b1;
	enum pii_entity e;

	if (!json_is_object(it) || !json_is_string(type) || start < 0 ||
	    end < start || (score != NULL && !json_is_number(score)))
		return RELAY_EPROTO;
	if (pii_cp_seek(cur, (size_t)start, &b0) != 0 ||
	    pii_cp_seek(cur, (size_t)end, &b1) != 0)
		return RELAY_EPROTO;
	e = kind_of(json_string_value(type));
	if (e == PII_ENT__MAX || po->pol.act[e] == PII_ACT_OFF ||
	    (score != NULL && json_number_value(score) < threshold))
		return RELAY_OK;
	return keep(po, e, text, b0, b1);
}

enum relay_err
pii_detect_parse(const char *ans, size_t n, const char *text, size_t tlen,
    double threshold, struct pii_out *po)
{
	struct pii_cp cur;
	enum relay_err err;
	json_t *root, *it;
	char eb[128];
	size_t i;

	err = jsonx_parse(ans, n, &root, eb, sizeof(eb));
	if (err != RELAY_OK)
		return err == RELAY_ENOMEM ? err : RELAY_EPROTO;
	err =
	    json_is_array(root) && json_array_size(root) <= RELAY_PII_DETECT_MAX
	    ? RELAY_OK
	    : RELAY_EPROTO;
	pii_cp_init(&cur, text, tlen);
	json_array_foreach (root, i, it) {
		if (err != RELAY_OK)
			break;
		err = item(it, &cur, text, threshold, po);
	}
	json_decref(root);
	return err;
}

int
pii_detect_wanted(const struct config_detector *d, const struct pii_out *po)
{
	return d->url != NULL &&
	    (po->pol.act[PII_ENT_NAME] != PII_ACT_OFF ||
		po->pol.act[PII_ENT_ADDRESS] != PII_ACT_OFF);
}

/* --- the call -------------------------------------------------------------- */

struct answer {
	int status;
	struct buf body;
};

static enum relay_err
on_head(void *arg, const struct upstream_head *h)
{
	struct answer *a = arg;

	a->status = h->status;
	return RELAY_OK;
}

static enum relay_err
on_data(void *arg, const char *p, size_t n)
{
	struct answer *a = arg;

	return buf_append(&a->body, p, n);
}

/* b's bytes hold the request's personal data: wiped before freed. */
static void
wipe(struct buf *b)
{
	if (b->data != NULL)
		memset(b->data, 0, b->len);
	buf_reset(b);
}

static const char *const det_headers[] = {
    "Content-Type: application/json", "Accept: application/json"};

enum relay_err
pii_detect_run(const struct config_detector *d, struct pii_out *po, void *root,
    struct upstream *u, int watch_fd, struct loop_io *watch_io, char *why,
    size_t whysz)
{
	struct buf text, body;
	struct answer a = {0};
	struct upstream_call c;
	enum relay_err err;

	why[0] = '\0';
	buf_init(&text, PII_OUT_TEXT_MAX);
	buf_init(&body, PII_OUT_TEXT_MAX);
	buf_init(&a.body, RELAY_PII_DETECT_ANSWER_MAX);
	err = pii_out_texts(po, root, PII_DETECT_SEP, &text);
	/* Nothing to read: no call. */
	if (err != RELAY_OK || text.len == 0)
		goto out;
	err = pii_detect_body(d, text.data, text.len, &body);
	if (err != RELAY_OK)
		goto out;
	memset(&c, 0, sizeof(c));
	c.url = d->url;
	c.headers = det_headers;
	c.nheaders = sizeof(det_headers) / sizeof(det_headers[0]);
	c.body = body.data;
	c.body_len = body.len;
	c.connect_ms = d->timeout_ms;
	c.first_byte_ms = d->timeout_ms;
	c.idle_ms = d->timeout_ms;
	c.total_ms = d->timeout_ms;
	c.watch_fd = watch_fd;
	c.watch_io = watch_io;
	c.on_head = on_head;
	c.on_data = on_data;
	c.arg = &a;
	err = u != NULL ? upstream_perform(u, &c) : RELAY_ENOMEM;
	if (err != RELAY_OK) {
		snprintf(why, whysz, "%s",
		    c.errmsg[0] != '\0' ? c.errmsg : err_name(err));
		goto out;
	}
	if (a.status < 200 || a.status > 299) {
		snprintf(why, whysz, "status %d", a.status);
		err = RELAY_EUPSTREAM;
		goto out;
	}
	err = pii_detect_parse(a.body.data != NULL ? a.body.data : "",
	    a.body.len, text.data, text.len, d->score_threshold, po);
	if (err != RELAY_OK)
		snprintf(why, whysz, "%s",
		    err == RELAY_EPROTO ? "an answer that is not an array "
					  "of findings"
					: err_name(err));
out:
	if (err != RELAY_OK && why[0] == '\0')
		snprintf(why, whysz, "%s", err_name(err));
	wipe(&text);
	wipe(&body);
	wipe(&a.body);
	return err;
}
