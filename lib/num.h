/* SPDX-License-Identifier: MIT */
/* num.h - ranged integer parsing (OpenBSD strtonum(3) semantics), and
 * decimal formatting without printf. */
#ifndef RELAY_NUM_H
#define RELAY_NUM_H

#include <limits.h>
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

/*
 * Saturating arithmetic for counts of tokens, requests and micro-USD: a
 * result beyond the type's range is its end, never a wrap (a reservation
 * that wrapped would let the largest request in as the cheapest).
 */
static inline uint64_t
num_add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline uint64_t
num_mul_sat(uint64_t a, uint64_t b)
{
	return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* a + b for signed counts (an upstream's usage numbers), clamped to
 * [LLONG_MIN, LLONG_MAX] instead of overflowing (undefined in C). */
static inline long long
num_addll_sat(long long a, long long b)
{
	long long r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? LLONG_MAX : LLONG_MIN;
	return r;
}

/*
 * A double as an integer in [0, max], without the undefined conversion
 * of a value beyond the integer's range (0 on x86-64, whatever the size).
 * num_ceil_u64() rounds up, for a price: NaN and +Inf give max (a cost
 * that cannot be computed is as large as any), -0 and below give 0.
 * num_floor_u64() rounds down, for a limit: NaN, -0 and below give 0
 * (which means "no limit" to the caller), +Inf gives max.
 */
uint64_t num_ceil_u64(double d, uint64_t max);
uint64_t num_floor_u64(double d, uint64_t max);

#endif
