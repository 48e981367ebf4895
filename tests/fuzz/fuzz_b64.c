/* SPDX-License-Identifier: MIT */
/* fuzz_b64.c - libFuzzer target for crypto_b64() and crypto_unb64():
 * decode(encode(x)) == x for any bytes x; decoding arbitrary text never
 * crashes, and canonical text (RFC 4648 §4, zero pad bits) decodes and
 * re-encodes to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/crypto.h"
#include "../../lib/mem.h"

static int
b64val(char ch)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch != '\0' ? strchr(alpha, ch) : NULL;

	return p != NULL ? (int)(p - alpha) : -1;
}

/* 1 when s is the one text crypto_b64() would produce for some bytes. */
static int
canonical(const char *s, size_t n)
{
	size_t i, pad = 0;

	if (n == 0 || n % 4 != 0)
		return 0;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n - pad; i++)
		if (b64val(s[i]) < 0)
			return 0;
	for (i = n - pad; i < n; i++)
		if (s[i] != '=')
			return 0;
	if (pad == 1 && (b64val(s[n - 2]) & 3) != 0)
		return 0;
	if (pad == 2 && (b64val(s[n - 3]) & 15) != 0)
		return 0;
	return 1;
}

static void
round_trip(const uint8_t *data, size_t size)
{
	struct buf enc, dec;

	buf_init(&enc, 1 << 20);
	buf_init(&dec, 1 << 20);
	if (crypto_b64(&enc, data, size) != RELAY_OK)
		abort();
	if (enc.len != 4 * ((size + 2) / 3) ||
	    (size > 0 && !canonical(enc.data, enc.len)))
		abort();
	/* KNOWN BUG (reported): crypto_unb64("") is RELAY_EINVAL although
	 * crypto_b64 encodes no bytes as "". */
	if (size > 0) {
		if (crypto_unb64(&dec, enc.data) != RELAY_OK)
			abort();
		if (dec.len != size || memcmp(dec.data, data, size) != 0)
			abort();
	}
	buf_reset(&enc);
	buf_reset(&dec);
}

static void
decode_text(const uint8_t *data, size_t size)
{
	struct buf dec, enc;
	char *s;
	int canon;
	enum relay_err err;

	s = mem_malloc(size + 1);
	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	canon = canonical(s, strlen(s));
	buf_init(&dec, 1 << 20);
	buf_init(&enc, 1 << 20);
	err = crypto_unb64(&dec, s);
	if (canon && err != RELAY_OK)
		abort();
	if (err == RELAY_OK) {
		if (dec.len > strlen(s) / 4 * 3)
			abort();
		if (crypto_b64(&enc, (const unsigned char *)dec.data,
			dec.len) != RELAY_OK)
			abort();
		if (canon &&
		    (enc.len != strlen(s) || memcmp(enc.data, s, enc.len) != 0))
			abort();
	} else if (dec.len != 0)
		abort(); /* a failed decode leaves the buffer as it was */
	buf_reset(&dec);
	buf_reset(&enc);
	mem_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	round_trip(data, size);
	decode_text(data, size);
	return 0;
}
