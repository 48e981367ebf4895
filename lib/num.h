/* SPDX-License-Identifier: MIT */
/* num.h - ranged integer parsing (OpenBSD strtonum(3) semantics). */
#ifndef RELAY_NUM_H
#define RELAY_NUM_H

#include "compiler.h"
#include "err.h"

/*
 * Parse the whole NUL-terminated decimal s (optional leading '-') into
 * *out. RELAY_EINVAL when s is empty, has other characters, overflows, or
 * lies outside [min, max]; *out is then untouched.
 */
enum relay_err num_parse(const char *s, long long min, long long max,
    long long *out) RELAY_MUST_CHECK;

#endif
