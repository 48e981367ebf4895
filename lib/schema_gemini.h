/* SPDX-License-Identifier: MIT */
/* schema_gemini.h - Gemini's Schema (the OpenAPI 3.0 subset of its
 * FunctionDeclaration.parameters and generationConfig.responseSchema) as
 * JSON Schema, for providers that take JSON Schema (OpenAI, Azure,
 * Anthropic). */
#ifndef RELAY_SCHEMA_GEMINI_H
#define RELAY_SCHEMA_GEMINI_H

#include "compiler.h"
#include "jsonx.h"

/*
 * A new JSON Schema for Gemini Schema s (never modified), as the SDKs
 * write it (@google/genai's Type.OBJECT...) and its JSON mapping allows:
 *   - "type" in upper case ("OBJECT", "STRING", "TYPE_UNSPECIFIED") in
 *     lower case, unspecified dropped; "nullable": true as the type
 *     array [type, "null"] (or "null" added to anyOf);
 *   - the int64 members (minItems, maxItems, minLength, maxLength,
 *     minProperties, maxProperties), which the proto JSON mapping sends
 *     as strings ("1"), as numbers;
 *   - "propertyOrdering" and "example" (not JSON Schema; strict
 *     validators refuse them) dropped; "example" kept as "examples";
 *   - properties, items, anyOf converted in turn; every other member
 *     (description, enum, format, required, minimum, pattern, title,
 *     default...) kept as it is.
 * A schema already in JSON Schema form passes through unchanged but for
 * the above (lower-case types are left alone). Nesting beyond
 * RELAY_JSON_DEPTH_MAX is cut (the parser refused deeper documents
 * already). NULL when memory is short or s is not an object.
 */
json_t *schema_gemini_to_json(const json_t *s) RELAY_MUST_CHECK;

#endif
