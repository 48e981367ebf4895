/* SPDX-License-Identifier: MIT */
/* target.h - the upstream request for one target of a model: its URL, its
 * headers with the provider's credential, and its body (the client's own
 * bytes when the dialects match, a translation when they do not). */
#ifndef RELAY_TARGET_H
#define RELAY_TARGET_H

#include "buf.h"
#include "compiler.h"
#include "config.h"
#include "dialect.h"
#include "err.h"
#include "limits.h"

struct chatreq;

/* Request headers we send upstream: count. */
#define TARGET_HEADERS_MAX 40

/* Callers allocate it and call target_init(); fields read-only outside. */
struct target_req {
	/* The URL, as long as it is (RELAY_URL_MAX at most): a stream keeps
	 * its target_req for its whole length. */
	struct buf url;
	struct buf hb; /* header lines, each NUL-terminated; holds the key */
	const char *lines[TARGET_HEADERS_MAX];
	size_t nlines;
	struct buf body; /* empty: send the client's body as it is */
	enum dialect out;
	struct dialect_req_info info; /* from the translation, if any */
};

/* The wire format a provider type speaks. */
enum dialect target_dialect(enum provider_type t);

void target_init(struct target_req *tr, size_t body_max) RELAY_NONNULL;
/* The call's URL; "" until one is built. */
const char *target_url(const struct target_req *tr) RELAY_NONNULL;

/* One more header line "name: value" after target_build(), unless the
 * request has one of that name already (the provider's configured
 * headers win): RELAY_EINVAL for a control byte in name or value,
 * RELAY_ETOOBIG past TARGET_HEADERS_MAX. */
enum relay_err target_add_header(struct target_req *tr, const char *name,
    const char *value) RELAY_NONNULL RELAY_MUST_CHECK;
/*
 * What every provider learns of us, on every route (translated, /proxy/,
 * count_tokens, stored responses): User-Agent, our request id (a relay of
 * the tier above takes it as its own id) and the trace context continuing
 * the client's traceparent (may be NULL); a provider that is another relay
 * ("relay": true) also gets key_id (may be "" or NULL: none) signed with
 * RELAY_TIER_SECRET when that is set. Errors as target_add_header().
 */
enum relay_err target_hop_headers(struct target_req *tr,
    const struct config_provider *p, const char *req_id,
    const char *traceparent, const char *key_id) RELAY_MUST_CHECK;
/* Wipe the credential's copy and release memory; tr may be built again. */
void target_reset(struct target_req *tr) RELAY_NONNULL;

/*
 * 1 when name, chosen by a client and served by a wildcard target
 * (model "*") of provider type t, may reach that provider: 1 to
 * RELAY_NAME_MAX bytes of letters, digits and "-._", plus "/:@+" for
 * OpenAI-compatible and Anthropic providers (where the name goes only into
 * the JSON body), and no "/"-separated part that is empty, "." or "..".
 * Gemini and Azure put the name into the URL as one path segment, so it
 * can hold nothing that a URL would read as structure ("/", "?", "#",
 * "%", ":") or that a URL cannot carry (spaces, control bytes, non-ASCII).
 */
int target_name_ok(enum provider_type t, struct span name);

/*
 * Build the call of a client request of dialect in (validated into cr,
 * raw bytes body) to target t with credential key (NULL: none). stream:
 * the client wants a stream (the upstream is then asked for SSE with
 * usage). anthropic_beta: the client's anthropic-beta header, forwarded
 * to Anthropic upstreams only (may be NULL). RELAY_EINVAL with an error
 * worded in dialect in (errbuf, *param) when the request cannot be
 * expressed for this provider, among them a wildcard's name that is not
 * target_name_ok() and an anthropic-beta value with a control byte,
 * non-ASCII or over RELAY_UPSTREAM_HEADER_VALUE_MAX bytes (the client's
 * error, never the upstream's); RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err target_build(struct target_req *tr, enum dialect in,
    const struct chatreq *cr, struct span body, const struct config_target *t,
    const char *key, int stream, const char *anthropic_beta, char *errbuf,
    size_t errsz, const char **param) RELAY_MUST_CHECK;

/*
 * Build a passthrough call: provider p's base_url + "/" + path (+ "?" +
 * query without any "key" parameter, which may hold the client's relay
 * key), the provider's credential, and the client's content type and
 * accept header. The client never chooses the host: path must be a plain
 * relative path (no "..", "//", backslash, control bytes or encoded
 * dots and slashes), the query visible ASCII without '#', and ctype,
 * accept and anthropic_beta (each may be NULL) visible ASCII of at most
 * RELAY_UPSTREAM_HEADER_VALUE_MAX bytes, else RELAY_EINVAL. RELAY_ETOOBIG
 * for a long URL.
 */
enum relay_err target_passthru(struct target_req *tr,
    const struct config_provider *p, const char *key, struct span path,
    struct span query, const char *ctype, const char *accept,
    const char *anthropic_beta) RELAY_MUST_CHECK;

#endif
