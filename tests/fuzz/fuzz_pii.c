/* SPDX-License-Identifier: MIT */
/* fuzz_pii.c - libFuzzer target for lib/pii.c. Invariants: no digit run
 * of the input that is a valid mobile, resident ID or card number (with a
 * word boundary on both sides) appears bounded in the output; valid UTF-8
 * in gives valid UTF-8 out; the output is at most 2n + 16 bytes. The
 * checks below are written again here, independently of pii.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/pii.h"

static int
dig(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int
alnum(uint8_t c)
{
	return dig(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static unsigned
num(const uint8_t *d, size_t k)
{
	unsigned v = 0;

	while (k-- > 0)
		v = v * 10 + (unsigned)(*d++ - '0');
	return v;
}

static int
date_ok(unsigned y, unsigned m, unsigned d)
{
	return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int
luhn(const uint8_t *d, size_t k)
{
	unsigned sum = 0, v;
	size_t i;

	for (i = 0; i < k; i++) {
		v = (unsigned)(d[k - 1 - i] - '0') * (i % 2 == 1 ? 2 : 1);
		sum += v > 9 ? v - 9 : v;
	}
	return sum % 10 == 0;
}

/* A bounded run d[0, k) (digits, the 18th may be X): is it personal? */
static int
valid(const uint8_t *d, size_t k)
{
	static const unsigned w[17] = {
	    7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	unsigned sum = 0;
	size_t i;

	if (k == 11 && d[0] == '1' && d[1] >= '3')
		return 1;
	if (k >= 13 && k <= 19 && d[0] >= '2' && d[0] <= '6' && dig(d[k - 1]) &&
	    luhn(d, k))
		return 1;
	if (d[0] < '1' || d[0] > '8')
		return 0;
	if (k == 15 &&
	    date_ok(1900 + num(d + 6, 2), num(d + 8, 2), num(d + 10, 2)))
		return 1;
	if (k != 18 || !date_ok(num(d + 6, 4), num(d + 10, 2), num(d + 12, 2)))
		return 0;
	for (i = 0; i < 17; i++)
		sum += w[i] * (unsigned)(d[i] - '0');
	return "10X98765432"[sum % 11] == (d[17] == 'x' ? 'X' : d[17]);
}

/* Length of the bounded run at i (digits, optional X after 17), or 0. */
static size_t
run_at(const uint8_t *p, size_t n, size_t i)
{
	size_t j = i;

	if (!dig(p[i]) || (i > 0 && alnum(p[i - 1])))
		return 0;
	while (j < n && dig(p[j]))
		j++;
	if (j - i == 17 && j < n && (p[j] == 'X' || p[j] == 'x'))
		j++;
	if (j < n && alnum(p[j]))
		return 0;
	return j - i;
}

/* Every valid bounded run of out must not be one of in's. */
static void
check_runs(const uint8_t *in, size_t n, const uint8_t *out, size_t m)
{
	size_t i, j, k, l;

	for (i = 0; i < m; i++) {
		k = run_at(out, m, i);
		if (k == 0 || !valid(out + i, k))
			continue;
		for (j = 0; j + k <= n; j++) {
			l = run_at(in, n, j);
			if (l == k && memcmp(in + j, out + i, k) == 0)
				abort();
		}
	}
}

/* RFC 3629 §4 well-formed UTF-8. */
static int
utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0, k, j;
	uint32_t cp;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			k = 1, cp = p[i] & 0x1f;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			k = 2, cp = p[i] & 0x0f;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			k = 3, cp = p[i] & 0x07;
		else
			return 0;
		if (n - i <= k)
			return 0;
		for (j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if ((k == 2 &&
			(cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += k + 1;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;

	if (size > 8192)
		return 0;
	buf_init(&out, 2 * size + 16);
	if (pii_mask((const char *)data, size, &out) != RELAY_OK)
		abort();
	if (out.len > 2 * size + 16)
		abort();
	check_runs(data, size, (const uint8_t *)out.data, out.len);
	if (utf8_ok(data, size) && !utf8_ok((const uint8_t *)out.data, out.len))
		abort();
	buf_reset(&out);
	return 0;
}
