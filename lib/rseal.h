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
#define RSEAL_PURPOSE_REASONING "llm-relay reasoning v1"

/* The encrypted_content of a reasoning or compaction item the relay
 * sealed: a prefix no OpenAI encrypted_content carries (theirs is
 * standard base64, which has no ':'), then the token. */
#define RSEAL_REASONING_PREFIX "rly:rs1:"
#define RSEAL_COMPACTION_PREFIX "rly:cmp1:"

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

/* --- reasoning and compaction items (issue 16) ------------------------ */

/*
 * A translated provider's reasoning, as the relay seals it into a
 * Responses reasoning item's encrypted_content: whose it is and what that
 * provider needs back byte for byte (Anthropic: the thinking text and its
 * signature, or a redacted_thinking's data; Gemini: the thought and its
 * signature; an OpenAI-compatible vendor: its reasoning_content text).
 * The json_t strings are references the struct holds (NULL: absent).
 */
struct rseal_reasoning {
	char provider[RELAY_NAME_MAX + 1]; /* the provider's config name */
	int redacted; /* data is a redacted_thinking's */
	json_t *text, *sig, *data;
};

/* Release the strings r holds and zero it. */
void rseal_reasoning_reset(struct rseal_reasoning *r) RELAY_NONNULL;

/* 1 when s (n bytes) has the prefix of a relay reasoning token. */
int rseal_reasoning_is(const char *s, size_t n) RELAY_NONNULL;

/*
 * Append to out RSEAL_REASONING_PREFIX and the token of r (purpose
 * RSEAL_PURPOSE_REASONING, a fresh nonce each time). RELAY_EINVAL when the
 * provider is empty or r holds nothing to give back; errors of
 * rseal_seal(). On failure out is left as it was.
 */
enum relay_err rseal_reasoning_wrap(const struct creds_master *m,
    const struct rseal_reasoning *r,
    struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Fill r (zeroed by the caller, reset by the caller) from the relay
 * reasoning token s (n bytes, with its prefix). RELAY_EINVAL when it is
 * not one the relay sealed or its contents are not a reasoning record;
 * RELAY_ENOTFOUND when m holds no key; RELAY_ENOMEM.
 */
enum relay_err rseal_reasoning_unwrap(const struct creds_master *m,
    const char *s, size_t n,
    struct rseal_reasoning *r) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * The record inside a reasoning token (the opened plaintext): a JSON
 * object {"p": provider, "k": "t" or "r", "x": text, "s": signature,
 * "d": data}. Exposed for the fuzz target. RELAY_EINVAL when it is not
 * one; RELAY_ENOMEM. On failure r holds nothing.
 */
enum relay_err rseal_reasoning_parse(
    struct span plain, struct rseal_reasoning *r) RELAY_MUST_CHECK;

/* 1 when s (n bytes) has the prefix of a relay compaction token. */
int rseal_compaction_is(const char *s, size_t n) RELAY_NONNULL;

/*
 * Append to out RSEAL_COMPACTION_PREFIX and the token of the summary text
 * (purpose RSEAL_PURPOSE_COMPACTION). Errors of rseal_seal(); RELAY_EINVAL
 * for an empty summary.
 */
enum relay_err rseal_compaction_wrap(const struct creds_master *m,
    struct span summary, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Append to out the summary text the compaction token s (n bytes, with its
 * prefix) was sealed from. RELAY_EINVAL when it is not one the relay
 * sealed; RELAY_ENOTFOUND when m holds no key; RELAY_ENOMEM.
 */
enum relay_err rseal_compaction_unwrap(const struct creds_master *m,
    const char *s, size_t n, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

#endif
