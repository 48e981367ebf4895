/* SPDX-License-Identifier: MIT */
/* keys.h - virtual API keys: the durable list (one JSON file, only hashes
 * of secrets), its read-only snapshots for the request path, and the
 * admin operations that change it. */
#ifndef RELAY_KEYS_H
#define RELAY_KEYS_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"
#include "jsonx.h"

/* Prefix of every secret we issue; the rest is 48 hex digits. */
#define KEYS_SECRET_PREFIX "sk-relay-"
#define KEYS_SECRET_LEN (sizeof(KEYS_SECRET_PREFIX) - 1 + 48)
#define KEYS_ID_LEN 16 /* "key_" + 12 hex */

struct keys_cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

/* One key as the request path sees it; read-only outside keys.c. */
struct vkey {
	char id[KEYS_ID_LEN + 1];
	char *name;
	unsigned char hash[32]; /* SHA-256 of the secret */
	char **models; /* allowlist; none: every model */
	size_t nmodels;
	long long rpm, tpm, max_concurrency, daily_tokens; /* 0: no limit */
	double monthly_budget_usd; /* 0: no limit */
	long long expires_at; /* unix s, 0: never */
	struct keys_cidr *ips; /* allowlist; none: any address */
	size_t nips;
	int disabled;
	/* content_filter: what the filter does with this key's answers,
	 * over the model's: 0 off, 1 mask, 2 stop (enum filter_output);
	 * -1: the model's. */
	int filter_output;
	/* tier: the key of another llm-relay (a domestic tier) calling this
	 * one: heartbeats wait for the first upstream byte (proxy.h). */
	int tier;
};

struct keyring;
struct keys_store;

/*
 * Watch the key file at path (it may not exist yet: then there are no
 * keys and the relay is open). NULL on OOM.
 */
struct keys_store *keys_store_new(const char *path) RELAY_MUST_CHECK;
void keys_store_free(struct keys_store *st);

/*
 * The current snapshot, with a reference for keys_release(). Reloads when
 * the file changed (looked at no more than every 250 ms, so a change made
 * by any admin on any host is seen within a second). A file that fails to
 * load keeps the previous snapshot and is logged.
 */
struct keyring *keys_acquire(struct keys_store *st) RELAY_NONNULL;
void keys_release(struct keyring *r);

/* Number of keys in r, disabled ones included. While it is 0 no client
 * route requires a key. */
size_t keys_count(const struct keyring *r) RELAY_NONNULL;

/* The key whose secret is the n bytes at secret, or NULL. */
const struct vkey *keys_find(
    const struct keyring *r, const char *secret, size_t n) RELAY_NONNULL;

/* 1 when k may use the public model name. */
int keys_model_allowed(const struct vkey *k, const char *model, size_t n);
/* 1 when the textual address ip (REMOTE_ADDR) is in k's allowlist. */
int keys_ip_allowed(const struct vkey *k, const char *ip);

/*
 * Admin operations on the file at path, each an exclusive read-modify-
 * write that is atomic on disk. Request bodies are JSON objects with the
 * fields of docs/admin.md. On success *out is a new JSON object for the
 * response (the secret appears only in create and rotate). RELAY_EINVAL
 * with a message in errbuf on bad input, RELAY_ENOTFOUND for an unknown
 * id, RELAY_EIO when the file cannot be written.
 */
enum relay_err keys_admin_create(const char *path, json_t *req, json_t **out,
    char *errbuf, size_t errsz) RELAY_MUST_CHECK;
enum relay_err keys_admin_list(const char *path, json_t **out, char *errbuf,
    size_t errsz) RELAY_MUST_CHECK;
enum relay_err keys_admin_get(const char *path, const char *id, json_t **out,
    char *errbuf, size_t errsz) RELAY_MUST_CHECK;
enum relay_err keys_admin_update(const char *path, const char *id, json_t *req,
    json_t **out, char *errbuf, size_t errsz) RELAY_MUST_CHECK;
enum relay_err keys_admin_rotate(const char *path, const char *id, json_t **out,
    char *errbuf, size_t errsz) RELAY_MUST_CHECK;
enum relay_err keys_admin_delete(const char *path, const char *id, char *errbuf,
    size_t errsz) RELAY_MUST_CHECK;

/* Parse "a.b.c.d/n", "v6/n" or a bare address. RELAY_EINVAL otherwise. */
enum relay_err keys_parse_cidr(
    const char *s, struct keys_cidr *out) RELAY_MUST_CHECK;

#endif
