/* SPDX-License-Identifier: MIT */
/* num.h - ranged integer parsing (OpenBSD strtonum(3) semantics), and
 * decimal formatting without printf. */
#ifndef RELAY_NUM_H
#define RELAY_NUM_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "err.h"

/*
 * Parse the whole NUL-terminated decimal s (optional leading '-') into
 * *out. RELAY_EINVAL when s is empty, has other characters, overflows, or
 * lies outside [min, max]; *out is then untouched.
 */
enum relay_err num_parse(const char *s, long long min, long long max,
    long long *out) RELAY_MUST_CHECK;

/* Longest num_u64()/num_i64() text: "-9223372036854775808", 20 bytes. */
#define NUM_DIGITS_MAX 20

/* The decimal digits of v into out (no NUL); returns their count. What
 * printf's %llu writes, at a tenth of its cost. */
size_t num_u64(char *out, uint64_t v) RELAY_NONNULL;
/* Same for a signed value, with a leading '-' when negative (%lld). */
size_t num_i64(char *out, int64_t v) RELAY_NONNULL;

#endif
