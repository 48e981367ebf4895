/* SPDX-License-Identifier: MIT */
/* pii_detect.h - the optional external detector of outbound protection:
 * names and addresses, which no scanner can find, asked of a service that
 * speaks the Presidio analyzer's REST API, once per request, from the
 * request's coroutine. What it finds becomes request-local values of
 * kinds NAME and ADDRESS (pii_out_found()), placeholdered or masked
 * wherever they occur in the request like any other kind. */
#ifndef RELAY_PII_DETECT_H
#define RELAY_PII_DETECT_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "config.h"
#include "err.h"
#include "pii_out.h"

struct upstream;
struct loop_io;

/* The texts of a request joined for the detector: a blank line between
 * two, so a finding does not run from one text into the next (a span
 * that still does is cut at it). */
#define PII_DETECT_SEP "\n\n"

/*
 * A position in UTF-8 text counted in code points (as Python, and so
 * Presidio, counts string indices), moved to any code point in time
 * proportional to the distance: a detector's findings come in any order.
 */
struct pii_cp {
	const char *p;
	size_t n;
	size_t byte, cp; /* where it stands */
};

void pii_cp_init(struct pii_cp *c, const char *p, size_t n) RELAY_NONNULL;
/* *byte: the offset of code point cp (n for cp just past the last one).
 * 0, or -1 when the text has fewer code points. */
int pii_cp_seek(struct pii_cp *c, size_t cp, size_t *byte) RELAY_NONNULL;

/* The request body for the detector: {"text", "language", "entities",
 * "score_threshold"}. */
enum relay_err pii_detect_body(const struct config_detector *d,
    const char *text, size_t n, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Read the detector's answer (ans, n bytes: a JSON array of
 * {"entity_type", "start", "end", "score"}, offsets in code points of
 * text) into po: PERSON is a NAME; LOCATION, ADDRESS, GPE are an ADDRESS;
 * other types, findings scored below threshold, and kinds po's policy
 * leaves off are ignored. Each value is cut at PII_DETECT_SEP and trimmed
 * of white space. RELAY_OK; RELAY_EPROTO when the answer is not such an
 * array (an item of another shape, offsets out of the text or reversed,
 * more than RELAY_PII_DETECT_MAX items): nothing of it is to be trusted;
 * RELAY_ENOMEM, RELAY_ETOOBIG from pii_out_found().
 */
enum relay_err pii_detect_parse(const char *ans, size_t n, const char *text,
    size_t tlen, double threshold,
    struct pii_out *po) RELAY_MUST_CHECK RELAY_NONNULL;

/* 1 when the detector d is to be asked under po's policy: it is
 * configured and NAME or ADDRESS is not off. */
int pii_detect_wanted(
    const struct config_detector *d, const struct pii_out *po) RELAY_NONNULL;

/*
 * Ask the detector d about the texts of request document root (a json_t *)
 * through u, on the request's loop (the call yields), watching the client
 * as upstream_call does (watch_fd, watch_io); its findings go into po.
 * RELAY_OK; RELAY_ECLOSED when the client went away; otherwise the
 * detector failed (unreachable, too slow, not 2xx, an answer that cannot
 * be read), with a reason for the relay's log in why (no text of the
 * request, no URL).
 */
enum relay_err pii_detect_run(const struct config_detector *d,
    struct pii_out *po, void *root, struct upstream *u, int watch_fd,
    struct loop_io *watch_io, char *why, size_t whysz) RELAY_MUST_CHECK;

#endif
