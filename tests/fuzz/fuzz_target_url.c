/* SPDX-License-Identifier: MIT */
/* fuzz_target_url.c - libFuzzer target for target_build() with a wildcard
 * target: a client-chosen model name (raw bytes, as the Gemini route takes
 * them from the path) to every provider type, for chat (plain and stream)
 * and embeddings, from an OpenAI or a Gemini client, with a client
 * anthropic-beta header. Input: byte 0 picks type, call and dialect; byte
 * 1 is the name's length; then the name; the rest is the beta value.
 * Invariants: an accepted call's URL is exactly its template's (the base
 * URL unchanged, the name one path segment of [A-Za-z0-9._-] that is not
 * "." or "..", no '?' or '#' but the template's, no control byte or
 * space), the name is accepted exactly when target_name_ok() says so,
 * and no header line holds a control byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/chatreq.h"
#include "../../lib/config.h"
#include "../../lib/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base[] = "https://up.example.com/base";
static const char ver[] = "2024-10-21";

static const char *const bodies[] = {
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}",
    "{\"model\":\"m\",\"input\":\"hi\"}",
};

/* What the client's anthropic-beta may be (target.c's client_value_ok). */
static int
beta_ok(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] >= 0x7f ||
		    ((unsigned char)v[i] < 0x20 && v[i] != '\t') ||
		    i >= RELAY_UPSTREAM_HEADER_VALUE_MAX)
			return 0;
	return 1;
}

/* url must be base + pre + name + post, exactly; a name (pre not empty)
 * one segment of the safe set. */
static void
expect_shape(
    const char *url, const char *pre, struct span name, const char *post)
{
	size_t b = strlen(base), p = strlen(pre), i;

	if (strncmp(url, base, b) != 0 || strncmp(url + b, pre, p) != 0 ||
	    memcmp(url + b + p, name.p, name.len) != 0 ||
	    strcmp(url + b + p + name.len, post) != 0)
		abort();
	if (p == 0) /* no name in this URL */
		return;
	if (name.len == 0 ||
	    (name.len <= 2 && name.p[0] == '.' && name.p[name.len - 1] == '.'))
		abort();
	for (i = 0; i < name.len; i++)
		if (strchr(
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789._-",
			name.p[i]) == NULL ||
		    name.p[i] == '\0')
			abort();
}

static void
check(const struct target_req *tr, enum provider_type t, int embed, int stream,
    struct span name)
{
	size_t i;
	const char *l;

	switch (t) {
	case PROVIDER_OPENAI:
		expect_shape(target_url(tr), "", (struct span){"", 0},
		    embed ? "/embeddings" : "/chat/completions");
		break;
	case PROVIDER_ANTHROPIC:
		expect_shape(
		    target_url(tr), "", (struct span){"", 0}, "/v1/messages");
		break;
	case PROVIDER_GEMINI:
		expect_shape(target_url(tr), "/v1beta/models/", name,
		    embed        ? ":batchEmbedContents"
			: stream ? ":streamGenerateContent?alt=sse"
				 : ":generateContent");
		break;
	case PROVIDER_AZURE:
		expect_shape(target_url(tr), "/openai/deployments/", name,
		    embed ? "/embeddings?api-version=2024-10-21"
			  : "/chat/completions?api-version=2024-10-21");
		break;
	case PROVIDER__MAX: abort();
	}
	for (i = 0; i < tr->nlines; i++)
		for (l = tr->lines[i]; *l != '\0'; l++)
			if (((unsigned char)*l < 0x20 && *l != '\t') ||
			    *l == 0x7f)
				abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char pname[] = "fz", star[] = "*";
	struct config_provider p;
	struct config_target tg;
	struct target_req tr;
	struct chatreq cr;
	struct span name;
	enum provider_type type;
	enum dialect in;
	const char *param, *body;
	char beta[2048], eb[512];
	size_t n;
	int embed, stream;
	enum relay_err err;

	if (size < 2)
		return 0;
	type = (enum provider_type)(data[0] % PROVIDER__MAX);
	stream = (data[0] >> 2) & 1;
	embed = ((data[0] >> 3) & 3) == 3;
	in = !embed && ((data[0] >> 5) & 1) ? DIALECT_GEMINI : DIALECT_OPENAI;
	n = data[1] < size - 2 ? data[1] : size - 2;
	name = (struct span){(const char *)data + 2, n};
	snprintf(beta, sizeof(beta), "%.*s", (int)(size - 2 - n),
	    (const char *)data + 2 + n);

	memset(&p, 0, sizeof(p));
	p.name = pname;
	p.type = type;
	p.base_url = (char *)base;
	p.api_version = (char *)ver;
	tg = (struct config_target){&p, star, 0, 1};
	body = bodies[embed ? 2 : in == DIALECT_GEMINI ? 1 : 0];
	err = embed ? chatreq_parse_embeddings(
			  body, strlen(body), &cr, eb, sizeof(eb), &param)
		    : chatreq_parse_dialect(
			  in, body, strlen(body), &cr, eb, sizeof(eb), &param);
	if (err != RELAY_OK)
		abort();
	cr.model = name; /* as the Gemini route does: the client's bytes */
	cr.stream = stream;
	target_init(&tr, 1 << 20);
	err = target_build(&tr, in, &cr, (struct span){body, strlen(body)}, &tg,
	    "sk-fuzz", stream, beta, eb, sizeof(eb), &param);
	if (!target_name_ok(type, name) ||
	    (type == PROVIDER_ANTHROPIC && (embed || !beta_ok(beta)))) {
		if (err != RELAY_EINVAL)
			abort();
	} else if (err != RELAY_OK)
		abort();
	if (err == RELAY_OK)
		check(&tr, type, embed, stream, name);
	target_reset(&tr);
	chatreq_free(&cr);
	return 0;
}
