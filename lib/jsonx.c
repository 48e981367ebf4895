/* SPDX-License-Identifier: MIT */
/* jsonx.c - jansson behind bounded helpers; a tiny raw scanner for
 * top-level members (RFC 8259 grammar, values skipped, not decoded). */
#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "limits.h"
#include "mem.h"

/*
 * jansson allocates through our wrappers so that failures are testable.
 * It does not report every allocation failure as one (its lexer ignores a
 * failed token-buffer growth and returns a truncated string), so the
 * parser's allocations note their failure here, per thread.
 */
static _Thread_local int jsonx_alloc_failed;

static void *
jsonx_malloc(size_t n)
{
	void *p = mem_malloc(n);

	if (p == NULL)
		jsonx_alloc_failed = 1;
	return p;
}

static void
jsonx_free(void *p)
{
	mem_free(p);
}

static void
jsonx_init_once(void)
{
	static int done;

	if (!__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
		json_set_alloc_funcs(jsonx_malloc, jsonx_free);
}

size_t
jsonx_depth(const json_t *v)
{
	size_t max = 0, d, i;
	const char *k;
	json_t *c;

	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, k, c) {
			d = jsonx_depth(c);
			if (d > max)
				max = d;
			if (max > RELAY_JSON_DEPTH_MAX)
				break;
		}
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, c) {
			d = jsonx_depth(c);
			if (d > max)
				max = d;
			if (max > RELAY_JSON_DEPTH_MAX)
				break;
		}
	}
	return max + 1;
}

enum relay_err
jsonx_parse(const char *p, size_t n, json_t **out, char *errbuf, size_t errsz)
{
	json_error_t je;
	json_t *v;

	jsonx_init_once();
	*out = NULL;
	/* Valid JSON never holds a raw NUL byte; jansson lets some through
	 * (after a literal), where our raw scanner would stop. */
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		snprintf(errbuf, errsz,
		    "invalid JSON: a NUL byte at offset %zu",
		    (size_t)((const char *)memchr(p, '\0', n) - p));
		return RELAY_EINVAL;
	}
	jsonx_alloc_failed = 0;
	v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (jsonx_alloc_failed) {
		json_decref(v);
		return RELAY_ENOMEM;
	}
	if (v == NULL) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return RELAY_ENOMEM;
		snprintf(errbuf, errsz, "invalid JSON at line %d column %d: %s",
		    je.line, je.column, je.text);
		return RELAY_EINVAL;
	}
	if (jsonx_depth(v) > RELAY_JSON_DEPTH_MAX) {
		json_decref(v);
		snprintf(errbuf, errsz, "JSON nested deeper than %d levels",
		    RELAY_JSON_DEPTH_MAX);
		return RELAY_EINVAL;
	}
	*out = v;
	return RELAY_OK;
}

static int
jsonx_dump_cb(const char *p, size_t n, void *arg)
{
	return buf_append(arg, p, n) == RELAY_OK ? 0 : -1;
}

enum relay_err
jsonx_dump(const json_t *v, struct buf *b)
{
	size_t before = b->len;

	jsonx_init_once();
	if (json_dump_callback(v, jsonx_dump_cb, b,
		JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) !=
	    0) {
		buf_truncate(b, before);
		return b->max - before < 64 ? RELAY_ETOOBIG : RELAY_ENOMEM;
	}
	return RELAY_OK;
}

/* --- raw scanner: positions only, never allocates -------------------- */

struct jscan {
	const char *p;
	size_t len;
	size_t pos;
	int escaped; /* the last string scanned held a backslash */
};

static void
jscan_ws(struct jscan *s)
{
	while (s->pos < s->len) {
		char c = s->p[s->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		s->pos++;
	}
}

/* At a '"': skip the string; 0 on success. */
static int
jscan_string(struct jscan *s)
{
	s->escaped = 0;
	s->pos++;
	while (s->pos < s->len) {
		unsigned char c = (unsigned char)s->p[s->pos++];

		if (c == '"')
			return 0;
		if (c == '\\') {
			s->escaped = 1;
			if (s->pos >= s->len)
				return -1;
			s->pos++;
		} else if (c < 0x20)
			return -1;
	}
	return -1;
}

/* Skip one value of any kind, iteratively, bounded nesting. */
static int
jscan_value(struct jscan *s)
{
	size_t depth = 0;

	for (;;) {
		char c;

		jscan_ws(s);
		if (s->pos >= s->len)
			return -1;
		c = s->p[s->pos];
		if (c == '"') {
			if (jscan_string(s) != 0)
				return -1;
		} else if (c == '{' || c == '[') {
			if (++depth > RELAY_JSON_DEPTH_MAX)
				return -1;
			s->pos++;
			continue;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return -1;
			depth--;
			s->pos++;
		} else if (c == ',' || c == ':') {
			if (depth == 0)
				return -1;
			s->pos++;
			continue;
		} else {
			size_t start = s->pos;

			while (s->pos < s->len && s->p[s->pos] != '\0' &&
			    strchr("+-.0123456789eEtruefalsn", s->p[s->pos]))
				s->pos++;
			if (s->pos == start)
				return -1;
		}
		if (depth == 0)
			return 0;
	}
}

int
jsonx_well_formed(struct span body)
{
	struct jscan s = {body.p, body.len, 0, 0};

	if (jscan_value(&s) != 0)
		return 0;
	jscan_ws(&s);
	return s.pos == s.len;
}

enum relay_err
jsonx_members(
    struct span body, const char *const *keys, size_t n, struct span *vals)
{
	struct jscan s = {body.p, body.len, 0, 0};
	size_t ks, ke, i;

	for (i = 0; i < n; i++)
		vals[i] = (struct span){NULL, 0};
	jscan_ws(&s);
	if (s.pos >= s.len || s.p[s.pos] != '{')
		return RELAY_EINVAL;
	s.pos++;
	jscan_ws(&s);
	if (s.pos < s.len && s.p[s.pos] == '}') {
		s.pos++;
		jscan_ws(&s);
		return s.pos == s.len ? RELAY_OK : RELAY_EINVAL;
	}
	for (;;) {
		struct span *want = NULL;

		jscan_ws(&s);
		if (s.pos >= s.len || s.p[s.pos] != '"')
			return RELAY_EINVAL;
		ks = s.pos + 1;
		if (jscan_string(&s) != 0 || s.escaped)
			return RELAY_EINVAL;
		ke = s.pos - 1;
		jscan_ws(&s);
		if (s.pos >= s.len || s.p[s.pos] != ':')
			return RELAY_EINVAL;
		s.pos++;
		jscan_ws(&s);
		/* The first of duplicate keys counts (jsonx_parse() refuses
		 * them anyway). */
		for (i = 0; i < n && want == NULL; i++)
			if (vals[i].p == NULL && strlen(keys[i]) == ke - ks &&
			    memcmp(s.p + ks, keys[i], ke - ks) == 0)
				want = &vals[i];
		if (want != NULL)
			want->p = s.p + s.pos;
		if (jscan_value(&s) != 0)
			return RELAY_EINVAL;
		if (want != NULL)
			want->len = (size_t)(s.p + s.pos - want->p);
		jscan_ws(&s);
		if (s.pos >= s.len)
			return RELAY_EINVAL;
		if (s.p[s.pos] == '}')
			break;
		if (s.p[s.pos] != ',')
			return RELAY_EINVAL;
		s.pos++;
	}
	s.pos++;
	jscan_ws(&s);
	return s.pos == s.len ? RELAY_OK : RELAY_EINVAL;
}

enum relay_err
jsonx_member(struct span body, const char *key, struct span *val)
{
	enum relay_err err = jsonx_members(body, &key, 1, val);

	if (err == RELAY_OK && val->p == NULL)
		return RELAY_ENOTFOUND;
	return err;
}

enum relay_err
jsonx_set_member(
    struct span body, const char *key, const char *json, struct buf *out)
{
	struct span val;
	enum relay_err err;
	const char *brace;
	size_t head, i;

	err = jsonx_member(body, key, &val);
	if (err == RELAY_OK) {
		head = (size_t)(val.p - body.p);
		err = buf_append(out, body.p, head);
		if (err == RELAY_OK)
			err = buf_puts(out, json);
		if (err == RELAY_OK)
			err = buf_append(
			    out, val.p + val.len, body.len - head - val.len);
		return err;
	}
	if (err != RELAY_ENOTFOUND)
		return err;
	brace = memchr(body.p, '{', body.len);
	head = (size_t)(brace - body.p) + 1;
	err = buf_append(out, body.p, head);
	if (err == RELAY_OK)
		err = buf_printf(out, "\"%s\":%s", key, json);
	/* A comma unless the object was empty. */
	i = head;
	while (i < body.len &&
	    (body.p[i] == ' ' || body.p[i] == '\t' || body.p[i] == '\r' ||
		body.p[i] == '\n'))
		i++;
	if (err == RELAY_OK && i < body.len && body.p[i] != '}')
		err = buf_append(out, ",", 1);
	if (err != RELAY_OK)
		return err;
	return buf_append(out, body.p + head, body.len - head);
}
