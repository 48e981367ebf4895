/* SPDX-License-Identifier: MIT */
/* fuzz_passthru.c - libFuzzer target for target_passthru(): the input is a
 * client's path and query (split at the first '?'). Invariants: whatever
 * is accepted stays under the provider's base URL (the URL starts with it
 * and a '/', holds no ".." segment, no "//" past the scheme, no encoded
 * dot, slash or backslash, no control or space byte), never carries a
 * "key" query parameter, and the credential header is always the
 * provider's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/config.h"
#include "../../lib/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct target_req *tr, const char *base)
{
	const char *rest = target_url(tr) + strlen(base);
	const char *q = strchr(rest, '?');
	size_t plen = q != NULL ? (size_t)(q - rest) : strlen(rest), i;
	char path[RELAY_URL_MAX];

	if (strncmp(target_url(tr), base, strlen(base)) != 0 ||
	    rest[0] != '/' || plen >= sizeof(path))
		abort();
	memcpy(path, rest, plen);
	path[plen] = '\0';
	/* The path: no way out of the base URL. */
	if (strstr(path, "/../") != NULL || strstr(path, "//") != NULL ||
	    (plen >= 3 && strcmp(path + plen - 3, "/..") == 0) ||
	    strcasestr(path, "%2e") != NULL ||
	    strcasestr(path, "%2f") != NULL ||
	    strcasestr(path, "%5c") != NULL || strchr(path, '\\') != NULL)
		abort();
	/* Anywhere: no control byte or space (they would split the request
	 * line), and no client key in the query. */
	for (i = 0; rest[i] != '\0'; i++)
		if ((unsigned char)rest[i] <= 0x20)
			abort();
	if (q != NULL &&
	    (strncmp(q, "?key=", 5) == 0 || strstr(q, "&key=") != NULL))
		abort();
	for (i = 0; i < tr->nlines; i++)
		if (strncmp(tr->lines[i], "Authorization: ", 15) == 0 &&
		    strcmp(tr->lines[i], "Authorization: Bearer sk-fuzz") != 0)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char base[] = "https://api.example.com/v1";
	struct config_provider p;
	struct target_req tr;
	struct span path, query = {"", 0};
	const char *q;

	memset(&p, 0, sizeof(p));
	p.name = (char *)"fz";
	p.type = PROVIDER_OPENAI;
	p.base_url = (char *)base;
	path.p = (const char *)data;
	path.len = size;
	q = memchr(data, '?', size);
	if (q != NULL) {
		path.len = (size_t)(q - (const char *)data);
		query.p = q + 1;
		query.len = size - path.len - 1;
	}
	target_init(&tr, 1024);
	if (target_passthru(&tr, &p, "sk-fuzz", path, query, "application/json",
		"*/*", NULL) == RELAY_OK)
		check(&tr, base);
	target_reset(&tr);
	return 0;
}
