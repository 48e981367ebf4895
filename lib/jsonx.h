/* SPDX-License-Identifier: MIT */
/* jsonx.h - the project's only door to jansson, plus a raw top-level
 * member scanner so requests can be edited without re-serialising them. */
#ifndef RELAY_JSONX_H
#define RELAY_JSONX_H

#include <jansson.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"

/*
 * Parse n bytes of untrusted JSON. Duplicate object keys are refused (two
 * "model" keys must not mean one thing to us and another to the upstream),
 * and nesting deeper than RELAY_JSON_DEPTH_MAX is refused. On success *out
 * holds a new reference. RELAY_EINVAL with a one-line reason in errbuf
 * (size errsz) on bad input, RELAY_ENOMEM when memory is short.
 */
enum relay_err jsonx_parse(const char *p, size_t n, json_t **out, char *errbuf,
    size_t errsz) RELAY_MUST_CHECK;

/* Append the compact serialisation of v to b. RELAY_ENOMEM or
 * RELAY_ETOOBIG on failure. */
enum relay_err jsonx_dump(const json_t *v, struct buf *b) RELAY_MUST_CHECK;

/*
 * Find the raw value of top-level member key in the JSON object text body.
 * RELAY_OK with *val spanning the value's bytes; RELAY_ENOTFOUND when the
 * object has no such member; RELAY_EINVAL when body is not a well-formed
 * object to this scanner or a key uses escapes (the caller then falls back
 * to jansson).
 */
enum relay_err jsonx_member(
    struct span body, const char *key, struct span *val) RELAY_MUST_CHECK;

/* jsonx_member() for n keys in one pass: vals[i] spans key i's value, or
 * is {NULL, 0} when absent. RELAY_OK (also when none is there) or
 * RELAY_EINVAL as jsonx_member(). */
enum relay_err jsonx_members(struct span body, const char *const *keys,
    size_t n, struct span *vals) RELAY_MUST_CHECK;

/*
 * Write into out a copy of the object text body in which top-level member
 * key has the raw JSON value json (replaced when present, inserted first
 * otherwise). Other bytes are copied untouched. Errors as jsonx_member(),
 * plus buf_append()'s.
 */
enum relay_err jsonx_set_member(struct span body, const char *key,
    const char *json, struct buf *out) RELAY_MUST_CHECK;

/* 1 when body is one well-formed JSON value to the raw scanner (its
 * structure: brackets, strings, separators; no allocation), 0 when not. */
int jsonx_well_formed(struct span body);

/* Nesting depth of v (a scalar is 1). */
size_t jsonx_depth(const json_t *v);

#endif
