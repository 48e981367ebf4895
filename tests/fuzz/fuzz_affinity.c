/* SPDX-License-Identifier: MIT */
/* fuzz_affinity.c - libFuzzer target for affinity_parse(), the reader of
 * a session's record as memcached (a store other processes write) hands
 * it back: never a crash or a read past the input; a record accepted has
 * a target without a space that fits, and a key fingerprint of none or
 * 16 lower-case hex digits. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/affinity.h"
#include "../../lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct affinity_rec r;
	size_t tl, fl, i;
	char *p;

	/* A copy of exactly the input, so ASan sees any read past it. */
	p = mem_malloc(size > 0 ? size : 1);
	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	if (affinity_parse(p, size, &r) == RELAY_OK) {
		tl = strnlen(r.target, sizeof(r.target));
		fl = strnlen(r.fp, sizeof(r.fp));
		if (tl == 0 || tl == sizeof(r.target) ||
		    memchr(r.target, ' ', tl) != NULL ||
		    (fl != 0 && fl != 16) || tl + 1 + fl != size ||
		    memcmp(p, r.target, tl) != 0)
			abort();
		for (i = 0; i < fl; i++)
			if (!((r.fp[i] >= '0' && r.fp[i] <= '9') ||
				(r.fp[i] >= 'a' && r.fp[i] <= 'f')))
				abort();
	}
	mem_free(p);
	return 0;
}
