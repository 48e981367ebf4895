/* SPDX-License-Identifier: MIT */
/* fuzz_jsonx.c - libFuzzer target for lib/jsonx.c: the raw member scanner
 * and editor must agree with jansson on every object jsonx_parse accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/jsonx.h"
#include "../../lib/mem.h"

#define NEW_MODEL "\"fuzz-model\""

static json_t *
reparse(const char *p, size_t n, size_t flags)
{
	return json_loadb(p, n, flags | JSON_ALLOW_NUL, NULL);
}

/*
 * esc: the text holds a backslash (some key may use escapes) or a NUL byte;
 * then RELAY_EINVAL (the caller falls back to jansson) is a correct answer.
 */
static void
check_member(struct span body, json_t *root, int esc)
{
	json_t *want = json_object_get(root, "model"), *got;
	struct span val;
	enum relay_err err = jsonx_member(body, "model", &val);

	if (err == RELAY_EINVAL) {
		if (!esc)
			abort();
		return;
	}
	if (want == NULL) {
		if (err != RELAY_ENOTFOUND)
			abort();
		return;
	}
	if (err != RELAY_OK)
		abort();
	if (val.p < body.p || val.p + val.len > body.p + body.len)
		abort();
	got = reparse(val.p, val.len, JSON_DECODE_ANY);
	if (got == NULL || !json_equal(got, want))
		abort();
	json_decref(got);
}

static void
check_set(struct span body, json_t *root, int esc)
{
	struct buf out;
	json_t *edited, *expect, *model;
	enum relay_err err;

	buf_init(&out, body.len + 64);
	err = jsonx_set_member(body, "model", NEW_MODEL, &out);
	if (err == RELAY_EINVAL && esc) {
		buf_reset(&out);
		return;
	}
	if (err != RELAY_OK)
		abort();
	edited = reparse(out.data, out.len, JSON_REJECT_DUPLICATES);
	if (edited == NULL)
		abort();
	expect = json_deep_copy(root);
	model = json_string("fuzz-model");
	if (expect == NULL || model == NULL ||
	    json_object_set_new(expect, "model", model) != 0)
		abort();
	if (!json_equal(edited, expect))
		abort();
	json_decref(edited);
	json_decref(expect);
	buf_reset(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span body = {(const char *)data, size};
	struct span val;
	char eb[256];
	json_t *root = NULL;
	enum relay_err err;

	if (size > 65536)
		return 0;
	/* Never a crash, whatever the bytes. */
	err = jsonx_member(body, "model", &val);
	if (err == RELAY_OK &&
	    (val.p < body.p || val.p + val.len > body.p + body.len))
		abort();
	/* One pass for several keys finds what one pass per key finds. */
	{
		static const char *const keys[] = {"model", "a", "usage", ""};
		struct span vals[4], one;
		enum relay_err em = jsonx_members(body, keys, 4, vals);
		size_t i;

		if ((em == RELAY_OK) !=
		    (err == RELAY_OK || err == RELAY_ENOTFOUND))
			abort();
		for (i = 0; em == RELAY_OK && i < 4; i++) {
			enum relay_err e1 = jsonx_member(body, keys[i], &one);

			if ((e1 == RELAY_OK) != (vals[i].p != NULL) ||
			    (e1 == RELAY_OK &&
				(one.p != vals[i].p || one.len != vals[i].len)))
				abort();
		}
	}
	if (jsonx_parse(body.p, body.len, &root, eb, sizeof(eb)) != RELAY_OK)
		return 0;
	if (json_is_object(root)) {
		/* jansson 2.14 also skips a raw NUL after a literal or a
		 * number ({"z":true\0}), which the scanner rightly refuses. */
		int esc = memchr(data, '\\', size) != NULL ||
		    memchr(data, '\0', size) != NULL;

		check_member(body, root, esc);
		check_set(body, root, esc);
	}
	json_decref(root);
	return 0;
}
