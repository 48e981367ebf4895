/* SPDX-License-Identifier: MIT */
/* num.c - decimal parsing with a range, overflow-safe. */
#include <limits.h>
#include <stddef.h>

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
