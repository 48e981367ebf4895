/* SPDX-License-Identifier: MIT */
/* breaker.h - circuit breakers per upstream target, their state shared by
 * every process and host through memcached: closed (calls flow), open
 * (calls fail fast), half-open (one probe decides). */
#ifndef RELAY_BREAKER_H
#define RELAY_BREAKER_H

#include "compiler.h"
#include "err.h"

struct kv;
struct config_breaker;

enum breaker_state {
	BREAKER_CLOSED,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN,
	BREAKER__MAX
};

/* "closed", "open", "half_open". */
const char *breaker_name(enum breaker_state s);

/*
 * May a call to target ("provider/model") go ahead? 1: yes, with *probe
 * set when this caller is the half-open probe (it must report the outcome
 * with *probe); 0: the breaker is open. When memcached fails, calls go
 * ahead (a breaker must not become an outage of its own). With
 * conf->failures 0 breakers are off and every call goes ahead.
 */
int breaker_allow(struct kv *kv, const struct config_breaker *conf,
    const char *target, int *probe) RELAY_NONNULL;

/* Report a call's outcome. A failure counts toward opening (and re-opens
 * after a failed probe); a successful probe closes the breaker. */
void breaker_success(struct kv *kv, const struct config_breaker *conf,
    const char *target, int probe) RELAY_NONNULL;
void breaker_failure(struct kv *kv, const struct config_breaker *conf,
    const char *target, int probe) RELAY_NONNULL;

/* The state as seen now (for /health/ready and the admin API). */
enum breaker_state breaker_state(struct kv *kv,
    const struct config_breaker *conf, const char *target) RELAY_NONNULL;

struct buf;
struct config;

/* breaker_each()'s callback: anything but RELAY_OK stops the walk. */
typedef enum relay_err (*breaker_fn)(
    void *arg, const char *target, enum breaker_state s);

/*
 * Call fn once for every distinct target of cfg, by its breaker's name
 * ("provider/model"; for the target of a wildcard model the provider's
 * name, a slash and a star: its one breaker serves every name the
 * wildcard admits), with its state. RELAY_OK, or the first error fn
 * returned.
 */
enum relay_err breaker_each(struct kv *kv, const struct config *cfg,
    breaker_fn fn, void *arg) RELAY_MUST_CHECK;

/*
 * Append to b a JSON object of every target of cfg (as breaker_each()
 * names them, wildcard targets included) and its breaker state ("closed",
 * "open", "half_open"). RELAY_ENOMEM, RELAY_ETOOBIG.
 */
enum relay_err breaker_report(
    struct kv *kv, const struct config *cfg, struct buf *b) RELAY_MUST_CHECK;

#endif
