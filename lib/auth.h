/* SPDX-License-Identifier: MIT */
/* auth.h - who may call: the admin token today, virtual keys later. */
#ifndef RELAY_AUTH_H
#define RELAY_AUTH_H

#include <stddef.h>

#include "compiler.h"

struct relay_req;

/* 1 when the a and b hold the same bytes; time depends only on the
 * lengths, never on where they differ. */
int auth_equal(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Check "Authorization: Bearer <token>" against RELAY_ADMIN_TOKEN (or the
 * first line of the file named by RELAY_ADMIN_TOKEN_FILE). Returns 1 when
 * allowed; otherwise answers req (403 when no token is configured, 401 on
 * a missing or wrong token) and returns 0. The token is never logged.
 */
int auth_admin(struct relay_req *req) RELAY_NONNULL RELAY_MUST_CHECK;

#endif
