/* SPDX-License-Identifier: MIT */
/* pii_out.h - outbound protection of personal data: the texts of a request
 * masked, replaced by placeholders or refused before it leaves, and the
 * placeholders in the answer, whole or streamed, turned back into what the
 * client sent. The mapping lives in the request's memory only. */
#ifndef RELAY_PII_OUT_H
#define RELAY_PII_OUT_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "config.h"
#include "err.h"
#include "ir.h"
#include "limits.h"
#include "pii.h"

struct wordfilter;

/* Placeholders of one request: count; more fail the request (closed). */
#define PII_OUT_MAP_MAX 4096
/* One rewritten or restored text: bytes (placeholders and JSON escapes
 * grow a text at most a few times over). */
#define PII_OUT_TEXT_MAX (2u * RELAY_BODY_MAX_CEILING)
/* The longest placeholder: "⟦" + type (5) + "_" + 6 digits + "⟧". */
#define PII_OUT_PH_MAX 24
/* The longest surrogate: a card's 19 digits. */
#define PII_OUT_SUR_MAX 19

/* One original and its placeholder (or surrogate). */
struct pii_out_entry {
	enum pii_entity type;
	unsigned ord; /* 1, 2, ... per type, by first appearance */
	char *orig;
	size_t len;
	/* pii_protection.surrogates: the digits sent instead of the
	 * placeholder (phone, id, card); nsur 0: the placeholder. */
	unsigned char nsur;
	char sur[PII_OUT_SUR_MAX];
};

/* The state of one request. Fields are private to pii_out.c except the
 * counts, which metrics and the access log read. */
struct pii_out {
	struct config_pii pol;
	const struct wordfilter *terms; /* TERM entities; may be NULL */
	struct pii_out_entry *map;
	size_t nmap, capmap;
	size_t nsur; /* entries with a surrogate: restores look for digits */
	unsigned next[PII_ENT__MAX];
	/* Hits per kind (each occurrence counts), and the blocked kinds. */
	size_t hits[PII_ENT__MAX];
	unsigned blocked; /* bit per enum pii_entity */
	/* Set on a copy that must not change the map (a log's view):
	 * originals not in it are masked, blocked kinds too. */
	int frozen;
	/* Values the external detector found in this request (NAME,
	 * ADDRESS; ord unused): every occurrence in any text is that kind. */
	struct pii_out_entry *found;
	size_t nfound, capfound;
};

/* "phone", "id", "card", "email", "term", "name", "address"; "?" out of
 * range. */
const char *pii_entity_name(enum pii_entity e);
/* "off", "mask", "pseudonymise", "block"; "?" out of range. */
const char *pii_action_name(enum pii_action a);
/* The placeholder's type word: "PHONE", "ID", "CARD", "EMAIL", "TERM",
 * "NAME", "ADDR". */
const char *pii_entity_tag(enum pii_entity e);

/* Start po for policy pol and the term list terms (may be NULL: TERM is
 * then never found). */
void pii_out_init(struct pii_out *po, const struct config_pii *pol,
    const struct wordfilter *terms);
/* Release the mapping and the found values (wiped first). */
void pii_out_reset(struct pii_out *po) RELAY_NONNULL;
/* 1 when any kind is not off. */
int pii_out_on(const struct pii_out *po) RELAY_NONNULL;
/* 1 when placeholders were made (the answer must be restored, and must not
 * be kept as it was sent to the client). */
int pii_out_mapped(const struct pii_out *po) RELAY_NONNULL;

/*
 * Rewrite the n bytes at p into out by the policy: each entity masked or
 * replaced by its placeholder, or with pol.surrogates a phone, ID or card
 * by its surrogate (the same original always the same one).
 * A kind whose action is block is counted in po->blocked and left as it
 * is (the caller refuses the request). RELAY_OK; RELAY_ETOOBIG when the
 * map is full or out is; RELAY_ENOMEM.
 */
enum relay_err pii_out_text(struct pii_out *po, const char *p, size_t n,
    struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Rewrite in place every text of a request document (a json_t *) that a
 * provider reads: string values under content, text, system, input,
 * prompt, instructions, arguments, output, and every string inside a tool
 * call's or tool result's object (input, args, response); never ids,
 * names, signatures, URLs, media data or types. *changed says whether any
 * string changed. Errors as pii_out_text(); after one the document is
 * half rewritten and must not be sent.
 */
enum relay_err pii_out_request(struct pii_out *po, void *root,
    int *changed) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * pii_out_request(), and the request's body made again into out (which
 * the caller gives empty) when a string changed: the n bytes of body the
 * document was parsed from, with the changed strings written anew and
 * every other byte copied as it was (no re-serialisation: the client's
 * formatting, escapes and number spellings stay). When the raw text and
 * the document do not agree as expected, out is the document dumped
 * instead. Errors as pii_out_request().
 */
enum relay_err pii_out_request_body(struct pii_out *po, void *root,
    const char *body, size_t n, struct buf *out,
    int *changed) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Append to out every text pii_out_request() would rewrite, in the same
 * order, each followed by sep (what an external detector reads).
 */
enum relay_err pii_out_texts(const struct pii_out *po, void *root,
    const char *sep, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Value p[0, n) is of kind e wherever it occurs in this request (a
 * detector found it once): pii_out_text() finds each occurrence, at word
 * boundaries where the value begins or ends with an ASCII letter or digit.
 * A value already known is kept once. RELAY_OK; RELAY_ETOOBIG past
 * PII_OUT_MAP_MAX values; RELAY_ENOMEM.
 */
enum relay_err pii_out_found(struct pii_out *po, enum pii_entity e,
    const char *p, size_t n) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Append to out the n bytes at p with each placeholder of the map
 * replaced by its original; json: the text is JSON (tool arguments), so
 * originals go in JSON-escaped. Unknown placeholders stay as they are.
 */
enum relay_err pii_out_restore(const struct pii_out *po, const char *p,
    size_t n, int json, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * Restore every string of an answer document (a json_t *) in place; those
 * of members named "arguments" as JSON text. *changed as above.
 */
enum relay_err pii_out_restore_doc(const struct pii_out *po, void *root,
    int *changed) RELAY_MUST_CHECK RELAY_NONNULL;

/*
 * The operator's term list (pii_protection.word_files) with a reference
 * the caller drops with wordfilter_free(); reloaded when the files
 * change, as the content filter's. NULL when none is configured, or none
 * could be loaded (*failed set: refuse, never send unprotected).
 */
struct wordfilter *pii_out_terms(
    const struct config *cfg, int *failed) RELAY_NONNULL;

/* "phone:pseudonymise=2,email:block=1" into out (counts only, kinds with
 * hits), for the access log; truncated at a whole item. */
void pii_out_counts(
    const struct pii_out *po, char *out, size_t outsz) RELAY_NONNULL;

/* --- streams ----------------------------------------------------------- */

/*
 * A restorer of text arriving in pieces: each piece's text goes out at
 * once, up to a tail that may still be the start of a placeholder (at
 * most PII_OUT_PH_MAX - 1 bytes) or of a surrogate (a run of digits that
 * begins one of the map's; a whole surrogate waits for the byte after it,
 * which says whether the number goes on), which waits for the next piece.
 * A placeholder or surrogate split anywhere, inside its 3-byte brackets
 * too, is restored exactly once; a surrogate only as a whole run of
 * digits.
 */
struct pii_restorer {
	const struct pii_out *po;
	int json;
	int dead; /* the last byte was a letter, or a digit of a run that is
		     no surrogate */
	int esc; /* json: bytes of a backslash escape still to come */
	char hold[PII_OUT_PH_MAX];
	size_t nhold;
};

void pii_restorer_init(
    struct pii_restorer *r, const struct pii_out *po, int json) RELAY_NONNULL;
/* Append to out what of the n bytes at p (after the held tail) can go. */
enum relay_err pii_restorer_feed(struct pii_restorer *r, const char *p,
    size_t n, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;
/* The text ended: the held tail goes out as it is. */
enum relay_err pii_restorer_flush(
    struct pii_restorer *r, struct buf *out) RELAY_MUST_CHECK RELAY_NONNULL;

struct pii_stream;

/*
 * The restore of a normalised answer stream (ir.h), put between the
 * normaliser and the client's encoder (dialect_stream_hook()): text,
 * thinking and tool-argument deltas restored per block; a text block
 * that ends on the start of a placeholder hands that tail to the next
 * text block (its stop goes out first), or, when none follows, lets it
 * out before its stop. NULL when memory is short.
 */
struct pii_stream *pii_stream_new(const struct pii_out *po) RELAY_MUST_CHECK;
void pii_stream_free(void *ps);
/* The hook: ev restored, passed on to next(next_arg, ...). */
enum relay_err pii_stream_event(void *ps, const struct ir_sev *ev,
    ir_sev_fn next, void *next_arg) RELAY_MUST_CHECK;

#endif
