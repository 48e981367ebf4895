/* SPDX-License-Identifier: MIT */
/* fuzz_chatreq.c - libFuzzer target for chatreq_parse(): on success the
 * model span is the parsed body's non-empty "model" string, and the
 * reservation is at least every output limit the body sets (saturated,
 * never wrapped or negative). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/chatreq.h"
#include "../../lib/jsonx.h"
#include "../../lib/limits.h"

/* The body's integer member k when it is one >= 1; else 0. */
static long long
limit_of(json_t *root, const char *k)
{
	json_t *v = json_object_get(root, k);

	return json_is_integer(v) && json_integer_value(v) >= 1
	    ? json_integer_value(v)
	    : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chatreq cr;
	const char *param = "unset";
	char eb[256];
	enum relay_err err;
	json_t *model;
	long long r;

	if (size > 65536)
		return 0;
	err = chatreq_parse(
	    (const char *)data, size, &cr, eb, sizeof(eb), &param);
	if (err == RELAY_OK) {
		model = json_object_get(cr.root, "model");
		if (param != NULL || cr.model.len == 0 ||
		    cr.model.len > RELAY_NAME_MAX || !json_is_string(model) ||
		    cr.model.p != json_string_value(model) ||
		    cr.model.len != json_string_length(model))
			abort();
		r = chatreq_reserve(&cr, NULL, 4096);
		if (r < 1 || r < limit_of(cr.root, "max_tokens") ||
		    r < limit_of(cr.root, "max_completion_tokens") ||
		    (cr.max_tokens == 0 && r < 4096))
			abort();
		if (!json_is_array(json_object_get(cr.root, "messages")) ||
		    (cr.include_usage != 0 && cr.include_usage != 1) ||
		    (cr.stream != 0 && cr.stream != 1))
			abort();
	} else if (err != RELAY_EINVAL || eb[0] == '\0' ||
	    (param != NULL && strcmp(param, "model") != 0 &&
		strcmp(param, "messages") != 0 &&
		strcmp(param, "stream") != 0 &&
		strcmp(param, "max_tokens") != 0 &&
		strcmp(param, "max_completion_tokens") != 0))
		abort();
	chatreq_free(&cr);
	return 0;
}
