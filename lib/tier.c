/* SPDX-License-Identifier: MIT */
/* tier.c - request id, trace context and User-Agent on upstream calls. */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "req.h"
#include "target.h"
#include "tier.h"

/* W3C Trace Context: trace id 16 bytes, parent id 8, as lowercase hex. */
#define TRACE_ID_HEX 32
#define PARENT_ID_HEX 16

static int
hex_run(const char *s, size_t n, int nonzero)
{
	size_t i;
	int any = 0;

	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return 0;
		any |= s[i] != '0';
	}
	return !nonzero || any;
}

int
tier_traceparent_ok(const char *s)
{
	if (s == NULL || strlen(s) != 3 + TRACE_ID_HEX + 1 + PARENT_ID_HEX + 3)
		return 0;
	return s[0] == '0' && s[1] == '0' && s[2] == '-' &&
	    hex_run(s + 3, TRACE_ID_HEX, 1) && s[35] == '-' &&
	    hex_run(s + 36, PARENT_ID_HEX, 1) && s[52] == '-' &&
	    hex_run(s + 53, 2, 0);
}

/* A traceparent for this hop into out (size >= 56). */
static enum relay_err
traceparent(struct relay_req *req, char out[56])
{
	const char *in = req_header(req, "traceparent");
	unsigned char rnd[24];
	char hex[49];
	enum relay_err err;

	err = crypto_id_bytes(rnd, sizeof(rnd));
	if (err != RELAY_OK)
		return err;
	/* An all-zero id is invalid; a random one almost never is. */
	rnd[0] |= 1;
	rnd[16] |= 1;
	crypto_hex(rnd, sizeof(rnd), hex);
	if (tier_traceparent_ok(in))
		snprintf(
		    out, 56, "00-%.32s-%.16s-%.2s", in + 3, hex + 32, in + 53);
	else
		snprintf(out, 56, "00-%.32s-%.16s-01", hex, hex + 32);
	return RELAY_OK;
}

enum relay_err
tier_headers(struct target_req *tr, const struct config_provider *p,
    struct relay_req *req)
{
	char tp[56];
	enum relay_err err;

	err = target_add_header(tr, p, "x-request-id", req->id);
	if (err == RELAY_OK)
		err = traceparent(req, tp);
	if (err == RELAY_OK)
		err = target_add_header(tr, p, "traceparent", tp);
	if (err == RELAY_OK)
		err = target_add_header(tr, p, "User-Agent", TIER_USER_AGENT);
	return err;
}
