/* SPDX-License-Identifier: MIT */
/* fuzz_wordfilter.c - libFuzzer target for lib/wordfilter.c. The input is
 * a word list, a NUL, then a text. Invariants: a stream fed in pieces of
 * random sizes (splitting UTF-8 anywhere) emits exactly what
 * wordfilter_mask() gives for the whole text; with WORDFILTER_STOP it
 * emits exactly the text before wordfilter_match()'s first match. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/wordfilter.h"

static char list_path[64];

static struct wordfilter *
load(const uint8_t *w, size_t n)
{
	const char *path = list_path;
	char err[256];
	FILE *f;

	if (list_path[0] == '\0')
		snprintf(list_path, sizeof(list_path), "/tmp/fuzz_wf.%ld",
		    (long)getpid());
	f = fopen(list_path, "wb");
	if (f == NULL || fwrite(w, 1, n, f) != n || fclose(f) != 0)
		abort();
	return wordfilter_load(&path, 1, err, sizeof(err));
}

/* Feed text in pieces of 1..16 bytes drawn from seed; then flush. */
static void
run(struct wordfilter *wf, enum wordfilter_action act, const char *p, size_t n,
    uint32_t seed, struct buf *out, int *matched)
{
	struct wordfilter_stream *ws = wordfilter_stream_new(wf, act);
	size_t off = 0, k;

	if (ws == NULL)
		abort();
	*matched = 0;
	while (off < n) {
		seed = seed * 1103515245u + 12345u;
		k = 1 + (seed >> 16) % 16;
		if (k > n - off)
			k = n - off;
		if (wordfilter_stream_feed(ws, p + off, k, out, matched) !=
		    RELAY_OK)
			abort();
		off += k;
	}
	if (wordfilter_stream_flush(ws, out) != RELAY_OK)
		abort();
	wordfilter_stream_free(ws);
}

static void
check(struct wordfilter *wf, const char *p, size_t n, uint32_t seed)
{
	struct buf whole, piece, stop;
	size_t at = 0, len = 0;
	int m1, m2, hit;

	buf_init(&whole, 4 * n + 16);
	buf_init(&piece, 4 * n + 16);
	buf_init(&stop, 4 * n + 16);
	if (wordfilter_mask(wf, p, n, &whole) != RELAY_OK)
		abort();
	run(wf, WORDFILTER_MASK, p, n, seed, &piece, &m1);
	if (piece.len != whole.len ||
	    (whole.len > 0 && memcmp(piece.data, whole.data, whole.len) != 0))
		abort();
	hit = wordfilter_match(wf, p, n, &at, &len);
	if (m1 != hit || (hit && (len == 0 || at + len > n)))
		abort();
	run(wf, WORDFILTER_STOP, p, n, seed ^ 0x5bd1e995u, &stop, &m2);
	if (m2 != hit || stop.len != (hit ? at : n) ||
	    (stop.len > 0 && memcmp(stop.data, p, stop.len) != 0))
		abort();
	buf_reset(&whole);
	buf_reset(&piece);
	buf_reset(&stop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul;
	struct wordfilter *wf;
	size_t wn;
	uint32_t seed = 2166136261u;
	size_t i;

	if (size > 8192)
		return 0;
	nul = memchr(data, '\0', size);
	if (nul == NULL)
		return 0;
	wn = (size_t)(nul - data);
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	wf = load(data, wn);
	if (wf == NULL)
		return 0; /* not UTF-8, or a word too long: refused */
	check(wf, (const char *)nul + 1, size - wn - 1, seed);
	wordfilter_free(wf);
	return 0;
}
