/* SPDX-License-Identifier: MIT */
/* fuzz_dialect.h - the body shared by fuzz_dialect_{openai,anthropic,
 * gemini}.c, each of which defines FROM (its dialect) and includes this:
 * the first byte picks the mode: 0 a client request (parsed, emitted for
 * every provider: each output must re-parse as a JSON object), 1 an
 * upstream response (translated for every client: must re-parse), 2 an
 * upstream SSE stream (fed in two random-sized pieces, translated for
 * every other client: every output event's data must be JSON or [DONE]).
 * Half the time (by a bit of the first byte) with a master key, so a
 * Responses client's reasoning is sealed (lib/rseal.h) and a request is
 * also translated as a /v1/responses/compact one, and an answer also
 * told as a compaction. */
#ifndef FROM
#error "define FROM (the dialect under test) before including fuzz_dialect.h"
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/creds.h"
#include "../../lib/dialect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct creds_master fuzz_master = {
    .cur = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5},
    .have_cur = 1,
};
/* Set by LLVMFuzzerTestOneInput: this input runs with the key. */
static int fuzz_keyed;

static void
fuzz_info(struct dialect_req_info *info)
{
	memset(info, 0, sizeof(*info));
	if (fuzz_keyed) {
		info->master = &fuzz_master;
		memcpy(info->provider, "fz", 3);
	}
}

static void
must_json(const char *p, size_t n)
{
	char eb[128];
	json_t *v = NULL;

	if (jsonx_parse(p, n, &v, eb, sizeof(eb)) != RELAY_OK)
		abort();
	json_decref(v);
}

static void
fuzz_request(const char *p, size_t n)
{
	struct dialect_req_info info;
	const char *param;
	char eb[256];
	struct buf out;
	enum relay_err err;
	int to;

	for (to = 0; to < DIALECT__MAX * (1 + fuzz_keyed); to++) {
		fuzz_info(&info);
		info.compact = to >= DIALECT__MAX && FROM == DIALECT_RESPONSES;
		buf_init(&out, 1u << 22);
		err = dialect_request(FROM, (struct span){p, n},
		    (enum dialect)(to % DIALECT__MAX), "fuzz-model", &out, &info,
		    eb, sizeof(eb), &param);
		if (err == RELAY_OK)
			must_json(out.data, out.len);
		else if (out.len != 0)
			abort();
		buf_reset(&out);
	}
}

static void
fuzz_response(const char *p, size_t n)
{
	struct dialect_req_info info;
	struct ir_usage u;
	struct buf out;
	int to;

	fuzz_info(&info);
	for (to = 0; to < DIALECT__MAX; to++) {
		buf_init(&out, 1u << 22);
		if (dialect_response(FROM, (struct span){p, n},
			(enum dialect)to, &info, &out, &u) == RELAY_OK)
			must_json(out.data, out.len);
		buf_reset(&out);
	}
	if (fuzz_keyed) {
		json_t *input = json_pack("[{s:s,s:s}]", "role", "user",
		    "content", "hi");

		buf_init(&out, 1u << 22);
		if (dialect_compaction(FROM, (struct span){p, n}, input, &info,
			&out, &u) == RELAY_OK)
			must_json(out.data, out.len);
		buf_reset(&out);
		json_decref(input);
	}
}

struct fstate {
	struct dialect_stream *ds;
	struct buf *out;
};

static int
on_up(void *arg, const struct sse_event *ev)
{
	struct fstate *fs = arg;

	(void)dialect_stream_event(fs->ds, ev, fs->out);
	return 0;
}

static int
on_out(void *arg, const struct sse_event *ev)
{
	(void)arg;
	if (ev->has_data && !span_eq(ev->data, "[DONE]"))
		must_json(ev->data.p, ev->data.len);
	return 0;
}

static void
fuzz_stream(const char *p, size_t n, size_t cut)
{
	struct dialect_req_info info;
	struct sse_parser in, outp;
	struct fstate fs;
	struct ir_usage u;
	struct buf out;
	int to;

	for (to = 0; to < DIALECT__MAX; to++) {
		if (to == FROM)
			continue;
		fuzz_info(&info);
		info.include_usage = 1;
		buf_init(&out, 1u << 24);
		sse_init(&in, 1u << 20);
		fs.ds = dialect_stream_new(FROM, (enum dialect)to, &info);
		fs.out = &out;
		if (fs.ds != NULL) {
			if (sse_feed(&in, p, cut, on_up, &fs) == RELAY_OK &&
			    sse_feed(&in, p + cut, n - cut, on_up, &fs) ==
				RELAY_OK)
				(void)dialect_stream_end(fs.ds, &out);
			dialect_stream_usage(fs.ds, &u);
			(void)dialect_stream_complete(fs.ds);
		}
		dialect_stream_free(fs.ds);
		/* whatever came out is whole events of valid JSON */
		sse_init(&outp, 1u << 24);
		if (sse_feed(&outp, out.data != NULL ? out.data : "", out.len,
			on_out, NULL) != RELAY_OK ||
		    sse_pending(&outp) != 0)
			abort();
		sse_reset(&outp);
		sse_reset(&in);
		buf_reset(&out);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;
	size_t n;

	if (size < 2)
		return 0;
	n = size - 1;
	fuzz_keyed = (data[0] & 0x80) != 0;
	switch (data[0] % 3) {
	case 0: fuzz_request(p, n); break;
	case 1: fuzz_response(p, n); break;
	default: fuzz_stream(p, n, (size_t)data[0] % (n + 1)); break;
	}
	return 0;
}
