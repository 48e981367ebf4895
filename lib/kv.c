/* SPDX-License-Identifier: MIT */
/* kv.c - libmemcached with a connection pool, ketama hashing and short
 * timeouts; every failure becomes RELAY_ECACHE, never a hang. */
#include <libmemcached/memcached.h>
#include <libmemcachedutil-1.0/pool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "mem.h"
#include "num.h"

struct kv {
	memcached_st *proto; /* template the pool clones */
	memcached_pool_st *pool;
	long timeout_ms;
};

/* Parse "host:port", "[v6]:port" or "/path" and add it. */
static enum relay_err
add_server(memcached_st *mc, const char *s, char *errbuf, size_t errsz)
{
	char host[256];
	const char *colon, *h = s;
	size_t hlen;
	long long port;

	if (s[0] == '/') {
		if (memcached_server_add_unix_socket(mc, s) !=
		    MEMCACHED_SUCCESS)
			goto bad;
		return RELAY_OK;
	}
	colon = strrchr(s, ':');
	if (colon == NULL)
		goto bad;
	hlen = (size_t)(colon - s);
	if (s[0] == '[' && hlen >= 2 && s[hlen - 1] == ']') {
		h = s + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (num_parse(colon + 1, 1, 65535, &port) != RELAY_OK)
		goto bad;
	if (memcached_server_add(mc, host, (in_port_t)port) !=
	    MEMCACHED_SUCCESS)
		goto bad;
	return RELAY_OK;
bad:
	snprintf(errbuf, errsz, "bad memcached server \"%.128s\"", s);
	return RELAY_EINVAL;
}

struct kv *
kv_new(char *const *servers, size_t n, long timeout_ms, unsigned pool_max,
    char *errbuf, size_t errsz)
{
	struct kv *kv = mem_calloc(1, sizeof(*kv));
	size_t i;

	if (kv == NULL)
		goto oom;
	kv->timeout_ms = timeout_ms;
	kv->proto = memcached_create(NULL);
	if (kv->proto == NULL)
		goto oom;
	for (i = 0; i < n; i++)
		if (add_server(kv->proto, servers[i], errbuf, errsz) !=
		    RELAY_OK)
			goto fail;
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_KETAMA, 1);
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
	    (uint64_t)timeout_ms);
	memcached_behavior_set(
	    kv->proto, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, (uint64_t)timeout_ms);
	memcached_behavior_set(kv->proto, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
	kv->pool =
	    memcached_pool_create(kv->proto, 1, pool_max > 0 ? pool_max : 1);
	if (kv->pool == NULL)
		goto oom;
	return kv;
oom:
	snprintf(errbuf, errsz, "out of memory");
fail:
	kv_free(kv);
	return NULL;
}

void
kv_free(struct kv *kv)
{
	if (kv == NULL)
		return;
	if (kv->pool != NULL)
		memcached_pool_destroy(kv->pool);
	if (kv->proto != NULL)
		memcached_free(kv->proto);
	mem_free(kv);
}

static memcached_st *
kv_fetch(struct kv *kv)
{
	struct timespec wait = {
	    kv->timeout_ms / 1000, (kv->timeout_ms % 1000) * 1000000};
	memcached_return_t rc;

	return memcached_pool_fetch(kv->pool, &wait, &rc);
}

static void
kv_release(struct kv *kv, memcached_st *mc)
{
	if (mc != NULL)
		memcached_pool_release(kv->pool, mc);
}

enum relay_err
kv_ping(struct kv *kv, char *why, size_t whysz)
{
	memcached_st *mc = kv_fetch(kv);
	memcached_stat_st *st;
	memcached_return_t rc;
	uint32_t i, n, bad = 0;

	if (mc == NULL) {
		snprintf(why, whysz, "memcached: no connection available");
		return RELAY_ECACHE;
	}
	/* "stats" goes to every server each time (memcached_version() would
	 * trust a version it learnt before and never ask again). */
	st = memcached_stat(mc, NULL, &rc);
	n = memcached_server_count(mc);
	for (i = 0; st != NULL && i < n; i++)
		if (st[i].pid == 0)
			bad++;
	if (st == NULL)
		bad = n;
	memcached_stat_free(mc, st);
	kv_release(kv, mc);
	if (rc == MEMCACHED_SUCCESS && bad == 0)
		return RELAY_OK;
	snprintf(why, whysz, "memcached: %u of %u servers did not answer",
	    bad > 0 ? bad : 1, n);
	return RELAY_ECACHE;
}

enum relay_err
kv_get(struct kv *kv, const char *key, struct buf *out)
{
	memcached_st *mc = kv_fetch(kv);
	memcached_return_t rc;
	enum relay_err err;
	uint32_t flags;
	size_t len;
	char *v;

	if (mc == NULL)
		return RELAY_ECACHE;
	v = memcached_get(mc, key, strlen(key), &len, &flags, &rc);
	kv_release(kv, mc);
	if (rc == MEMCACHED_NOTFOUND)
		return RELAY_ENOTFOUND;
	if (rc != MEMCACHED_SUCCESS) {
		free(v); /* lint: allow - libmemcached's own malloc */
		return RELAY_ECACHE;
	}
	err = v != NULL ? buf_append(out, v, len) : RELAY_OK;
	free(v); /* lint: allow - libmemcached's own malloc */
	return err;
}

enum relay_err
kv_mget(struct kv *kv, const char *const *keys, size_t n, struct buf *out,
    int *found)
{
	size_t lens[RELAY_KV_MGET_MAX], i, klen;
	memcached_st *mc;
	memcached_result_st *res;
	memcached_return_t rc;
	enum relay_err err = RELAY_OK;
	const char *k;

	memset(found, 0, n * sizeof(*found));
	if (n == 0)
		return RELAY_OK;
	if (n > RELAY_KV_MGET_MAX)
		return RELAY_EINVAL;
	for (i = 0; i < n; i++)
		lens[i] = strlen(keys[i]);
	mc = kv_fetch(kv);
	if (mc == NULL)
		return RELAY_ECACHE;
	rc = memcached_mget(mc, keys, lens, n);
	if (rc != MEMCACHED_SUCCESS) {
		kv_release(kv, mc);
		return RELAY_ECACHE;
	}
	/* Every result must be fetched, also after an error, or the
	 * connection goes back to the pool with replies still unread. */
	while ((res = memcached_fetch_result(mc, NULL, &rc)) != NULL) {
		k = memcached_result_key_value(res);
		klen = memcached_result_key_length(res);
		for (i = 0; i < n; i++)
			if (!found[i] && lens[i] == klen &&
			    memcmp(keys[i], k, klen) == 0)
				break;
		if (i < n && err == RELAY_OK) {
			found[i] = 1;
			err = buf_append(&out[i], memcached_result_value(res),
			    memcached_result_length(res));
		}
		memcached_result_free(res);
	}
	kv_release(kv, mc);
	if (rc != MEMCACHED_END && rc != MEMCACHED_SUCCESS &&
	    rc != MEMCACHED_NOTFOUND && err == RELAY_OK) {
		memset(found, 0, n * sizeof(*found));
		return RELAY_ECACHE;
	}
	return err;
}

enum relay_err
kv_set(
    struct kv *kv, const char *key, const void *val, size_t len, unsigned ttl_s)
{
	memcached_st *mc = kv_fetch(kv);
	memcached_return_t rc;

	if (mc == NULL)
		return RELAY_ECACHE;
	rc = memcached_set(mc, key, strlen(key), val, len, (time_t)ttl_s, 0);
	kv_release(kv, mc);
	return rc == MEMCACHED_SUCCESS ? RELAY_OK : RELAY_ECACHE;
}

enum relay_err
kv_add(struct kv *kv, const char *key, const void *val, size_t len,
    unsigned ttl_s, int *stored)
{
	memcached_st *mc = kv_fetch(kv);
	memcached_return_t rc;

	*stored = 0;
	if (mc == NULL)
		return RELAY_ECACHE;
	rc = memcached_add(mc, key, strlen(key), val, len, (time_t)ttl_s, 0);
	kv_release(kv, mc);
	if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS)
		return RELAY_OK;
	*stored = rc == MEMCACHED_SUCCESS;
	return *stored ? RELAY_OK : RELAY_ECACHE;
}

enum relay_err
kv_incr(struct kv *kv, const char *key, uint64_t delta, unsigned ttl_s,
    uint64_t *value)
{
	memcached_st *mc;
	memcached_return_t rc;
	char num[24];
	int n, tries;

	if (delta > UINT32_MAX)
		return RELAY_EINVAL; /* memcached_increment takes 32 bits */
	mc = kv_fetch(kv);
	if (mc == NULL)
		return RELAY_ECACHE;
	/* incr, or add the initial value, or (lost the race) incr again. */
	for (tries = 0; tries < 3; tries++) {
		rc = memcached_increment(
		    mc, key, strlen(key), (uint32_t)delta, value);
		if (rc != MEMCACHED_NOTFOUND)
			break;
		n = snprintf(
		    num, sizeof(num), "%llu", (unsigned long long)delta);
		rc = memcached_add(
		    mc, key, strlen(key), num, (size_t)n, (time_t)ttl_s, 0);
		if (rc == MEMCACHED_SUCCESS) {
			*value = delta;
			break;
		}
		if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS)
			break;
	}
	kv_release(kv, mc);
	return rc == MEMCACHED_SUCCESS ? RELAY_OK : RELAY_ECACHE;
}

enum relay_err
kv_decr(struct kv *kv, const char *key, uint64_t delta, uint64_t *value)
{
	memcached_st *mc;
	memcached_return_t rc;

	if (delta > UINT32_MAX)
		return RELAY_EINVAL;
	mc = kv_fetch(kv);
	if (mc == NULL)
		return RELAY_ECACHE;
	rc = memcached_decrement(mc, key, strlen(key), (uint32_t)delta, value);
	kv_release(kv, mc);
	if (rc == MEMCACHED_NOTFOUND)
		return RELAY_ENOTFOUND;
	return rc == MEMCACHED_SUCCESS ? RELAY_OK : RELAY_ECACHE;
}

enum relay_err
kv_delete(struct kv *kv, const char *key)
{
	memcached_st *mc = kv_fetch(kv);
	memcached_return_t rc;

	if (mc == NULL)
		return RELAY_ECACHE;
	rc = memcached_delete(mc, key, strlen(key), 0);
	kv_release(kv, mc);
	return rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND
	    ? RELAY_OK
	    : RELAY_ECACHE;
}
