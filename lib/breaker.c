/* SPDX-License-Identifier: MIT */
/* breaker.c - three memcached items per target: "cb:o:" holds the time the
 * breaker opened until (absent: closed), "cb:f:<window>" counts failures in
 * a fixed window, "cb:p:" is the half-open probe's lock (added by exactly
 * one caller, whatever the number of processes). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "breaker.h"
#include "config.h"
#include "kv.h"
#include "limits.h"
#include "log.h"
#include "num.h"

/* How long a probe may take before another caller may probe: seconds. */
#define BREAKER_PROBE_TTL 30

static const char *const breaker_names[BREAKER__MAX] = {
    [BREAKER_CLOSED] = "closed",
    [BREAKER_OPEN] = "open",
    [BREAKER_HALF_OPEN] = "half_open",
};

const char *
breaker_name(enum breaker_state s)
{
	return (unsigned)s < BREAKER__MAX ? breaker_names[s] : "?";
}

/* A memcached-safe key: no spaces or control bytes, bounded. */
static void
bkey(char *out, size_t outsz, const char *kind, const char *target,
    long long window)
{
	size_t i, o;

	o = (size_t)snprintf(out, outsz, "cb:%s:", kind);
	for (i = 0; target[i] != '\0' && o + 24 < outsz && i < 180; i++)
		out[o++] =
		    (target[i] > ' ' && target[i] < 0x7f) ? target[i] : '_';
	out[o] = '\0';
	if (window >= 0)
		snprintf(out + o, outsz - o, ":%lld", window);
}

/*
 * A process-local cache of what memcached said about each target, kept
 * BREAKER_CACHE_MS: the request path then costs no round trip while a
 * breaker stays closed. A process learns of another's change within that
 * time; its own changes update the cache at once.
 */
#define BREAKER_CACHE_MS 1000
#define BREAKER_CACHE_SLOTS 64

struct bcache {
	unsigned long hash;
	long long until;
	struct timespec at;
};

static struct bcache bcache[BREAKER_CACHE_SLOTS];
static pthread_mutex_t bcache_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned long
bhash(const char *s)
{
	unsigned long h = 5381;

	for (; *s != '\0'; s++)
		h = h * 33 + (unsigned char)*s;
	/* Never 0 (an empty slot). Not "h | 1": that made names differing
	 * only in their last bit ("p/m0", "p/m1") share a cache entry, so one
	 * target's open breaker read as the other's for a second. */
	return h != 0 ? h : 1;
}

static int
bcache_get(const char *target, long long *until)
{
	unsigned long h = bhash(target);
	struct bcache *c = &bcache[h % BREAKER_CACHE_SLOTS];
	struct timespec now;
	int hit = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&bcache_lock);
	if (c->hash == h &&
	    (now.tv_sec - c->at.tv_sec) * 1000 +
		    (now.tv_nsec - c->at.tv_nsec) / 1000000 <
		BREAKER_CACHE_MS) {
		*until = c->until;
		hit = 1;
	}
	pthread_mutex_unlock(&bcache_lock);
	return hit;
}

static void
bcache_put(const char *target, long long until)
{
	unsigned long h = bhash(target);
	struct bcache *c = &bcache[h % BREAKER_CACHE_SLOTS];

	pthread_mutex_lock(&bcache_lock);
	c->hash = h;
	c->until = until;
	clock_gettime(CLOCK_MONOTONIC, &c->at);
	pthread_mutex_unlock(&bcache_lock);
}

/* The open-until time, 0 when closed; -1 when memcached failed. */
static long long
open_until(struct kv *kv, const char *target)
{
	char key[KV_KEY_MAX + 1];
	struct buf b;
	long long until = 0;
	enum relay_err err;

	if (bcache_get(target, &until))
		return until;
	bkey(key, sizeof(key), "o", target, -1);
	buf_init(&b, 32);
	err = kv_get(kv, key, &b);
	if (err == RELAY_OK &&
	    num_parse(b.data, 0, (long long)1 << 40, &until) != RELAY_OK)
		until = 0;
	buf_reset(&b);
	if (err == RELAY_ENOTFOUND)
		until = 0;
	else if (err != RELAY_OK)
		return -1;
	bcache_put(target, until);
	return until;
}

static void
set_open(struct kv *kv, const struct config_breaker *conf, const char *target)
{
	char key[KV_KEY_MAX + 1], val[24];
	int n;

	bkey(key, sizeof(key), "o", target, -1);
	n = snprintf(
	    val, sizeof(val), "%lld", (long long)time(NULL) + conf->open_s);
	/* Kept well past open_s: its expiry must not look like "closed". */
	bcache_put(target, (long long)time(NULL) + conf->open_s);
	if (kv_set(kv, key, val, (size_t)n, (unsigned)conf->open_s + 3600) !=
	    RELAY_OK)
		log_warn("breaker %s: could not open", target);
	else
		log_warn("breaker %s: open for %d s", target, conf->open_s);
}

enum breaker_state
breaker_state(
    struct kv *kv, const struct config_breaker *conf, const char *target)
{
	long long until;

	if (conf->failures <= 0)
		return BREAKER_CLOSED;
	until = open_until(kv, target);
	if (until <= 0)
		return BREAKER_CLOSED;
	return (long long)time(NULL) < until ? BREAKER_OPEN : BREAKER_HALF_OPEN;
}

int
breaker_allow(struct kv *kv, const struct config_breaker *conf,
    const char *target, int *probe)
{
	char key[KV_KEY_MAX + 1];
	int stored = 0;

	*probe = 0;
	switch (breaker_state(kv, conf, target)) {
	case BREAKER_CLOSED: return 1;
	case BREAKER_OPEN: return 0;
	case BREAKER_HALF_OPEN:
	case BREAKER__MAX: break;
	}
	bkey(key, sizeof(key), "p", target, -1);
	if (kv_add(kv, key, "1", 1, BREAKER_PROBE_TTL, &stored) != RELAY_OK)
		return 1;
	*probe = stored;
	return stored;
}

void
breaker_success(struct kv *kv, const struct config_breaker *conf,
    const char *target, int probe)
{
	char key[KV_KEY_MAX + 1];

	if (conf->failures <= 0 || !probe)
		return;
	bkey(key, sizeof(key), "o", target, -1);
	bcache_put(target, 0);
	if (kv_delete(kv, key) != RELAY_OK)
		log_warn("breaker %s: could not close", target);
	bkey(key, sizeof(key), "p", target, -1);
	if (kv_delete(kv, key) != RELAY_OK)
		log_debug("breaker %s: probe lock not removed", target);
	log_info("breaker %s: closed after a good probe", target);
}

void
breaker_failure(struct kv *kv, const struct config_breaker *conf,
    const char *target, int probe)
{
	char key[KV_KEY_MAX + 1];
	long long window = (long long)time(NULL) / conf->window_s;
	uint64_t n = 0;

	if (conf->failures <= 0)
		return;
	if (probe) {
		set_open(kv, conf, target);
		bkey(key, sizeof(key), "p", target, -1);
		if (kv_delete(kv, key) != RELAY_OK)
			log_debug("breaker %s: probe lock not removed", target);
		return;
	}
	bkey(key, sizeof(key), "f", target, window);
	if (kv_incr(kv, key, 1, (unsigned)conf->window_s * 2, &n) != RELAY_OK)
		return;
	/* Exactly one caller sees the count reach the threshold. */
	if (n == (uint64_t)conf->failures)
		set_open(kv, conf, target);
}

/* 1 when targets[0..j) of model i or any earlier model has t's name. */
static int
seen_before(
    const struct config *cfg, size_t i, size_t j, const struct config_target *t)
{
	size_t a, b;

	for (a = 0; a <= i; a++)
		for (b = 0; b < (a < i ? cfg->models[a].ntargets : j); b++)
			if (cfg->models[a].targets[b].provider == t->provider &&
			    strcmp(cfg->models[a].targets[b].model, t->model) ==
				0)
				return 1;
	return 0;
}

enum relay_err
breaker_each(struct kv *kv, const struct config *cfg, breaker_fn fn, void *arg)
{
	char name[2 * RELAY_NAME_MAX + 2];
	enum relay_err err = RELAY_OK;
	size_t i, j;

	for (i = 0; err == RELAY_OK && i < cfg->nmodels; i++)
		for (j = 0; err == RELAY_OK && j < cfg->models[i].ntargets;
		     j++) {
			const struct config_target *t =
			    &cfg->models[i].targets[j];

			if (seen_before(cfg, i, j, t))
				continue;
			/* The name proxy.c counts the target's calls by. */
			snprintf(name, sizeof(name), "%s/%s", t->provider->name,
			    t->model);
			err = fn(
			    arg, name, breaker_state(kv, &cfg->breaker, name));
		}
	return err;
}

struct report {
	struct buf *b;
	size_t n;
};

static enum relay_err
report_one(void *arg, const char *target, enum breaker_state s)
{
	struct report *r = arg;
	enum relay_err err;

	err = r->n > 0 ? buf_append(r->b, ",\"", 2) : buf_append(r->b, "\"", 1);
	r->n++;
	if (err == RELAY_OK)
		err = buf_json_escape(r->b, target, strlen(target));
	if (err == RELAY_OK)
		err = buf_printf(r->b, "\":\"%s\"", breaker_name(s));
	return err;
}

enum relay_err
breaker_report(struct kv *kv, const struct config *cfg, struct buf *b)
{
	struct report r = {b, 0};
	enum relay_err err = buf_append(b, "{", 1);

	if (err == RELAY_OK)
		err = breaker_each(kv, cfg, report_one, &r);
	if (err == RELAY_OK)
		err = buf_append(b, "}", 1);
	return err;
}
