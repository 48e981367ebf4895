/* SPDX-License-Identifier: MIT */
/* num.c - decimal parsing with a range, overflow-safe. */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "num.h"

enum relay_err
num_parse(const char *s, long long min, long long max, long long *out)
{
	unsigned long long v = 0, lim;
	int neg = 0;
	size_t i = 0;

	if (s == NULL)
		return RELAY_EINVAL;
	if (s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (s[i] == '\0')
		return RELAY_EINVAL;
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	for (; s[i] != '\0'; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return RELAY_EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10)
			return RELAY_EINVAL;
		v = v * 10 + d;
	}
	if (neg) {
		long long r = v == (unsigned long long)LLONG_MAX + 1
		    ? LLONG_MIN
		    : -(long long)v;

		if (r < min || r > max)
			return RELAY_EINVAL;
		*out = r;
		return RELAY_OK;
	}
	if ((long long)v < min || (long long)v > max)
		return RELAY_EINVAL;
	*out = (long long)v;
	return RELAY_OK;
}

size_t
num_u64(char *out, uint64_t v)
{
	char tmp[NUM_DIGITS_MAX];
	size_t n = 0;

	do {
		tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	memcpy(out, tmp + sizeof(tmp) - n, n);
	return n;
}

size_t
num_i64(char *out, int64_t v)
{
	if (v >= 0)
		return num_u64(out, (uint64_t)v);
	out[0] = '-';
	return 1 + num_u64(out + 1, (uint64_t)0 - (uint64_t)v);
}

uint64_t
num_ceil_u64(double d, uint64_t max)
{
	uint64_t r;

	if (d != d || d >= (double)max)
		return max; /* NaN, +Inf, or beyond: (double)max may round up */
	if (!(d > 0))
		return 0;
	r = (uint64_t)d; /* 0 < d < 2^64: defined */
	if ((double)r < d && r < max)
		r++;
	return r > max ? max : r;
}

uint64_t
num_floor_u64(double d, uint64_t max)
{
	uint64_t r;

	if (!(d > 0))
		return 0;
	if (d >= (double)max)
		return max;
	r = (uint64_t)d;
	return r > max ? max : r;
}
