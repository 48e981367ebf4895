/* SPDX-License-Identifier: MIT */
/* keypool.c - "kp:<provider>:<fingerprint>" holds "<until> <why>
 * <recheck_at>": the time a key rests until, why, and (benched for auth)
 * when one call may re-check it; its memcached expiry removes it when the
 * rest is over. "kq:<provider>:<fingerprint>" is the re-check's lock,
 * added by exactly one caller whatever the number of processes. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "creds.h"
#include "crypto.h"
#include "keypool.h"
#include "kv.h"
#include "log.h"
#include "num.h"

static unsigned long keypool_rr; /* process-wide; each process its own */

static const char *const why_names[KEYPOOL_WHY__MAX] = {
    [KEYPOOL_RATE_LIMITED] = "rate_limited",
    [KEYPOOL_AUTH] = "auth",
};

const char *
keypool_why_name(enum keypool_why w)
{
	return (unsigned)w < KEYPOOL_WHY__MAX ? why_names[w] : "?";
}

void
keypool_fingerprint(const char *key, char out[17])
{
	unsigned char h[32];

	crypto_sha256(key, strlen(key), h);
	crypto_hex(h, 8, out);
}

static void
kp_key(char *out, size_t outsz, const char *kind, const char *provider,
    const char *fp)
{
	size_t i, o = (size_t)snprintf(out, outsz, "%s:", kind);

	for (i = 0; provider[i] != '\0' && o + 20 < outsz && i < 200; i++)
		out[o++] =
		    provider[i] > ' ' && provider[i] < 0x7f ? provider[i] : '_';
	snprintf(out + o, outsz - o, ":%s", fp);
}

/* A key's rest as memcached holds it. */
struct rest {
	long left; /* seconds; 0: in rotation */
	enum keypool_why why;
	long long recheck_at; /* auth: a probe may go after this time */
};

/* Split "a b c" (at most 63 bytes) into up to 3 NUL-ended fields of cp. */
static int
fields(const char *s, char cp[64], char *f[3])
{
	int n = 0;
	char *sp;

	snprintf(cp, 64, "%s", s);
	f[0] = f[1] = f[2] = cp + strlen(cp);
	while (n < 3 && *cp != '\0') {
		f[n++] = cp;
		sp = strchr(cp, ' ');
		if (sp == NULL)
			break;
		*sp = '\0';
		cp = sp + 1;
	}
	return n;
}

/* Parse "<until> <why> <recheck_at>" (a bare "<until>": a 429 rest). */
static void
rest_parse(const char *s, long long now, struct rest *r)
{
	long long until = 0, at = 0;
	char cp[64], *f[3];
	int n = fields(s, cp, f);

	memset(r, 0, sizeof(*r));
	if (n < 1 ||
	    num_parse(f[0], 0, (long long)1 << 40, &until) != RELAY_OK ||
	    until <= now || until - now > (long long)1 << 31)
		return;
	r->left = (long)(until - now);
	if (n == 3 && strcmp(f[1], "auth") == 0 &&
	    num_parse(f[2], 0, (long long)1 << 40, &at) == RELAY_OK) {
		r->why = KEYPOOL_AUTH;
		r->recheck_at = at;
	}
}

/* The key's rest; r->left 0 when it may be used or memcached failed
 * (the lookup's error: RELAY_ENOTFOUND when the key does not rest). */
static enum relay_err
resting(struct kv *kv, const char *provider, const char *fp, struct rest *r)
{
	char key[KV_KEY_MAX + 1];
	enum relay_err err;
	struct buf b;

	memset(r, 0, sizeof(*r));
	kp_key(key, sizeof(key), "kp", provider, fp);
	buf_init(&b, 64);
	err = kv_get(kv, key, &b);
	if (err == RELAY_OK && b.data != NULL)
		rest_parse(b.data, (long long)time(NULL), r);
	buf_reset(&b);
	return err;
}

static void
rest_put(struct kv *kv, const char *provider, const char *fp, long seconds,
    enum keypool_why why, long recheck_s, int status)
{
	char key[KV_KEY_MAX + 1], val[64];
	long long now = (long long)time(NULL);
	int n;

	if (seconds <= 0)
		seconds = 1;
	kp_key(key, sizeof(key), "kp", provider, fp);
	n = snprintf(val, sizeof(val), "%lld %s %lld", now + seconds,
	    keypool_why_name(why), now + recheck_s);
	if (kv_set(kv, key, val, (size_t)n, (unsigned)seconds) != RELAY_OK)
		log_warn("keypool %s: key %s could not be rested (%s)",
		    provider, fp, keypool_why_name(why));
	else if (why == KEYPOOL_AUTH)
		log_warn("keypool %s: key %s benched for %ld s (auth: HTTP "
			 "%d while another key served the same request), "
			 "re-checked after %ld s",
		    provider, fp, seconds, status, recheck_s);
	else
		log_info("keypool %s: key %s rests %ld s (rate_limited)",
		    provider, fp, seconds);
}

void
keypool_rest(struct kv *kv, const char *provider, const char *fp, long seconds)
{
	rest_put(kv, provider, fp, seconds, KEYPOOL_RATE_LIMITED, 0, 429);
}

void
keypool_bench(struct kv *kv, const struct config_keypool *conf,
    const char *provider, const char *fp, int status)
{
	rest_put(kv, provider, fp, conf->auth_bench_s, KEYPOOL_AUTH,
	    conf->auth_recheck_s, status);
}

void
keypool_unbench(struct kv *kv, const char *provider, const char *fp)
{
	char key[KV_KEY_MAX + 1];

	kp_key(key, sizeof(key), "kp", provider, fp);
	if (kv_delete(kv, key) != RELAY_OK)
		log_warn(
		    "keypool %s: key %s could not be unbenched", provider, fp);
	else
		log_info("keypool %s: key %s re-checked good: back in rotation",
		    provider, fp);
	kp_key(key, sizeof(key), "kq", provider, fp);
	if (kv_delete(kv, key) != RELAY_OK)
		log_debug("keypool %s: re-check lock not removed", provider);
}

/* Claim the re-check of a benched key: 1 for exactly one caller per
 * recheck interval. */
static int
claim_probe(struct kv *kv, const struct config_keypool *conf,
    const char *provider, const char *fp)
{
	char key[KV_KEY_MAX + 1];
	int stored = 0;

	kp_key(key, sizeof(key), "kq", provider, fp);
	if (kv_add(kv, key, "1", 1, (unsigned)conf->auth_recheck_s, &stored) !=
	    RELAY_OK)
		return 0;
	if (stored)
		log_info(
		    "keypool %s: re-checking benched key %s", provider, fp);
	return stored;
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

/* Where the round robin starts: by weight. */
static size_t
rr_start(const struct config_provider *p, size_t n)
{
	unsigned long total = 0, r;
	size_t i;

	for (i = 0; i < n; i++)
		total += (unsigned long)weight(p, i);
	r = __atomic_fetch_add(&keypool_rr, 1, __ATOMIC_RELAXED) % total;
	for (i = 0; i < n; i++) {
		if (r < (unsigned long)weight(p, i))
			return i;
		r -= (unsigned long)weight(p, i);
	}
	return 0;
}

enum relay_err
keypool_pick(struct kv *kv, const struct config_provider *p,
    const struct creds_snap *cs, const struct config_keypool *conf,
    const char *avoid, struct keypool_choice *out)
{
	const char *const *stored;
	size_t nstored, n, i, start, k;
	long soonest = -1;
	struct rest r;

	memset(out, 0, sizeof(*out));
	stored = creds_for(cs, p->name, &nstored);
	n = p->nkeys + nstored;
	if (n == 0)
		return RELAY_OK;
	start = rr_start(p, n);
	out->all_auth = 1;
	for (k = 0; k < n; k++) {
		i = (start + k) % n;
		out->key = slot(p, stored, i);
		keypool_fingerprint(out->key, out->fp);
		if (n == 1)
			return RELAY_OK;
		if (strcmp(out->fp, avoid) == 0)
			continue;
		(void)resting(kv, p->name, out->fp, &r);
		if (r.left == 0)
			return RELAY_OK;
		if (r.why == KEYPOOL_AUTH &&
		    (long long)time(NULL) >= r.recheck_at &&
		    claim_probe(kv, conf, p->name, out->fp)) {
			out->probe = 1;
			return RELAY_OK;
		}
		if (r.why != KEYPOOL_AUTH)
			out->all_auth = 0;
		if (soonest < 0 || r.left < soonest)
			soonest = r.left;
	}
	out->key = NULL;
	out->fp[0] = '\0';
	out->wait_s = soonest > 0 ? soonest : 1;
	return RELAY_ENOTFOUND;
}

const char *
keypool_find(const struct config_provider *p, const struct creds_snap *cs,
    const char *fp)
{
	const char *const *stored;
	size_t nstored, n, i;
	char f[17];

	stored = creds_for(cs, p->name, &nstored);
	n = p->nkeys + nstored;
	for (i = 0; i < n; i++) {
		keypool_fingerprint(slot(p, stored, i), f);
		if (strcmp(f, fp) == 0)
			return slot(p, stored, i);
	}
	return NULL;
}

enum relay_err
keypool_take(struct kv *kv, const struct config_provider *p,
    const struct creds_snap *cs, const char *fp, struct keypool_choice *out)
{
	const char *const *stored;
	size_t nstored, n, i;
	struct rest r;

	memset(out, 0, sizeof(*out));
	stored = creds_for(cs, p->name, &nstored);
	n = p->nkeys + nstored;
	if (n == 0)
		return fp[0] == '\0' ? RELAY_OK : RELAY_ENOTFOUND;
	for (i = 0; i < n; i++) {
		out->key = slot(p, stored, i);
		keypool_fingerprint(out->key, out->fp);
		if (strcmp(out->fp, fp) != 0)
			continue;
		if (n == 1)
			return RELAY_OK;
		(void)resting(kv, p->name, out->fp, &r);
		if (r.left == 0)
			return RELAY_OK;
		break; /* resting or benched: the normal choice decides */
	}
	memset(out, 0, sizeof(*out));
	return RELAY_ENOTFOUND;
}

/* --- the operator's view ---------------------------------------------- */

/* A Prometheus label value: '\\', '"' and newline escaped. */
static enum relay_err
prom_label(struct buf *b, const char *s)
{
	enum relay_err err = RELAY_OK;

	for (; err == RELAY_OK && *s != '\0'; s++)
		err = *s == '\\' || *s == '"' ? buf_printf(b, "\\%c", *s)
		    : *s == '\n'              ? buf_puts(b, "\\n")
					      : buf_append(b, s, 1);
	return err;
}

static enum relay_err
report_one(struct buf *b, int prom, size_t *nout, const char *provider,
    const char *fp, const struct rest *r)
{
	enum relay_err err;

	if (prom) {
		err = buf_puts(
		    b, "relay_upstream_key_benched_seconds{provider=\"");
		if (err == RELAY_OK)
			err = prom_label(b, provider);
		return err != RELAY_OK
		    ? err
		    : buf_printf(b,
			  "\",key=\"%s\",reason=\"%s\"} "
			  "%ld\n",
			  fp, keypool_why_name(r->why), r->left);
	}
	err = buf_puts(b, *nout > 0 ? ",{\"provider\":\"" : "{\"provider\":\"");
	if (err == RELAY_OK)
		err = buf_json_escape(b, provider, strlen(provider));
	if (err == RELAY_OK)
		err = buf_printf(b,
		    "\",\"key\":\"%s\",\"reason\":\"%s\",\"seconds_left\":%ld}",
		    fp, keypool_why_name(r->why), r->left);
	(*nout)++;
	return err;
}

enum relay_err
keypool_report(struct kv *kv, const struct config *cfg,
    const struct creds_snap *cs, int prom, struct buf *b)
{
	enum relay_err err = RELAY_OK;
	const char *const *stored;
	size_t i, k, n, nstored, nout = 0;
	enum relay_err kerr = RELAY_OK;
	struct rest r;
	char fp[17];

	if (prom)
		err = buf_puts(b,
		    "# HELP relay_upstream_key_benched_seconds Provider keys "
		    "out of rotation: seconds left, by key fingerprint and "
		    "reason.\n"
		    "# TYPE relay_upstream_key_benched_seconds gauge\n");
	else
		err = buf_append(b, "[", 1);
	for (i = 0; err == RELAY_OK && i < cfg->nproviders; i++) {
		const struct config_provider *p = &cfg->providers[i];

		stored = creds_for(cs, p->name, &nstored);
		n = p->nkeys + nstored;
		/* memcached in trouble: nothing to learn, and a frozen one
		 * must not hold the page for a timeout per key. */
		for (k = 0; err == RELAY_OK && n > 1 && k < n &&
		     (kerr == RELAY_OK || kerr == RELAY_ENOTFOUND);
		     k++) {
			keypool_fingerprint(slot(p, stored, k), fp);
			kerr = resting(kv, p->name, fp, &r);
			if (r.left > 0)
				err =
				    report_one(b, prom, &nout, p->name, fp, &r);
		}
	}
	if (err == RELAY_OK && !prom)
		err = buf_append(b, "]", 1);
	return err;
}
