/* SPDX-License-Identifier: MIT */
/* affinity.h - prompt-cache affinity: the requests of one agent session
 * (Claude Code, Codex, OpenCode, or a header or body path the operator
 * names) go to the target and provider key that served the session last,
 * for a TTL after its last request, so the provider's prompt cache (per
 * key, per organisation) keeps hitting. The record lives in memcached
 * (shared by every responder); a resting key or an open breaker falls
 * back to the normal choice, which then becomes the session's. */
#ifndef RELAY_AFFINITY_H
#define RELAY_AFFINITY_H

#include <jansson.h>
#include <stddef.h>

#include "compiler.h"
#include "err.h"
#include "limits.h"

struct config_affinity;
struct kv;

/* "aff:" and 32 hex digits of SHA-256 over the session id and model. */
#define AFFINITY_KEY_LEN 37

/* A session's place: the target ("provider/model") and key fingerprint
 * that served it last. */
struct affinity_rec {
	char target[2 * RELAY_NAME_MAX + 2];
	char fp[17]; /* "": the provider has no key */
};

/* Header lookup of the caller's request: the value or NULL. */
typedef const char *(*affinity_hdr_fn)(void *ctx, const char *name);

/*
 * The session id of a request into out (truncated to outsz - 1): the
 * operator's conf->headers and conf->body_paths first, then the agents'
 * own: headers x-claude-code-session-id, session_id, x-session-affinity;
 * body metadata.user_id, prompt_cache_key. 1 when found (a non-empty
 * string), 0 when the request names no session.
 */
int affinity_session(const struct config_affinity *conf, json_t *root,
    affinity_hdr_fn hdr, void *ctx, char *out, size_t outsz);

/* The memcached key of session in scope (the caller's model and virtual
 * key; the id itself is never stored). */
void affinity_key(const char *session, const char *scope,
    char out[AFFINITY_KEY_LEN]) RELAY_NONNULL;

/* Parse a stored record "target fp". RELAY_EINVAL when malformed. */
enum relay_err affinity_parse(const char *val, size_t n,
    struct affinity_rec *r) RELAY_NONNULL RELAY_MUST_CHECK;

/* The record of key: RELAY_OK, RELAY_ENOTFOUND (none, or memcached
 * trouble: the normal choice is made then). */
enum relay_err affinity_get(struct kv *kv, const char *key,
    struct affinity_rec *r) RELAY_NONNULL RELAY_MUST_CHECK;

/* Store (or refresh) key's record for ttl_s; failures only logged. */
void affinity_put(struct kv *kv, const char *key, const char *target,
    const char *fp, long ttl_s) RELAY_NONNULL;

#endif
