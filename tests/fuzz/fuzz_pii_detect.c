/* SPDX-License-Identifier: MIT */
/* fuzz_pii_detect.c - libFuzzer target for lib/pii_detect.c: a detector's
 * answer over a text. The input: two bytes k (the text's length, bounded
 * by what is there), the text, then the answer. Invariants: the parser
 * never reads outside either; on RELAY_OK every value kept is a piece of
 * the text of at least 2 bytes, of kind NAME or ADDRESS, with no white
 * space at either end and no separator in it; the text rewritten with
 * those values and restored is the text again (when it holds no
 * placeholder bracket of its own). A code-point cursor moved about the
 * text agrees with a fresh one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/pii_detect.h"
#include "../../lib/pii_out.h"

static void
check_found(const struct pii_out *po, const char *t, size_t tn)
{
	size_t i;

	for (i = 0; i < po->nfound; i++) {
		const struct pii_out_entry *f = &po->found[i];
		char a = f->orig[0], z = f->orig[f->len - 1];

		if (f->len < 2 || f->len > tn ||
		    memmem(t, tn, f->orig, f->len) == NULL ||
		    (f->type != PII_ENT_NAME && f->type != PII_ENT_ADDRESS) ||
		    memmem(f->orig, f->len, PII_DETECT_SEP,
			sizeof(PII_DETECT_SEP) - 1) != NULL ||
		    a == ' ' || a == '\n' || z == ' ' || z == '\n')
			abort();
	}
}

static void
check_round_trip(struct pii_out *po, const char *t, size_t tn)
{
	struct buf w, r;

	if (memmem(t, tn, "\xE2\x9F\xA6", 3) != NULL)
		return;
	buf_init(&w, 1 << 22);
	buf_init(&r, 1 << 22);
	if (pii_out_text(po, t, tn, &w) == RELAY_OK && po->blocked == 0 &&
	    pii_out_restore(po, w.data != NULL ? w.data : "", w.len, 0, &r) ==
		RELAY_OK &&
	    (r.len != tn || (tn > 0 && memcmp(r.data, t, tn) != 0)))
		abort();
	buf_reset(&w);
	buf_reset(&r);
}

static void
check_cursor(const char *t, size_t tn, const uint8_t *data, size_t size)
{
	struct pii_cp c, fresh;
	size_t i, b1, b2;

	pii_cp_init(&c, t, tn);
	for (i = 0; i + 1 < size && i < 32; i += 2) {
		size_t cp = ((size_t)data[i] << 8 | data[i + 1]) % (tn + 2);
		int r1 = pii_cp_seek(&c, cp, &b1);
		int r2;

		pii_cp_init(&fresh, t, tn);
		r2 = pii_cp_seek(&fresh, cp, &b2);
		if (r1 != r2 || (r1 == 0 && (b1 != b2 || b1 > tn)))
			abort();
		if (r1 != 0) /* left past the end: start again */
			pii_cp_init(&c, t, tn);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_pii pol;
	struct pii_out po;
	const char *t, *ans;
	size_t k, i, an;

	if (size < 2)
		return 0;
	k = ((size_t)data[0] << 8 | data[1]) % (size - 1);
	t = (const char *)data + 2;
	ans = t + k;
	an = size - 2 - k;
	memset(&pol, 0, sizeof(pol));
	for (i = 0; i < PII_ENT__MAX; i++)
		pol.act[i] = PII_ACT_PSEUDO;
	pii_out_init(&po, &pol, NULL);
	if (pii_detect_parse(ans, an, t, k, 0.5, &po) == RELAY_OK) {
		check_found(&po, t, k);
		check_round_trip(&po, t, k);
	}
	pii_out_reset(&po);
	check_cursor(t, k, (const uint8_t *)ans, an);
	return 0;
}
