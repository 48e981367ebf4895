/* SPDX-License-Identifier: MIT */
/* fuzz_sse.c - libFuzzer target for lib/sse.c: the same bytes fed whole,
 * split at a data-driven point, and byte by byte must frame identically,
 * and every byte must end up in exactly one event or in sse_pending(). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/mem.h"
#include "../../lib/sse.h"

struct acc {
	struct buf raw; /* every event's raw bytes, concatenated */
	struct buf sig; /* a digest of names and data, for comparing */
	size_t in_len;
	size_t events;
};

static int
on_event(void *arg, const struct sse_event *ev)
{
	struct acc *a = arg;
	size_t lens[3] = {ev->name.len, ev->data.len, (size_t)ev->has_data};

	if (ev->data.len > a->in_len || ev->name.len > a->in_len ||
	    ev->raw.len == 0 || ev->raw.len > a->in_len)
		abort();
	if (ev->has_data == 0 && ev->data.len != 0)
		abort();
	if (buf_append(&a->raw, ev->raw.p, ev->raw.len) != RELAY_OK ||
	    buf_append(&a->sig, lens, sizeof(lens)) != RELAY_OK ||
	    buf_append(&a->sig, ev->name.p, ev->name.len) != RELAY_OK ||
	    buf_append(&a->sig, ev->data.p, ev->data.len) != RELAY_OK)
		abort();
	a->events++;
	return 0;
}

/* Feed data in pieces: whole (step 0), split at cut, or step bytes. */
static void
run(const uint8_t *data, size_t size, size_t cut, size_t step, struct acc *a)
{
	struct sse_parser sp;
	const char *p = (const char *)data;
	size_t off = 0, k;

	buf_init(&a->raw, size + 1);
	buf_init(&a->sig, 64 * size + 64);
	a->in_len = size;
	a->events = 0;
	/* max = size: no event can be over it, so nothing is refused. */
	sse_init(&sp, size > 0 ? size : 1);
	while (off < size) {
		k = step != 0 ? step : (off < cut ? cut - off : size - off);
		if (k > size - off)
			k = size - off;
		if (sse_feed(&sp, p + off, k, on_event, a) != RELAY_OK)
			abort();
		off += k;
	}
	/* Invariant: events' raw bytes + what is pending == the input. */
	if (a->raw.len + sse_pending(&sp) != size)
		abort();
	if (a->raw.len > 0 && memcmp(a->raw.data, p, a->raw.len) != 0)
		abort();
	if (sse_pending(&sp) > 0 &&
	    memcmp(sp.raw.data, p + a->raw.len, sse_pending(&sp)) != 0)
		abort();
	sse_reset(&sp);
}

static void
same(const struct acc *x, const struct acc *y)
{
	if (x->events != y->events || x->raw.len != y->raw.len ||
	    x->sig.len != y->sig.len ||
	    (x->sig.len > 0 &&
		memcmp(x->sig.data, y->sig.data, x->sig.len) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acc whole, split, bytes;
	size_t cut;

	if (size > 4096)
		return 0;
	cut = size > 0 ? data[0] % (size + 1) : 0;
	run(data, size, 0, 0, &whole);
	run(data, size, cut, 0, &split);
	run(data, size, 0, 1, &bytes);
	same(&whole, &split);
	same(&whole, &bytes);
	buf_reset(&whole.raw);
	buf_reset(&whole.sig);
	buf_reset(&split.raw);
	buf_reset(&split.sig);
	buf_reset(&bytes.raw);
	buf_reset(&bytes.sig);
	return 0;
}
