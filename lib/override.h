/* SPDX-License-Identifier: MIT */
/* override.h - a provider's changes to the call the relay built for it
 * (config "override" and "anthropic_beta", see docs/config.md): headers
 * deleted, client headers passed on, body members set or deleted by
 * dotted path, anthropic-beta values filtered. */
#ifndef RELAY_OVERRIDE_H
#define RELAY_OVERRIDE_H

#include "buf.h"
#include "compiler.h"
#include "config.h"
#include "err.h"
#include "target.h"

/* Gives the client's value of header name (any case), or NULL. */
typedef const char *(*override_header_fn)(void *arg, const char *name);

/*
 * Apply provider p's overrides to the built call tr, whose body is
 * tr->body, or client_body when tr->body is empty (then copied into
 * tr->body when the body changes):
 *   - the anthropic-beta line keeps the comma-separated values that
 *     anthropic_beta.allow lists (when it lists any; "prefix*" matches a
 *     prefix) and loses those anthropic_beta.deny lists; it goes when
 *     none is left;
 *   - every line named in override.headers_delete goes, and libcurl is
 *     told not to add its own ("Name:");
 *   - each override.pass_headers header the client sent (get) is added
 *     with the client's value, when the call has no such line yet and the
 *     value is visible ASCII of at most RELAY_UPSTREAM_HEADER_VALUE_MAX
 *     bytes (skipped otherwise);
 *   - override.body_delete paths are removed, then override.body_set
 *     paths set (objects made on the way), in a JSON object body.
 * Nothing to do is cheap (no copy). RELAY_ENOMEM, RELAY_ETOOBIG (tr's
 * ceilings); RELAY_EPROTO when a body to edit is not a JSON object.
 * tr stays whole on failure.
 */
enum relay_err override_apply(struct target_req *tr,
    const struct config_provider *p, struct span client_body,
    override_header_fn get, void *arg) RELAY_MUST_CHECK;

/*
 * anthropic-beta value beta filtered by p's allow and deny lists into out
 * (size n): the values kept, joined by ",". Returns out, or NULL when
 * none is kept (or beta is NULL). Exposed for the tests.
 */
const char *override_beta(
    const struct config_provider *p, const char *beta, char *out, size_t n);

#endif
