/* SPDX-License-Identifier: MIT */
/* override.c - per-provider changes to a built upstream call (see
 * override.h). */
#include <string.h>
#include <strings.h>

#include "jsonx.h"
#include "limits.h"
#include "mem.h"
#include "override.h"

/* --- anthropic-beta ------------------------------------------------------- */

/* name matches pattern: equal, or pattern "prefix*" and a prefix of it. */
static int
matches(const char *pat, const char *name, size_t n)
{
	size_t pl = strlen(pat);

	if (pl > 0 && pat[pl - 1] == '*')
		return n >= pl - 1 && strncasecmp(name, pat, pl - 1) == 0;
	return pl == n && strncasecmp(name, pat, n) == 0;
}

static int
listed(const struct config_strs *l, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (matches(l->v[i], name, n))
			return 1;
	return 0;
}

const char *
override_beta(
    const struct config_provider *p, const char *beta, char *out, size_t n)
{
	const char *s = beta, *e;
	size_t len = 0, k;

	if (beta == NULL || n == 0)
		return NULL;
	out[0] = '\0';
	while (*s != '\0') {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		e = s;
		while (*e != '\0' && *e != ',')
			e++;
		k = (size_t)(e - s);
		while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
			k--;
		if (k > 0 &&
		    (p->ov.beta_allow.n == 0 ||
			listed(&p->ov.beta_allow, s, k)) &&
		    !listed(&p->ov.beta_deny, s, k) && len + k + 2 <= n) {
			if (len > 0)
				out[len++] = ',';
			memcpy(out + len, s, k);
			len += k;
			out[len] = '\0';
		}
		s = e;
	}
	return len > 0 ? out : NULL;
}

/* --- headers ------------------------------------------------------------- */

static int
visible(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f ||
		    i >= RELAY_UPSTREAM_HEADER_VALUE_MAX)
			return 0;
	return 1;
}

/* The name of "Name: value" is name (any case). */
static int
line_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static int
has_line(const struct target_req *tr, size_t upto, const char *name)
{
	size_t i;

	for (i = 0; i < upto; i++)
		if (line_is(tr->lines[i], name))
			return 1;
	return 0;
}

static enum relay_err
add(struct buf *hb, size_t *offs, size_t *n, const char *name,
    const char *value)
{
	enum relay_err err;

	if (*n >= TARGET_HEADERS_MAX)
		return RELAY_ETOOBIG;
	offs[(*n)++] = hb->len;
	err =
	    buf_printf(hb, "%s:%s%s", name, value[0] != '\0' ? " " : "", value);
	return err == RELAY_OK ? buf_append(hb, "", 1) : err;
}

static int
header_work(const struct config_provider *p, const struct target_req *tr)
{
	return p->ov.headers_delete.n > 0 || p->ov.pass_headers.n > 0 ||
	    ((p->ov.beta_allow.n > 0 || p->ov.beta_deny.n > 0) &&
		has_line(tr, tr->nlines, "anthropic-beta"));
}

static enum relay_err
headers(struct target_req *tr, const struct config_provider *p,
    override_header_fn get, void *arg)
{
	size_t offs[TARGET_HEADERS_MAX], n = 0, i;
	char beta[RELAY_UPSTREAM_HEADER_VALUE_MAX + 1];
	enum relay_err err = RELAY_OK;
	const char *v, *colon;
	struct buf hb;

	buf_init(&hb, tr->hb.max);
	for (i = 0; err == RELAY_OK && i < tr->nlines; i++) {
		const char *l = tr->lines[i];

		colon = strchr(l, ':');
		if (colon == NULL)
			continue;
		if (listed(&p->ov.headers_delete, l, (size_t)(colon - l)))
			continue;
		if (line_is(l, "anthropic-beta")) {
			v = colon + 1;
			while (*v == ' ')
				v++;
			v = override_beta(p, v, beta, sizeof(beta));
			if (v != NULL)
				err = add(&hb, offs, &n, "anthropic-beta", v);
			continue;
		}
		if (n >= TARGET_HEADERS_MAX)
			err = RELAY_ETOOBIG;
		else {
			offs[n++] = hb.len;
			err = buf_append(&hb, l, strlen(l) + 1);
		}
	}
	for (i = 0; err == RELAY_OK && i < p->ov.pass_headers.n; i++) {
		const char *name = p->ov.pass_headers.v[i];

		v = get(arg, name);
		if (v != NULL && visible(v) && !has_line(tr, tr->nlines, name))
			err = add(&hb, offs, &n, name, v);
	}
	/* libcurl's own (User-Agent, Accept...): "Name:" removes it. */
	for (i = 0; err == RELAY_OK && i < p->ov.headers_delete.n; i++)
		err = add(&hb, offs, &n, p->ov.headers_delete.v[i], "");
	if (err != RELAY_OK) {
		if (hb.data != NULL)
			explicit_bzero(hb.data, hb.len);
		buf_reset(&hb);
		return err;
	}
	if (tr->hb.data != NULL)
		explicit_bzero(tr->hb.data, tr->hb.len); /* holds the key */
	buf_reset(&tr->hb);
	tr->hb = hb;
	tr->nlines = n;
	for (i = 0; i < n; i++)
		tr->lines[i] = tr->hb.data + offs[i];
	return RELAY_OK;
}

/* --- body ------------------------------------------------------------------- */

/* The object holding the last segment of path, made on the way when
 * make; *last gets that segment (in seg). NULL when a segment on the way
 * is not an object. */
static json_t *
parent(json_t *root, const char *path, int make, char *seg, size_t segsz)
{
	const char *s = path, *dot;
	json_t *o = root, *c;
	size_t k;

	for (;;) {
		dot = strchr(s, '.');
		k = dot != NULL ? (size_t)(dot - s) : strlen(s);
		if (k >= segsz)
			return NULL;
		memcpy(seg, s, k);
		seg[k] = '\0';
		if (dot == NULL)
			return o;
		c = json_object_get(o, seg);
		if (c == NULL && make) {
			c = json_object();
			if (c == NULL || json_object_set_new(o, seg, c) != 0)
				return NULL;
		}
		if (!json_is_object(c))
			return NULL;
		o = c;
		s = dot + 1;
	}
}

static enum relay_err
body(struct target_req *tr, const struct config_provider *p,
    struct span client_body)
{
	struct span b = tr->body.len > 0
	    ? (struct span){tr->body.data, tr->body.len}
	    : client_body;
	char eb[128], seg[RELAY_NAME_MAX + 1];
	enum relay_err err;
	json_t *root = NULL, *o, *v = NULL;
	size_t i;

	err = jsonx_parse(b.p, b.len, &root, eb, sizeof(eb));
	if (err != RELAY_OK || !json_is_object(root)) {
		json_decref(root);
		return err == RELAY_ENOMEM ? err : RELAY_EPROTO;
	}
	for (i = 0; i < p->ov.body_delete.n; i++) {
		o = parent(root, p->ov.body_delete.v[i], 0, seg, sizeof(seg));
		if (o != NULL)
			json_object_del(o, seg);
	}
	for (i = 0; err == RELAY_OK && i < p->ov.body_set_path.n; i++) {
		o = parent(root, p->ov.body_set_path.v[i], 1, seg, sizeof(seg));
		if (o == NULL)
			continue; /* a member on the way is no object */
		err = jsonx_parse(p->ov.body_set_json.v[i],
		    strlen(p->ov.body_set_json.v[i]), &v, eb, sizeof(eb));
		if (err == RELAY_OK &&
		    json_object_set(o, seg, json_array_get(v, 0)) != 0)
			err = RELAY_ENOMEM;
		json_decref(v);
	}
	if (err == RELAY_OK) {
		buf_clear(&tr->body);
		err = jsonx_dump(root, &tr->body);
	}
	json_decref(root);
	return err;
}

enum relay_err
override_apply(struct target_req *tr, const struct config_provider *p,
    struct span client_body, override_header_fn get, void *arg)
{
	enum relay_err err = RELAY_OK;

	if (header_work(p, tr))
		err = headers(tr, p, get, arg);
	if (err == RELAY_OK &&
	    (p->ov.body_delete.n > 0 || p->ov.body_set_path.n > 0))
		err = body(tr, p, client_body);
	return err;
}
