/* SPDX-License-Identifier: MIT */
/* cache.c - the response cache. An entry is one or more memcached items:
 *
 *   rc:<sha256 of the normalised request>:0   header line '\n' part 0
 *   rc:<...>:<i>                              part i of the payload
 *
 * The header names the parts, the payload's length and SHA-256, and the
 * generations the entry was made under. A purge moves a generation on
 * (rcg:all, rcg:m:<model>, rcg:k:<key>), so older entries stop matching
 * everywhere at once and age out by their TTL; nothing has to be listed
 * or deleted. One lookup is one round trip: the generations and part 0
 * come in one multi-get. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "chatreq.h"
#include "config.h"
#include "crypto.h"
#include "jsonx.h"
#include "kv.h"
#include "loop.h"
#include "limits.h"
#include "log.h"
#include "num.h"

/* The format version, in every key hash and header. */
#define CACHE_VERSION 1

static const char *const status_names[CACHE__MAX] = {
    [CACHE_BYPASS] = "BYPASS",
    [CACHE_MISS] = "MISS",
    [CACHE_REFRESH] = "REFRESH",
    [CACHE_HIT] = "HIT",
};

const char *
cache_status_name(enum cache_status s)
{
	return (unsigned)s < CACHE__MAX ? status_names[s] : "BYPASS";
}

void
cache_entry_init(struct cache_entry *e, size_t max)
{
	memset(e, 0, sizeof(*e));
	buf_init(&e->payload, max);
}

void
cache_entry_reset(struct cache_entry *e)
{
	buf_reset(&e->payload);
}

/* --- what may be cached -------------------------------------------------- */

/* The temperature the request asks for; -1 when it sets none (providers
 * then sample at 1). */
static double
temperature(enum dialect d, json_t *root)
{
	json_t *t = d == DIALECT_GEMINI
	    ? json_object_get(
		  json_object_get(root, "generationConfig"), "temperature")
	    : json_object_get(root, "temperature");

	return json_is_number(t) ? json_number_value(t) : -1;
}

/* Cache-Control from the client: no-store, no-cache, max-age=N. */
static void
directives(const char *cc, int *no_store, int *no_cache, long *max_age)
{
	const char *p = cc, *end;
	char num[24];
	long long v;
	size_t n;

	*no_store = *no_cache = 0;
	*max_age = -1;
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 8 && strncasecmp(p, "no-store", 8) == 0)
			*no_store = 1;
		else if (n == 8 && strncasecmp(p, "no-cache", 8) == 0)
			*no_cache = 1;
		else if (n > 8 && n < 8 + sizeof(num) &&
		    strncasecmp(p, "max-age=", 8) == 0) {
			memcpy(num, p + 8, n - 8);
			num[n - 8] = '\0';
			if (num_parse(num, 0, 86400L * 365 * 10, &v) ==
			    RELAY_OK)
				*max_age = (long)v;
		}
		p = *end == ',' ? end + 1 : end;
	}
}

/* --- the key -------------------------------------------------------------- */

/* Members that never change the answer (besides the model, which the
 * routed model replaces, and stream, whose two forms share entries). */
static const char *const ignored[] = {"model", "stream", "stream_options",
    "user", "metadata", "store", "service_tier", "safety_identifier",
    "prompt_cache_key", "prompt_cache_retention", NULL};

static int
digest_cb(const char *p, size_t n, void *arg)
{
	return EVP_DigestUpdate(arg, p, n) == 1 ? 0 : -1;
}

static int
digest_str(EVP_MD_CTX *md, const char *s)
{
	/* With its NUL: "ab"+"c" and "a"+"bc" must differ. */
	return EVP_DigestUpdate(md, s, strlen(s) + 1) == 1 ? 0 : -1;
}

/*
 * Claude Code's first system block ("x-anthropic-billing-header:
 * cc_version=...") changes with every release and never changes the
 * answer: an Anthropic request's system blocks that are one are left out
 * of the key (copy is the key's own shallow copy of the request). 1 on
 * OOM.
 */
static int
drop_billing_blocks(enum dialect d, json_t *copy)
{
	static const char mark[] = "x-anthropic-billing-header:";
	json_t *sys = json_object_get(copy, "system"), *kept, *b;
	const char *t;
	size_t i;
	int found = 0;

	if (d != DIALECT_ANTHROPIC || !json_is_array(sys))
		return 0;
	kept = json_array();
	if (kept == NULL)
		return 1;
	json_array_foreach (sys, i, b) {
		t = json_string_value(json_object_get(b, "text"));
		if (t != NULL && strncasecmp(t, mark, sizeof(mark) - 1) == 0) {
			found = 1;
			continue;
		}
		if (json_array_append(kept, b) != 0) {
			json_decref(kept);
			return 1;
		}
	}
	if (!found || json_array_size(kept) == 0) {
		if (found)
			json_object_del(copy, "system");
		json_decref(kept);
		return 0;
	}
	return json_object_set_new(copy, "system", kept) != 0;
}

/* SHA-256 of what identifies the answer, in hex. */
static enum relay_err
request_hash(enum dialect d, const char *model, const char *scope, json_t *root,
    char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[32];
	unsigned int hl = 0;
	json_t *copy = json_copy(root); /* shallow: the request stays */
	char ver[16];
	int bad;
	size_t i;

	if (md == NULL || copy == NULL) {
		EVP_MD_CTX_free(md);
		json_decref(copy);
		return RELAY_ENOMEM;
	}
	for (i = 0; ignored[i] != NULL; i++)
		json_object_del(copy, ignored[i]);
	snprintf(ver, sizeof(ver), "v%d", CACHE_VERSION);
	bad = drop_billing_blocks(d, copy) ||
	    EVP_DigestInit_ex(md, crypto_sha256_md(), NULL) != 1 ||
	    digest_str(md, ver) || digest_str(md, dialect_name(d)) ||
	    digest_str(md, model) || digest_str(md, scope) ||
	    json_dump_callback(copy, digest_cb, md,
		JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
		    JSON_REAL_PRECISION(17)) != 0 ||
	    EVP_DigestFinal_ex(md, h, &hl) != 1;
	EVP_MD_CTX_free(md);
	json_decref(copy);
	if (bad)
		return RELAY_ENOMEM;
	crypto_hex(h, 32, out);
	return RELAY_OK;
}

/* rcg:<what>:<hex of sha256(name)>, or rcg:all. */
static void
gen_key(char *out, size_t outsz, const char *what, const char *name)
{
	unsigned char h[32];
	char hex[65];

	if (name == NULL) {
		snprintf(out, outsz, "rcg:all");
		return;
	}
	crypto_sha256(name, strlen(name), h);
	crypto_hex(h, 16, hex);
	snprintf(out, outsz, "rcg:%s:%s", what, hex);
}

/* A new generation: microseconds since the epoch, never a value an
 * earlier (since evicted) counter of the same name had. */
static unsigned long long
gen_fresh(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (unsigned long long)tv.tv_sec * 1000000u +
	    (unsigned long long)tv.tv_usec;
}

/* The value of a generation counter that was missing: made now, or the
 * one another process made first. */
static enum relay_err
gen_ensure(struct kv *kv, const char *key, struct buf *val)
{
	char num[24];
	int n, stored;
	enum relay_err err;

	n = snprintf(num, sizeof(num), "%llu", gen_fresh());
	err = kv_add(kv, key, num, (size_t)n, 0, &stored);
	if (err != RELAY_OK)
		return err;
	buf_clear(val);
	if (stored)
		return buf_append(val, num, (size_t)n);
	return kv_get(kv, key, val);
}

/* "<all>.<model>.<key>" ("-" for an unscoped key); RELAY_EPROTO when a
 * counter holds anything but digits. */
static enum relay_err
gens_join(char *out, size_t outsz, const struct buf *vals, size_t n)
{
	size_t i, len = 0;
	const char *v;
	int w;

	for (i = 0; i < 3; i++) {
		v = i < n && vals[i].data != NULL ? vals[i].data : "-";
		if (i < n &&
		    (v[0] == '\0' || strspn(v, "0123456789") != strlen(v) ||
			strlen(v) > 20))
			return RELAY_EPROTO;
		w = snprintf(out + len, outsz - len, "%s%s", i ? "." : "", v);
		if (w < 0 || (size_t)w >= outsz - len)
			return RELAY_EPROTO;
		len += (size_t)w;
	}
	return RELAY_OK;
}

/* --- the header ------------------------------------------------------------ */

static long long
num_of(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

enum relay_err
cache_header_parse(
    const char *p, size_t n, struct cache_entry *e, struct cache_header *h)
{
	const char *nl = memchr(p, '\n', n);
	json_t *o = NULL;
	const char *s;
	char jerr[64];
	long long v, parts, len, d;

	memset(h, 0, sizeof(*h));
	if (nl == NULL ||
	    jsonx_parse(p, (size_t)(nl - p), &o, jerr, sizeof(jerr)) !=
		RELAY_OK)
		return RELAY_EPROTO;
	v = num_of(o, "v");
	parts = num_of(o, "n");
	len = num_of(o, "len");
	d = num_of(o, "d");
	if (v != CACHE_VERSION || parts < 1 || parts > RELAY_CACHE_PARTS_MAX ||
	    len < 0 || len > (long long)RELAY_CACHE_MAX_BYTES_CEILING ||
	    d < 0 || d >= DIALECT__MAX)
		goto bad;
	h->parts = (size_t)parts;
	h->len = (size_t)len;
	s = json_string_value(json_object_get(o, "sum"));
	if (s == NULL || strlen(s) != 64)
		goto bad;
	memcpy(h->sum, s, 65);
	s = json_string_value(json_object_get(o, "g"));
	if (s == NULL || strlen(s) >= sizeof(h->gens))
		goto bad;
	snprintf(h->gens, sizeof(h->gens), "%s", s);
	e->d = (enum dialect)d;
	e->stream = num_of(o, "s") == 1;
	e->include_usage = num_of(o, "u") == 1;
	e->tokens_in = num_of(o, "in");
	e->tokens_out = num_of(o, "out");
	e->tokens_cached = num_of(o, "cached");
	e->created = num_of(o, "t");
	s = json_string_value(json_object_get(o, "target"));
	snprintf(e->target, sizeof(e->target), "%s", s != NULL ? s : "");
	json_decref(o);
	return RELAY_OK;
bad:
	json_decref(o);
	return RELAY_EPROTO;
}

static enum relay_err
header_write(const struct cache_req *cq, const struct cache_entry *e,
    size_t parts, const char *sum, struct buf *out)
{
	json_t *o = json_pack("{s:i,s:s,s:I,s:I,s:s,s:i,s:i,s:i,s:I,s:I,s:I,"
			      "s:I,s:s}",
	    "v", CACHE_VERSION, "g", cq->gens, "n", (json_int_t)parts, "len",
	    (json_int_t)e->payload.len, "sum", sum, "d", (int)e->d, "s",
	    e->stream, "u", e->include_usage, "in", (json_int_t)e->tokens_in,
	    "out", (json_int_t)e->tokens_out, "cached",
	    (json_int_t)e->tokens_cached, "t", (json_int_t)time(NULL), "target",
	    e->target);
	enum relay_err err = o != NULL ? jsonx_dump(o, out) : RELAY_ENOMEM;

	json_decref(o);
	return err == RELAY_OK ? buf_append(out, "\n", 1) : err;
}

/* --- lookup --------------------------------------------------------------- */

static void
part_key(char *out, size_t outsz, const char *hash, size_t i)
{
	snprintf(out, outsz, "rc:%s:%zu", hash, i);
}

/* Parts 1..n-1 after part 0, in multi-gets of RELAY_KV_MGET_MAX; then the
 * whole is checked against the header. 1 when e->payload is whole. */
static int
read_rest(struct kv *kv, const struct cache_req *cq,
    const struct cache_header *h, struct cache_entry *e)
{
	char keys[RELAY_KV_MGET_MAX][KV_KEY_MAX + 1];
	const char *kp[RELAY_KV_MGET_MAX];
	struct buf vals[RELAY_KV_MGET_MAX];
	int found[RELAY_KV_MGET_MAX];
	unsigned char sum[32];
	char hex[65];
	size_t i, j, n;
	int ok = 1;

	for (i = 1; i < h->parts && ok; i += n) {
		n = h->parts - i < RELAY_KV_MGET_MAX ? h->parts - i
						     : RELAY_KV_MGET_MAX;
		for (j = 0; j < n; j++) {
			part_key(keys[j], sizeof(keys[j]), cq->hash, i + j);
			kp[j] = keys[j];
			buf_init(&vals[j], cq->part_bytes + 1);
		}
		ok = kv_mget(kv, kp, n, vals, found) == RELAY_OK;
		for (j = 0; j < n; j++) {
			if (ok &&
			    (!found[j] ||
				buf_append(&e->payload, vals[j].data,
				    vals[j].len) != RELAY_OK))
				ok = 0;
			buf_reset(&vals[j]);
		}
	}
	if (!ok || e->payload.len != h->len)
		return 0;
	crypto_sha256(e->payload.data != NULL ? e->payload.data : "",
	    e->payload.len, sum);
	crypto_hex(sum, 32, hex);
	return strcmp(hex, h->sum) == 0;
}

/* The entry behind part 0's value v, when it is current and whole. */
static int
read_entry(struct kv *kv, const struct cache_req *cq, struct span v,
    struct cache_entry *e)
{
	struct cache_header h;
	const char *nl;

	if (cache_header_parse(v.p, v.len, e, &h) != RELAY_OK) {
		log_debug("cache %.12s: unreadable header", cq->hash);
		return 0;
	}
	if (strcmp(h.gens, cq->gens) != 0)
		return 0; /* purged since */
	if (cq->max_age_s >= 0 && time(NULL) - e->created > cq->max_age_s)
		return 0;
	nl = memchr(v.p, '\n', v.len);
	if (buf_append(&e->payload, nl + 1, v.len - (size_t)(nl + 1 - v.p)) !=
	    RELAY_OK)
		return 0;
	if (read_rest(kv, cq, &h, e))
		return 1;
	log_debug("cache %.12s: entry incomplete or torn", cq->hash);
	buf_clear(&e->payload);
	return 0;
}

static void
lock_key(char *out, size_t outsz, const char *hash)
{
	snprintf(out, outsz, "rcl:%s", hash);
}

/* Another responder is fetching this very answer: wait for its entry
 * rather than pay for it twice. 1 when it came (e filled); 0 when the
 * leader gave up (its lock went without an entry) or took too long. */
static int
follow(struct cache_req *cq, struct kv *kv, long wait_ms, struct cache_entry *e)
{
	char keys[2][KV_KEY_MAX + 1];
	const char *kp[2] = {keys[0], keys[1]};
	struct buf vals[2];
	int found[2], hit = 0, done = 0;
	long waited = 0, step = 5;
	enum relay_err err;

	lock_key(keys[0], sizeof(keys[0]), cq->hash);
	part_key(keys[1], sizeof(keys[1]), cq->hash, 0);
	while (!done && waited < wait_ms) {
		loop_nap(step); /* in the loop when on it */
		waited += step;
		if (step < 100)
			step *= 2;
		buf_init(&vals[0], 64);
		buf_init(&vals[1], cq->part_bytes + 4096);
		err = kv_mget(kv, kp, 2, vals, found);
		if (err != RELAY_OK)
			done = 1;
		else if (found[1] && vals[1].len > 0 &&
		    read_entry(
			kv, cq, (struct span){vals[1].data, vals[1].len}, e))
			hit = done = 1;
		else if (!found[0])
			done = 1;
		buf_reset(&vals[0]);
		buf_reset(&vals[1]);
	}
	return hit;
}

/*
 * A miss: take the request's lock and lead (fetch the answer, store it),
 * or, when another responder leads already, follow it: a whole-answer
 * request waits for the leader's entry. A stream never waits (its first
 * token would come only when the leader's last did); it fetches its own
 * answer. 1 when a follower was served.
 */
static int
lead_or_follow(struct cache_req *cq, struct kv *kv, const struct config *cfg,
    const struct chatreq *cr, struct cache_entry *e)
{
	char key[KV_KEY_MAX + 1];
	long wait_ms = cfg->retry.deadline_ms;
	int stored;

	if (wait_ms > RELAY_CACHE_FOLLOW_MS_MAX)
		wait_ms = RELAY_CACHE_FOLLOW_MS_MAX;
	lock_key(key, sizeof(key), cq->hash);
	if (kv_add(kv, key, "1", 1, (unsigned)(wait_ms / 1000 + 1), &stored) !=
	    RELAY_OK)
		return 0;
	if (stored) {
		cq->leader = 1;
		return 0;
	}
	return !cr->stream && follow(cq, kv, wait_ms, e);
}

enum cache_status
cache_lookup(struct cache_req *cq, struct kv *kv, const struct config *cfg,
    const struct config_model *m, enum dialect d, const struct chatreq *cr,
    const char *key_id, const char *cache_control, struct cache_entry *e)
{
	const struct config_cache *c = &m->cache;
	char keys[4][KV_KEY_MAX + 1];
	const char *kp[4];
	struct buf vals[4];
	int found[4], no_store, no_cache, scoped;
	size_t n = 0, ngens, i;
	enum relay_err err;
	int variant = cq->variant;
	char scope[KV_KEY_MAX];

	memset(cq, 0, sizeof(*cq));
	cq->variant = variant;
	cq->status = CACHE_BYPASS;
	directives(cache_control, &no_store, &no_cache, &cq->max_age_s);
	if (!c->enabled || no_store || cr->root == NULL ||
	    (!cr->embed && !c->any_temperature &&
		temperature(d, cr->root) != 0))
		return CACHE_BYPASS;
	cq->ttl_s = (unsigned)c->ttl_s;
	cq->max_bytes = cfg->cache_max_bytes;
	cq->part_bytes = cfg->cache_part_bytes;
	scoped = !c->shared && key_id != NULL;
	snprintf(scope, sizeof(scope), "%.200s|%d",
	    c->shared    ? "*"
		: key_id ? key_id
			 : "-",
	    variant);
	if (request_hash(d, m->name, scope, cr->root, cq->hash) != RELAY_OK)
		return CACHE_BYPASS;
	gen_key(keys[n++], sizeof(keys[0]), "all", NULL);
	gen_key(keys[n++], sizeof(keys[0]), "m", m->name);
	if (scoped)
		gen_key(keys[n++], sizeof(keys[0]), "k", key_id);
	ngens = n;
	if (!no_cache)
		part_key(keys[n++], sizeof(keys[0]), cq->hash, 0);
	for (i = 0; i < n; i++) {
		kp[i] = keys[i];
		buf_init(&vals[i], i < ngens ? 64 : cq->part_bytes + 4096);
	}
	err = kv_mget(kv, kp, n, vals, found);
	for (i = 0; err == RELAY_OK && i < ngens; i++)
		if (!found[i])
			err = gen_ensure(kv, keys[i], &vals[i]);
	if (err == RELAY_OK)
		err = gens_join(cq->gens, sizeof(cq->gens), vals, ngens);
	if (err != RELAY_OK) {
		log_debug(
		    "cache %.12s: memcached failed, served uncached", cq->hash);
	} else if (no_cache) {
		cq->status = CACHE_REFRESH;
		cq->store = 1;
	} else if (found[ngens] && vals[ngens].len > 0 &&
	    read_entry(
		kv, cq, (struct span){vals[ngens].data, vals[ngens].len}, e)) {
		cq->status = CACHE_HIT;
	} else if (lead_or_follow(cq, kv, cfg, cr, e)) {
		cq->status = CACHE_HIT;
	} else {
		cq->status = CACHE_MISS;
		cq->store = 1;
	}
	for (i = 0; i < n; i++)
		buf_reset(&vals[i]);
	return cq->status;
}

void
cache_done(struct cache_req *cq, struct kv *kv)
{
	char key[KV_KEY_MAX + 1];

	if (!cq->leader)
		return;
	cq->leader = 0;
	lock_key(key, sizeof(key), cq->hash);
	if (kv_delete(kv, key) != RELAY_OK)
		log_debug("cache %.12s: lock left to expire", cq->hash);
}

/* --- store -------------------------------------------------------------- */

void
cache_store(struct cache_req *cq, struct kv *kv, const struct cache_entry *e)
{
	const struct buf *pl = &e->payload;
	size_t parts, i, off, n;
	unsigned char sum[32];
	char hex[65], key[KV_KEY_MAX + 1];
	struct buf head;
	enum relay_err err = RELAY_OK;

	if (!cq->store || pl->len == 0 || pl->len > cq->max_bytes ||
	    cq->part_bytes == 0)
		return;
	cq->store = 0;
	if (e->stream &&
	    !dialect_stream_text_complete(
		e->d, (struct span){pl->data, pl->len})) {
		log_debug(
		    "cache %.12s: stream incomplete, not stored", cq->hash);
		return;
	}
	parts = (pl->len + cq->part_bytes - 1) / cq->part_bytes;
	if (parts > RELAY_CACHE_PARTS_MAX)
		return;
	crypto_sha256(pl->data, pl->len, sum);
	crypto_hex(sum, 32, hex);
	/* The last part first, part 0 (with the header) last: a reader that
	 * finds part 0 finds the rest, unless evicted (the sum tells). */
	for (i = parts; i-- > 1 && err == RELAY_OK;) {
		off = i * cq->part_bytes;
		n = pl->len - off < cq->part_bytes ? pl->len - off
						   : cq->part_bytes;
		part_key(key, sizeof(key), cq->hash, i);
		err = kv_set(kv, key, pl->data + off, n, cq->ttl_s);
	}
	buf_init(&head, cq->part_bytes + 4096);
	if (err == RELAY_OK)
		err = header_write(cq, e, parts, hex, &head);
	if (err == RELAY_OK)
		err = buf_append(&head, pl->data,
		    pl->len < cq->part_bytes ? pl->len : cq->part_bytes);
	if (err == RELAY_OK) {
		part_key(key, sizeof(key), cq->hash, 0);
		err = kv_set(kv, key, head.data, head.len, cq->ttl_s);
	}
	buf_reset(&head);
	if (err != RELAY_OK)
		log_warn(
		    "cache %.12s: not stored (%s)", cq->hash, err_name(err));
}

/* --- purge -------------------------------------------------------------- */

enum relay_err
cache_purge(struct kv *kv, enum cache_scope scope, const char *name)
{
	char key[KV_KEY_MAX + 1], num[24];
	uint64_t v;
	int n;
	enum relay_err err;

	gen_key(key, sizeof(key),
	    scope == CACHE_PURGE_MODEL     ? "m"
		: scope == CACHE_PURGE_KEY ? "k"
					   : "all",
	    scope == CACHE_PURGE_ALL ? NULL : name);
	err = kv_incr(kv, key, 0, 0, &v);
	/* kv_incr() made a missing counter at 0: give it a fresh value
	 * instead, which no older entry can carry. */
	if (err == RELAY_OK && v == 0) {
		n = snprintf(num, sizeof(num), "%llu", gen_fresh());
		return kv_set(kv, key, num, (size_t)n, 0);
	}
	return err == RELAY_OK ? kv_incr(kv, key, 1, 0, &v) : err;
}
