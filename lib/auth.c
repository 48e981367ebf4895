/* SPDX-License-Identifier: MIT */
/* auth.c - constant-time secret comparison and the admin token check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	const char *h = req_header(req, "authorization");
	size_t tlen = admin_token(token, sizeof(token));
	int ok;

	if (tlen == 0) {
		apierr_send(req, DIALECT_OPENAI, 403, NULL, "admin_disabled",
		    "The admin API is disabled: set RELAY_ADMIN_TOKEN or "
		    "RELAY_ADMIN_TOKEN_FILE.");
		return 0;
	}
	ok = h != NULL && strncmp(h, "Bearer ", 7) == 0 &&
	    auth_equal(h + 7, strlen(h + 7), token, tlen);
	explicit_bzero(token, sizeof(token));
	if (!ok)
		apierr_send(req, DIALECT_OPENAI, 401, NULL,
		    "invalid_admin_token", "Missing or wrong admin token.");
	return ok;
}
