/* SPDX-License-Identifier: MIT */
/* modellist.c - model lists in Anthropic's and Gemini's shapes (see
 * modellist.h). */
#include <string.h>

#include "modellist.h"

/* The relay does not know when a provider released a model: the epoch,
 * in the RFC 3339 form Anthropic's list uses. */
#define MODELLIST_CREATED "1970-01-01T00:00:00Z"

/* Codex's truncation of tool output it sends back (bytes): the limit its
 * bundled manifest gives most models. */
#define MODELLIST_CODEX_TRUNCATE_BYTES 10000

static enum relay_err
str(struct buf *b, struct span s)
{
	enum relay_err err = buf_append(b, "\"", 1);

	if (err == RELAY_OK)
		err = buf_json_escape(b, s.p, s.len);
	if (err == RELAY_OK)
		err = buf_append(b, "\"", 1);
	return err;
}

/* One entry of Codex's manifest (codex-rs protocol openai_models.rs,
 * ModelInfo): every field its deserializer requires, and no claim the
 * relay cannot make. No reasoning levels (the relay does not know which
 * targets reason: Codex then uses its own configured effort); no
 * apply_patch_tool_type, so Codex falls back to its default tool set;
 * base_instructions empty, so the prompt stays Codex's own config. The
 * priority keeps the configuration's order (lower first). */
static enum relay_err
codex_one(struct buf *out, struct span id, const char *prov, size_t priority)
{
	enum relay_err err = buf_puts(out, "{\"slug\":");

	if (err == RELAY_OK)
		err = str(out, id);
	if (err == RELAY_OK)
		err = buf_puts(out, ",\"display_name\":");
	if (err == RELAY_OK)
		err = str(out, id);
	if (err == RELAY_OK)
		err = buf_puts(out, ",\"description\":\"served by ");
	if (err == RELAY_OK)
		err = buf_json_escape(out, prov, strlen(prov));
	if (err == RELAY_OK)
		err = buf_printf(out,
		    "\",\"supported_reasoning_levels\":[],"
		    "\"shell_type\":\"shell_command\",\"visibility\":\"list\","
		    "\"supported_in_api\":true,\"priority\":%zu,"
		    "\"upgrade\":null,\"base_instructions\":\"\","
		    "\"supports_reasoning_summaries\":false,"
		    "\"support_verbosity\":false,\"default_verbosity\":null,"
		    "\"apply_patch_tool_type\":null,"
		    "\"truncation_policy\":{\"mode\":\"bytes\",\"limit\":%d},"
		    "\"supports_parallel_tool_calls\":false,"
		    "\"experimental_supported_tools\":[],"
		    "\"input_modalities\":[\"text\",\"image\"]}",
		    priority, MODELLIST_CODEX_TRUNCATE_BYTES);
	return err;
}

enum relay_err
modellist_one_json(const struct config_model *m, struct span id, enum dialect d,
    struct buf *out)
{
	const char *prov = m->targets[0].provider->name;
	enum relay_err err;

	if (d == DIALECT_RESPONSES)
		return codex_one(out, id, prov, 0);
	if (d == DIALECT_ANTHROPIC) {
		err = buf_puts(out, "{\"type\":\"model\",\"id\":");
		if (err == RELAY_OK)
			err = str(out, id);
		if (err == RELAY_OK)
			err = buf_puts(out, ",\"display_name\":");
		if (err == RELAY_OK)
			err = str(out, id);
		if (err == RELAY_OK)
			err = buf_puts(
			    out, ",\"created_at\":\"" MODELLIST_CREATED "\"}");
		return err;
	}
	if (d != DIALECT_GEMINI)
		return RELAY_EINVAL;
	err = buf_puts(out, "{\"name\":\"models/");
	if (err == RELAY_OK)
		err = buf_json_escape(out, id.p, id.len);
	if (err == RELAY_OK)
		err = buf_puts(out, "\",\"baseModelId\":");
	if (err == RELAY_OK)
		err = str(out, id);
	if (err == RELAY_OK)
		err = buf_puts(out, ",\"version\":\"relay\",\"displayName\":");
	if (err == RELAY_OK)
		err = str(out, id);
	if (err == RELAY_OK)
		err = buf_puts(out, ",\"description\":\"served by ");
	if (err == RELAY_OK)
		err = buf_json_escape(out, prov, strlen(prov));
	if (err == RELAY_OK)
		err = buf_puts(out,
		    "\",\"supportedGenerationMethods\":[\"generateContent\","
		    "\"streamGenerateContent\",\"countTokens\"]}");
	return err;
}

enum relay_err
modellist_json(const struct config *cfg, enum dialect d, struct buf *out)
{
	struct span first = {NULL, 0}, last = {NULL, 0}, id;
	enum relay_err err;
	size_t i, j, n = 0;

	if (d == DIALECT_OPENAI || d >= DIALECT__MAX)
		return RELAY_EINVAL;
	err = buf_puts(
	    out, d == DIALECT_ANTHROPIC ? "{\"data\":[" : "{\"models\":[");
	for (i = 0; err == RELAY_OK && i < cfg->nmodels; i++) {
		const struct config_model *m = &cfg->models[i];

		for (j = 0; err == RELAY_OK && j <= m->naliases; j++) {
			if (j == 0 && m->pattern)
				continue; /* a pattern is no name */
			id = span_str(j == 0 ? m->name : m->aliases[j - 1]);
			if (n++ > 0)
				err = buf_append(out, ",", 1);
			if (err == RELAY_OK && d == DIALECT_RESPONSES)
				err = codex_one(out, id,
				    m->targets[0].provider->name, n - 1);
			else if (err == RELAY_OK)
				err = modellist_one_json(m, id, d, out);
			if (first.p == NULL)
				first = id;
			last = id;
		}
	}
	if (err != RELAY_OK || d != DIALECT_ANTHROPIC)
		return err != RELAY_OK ? err : buf_puts(out, "]}");
	err = buf_puts(out, "],\"has_more\":false,\"first_id\":");
	if (err == RELAY_OK)
		err = first.p != NULL ? str(out, first) : buf_puts(out, "null");
	if (err == RELAY_OK)
		err = buf_puts(out, ",\"last_id\":");
	if (err == RELAY_OK)
		err = last.p != NULL ? str(out, last) : buf_puts(out, "null");
	if (err == RELAY_OK)
		err = buf_puts(out, "}");
	return err;
}
