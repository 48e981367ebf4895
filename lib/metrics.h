/* SPDX-License-Identifier: MIT */
/* metrics.h - Prometheus metrics summed over every responder process and
 * thread: one shared-memory file per process, lock-free updates, and a
 * renderer that reads them all (text exposition format 0.0.4). */
#ifndef RELAY_METRICS_H
#define RELAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"

/* Distinct label values per process file (index 0 is "other"): count. */
#define METRICS_ROUTES 8
#define METRICS_DIALECTS 8
#define METRICS_MODELS 64
#define METRICS_PROVIDERS 16
#define METRICS_KINDS 32
#define METRICS_TARGETS 32
/* A label value: bytes of [!-~] except '"' and '\\'; others are "other". */
#define METRICS_NAME_MAX 63
/* Labelled series per process file: count; beyond it, all-"other". */
#define METRICS_SERIES 4096
/* Exposition body: bytes, over it metrics_render() fails. */
#define METRICS_RENDER_MAX (8u * 1024 * 1024)

struct metrics;

/*
 * Create this process's metrics file <dir>/<prog>.<pid>.metrics (mode
 * 0600, the directory is created 0700 when missing) and map it. A file
 * left there by a dead process with the same pid is folded into
 * <dir>/retired.metrics first. *out receives the handle, for the threads
 * of this process only (open again after fork). RELAY_OK, RELAY_EINVAL
 * when prog is empty or has a '/', RELAY_EIO (errno kept) when the file
 * cannot be made, RELAY_ENOMEM.
 */
enum relay_err metrics_open(
    const char *dir, const char *prog, struct metrics **out) RELAY_MUST_CHECK;

/*
 * Fold this process's counters and histograms into <dir>/retired.metrics
 * (under flock) and remove its file, so that no count is lost and none is
 * counted twice; gauges are dropped. Call it after the threads that record
 * have stopped. m may be NULL.
 */
void metrics_close(struct metrics *m);

/*
 * Recorders: relaxed atomics on the shared file; the only lock is a
 * per-process mutex taken the first time a label value is seen. All do
 * nothing when m is NULL. Label values are names from the config
 * (routes, dialects, models, providers, kinds, targets): a value that is
 * too long, has other bytes, looks like a secret (lib/pii.h), or would be
 * one distinct value too many becomes "other". Seconds that are negative
 * or NaN count as 0.
 */
/* relay_requests_total{route,dialect,model,provider,code} and
 * relay_request_duration_seconds{route}; status 100-599, else "other". */
void metrics_request(struct metrics *m, const char *route, const char *dialect,
    const char *model, const char *provider, int status, double seconds);
/* relay_time_to_first_token_seconds{model}. */
void metrics_ttft(struct metrics *m, const char *model, double seconds);
/* relay_stream_event_gap_seconds: time between two events of a stream. */
void metrics_stream_gap(struct metrics *m, double seconds);
/* relay_tokens_total{model,direction} and relay_cost_usd_total{model}
 * (cost in micro-USD, exposed in USD). */
void metrics_tokens(struct metrics *m, const char *model, uint64_t in,
    uint64_t out, uint64_t cost_micro_usd);
/* relay_tokens_total{model,direction="cached"}: input tokens the provider
 * read from its prompt cache (a part of direction="in"). */
void metrics_tokens_cached(struct metrics *m, const char *model, uint64_t n);
/* relay_cache_total{result="hit"|"miss"}. */
void metrics_cache(struct metrics *m, int hit);
/* relay_ratelimit_refusals_total{kind}. */
void metrics_ratelimit(struct metrics *m, const char *kind);
/* relay_pii_entities_total{entity,action}: n more found (outbound
 * protection, lib/pii_out.h); counts only, never values. */
void metrics_pii(
    struct metrics *m, const char *entity, const char *action, uint64_t n);
/* relay_upstream_errors_total{provider,kind}. */
void metrics_upstream_error(
    struct metrics *m, const char *provider, const char *kind);
/* relay_retries_total, relay_fallbacks_total. */
void metrics_retry(struct metrics *m);
void metrics_fallback(struct metrics *m);
/* relay_breaker_state{target}: 0 closed, 1 open, 2 half-open (the values
 * of enum breaker_state). Across processes the latest report wins. */
void metrics_breaker(struct metrics *m, const char *target, int state);
/* relay_inflight_streams: delta +1 when a stream starts, -1 when it ends;
 * summed over live processes. */
void metrics_inflight(struct metrics *m, int delta);

/*
 * Append the text exposition (Content-Type: text/plain; version=0.0.4) of
 * every metrics file in dir to out: live processes' files, the files of
 * dead processes (folded into retired.metrics and removed on the way, under
 * the same flock as metrics_close()), and retired.metrics, summed by label
 * values. Families are in a fixed order with HELP and TYPE lines, series
 * sorted by labels. RELAY_OK; RELAY_EIO when dir cannot be read or locked,
 * RELAY_ETOOBIG or RELAY_ENOMEM from out or the working tables.
 */
enum relay_err metrics_render(
    const char *dir, struct buf *out) RELAY_MUST_CHECK;

#endif
