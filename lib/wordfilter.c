/* SPDX-License-Identifier: MIT */
/* wordfilter.c - word lists compiled into an Aho-Corasick automaton over
 * folded UTF-8 bytes; whole-text masking and a streaming matcher that
 * holds back only what a later piece could still turn into a match. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "wordfilter.h"

#define WF_ROOT 0u
#define WF_RING (WORDFILTER_WORD_MAX + 1)

struct wf_file {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
};

/*
 * The automaton: states are trie nodes over folded bytes; edges are kept
 * per state sorted by byte (CSR: efirst[s] .. efirst[s + 1]).
 */
struct wordfilter {
	atomic_uint refs;
	uint32_t nstates;
	uint32_t *fail; /* longest proper suffix that is a trie node */
	uint16_t *depth; /* bytes from the root */
	uint16_t *outlen; /* longest word that is a suffix here, 0: none */
	uint16_t *hold; /* longest suffix that can still grow into a word */
	uint32_t *efirst;
	uint8_t *ebyte;
	uint32_t *eto;
	size_t nwords;
	size_t maxlen; /* longest word, folded bytes */
	size_t nfiles;
	struct wf_file *files;
};

/* Scanner state shared by match, mask and streams. */
struct wf_scan {
	uint32_t state;
	uint64_t fpos; /* folded bytes consumed */
	uint64_t ring[WF_RING]; /* unit start (input offset) per folded byte */
	uint64_t steps; /* automaton transitions taken, for the tests */
};

struct wordfilter_stream {
	struct wordfilter *wf;
	enum wordfilter_action action;
	int stopped;
	struct wf_scan sc;
	struct buf pend; /* input bytes from offset base on, not yet emitted */
	struct buf flag; /* one per pend byte: 1 when masked */
	uint64_t base;
	size_t scanned; /* bytes of pend fed to the automaton (whole units) */
	uint64_t cover_start; /* [cover_start, cover_end): the masked run */
	uint64_t cover_end; /* that ends last */
};

/* --- UTF-8 units and folding -------------------------------------------- */

/*
 * Length of the unit at p: a whole UTF-8 sequence (RFC 3629 §3 lead and
 * continuation bytes), or 1 for a byte that does not start one. 0 when
 * the sequence is cut by the end of the data and more may follow.
 */
static size_t
wf_unit(const unsigned char *p, size_t n, int final)
{
	size_t k, i;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 1;
	k = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	for (i = 1; i < k; i++) {
		if (i >= n)
			return final ? 1 : 0;
		if ((p[i] & 0xc0) != 0x80)
			return 1;
	}
	return k;
}

/* Fold one unit into out (up to 4 bytes): ASCII to lower case, U+FF01 to
 * U+FF5E (full-width ASCII) to ASCII; returns the folded length. */
static size_t
wf_fold(const unsigned char *u, size_t k, unsigned char *out)
{
	unsigned cp;

	if (k == 1) {
		out[0] = u[0] >= 'A' && u[0] <= 'Z' ? u[0] + 32 : u[0];
		return 1;
	}
	if (k == 3 && u[0] == 0xef) {
		cp =
		    (u[0] & 0x0fu) << 12 | (u[1] & 0x3fu) << 6 | (u[2] & 0x3fu);
		if (cp >= 0xff01 && cp <= 0xff5e) {
			cp -= 0xfee0;
			out[0] =
			    (unsigned char)(cp >= 'A' && cp <= 'Z' ? cp + 32
								   : cp);
			return 1;
		}
	}
	memcpy(out, u, k);
	return k;
}

/* RFC 3629 §4: well-formed (no overlongs, surrogates, or > U+10FFFF). */
static int
wf_utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0, k;
	unsigned cp;

	while (i < n) {
		k = wf_unit(p + i, n - i, 1);
		if (k == 1 && p[i] >= 0x80)
			return 0;
		cp = k == 1  ? p[i]
		    : k == 2 ? (p[i] & 0x1fu) << 6 | (p[i + 1] & 0x3fu)
		    : k == 3 ? (p[i] & 0x0fu) << 12 | (p[i + 1] & 0x3fu) << 6 |
			(p[i + 2] & 0x3fu)
			     : (p[i] & 0x07u) << 18 | (p[i + 1] & 0x3fu) << 12 |
			(p[i + 2] & 0x3fu) << 6 | (p[i + 3] & 0x3fu);
		if ((k == 3 &&
			(cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += k;
	}
	return 1;
}

/* --- the automaton at run time ------------------------------------------ */

static int
wf_edge(const struct wordfilter *wf, uint32_t s, unsigned char b, uint32_t *to)
{
	uint32_t lo = wf->efirst[s], hi = wf->efirst[s + 1], mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (wf->ebyte[mid] == b) {
			*to = wf->eto[mid];
			return 1;
		}
		if (wf->ebyte[mid] < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static void
wf_goto(const struct wordfilter *wf, struct wf_scan *sc, unsigned char b)
{
	uint32_t s = sc->state, to;

	for (;;) {
		sc->steps++;
		if (wf_edge(wf, s, b, &to)) {
			sc->state = to;
			return;
		}
		if (s == WF_ROOT) {
			sc->state = WF_ROOT;
			return;
		}
		s = wf->fail[s];
	}
}

/*
 * Feed one unit that starts at input offset at. Returns the length in
 * folded bytes of the longest word ending with it (0: none) and its input
 * offset in *mstart.
 */
static size_t
wf_step(const struct wordfilter *wf, struct wf_scan *sc, const unsigned char *u,
    size_t k, uint64_t at, uint64_t *mstart)
{
	unsigned char f[4];
	size_t fk = wf_fold(u, k, f), i, best = 0, len;

	for (i = 0; i < fk; i++) {
		sc->ring[sc->fpos % WF_RING] = at;
		sc->fpos++;
		wf_goto(wf, sc, f[i]);
		len = wf->outlen[sc->state];
		if (len > best) {
			best = len;
			*mstart = sc->ring[(sc->fpos - len) % WF_RING];
		}
	}
	return best;
}

int
wordfilter_match(const struct wordfilter *wf, const char *p, size_t n,
    size_t *at, size_t *len)
{
	const unsigned char *u = (const unsigned char *)p;
	struct wf_scan sc;
	uint64_t ms = 0;
	size_t i = 0, k;

	sc.state = WF_ROOT;
	sc.fpos = 0;
	sc.steps = 0;
	while (i < n) {
		k = wf_unit(u + i, n - i, 1);
		if (wf_step(wf, &sc, u + i, k, i, &ms) > 0) {
			*at = (size_t)ms;
			*len = i + k - (size_t)ms;
			return 1;
		}
		i += k;
	}
	return 0;
}

/* --- streams ------------------------------------------------------------ */

static void
wf_stream_init(struct wordfilter_stream *ws, struct wordfilter *wf,
    enum wordfilter_action action, size_t max)
{
	memset(ws, 0, sizeof(*ws));
	ws->wf = wf;
	ws->action = action;
	buf_init(&ws->pend, max);
	buf_init(&ws->flag, max);
}

static void
wf_stream_restart(struct wordfilter_stream *ws)
{
	buf_clear(&ws->pend);
	buf_clear(&ws->flag);
	ws->stopped = 0;
	ws->sc.state = WF_ROOT;
	ws->sc.fpos = 0;
	ws->base = 0;
	ws->scanned = 0;
	ws->cover_start = 0;
	ws->cover_end = 0;
}

static void
wf_flags(struct wordfilter_stream *ws, uint64_t from, uint64_t to)
{
	if (from < ws->base)
		from = ws->base;
	if (to > from)
		memset(ws->flag.data + (from - ws->base), 1, to - from);
}

/*
 * Mark [s, e) as masked. Matches come in order of their end; the run that
 * ends last is kept as [cover_start, cover_end) so that each byte is
 * marked at most twice however many words overlap.
 */
static void
wf_cover(struct wordfilter_stream *ws, uint64_t s, uint64_t e)
{
	if (s <= ws->cover_end && ws->cover_end != 0) {
		if (s < ws->cover_start)
			wf_flags(ws, s, ws->cover_start);
		if (e > ws->cover_end)
			wf_flags(ws, ws->cover_end, e);
		if (s < ws->cover_start)
			ws->cover_start = s;
		if (e > ws->cover_end)
			ws->cover_end = e;
		return;
	}
	wf_flags(ws, s, e);
	ws->cover_start = s;
	ws->cover_end = e;
}

/* Append pend[0, upto) to emit, each masked unit as one '*'; drop it. */
static enum relay_err
wf_emit(struct wordfilter_stream *ws, size_t upto, struct buf *emit)
{
	const unsigned char *u = (const unsigned char *)ws->pend.data;
	size_t i = 0, run = 0, k;
	enum relay_err err = RELAY_OK;

	while (i < upto && err == RELAY_OK) {
		k = wf_unit(u + i, upto - i, 1);
		if (ws->flag.data[i] != 0) {
			err = buf_append(emit, u + run, i - run);
			if (err == RELAY_OK)
				err = buf_append(emit, "*", 1);
			run = i + k;
		}
		i += k;
	}
	if (err == RELAY_OK)
		err = buf_append(emit, u + run, upto - run);
	if (err != RELAY_OK)
		return err;
	buf_consume(&ws->pend, upto);
	buf_consume(&ws->flag, upto);
	ws->base += upto;
	ws->scanned -= upto;
	return RELAY_OK;
}

/* WORDFILTER_STOP: emit what precedes the match at ms, then go quiet. */
static enum relay_err
wf_stop(struct wordfilter_stream *ws, uint64_t ms, struct buf *emit)
{
	enum relay_err err;

	err = buf_append(emit, ws->pend.data, (size_t)(ms - ws->base));
	buf_clear(&ws->pend);
	buf_clear(&ws->flag);
	ws->scanned = 0;
	ws->stopped = 1;
	return err;
}

/* Run the automaton over the whole units of pend not yet scanned. */
static enum relay_err
wf_scan_pend(
    struct wordfilter_stream *ws, int final, struct buf *emit, int *matched)
{
	const unsigned char *u = (const unsigned char *)ws->pend.data;
	uint64_t ms = 0, at;
	size_t k, len;

	while (ws->scanned < ws->pend.len) {
		k = wf_unit(u + ws->scanned, ws->pend.len - ws->scanned, final);
		if (k == 0)
			break;
		at = ws->base + ws->scanned;
		len = wf_step(ws->wf, &ws->sc, u + ws->scanned, k, at, &ms);
		ws->scanned += k;
		if (len == 0)
			continue;
		*matched = 1;
		if (ws->action == WORDFILTER_STOP)
			return wf_stop(ws, ms, emit);
		wf_cover(ws, ms, at + k);
	}
	return RELAY_OK;
}

/* Where the text that no later piece can change ends (input offset). */
static uint64_t
wf_safe_end(const struct wordfilter_stream *ws)
{
	size_t hold = ws->wf->hold[ws->sc.state];

	if (hold == 0)
		return ws->base + ws->scanned;
	return ws->sc.ring[(ws->sc.fpos - hold) % WF_RING];
}

static enum relay_err
wf_feed(struct wordfilter_stream *ws, const char *p, size_t n, int final,
    struct buf *emit, int *matched)
{
	enum relay_err err;
	char *tail;

	if (ws->stopped)
		return RELAY_OK;
	err = buf_append(&ws->pend, p, n);
	if (err != RELAY_OK)
		return err;
	err = buf_extend(&ws->flag, n, &tail);
	if (err != RELAY_OK) {
		buf_truncate(&ws->pend, ws->pend.len - n);
		return err;
	}
	if (n > 0)
		memset(tail, 0, n);
	err = wf_scan_pend(ws, final, emit, matched);
	if (err != RELAY_OK || ws->stopped)
		return err;
	return wf_emit(ws,
	    final ? ws->pend.len : (size_t)(wf_safe_end(ws) - ws->base), emit);
}

struct wordfilter *
wordfilter_ref(struct wordfilter *wf)
{
	atomic_fetch_add(&wf->refs, 1);
	return wf;
}

struct wordfilter_stream *
wordfilter_stream_new(struct wordfilter *wf, enum wordfilter_action action)
{
	struct wordfilter_stream *ws;

	ws = mem_malloc(sizeof(*ws));
	if (ws == NULL)
		return NULL;
	wf_stream_init(
	    ws, wf, action, WORDFILTER_PIECE_MAX + 4 * WORDFILTER_WORD_MAX + 4);
	atomic_fetch_add(&wf->refs, 1);
	return ws;
}

void
wordfilter_stream_free(struct wordfilter_stream *ws)
{
	if (ws == NULL)
		return;
	buf_reset(&ws->pend);
	buf_reset(&ws->flag);
	wordfilter_free(ws->wf);
	mem_free(ws);
}

enum relay_err
wordfilter_stream_feed(struct wordfilter_stream *ws, const char *p, size_t n,
    struct buf *emit, int *matched)
{
	if (n > WORDFILTER_PIECE_MAX)
		return RELAY_ETOOBIG;
	return wf_feed(ws, p, n, 0, emit, matched);
}

enum relay_err
wordfilter_stream_flush(struct wordfilter_stream *ws, struct buf *emit)
{
	enum relay_err err;
	int matched = 0;

	err = wf_feed(ws, "", 0, 1, emit, &matched);
	wf_stream_restart(ws);
	return err;
}

enum relay_err
wordfilter_mask(
    const struct wordfilter *wf, const char *p, size_t n, struct buf *out)
{
	struct wordfilter_stream ws;
	enum relay_err err;
	int matched = 0;

	/* The stream only reads the filter: the cast drops no promise. */
	wf_stream_init(&ws, (struct wordfilter *)wf, WORDFILTER_MASK, n);
	err = wf_feed(&ws, p, n, 1, out, &matched);
	buf_reset(&ws.pend);
	buf_reset(&ws.flag);
	return err;
}

/* --- loading ------------------------------------------------------------ */

/* The trie while it is built: (parent, byte) -> child in a hash table. */
struct wf_build {
	uint64_t *keys; /* (parent << 8 | byte) + 1; 0: empty slot */
	uint32_t *vals;
	size_t cap; /* power of two */
	uint32_t n; /* states so far */
	uint8_t *term;
	uint16_t *depth;
};

static void
wf_err(
    char *errbuf, size_t errsz, const char *path, size_t line, const char *what)
{
	if (line != 0)
		snprintf(errbuf, errsz, "%s:%zu: %s", path, line, what);
	else
		snprintf(errbuf, errsz, "%s: %s", path, what);
}

/* Append the file at path to out (ceiling WORDFILTER_FILE_MAX) and note
 * what it was in f. */
static enum relay_err
wf_read_file(const char *path, struct buf *out, struct wf_file *f, char *errbuf,
    size_t errsz)
{
	struct stat st;
	char tmp[65536];
	ssize_t r;
	int fd;
	enum relay_err err = RELAY_OK;

	/* O_NONBLOCK: a FIFO named by mistake must not hang the load. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		wf_err(errbuf, errsz, path, 0, strerror(errno));
		if (fd >= 0)
			close(fd);
		return RELAY_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		wf_err(errbuf, errsz, path, 0, "not a regular file");
		close(fd);
		return RELAY_EIO;
	}
	f->exists = 1;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtim = st.st_mtim;
	for (;;) {
		r = read(fd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				err = RELAY_EIO;
			break;
		}
		err = buf_append(out, tmp, (size_t)r);
		if (err != RELAY_OK)
			break;
	}
	close(fd);
	if (err != RELAY_OK)
		wf_err(errbuf, errsz, path, 0,
		    err == RELAY_ETOOBIG ? "file too large" : err_name(err));
	return err;
}

/* Fold a line into a word appended to words as [u16 length][bytes]. */
static enum relay_err
wf_add_word(const unsigned char *p, size_t n, struct buf *words, size_t *total)
{
	unsigned char w[WORDFILTER_WORD_MAX + 4];
	uint16_t len = 0;
	size_t i = 0, k, fk;
	enum relay_err err;

	if (!wf_utf8_ok(p, n))
		return RELAY_EINVAL;
	while (i < n) {
		k = wf_unit(p + i, n - i, 1);
		fk = wf_fold(p + i, k, w + len);
		if (len + fk > WORDFILTER_WORD_MAX)
			return RELAY_ETOOBIG;
		len = (uint16_t)(len + fk);
		i += k;
	}
	err = buf_append(words, &len, sizeof(len));
	if (err == RELAY_OK)
		err = buf_append(words, w, len);
	*total += len;
	return err;
}

static int
wf_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Every word of one file's text into words. */
static enum relay_err
wf_parse(const char *path, const struct buf *text, struct buf *words,
    size_t *count, size_t *total, char *errbuf, size_t errsz)
{
	const char *p = text->data, *end, *nl, *a, *z;
	size_t line = 0;
	enum relay_err err;

	if (text->len == 0) /* data may be NULL: no arithmetic on it */
		return RELAY_OK;
	end = p + text->len;
	while (p != NULL && p < end) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		a = p;
		z = nl != NULL ? nl : end;
		p = nl != NULL ? nl + 1 : NULL;
		while (a < z && wf_blank(*a))
			a++;
		while (z > a && wf_blank(z[-1]))
			z--;
		if (a == z || *a == '#')
			continue;
		if (++*count > WORDFILTER_WORDS_MAX) {
			wf_err(errbuf, errsz, path, line, "too many words");
			return RELAY_ETOOBIG;
		}
		err = wf_add_word(
		    (const unsigned char *)a, (size_t)(z - a), words, total);
		if (err != RELAY_OK) {
			wf_err(errbuf, errsz, path, line,
			    err == RELAY_EINVAL        ? "not UTF-8"
				: err == RELAY_ETOOBIG ? "word too long"
						       : err_name(err));
			return err;
		}
	}
	return RELAY_OK;
}

static size_t
wf_slot(const struct wf_build *b, uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (b->cap - 1);

	while (b->keys[i] != 0 && b->keys[i] != key)
		i = (i + 1) & (b->cap - 1);
	return i;
}

static void
wf_insert(struct wf_build *b, const unsigned char *w, size_t len)
{
	uint32_t s = WF_ROOT;
	uint64_t key;
	size_t i, slot;

	for (i = 0; i < len; i++) {
		key = ((uint64_t)s << 8 | w[i]) + 1;
		slot = wf_slot(b, key);
		if (b->keys[slot] == 0) {
			b->keys[slot] = key;
			b->vals[slot] = b->n;
			b->depth[b->n] = (uint16_t)(i + 1);
			b->n++;
		}
		s = b->vals[slot];
	}
	b->term[s] = 1;
}

/* Sort the edges of one state by byte (insertion sort: at most 256). */
static void
wf_sort_edges(struct wordfilter *wf, uint32_t s)
{
	uint32_t i, j, to;
	uint8_t b;

	for (i = wf->efirst[s] + 1; i < wf->efirst[s + 1]; i++) {
		b = wf->ebyte[i];
		to = wf->eto[i];
		for (j = i; j > wf->efirst[s] && wf->ebyte[j - 1] > b; j--) {
			wf->ebyte[j] = wf->ebyte[j - 1];
			wf->eto[j] = wf->eto[j - 1];
		}
		wf->ebyte[j] = b;
		wf->eto[j] = to;
	}
}

/* The hash table's edges as CSR arrays sorted by (state, byte). */
static void
wf_edges(struct wordfilter *wf, const struct wf_build *b)
{
	uint32_t *cur = wf->fail; /* free until the BFS: fill cursors */
	uint32_t s, parent;
	size_t i;

	for (i = 0; i < b->cap; i++)
		if (b->keys[i] != 0)
			wf->efirst[((b->keys[i] - 1) >> 8) + 1]++;
	for (s = 0; s < b->n; s++) {
		wf->efirst[s + 1] += wf->efirst[s];
		cur[s] = wf->efirst[s];
	}
	for (i = 0; i < b->cap; i++) {
		if (b->keys[i] == 0)
			continue;
		parent = (uint32_t)((b->keys[i] - 1) >> 8);
		wf->ebyte[cur[parent]] = (uint8_t)((b->keys[i] - 1) & 0xff);
		wf->eto[cur[parent]++] = b->vals[i];
	}
	for (s = 0; s < b->n; s++)
		wf_sort_edges(wf, s);
}

/* Failure links, outputs and hold-back breadth first (Aho and Corasick,
 * CACM 18(6), 1975, algorithm 3), parents before children. */
static void
wf_links(struct wordfilter *wf, const struct wf_build *b, uint32_t *queue)
{
	uint32_t head = 0, tail = 1, s, c, f, to, e;

	queue[0] = WF_ROOT;
	wf->fail[WF_ROOT] = WF_ROOT;
	while (head < tail) {
		s = queue[head++];
		for (e = wf->efirst[s]; e < wf->efirst[s + 1]; e++) {
			c = wf->eto[e];
			f = s == WF_ROOT ? WF_ROOT : wf->fail[s];
			to = WF_ROOT;
			while (s != WF_ROOT &&
			    !wf_edge(wf, f, wf->ebyte[e], &to)) {
				if (f == WF_ROOT) {
					to = WF_ROOT;
					break;
				}
				f = wf->fail[f];
			}
			wf->fail[c] = to;
			wf->outlen[c] =
			    b->term[c] ? wf->depth[c] : wf->outlen[to];
			wf->hold[c] = wf->efirst[c + 1] > wf->efirst[c]
			    ? wf->depth[c]
			    : wf->hold[to];
			queue[tail++] = c;
		}
	}
}

static void
wf_destroy(struct wordfilter *wf)
{
	if (wf == NULL)
		return;
	mem_free(wf->fail);
	mem_free(wf->depth);
	mem_free(wf->outlen);
	mem_free(wf->hold);
	mem_free(wf->efirst);
	mem_free(wf->ebyte);
	mem_free(wf->eto);
	mem_free(wf->files);
	mem_free(wf);
}

/* Build the automaton from words ([u16 length][bytes] each). */
static enum relay_err
wf_compile(struct wordfilter *wf, const struct buf *words, size_t total)
{
	struct wf_build b = {NULL, NULL, 16, 1, NULL, NULL};
	uint32_t *queue = NULL, s;
	size_t off = 0, n = total + 1;
	uint16_t len;
	enum relay_err err = RELAY_ENOMEM;

	while (b.cap < 2 * n)
		b.cap *= 2;
	b.keys = mem_calloc(b.cap, sizeof(*b.keys));
	b.vals = mem_calloc(b.cap, sizeof(*b.vals));
	b.term = mem_calloc(n, 1);
	b.depth = mem_calloc(n, sizeof(*b.depth));
	if (b.keys == NULL || b.vals == NULL || b.term == NULL ||
	    b.depth == NULL)
		goto out;
	while (off < words->len) {
		memcpy(&len, words->data + off, sizeof(len));
		wf_insert(
		    &b, (const unsigned char *)words->data + off + 2, len);
		off += 2 + len;
		if (len > wf->maxlen)
			wf->maxlen = len;
	}
	wf->nstates = b.n;
	wf->fail = mem_calloc(b.n, sizeof(*wf->fail));
	wf->outlen = mem_calloc(b.n, sizeof(*wf->outlen));
	wf->hold = mem_calloc(b.n, sizeof(*wf->hold));
	wf->efirst = mem_calloc(b.n + 1, sizeof(*wf->efirst));
	wf->ebyte = mem_calloc(b.n, 1);
	wf->eto = mem_calloc(b.n, sizeof(*wf->eto));
	queue = mem_calloc(b.n, sizeof(*queue));
	if (wf->fail == NULL || wf->outlen == NULL || wf->hold == NULL ||
	    wf->efirst == NULL || wf->ebyte == NULL || wf->eto == NULL ||
	    queue == NULL)
		goto out;
	wf->depth = b.depth;
	b.depth = NULL;
	wf_edges(wf, &b);
	wf_links(wf, &b, queue);
	for (s = 0; s < b.n; s++)
		wf->nwords += b.term[s];
	err = RELAY_OK;
out:
	mem_free(queue);
	mem_free(b.keys);
	mem_free(b.vals);
	mem_free(b.term);
	mem_free(b.depth);
	return err;
}

/* Read and parse every file into words. */
static enum relay_err
wf_read_all(struct wordfilter *wf, const char *const *paths, size_t n,
    struct buf *words, size_t *total, char *errbuf, size_t errsz)
{
	struct buf text;
	size_t i, count = 0;
	enum relay_err err = RELAY_OK;

	for (i = 0; i < n && err == RELAY_OK; i++) {
		buf_init(&text, WORDFILTER_FILE_MAX);
		err =
		    wf_read_file(paths[i], &text, &wf->files[i], errbuf, errsz);
		if (err == RELAY_OK)
			err = wf_parse(paths[i], &text, words, &count, total,
			    errbuf, errsz);
		buf_reset(&text);
	}
	return err;
}

struct wordfilter *
wordfilter_load(const char *const *paths, size_t n, char *errbuf, size_t errsz)
{
	struct wordfilter *wf;
	struct buf words;
	size_t total = 0;
	enum relay_err err = RELAY_ENOMEM;

	buf_init(&words, (size_t)WORDFILTER_WORDS_MAX * 64);
	snprintf(errbuf, errsz, "out of memory");
	wf = mem_calloc(1, sizeof(*wf));
	if (wf == NULL)
		goto out;
	atomic_init(&wf->refs, 1);
	wf->nfiles = n;
	wf->files = mem_calloc(n > 0 ? n : 1, sizeof(*wf->files));
	if (wf->files == NULL)
		goto out;
	err = wf_read_all(wf, paths, n, &words, &total, errbuf, errsz);
	if (err == RELAY_OK)
		err = wf_compile(wf, &words, total);
	if (err == RELAY_ENOMEM)
		snprintf(errbuf, errsz, "out of memory");
out:
	buf_reset(&words);
	if (err != RELAY_OK) {
		wf_destroy(wf);
		return NULL;
	}
	return wf;
}

void
wordfilter_free(struct wordfilter *wf)
{
	if (wf != NULL && atomic_fetch_sub(&wf->refs, 1) == 1)
		wf_destroy(wf);
}

size_t
wordfilter_count(const struct wordfilter *wf)
{
	return wf->nwords;
}

int
wordfilter_changed(
    const struct wordfilter *wf, const char *const *paths, size_t n)
{
	struct stat st;
	const struct wf_file *f;
	size_t i;

	if (n != wf->nfiles)
		return 1;
	for (i = 0; i < n; i++) {
		f = &wf->files[i];
		if (stat(paths[i], &st) != 0)
			return 1;
		if (st.st_dev != f->dev || st.st_ino != f->ino ||
		    st.st_size != f->size ||
		    st.st_mtim.tv_sec != f->mtim.tv_sec ||
		    st.st_mtim.tv_nsec != f->mtim.tv_nsec)
			return 1;
	}
	return 0;
}
