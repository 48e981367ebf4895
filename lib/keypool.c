/* SPDX-License-Identifier: MIT */
/* keypool.c - "kp:<provider>:<fingerprint>" holds the time a key rests
 * until; its memcached expiry removes it when the rest is over. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "creds.h"
#include "crypto.h"
#include "keypool.h"
#include "kv.h"
#include "log.h"
#include "num.h"

static unsigned long keypool_rr; /* process-wide; each process its own */

static void
fingerprint(const char *key, char out[17])
{
	unsigned char h[32];

	crypto_sha256(key, strlen(key), h);
	crypto_hex(h, 8, out);
}

static void
kp_key(char *out, size_t outsz, const char *provider, const char *fp)
{
	size_t i, o = (size_t)snprintf(out, outsz, "kp:");

	for (i = 0; provider[i] != '\0' && o + 20 < outsz && i < 200; i++)
		out[o++] =
		    provider[i] > ' ' && provider[i] < 0x7f ? provider[i] : '_';
	snprintf(out + o, outsz - o, ":%s", fp);
}

/* Seconds the key still rests; 0 when it may be used. */
static long
resting(struct kv *kv, const char *provider, const char *fp)
{
	char key[KV_KEY_MAX + 1];
	long long until = 0;
	struct buf b;
	long left = 0;

	kp_key(key, sizeof(key), provider, fp);
	buf_init(&b, 32);
	if (kv_get(kv, key, &b) == RELAY_OK &&
	    num_parse(b.data, 0, (long long)1 << 40, &until) == RELAY_OK &&
	    until > (long long)time(NULL))
		left = (long)(until - (long long)time(NULL));
	buf_reset(&b);
	return left;
}

void
keypool_rest(struct kv *kv, const char *provider, const char *fp, long seconds)
{
	char key[KV_KEY_MAX + 1], val[24];
	int n;

	if (seconds <= 0)
		seconds = 1;
	kp_key(key, sizeof(key), provider, fp);
	n = snprintf(val, sizeof(val), "%lld", (long long)time(NULL) + seconds);
	if (kv_set(kv, key, val, (size_t)n, (unsigned)seconds) != RELAY_OK)
		log_warn(
		    "keypool %s: key %s could not be rested", provider, fp);
	else
		log_info(
		    "keypool %s: key %s rests %ld s", provider, fp, seconds);
}

/* The key at slot i of the pool: the config's keys, then the stored. */
static const char *
slot(const struct config_provider *p, const char *const *stored, size_t i)
{
	return i < p->nkeys ? p->keys[i] : stored[i - p->nkeys];
}

static int
weight(const struct config_provider *p, size_t i)
{
	return i < p->nkeys && p->key_weights != NULL ? p->key_weights[i] : 1;
}

enum relay_err
keypool_pick(struct kv *kv, const struct config_provider *p,
    const struct creds_snap *cs, struct keypool_choice *out)
{
	const char *const *stored;
	size_t nstored, n, i, start = 0, k;
	unsigned long total = 0, r;
	long left, soonest = -1;

	memset(out, 0, sizeof(*out));
	stored = creds_for(cs, p->name, &nstored);
	n = p->nkeys + nstored;
	if (n == 0)
		return RELAY_OK;
	for (i = 0; i < n; i++)
		total += (unsigned long)weight(p, i);
	r = __atomic_fetch_add(&keypool_rr, 1, __ATOMIC_RELAXED) % total;
	for (i = 0; i < n; i++) {
		if (r < (unsigned long)weight(p, i)) {
			start = i;
			break;
		}
		r -= (unsigned long)weight(p, i);
	}
	for (k = 0; k < n; k++) {
		i = (start + k) % n;
		out->key = slot(p, stored, i);
		fingerprint(out->key, out->fp);
		if (n == 1)
			return RELAY_OK;
		left = resting(kv, p->name, out->fp);
		if (left == 0)
			return RELAY_OK;
		if (soonest < 0 || left < soonest)
			soonest = left;
	}
	out->key = NULL;
	out->wait_s = soonest;
	return RELAY_ENOTFOUND;
}
