/* SPDX-License-Identifier: MIT */
/* ui.c - the admin console's files, built in (.incbin of the files in ui/, so that
 * relay-admin needs nothing on disk and nothing from the network), and
 * the answers that serve them. */
#include <string.h>

#include "apierr.h"
#include "ui.h"

/* Each file of ui/ as bytes in .rodata, between NAME and NAME_end; the
 * path is relative to the directory make runs in (the repository). */
#define UI_BLOB(sym, file)                                                     \
	__asm__(".pushsection .rodata\n"                                       \
		".balign 16\n" #sym ":\n"                                      \
		".incbin \"" file "\"\n" #sym "_end:\n"                        \
		".popsection\n");                                              \
	extern const unsigned char sym[], sym##_end[]

UI_BLOB(ui_index_html, "ui/index.html");
UI_BLOB(ui_app_js, "ui/app.js");
UI_BLOB(ui_i18n_js, "ui/i18n.js");
UI_BLOB(ui_app_css, "ui/app.css");
UI_BLOB(ui_favicon_svg, "ui/favicon.svg");

#define UI_ENTRY(n, t, sym)                                                    \
	{                                                                      \
		n, t, sym, 0                                                   \
	}

static struct ui_asset assets[] = {
    UI_ENTRY("index.html", "text/html; charset=utf-8", ui_index_html),
    UI_ENTRY("app.js", "text/javascript; charset=utf-8", ui_app_js),
    UI_ENTRY("i18n.js", "text/javascript; charset=utf-8", ui_i18n_js),
    UI_ENTRY("app.css", "text/css; charset=utf-8", ui_app_css),
    UI_ENTRY("favicon.svg", "image/svg+xml", ui_favicon_svg),
};

static size_t
asset_len(size_t i)
{
	static const unsigned char *const ends[] = {ui_index_html_end,
	    ui_app_js_end, ui_i18n_js_end, ui_app_css_end, ui_favicon_svg_end};

	return (size_t)(ends[i] - assets[i].data);
}

const struct ui_asset *
ui_find(struct span rel)
{
	size_t i;

	if (rel.len == 0)
		rel = (struct span){"index.html", 10};
	for (i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (span_eq(rel, assets[i].name)) {
			/* Lengths from the linker's addresses: set on first
			 * use (the same value from any thread). */
			assets[i].len = asset_len(i);
			return &assets[i];
		}
	return NULL;
}

int
ui_path(struct span path)
{
	size_t n = sizeof(UI_PREFIX) - 1;

	return path.len >= n && memcmp(path.p, UI_PREFIX, n) == 0 &&
	    (path.len == n || path.p[n] == '/');
}

enum relay_err
ui_security_headers(struct relay_req *req)
{
	static const char *const h[] = {
	    /* Scripts, styles and images from the console itself only;
	     * no inline script or style, no eval, fetch() to this origin
	     * only, never framed, no plugin, no <base>, no form posts. */
	    "Content-Security-Policy: default-src 'none'; script-src 'self'; "
	    "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
	    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	    "X-Frame-Options: DENY",
	    "X-Content-Type-Options: nosniff",
	    "Referrer-Policy: no-referrer",
	    "Cross-Origin-Opener-Policy: same-origin",
	    "Cross-Origin-Resource-Policy: same-origin",
	    "Permissions-Policy: camera=(), microphone=(), geolocation=()",
	    "Cache-Control: no-cache",
	};
	enum relay_err err = RELAY_OK;
	size_t i;

	for (i = 0; err == RELAY_OK && i < sizeof(h) / sizeof(h[0]); i++)
		err = req_add_header(req, "%s", h[i]);
	return err;
}

void
ui_serve(struct relay_req *req)
{
	size_t n = sizeof(UI_PREFIX) - 1;
	const struct ui_asset *a;
	struct span rel;
	enum relay_err err = ui_security_headers(req);

	if (err != RELAY_OK) {
		apierr_send_err(req, DIALECT_OPENAI, err, NULL);
		return;
	}
	if (req->path.len == n) {
		if (req_add_header(req, "Location: " UI_PREFIX "/") !=
			RELAY_OK ||
		    req_send_full(req, 308, "text/plain", "", 0) != RELAY_OK)
			req->status = 499;
		return;
	}
	if (req->method != REQ_GET && req->method != REQ_HEAD) {
		if (req_add_header(req, "Allow: GET, HEAD") != RELAY_OK)
			req->status = 500;
		apierr_send(req, DIALECT_OPENAI, 405, NULL,
		    "method_not_allowed",
		    "The console's files are read with GET.");
		return;
	}
	rel = (struct span){req->path.p + n + 1, req->path.len - n - 1};
	a = ui_find(rel);
	if (a == NULL) {
		apierr_send(req, DIALECT_OPENAI, 404, NULL, "unknown_url",
		    "No such console file.");
		return;
	}
	/* HEAD: the web server drops the body and keeps its length. */
	if (req_send_full(req, 200, a->type, a->data, a->len) != RELAY_OK)
		req->status = 499;
}
