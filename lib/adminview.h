/* SPDX-License-Identifier: MIT */
/* adminview.h - what the admin console shows besides keys and usage: the
 * access log's recent lines (errors, or one request by id) and this
 * host's responder processes. */
#ifndef RELAY_ADMINVIEW_H
#define RELAY_ADMINVIEW_H

#include <stddef.h>

#include "compiler.h"
#include "err.h"
#include "jsonx.h"

/*
 * The access log lines at the end of the file at path (its last
 * RELAY_ADMIN_LOG_TAIL bytes, then path.1's when that is short), newest
 * first, at most max: those of request id when id is not NULL, else those
 * with a status of 400 or more when errors_only, else all. *out: a new
 * JSON array of the lines as objects (a line that is not JSON, such as a
 * torn one, is skipped). A missing file is an empty list.
 */
enum relay_err adminview_log(const char *path, const char *id, int errors_only,
    size_t max, json_t **out) RELAY_MUST_CHECK;

/*
 * The responder processes of this host: one metrics file each in dir
 * (<prog>.<pid>.metrics, lib/metrics.c). *out: a new JSON array of
 * {"prog","pid","alive"} sorted by prog then pid.
 */
enum relay_err adminview_processes(
    const char *dir, json_t **out) RELAY_MUST_CHECK;

#endif
