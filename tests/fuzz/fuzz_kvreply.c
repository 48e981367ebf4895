/* SPDX-License-Identifier: MIT */
/* fuzz_kvreply.c - libFuzzer target for kv_meta_reply(), the reader of
 * one memcached meta-protocol reply (mg, ms, md, ma, mn): never a crash
 * or a read past the input; a reply found is whole (ends in CRLF, a
 * value lies inside it and ends where its CRLF starts); the same bytes
 * cut to the reply parse the same; any shorter cut is "not whole yet". */
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
	struct kv_reply r, r2;
	size_t used, used2, cut;
	char *p;
	int k;

	/* A copy of exactly the input, so ASan sees any read past it. */
	p = mem_malloc(size > 0 ? size : 1);
	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	k = kv_meta_reply(p, size, &r, &used);
	if (k < -1 || k > 1 || used > size || (k != 1 && used != 0))
		abort();
	if (k == 1) {
		if (used < 4 || p[used - 2] != '\r' || p[used - 1] != '\n' ||
		    r.kind < KV_R_VA || r.kind > KV_R_ERR)
			abort();
		if (r.kind == KV_R_VA &&
		    (r.val < p || r.val + r.vlen + 2 != p + used ||
			r.vlen > RELAY_KV_VALUE_MAX))
			abort();
		if (kv_meta_reply(p, used, &r2, &used2) != 1 || used2 != used ||
		    r2.kind != r.kind || r2.vlen != r.vlen)
			abort();
		cut = used - 1 - (size_t)data[0] % used;
		if (kv_meta_reply(p, cut, &r2, &used2) != 0)
			abort();
	}
	mem_free(p);
	return 0;
}
