/* SPDX-License-Identifier: MIT */
/* accesslog.h - one JSON line per request in a file shared by every
 * responder process of the host, rotated by size; never a secret, never a
 * whole client address. */
#ifndef RELAY_ACCESSLOG_H
#define RELAY_ACCESSLOG_H

#include <stdint.h>

#include "compiler.h"
#include "err.h"

struct accesslog;

/* What one line says. Strings are names from the config or our own ids;
 * NULL prints as "-". */
struct access_entry {
	const char *id; /* x-request-id */
	const char *key_id; /* the virtual key's id, never its secret */
	const char *end_user; /* a tier key's signed end user, or NULL */
	const char *route, *dialect, *model, *provider;
	const char *client_ip; /* anonymised before it is written */
	const char *cache; /* "HIT", "MISS", "REFRESH", "BYPASS" or NULL */
	int status;
	double seconds, ttft_seconds; /* ttft < 0: none */
	long long tokens_in, tokens_out;
	uint64_t cost_micro_usd;
	int attempts;
};

/*
 * Open path for appending (O_APPEND: each line is one write(2), whole
 * even with many processes writing), rotating it to path.1 when it passes
 * max_bytes. NULL with errno set when it cannot be opened.
 */
struct accesslog *accesslog_open(
    const char *path, long long max_bytes) RELAY_MUST_CHECK;
void accesslog_close(struct accesslog *al);

/* Write e as one line; drops it (and counts nothing) on error. al may be
 * NULL (no access log). Thread-safe. */
void accesslog_write(struct accesslog *al, const struct access_entry *e);

/* Anonymise a textual address: IPv4 keeps its /24, IPv6 its /48. Writes
 * at most outsz bytes (NUL included); "-" when ip is not an address. */
void accesslog_anon_ip(const char *ip, char *out, unsigned long outsz);

#endif
