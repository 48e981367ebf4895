/* SPDX-License-Identifier: MIT */
/* rseal.c - sealed opaque tokens for clients (see rseal.h). */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "ir.h"
#include "rseal.h"

/* A token is at most this long (base64url of a sealed box): a response id
 * or a compaction summary, never a whole conversation. */
#define RSEAL_TOKEN_MAX (2u * 1024 * 1024)

/* Seal into base64url; det: the same bytes give the same token. */
static enum relay_err
seal(const struct creds_master *m, const char *purpose, const void *p, size_t n,
    int det, struct buf *out)
{
	size_t before = out->len, i, j;
	enum relay_err err;
	struct buf box;

	if (!m->have_cur)
		return RELAY_ENOTFOUND;
	buf_init(&box, RSEAL_TOKEN_MAX);
	err = det ? crypto_seal_det(m->cur, purpose, p, n, &box)
		  : crypto_seal(m->cur, purpose, p, n, &box);
	if (err == RELAY_OK)
		err = crypto_b64(out, (const unsigned char *)box.data, box.len);
	buf_reset(&box);
	if (err != RELAY_OK) {
		buf_truncate(out, before);
		return err;
	}
	/* Standard to URL alphabet, padding dropped (RFC 4648 section 5). */
	for (i = j = before; i < out->len; i++) {
		char c = out->data[i];

		if (c == '=')
			continue;
		out->data[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	buf_truncate(out, j);
	return RELAY_OK;
}

enum relay_err
rseal_seal(const struct creds_master *m, const char *purpose, const void *p,
    size_t n, struct buf *out)
{
	return seal(m, purpose, p, n, 0, out);
}

/* The box a token of len bytes decodes to, appended to box. */
static enum relay_err
unb64url(const char *token, size_t len, struct buf *box)
{
	enum relay_err err = RELAY_OK;
	struct buf s;
	size_t i;

	if (len == 0 || len > RSEAL_TOKEN_MAX || len % 4 == 1)
		return RELAY_EINVAL;
	buf_init(&s, RSEAL_TOKEN_MAX + 4);
	for (i = 0; err == RELAY_OK && i < len; i++) {
		char c = token[i];

		/* The standard alphabet's own two are not ours. */
		if (c == '+' || c == '/' || c == '=' || c == '\0')
			err = RELAY_EINVAL;
		else
			err = buf_append(&s,
			    c == '-'       ? "+"
				: c == '_' ? "/"
					   : &c,
			    1);
	}
	while (err == RELAY_OK && s.len % 4 != 0)
		err = buf_append(&s, "=", 1);
	if (err == RELAY_OK)
		err = buf_append(&s, "", 1); /* NUL-terminated for crypto */
	if (err == RELAY_OK)
		err = crypto_unb64(box, s.data);
	buf_reset(&s);
	return err;
}

enum relay_err
rseal_open(const struct creds_master *m, const char *purpose, const char *token,
    size_t len, struct buf *out)
{
	enum relay_err err;
	struct buf box;

	if (!m->have_cur && !m->have_prev)
		return RELAY_ENOTFOUND;
	buf_init(&box, RSEAL_TOKEN_MAX);
	err = unb64url(token, len, &box);
	if (err == RELAY_OK) {
		err = RELAY_EINVAL;
		if (m->have_cur)
			err = crypto_open(m->cur, purpose,
			    (const unsigned char *)box.data, box.len, out);
		/* A box of the other key may overflow out before its tag
		 * is checked: that is a wrong key too. */
		if ((err == RELAY_EINVAL || err == RELAY_ETOOBIG) &&
		    m->have_prev)
			err = crypto_open(m->prev, purpose,
			    (const unsigned char *)box.data, box.len, out);
	}
	buf_reset(&box);
	return err;
}

int
rseal_respid_is(const char *id, size_t len)
{
	size_t n = sizeof(RSEAL_RESPID_PREFIX) - 1;

	return len > n && memcmp(id, RSEAL_RESPID_PREFIX, n) == 0;
}

/* "" or 16 lowercase hex digits. */
static int
fp_ok(const char *s, size_t n)
{
	size_t i;

	if (n != 0 && n != 16)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

enum relay_err
rseal_respid_wrap(
    const struct creds_master *m, const struct rseal_respid *r, struct buf *out)
{
	size_t before = out->len, np, nk, nu;
	char plain[sizeof(r->provider) + sizeof(r->key_fp) +
	    sizeof(r->upstream)];
	enum relay_err err;
	int k;

	np = strnlen(r->provider, sizeof(r->provider));
	nk = strnlen(r->key_fp, sizeof(r->key_fp));
	nu = strnlen(r->upstream, sizeof(r->upstream));
	if (np == 0 || np == sizeof(r->provider) || nu == 0 ||
	    nu == sizeof(r->upstream) || !fp_ok(r->key_fp, nk))
		return RELAY_EINVAL;
	/* provider NUL key NUL upstream: names hold no NUL. */
	k = snprintf(plain, sizeof(plain), "%s%c%s%c%s", r->provider, '\0',
	    r->key_fp, '\0', r->upstream);
	if (k < 0 || (size_t)k >= sizeof(plain))
		return RELAY_EINVAL;
	err = buf_puts(out, RSEAL_RESPID_PREFIX);
	if (err == RELAY_OK)
		err = seal(m, RSEAL_PURPOSE_RESPID, plain, (size_t)k, 1, out);
	if (err != RELAY_OK)
		buf_truncate(out, before);
	return err;
}

/* Split the opened id: three NUL-separated fields. */
static enum relay_err
respid_fields(const char *p, size_t n, struct rseal_respid *r)
{
	const char *z1 = memchr(p, '\0', n), *z2, *u;
	size_t nu;

	if (z1 == NULL || z1 == p || (size_t)(z1 - p) > RELAY_NAME_MAX)
		return RELAY_EINVAL;
	z2 = memchr(z1 + 1, '\0', (size_t)(p + n - (z1 + 1)));
	if (z2 == NULL || !fp_ok(z1 + 1, (size_t)(z2 - (z1 + 1))))
		return RELAY_EINVAL;
	u = z2 + 1;
	nu = (size_t)(p + n - u);
	if (nu == 0 || nu > RELAY_RS_UPSTREAM_ID_MAX ||
	    memchr(u, '\0', nu) != NULL)
		return RELAY_EINVAL;
	memcpy(r->provider, p, (size_t)(z1 - p));
	r->provider[z1 - p] = '\0';
	memcpy(r->key_fp, z1 + 1, (size_t)(z2 - (z1 + 1)));
	r->key_fp[z2 - (z1 + 1)] = '\0';
	memcpy(r->upstream, u, nu);
	r->upstream[nu] = '\0';
	return RELAY_OK;
}

enum relay_err
rseal_respid_unwrap(const struct creds_master *m, const char *id, size_t len,
    struct rseal_respid *r)
{
	size_t n = sizeof(RSEAL_RESPID_PREFIX) - 1;
	enum relay_err err;
	struct buf plain;

	if (!rseal_respid_is(id, len))
		return RELAY_EINVAL;
	buf_init(&plain, sizeof(*r));
	err = rseal_open(m, RSEAL_PURPOSE_RESPID, id + n, len - n, &plain);
	if (err == RELAY_ETOOBIG) /* more than an id holds: not ours */
		err = RELAY_EINVAL;
	if (err == RELAY_OK)
		err = respid_fields(plain.data, plain.len, r);
	buf_reset(&plain);
	return err;
}

/* obj with its top-level "id" (a plain string) wrapped, into out. */
static enum relay_err
rewrite_id(const struct creds_master *m, const char *provider,
    const char *key_fp, struct span obj, struct buf *out)
{
	struct rseal_respid r;
	struct span id;
	enum relay_err err;
	struct buf val;

	err = jsonx_member(obj, "id", &id);
	if (err != RELAY_OK)
		return err;
	if (id.len < 3 || id.len - 2 > RELAY_RS_UPSTREAM_ID_MAX ||
	    id.p[0] != '"' || id.p[id.len - 1] != '"' ||
	    memchr(id.p, '\\', id.len) != NULL ||
	    rseal_respid_is(id.p + 1, id.len - 2)) /* ours already */
		return RELAY_ENOTFOUND;
	memset(&r, 0, sizeof(r));
	snprintf(r.provider, sizeof(r.provider), "%s", provider);
	snprintf(r.key_fp, sizeof(r.key_fp), "%s", key_fp);
	memcpy(r.upstream, id.p + 1, id.len - 2);
	buf_init(&val, 4096);
	err = buf_append(&val, "\"", 1);
	if (err == RELAY_OK)
		err = rseal_respid_wrap(m, &r, &val);
	if (err == RELAY_OK)
		err = buf_append(&val, "\"", 2); /* and a NUL */
	if (err == RELAY_OK)
		err = jsonx_set_member(obj, "id", val.data, out);
	buf_reset(&val);
	return err;
}

enum relay_err
rseal_respid_rewrite(const struct creds_master *m, const char *provider,
    const char *key_fp, struct span body, int response_member, struct buf *out)
{
	size_t before = out->len;
	struct span obj;
	enum relay_err err;
	struct buf inner;

	if (!response_member)
		return rewrite_id(m, provider, key_fp, body, out);
	err = jsonx_member(body, "response", &obj);
	if (err != RELAY_OK)
		return err;
	if (obj.len == 0 || obj.p[0] != '{')
		return RELAY_ENOTFOUND;
	buf_init(&inner, RELAY_UPSTREAM_BODY_MAX);
	err = rewrite_id(m, provider, key_fp, obj, &inner);
	if (err == RELAY_OK)
		err = buf_append(&inner, "", 1); /* NUL-terminated */
	if (err == RELAY_OK)
		err = jsonx_set_member(body, "response", inner.data, out);
	if (err != RELAY_OK && err != RELAY_ENOTFOUND)
		buf_truncate(out, before);
	buf_reset(&inner);
	return err;
}

/* --- reasoning and compaction items ----------------------------------- */

void
rseal_reasoning_reset(struct rseal_reasoning *r)
{
	json_decref(r->text);
	json_decref(r->sig);
	json_decref(r->data);
	memset(r, 0, sizeof(*r));
}

static int
has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n > k && memcmp(s, prefix, k) == 0;
}

int
rseal_reasoning_is(const char *s, size_t n)
{
	return has_prefix(s, n, RSEAL_REASONING_PREFIX);
}

int
rseal_compaction_is(const char *s, size_t n)
{
	return has_prefix(s, n, RSEAL_COMPACTION_PREFIX);
}

/* Seal p (n bytes) for purpose behind prefix. */
static enum relay_err
wrap_prefixed(const struct creds_master *m, const char *prefix,
    const char *purpose, const void *p, size_t n, struct buf *out)
{
	size_t before = out->len;
	enum relay_err err;

	err = buf_puts(out, prefix);
	if (err == RELAY_OK)
		err = seal(m, purpose, p, n, 0, out);
	if (err != RELAY_OK)
		buf_truncate(out, before);
	return err;
}

/* Open the token behind prefix into out (a bounded scratch buffer). */
static enum relay_err
unwrap_prefixed(const struct creds_master *m, const char *prefix,
    const char *purpose, const char *s, size_t n, struct buf *out)
{
	size_t k = strlen(prefix);
	enum relay_err err;

	if (!has_prefix(s, n, prefix))
		return RELAY_EINVAL;
	err = rseal_open(m, purpose, s + k, n - k, out);
	return err == RELAY_ETOOBIG ? RELAY_EINVAL : err;
}

enum relay_err
rseal_reasoning_wrap(const struct creds_master *m,
    const struct rseal_reasoning *r, struct buf *out)
{
	size_t np = strnlen(r->provider, sizeof(r->provider));
	enum relay_err err;
	struct buf plain;
	json_t *o;
	int bad = 0;

	if (np == 0 || np == sizeof(r->provider) ||
	    (r->redacted ? !json_is_string(r->data)
			 : !json_is_string(r->text) && !json_is_string(r->sig)))
		return RELAY_EINVAL;
	if (!m->have_cur)
		return RELAY_ENOTFOUND;
	o = json_pack(
	    "{s:s,s:s}", "p", r->provider, "k", r->redacted ? "r" : "t");
	bad |= o == NULL;
	if (!bad && r->redacted)
		bad |= ir_set(o, "d", json_incref(r->data));
	if (!bad && !r->redacted && json_is_string(r->text))
		bad |= ir_set(o, "x", json_incref(r->text));
	if (!bad && !r->redacted && json_is_string(r->sig))
		bad |= ir_set(o, "s", json_incref(r->sig));
	buf_init(&plain, RSEAL_TOKEN_MAX);
	err = bad ? RELAY_ENOMEM : jsonx_dump(o, &plain);
	json_decref(o);
	if (err == RELAY_OK)
		err = wrap_prefixed(m, RSEAL_REASONING_PREFIX,
		    RSEAL_PURPOSE_REASONING, plain.data, plain.len, out);
	buf_reset(&plain);
	return err == RELAY_ETOOBIG ? RELAY_EINVAL : err;
}

/* A member of the record that must be a string when present. */
static int
opt_str(json_t *o, const char *k, json_t **dst)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL)
		return 1;
	if (!json_is_string(v))
		return 0;
	*dst = json_incref(v);
	return 1;
}

enum relay_err
rseal_reasoning_parse(struct span plain, struct rseal_reasoning *r)
{
	json_t *root = NULL, *p, *k;
	const char *kind;
	enum relay_err err;
	char jerr[96];
	int ok;

	memset(r, 0, sizeof(*r));
	err = jsonx_parse(plain.p, plain.len, &root, jerr, sizeof(jerr));
	if (err != RELAY_OK)
		return err;
	p = json_object_get(root, "p");
	k = json_object_get(root, "k");
	kind = json_string_value(k);
	ok = json_is_object(root) && json_is_string(p) &&
	    json_string_length(p) > 0 &&
	    json_string_length(p) < sizeof(r->provider) &&
	    strlen(json_string_value(p)) == json_string_length(p) &&
	    kind != NULL && (strcmp(kind, "t") == 0 || strcmp(kind, "r") == 0);
	if (ok) {
		memcpy(
		    r->provider, json_string_value(p), json_string_length(p));
		r->redacted = kind[0] == 'r';
		ok = opt_str(root, "x", &r->text) &&
		    opt_str(root, "s", &r->sig) && opt_str(root, "d", &r->data);
		/* What the provider needs back must be there. */
		ok = ok &&
		    (r->redacted ? r->data != NULL && r->text == NULL &&
				r->sig == NULL
				 : r->data == NULL &&
				(r->text != NULL || r->sig != NULL));
	}
	json_decref(root);
	if (!ok) {
		rseal_reasoning_reset(r);
		return RELAY_EINVAL;
	}
	return RELAY_OK;
}

enum relay_err
rseal_reasoning_unwrap(const struct creds_master *m, const char *s, size_t n,
    struct rseal_reasoning *r)
{
	enum relay_err err;
	struct buf plain;

	buf_init(&plain, RSEAL_TOKEN_MAX);
	err = unwrap_prefixed(
	    m, RSEAL_REASONING_PREFIX, RSEAL_PURPOSE_REASONING, s, n, &plain);
	if (err == RELAY_OK)
		err = rseal_reasoning_parse(
		    (struct span){
			plain.data != NULL ? plain.data : "", plain.len},
		    r);
	buf_reset(&plain);
	return err;
}

enum relay_err
rseal_compaction_wrap(
    const struct creds_master *m, struct span summary, struct buf *out)
{
	enum relay_err err;

	if (summary.len == 0)
		return RELAY_EINVAL;
	err = wrap_prefixed(m, RSEAL_COMPACTION_PREFIX,
	    RSEAL_PURPOSE_COMPACTION, summary.p, summary.len, out);
	return err == RELAY_ETOOBIG ? RELAY_EINVAL : err;
}

enum relay_err
rseal_compaction_unwrap(
    const struct creds_master *m, const char *s, size_t n, struct buf *out)
{
	return unwrap_prefixed(
	    m, RSEAL_COMPACTION_PREFIX, RSEAL_PURPOSE_COMPACTION, s, n, out);
}
