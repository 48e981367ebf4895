/* SPDX-License-Identifier: MIT */
/* fuzz_fcgi_rec.c - libFuzzer target for lib/fcgi_rec.c, the FastCGI
 * record reader of the event-loop runtime: never a crash or a read past
 * the input; nothing consumed but whole records (a record's bytes are
 * header + content + padding, within the input); the same bytes fed
 * whole and in pieces (the first input byte picks the piece size) give the
 * same events and the same outcome; params never pass their bound; every
 * STDIN event's data lies inside the input; and each param of whole params
 * reads back through fcgi_param_get(). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/fcgi_rec.h"
#include "../../lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EVS 64
#define PARAMS_MAX 4096

struct run {
	enum fcgi_ev ev[EVS];
	size_t n, consumed;
	enum relay_err err;
};

static void
check_params(const struct fcgi_conn *c)
{
	struct span all = {c->params.data, c->params.len}, in = all, n, v, g;

	for (;;) {
		if (fcgi_pair_next(&in, &n, &v) != RELAY_OK)
			abort(); /* EV_PARAMS promised whole pairs */
		if (n.p == NULL)
			break;
		if (n.len > 0 && memchr(n.p, '\0', n.len) == NULL) {
			char name[64];

			if (n.len >= sizeof(name))
				continue;
			memcpy(name, n.p, n.len);
			name[n.len] = '\0';
			g = fcgi_param_get(all, name);
			if (g.p == NULL)
				abort(); /* a name seen is found */
		}
	}
}

static void
run(const char *p, size_t len, size_t step, struct run *r)
{
	struct fcgi_conn c;
	struct fcgi_event ev;
	size_t have = 0, used;

	memset(r, 0, sizeof(*r));
	fcgi_conn_init(&c, PARAMS_MAX);
	while (r->consumed < len) {
		size_t left = len - r->consumed;

		have = have + step < left ? have + step : left;
		for (;;) {
			r->err = fcgi_conn_feed(
			    &c, p + r->consumed, have, &used, &ev);
			if (r->err != RELAY_OK)
				goto out;
			if (used == 0)
				break;
			if (used > have || used < 8)
				abort();
			if (ev.ev == FCGI_EV_STDIN &&
			    (ev.data.p < p + r->consumed ||
				ev.data.p + ev.data.len >
				    p + r->consumed + used ||
				ev.data.len == 0))
				abort();
			if (c.params.len > PARAMS_MAX)
				abort();
			if (ev.ev == FCGI_EV_PARAMS)
				check_params(&c);
			if (ev.ev == FCGI_EV_STDIN_END)
				fcgi_conn_end(&c); /* as an answered request */
			r->consumed += used;
			have -= used;
			if (ev.ev != FCGI_EV_NONE && r->n < EVS)
				r->ev[r->n++] = ev.ev;
		}
		if (have == len - r->consumed)
			break; /* all there, and not a whole record */
	}
out:
	fcgi_conn_reset(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, cut;
	size_t step;
	char *p;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	/* A copy of exactly the input, so ASan sees any read past it. */
	p = mem_malloc(size - 1 > 0 ? size - 1 : 1);
	if (p == NULL)
		return 0;
	memcpy(p, data + 1, size - 1);
	run(p, size - 1, size, &whole);
	run(p, size - 1, step, &cut);
	if (whole.err != cut.err || whole.n != cut.n ||
	    whole.consumed != cut.consumed ||
	    memcmp(whole.ev, cut.ev, whole.n * sizeof(whole.ev[0])) != 0)
		abort();
	mem_free(p);
	return 0;
}
