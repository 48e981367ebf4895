/* SPDX-License-Identifier: MIT */
/* wordfilter.h - content filter: word lists matched in one pass by an
 * Aho-Corasick automaton over case-folded UTF-8, whole texts or streams. */
#ifndef RELAY_WORDFILTER_H
#define RELAY_WORDFILTER_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"

/* A word list file: bytes, over it the load fails. */
#define WORDFILTER_FILE_MAX (8u * 1024 * 1024)
/* One word after folding: bytes; longer lines fail the load. */
#define WORDFILTER_WORD_MAX 256
/* Words over all files: count, over it the load fails. */
#define WORDFILTER_WORDS_MAX 500000
/* Bytes a stream holds at most besides the hold-back: one piece. */
#define WORDFILTER_PIECE_MAX (4u * 1024 * 1024)

struct wordfilter;
struct wordfilter_stream;

/* What a stream does with a match. */
enum wordfilter_action {
	WORDFILTER_MASK, /* emit the match as one '*' per code point */
	WORDFILTER_STOP, /* emit the text before the match, then nothing */
	WORDFILTER__MAX
};

/*
 * Build a filter from the word list files paths[0..n) (UTF-8, one word
 * per line, leading and trailing blanks ignored, empty lines and lines
 * starting with '#' skipped). Words are folded like text: ASCII letters to
 * lower case, full-width ASCII (U+FF01-U+FF5E) to ASCII. Matching is by
 * substring, with no word boundaries (CJK text has none). Returns the
 * filter (free with wordfilter_free()), or NULL with the reason, naming
 * the file and line, in errbuf: a file that cannot be read or is over
 * WORDFILTER_FILE_MAX, a word that is not UTF-8 or is over
 * WORDFILTER_WORD_MAX, too many words, or out of memory. A filter with no
 * words matches nothing.
 */
struct wordfilter *wordfilter_load(const char *const *paths, size_t n,
    char *errbuf, size_t errsz) RELAY_MUST_CHECK;

/*
 * Drop the caller's reference; the filter is freed when no stream holds
 * it any more, so a reloaded filter can replace this one while streams
 * started on it finish. wf may be NULL. Thread-safe.
 */
void wordfilter_free(struct wordfilter *wf);

/* Take another reference on wf (dropped with wordfilter_free()); wf. */
struct wordfilter *wordfilter_ref(struct wordfilter *wf) RELAY_NONNULL;

/* Number of distinct words loaded. */
size_t wordfilter_count(const struct wordfilter *wf) RELAY_NONNULL;

/*
 * 1 when any of paths[0..n) is not the file that wf was loaded from
 * (appeared, vanished, other inode, size or mtime, or another count of
 * paths); 0 otherwise. One stat(2) per path: rate-limit the calls.
 */
int wordfilter_changed(const struct wordfilter *wf, const char *const *paths,
    size_t n) RELAY_NONNULL;

/*
 * Find the match that ends first in the n bytes at p (the longest of the
 * words ending there). 1 with its byte offset and length in *at and *len
 * (whole code points), 0 when the text is clean. Allocates nothing.
 */
int wordfilter_match(const struct wordfilter *wf, const char *p, size_t n,
    size_t *at, size_t *len) RELAY_NONNULL;

/*
 * Append to out the n bytes at p with every match, overlapping ones
 * merged, replaced by one '*' per code point. RELAY_OK, or RELAY_ETOOBIG /
 * RELAY_ENOMEM from out or from the working copy.
 */
enum relay_err wordfilter_mask(const struct wordfilter *wf, const char *p,
    size_t n, struct buf *out) RELAY_MUST_CHECK;

/*
 * Start filtering a text that arrives in pieces. Takes a reference on wf,
 * which stays valid until wordfilter_stream_free(). NULL when memory is
 * short.
 */
struct wordfilter_stream *wordfilter_stream_new(
    struct wordfilter *wf, enum wordfilter_action action) RELAY_MUST_CHECK;

/* Release ws and its reference on the filter; ws may be NULL. */
void wordfilter_stream_free(struct wordfilter_stream *ws);

/*
 * Filter the next n bytes (any piece boundaries, even inside a UTF-8
 * sequence). Appends to emit all the text that no later piece can turn
 * into part of a match, and holds back only the rest: the longest suffix
 * that is still a proper prefix of some word (at most longest word - 1
 * folded bytes, whole code points) plus an unfinished UTF-8 sequence.
 * A match split across pieces is caught. *matched is set to 1 when this
 * call found a match (and left alone otherwise). With WORDFILTER_STOP
 * the text before the first match is emitted and nothing after it, now or
 * later. RELAY_OK; RELAY_ETOOBIG when n is over WORDFILTER_PIECE_MAX or
 * emit is full, RELAY_ENOMEM; after an error the stream is unusable.
 */
enum relay_err wordfilter_stream_feed(struct wordfilter_stream *ws,
    const char *p, size_t n, struct buf *emit, int *matched) RELAY_MUST_CHECK;

/*
 * End of text: emit what was held back (an unfinished UTF-8 sequence as
 * is) and make ws ready for a new text. Errors as wordfilter_stream_feed().
 */
enum relay_err wordfilter_stream_flush(
    struct wordfilter_stream *ws, struct buf *emit) RELAY_MUST_CHECK;

#endif
