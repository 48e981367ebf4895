/* SPDX-License-Identifier: MIT */
/* egress.c - outbound proxies: see egress.h. */
#include "egress.h"

#include <stdio.h>
#include <string.h>

#include "limits.h"

static const char *const schemes[] = {
    "http://", "https://", "socks5://", "socks5h://", NULL};

int
egress_check(const char *url, char *eb, size_t ebsz)
{
	const char *p = NULL, *host, *end;
	size_t i, n = strlen(url);

	for (i = 0; schemes[i] != NULL; i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			p = url + strlen(schemes[i]);
	if (p == NULL) {
		snprintf(eb, ebsz,
		    "must start with http://, https://, socks5:// or "
		    "socks5h://");
		return -1;
	}
	if (n > RELAY_EGRESS_URL_MAX) {
		snprintf(
		    eb, ebsz, "longer than %d bytes", RELAY_EGRESS_URL_MAX);
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
			snprintf(eb, ebsz,
			    "must not hold spaces or control characters");
			return -1;
		}
	/* user:password@ is everything up to the last '@' of the
	 * authority (a password may hold '@' only URL-encoded, as %40). */
	end = p + strcspn(p, "/?#");
	host = p;
	for (i = 0; p + i < end; i++)
		if (p[i] == '@')
			host = p + i + 1;
	if (host == end || *host == ':') {
		snprintf(eb, ebsz, "has no host");
		return -1;
	}
	if (*end != '\0' && strcmp(end, "/") != 0) {
		snprintf(
		    eb, ebsz, "must be scheme://[user:password@]host[:port]");
		return -1;
	}
	return 0;
}

void
egress_setopt(CURL *e, const char *proxy)
{
	if (proxy == NULL) {
		/* "" : no proxy, and the environment is not looked at. */
		curl_easy_setopt(e, CURLOPT_PROXY, "");
		return;
	}
	curl_easy_setopt(e, CURLOPT_PROXY, proxy);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "");
	curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
	curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(e, CURLOPT_PROXYAUTH, (long)CURLAUTH_BASIC);
}

/* A SOCKS proxy's refusal, in words for a client. */
static const char *
socks_what(long px)
{
	switch (px) {
	case CURLPX_REPLY_CONNECTION_REFUSED:
		return "the egress proxy could not connect to the upstream "
		       "(refused)";
	case CURLPX_REPLY_HOST_UNREACHABLE:
	case CURLPX_REPLY_NETWORK_UNREACHABLE:
	case CURLPX_REPLY_TTL_EXPIRED:
		return "the egress proxy could not reach the upstream";
	case CURLPX_RESOLVE_HOST:
		return "the egress proxy could not resolve the upstream's host";
	case CURLPX_NO_AUTH:
	case CURLPX_USER_REJECTED:
	case CURLPX_RECV_AUTH:
	case CURLPX_SEND_AUTH:
		return "the egress proxy refused the relay's credentials";
	case CURLPX_REPLY_NOT_ALLOWED:
		return "the egress proxy does not allow this upstream";
	default: return "the egress proxy failed";
	}
}

int
egress_failed(CURL *e, CURLcode rc, char *msg, size_t msgsz)
{
	long code = 0, px = 0, vr = 0;

	if (curl_easy_getinfo(e, CURLINFO_HTTP_CONNECTCODE, &code) ==
		CURLE_OK &&
	    code != 0 && (code < 200 || code >= 300)) {
		/* tinyproxy answers a CONNECT with bad credentials 401. */
		const char *why = code == 407 || code == 401
		    ? " (proxy authentication required)"
		    : code == 502 ? " (it could not reach the upstream)"
		    : code == 403 ? " (not allowed)"
				  : "";

		snprintf(msg, msgsz,
		    "the egress proxy refused the tunnel: HTTP %ld%s", code,
		    why);
		return 1;
	}
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
		snprintf(msg, msgsz,
		    "the egress proxy's host name could not be resolved");
		return 1;
	case CURLE_PROXY:
		if (curl_easy_getinfo(e, CURLINFO_PROXY_ERROR, &px) != CURLE_OK)
			px = CURLPX_UNKNOWN_FAIL;
		snprintf(msg, msgsz, "%s", socks_what(px));
		return 1;
	case CURLE_COULDNT_CONNECT:
		/* With a proxy the relay's own connection goes to it: the
		 * upstream's refusal comes back as a CONNECT or SOCKS reply. */
		snprintf(msg, msgsz, "could not connect to the egress proxy");
		return 1;
	default: break;
	}
	if (curl_easy_getinfo(e, CURLINFO_PROXY_SSL_VERIFYRESULT, &vr) ==
		CURLE_OK &&
	    vr != 0) {
		snprintf(msg, msgsz,
		    "the TLS handshake with the egress proxy failed");
		return 1;
	}
	return 0;
}
