/* SPDX-License-Identifier: MIT */
/* creds.h - provider API keys stored through the admin API instead of the
 * config: sealed with AES-256-GCM under a master key, in one JSON file;
 * opened only in memory, never returned or logged. */
#ifndef RELAY_CREDS_H
#define RELAY_CREDS_H

#include <stddef.h>

#include "compiler.h"
#include "err.h"
#include "jsonx.h"

/* The master keys a process holds: the current one seals, both open. */
struct creds_master {
	unsigned char cur[32];
	unsigned char prev[32];
	int have_cur;
	int have_prev;
};

/*
 * Load RELAY_MASTER_KEY (or RELAY_MASTER_KEY_FILE) and, during a rotation,
 * RELAY_MASTER_KEY_PREVIOUS (or _FILE). Each is 64 hex digits or base64 of
 * 32 bytes. RELAY_EINVAL when one is set but malformed; absent keys are
 * not an error (stored credentials are then unavailable).
 */
enum relay_err creds_master_load(struct creds_master *m) RELAY_MUST_CHECK;

struct creds_snap;
struct creds_store;

/* Watch the credential file at path with the master keys m (copied). */
struct creds_store *creds_store_new(
    const char *path, const struct creds_master *m) RELAY_MUST_CHECK;
void creds_store_free(struct creds_store *st);

/* The current opened credentials, with a reference; reloaded when the
 * file changed (looked at no more than every 250 ms). */
struct creds_snap *creds_acquire(struct creds_store *st) RELAY_NONNULL;
void creds_release(struct creds_snap *s);

/* The egress proxy URL stored with the key secret (a pointer creds_for()
 * handed out), NULL: none (the config's then applies). Never log it. */
const char *creds_proxy(const struct creds_snap *s, const char *secret)
    __attribute__((nonnull(1)));

/* The opened keys stored for provider (borrowed from s; *n may be 0). */
const char *const *creds_for(
    const struct creds_snap *s, const char *provider, size_t *n) RELAY_NONNULL;

/*
 * Admin operations, each an exclusive, atomic read-modify-write of path.
 * add: req {"provider", "api_key", "label"?}; the response shows the last
 * four characters only. reencrypt: seal every credential under m->cur
 * (those sealed under m->prev are opened with it), *out {"reencrypted":N}.
 * RELAY_EINVAL with a message on bad input or a missing master key,
 * RELAY_ENOTFOUND for an unknown id.
 */
enum relay_err creds_admin_add(const char *path, const struct creds_master *m,
    json_t *req, json_t **out, char *errbuf, size_t errsz) RELAY_MUST_CHECK;
enum relay_err creds_admin_list(const char *path, json_t **out, char *errbuf,
    size_t errsz) RELAY_MUST_CHECK;
enum relay_err creds_admin_delete(const char *path, const char *id,
    char *errbuf, size_t errsz) RELAY_MUST_CHECK;
enum relay_err creds_admin_reencrypt(const char *path,
    const struct creds_master *m, json_t **out, char *errbuf,
    size_t errsz) RELAY_MUST_CHECK;

#endif
