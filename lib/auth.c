/* SPDX-License-Identifier: MIT */
/* auth.c - constant-time secret comparison, the one Authorization and
 * ?key= reader, and the admin token check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apierr.h"
#include "auth.h"
#include "req.h"

int
auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	volatile unsigned char diff = alen != blen;
	size_t i;

	for (i = 0; i < alen && i < blen; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

const char *
auth_bearer(const char *h, size_t *n)
{
	size_t i = 6, end;

	*n = 0;
	if (strncasecmp(h, "Bearer", 6) != 0 || h[6] != ' ')
		return NULL;
	while (h[i] == ' ')
		i++;
	end = i + strlen(h + i);
	while (end > i && (h[end - 1] == ' ' || h[end - 1] == '\t'))
		end--;
	if (end == i)
		return NULL;
	*n = end - i;
	return h + i;
}

const char *
auth_query_key(struct span q, size_t *n)
{
	const char *p = q.p, *end = q.p + q.len, *amp;

	*n = 0;
	while (p != NULL && p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp - p >= 4 && memcmp(p, "key=", 4) == 0) {
			*n = (size_t)(amp - p - 4);
			return p + 4;
		}
		p = amp + 1;
	}
	return NULL;
}

/* Read the admin token into out; 0 when none is configured. */
static size_t
admin_token(char *out, size_t outsz)
{
	const char *env = getenv("RELAY_ADMIN_TOKEN");
	const char *path = getenv("RELAY_ADMIN_TOKEN_FILE");
	size_t n = 0;
	FILE *f;

	if (env != NULL && *env != '\0')
		return (size_t)snprintf(out, outsz, "%s", env) < outsz
		    ? strlen(out)
		    : 0;
	if (path == NULL || *path == '\0')
		return 0;
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	if (fgets(out, (int)outsz, f) != NULL) {
		n = strcspn(out, "\r\n");
		out[n] = '\0';
	}
	fclose(f);
	return n;
}

int
auth_admin(struct relay_req *req)
{
	char token[512];
	const char *h = req_header(req, "authorization"), *t = NULL;
	size_t tlen = admin_token(token, sizeof(token)), n = 0, qn;
	int ok;

	if (tlen == 0) {
		apierr_send(req, DIALECT_OPENAI, 403, NULL, "admin_disabled",
		    "The admin API is disabled: set RELAY_ADMIN_TOKEN or "
		    "RELAY_ADMIN_TOKEN_FILE.");
		return 0;
	}
	if (h != NULL)
		t = auth_bearer(h, &n);
	/* A token in the URL ends up in histories and proxies' logs: refused
	 * like a wrong one, whatever the header says. */
	ok = t != NULL && auth_query_key(req->query, &qn) == NULL &&
	    auth_equal(t, n, token, tlen);
	explicit_bzero(token, sizeof(token));
	if (!ok)
		apierr_send(req, DIALECT_OPENAI, 401, NULL,
		    "invalid_admin_token", "Missing or wrong admin token.");
	return ok;
}
