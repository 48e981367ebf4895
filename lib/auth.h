/* SPDX-License-Identifier: MIT */
/* auth.h - who may call: the admin token today, virtual keys later. */
#ifndef RELAY_AUTH_H
#define RELAY_AUTH_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"

struct relay_req;

/* 1 when the a and b hold the same bytes; time depends only on the
 * lengths, never on where they differ. */
int auth_equal(const char *a, size_t alen, const char *b, size_t blen);

/*
 * The token of an Authorization header value h in the Bearer scheme: the
 * scheme name in any case (RFC 7235 2.1: "bearer", "BEARER"), one or more
 * spaces, then the token, *n bytes without trailing whitespace. NULL (and
 * *n 0) for another scheme or no token. The one reader of Authorization,
 * for the admin token and virtual keys alike.
 */
const char *auth_bearer(const char *h, size_t *n) RELAY_NONNULL;

/*
 * The value of the first "key=" parameter of the query q (*n bytes, maybe
 * 0), or NULL when q has none. Gemini's clients may send their key so;
 * other routes refuse a request that does (lib/gate.c, auth_admin()).
 */
const char *auth_query_key(struct span q, size_t *n) RELAY_NONNULL;

/*
 * Check "Authorization: Bearer <token>" against RELAY_ADMIN_TOKEN (or the
 * first line of the file named by RELAY_ADMIN_TOKEN_FILE). Returns 1 when
 * allowed; otherwise answers req (403 when no token is configured, 401 on
 * a missing or wrong token, or any key in the URL query) and returns 0.
 * The token is never logged.
 */
int auth_admin(struct relay_req *req) RELAY_NONNULL RELAY_MUST_CHECK;

/*
 * Wrong admin tokens, slowed down per client address in this process
 * (limits.h: RELAY_ADMIN_FAIL_*): auth_admin_locked() is the seconds ip
 * must still wait (0: none), auth_admin_failed() counts a wrong token,
 * auth_admin_passed() forgets ip's failures. auth_admin() calls them.
 */
long auth_admin_locked(const char *ip) RELAY_NONNULL;
void auth_admin_failed(const char *ip) RELAY_NONNULL;
void auth_admin_passed(const char *ip) RELAY_NONNULL;

#endif
