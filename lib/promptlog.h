/* SPDX-License-Identifier: MIT */
/* promptlog.h - the optional log of prompts and answers (config
 * "prompt_log", off by default): masked by pii_mask() before a byte is
 * written, one file per hour and host, files past the retention removed. */
#ifndef RELAY_PROMPTLOG_H
#define RELAY_PROMPTLOG_H

#include "buf.h"
#include "compiler.h"

struct promptlog;

/* The log in dir (made 0700 with the first line; nothing is created
 * while the log is off). NULL when memory is short. */
struct promptlog *promptlog_open(const char *dir) RELAY_MUST_CHECK;
void promptlog_close(struct promptlog *pl);

/*
 * Append one exchange to "YYYY-MM-DDTHH.<host>.jsonl": {"ts","id","key",
 * "model","status","request","answer"} with request and answer (the
 * bytes as they went, JSON or SSE text) masked and JSON-escaped; one
 * write(2) on an O_APPEND file. A line that cannot be masked is not
 * written. pl may be NULL. Thread-safe.
 */
void promptlog_write(struct promptlog *pl, const char *id, const char *key_id,
    const char *model, int status, struct span request, struct span answer);

/*
 * Remove the files whose hour ended more than retention_h hours ago
 * (those of every host: the directory may be shared), at most once a
 * minute; call it on every request, also while the log is off, so that
 * what an earlier setting kept still goes. Returns how many went.
 */
int promptlog_sweep(struct promptlog *pl, long retention_h) RELAY_NONNULL;

#endif
