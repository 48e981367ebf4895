/* SPDX-License-Identifier: MIT */
/* mem.c - malloc wrappers: size 0 and overflow are errors, failures injectable. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static atomic_ulong mem_fail_at;
static atomic_ulong mem_allocs;

static int
mem_should_fail(void)
{
	unsigned long n = atomic_fetch_add(&mem_allocs, 1) + 1;
	unsigned long at = atomic_load(&mem_fail_at);

	return at != 0 && n == at;
}

void
mem_fail_after(unsigned long nth)
{
	atomic_store(&mem_allocs, 0);
	atomic_store(&mem_fail_at, nth);
}

unsigned long
mem_count(void)
{
	return atomic_load(&mem_allocs);
}

void *
mem_malloc(size_t size)
{
	if (size == 0 || mem_should_fail())
		return NULL;
	return malloc(size);
}

void *
mem_calloc(size_t n, size_t size)
{
	if (n == 0 || size == 0 || n > (size_t)-1 / size || mem_should_fail())
		return NULL;
	return calloc(n, size);
}

void *
mem_reallocarray(void *p, size_t n, size_t size)
{
	if (n == 0 || size == 0 || n > (size_t)-1 / size)
		return NULL;
	if (mem_should_fail())
		return NULL;
	return realloc(p, n * size);
}

void
mem_free(void *p)
{
	free(p);
}

char *
mem_strndup(const char *p, size_t n)
{
	char *s;

	if (n == (size_t)-1)
		return NULL;
	s = mem_malloc(n + 1);
	if (s == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

char *
mem_strdup(const char *s)
{
	if (s == NULL)
		return NULL;
	return mem_strndup(s, strlen(s));
}
