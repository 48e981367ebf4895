/* SPDX-License-Identifier: MIT */
/* fuzz_cache.c - libFuzzer target for cache_header_parse(): what part 0
 * of a cache entry says (memcached may hold anything under our keys: an
 * older version's entry, a torn write, another program's value). Any
 * bytes parse or are refused; an accepted header names a sane entry. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/cache.h"
#include "../../lib/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cache_entry e;
	struct cache_header h;

	cache_entry_init(&e, 1024);
	if (cache_header_parse((const char *)data, size, &e, &h) == RELAY_OK) {
		if (h.parts < 1 || h.parts > RELAY_CACHE_PARTS_MAX ||
		    h.len > RELAY_CACHE_MAX_BYTES_CEILING ||
		    strlen(h.sum) != 64 || (unsigned)e.d >= DIALECT__MAX ||
		    memchr(e.target, '\0', sizeof(e.target)) == NULL ||
		    memchr(h.gens, '\0', sizeof(h.gens)) == NULL)
			abort();
	}
	cache_entry_reset(&e);
	return 0;
}
