/* SPDX-License-Identifier: MIT */
/* fuzz_tier.c - libFuzzer target for tier_verify() and tier_traceparent(),
 * both fed by headers a client or a lower tier chose: never a crash; a
 * claim verifies only when it is exactly what tier_sign() makes of its own
 * key id and time (so no other byte string passes); a traceparent out is
 * always a well-formed version-00 one. */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../lib/num.h"
#include "../../lib/tier.h"

#define SECRET "fuzz-secret"
#define NOW ((time_t)1800000000)

static int
well_formed(const char *s)
{
	size_t i;

	if (strlen(s) != 55 || memcmp(s, "00-", 3) != 0 || s[35] != '-' ||
	    s[52] != '-')
		return 0;
	for (i = 3; i < 55; i++)
		if (i != 35 && i != 52 &&
		    strchr("0123456789abcdef", s[i]) == NULL)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256], key[24], again[TIER_SIG_MAX], tp[TIER_TRACEPARENT_LEN],
	    num[24];
	const char *dot, *dot2;
	long long ts;

	if (size >= sizeof(s))
		return 0; /* a header line of ours is shorter */
	memcpy(s, data, size);
	s[size] = '\0';
	if (tier_verify(SECRET, s, NOW, key, sizeof(key))) {
		/* The claim re-made from what verified is the input itself. */
		dot = strchr(s, '.');
		dot2 = strchr(dot + 1, '.');
		memcpy(num, dot + 1, (size_t)(dot2 - dot - 1));
		num[dot2 - dot - 1] = '\0';
		if (num_parse(num, 0, LLONG_MAX, &ts) != RELAY_OK)
			abort();
		if (tier_sign(SECRET, key, (time_t)ts, again, sizeof(again)) !=
			0 ||
		    strcmp(again, s) != 0)
			abort();
	}
	tier_traceparent(s, tp);
	if (!well_formed(tp))
		abort();
	return 0;
}
