/* SPDX-License-Identifier: MIT */
/* fuzz_replay.c - libFuzzer target for the replay functions of
 * lib/dialect.c (a cached answer told again in the other form). The first
 * byte picks the dialect (% 3), the mode (/ 3 % 2) and include_usage
 * (/ 6 % 2); the rest is the recorded answer. Mode 0, a whole body: when
 * dialect_response_to_stream() takes it, its stream must be whole events
 * of JSON, complete, and told back as a whole body and retold. Mode 1, a
 * recorded stream: dialect_stream_to_response() and
 * dialect_stream_retell() succeed exactly when
 * dialect_stream_text_complete() says so, and what they write is JSON /
 * a complete stream again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/dialect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX (1u << 24)

static void
must_json(const char *p, size_t n)
{
	char eb[128];
	json_t *v = NULL;

	if (jsonx_parse(p, n, &v, eb, sizeof(eb)) != RELAY_OK)
		abort();
	json_decref(v);
}

static int
on_event(void *arg, const struct sse_event *ev)
{
	(void)arg;
	if (ev->has_data && !span_eq(ev->data, "[DONE]"))
		must_json(ev->data.p, ev->data.len);
	return 0;
}

/* out holds whole events of JSON (or [DONE]) making a complete stream of
 * d. */
static void
must_stream(enum dialect d, const struct buf *out)
{
	struct span s = {out->data != NULL ? out->data : "", out->len};
	struct sse_parser sp;

	sse_init(&sp, OUT_MAX);
	if (sse_feed(&sp, s.p, s.len, on_event, NULL) != RELAY_OK ||
	    sse_pending(&sp) != 0)
		abort();
	sse_reset(&sp);
	if (!dialect_stream_text_complete(d, s))
		abort();
}

static void
fuzz_whole(enum dialect d, struct span body,
    const struct dialect_req_info *info, const struct ir_usage *u)
{
	struct buf sse, back;

	buf_init(&sse, OUT_MAX);
	buf_init(&back, OUT_MAX);
	if (dialect_response_to_stream(d, body, info, &sse) == RELAY_OK) {
		must_stream(d, &sse);
		if (dialect_stream_to_response(d,
			(struct span){sse.data, sse.len}, u, &back) != RELAY_OK)
			abort();
		must_json(back.data, back.len);
		buf_clear(&back);
		if (dialect_stream_retell(d, (struct span){sse.data, sse.len},
			info, u, &back) != RELAY_OK)
			abort();
		must_stream(d, &back);
	} else if (sse.len != 0)
		abort();
	buf_reset(&sse);
	buf_reset(&back);
}

static void
fuzz_recorded(enum dialect d, struct span sse,
    const struct dialect_req_info *info, const struct ir_usage *u)
{
	int complete = dialect_stream_text_complete(d, sse);
	enum relay_err err;
	struct buf out;

	buf_init(&out, OUT_MAX);
	err = dialect_stream_to_response(d, sse, u, &out);
	if ((err == RELAY_OK) != complete || (err != RELAY_OK && out.len != 0))
		abort();
	if (err == RELAY_OK)
		must_json(out.data, out.len);
	buf_clear(&out);
	err = dialect_stream_retell(d, sse, info, u, &out);
	if ((err == RELAY_OK) != complete || (err != RELAY_OK && out.len != 0))
		abort();
	if (err == RELAY_OK)
		must_stream(d, &out);
	buf_reset(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dialect_req_info info;
	struct ir_usage u;
	struct span in;
	enum dialect d;

	if (size < 1)
		return 0;
	d = (enum dialect)(data[0] % 3);
	memset(&info, 0, sizeof(info));
	info.stream = 1;
	info.include_usage = data[0] / 6 % 2;
	ir_usage_init(&u);
	u.input = 12;
	u.output = 7;
	in.p = (const char *)data + 1;
	in.len = size - 1;
	if (data[0] / 3 % 2 == 0)
		fuzz_whole(d, in, &info, &u);
	else
		fuzz_recorded(d, in, &info, &u);
	return 0;
}
