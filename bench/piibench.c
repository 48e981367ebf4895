/* SPDX-License-Identifier: MIT */
/* piibench.c - what outbound PII protection adds to a request: the
 * rewrite of an already parsed 32 KB chat body and the body made again
 * (pii_out_request_body: the changed strings spliced into the raw body),
 * as relay-chat does; and the stream restore per event. Prints p50/p99 in
 * microseconds.
 * Usage: piibench [iterations] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/jsonx.h"
#include "../lib/num.h"
#include "../lib/pii_out.h"

#define BODY_BYTES (32 * 1024)

static double
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A chat body of about BODY_BYTES: mixed Chinese and English turns, one
 * in eight holding a phone, an ID, a card or an email. */
static enum relay_err
make_body(struct buf *b)
{
	static const char *const pii[] = {"13812345678", "11010519491231002X",
	    "4111111111111111", "zhang.san@example.com"};
	int i = 0;
	enum relay_err err = buf_puts(b, "{\"model\":\"m\",\"messages\":[");

	while (err == RELAY_OK && b->len < BODY_BYTES) {
		err = buf_printf(b,
		    "%s{\"role\":\"%s\",\"content\":\"第 %d 轮：请帮我核对订单 "
		    "1202412071234567890 的物流状态, version v1.2.%d, "
		    "uuid 550e8400-e29b-41d4-a716-446655440000. %s%s\"}",
		    i > 0 ? "," : "", i % 2 ? "assistant" : "user", i, i,
		    i % 8 == 0 ? "联系方式 " : "",
		    i % 8 == 0 ? pii[(i / 8) % 4] : "");
		i++;
	}
	return err == RELAY_OK ? buf_puts(b, "]}") : err;
}

int
main(int argc, char **argv)
{
	long long runs = 2000;
	int n, i;
	double *t, t0, base = 0;
	struct config_pii pol;
	struct buf body, out, r;
	struct pii_out po;
	json_t *root;
	char jerr[64];
	int changed;

	if (argc > 1 && num_parse(argv[1], 1, 1000000, &runs) != RELAY_OK)
		return 2;
	n = (int)runs;
	t = calloc((size_t)n, sizeof(double));
	if (t == NULL)
		return 1;
	memset(&pol, 0, sizeof(pol));
	for (i = 0; i < PII_ENT__MAX; i++)
		pol.act[i] = PII_ACT_PSEUDO;
	/* PIIBENCH_SURROGATES=1: pii_protection.surrogates on. */
	pol.surrogates = getenv("PIIBENCH_SURROGATES") != NULL;
	buf_init(&body, 1 << 20);
	buf_init(&out, 1 << 20);
	buf_init(&r, 1 << 20);
	if (make_body(&body) != RELAY_OK)
		return 1;
	for (i = 0; i < n; i++) {
		if (jsonx_parse(body.data, body.len, &root, jerr,
			sizeof(jerr)) != RELAY_OK)
			return 1;
		pii_out_init(&po, &pol, NULL);
		buf_clear(&out);
		t0 = now_us();
		if (pii_out_request_body(&po, root, body.data, body.len, &out,
			&changed) != RELAY_OK)
			return 1;
		t[i] = now_us() - t0;
		if (i == 0) {
			/* The splice says what the document says. */
			json_t *again;

			if (jsonx_parse(out.data, out.len, &again, jerr,
				sizeof(jerr)) != RELAY_OK ||
			    !json_equal(again, root)) {
				fprintf(stderr,
				    "splice differs from the "
				    "document\n");
				return 1;
			}
			json_decref(again);
		}
		if (i == 0)
			printf(
			    "body %zu bytes, %s, %zu phones %zu ids %zu cards "
			    "%zu emails -> %zu bytes%s\n",
			    body.len, changed ? "rewritten" : "unchanged",
			    po.hits[PII_ENT_PHONE], po.hits[PII_ENT_ID],
			    po.hits[PII_ENT_CARD], po.hits[PII_ENT_EMAIL],
			    out.len, pol.surrogates ? " (surrogates)" : "");
		if (i < n - 1)
			pii_out_reset(&po);
		json_decref(root);
	}
	qsort(t, (size_t)n, sizeof(double), cmp_d);
	printf("rewrite + splice of a 32 KB body: min %.1f us, p50 %.1f us, "
	       "p99 %.1f us (%d runs)\n",
	    t[0], t[n / 2], t[n * 99 / 100], n);
	/* The stream restore: the rewritten body's text fed in 24-byte
	 * events, against a plain copy of the same events. */
	for (int pass = 0; pass < 2; pass++) {
		struct pii_restorer rs;
		size_t k, events = 0;

		t0 = now_us();
		for (i = 0; i < 50; i++) {
			pii_restorer_init(&rs, &po, 0);
			buf_clear(&r);
			for (k = 0; k < out.len; k += 24, events++) {
				size_t m = out.len - k < 24 ? out.len - k : 24;

				enum relay_err e = pass == 0
				    ? pii_restorer_feed(
					  &rs, out.data + k, m, &r)
				    : buf_append(&r, out.data + k, m);

				if (e != RELAY_OK)
					return 1;
			}
			if (pii_restorer_flush(&rs, &r) != RELAY_OK)
				return 1;
		}
		if (pass == 0)
			base = (now_us() - t0) / (double)events;
		else
			printf("stream restore: %.3f us per 24-byte event "
			       "(a plain copy: %.3f us)\n",
			    base, (now_us() - t0) / (double)events);
	}
	pii_out_reset(&po);
	buf_reset(&body);
	buf_reset(&out);
	buf_reset(&r);
	free(t);
	return 0;
}
