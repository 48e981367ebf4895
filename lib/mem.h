/* SPDX-License-Identifier: MIT */
/* mem.h - the only allocator entry points; overflow-checked, testable. */
#ifndef RELAY_MEM_H
#define RELAY_MEM_H

#include <stddef.h>

#include "compiler.h"

/* Allocate size bytes. NULL when size is 0 or memory is short. */
void *mem_malloc(size_t size) RELAY_MUST_CHECK;
/* Allocate n zeroed elements of size bytes. NULL on 0, overflow or OOM. */
void *mem_calloc(size_t n, size_t size) RELAY_MUST_CHECK;
/*
 * Resize p to n elements of size bytes. NULL on 0, on n*size overflow or
 * when memory is short; p is then left untouched and still owned by the
 * caller.
 */
void *mem_reallocarray(void *p, size_t n, size_t size) RELAY_MUST_CHECK;
/* Release p; p may be NULL. */
void mem_free(void *p);
/* Copy of the NUL-terminated s (may be NULL: returns NULL). */
char *mem_strdup(const char *s) RELAY_MUST_CHECK;
/* Copy of n bytes at p plus a NUL. NULL on OOM. */
char *mem_strndup(const char *p, size_t n) RELAY_MUST_CHECK;

/*
 * Test hook: make the nth allocation from now fail (1 = the next one),
 * 0 to disable. Counts allocations made by this module only. The unit
 * suite reruns its cases failing each allocation in turn.
 */
void mem_fail_after(unsigned long nth);
/* Allocations made since the last mem_fail_after() call. */
unsigned long mem_count(void);

#endif
