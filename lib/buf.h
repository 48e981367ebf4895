/* SPDX-License-Identifier: MIT */
/* buf.h - growable byte buffers, each with a hard ceiling set at init. */
#ifndef RELAY_BUF_H
#define RELAY_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "compiler.h"
#include "err.h"

/*
 * Untrusted bytes travel as a (pointer, length) pair and are never assumed
 * to be NUL-terminated.
 */
struct span {
	const char *p;
	size_t len;
};

#define SPAN_LIT(s) ((struct span){(s), sizeof(s) - 1})

/* Span over a NUL-terminated string we built ourselves (s may be NULL). */
struct span span_str(const char *s);
/* 1 when a and b hold the same bytes. */
int span_eq(struct span a, const char *lit);
/* 1 when a and lit are equal ignoring ASCII case. */
int span_caseeq(struct span a, const char *lit);

/*
 * Callers allocate struct buf themselves; the fields are read-only outside
 * buf.c. The data is always NUL-terminated past len (not counted), so a
 * buffer we filled can be handed to APIs that want a C string.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* Start empty with ceiling max (bytes of content). Allocates nothing. */
void buf_init(struct buf *b, size_t max) RELAY_NONNULL;
/* Release the memory; b stays usable (empty, same ceiling). */
void buf_reset(struct buf *b) RELAY_NONNULL;
/* Forget the content but keep the memory. */
void buf_clear(struct buf *b) RELAY_NONNULL;
/*
 * Append n bytes. RELAY_ETOOBIG when len would pass max, RELAY_ENOMEM when
 * memory is short; the buffer is unchanged and valid in both cases.
 */
enum relay_err buf_append(
    struct buf *b, const void *p, size_t n) RELAY_MUST_CHECK;
/*
 * Grow len by n bytes left for the caller to fill through *tail (valid
 * until the next call on b). Errors as buf_append(); *tail is then NULL.
 */
enum relay_err buf_extend(
    struct buf *b, size_t n, char **tail) RELAY_MUST_CHECK;
/* Shrink len to n (n <= len), keeping the memory. */
void buf_truncate(struct buf *b, size_t n) RELAY_NONNULL;
/* Append a NUL-terminated string. Errors as buf_append(). */
enum relay_err buf_puts(struct buf *b, const char *s) RELAY_MUST_CHECK;
/* Append formatted text. Errors as buf_append(), RELAY_EINVAL on a bad
 * format. */
enum relay_err buf_printf(struct buf *b, const char *fmt, ...)
    RELAY_PRINTF(2, 3) RELAY_MUST_CHECK;
/* buf_printf() with a va_list. */
enum relay_err buf_vprintf(
    struct buf *b, const char *fmt, va_list ap) RELAY_MUST_CHECK;
/* Append s as the body of a JSON string (escaped, without quotes). */
enum relay_err buf_json_escape(
    struct buf *b, const char *s, size_t n) RELAY_MUST_CHECK;
/* Append the JSON object member ,"name":"<s escaped>" (name is plain
 * ASCII and not escaped). Errors as buf_append(). */
enum relay_err buf_json_member(
    struct buf *b, const char *name, const char *s, size_t n) RELAY_MUST_CHECK;
/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n) RELAY_NONNULL;
/*
 * Hand the data to the caller, who frees it with mem_free(); the buffer is
 * left empty. Returns NULL when the buffer never held data.
 */
char *buf_steal(struct buf *b) RELAY_NONNULL;

#endif
