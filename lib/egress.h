/* SPDX-License-Identifier: MIT */
/* egress.h - outbound proxies per provider or per provider key: checking a
 * proxy URL, setting a transfer's proxy options, and telling a proxy's
 * failure (connect error, 407, 502 from CONNECT, a SOCKS refusal) from the
 * provider's own. A proxy URL may hold credentials: never log it. */
#ifndef RELAY_EGRESS_H
#define RELAY_EGRESS_H

#include <stddef.h>

#include <curl/curl.h>

#include "compiler.h"

/*
 * 0 when url is an egress proxy the relay can use: http://, https://,
 * socks5:// or socks5h:// (the proxy resolves the upstream's name), a
 * host, an optional port and optional user:password@ (URL-encoded), no
 * path beyond "/". Else -1 and why in eb (without the URL: it may hold a
 * password).
 */
int egress_check(const char *url, char *eb, size_t ebsz) RELAY_NONNULL;

/*
 * A transfer's proxy options. proxy NULL: direct, whatever the
 * environment says (HTTPS_PROXY, ALL_PROXY, NO_PROXY are never read).
 * Else through proxy, NO_PROXY ignored too; an HTTP(S) proxy always
 * tunnels (CONNECT), for http:// upstreams as well, so a proxy's own
 * answers never pass for the provider's, and its CONNECT answer never
 * reaches the header callback. libcurl reuses a connection only for the
 * same proxy.
 */
void egress_setopt(CURL *e, const char *proxy) __attribute__((nonnull(1)));

/*
 * After a transfer through a proxy ended with rc (not CURLE_OK): 1 when
 * the proxy failed, not the provider (could not resolve or connect to the
 * proxy, its TLS, a non-2xx answer to CONNECT such as 407 or 502, a SOCKS
 * refusal), with what happened, for a client, in msg (no host, port or
 * credentials); 0 when the failure is the upstream's.
 */
int egress_failed(CURL *e, CURLcode rc, char *msg, size_t msgsz) RELAY_NONNULL;

#endif
