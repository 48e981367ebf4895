/* SPDX-License-Identifier: MIT */
/* modellist.h - the configured model names as Anthropic's and Gemini's
 * model lists (GET /v1/models with anthropic-version, GET /v1beta/models),
 * for the SDKs and agents that discover models that way. */
#ifndef RELAY_MODELLIST_H
#define RELAY_MODELLIST_H

#include "buf.h"
#include "compiler.h"
#include "config.h"
#include "dialect.h"
#include "err.h"

/*
 * Append to out every name a client can use (model names and aliases;
 * wildcard patterns are no names) as dialect d's list:
 *   Anthropic {"data":[{"type":"model","id","display_name","created_at"}],
 *             "has_more":false,"first_id","last_id"}
 *   Gemini    {"models":[{"name":"models/<id>","baseModelId","version",
 *             "displayName","description","supportedGenerationMethods"}]}
 *   Responses Codex's manifest {"models":[{"slug","display_name",
 *             "description","shell_type","visibility","priority",...}]}
 *             (GET /v1/models?client_version=...)
 * RELAY_EINVAL for another d; RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err modellist_json(const struct config *cfg, enum dialect d,
    struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/* One entry of that list, for the name id of model m. */
enum relay_err modellist_one_json(const struct config_model *m, struct span id,
    enum dialect d, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

#endif
