/* SPDX-License-Identifier: MIT */
/* fuzz_pii_restore.c - libFuzzer target for lib/pii_out.c's restore.
 * The input: one byte k, then k split offsets of 2 bytes each, then a
 * text. The text is pseudonymised; its placeholders are restored whole
 * and over the k random splits. Invariants: the restored text is the
 * original (when the original held no bracket of its own); the split
 * restore equals the whole one byte for byte (every placeholder exactly
 * once, however it was cut); the held tail is empty or a proper start of
 * a placeholder, shorter than PII_OUT_PH_MAX, and text with no bracket
 * byte pending is never held. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/pii_out.h"

#define MAX_SPLITS 16

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static void
check_hold(const struct pii_restorer *r)
{
	if (r->nhold >= PII_OUT_PH_MAX)
		abort();
	if (r->nhold > 0 && (unsigned char)r->hold[0] != 0xE2)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_pii pol;
	struct pii_out po;
	struct pii_restorer r;
	struct buf masked, whole, split;
	size_t k, i, cut[MAX_SPLITS + 2], from, before;
	const char *text;
	size_t n;

	if (size < 1)
		return 0;
	k = data[0] % (MAX_SPLITS + 1);
	if (size < 1 + 2 * k)
		return 0;
	text = (const char *)data + 1 + 2 * k;
	n = size - 1 - 2 * k;
	for (i = 0; i < PII_ENT__MAX; i++)
		pol.act[i] = PII_ACT_PSEUDO;
	pii_out_init(&po, &pol, NULL);
	buf_init(&masked, 1 << 22);
	buf_init(&whole, 1 << 22);
	buf_init(&split, 1 << 22);
	if (pii_out_text(&po, text, n, &masked) != RELAY_OK)
		goto out;
	if (pii_out_restore(&po, masked.data != NULL ? masked.data : "",
		masked.len, 0, &whole) != RELAY_OK)
		goto out;
	if (memmem(text, n, "\xE2\x9F\xA6", 3) == NULL &&
	    (whole.len != n || memcmp(whole.data, text, n) != 0))
		abort();
	/* The same restore over random cuts of the masked text. */
	for (i = 0; i < k; i++)
		cut[i] = masked.len > 0
		    ? ((size_t)data[1 + 2 * i] << 8 | data[2 + 2 * i]) %
			(masked.len + 1)
		    : 0;
	cut[k] = masked.len;
	qsort(cut, k + 1, sizeof(cut[0]), cmp_size);
	pii_restorer_init(&r, &po, 0);
	from = 0;
	for (i = 0; i <= k; i++) {
		before = split.len;
		if (pii_restorer_feed(&r, masked.data + from, cut[i] - from,
			&split) != RELAY_OK)
			goto out;
		check_hold(&r);
		/* Nothing held before and no bracket lead byte in the
		 * piece: all of it went out at once. */
		if (r.nhold == 0 && cut[i] > from &&
		    memchr(masked.data + from, 0xE2, cut[i] - from) == NULL &&
		    split.len - before < cut[i] - from)
			abort();
		from = cut[i];
	}
	if (pii_restorer_flush(&r, &split) != RELAY_OK)
		goto out;
	if (split.len != whole.len ||
	    (whole.len > 0 && memcmp(split.data, whole.data, whole.len) != 0))
		abort();
out:
	buf_reset(&masked);
	buf_reset(&whole);
	buf_reset(&split);
	pii_out_reset(&po);
	return 0;
}
