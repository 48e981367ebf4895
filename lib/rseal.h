/* SPDX-License-Identifier: MIT */
/* rseal.h - opaque tokens the relay hands to clients and must get back
 * unchanged: AES-256-GCM boxes under the master key (as lib/creds.c seals
 * stored credentials), bound to a purpose, in base64url so they travel in
 * URL paths and JSON strings as they are. A client can neither read nor
 * forge one; a token made for one purpose does not open as another.
 *
 * Uses (issue 16): a response id that says which provider and key made
 * the upstream response (rseal_respid_*), and the encrypted_content of the
 * relay's own compaction and reasoning items. */
#ifndef RELAY_RSEAL_H
#define RELAY_RSEAL_H

#include "buf.h"
#include "compiler.h"
#include "creds.h"
#include "err.h"
#include "jsonx.h"
#include "limits.h"

/* Purposes (the GCM additional data): one per kind of token. */
#define RSEAL_PURPOSE_RESPID "llm-relay response id v1"
#define RSEAL_PURPOSE_COMPACTION "llm-relay compaction v1"

/* The prefix of a relay response id: "resp_" as OpenAI's own, so clients
 * that check it are content, then a mark no OpenAI id carries (OpenAI's are
 * hex after "resp_"). */
#define RSEAL_RESPID_PREFIX "resp_rly-"

/*
 * Append to out the token of n bytes at p for purpose: base64url (RFC 4648
 * section 5, unpadded) of nonce || ciphertext || tag under m's current
 * key. RELAY_ENOTFOUND when m holds no current key (no RELAY_MASTER_KEY);
 * RELAY_ETOOBIG, RELAY_ENOMEM, RELAY_EIO. On failure out is left as it
 * was.
 */
enum relay_err rseal_seal(const struct creds_master *m, const char *purpose,
    const void *p, size_t n, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Append to out the bytes token (len bytes) was sealed from, opened under
 * m's current key, else its previous one (a rotation keeps the tokens out
 * there valid). RELAY_EINVAL when token is not base64url, was made for
 * another purpose or under another key, or was tampered with;
 * RELAY_ENOTFOUND when m holds no key; RELAY_ENOMEM. On failure out is
 * left as it was.
 */
enum relay_err rseal_open(const struct creds_master *m, const char *purpose,
    const char *token, size_t len,
    struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/* What a relay response id carries. */
struct rseal_respid {
	char provider[RELAY_NAME_MAX + 1]; /* the provider's config name */
	char key_fp[17]; /* the fingerprint of the key that made it (a
			    response belongs to its key's project), "": the
			    provider has no key */
	char upstream[RELAY_RS_UPSTREAM_ID_MAX + 1]; /* the upstream's id */
};

/*
 * Append to out the relay response id for r: RSEAL_RESPID_PREFIX and a
 * token of RSEAL_PURPOSE_RESPID, deterministic (crypto_seal_det()): one
 * response has one id, in every event of its stream and every retrieval. RELAY_EINVAL when provider or upstream
 * is empty or key_fp is neither "" nor 16 hex digits; errors of
 * rseal_seal() otherwise.
 */
enum relay_err rseal_respid_wrap(const struct creds_master *m,
    const struct rseal_respid *r,
    struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/* 1 when id (len bytes) has the relay response id prefix. */
int rseal_respid_is(const char *id, size_t len) RELAY_NONNULL;

/*
 * Fill r from the relay response id id (len bytes). RELAY_EINVAL when it
 * is not one the relay made (no prefix, forged, another purpose, damaged);
 * RELAY_ENOTFOUND when m holds no key; RELAY_ENOMEM.
 */
enum relay_err rseal_respid_unwrap(const struct creds_master *m, const char *id,
    size_t len, struct rseal_respid *r) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * The answer body (a Responses "response" object) with its top-level "id"
 * wrapped for provider and key_fp, or with response_member, the stream
 * event data whose "response" member's "id" is (response.created,
 * .in_progress, .completed, .incomplete, .failed, .queued), written to
 * out. RELAY_ENOTFOUND when there is no such id as a plain JSON string
 * (out untouched: pass the body on as it is); RELAY_EINVAL when body is
 * not an object to the raw scanner; errors of rseal_respid_wrap().
 */
enum relay_err rseal_respid_rewrite(const struct creds_master *m,
    const char *provider, const char *key_fp, struct span body,
    int response_member, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

#endif
