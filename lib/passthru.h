/* SPDX-License-Identifier: MIT */
/* passthru.h - ANY /proxy/{provider}/{path}: the endpoints the relay does
 * not model (images, audio, files, batches...) forwarded as they are to a
 * configured provider, with its credential, streamed back byte for byte. */
#ifndef RELAY_PASSTHRU_H
#define RELAY_PASSTHRU_H

#include "compiler.h"

struct relay_req;
struct config;
struct pii_out;

/* Read req's body (413 past the configured limit): 0 when answered. */
int passthru_read(
    struct relay_req *req, const struct config *cfg) RELAY_NONNULL;

/*
 * Forward req (already authenticated, its body read) to the provider its
 * path names, and relay the answer: status, content type and body as they
 * come, each piece flushed at once; when po made placeholders (po may be
 * NULL) they are restored in the answer's bytes on the way. The client cannot pick the host: the path is
 * checked (target_passthru()), redirects are not followed, only the
 * provider's own http/https base URL is used. 404 for an unknown
 * provider, 400 for a path that tries to leave it, 413 for a body over
 * the limit, 502/504 when the provider fails (OpenAI error shape).
 */
void passthru(struct relay_req *req, const struct config *cfg,
    const struct pii_out *po) __attribute__((nonnull(1, 2)));

#endif
