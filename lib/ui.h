/* SPDX-License-Identifier: MIT */
/* ui.h - the admin console's files (ui/), built into relay-admin and
 * served under /admin/ui/ with strict security headers. */
#ifndef RELAY_UI_H
#define RELAY_UI_H

#include <stddef.h>

#include "compiler.h"
#include "req.h"

/* The prefix every console file is served under. */
#define UI_PREFIX "/admin/ui"

struct ui_asset {
	const char *name; /* "index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* The built-in file named by path relative to UI_PREFIX "/" ("" is
 * index.html), or NULL. */
const struct ui_asset *ui_find(struct span rel) RELAY_NONNULL;

/* 1 when path is the console's (UI_PREFIX, or under it). */
int ui_path(struct span path) RELAY_NONNULL;

/*
 * Answer a console request: GET or HEAD of a built-in file (200), the
 * bare prefix (308 to UI_PREFIX "/"), another method (405) or an unknown
 * file (404); every answer with the headers of ui_security_headers().
 * No admin token is needed: the files hold no secret; every call they
 * make to the admin API carries the token.
 */
void ui_serve(struct relay_req *req) RELAY_NONNULL;

/* Queue the console's security headers (CSP without inline script or
 * style, no framing, nosniff, no referrer, no caching) on req. */
enum relay_err ui_security_headers(
    struct relay_req *req) RELAY_NONNULL RELAY_MUST_CHECK;

#endif
