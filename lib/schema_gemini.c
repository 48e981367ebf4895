/* SPDX-License-Identifier: MIT */
/* schema_gemini.c - Gemini's OpenAPI-style Schema to JSON Schema (see
 * schema_gemini.h). */
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "limits.h"
#include "num.h"
#include "schema_gemini.h"

static json_t *convert(const json_t *s, size_t depth);

/* Gemini's Type enum name as a JSON Schema type; NULL for
 * TYPE_UNSPECIFIED or a value that is no type. */
static json_t *
type_of(const json_t *t)
{
	static const char *const names[] = {"string", "number", "integer",
	    "boolean", "array", "object", "null"};
	char low[16];
	const char *s = json_string_value(t);
	size_t i, n;

	if (s == NULL || (n = json_string_length(t)) >= sizeof(low))
		return NULL;
	for (i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	low[n] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(low, names[i]) == 0)
			return json_string(names[i]);
	return NULL;
}

/* The proto JSON mapping writes int64 as a decimal string. */
static int
int64_member(const char *k)
{
	static const char *const keys[] = {"minItems", "maxItems", "minLength",
	    "maxLength", "minProperties", "maxProperties"};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i]) == 0)
			return 1;
	return 0;
}

static json_t *
int64_value(const json_t *v)
{
	long long n;

	/* A string with a NUL or not a count is left for the provider to
	 * judge. */
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    num_parse(json_string_value(v), 0, LLONG_MAX, &n) != RELAY_OK)
		return json_deep_copy(v);
	return json_integer((json_int_t)n);
}

/* Every value of the object o converted (properties). */
static json_t *
convert_map(const json_t *o, size_t depth)
{
	json_t *out = json_object(), *v;
	const char *k;

	if (out == NULL)
		return NULL;
	if (!json_is_object(o)) {
		json_decref(out);
		return json_deep_copy(o);
	}
	json_object_foreach ((json_t *)o, k, v) {
		if (json_object_set_new(out, k, convert(v, depth + 1)) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* Every element of the array a converted (anyOf). */
static json_t *
convert_list(const json_t *a, size_t depth)
{
	json_t *out, *v;
	size_t i;

	if (!json_is_array(a))
		return json_deep_copy(a);
	out = json_array();
	json_array_foreach (a, i, v) {
		if (out == NULL ||
		    json_array_append_new(out, convert(v, depth + 1)) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* nullable: true, once the type is known: "null" is one more type. */
static int
add_null(json_t *out)
{
	json_t *t = json_object_get(out, "type"), *any, *arr;

	if (json_is_string(t)) {
		if (strcmp(json_string_value(t), "null") == 0)
			return 0;
		arr = json_pack("[O,s]", t, "null");
		return arr == NULL ||
		    json_object_set_new(out, "type", arr) != 0;
	}
	any = json_object_get(out, "anyOf");
	if (json_is_array(any))
		return json_array_append_new(
			   any, json_pack("{s:s}", "type", "null")) != 0;
	return 0; /* no type to widen: anything goes already */
}

static json_t *
convert(const json_t *s, size_t depth)
{
	json_t *out, *v, *c;
	const char *k, *ok; /* k iterates: never reassigned; ok is out's key */
	int bad = 0, nullable = 0;

	if (!json_is_object(s) || depth > RELAY_JSON_DEPTH_MAX)
		return json_deep_copy(s);
	out = json_object();
	if (out == NULL)
		return NULL;
	json_object_foreach ((json_t *)s, k, v) {
		ok = k;
		if (strcmp(k, "propertyOrdering") == 0 ||
		    strcmp(k, "property_ordering") == 0)
			continue;
		if (strcmp(k, "nullable") == 0) {
			nullable = json_is_true(v);
			continue;
		}
		if (strcmp(k, "type") == 0) {
			c = json_is_string(v) ? type_of(v) : json_deep_copy(v);
			if (c == NULL && json_is_string(v))
				continue; /* TYPE_UNSPECIFIED */
		} else if (strcmp(k, "example") == 0)
			c = json_pack("[O]", v), ok = "examples";
		else if (strcmp(k, "properties") == 0)
			c = convert_map(v, depth);
		else if (strcmp(k, "items") == 0)
			c = convert(v, depth + 1);
		else if (strcmp(k, "anyOf") == 0 || strcmp(k, "any_of") == 0)
			c = convert_list(v, depth), ok = "anyOf";
		else if (int64_member(k))
			c = int64_value(v);
		else
			c = json_deep_copy(v);
		bad |= c == NULL || json_object_set_new(out, ok, c) != 0;
	}
	if (!bad && nullable)
		bad = add_null(out);
	if (bad) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *
schema_gemini_to_json(const json_t *s)
{
	return json_is_object(s) ? convert(s, 0) : NULL;
}
