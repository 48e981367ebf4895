/* SPDX-License-Identifier: MIT */
/* fuzz_schema_gemini.c - libFuzzer target for lib/schema_gemini.c: any
 * JSON object jsonx_parse accepts converts without a crash or a leak; the
 * result is an object (unless memory ran out), holds no upper-case type,
 * no propertyOrdering and no nullable at its top, and converting it again
 * changes nothing (JSON Schema passes through as it is). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/jsonx.h"
#include "../../lib/schema_gemini.h"

static void
check_top(const json_t *out)
{
	const char *t = json_string_value(json_object_get(out, "type"));

	if (!json_is_object(out))
		abort();
	if (json_object_get(out, "propertyOrdering") != NULL ||
	    json_object_get(out, "nullable") != NULL ||
	    json_object_get(out, "example") != NULL)
		abort();
	for (; t != NULL && *t != '\0'; t++)
		if (*t >= 'A' && *t <= 'Z')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = NULL, *once, *twice;
	char eb[128];

	if (jsonx_parse((const char *)data, size, &root, eb, sizeof(eb)) !=
	    RELAY_OK)
		return 0;
	once = schema_gemini_to_json(root);
	if (json_is_object(root) && once != NULL) {
		check_top(once);
		twice = schema_gemini_to_json(once);
		/* "examples" from an "example" is kept as is the second time;
		 * a "nullable" type array is not widened again. */
		if (twice == NULL || !json_equal(once, twice))
			abort();
		json_decref(twice);
	}
	json_decref(once);
	json_decref(root);
	return 0;
}
