/* SPDX-License-Identifier: MIT */
/* ledger.h - every request's usage and cost, appended to a file per day
 * and host under <data_dir>/ledger, and the report that sums them by day,
 * key and model. */
#ifndef RELAY_LEDGER_H
#define RELAY_LEDGER_H

#include <stdint.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"

struct ledger;

/* Open the ledger in dir (created 0700 when missing). NULL when dir
 * cannot be made. */
struct ledger *ledger_open(const char *dir) RELAY_MUST_CHECK;
void ledger_close(struct ledger *l);

/*
 * Append one request: "YYYY-MM-DD.<host>.jsonl", one JSON line written
 * with one write(2) on an O_APPEND file (whole even with many processes,
 * kept when a process is killed; a machine crash may lose what the kernel
 * had not written yet). l may be NULL. Thread-safe.
 */
void ledger_record(struct ledger *l, const char *key_id, const char *end_user,
    const char *model, long long tokens_in, long long tokens_out,
    uint64_t cost_micro_usd, int cache_hit);

/*
 * Sum the ledger in dir from day from to day to (inclusive, "YYYY-MM-DD")
 * by day, key and model, into out: JSON {"object":"list","data":[{"day",
 * "key","model","requests","cache_hits","tokens_in","tokens_out","cost_usd"}]} or, with
 * csv, a header line and one line each. Lines that do not parse (a torn
 * last line) are skipped. RELAY_EINVAL for a bad date, RELAY_EIO,
 * RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err ledger_report(const char *dir, const char *from, const char *to,
    int csv, struct buf *out) RELAY_MUST_CHECK;

#endif
