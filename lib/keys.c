/* SPDX-License-Identifier: MIT */
/* keys.c - virtual keys: file format {"version":1,"keys":[record...]} where
 * a record holds the key's settings and "hash", the hex SHA-256 of its
 * secret. Secrets are shown once, at creation or rotation, never stored. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "crypto.h"
#include "keys.h"
#include "limits.h"
#include "log.h"
#include "mem.h"
#include "num.h"
#include "store.h"

/* Keys in one file: count. */
#define KEYS_MAX 100000

struct keyring {
	struct vkey *v; /* sorted by hash */
	size_t n;
	int refs;
};

struct keys_store {
	pthread_mutex_t lock;
	char *path;
	struct store_watch watch;
	struct keyring *cur;
};

/* --- addresses ------------------------------------------------------- */

enum relay_err
keys_parse_cidr(const char *s, struct keys_cidr *out)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	long long bits;
	int max;

	if (alen == 0 || alen >= sizeof(addr))
		return RELAY_EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else
		return RELAY_EINVAL;
	out->bits = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9' ||
		    num_parse(slash + 1, 0, max, &bits) != RELAY_OK)
			return RELAY_EINVAL;
		out->bits = (int)bits;
	}
	/* ::ffff:a.b.c.d/n is the IPv4 block a.b.c.d/(n-96): clients of
	 * that form are compared as IPv4. */
	if (out->family == AF_INET6 && out->bits >= 96 &&
	    memcmp(out->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = AF_INET;
		out->bits -= 96;
	}
	return RELAY_OK;
}

static int
prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (full > 0 && memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int
keys_ip_allowed(const struct vkey *k, const char *ip)
{
	unsigned char a[16];
	int fam;
	size_t i;

	if (k->nips == 0)
		return 1;
	if (inet_pton(AF_INET, ip, a) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, ip, a) == 1) {
		fam = AF_INET6;
		/* ::ffff:a.b.c.d is an IPv4 client. */
		if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
			memmove(a, a + 12, 4);
			fam = AF_INET;
		}
	} else
		return 0;
	for (i = 0; i < k->nips; i++)
		if (k->ips[i].family == fam &&
		    prefix_match(a, k->ips[i].addr, k->ips[i].bits))
			return 1;
	return 0;
}

int
keys_model_allowed(const struct vkey *k, const char *model, size_t n)
{
	size_t i;

	if (k->nmodels == 0)
		return 1;
	for (i = 0; i < k->nmodels; i++)
		if (strlen(k->models[i]) == n &&
		    memcmp(k->models[i], model, n) == 0)
			return 1;
	return 0;
}

/* --- snapshots --------------------------------------------------------- */

static void
vkey_free(struct vkey *k)
{
	size_t i;

	mem_free(k->name);
	for (i = 0; i < k->nmodels; i++)
		mem_free(k->models[i]);
	mem_free(k->models);
	mem_free(k->ips);
}

static void
ring_free(struct keyring *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		vkey_free(&r->v[i]);
	mem_free(r->v);
	mem_free(r);
}

void
keys_release(struct keyring *r)
{
	if (r != NULL && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
		ring_free(r);
}

static long long
int_field(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static enum relay_err
vkey_lists(struct vkey *k, json_t *rec)
{
	json_t *models = json_object_get(rec, "models");
	json_t *ips = json_object_get(rec, "allowed_ips"), *e;
	size_t i;

	if (json_array_size(models) > 0) {
		k->models = mem_calloc(json_array_size(models), sizeof(char *));
		if (k->models == NULL)
			return RELAY_ENOMEM;
		json_array_foreach (models, i, e) {
			k->models[i] = mem_strdup(
			    json_string_value(e) ? json_string_value(e) : "");
			if (k->models[i] == NULL)
				return RELAY_ENOMEM;
			k->nmodels = i + 1;
		}
	}
	if (json_array_size(ips) > 0) {
		k->ips = mem_calloc(json_array_size(ips), sizeof(*k->ips));
		if (k->ips == NULL)
			return RELAY_ENOMEM;
		json_array_foreach (ips, i, e) {
			if (!json_is_string(e) ||
			    keys_parse_cidr(json_string_value(e),
				&k->ips[k->nips]) != RELAY_OK)
				continue; /* validated on write */
			k->nips++;
		}
		if (k->nips == 0)
			k->disabled =
			    1; /* an allowlist of nothing allows none */
	}
	return RELAY_OK;
}

/* "off", "mask", "stop" as 0, 1, 2; anything else -1 (the model's). */
static int
filter_output_of(const char *s)
{
	static const char *const names[] = {"off", "mask", "stop"};
	int i;

	for (i = 0; s != NULL && i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* "off", "mask", "pseudonymise", "block" as enum pii_action; else -1. */
static int
pii_action_of(const char *s)
{
	static const char *const names[] = {
	    "off", "mask", "pseudonymise", "block"};
	int i;

	for (i = 0; s != NULL && i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return s != NULL && strcmp(s, "pseudonymize") == 0 ? 2 : -1;
}

static enum relay_err
vkey_load(struct vkey *k, json_t *rec)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *hash = json_string_value(json_object_get(rec, "hash"));
	const char *name = json_string_value(json_object_get(rec, "name"));
	json_t *budget = json_object_get(rec, "monthly_budget_usd");

	if (id == NULL || hash == NULL || strlen(id) > KEYS_ID_LEN ||
	    crypto_unhex(hash, k->hash, 32) != RELAY_OK)
		return RELAY_EINVAL;
	snprintf(k->id, sizeof(k->id), "%s", id);
	k->name = mem_strdup(name != NULL ? name : "");
	if (k->name == NULL)
		return RELAY_ENOMEM;
	k->rpm = int_field(rec, "rpm");
	k->tpm = int_field(rec, "tpm");
	k->max_concurrency = int_field(rec, "max_concurrency");
	k->daily_tokens = int_field(rec, "daily_tokens");
	k->expires_at = int_field(rec, "expires_at");
	k->monthly_budget_usd =
	    json_is_number(budget) ? json_number_value(budget) : 0;
	k->disabled = json_is_true(json_object_get(rec, "disabled"));
	k->tier = json_is_true(json_object_get(rec, "tier"));
	k->filter_output = filter_output_of(
	    json_string_value(json_object_get(rec, "content_filter")));
	k->tier = json_is_true(json_object_get(rec, "tier"));
	k->pii_action = pii_action_of(
	    json_string_value(json_object_get(rec, "pii_protection")));
	return vkey_lists(k, rec);
}

static int
vkey_cmp(const void *a, const void *b)
{
	return memcmp(
	    ((const struct vkey *)a)->hash, ((const struct vkey *)b)->hash, 32);
}

static enum relay_err
ring_from_json(json_t *doc, struct keyring **out)
{
	json_t *arr = json_object_get(doc, "keys"), *rec;
	struct keyring *r = mem_calloc(1, sizeof(*r));
	enum relay_err err = RELAY_OK;
	size_t i;

	*out = NULL;
	if (r == NULL)
		return RELAY_ENOMEM;
	r->refs = 1;
	/* A document of another shape must not read as "no keys": that
	 * would open the relay to everyone. */
	if (!json_is_object(doc) || !json_is_array(arr)) {
		ring_free(r);
		return RELAY_EINVAL;
	}
	if (json_array_size(arr) > 0) {
		r->v = mem_calloc(json_array_size(arr), sizeof(*r->v));
		if (r->v == NULL)
			err = RELAY_ENOMEM;
	}
	json_array_foreach (arr, i, rec) {
		if (err != RELAY_OK)
			break;
		err = vkey_load(&r->v[r->n], rec);
		r->n++;
	}
	if (err != RELAY_OK) {
		ring_free(r);
		return err;
	}
	if (r->n > 1)
		qsort(r->v, r->n, sizeof(*r->v), vkey_cmp);
	*out = r;
	return RELAY_OK;
}

size_t
keys_count(const struct keyring *r)
{
	return r->n;
}

const struct vkey *
keys_find(const struct keyring *r, const char *secret, size_t n)
{
	struct vkey probe;

	if (r->n == 0 || n == 0 || n > 1024)
		return NULL;
	crypto_sha256(secret, n, probe.hash);
	return bsearch(&probe, r->v, r->n, sizeof(*r->v), vkey_cmp);
}

struct keys_store *
keys_store_new(const char *path)
{
	struct keys_store *st = mem_calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->path = mem_strdup(path);
	st->cur = mem_calloc(1, sizeof(*st->cur));
	if (st->path == NULL || st->cur == NULL) {
		mem_free(st->cur);
		mem_free(st->path);
		mem_free(st);
		return NULL;
	}
	st->cur->refs = 1;
	pthread_mutex_init(&st->lock, NULL);
	return st;
}

void
keys_store_free(struct keys_store *st)
{
	if (st == NULL)
		return;
	keys_release(st->cur);
	pthread_mutex_destroy(&st->lock);
	mem_free(st->path);
	mem_free(st);
}

/* Caller holds st->lock. */
static void
do_keys_reload(struct keys_store *st)
{
	struct keyring *next = NULL;
	json_t *doc = NULL;
	char errbuf[256];
	struct stat sb;
	enum relay_err err;

	err = store_read(st->path, &doc, &sb, errbuf, sizeof(errbuf));
	if (err == RELAY_ENOTFOUND) {
		store_seen(&st->watch, NULL);
		doc = json_pack("{s:[]}", "keys");
		if (doc == NULL)
			return;
		err = RELAY_OK;
	} else
		store_seen(&st->watch, &sb); /* a bad file is not re-read */
	if (err == RELAY_OK)
		err = ring_from_json(doc, &next);
	json_decref(doc);
	if (err != RELAY_OK) {
		log_err("keys %s: not loaded (%s), keeping %zu keys", st->path,
		    err_name(err), st->cur->n);
		return;
	}
	keys_release(st->cur);
	st->cur = next;
	log_info("keys %s: %zu keys", st->path, next->n);
}

struct keyring *
keys_acquire(struct keys_store *st)
{
	struct keyring *r;

	pthread_mutex_lock(&st->lock);
	if (store_changed(&st->watch, st->path, RELAY_KEYS_CHECK_MS))
		do_keys_reload(st);
	r = st->cur;
	__atomic_add_fetch(&r->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* --- admin operations ------------------------------------------------- */

static enum relay_err RELAY_COLD
bad(char *errbuf, size_t errsz, const char *msg, const char *field)
{
	snprintf(errbuf, errsz, "%s: %s", field, msg);
	return RELAY_EINVAL;
}

static enum relay_err
check_string_list(
    json_t *v, const char *field, int cidr, char *errbuf, size_t errsz)
{
	struct keys_cidr c;
	json_t *e;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) > 1000)
		return bad(errbuf, errsz, "must be an array of strings", field);
	json_array_foreach (v, i, e) {
		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    json_string_length(e) > 256)
			return bad(errbuf, errsz, "must hold non-empty strings",
			    field);
		if (cidr &&
		    keys_parse_cidr(json_string_value(e), &c) != RELAY_OK)
			return bad(errbuf, errsz,
			    "must hold addresses or CIDR blocks like "
			    "10.0.0.0/8",
			    field);
	}
	return RELAY_OK;
}

/* RFC 3339 UTC ("2026-12-31T00:00:00Z") or unix seconds. */
static enum relay_err
parse_time(json_t *v, long long *out)
{
	struct tm tm;
	const char *s, *end;

	if (json_is_integer(v) && json_integer_value(v) > 0) {
		*out = json_integer_value(v);
		return RELAY_OK;
	}
	if (json_is_null(v)) {
		*out = 0;
		return RELAY_OK;
	}
	s = json_string_value(v);
	if (s == NULL)
		return RELAY_EINVAL;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || (strcmp(end, "Z") != 0 && strcmp(end, "") != 0))
		return RELAY_EINVAL;
	{
		struct tm check = tm;
		time_t t = timegm(&check);

		/* Before 1970 would read as "never"; Feb 31 rolls over. */
		if (t <= 0 || check.tm_mday != tm.tm_mday ||
		    check.tm_mon != tm.tm_mon)
			return RELAY_EINVAL;
		*out = (long long)t;
	}
	return RELAY_OK;
}

static enum relay_err
apply_field(json_t *rec, const char *k, json_t *v, char *errbuf, size_t errsz)
{
	static const char *const ints[] = {
	    "rpm", "tpm", "max_concurrency", "daily_tokens", NULL};
	long long t;
	size_t i;

	for (i = 0; ints[i] != NULL; i++)
		if (strcmp(k, ints[i]) == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return bad(errbuf, errsz,
				    "must be an integer >= 0 (0: no limit)", k);
			return json_object_set(rec, k, v) == 0 ? RELAY_OK
							       : RELAY_ENOMEM;
		}
	if (strcmp(k, "name") == 0 &&
	    (!json_is_string(v) || json_string_length(v) == 0 ||
		json_string_length(v) > 256))
		return bad(errbuf, errsz, "must be a string of 1-256 bytes", k);
	if (strcmp(k, "monthly_budget_usd") == 0 &&
	    (!json_is_number(v) || json_number_value(v) < 0 ||
		json_number_value(v) > 1e9))
		return bad(
		    errbuf, errsz, "must be a number >= 0 (0: no limit)", k);
	if ((strcmp(k, "disabled") == 0 || strcmp(k, "tier") == 0) &&
	    !json_is_boolean(v))
		return bad(errbuf, errsz, "must be true or false", k);
	if (strcmp(k, "content_filter") == 0) {
		if (json_is_null(v)) {
			json_object_del(rec, k);
			return RELAY_OK;
		}
		if (filter_output_of(json_string_value(v)) < 0)
			return bad(errbuf, errsz,
			    "must be \"off\", \"mask\", \"stop\" or null "
			    "(the model's)",
			    k);
		return json_object_set(rec, k, v) == 0 ? RELAY_OK
						       : RELAY_ENOMEM;
	}
	/* null lifts an allowlist (every model, any address): how an edit
	 * clears one, as [] would allow nothing. */
	if ((strcmp(k, "models") == 0 || strcmp(k, "allowed_ips") == 0) &&
	    json_is_null(v)) {
		json_object_del(rec, k);
		return RELAY_OK;
	}
	if (strcmp(k, "pii_protection") == 0) {
		if (json_is_null(v)) {
			json_object_del(rec, k);
			return RELAY_OK;
		}
		if (pii_action_of(json_string_value(v)) < 0)
			return bad(errbuf, errsz,
			    "must be \"off\", \"mask\", \"pseudonymise\", "
			    "\"block\" or null (the model's)",
			    k);
		return json_object_set(rec, k, v) == 0 ? RELAY_OK
						       : RELAY_ENOMEM;
	}
	if ((strcmp(k, "models") == 0 || strcmp(k, "allowed_ips") == 0) &&
	    check_string_list(v, k, k[0] == 'a', errbuf, errsz) != RELAY_OK)
		return RELAY_EINVAL;
	if (strcmp(k, "expires_at") == 0) {
		if (parse_time(v, &t) != RELAY_OK)
			return bad(errbuf, errsz,
			    "must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\"",
			    k);
		return json_object_set_new(rec, k, json_integer(t)) == 0
		    ? RELAY_OK
		    : RELAY_ENOMEM;
	}
	if (strcmp(k, "name") != 0 && strcmp(k, "monthly_budget_usd") != 0 &&
	    strcmp(k, "disabled") != 0 && strcmp(k, "tier") != 0 &&
	    strcmp(k, "models") != 0 && strcmp(k, "allowed_ips") != 0)
		return bad(errbuf, errsz, "unknown field", k);
	return json_object_set(rec, k, v) == 0 ? RELAY_OK : RELAY_ENOMEM;
}

static enum relay_err
apply_fields(json_t *req, json_t *rec, char *errbuf, size_t errsz)
{
	enum relay_err err = RELAY_OK;
	const char *k;
	json_t *v;

	if (!json_is_object(req))
		return bad(errbuf, errsz, "must be a JSON object", "body");
	json_object_foreach (req, k, v) {
		err = apply_field(rec, k, v, errbuf, errsz);
		if (err != RELAY_OK)
			break;
	}
	return err;
}

/* A copy of rec without its hash, for responses. */
static json_t *
public_view(json_t *rec)
{
	json_t *v = json_deep_copy(rec);

	if (v != NULL)
		json_object_del(v, "hash");
	return v;
}

/* Make a secret, store its hash in rec, and add it to out. */
static enum relay_err
new_secret(json_t *rec, json_t *out)
{
	unsigned char rnd[24], h[32];
	char secret[KEYS_SECRET_LEN + 1], hex[65], prefix[24];
	enum relay_err err;
	int bad_set;

	err = crypto_random(rnd, sizeof(rnd));
	if (err != RELAY_OK)
		return err;
	memcpy(secret, KEYS_SECRET_PREFIX, sizeof(KEYS_SECRET_PREFIX) - 1);
	crypto_hex(rnd, sizeof(rnd), secret + sizeof(KEYS_SECRET_PREFIX) - 1);
	crypto_sha256(secret, strlen(secret), h);
	crypto_hex(h, sizeof(h), hex);
	snprintf(prefix, sizeof(prefix), "%.13s...", secret);
	bad_set = json_object_set_new(rec, "hash", json_string(hex)) != 0 ||
	    json_object_set_new(rec, "key_prefix", json_string(prefix)) != 0 ||
	    json_object_set_new(
		rec, "updated_at", json_integer((json_int_t)time(NULL))) != 0;
	if (!bad_set)
		bad_set = json_object_set_new(
			      out, "secret", json_string(secret)) != 0;
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(rnd, sizeof(rnd));
	return bad_set ? RELAY_ENOMEM : RELAY_OK;
}

/* Add rec's public fields to out, each insertion checked (jansson's
 * json_object_update_missing() ignores failed ones). */
static enum relay_err
merge_view(json_t *out, json_t *rec)
{
	const char *k;
	json_t *v;

	json_object_foreach (rec, k, v) {
		if (strcmp(k, "hash") == 0 || json_object_get(out, k) != NULL)
			continue;
		if (json_object_set(out, k, v) != 0)
			return RELAY_ENOMEM;
	}
	return RELAY_OK;
}

static enum relay_err
rmw(const char *path, store_update_fn fn, void *arg, char *errbuf, size_t errsz)
{
	return store_update(path, "keys", fn, arg, errbuf, errsz);
}

struct op {
	const char *id;
	json_t *req;
	json_t *out;
	char *errbuf;
	size_t errsz;
};

static json_t *
find_rec(json_t *keys, const char *id, size_t *at)
{
	json_t *rec;
	size_t i;

	json_array_foreach (keys, i, rec) {
		const char *rid = json_string_value(json_object_get(rec, "id"));

		if (rid != NULL && strcmp(rid, id) == 0) {
			if (at != NULL)
				*at = i;
			return rec;
		}
	}
	return NULL;
}

static enum relay_err
op_create(json_t *keys, void *arg)
{
	struct op *o = arg;
	unsigned char rnd[6];
	char id[KEYS_ID_LEN + 1];
	enum relay_err err;
	json_t *rec;

	if (json_array_size(keys) >= KEYS_MAX)
		return bad(o->errbuf, o->errsz, "too many keys", "keys");
	if (!json_is_string(json_object_get(o->req, "name")))
		return bad(o->errbuf, o->errsz, "is required", "name");
	err = crypto_random(rnd, sizeof(rnd));
	if (err != RELAY_OK)
		return err;
	memcpy(id, "key_", 4);
	crypto_hex(rnd, sizeof(rnd), id + 4);
	rec = json_pack("{s:s,s:I,s:b}", "id", id, "created_at",
	    (json_int_t)time(NULL), "disabled", 0);
	o->out = json_object();
	if (rec == NULL || o->out == NULL) {
		json_decref(rec);
		return RELAY_ENOMEM;
	}
	err = apply_fields(o->req, rec, o->errbuf, o->errsz);
	if (err == RELAY_OK)
		err = new_secret(rec, o->out);
	if (err == RELAY_OK)
		err = merge_view(o->out, rec);
	if (err == RELAY_OK && json_array_append(keys, rec) != 0)
		err = RELAY_ENOMEM;
	json_decref(rec);
	return err;
}

static enum relay_err
op_update(json_t *keys, void *arg)
{
	struct op *o = arg;
	json_t *rec = find_rec(keys, o->id, NULL);
	enum relay_err err;

	if (rec == NULL)
		return RELAY_ENOTFOUND;
	if (json_object_get(o->req, "hash") != NULL)
		return bad(o->errbuf, o->errsz, "unknown field", "hash");
	err = apply_fields(o->req, rec, o->errbuf, o->errsz);
	if (err == RELAY_OK &&
	    json_object_set_new(
		rec, "updated_at", json_integer((json_int_t)time(NULL))) != 0)
		err = RELAY_ENOMEM;
	if (err == RELAY_OK) {
		o->out = public_view(rec);
		err = o->out != NULL ? RELAY_OK : RELAY_ENOMEM;
	}
	return err;
}

static enum relay_err
op_rotate(json_t *keys, void *arg)
{
	struct op *o = arg;
	json_t *rec = find_rec(keys, o->id, NULL);
	enum relay_err err;

	if (rec == NULL)
		return RELAY_ENOTFOUND;
	o->out = json_object();
	if (o->out == NULL)
		return RELAY_ENOMEM;
	err = new_secret(rec, o->out);
	if (err == RELAY_OK)
		err = merge_view(o->out, rec);
	return err;
}

static enum relay_err
op_delete(json_t *keys, void *arg)
{
	struct op *o = arg;
	size_t at;

	if (find_rec(keys, o->id, &at) == NULL)
		return RELAY_ENOTFOUND;
	return json_array_remove(keys, at) == 0 ? RELAY_OK : RELAY_ENOMEM;
}

static enum relay_err
finish_op(struct op *o, enum relay_err err, json_t **out)
{
	if (err != RELAY_OK) {
		json_decref(o->out);
		return err;
	}
	*out = o->out;
	return RELAY_OK;
}

enum relay_err
keys_admin_create(
    const char *path, json_t *req, json_t **out, char *errbuf, size_t errsz)
{
	struct op o = {NULL, req, NULL, errbuf, errsz};

	*out = NULL;
	return finish_op(&o, rmw(path, op_create, &o, errbuf, errsz), out);
}

enum relay_err
keys_admin_update(const char *path, const char *id, json_t *req, json_t **out,
    char *errbuf, size_t errsz)
{
	struct op o = {id, req, NULL, errbuf, errsz};

	*out = NULL;
	return finish_op(&o, rmw(path, op_update, &o, errbuf, errsz), out);
}

enum relay_err
keys_admin_rotate(
    const char *path, const char *id, json_t **out, char *errbuf, size_t errsz)
{
	struct op o = {id, NULL, NULL, errbuf, errsz};

	*out = NULL;
	return finish_op(&o, rmw(path, op_rotate, &o, errbuf, errsz), out);
}

enum relay_err
keys_admin_delete(const char *path, const char *id, char *errbuf, size_t errsz)
{
	struct op o = {id, NULL, NULL, errbuf, errsz};

	return rmw(path, op_delete, &o, errbuf, errsz);
}

static enum relay_err
read_keys(const char *path, json_t **doc, char *errbuf, size_t errsz)
{
	return store_read_list(path, "keys", doc, errbuf, errsz);
}

enum relay_err
keys_admin_list(const char *path, json_t **out, char *errbuf, size_t errsz)
{
	json_t *doc = NULL, *rec, *data;
	enum relay_err err;
	size_t i;

	*out = NULL;
	err = read_keys(path, &doc, errbuf, errsz);
	if (err != RELAY_OK)
		return err;
	data = json_array();
	json_array_foreach (json_object_get(doc, "keys"), i, rec)
		if (data == NULL ||
		    json_array_append_new(data, public_view(rec)) != 0)
			err = RELAY_ENOMEM;
	json_decref(doc);
	if (err == RELAY_OK)
		*out = json_pack("{s:s,s:o}", "object", "list", "data", data);
	else
		json_decref(data);
	return err == RELAY_OK && *out == NULL ? RELAY_ENOMEM : err;
}

enum relay_err
keys_admin_get(
    const char *path, const char *id, json_t **out, char *errbuf, size_t errsz)
{
	json_t *doc = NULL, *rec;
	enum relay_err err;

	*out = NULL;
	err = read_keys(path, &doc, errbuf, errsz);
	if (err != RELAY_OK)
		return err;
	rec = find_rec(json_object_get(doc, "keys"), id, NULL);
	if (rec == NULL)
		err = RELAY_ENOTFOUND;
	else {
		*out = public_view(rec);
		err = *out != NULL ? RELAY_OK : RELAY_ENOMEM;
	}
	json_decref(doc);
	return err;
}
