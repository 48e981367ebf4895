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
	/* What failed when it was not the upstream (e.g. "egress_proxy");
	 * NULL: the member is left out. */
	const char *error;
	/* Outbound protection's counts by kind and action, or NULL (the
	 * field is then left out). */
	const char *pii;
	int status;
	double seconds, ttft_seconds; /* ttft < 0: none */
	long long tokens_in, tokens_out;
	long long tokens_cached; /* of tokens_in, from the provider's prompt
				    cache (what affinity keeps warm) */
	uint64_t cost_micro_usd;
	int attempts;
};

/*
 * Open the log named path: lines go to the day file path.YYYY-MM-DD (the
 * line's UTC date; O_APPEND: each line is one write(2), whole even with
 * many processes writing), and path becomes a symlink to today's file (a
 * plain file there is kept as path.old). At each day change day files
 * older than retention_days go (0: kept for ever). With hash_chain each
 * line ends in "prev":"<hex SHA-256 of the line before it in its file,
 * without its newline>" (64 zeros for a file's first line), written under
 * flock(2): a line changed, inserted or removed breaks the chain
 * (accesslog_verify). NULL with errno set when it cannot be opened.
 */
struct accesslog *accesslog_open(
    const char *path, int retention_days, int hash_chain) RELAY_MUST_CHECK;

/*
 * Check the hash chain of one day file: RELAY_OK when every line carries
 * the hash of the line before it (*nlines: how many); RELAY_EPROTO when
 * not (*nlines: the first bad line, 1-based; why says what), RELAY_EIO
 * when it cannot be read, RELAY_ENOMEM.
 */
enum relay_err accesslog_verify(
    const char *file, long *nlines, char *why, size_t whysz) RELAY_MUST_CHECK;
void accesslog_close(struct accesslog *al);

/* Write e as one line; drops it (and counts nothing) on error. al may be
 * NULL (no access log). Thread-safe. */
void accesslog_write(struct accesslog *al, const struct access_entry *e);

/* Anonymise a textual address: IPv4 keeps its /24, IPv6 its /48. Writes
 * at most outsz bytes (NUL included); "-" when ip is not an address. */
void accesslog_anon_ip(const char *ip, char *out, unsigned long outsz);

#endif
