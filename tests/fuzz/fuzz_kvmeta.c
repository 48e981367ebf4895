/* SPDX-License-Identifier: MIT */
/* fuzz_kvmeta.c - libFuzzer target for kv_meta_parse(), the reader of
 * memcached's answers to pipelined "ma ... v" commands: never a crash or
 * a read past the input; a count in 0..n, bytes used within the input; a
 * complete answer is "VA <len>...\r\n<len digits>\r\n"; and the same bytes
 * cut to what was used parse to the same answers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/kv.h"
#include "../../lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t v[8], again[8];
	size_t used, used2, n;
	char *p;
	int k, k2;

	if (size == 0)
		return 0;
	n = data[0] % 9; /* how many answers are awaited: 0..8 */
	/* A copy of exactly the input, so ASan sees any read past it. */
	p = mem_malloc(size - 1 > 0 ? size - 1 : 1);
	if (p == NULL)
		return 0;
	memcpy(p, data + 1, size - 1);
	k = kv_meta_parse(p, size - 1, v, n, &used);
	if (k < -1 || k > (int)n || used > size - 1)
		abort();
	if (k > 0) {
		if (used < 8 || memcmp(p, "VA ", 3) != 0 ||
		    p[used - 2] != '\r' || p[used - 1] != '\n')
			abort();
		k2 = kv_meta_parse(p, used, again, (size_t)k, &used2);
		if (k2 != k || used2 != used ||
		    memcmp(v, again, (size_t)k * sizeof(v[0])) != 0)
			abort();
	}
	if (k == 0 && used != 0)
		abort();
	mem_free(p);
	return 0;
}
