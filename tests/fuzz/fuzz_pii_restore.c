/* SPDX-License-Identifier: MIT */
/* fuzz_pii_restore.c - libFuzzer target for lib/pii_out.c's restore.
 * The input: one byte k, then k split offsets of 2 bytes each, then a
 * text. The text is pseudonymised (with surrogates for phones, IDs and
 * cards when k's byte has its top bit set); its placeholders and
 * surrogates are restored whole and over the k random splits, as JSON
 * text when the byte's next bit is set.
 * Invariants: the restored text is the original (when the original held
 * no bracket and no surrogate of its own); the split restore equals the
 * whole one byte for byte (every placeholder and surrogate exactly once,
 * however it was cut); the held tail is empty, a proper start of a
 * placeholder, shorter than PII_OUT_PH_MAX, or digits that begin a
 * surrogate; text with no bracket byte and no digit pending is never
 * held. */
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
	size_t i;

	if (r->nhold >= PII_OUT_PH_MAX)
		abort();
	if (r->nhold == 0 || (unsigned char)r->hold[0] == 0xE2)
		return;
	/* Digits: the start of (or a whole) surrogate of the map. */
	for (i = 0; i < r->po->nmap; i++) {
		const struct pii_out_entry *en = &r->po->map[i];

		if (en->nsur >= r->nhold &&
		    memcmp(en->sur, r->hold, r->nhold) == 0)
			return;
	}
	abort();
}

/* 1 when the text holds one of the map's surrogates (a number written as
 * one that the scanner did not take would be restored as well). */
static int
holds_surrogate(const struct pii_out *po, const char *t, size_t n)
{
	size_t i;

	for (i = 0; i < po->nmap; i++)
		if (po->map[i].nsur > 0 &&
		    memmem(t, n, po->map[i].sur, po->map[i].nsur) != NULL)
			return 1;
	return 0;
}

/* A held-back piece may only end in what can begin a placeholder or a
 * surrogate: a bracket lead byte or a digit. */
static int
may_hold(const char *p, size_t n, int sur)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] == 0xE2 ||
		    (sur && p[i] >= '0' && p[i] <= '9'))
			return 1;
	return 0;
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
	int json;

	if (size < 1)
		return 0;
	k = data[0] % (MAX_SPLITS + 1);
	if (size < 1 + 2 * k)
		return 0;
	text = (const char *)data + 1 + 2 * k;
	n = size - 1 - 2 * k;
	memset(&pol, 0, sizeof(pol));
	for (i = 0; i < PII_ENT__MAX; i++)
		pol.act[i] = PII_ACT_PSEUDO;
	pol.surrogates = (unsigned char)(data[0] >> 7);
	json = (data[0] >> 6) & 1;
	pii_out_init(&po, &pol, NULL);
	buf_init(&masked, 1 << 22);
	buf_init(&whole, 1 << 22);
	buf_init(&split, 1 << 22);
	if (pii_out_text(&po, text, n, &masked) != RELAY_OK)
		goto out;
	if (pii_out_restore(&po, masked.data != NULL ? masked.data : "",
		masked.len, json, &whole) != RELAY_OK)
		goto out;
	if (!json && memmem(text, n, "\xE2\x9F\xA6", 3) == NULL &&
	    !holds_surrogate(&po, text, n) &&
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
	pii_restorer_init(&r, &po, json);
	from = 0;
	for (i = 0; i <= k; i++) {
		before = split.len;
		if (pii_restorer_feed(&r, masked.data + from, cut[i] - from,
			&split) != RELAY_OK)
			goto out;
		check_hold(&r);
		/* Nothing held before and no bracket lead byte (or
		 * digit, with surrogates) in the piece: all of it went
		 * out at once. */
		if (r.nhold == 0 && cut[i] > from &&
		    !may_hold(masked.data + from, cut[i] - from, po.nsur > 0) &&
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
