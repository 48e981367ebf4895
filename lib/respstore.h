/* SPDX-License-Identifier: MIT */
/* respstore.h - a Responses target's stored responses, reached through
 * the ids the relay handed out (lib/rseal.h): GET and DELETE
 * /v1/responses/{id}, POST /v1/responses/{id}/cancel, GET
 * /v1/responses/{id}/input_items go to the provider and key that made the
 * response. The relay itself keeps no response. */
#ifndef RELAY_RESPSTORE_H
#define RELAY_RESPSTORE_H

#include "compiler.h"

struct relay_req;
struct config;
struct gate;

/*
 * Answer req, whose path starts with "/v1/responses/" (g as the handler's
 * gate: the key is checked here). A relay id is opened, its provider must
 * still be a Responses target of a model the key may use and its key
 * still configured; the provider's answer comes back with the response's
 * id wrapped again. Any other id: 404 in OpenAI's shape saying the relay
 * keeps no responses (the other providers' stored responses are behind
 * /proxy/). Unknown subpaths 404, other methods 405.
 */
void respstore_route(struct relay_req *req, const struct config *cfg,
    struct gate *g) RELAY_NONNULL;

#endif
