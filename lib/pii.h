/* SPDX-License-Identifier: MIT */
/* pii.h - masking of personal data and secrets in text bound for a log:
 * mobile numbers, resident ID numbers, bank cards, emails, API keys. */
#ifndef RELAY_PII_H
#define RELAY_PII_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"

/*
 * Append to out a copy of the n bytes at p (any bytes, not NUL-terminated)
 * in which every recognised item is masked, keeping a recognisable shape:
 *
 *   mainland mobile   1[3-9] + 9 digits, optionally "+86"/"0086" and
 *                     3-4-4 separators          -> 138****5678
 *   resident ID       18 chars, GB 11643 date and ISO 7064 MOD 11-2 check
 *                     digit (X allowed); 15-digit legacy with a date
 *                                               -> 1101**********123X
 *   bank card         13-19 digits, first digit 2-6, Luhn; groups of
 *                     3-6 digits split by one ' ' or '-' -> 6222*******1234
 *   email             local@domain.tld          -> a***@example.com
 *   keys              sk-/sk-ant-/sk-relay-/AIza prefixes, Bearer tokens,
 *                     JWTs, hex or base64 runs of 32+ characters
 *                                               -> sk-...[redacted]
 *
 * Numbers and keys are only recognised at word boundaries (no ASCII letter
 * or digit on either side), so 1700000000123 or order-13812345678x stay
 * as they are. One linear pass, no regular expressions. Only ASCII bytes
 * are ever replaced, so valid UTF-8 in gives valid UTF-8 out and text
 * around the items (CJK included) is copied byte for byte. The output is
 * at most 2 * n + 16 bytes.
 *
 * RELAY_OK; RELAY_ETOOBIG or RELAY_ENOMEM from out (whose content is then
 * unspecified but valid, and must not be logged).
 */
enum relay_err pii_mask(
    const char *p, size_t n, struct buf *out) RELAY_MUST_CHECK;

/* The kinds of personal data an outbound policy acts on (lib/pii_out.h);
 * TERM is an operator's word list, found by lib/wordfilter.c; NAME and
 * ADDRESS are found by an external detector only (lib/pii_detect.h). */
enum pii_entity {
	PII_ENT_PHONE,
	PII_ENT_ID,
	PII_ENT_CARD,
	PII_ENT_EMAIL,
	PII_ENT_TERM,
	PII_ENT_NAME,
	PII_ENT_ADDRESS,
	PII_ENT__MAX
};

/* Called for each item found; a non-zero return stops the scan. */
typedef int (*pii_hit_fn)(void *arg, enum pii_entity e, size_t at, size_t len);

/*
 * The same pass as pii_mask() without rewriting: fn(arg, kind, offset,
 * length) for each mobile number, resident ID, bank card and email in the
 * n bytes at p, in order, never overlapping. API keys, tokens and long
 * hex/base64 runs are passed over whole (a number inside one is not a
 * phone) and not reported. Returns 0, or what fn returned to stop it.
 */
int pii_scan(const char *p, size_t n, pii_hit_fn fn, void *arg) RELAY_NONNULL;

#endif
