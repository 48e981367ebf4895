/* SPDX-License-Identifier: MIT */
/* rseal.c - sealed opaque tokens for clients (see rseal.h). */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "rseal.h"

/* A token is at most this long (base64url of a sealed box): a response id
 * or a compaction summary, never a whole conversation. */
#define RSEAL_TOKEN_MAX (2u * 1024 * 1024)

enum relay_err
rseal_seal(const struct creds_master *m, const char *purpose, const void *p,
    size_t n, struct buf *out)
{
	size_t before = out->len, i, j;
	enum relay_err err;
	struct buf box;

	if (!m->have_cur)
		return RELAY_ENOTFOUND;
	buf_init(&box, RSEAL_TOKEN_MAX);
	err = crypto_seal(m->cur, purpose, p, n, &box);
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

enum relay_err
rseal_respid_wrap(
    const struct creds_master *m, const struct rseal_respid *r, struct buf *out)
{
	size_t before = out->len, np, nu;
	char plain[sizeof(r->provider) + 16 + sizeof(r->upstream)];
	enum relay_err err;
	int k;

	np = strnlen(r->provider, sizeof(r->provider));
	nu = strnlen(r->upstream, sizeof(r->upstream));
	if (np == 0 || np == sizeof(r->provider) || nu == 0 ||
	    nu == sizeof(r->upstream))
		return RELAY_EINVAL;
	/* provider NUL key NUL upstream: names hold no NUL. */
	k = snprintf(plain, sizeof(plain), "%s%c%u%c%s", r->provider, '\0',
	    r->key, '\0', r->upstream);
	if (k < 0 || (size_t)k >= sizeof(plain))
		return RELAY_EINVAL;
	err = buf_puts(out, RSEAL_RESPID_PREFIX);
	if (err == RELAY_OK)
		err =
		    rseal_seal(m, RSEAL_PURPOSE_RESPID, plain, (size_t)k, out);
	if (err != RELAY_OK)
		buf_truncate(out, before);
	return err;
}

/* Split the opened id: three NUL-separated fields, the key in decimal. */
static enum relay_err
respid_fields(const char *p, size_t n, struct rseal_respid *r)
{
	const char *z1 = memchr(p, '\0', n), *z2, *d;
	unsigned long key = 0;

	if (z1 == NULL || z1 == p || (size_t)(z1 - p) > RELAY_NAME_MAX)
		return RELAY_EINVAL;
	z2 = memchr(z1 + 1, '\0', (size_t)(p + n - (z1 + 1)));
	if (z2 == NULL || z2 == z1 + 1 || z2 - z1 > 11 || z2 + 1 == p + n ||
	    (size_t)(p + n - (z2 + 1)) > RELAY_RS_UPSTREAM_ID_MAX ||
	    memchr(z2 + 1, '\0', (size_t)(p + n - (z2 + 1))) != NULL)
		return RELAY_EINVAL;
	for (d = z1 + 1; d < z2; d++) {
		if (*d < '0' || *d > '9')
			return RELAY_EINVAL;
		key = key * 10 + (unsigned long)(*d - '0');
	}
	if (key > 0xffffffffUL)
		return RELAY_EINVAL;
	memcpy(r->provider, p, (size_t)(z1 - p));
	r->provider[z1 - p] = '\0';
	r->key = (unsigned)key;
	memcpy(r->upstream, z2 + 1, (size_t)(p + n - (z2 + 1)));
	r->upstream[p + n - (z2 + 1)] = '\0';
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
