/* SPDX-License-Identifier: MIT */
/* fuzz_rseal.c - libFuzzer target for lib/rseal.c, whose tokens and
 * response ids come back from clients: opening any text never crashes and
 * never succeeds for text the relay did not seal; an upstream id of any
 * bytes wraps and unwraps to itself, the same id each time; rewriting the
 * id of any body or stream event leaves well-formed JSON. The record inside
 * a reasoning token (rseal_reasoning_parse) takes any bytes: what it
 * accepts seals and opens to the same record; a reasoning or compaction
 * token of any bytes never opens; any text round-trips as a summary. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/jsonx.h"
#include "../../lib/rseal.h"

static const struct creds_master master = {
    .cur = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 7},
    .prev = {9},
    .have_cur = 1,
    .have_prev = 1,
};

static void
open_any(const uint8_t *data, size_t size)
{
	struct rseal_respid r;
	struct buf out;

	buf_init(&out, 1 << 20);
	/* A forgery opens only by breaking AES-GCM. */
	if (rseal_open(&master, RSEAL_PURPOSE_COMPACTION, (const char *)data,
		size, &out) == RELAY_OK)
		abort();
	if (rseal_respid_unwrap(&master, (const char *)data, size, &r) ==
	    RELAY_OK)
		abort();
	if (rseal_compaction_unwrap(&master, (const char *)data, size, &out) ==
	    RELAY_OK)
		abort();
	buf_reset(&out);
}

/* A forged token behind the reasoning prefix: never opens. */
static void
open_reasoning(const uint8_t *data, size_t size)
{
	struct rseal_reasoning rr;
	struct buf tok;

	memset(&rr, 0, sizeof(rr));
	buf_init(&tok, 1 << 20);
	if (buf_puts(&tok, RSEAL_REASONING_PREFIX) == RELAY_OK &&
	    buf_append(&tok, data, size) == RELAY_OK &&
	    rseal_reasoning_unwrap(&master, tok.data, tok.len, &rr) == RELAY_OK)
		abort();
	rseal_reasoning_reset(&rr);
	buf_reset(&tok);
}

static int
same_str(json_t *a, json_t *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && json_equal(a, b));
}

/* Any bytes as the record: an accepted one seals and opens to itself. */
static void
parse_record(const uint8_t *data, size_t size)
{
	struct rseal_reasoning r, back;
	struct buf tok;

	memset(&back, 0, sizeof(back));
	if (rseal_reasoning_parse(
		(struct span){(const char *)data, size}, &r) != RELAY_OK)
		return;
	buf_init(&tok, 1 << 22);
	if (rseal_reasoning_wrap(&master, &r, &tok) == RELAY_OK) {
		if (rseal_reasoning_unwrap(&master, tok.data, tok.len, &back) !=
			RELAY_OK ||
		    strcmp(back.provider, r.provider) != 0 ||
		    back.redacted != r.redacted ||
		    !same_str(back.text, r.text) ||
		    !same_str(back.sig, r.sig) || !same_str(back.data, r.data))
			abort();
	}
	rseal_reasoning_reset(&r);
	rseal_reasoning_reset(&back);
	buf_reset(&tok);
}

/* Any bytes as a summary: back as they were. */
static void
summary(const uint8_t *data, size_t size)
{
	struct buf tok, back;

	if (size == 0)
		return;
	buf_init(&tok, 1 << 22);
	buf_init(&back, 1 << 22);
	if (rseal_compaction_wrap(&master,
		(struct span){(const char *)data, size}, &tok) != RELAY_OK ||
	    rseal_compaction_unwrap(&master, tok.data, tok.len, &back) !=
		RELAY_OK ||
	    back.len != size || memcmp(back.data, data, size) != 0)
		abort();
	buf_reset(&tok);
	buf_reset(&back);
}

static void
round_trip(const uint8_t *data, size_t size)
{
	struct rseal_respid r = {.provider = "p"}, back;
	struct buf a, b;
	size_t n =
	    size > RELAY_RS_UPSTREAM_ID_MAX ? RELAY_RS_UPSTREAM_ID_MAX : size;
	const uint8_t *z = memchr(data, '\0', n);

	if (z != NULL)
		n = (size_t)(z - data);
	if (n == 0)
		return;
	memcpy(r.upstream, data, n);
	buf_init(&a, 4096);
	buf_init(&b, 4096);
	if (rseal_respid_wrap(&master, &r, &a) != RELAY_OK ||
	    rseal_respid_wrap(&master, &r, &b) != RELAY_OK)
		abort();
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort(); /* one id for one response */
	if (rseal_respid_unwrap(&master, a.data, a.len, &back) != RELAY_OK ||
	    strcmp(back.provider, "p") != 0 || back.key_fp[0] != '\0' ||
	    strcmp(back.upstream, r.upstream) != 0)
		abort();
	buf_reset(&a);
	buf_reset(&b);
}

static void
rewrite(const uint8_t *data, size_t size, int member)
{
	struct span body = {(const char *)data, size};
	struct buf out;

	buf_init(&out, 1 << 22);
	if (rseal_respid_rewrite(&master, "p", "0123456789abcdef", body, member,
		&out) == RELAY_OK &&
	    jsonx_well_formed(body) &&
	    !jsonx_well_formed((struct span){out.data, out.len}))
		abort();
	buf_reset(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	open_any(data, size);
	round_trip(data, size);
	rewrite(data, size, 0);
	rewrite(data, size, 1);
	open_reasoning(data, size);
	parse_record(data, size);
	summary(data, size);
	return 0;
}
