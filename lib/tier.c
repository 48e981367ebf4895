/* SPDX-License-Identifier: MIT */
/* tier.c - the tier hop's trace context and signed end user (tier.h). */
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "num.h"
#include "tier.h"

static int
key_id_ok(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n > 23)
		return 0;
	for (i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
			(k[i] >= 'A' && k[i] <= 'Z') ||
			(k[i] >= '0' && k[i] <= '9') || k[i] == '_' ||
			k[i] == '-'))
			return 0;
	return 1;
}

/* hex HMAC-SHA256(secret, msg) into out[65]. */
static int
mac_hex(const char *secret, const char *msg, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (secret[0] == '\0' ||
	    HMAC(EVP_sha256(), secret, (int)strlen(secret),
		(const unsigned char *)msg, n, md, &mdlen) == NULL ||
	    mdlen != 32)
		return -1;
	crypto_hex(md, 32, out);
	return 0;
}

int
tier_sign(
    const char *secret, const char *key_id, time_t now, char *out, size_t outsz)
{
	char msg[48], hex[65];
	int n;

	if (!key_id_ok(key_id, strlen(key_id)))
		return -1;
	n = snprintf(msg, sizeof(msg), "%s.%lld", key_id, (long long)now);
	if (n <= 0 || (size_t)n >= sizeof(msg) ||
	    mac_hex(secret, msg, (size_t)n, hex) != 0)
		return -1;
	n = snprintf(out, outsz, "%s.%s", msg, hex);
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

int
tier_verify(const char *secret, const char *hdr, time_t now, char *key_out,
    size_t keysz)
{
	const char *dot1, *dot2;
	char hex[65], num[24];
	long long ts;
	size_t kn;

	if (keysz > 0)
		key_out[0] = '\0';
	if (secret == NULL || secret[0] == '\0' || hdr == NULL)
		return 0;
	dot1 = strchr(hdr, '.');
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	if (dot2 == NULL || strlen(dot2 + 1) != 64)
		return 0;
	kn = (size_t)(dot1 - hdr);
	if (!key_id_ok(hdr, kn) || kn >= keysz || dot2 - dot1 < 2 ||
	    dot2 - dot1 > 20)
		return 0;
	memcpy(num, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	num[dot2 - dot1 - 1] = '\0';
	if (num_parse(num, 0, LLONG_MAX / 2, &ts) != RELAY_OK ||
	    ts - (long long)now > TIER_SIG_SKEW_S ||
	    (long long)now - ts > TIER_SIG_SKEW_S)
		return 0;
	if (mac_hex(secret, hdr, (size_t)(dot2 - hdr), hex) != 0 ||
	    CRYPTO_memcmp(hex, dot2 + 1, 64) != 0)
		return 0;
	memcpy(key_out, hdr, kn);
	key_out[kn] = '\0';
	return 1;
}

static int
lower_hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
			(p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

static int
all_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != '0')
			return 0;
	return 1;
}

/* A version-00 traceparent (W3C Trace Context, section 3.2). */
static int
traceparent_ok(const char *s)
{
	return s != NULL && strlen(s) == TIER_TRACEPARENT_LEN - 1 &&
	    memcmp(s, "00-", 3) == 0 && s[35] == '-' && s[52] == '-' &&
	    lower_hex(s + 3, 32) && !all_zero(s + 3, 32) &&
	    lower_hex(s + 36, 16) && !all_zero(s + 36, 16) &&
	    lower_hex(s + 53, 2);
}

void
tier_traceparent(const char *in, char out[TIER_TRACEPARENT_LEN])
{
	unsigned char r[24];
	char hex[49];

	if (crypto_id_bytes(r, sizeof(r)) != RELAY_OK)
		memset(r, 0x5a, sizeof(r));
	r[0] |= 1; /* never all zero */
	r[16] |= 1;
	crypto_hex(r, sizeof(r), hex);
	if (traceparent_ok(in))
		snprintf(out, TIER_TRACEPARENT_LEN, "00-%.32s-%.16s-%.2s",
		    in + 3, hex + 32, in + 53);
	else
		snprintf(out, TIER_TRACEPARENT_LEN, "00-%.32s-%.16s-01", hex,
		    hex + 32);
}
