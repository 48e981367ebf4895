/* SPDX-License-Identifier: MIT */
/* buf.c - bounded byte buffers; every buffer has a hard maximum. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "num.h"
#include "mem.h"

struct span
span_str(const char *s)
{
	struct span sp = {s, s != NULL ? strlen(s) : 0};

	return sp;
}

int
span_eq(struct span a, const char *lit)
{
	size_t n = strlen(lit);

	return a.len == n && (n == 0 || memcmp(a.p, lit, n) == 0);
}

int
span_caseeq(struct span a, const char *lit)
{
	size_t n = strlen(lit);

	return a.len == n && (n == 0 || strncasecmp(a.p, lit, n) == 0);
}

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_reset(struct buf *b)
{
	mem_free(b->data);
	buf_init(b, b->max);
}

void
buf_clear(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Make room for n more bytes plus the trailing NUL. */
static enum relay_err
buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	assert(b->len <= b->max);
	if (n > b->max - b->len)
		return RELAY_ETOOBIG;
	need = b->len + n + 1;
	if (need <= b->cap)
		return RELAY_OK;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = mem_reallocarray(b->data, cap, 1);
	if (p == NULL)
		return RELAY_ENOMEM;
	b->data = p;
	b->cap = cap;
	return RELAY_OK;
}

enum relay_err
buf_append(struct buf *b, const void *p, size_t n)
{
	enum relay_err err;

	err = buf_reserve(b, n);
	if (err != RELAY_OK)
		return err;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return RELAY_OK;
}

enum relay_err
buf_extend(struct buf *b, size_t n, char **tail)
{
	enum relay_err err;

	*tail = NULL;
	err = buf_reserve(b, n);
	if (err != RELAY_OK)
		return err;
	*tail = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return RELAY_OK;
}

void
buf_truncate(struct buf *b, size_t n)
{
	assert(n <= b->len);
	b->len = n;
	if (b->data != NULL)
		b->data[n] = '\0';
}

enum relay_err
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/*
 * The formats most of the code uses, done without vsnprintf(): %s %c %d
 * %ld %lld %u %lu %llu %zu and %%, with no flag, width or precision. 1 when
 * fmt holds only those.
 */
static int
plain_format(const char *fmt)
{
	const char *p = fmt;

	while ((p = strchr(p, '%')) != NULL) {
		p++;
		if (*p == '%' || *p == 's' || *p == 'c' || *p == 'd' ||
		    *p == 'u')
			p++;
		else if (p[0] == 'z' && p[1] == 'u')
			p += 2;
		else if (p[0] == 'l' && (p[1] == 'd' || p[1] == 'u'))
			p += 2;
		else if (p[0] == 'l' && p[1] == 'l' &&
		    (p[2] == 'd' || p[2] == 'u'))
			p += 3;
		else
			return 0;
	}
	return 1;
}

static enum relay_err
plain_printf(struct buf *b, const char *fmt, va_list ap)
{
	char num[NUM_DIGITS_MAX];
	const char *p = fmt, *pc;
	enum relay_err err = RELAY_OK;

	while (err == RELAY_OK && (pc = strchr(p, '%')) != NULL) {
		int lng = 0, sz = 0;
		char conv;
		size_t n = 0;

		if (pc > p)
			err = buf_append(b, p, (size_t)(pc - p));
		pc++;
		while (*pc == 'l') {
			lng++;
			pc++;
		}
		if (*pc == 'z') {
			sz = 1;
			pc++;
		}
		conv = *pc++;
		p = pc;
		if (err != RELAY_OK)
			break;
		switch (conv) {
		case '%': err = buf_append(b, "%", 1); continue;
		case 'c':
			num[0] = (char)va_arg(ap, int);
			err = buf_append(b, num, 1);
			continue;
		case 's': {
			const char *s = va_arg(ap, const char *);

			err = buf_puts(b, s != NULL ? s : "(null)");
			continue;
		}
		case 'd':
			n = lng >= 2   ? num_i64(num, va_arg(ap, long long))
			    : lng == 1 ? num_i64(num, va_arg(ap, long))
				       : num_i64(num, va_arg(ap, int));
			break;
		default: /* 'u' */
			n = sz ? num_u64(num, va_arg(ap, size_t))
			    : lng >= 2
			    ? num_u64(num, va_arg(ap, unsigned long long))
			    : lng == 1 ? num_u64(num, va_arg(ap, unsigned long))
				       : num_u64(num, va_arg(ap, unsigned));
			break;
		}
		err = buf_append(b, num, n);
	}
	if (err == RELAY_OK && *p != '\0')
		err = buf_puts(b, p);
	return err;
}

enum relay_err
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list again;
	int n;
	enum relay_err err;

	if (plain_format(fmt)) {
		size_t at = b->len;
		enum relay_err e = plain_printf(b, fmt, ap);

		if (e != RELAY_OK && b->data != NULL)
			buf_truncate(b, at);
		return e;
	}
	/* Format once into the room there is; only text that does not fit
	 * is formatted a second time, into a grown buffer. */
	va_copy(again, ap);
	n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, ap);
	if (n < 0) {
		if (room > 0)
			b->data[b->len] = '\0';
		va_end(again);
		return RELAY_EINVAL;
	}
	if ((size_t)n < room && (size_t)n <= b->max - b->len) {
		b->len += (size_t)n;
		va_end(again);
		return RELAY_OK;
	}
	if (room > 0)
		b->data[b->len] = '\0';
	err = buf_reserve(b, (size_t)n);
	if (err == RELAY_OK) {
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
	return err;
}

enum relay_err
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	enum relay_err err;

	va_start(ap, fmt);
	err = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return err;
}

enum relay_err
buf_json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	enum relay_err err = RELAY_OK;
	size_t i, run = 0;
	char esc[7];

	for (i = 0; i < n && err == RELAY_OK; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		err = buf_append(b, s + run, i - run);
		if (err != RELAY_OK)
			break;
		esc[0] = '\\';
		if (c == '"' || c == '\\')
			esc[1] = (char)c;
		else if (c == '\n')
			esc[1] = 'n';
		else if (c == '\r')
			esc[1] = 'r';
		else if (c == '\t')
			esc[1] = 't';
		else {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		err = buf_append(b, esc, elen);
		run = i + 1;
	}
	if (err == RELAY_OK)
		err = buf_append(b, s + run, n - run);
	return err;
}

enum relay_err
buf_json_member(struct buf *b, const char *name, const char *s, size_t n)
{
	enum relay_err err = buf_append(b, ",\"", 2);

	if (err == RELAY_OK)
		err = buf_puts(b, name);
	if (err == RELAY_OK)
		err = buf_append(b, "\":\"", 3);
	if (err == RELAY_OK)
		err = buf_json_escape(b, s, n);
	if (err == RELAY_OK)
		err = buf_append(b, "\"", 1);
	return err;
}

void
buf_consume(struct buf *b, size_t n)
{
	assert(n <= b->len);
	if (n > 0) /* data may be NULL: memmove(NULL, ...) is undefined */
		memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

char *
buf_steal(struct buf *b)
{
	char *p = b->data;

	buf_init(b, b->max);
	return p;
}
