/* SPDX-License-Identifier: MIT */
/* pii_out.c - outbound protection: the request's texts rewritten by the
 * policy, the mapping kept in the request's memory, the answer restored
 * whole or in pieces. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "filter.h"
#include "jsonx.h"
#include "mem.h"
#include "pii_out.h"
#include "wordfilter.h"

/* The placeholder brackets U+27E6 and U+27E7, 3 bytes each in UTF-8. */
static const char ph_open[] = "\xE2\x9F\xA6";
static const char ph_close[] = "\xE2\x9F\xA7";
#define PH_BRACKET 3
#define PH_TAG_MAX 5
#define PH_DIGITS_MAX 6

static const char *const ent_names[PII_ENT__MAX] = {
    "phone", "id", "card", "email", "term", "name", "address"};
static const char *const ent_tags[PII_ENT__MAX] = {
    "PHONE", "ID", "CARD", "EMAIL", "TERM", "NAME", "ADDR"};
static const char *const act_names[PII_ACT__MAX] = {
    "off", "mask", "pseudonymise", "block"};

const char *
pii_entity_name(enum pii_entity e)
{
	return (unsigned)e < PII_ENT__MAX ? ent_names[e] : "?";
}

const char *
pii_entity_tag(enum pii_entity e)
{
	return (unsigned)e < PII_ENT__MAX ? ent_tags[e] : "?";
}

const char *
pii_action_name(enum pii_action a)
{
	return (unsigned)a < PII_ACT__MAX ? act_names[a] : "?";
}

void
pii_out_init(struct pii_out *po, const struct config_pii *pol,
    const struct wordfilter *terms)
{
	memset(po, 0, sizeof(*po));
	po->pol = *pol;
	po->terms = terms;
}

void
pii_out_reset(struct pii_out *po)
{
	size_t i;

	for (i = 0; i < po->nmap; i++) {
		/* The originals must not outlive the request in freed
		 * memory either. */
		memset(po->map[i].orig, 0, po->map[i].len);
		mem_free(po->map[i].orig);
	}
	mem_free(po->map);
	po->map = NULL;
	po->nmap = po->capmap = po->nsur = 0;
	for (i = 0; i < po->nfound; i++) {
		memset(po->found[i].orig, 0, po->found[i].len);
		mem_free(po->found[i].orig);
	}
	mem_free(po->found);
	po->found = NULL;
	po->nfound = po->capfound = 0;
}

int
pii_out_on(const struct pii_out *po)
{
	size_t i;

	for (i = 0; i < PII_ENT__MAX; i++)
		if (po->pol.act[i] != PII_ACT_OFF)
			return 1;
	return 0;
}

int
pii_out_mapped(const struct pii_out *po)
{
	return po->nmap > 0;
}

/* --- finding ------------------------------------------------------------ */

struct hit {
	enum pii_entity type;
	size_t at, len;
};

struct hits {
	struct hit *v;
	size_t n, cap;
	enum relay_err err;
};

static int
hits_add(void *arg, enum pii_entity e, size_t at, size_t len)
{
	struct hits *h = arg;
	struct hit *nv;

	if (h->n == h->cap) {
		nv = mem_reallocarray(
		    h->v, h->cap > 0 ? 2 * h->cap : 16, sizeof(*nv));
		if (nv == NULL) {
			h->err = RELAY_ENOMEM;
			return 1;
		}
		h->v = nv;
		h->cap = h->cap > 0 ? 2 * h->cap : 16;
	}
	h->v[h->n++] = (struct hit){e, at, len};
	return 0;
}

/* a and b (each in order) into out, in order, never overlapping: of two
 * that overlap the one that starts first wins, then the longer, then a's;
 * kinds the policy leaves off are dropped. */
static void
merge(const struct pii_out *po, const struct hits *a, const struct hits *b,
    struct hits *out)
{
	size_t i = 0, j = 0, end = 0;
	const struct hit *h;

	while (out->err == RELAY_OK && (i < a->n || j < b->n)) {
		if (j >= b->n ||
		    (i < a->n &&
			(a->v[i].at < b->v[j].at ||
			    (a->v[i].at == b->v[j].at &&
				a->v[i].len >= b->v[j].len))))
			h = &a->v[i++];
		else
			h = &b->v[j++];
		if (po->pol.act[h->type] == PII_ACT_OFF ||
		    (out->n > 0 && h->at < end))
			continue;
		end = h->at + h->len;
		(void)hits_add(out, h->type, h->at, h->len);
	}
}

static int
ascii_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* A found value at p[at, at + len) of n bytes stands as a word of its
 * own: a value that begins (ends) with an ASCII letter or digit must not
 * have one before (after) it. */
static int
found_bounded(const char *p, size_t n, size_t at, size_t len)
{
	return (!ascii_alnum(p[at]) || at == 0 || !ascii_alnum(p[at - 1])) &&
	    (!ascii_alnum(p[at + len - 1]) || at + len >= n ||
		!ascii_alnum(p[at + len]));
}

static int
hit_cmp(const void *x, const void *y)
{
	const struct hit *a = x, *b = y;

	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->len > b->len ? -1 : a->len < b->len ? 1 : 0;
}

/* Every occurrence in p[0, n) of the values the detector found, in order
 * (the longer first where two start together). */
static void
find_found(const struct pii_out *po, const char *p, size_t n, struct hits *d)
{
	const struct pii_out_entry *f;
	const char *q;
	size_t i, pos;

	for (i = 0; i < po->nfound && d->err == RELAY_OK; i++) {
		f = &po->found[i];
		if (po->pol.act[f->type] == PII_ACT_OFF)
			continue;
		pos = 0;
		while (pos < n && d->err == RELAY_OK &&
		    (q = memmem(p + pos, n - pos, f->orig, f->len)) != NULL) {
			size_t at = (size_t)(q - p);

			if (found_bounded(p, n, at, f->len)) {
				(void)hits_add(d, f->type, at, f->len);
				pos = at + f->len;
			} else
				pos = at + 1;
		}
	}
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), hit_cmp);
}

/* The entities of p[0, n) that the policy acts on, in order, never
 * overlapping (a term inside a detected entity, or the other way round,
 * yields to the one that starts first, then to the longer). */
static enum relay_err
find(const struct pii_out *po, const char *p, size_t n, struct hits *out)
{
	struct hits a = {0}, t = {0}, m = {0}, d = {0};
	size_t pos = 0, at, len;

	(void)pii_scan(p, n, hits_add, &a);
	while (a.err == RELAY_OK && t.err == RELAY_OK && po->terms != NULL &&
	    po->pol.act[PII_ENT_TERM] != PII_ACT_OFF && pos < n &&
	    wordfilter_match(po->terms, p + pos, n - pos, &at, &len) &&
	    len > 0) {
		(void)hits_add(&t, PII_ENT_TERM, pos + at, len);
		pos += at + len;
	}
	if (po->nfound > 0 && a.err == RELAY_OK && t.err == RELAY_OK)
		find_found(po, p, n, &d);
	out->err = a.err != RELAY_OK ? a.err
	    : t.err != RELAY_OK      ? t.err
				     : d.err;
	if (out->err == RELAY_OK && d.n == 0)
		merge(po, &a, &t, out);
	else if (out->err == RELAY_OK) {
		/* The scanners' finds first: a detector's span that
		 * covers a number yields to it where both start. */
		merge(po, &a, &t, &m);
		out->err = m.err;
		if (out->err == RELAY_OK)
			merge(po, &m, &d, out);
	}
	mem_free(a.v);
	mem_free(t.v);
	mem_free(m.v);
	mem_free(d.v);
	return out->err;
}

enum relay_err
pii_out_found(struct pii_out *po, enum pii_entity e, const char *p, size_t n)
{
	struct pii_out_entry *nv, *en;
	size_t i;

	if ((unsigned)e >= PII_ENT__MAX || n == 0)
		return RELAY_EINVAL;
	for (i = 0; i < po->nfound; i++)
		if (po->found[i].len == n &&
		    memcmp(po->found[i].orig, p, n) == 0)
			return RELAY_OK;
	if (po->nfound >= PII_OUT_MAP_MAX)
		return RELAY_ETOOBIG;
	if (po->nfound == po->capfound) {
		nv = mem_reallocarray(po->found,
		    po->capfound > 0 ? 2 * po->capfound : 8, sizeof(*nv));
		if (nv == NULL)
			return RELAY_ENOMEM;
		po->found = nv;
		po->capfound = po->capfound > 0 ? 2 * po->capfound : 8;
	}
	en = &po->found[po->nfound];
	en->orig = mem_strndup(p, n);
	if (en->orig == NULL)
		return RELAY_ENOMEM;
	en->type = e;
	en->ord = 0;
	en->len = n;
	po->nfound++;
	return RELAY_OK;
}

/* --- surrogates ----------------------------------------------------------- */

/*
 * pii_protection.surrogates: a pseudonymised phone, ID or card goes out as
 * digits of its own shape, made from (kind, ord) alone, so the same
 * history gives the same surrogates in every request:
 *   phone  199 + 8 digits: a valid mainland mobile;
 *   id     region 100000 (no province is numbered 10), born 1 January
 *          19YY, a sequence, and a valid MOD 11-2 check digit (never 'X',
 *          so a surrogate is digits only); 15 digits for a 15-digit ID;
 *   card   as many digits as the card, IIN 200000 (below Mastercard's
 *          2221-2720, issued by no network), then digits and a Luhn
 *          check digit.
 * Each passes lib/pii.c's own checks, so one the client writes itself is
 * found and replaced like any number, and the sent text holds a surrogate
 * only where it stands for an original. A surrogate equal to an original
 * or another surrogate of the map is made again from the next seed.
 */
#define SUR_TRIES 16
#define SUR_STEP 100003u

static char
luhn_check(const char *d, size_t k)
{
	unsigned sum = 0, v;
	size_t i;

	/* With the check digit appended, every other digit from the
	 * right, starting with d[k - 1], is doubled. */
	for (i = 0; i < k; i++) {
		v = (unsigned)(d[k - 1 - i] - '0');
		if (i % 2 == 0)
			v = v * 2 > 9 ? v * 2 - 9 : v * 2;
		sum += v;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

static char
id18_check(const char *d)
{
	static const unsigned w[17] = {
	    7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	unsigned sum = 0;
	size_t i;

	for (i = 0; i < 17; i++)
		sum += w[i] * (unsigned)(d[i] - '0');
	return "10X98765432"[sum % 11];
}

/* The digits of p[0, n). */
static size_t
count_digits(const char *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += p[i] >= '0' && p[i] <= '9';
	return k;
}

/* The surrogate of kind e from seed into d (PII_OUT_SUR_MAX + 1 bytes);
 * its length, 0 when this seed makes none. */
static size_t
surrogate_of(enum pii_entity e, unsigned seed, size_t digits, char *d)
{
	unsigned long long m = 1;
	size_t i;

	switch (e) {
	case PII_ENT_PHONE:
		(void)snprintf(
		    d, PII_OUT_SUR_MAX + 1, "199%08u", seed % 100000000u);
		return 11;
	case PII_ENT_ID:
		if (digits <= 15) {
			(void)snprintf(d, PII_OUT_SUR_MAX + 1,
			    "100000%02u0101%03u", (seed / 1000) % 100,
			    seed % 1000);
			return 15;
		}
		(void)snprintf(d, PII_OUT_SUR_MAX + 1, "100000%04u0101%03u",
		    1900 + (seed / 1000) % 100, seed % 1000);
		d[17] = id18_check(d);
		return d[17] == 'X' ? 0 : 18;
	case PII_ENT_CARD:
		if (digits < 13 || digits > PII_OUT_SUR_MAX)
			return 0;
		for (i = 0; i < digits - 7; i++)
			m *= 10;
		(void)snprintf(d, PII_OUT_SUR_MAX + 1, "200000%0*llu",
		    (int)(digits - 7), (unsigned long long)seed % m);
		d[digits - 1] = luhn_check(d, digits - 1);
		return digits;
	default: return 0;
	}
}

/* 1 when d[0, k) is an original or a surrogate of the map. */
static int
sur_taken(const struct pii_out *po, const char *d, size_t k)
{
	size_t i;

	for (i = 0; i < po->nmap; i++)
		if ((po->map[i].len == k &&
			memcmp(po->map[i].orig, d, k) == 0) ||
		    (po->map[i].nsur == k && memcmp(po->map[i].sur, d, k) == 0))
			return 1;
	return 0;
}

/* en's surrogate, when one can be made (else it keeps its placeholder). */
static void
make_surrogate(const struct pii_out *po, struct pii_out_entry *en)
{
	char d[PII_OUT_SUR_MAX + 1];
	size_t k, digits = count_digits(en->orig, en->len);
	unsigned j;

	for (j = 0; j < SUR_TRIES; j++) {
		k = surrogate_of(en->type, en->ord + j * SUR_STEP, digits, d);
		if (k == 0 || (k == en->len && memcmp(d, en->orig, k) == 0) ||
		    sur_taken(po, d, k))
			continue;
		memcpy(en->sur, d, k);
		en->nsur = (unsigned char)k;
		return;
	}
}

/* --- placeholders ------------------------------------------------------- */

/* The entry for this original, or NULL. */
static const struct pii_out_entry *
lookup(const struct pii_out *po, enum pii_entity e, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < po->nmap; i++)
		if (po->map[i].type == e && po->map[i].len == n &&
		    memcmp(po->map[i].orig, p, n) == 0)
			return &po->map[i];
	return NULL;
}

/* A new entry for this original. NULL: *err says why. */
static const struct pii_out_entry *
entry_for(struct pii_out *po, enum pii_entity e, const char *p, size_t n,
    enum relay_err *err)
{
	struct pii_out_entry *nv, *en;

	if (po->nmap >= PII_OUT_MAP_MAX) {
		*err = RELAY_ETOOBIG;
		return NULL;
	}
	if (po->nmap == po->capmap) {
		nv = mem_reallocarray(
		    po->map, po->capmap > 0 ? 2 * po->capmap : 8, sizeof(*nv));
		if (nv == NULL) {
			*err = RELAY_ENOMEM;
			return NULL;
		}
		po->map = nv;
		po->capmap = po->capmap > 0 ? 2 * po->capmap : 8;
	}
	en = &po->map[po->nmap];
	en->orig = mem_strndup(p, n);
	if (en->orig == NULL) {
		*err = RELAY_ENOMEM;
		return NULL;
	}
	en->type = e;
	en->len = n;
	en->ord = ++po->next[e];
	en->nsur = 0;
	if (po->pol.surrogates && e <= PII_ENT_CARD)
		make_surrogate(po, en);
	po->nsur += en->nsur > 0;
	po->nmap++;
	return en;
}

/* The entry's placeholder, or its surrogate. */
static enum relay_err
put_placeholder(struct buf *out, const struct pii_out_entry *en)
{
	if (en->nsur > 0)
		return buf_append(out, en->sur, en->nsur);
	return buf_printf(
	    out, "%s%s_%u%s", ph_open, ent_tags[en->type], en->ord, ph_close);
}

/* A term masked as one '*' per code point, as the content filter does. */
static enum relay_err
mask_term(const char *p, size_t n, struct buf *out)
{
	enum relay_err err = RELAY_OK;
	size_t i;

	for (i = 0; i < n && err == RELAY_OK; i++)
		if (((unsigned char)p[i] & 0xC0) != 0x80)
			err = buf_append(out, "*", 1);
	return err;
}

/* pii_out_text(), but a text with nothing found is not copied: *found
 * says whether anything was (out then holds the whole rewritten text). */
static enum relay_err
text_rewrite(
    struct pii_out *po, const char *p, size_t n, struct buf *out, int *found)
{
	struct hits h = {0};
	const struct pii_out_entry *en;
	enum relay_err err;
	size_t i, from = 0;

	err = find(po, p, n, &h);
	*found = h.n > 0;
	if (err == RELAY_OK && h.n == 0)
		return RELAY_OK;
	for (i = 0; i < h.n && err == RELAY_OK; i++) {
		const struct hit *x = &h.v[i];
		enum pii_action act = po->pol.act[x->type];

		po->hits[x->type]++;
		if (act == PII_ACT_BLOCK && !po->frozen) {
			po->blocked |= 1u << x->type;
			continue;
		}
		err = buf_append(out, p + from, x->at - from);
		if (err != RELAY_OK)
			break;
		from = x->at + x->len;
		en = act == PII_ACT_PSEUDO
		    ? lookup(po, x->type, p + x->at, x->len)
		    : NULL;
		if (act == PII_ACT_PSEUDO && en == NULL && !po->frozen)
			en = entry_for(po, x->type, p + x->at, x->len, &err);
		if (en != NULL)
			err = put_placeholder(out, en);
		else if (err == RELAY_OK)
			/* Words (terms, names, addresses) have no shape
			 * to keep: one '*' per character. */
			err = x->type >= PII_ENT_TERM
			    ? mask_term(p + x->at, x->len, out)
			    : pii_mask(p + x->at, x->len, out);
	}
	if (err == RELAY_OK)
		err = buf_append(out, p + from, n - from);
	mem_free(h.v);
	return err;
}

enum relay_err
pii_out_text(struct pii_out *po, const char *p, size_t n, struct buf *out)
{
	enum relay_err err;
	int found;

	err = text_rewrite(po, p, n, out, &found);
	return err == RELAY_OK && !found ? buf_append(out, p, n) : err;
}

/* --- requests ----------------------------------------------------------- */

enum walk_mode { W_NONE, W_TEXT, W_ALL };

/* Members whose strings a provider reads as the conversation. */
static int
text_member(const char *k)
{
	static const char *const names[] = {"content", "text", "system",
	    "input", "prompt", "instructions", "arguments", "output",
	    "thinking", "reasoning_content", "refusal", NULL};
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(k, names[i]) == 0)
			return 1;
	return 0;
}

/* Members whose object is a tool call's arguments or a tool's result:
 * every string in it is data. */
static int
data_member(const char *k)
{
	return strcmp(k, "input") == 0 || strcmp(k, "args") == 0 ||
	    strcmp(k, "response") == 0 || strcmp(k, "arguments") == 0;
}

/* A string the rewrite changed: the idx-th text of the walk (counting
 * every string it looked at), its length before, and the document's
 * string, which holds the new text. */
struct change {
	size_t idx, old_len;
	uint64_t old_hash; /* fnv1a() of the text before */
	const json_t *s;
};

/* FNV-1a: a check that a raw string is the text the walk changed. */
static uint64_t
fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	return h;
}

struct walk {
	struct pii_out *po;
	struct buf tmp;
	int changed;
	/* Set: the texts are appended to it, each followed by sep, and
	 * nothing is rewritten. */
	struct buf *collect;
	const char *sep;
	/* Set: the changes are noted, in order, for a splice into the
	 * raw body. */
	int record;
	size_t nstr;
	struct change *ch;
	size_t nch, capch;
};

static enum relay_err
note_change(struct walk *w, const json_t *s)
{
	struct change *nv;

	if (w->nch == w->capch) {
		nv = mem_reallocarray(
		    w->ch, w->capch > 0 ? 2 * w->capch : 16, sizeof(*nv));
		if (nv == NULL)
			return RELAY_ENOMEM;
		w->ch = nv;
		w->capch = w->capch > 0 ? 2 * w->capch : 16;
	}
	w->ch[w->nch++] = (struct change){w->nstr - 1, json_string_length(s),
	    fnv1a(json_string_value(s), json_string_length(s)), s};
	return RELAY_OK;
}

static enum relay_err
walk_string(struct walk *w, json_t *s)
{
	enum relay_err err;
	int found;

	if (w->collect != NULL) {
		err = buf_append(
		    w->collect, json_string_value(s), json_string_length(s));
		return err != RELAY_OK ? err : buf_puts(w->collect, w->sep);
	}

	w->nstr++;
	buf_clear(&w->tmp);
	err = text_rewrite(w->po, json_string_value(s), json_string_length(s),
	    &w->tmp, &found);
	if (err != RELAY_OK || !found)
		return err;
	if (w->tmp.len == json_string_length(s) &&
	    memcmp(w->tmp.data != NULL ? w->tmp.data : "", json_string_value(s),
		w->tmp.len) == 0)
		return RELAY_OK;
	w->changed = 1;
	if (w->record) {
		err = note_change(w, s);
		if (err != RELAY_OK)
			return err;
	}
	return json_string_setn(
		   s, w->tmp.data != NULL ? w->tmp.data : "", w->tmp.len) == 0
	    ? RELAY_OK
	    : RELAY_ENOMEM;
}

static enum relay_err
walk(struct walk *w, json_t *v, enum walk_mode mode, int depth)
{
	enum relay_err err = RELAY_OK;
	const char *k;
	json_t *e;
	size_t i;

	/* jsonx_parse() refuses documents half this deep. */
	if (depth > 2 * RELAY_JSON_DEPTH_MAX)
		return RELAY_ETOOBIG;
	if (json_is_string(v))
		return mode != W_NONE ? walk_string(w, v) : RELAY_OK;
	if (json_is_array(v)) {
		json_array_foreach (v, i, e) {
			err = walk(w, e, mode, depth + 1);
			if (err != RELAY_OK)
				return err;
		}
		return RELAY_OK;
	}
	if (!json_is_object(v))
		return RELAY_OK;
	json_object_foreach (v, k, e) {
		enum walk_mode m = mode == W_ALL          ? W_ALL
		    : json_is_object(e) && data_member(k) ? W_ALL
		    : text_member(k)                      ? W_TEXT
							  : W_NONE;

		err = walk(w, e, m, depth + 1);
		if (err != RELAY_OK)
			return err;
	}
	return RELAY_OK;
}

enum relay_err
pii_out_request(struct pii_out *po, void *root, int *changed)
{
	struct walk w;
	enum relay_err err;

	*changed = 0;
	if (!pii_out_on(po))
		return RELAY_OK;
	memset(&w, 0, sizeof(w));
	w.po = po;
	buf_init(&w.tmp, PII_OUT_TEXT_MAX);
	err = walk(&w, root, W_NONE, 0);
	buf_reset(&w.tmp);
	*changed = w.changed;
	return err;
}

/* --- the raw body --------------------------------------------------------- */

/*
 * The raw body walked as walk() walks its document: the same member names
 * give the same modes, and jansson keeps an object's members in the order
 * of the text (jsonx_parse() refuses duplicate keys), so the idx-th string
 * walked here is the idx-th there. Changed strings are written anew, the
 * rest copied byte for byte. Any doubt (a key written with escapes, a
 * count or a length that does not agree) gives up: the caller then makes
 * the body from the document instead.
 */
struct splice {
	const char *p;
	size_t n, pos;
	size_t copied; /* p[0, copied) is in out */
	size_t nstr;
	const struct change *ch;
	size_t nch, next;
	struct buf *out;
	enum relay_err err; /* RELAY_EINVAL: give up */
};

static void
sp_ws(struct splice *s)
{
	while (s->pos < s->n &&
	    (s->p[s->pos] == ' ' || s->p[s->pos] == '\t' ||
		s->p[s->pos] == '\n' || s->p[s->pos] == '\r'))
		s->pos++;
}

/* At a '"': past the string; *esc says whether it held a backslash. */
static int
sp_string(struct splice *s, int *esc)
{
	const char *q;

	*esc = 0;
	s->pos++;
	for (;;) {
		q = memchr(s->p + s->pos, '"', s->n - s->pos);
		if (q == NULL)
			return -1;
		/* Backslashes before it: an odd count escapes it. */
		if (memchr(s->p + s->pos, '\\',
			(size_t)(q - (s->p + s->pos))) == NULL) {
			s->pos = (size_t)(q - s->p) + 1;
			return 0;
		}
		*esc = 1;
		while (s->pos < s->n && s->p[s->pos] != '"') {
			if (s->p[s->pos] == '\\')
				s->pos++;
			s->pos++;
		}
		if (s->pos >= s->n)
			return -1;
		s->pos++;
		return 0;
	}
}

/* The string at s->pos, the next text of the walk when mode says so. */
static void
sp_text(struct splice *s, enum walk_mode mode)
{
	const struct change *c;
	size_t start = s->pos, raw;
	int esc;

	if (sp_string(s, &esc) != 0) {
		s->err = RELAY_EINVAL;
		return;
	}
	if (mode == W_NONE)
		return;
	s->nstr++;
	if (s->next >= s->nch || s->ch[s->next].idx != s->nstr - 1)
		return;
	c = &s->ch[s->next++];
	raw = s->pos - start - 2;
	/* The string it stands for: the same bytes, or no longer when
	 * escaped. */
	if (esc ? c->old_len > raw
		: c->old_len != raw ||
		    fnv1a(s->p + start + 1, raw) != c->old_hash) {
		s->err = RELAY_EINVAL;
		return;
	}
	s->err = buf_append(s->out, s->p + s->copied, start - s->copied);
	if (s->err == RELAY_OK)
		s->err = buf_append(s->out, "\"", 1);
	if (s->err == RELAY_OK)
		s->err = buf_json_escape(
		    s->out, json_string_value(c->s), json_string_length(c->s));
	if (s->err == RELAY_OK)
		s->err = buf_append(s->out, "\"", 1);
	s->copied = s->pos;
}

static void sp_value(struct splice *s, enum walk_mode mode, int depth);

static void
sp_object(struct splice *s, enum walk_mode mode, int depth)
{
	char key[32];
	size_t ks;
	int esc;

	s->pos++;
	sp_ws(s);
	if (s->pos < s->n && s->p[s->pos] == '}') {
		s->pos++;
		return;
	}
	while (s->err == RELAY_OK) {
		enum walk_mode m;

		sp_ws(s);
		if (s->pos >= s->n || s->p[s->pos] != '"') {
			s->err = RELAY_EINVAL;
			return;
		}
		ks = s->pos + 1;
		if (sp_string(s, &esc) != 0 || esc) {
			s->err = RELAY_EINVAL;
			return;
		}
		/* Longer keys are none of the names looked for. */
		key[0] = '\0';
		if (s->pos - 1 - ks < sizeof(key)) {
			memcpy(key, s->p + ks, s->pos - 1 - ks);
			key[s->pos - 1 - ks] = '\0';
		}
		sp_ws(s);
		if (s->pos >= s->n || s->p[s->pos] != ':') {
			s->err = RELAY_EINVAL;
			return;
		}
		s->pos++;
		sp_ws(s);
		m = mode == W_ALL ? W_ALL
		    : s->pos < s->n && s->p[s->pos] == '{' && data_member(key)
		    ? W_ALL
		    : text_member(key) ? W_TEXT
				       : W_NONE;
		sp_value(s, m, depth + 1);
		sp_ws(s);
		if (s->err != RELAY_OK || s->pos >= s->n) {
			s->err = RELAY_EINVAL;
			return;
		}
		if (s->p[s->pos++] == '}')
			return;
		if (s->p[s->pos - 1] != ',') {
			s->err = RELAY_EINVAL;
			return;
		}
	}
}

static void
sp_array(struct splice *s, enum walk_mode mode, int depth)
{
	s->pos++;
	sp_ws(s);
	if (s->pos < s->n && s->p[s->pos] == ']') {
		s->pos++;
		return;
	}
	while (s->err == RELAY_OK) {
		sp_value(s, mode, depth + 1);
		sp_ws(s);
		if (s->err != RELAY_OK || s->pos >= s->n) {
			s->err = RELAY_EINVAL;
			return;
		}
		if (s->p[s->pos++] == ']')
			return;
		if (s->p[s->pos - 1] != ',') {
			s->err = RELAY_EINVAL;
			return;
		}
	}
}

static void
sp_value(struct splice *s, enum walk_mode mode, int depth)
{
	sp_ws(s);
	if (depth > 2 * RELAY_JSON_DEPTH_MAX || s->pos >= s->n) {
		s->err = RELAY_EINVAL;
		return;
	}
	switch (s->p[s->pos]) {
	case '"': sp_text(s, mode); return;
	case '{': sp_object(s, mode, depth); return;
	case '[': sp_array(s, mode, depth); return;
	default:
		/* A number, true, false or null (jsonx_parse() checked). */
		while (s->pos < s->n && s->p[s->pos] != ',' &&
		    s->p[s->pos] != '}' && s->p[s->pos] != ']' &&
		    s->p[s->pos] != ' ' && s->p[s->pos] != '\n' &&
		    s->p[s->pos] != '\r' && s->p[s->pos] != '\t')
			s->pos++;
	}
}

/* The raw body with w's changes into out; RELAY_EINVAL: not sure. */
static enum relay_err
splice(const struct walk *w, const char *p, size_t n, struct buf *out)
{
	struct splice s;

	memset(&s, 0, sizeof(s));
	s.p = p;
	s.n = n;
	s.ch = w->ch;
	s.nch = w->nch;
	s.out = out;
	sp_value(&s, W_NONE, 0);
	sp_ws(&s);
	if (s.err == RELAY_OK &&
	    (s.pos != n || s.nstr != w->nstr || s.next != w->nch))
		s.err = RELAY_EINVAL;
	if (s.err == RELAY_OK)
		s.err = buf_append(out, p + s.copied, n - s.copied);
	return s.err;
}

enum relay_err
pii_out_request_body(struct pii_out *po, void *root, const char *body, size_t n,
    struct buf *out, int *changed)
{
	struct walk w;
	enum relay_err err;
	size_t before = out->len;

	*changed = 0;
	if (!pii_out_on(po))
		return RELAY_OK;
	memset(&w, 0, sizeof(w));
	w.po = po;
	w.record = 1;
	buf_init(&w.tmp, PII_OUT_TEXT_MAX);
	err = walk(&w, root, W_NONE, 0);
	buf_reset(&w.tmp);
	*changed = w.changed;
	if (err == RELAY_OK && w.changed) {
		err = splice(&w, body, n, out);
		if (err == RELAY_EINVAL) {
			/* Not sure of the raw text: the document is. */
			buf_truncate(out, before);
			err = jsonx_dump(root, out);
		}
	}
	mem_free(w.ch);
	return err;
}

enum relay_err
pii_out_texts(
    const struct pii_out *po, void *root, const char *sep, struct buf *out)
{
	struct walk w;

	memset(&w, 0, sizeof(w));
	/* The walk only reads po when it rewrites. */
	w.po = (struct pii_out *)(uintptr_t)po;
	w.collect = out;
	w.sep = sep;
	return walk(&w, root, W_NONE, 0);
}

/* --- restore ------------------------------------------------------------ */

/*
 * How s[0, k) stands to the placeholder grammar
 *   ⟦ [A-Z]{1,5} _ [1-9][0-9]{0,5} ⟧
 * 0: it is not the start of one; 1: a proper start; 2: a whole one.
 */
static int
ph_state(const char *s, size_t k)
{
	size_t i, t = 0, d = 0;

	for (i = 0; i < PH_BRACKET; i++) {
		if (i >= k)
			return 1;
		if (s[i] != ph_open[i])
			return 0;
	}
	while (i < k && s[i] >= 'A' && s[i] <= 'Z') {
		if (++t > PH_TAG_MAX)
			return 0;
		i++;
	}
	if (i >= k)
		return 1;
	if (t == 0 || s[i++] != '_')
		return 0;
	while (i < k && s[i] >= '0' && s[i] <= '9') {
		if ((d == 0 && s[i] == '0') || ++d > PH_DIGITS_MAX)
			return 0;
		i++;
	}
	if (i >= k)
		return 1;
	if (d == 0)
		return 0;
	for (t = 0; t < PH_BRACKET; t++, i++) {
		if (i >= k)
			return 1;
		if (s[i] != ph_close[t])
			return 0;
	}
	return i == k ? 2 : 0;
}

/* The entry a whole placeholder s[0, k) names, or NULL. */
static const struct pii_out_entry *
ph_lookup(const struct pii_out *po, const char *s, size_t k)
{
	const char *tag = s + PH_BRACKET, *us;
	size_t tl, i;
	unsigned ord = 0;
	int e;

	us = memchr(tag, '_', k - PH_BRACKET);
	if (us == NULL)
		return NULL;
	tl = (size_t)(us - tag);
	for (e = 0; e < PII_ENT__MAX; e++)
		if (strlen(ent_tags[e]) == tl &&
		    memcmp(ent_tags[e], tag, tl) == 0)
			break;
	if (e == PII_ENT__MAX)
		return NULL;
	for (us++; *us >= '0' && *us <= '9'; us++)
		ord = ord * 10 + (unsigned)(*us - '0');
	for (i = 0; i < po->nmap; i++)
		if (po->map[i].type == (enum pii_entity)e &&
		    po->map[i].ord == ord)
			return &po->map[i];
	return NULL;
}

/* The original for JSON text: escaped as a string's content would be. */
static enum relay_err
put_json_escaped(struct buf *out, const char *p, size_t n)
{
	enum relay_err err = RELAY_OK;
	size_t i;

	for (i = 0; i < n && err == RELAY_OK; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '"' || c == '\\')
			err = buf_printf(out, "\\%c", c);
		else if (c < 0x20)
			err = buf_printf(out, "\\u%04x", c);
		else
			err = buf_append(out, p + i, 1);
	}
	return err;
}

/* A whole placeholder s[0, k): its original, or itself when unknown. */
static enum relay_err
put_restored(const struct pii_out *po, const char *s, size_t k, int json,
    struct buf *out)
{
	const struct pii_out_entry *en = ph_lookup(po, s, k);

	if (en == NULL)
		return buf_append(out, s, k);
	return json ? put_json_escaped(out, en->orig, en->len)
		    : buf_append(out, en->orig, en->len);
}

enum relay_err
pii_out_restore(const struct pii_out *po, const char *p, size_t n, int json,
    struct buf *out)
{
	struct pii_restorer r;
	enum relay_err err;

	if (po->nmap == 0)
		return buf_append(out, p, n);
	pii_restorer_init(&r, po, json);
	err = pii_restorer_feed(&r, p, n, out);
	if (err == RELAY_OK)
		err = pii_restorer_flush(&r, out);
	return err;
}

static enum relay_err
restore_walk(const struct pii_out *po, json_t *v, int json, struct buf *tmp,
    int *changed, int depth)
{
	enum relay_err err = RELAY_OK;
	const char *k;
	json_t *e;
	size_t i;

	if (depth > 2 * RELAY_JSON_DEPTH_MAX)
		return RELAY_ETOOBIG;
	if (json_is_string(v)) {
		if (po->nsur == 0 &&
		    memmem(json_string_value(v), json_string_length(v), ph_open,
			PH_BRACKET) == NULL)
			return RELAY_OK;
		buf_clear(tmp);
		err = pii_out_restore(
		    po, json_string_value(v), json_string_length(v), json, tmp);
		if (err != RELAY_OK)
			return err;
		/* Surrogates are looked for in every string: most have
		 * none. */
		if (tmp->len == json_string_length(v) &&
		    memcmp(tmp->data != NULL ? tmp->data : "",
			json_string_value(v), tmp->len) == 0)
			return RELAY_OK;
		*changed = 1;
		return json_string_setn(
			   v, tmp->data != NULL ? tmp->data : "", tmp->len) == 0
		    ? RELAY_OK
		    : RELAY_ENOMEM;
	}
	if (json_is_array(v))
		json_array_foreach (v, i, e) {
			err =
			    restore_walk(po, e, json, tmp, changed, depth + 1);
			if (err != RELAY_OK)
				return err;
		}
	if (json_is_object(v))
		json_object_foreach (v, k, e) {
			err = restore_walk(po, e, strcmp(k, "arguments") == 0,
			    tmp, changed, depth + 1);
			if (err != RELAY_OK)
				return err;
		}
	return err;
}

enum relay_err
pii_out_restore_doc(const struct pii_out *po, void *root, int *changed)
{
	struct buf tmp;
	enum relay_err err;

	*changed = 0;
	if (po->nmap == 0)
		return RELAY_OK;
	buf_init(&tmp, PII_OUT_TEXT_MAX);
	err = restore_walk(po, root, 0, &tmp, changed, 0);
	buf_reset(&tmp);
	return err;
}

/* --- pieces ------------------------------------------------------------- */

void
pii_restorer_init(struct pii_restorer *r, const struct pii_out *po, int json)
{
	memset(r, 0, sizeof(*r));
	r->po = po;
	r->json = json;
}

/* The held bytes after one more: out what can no longer be the start of
 * a placeholder, restore a whole one. */
static enum relay_err
settle(struct pii_restorer *r, struct buf *out)
{
	enum relay_err err = RELAY_OK;
	const char *e2;
	size_t k;
	int st;

	while (r->nhold > 0 && err == RELAY_OK) {
		st = ph_state(r->hold, r->nhold);
		if (st == 1)
			break;
		if (st == 2) {
			err = put_restored(
			    r->po, r->hold, r->nhold, r->json, out);
			r->nhold = 0;
			break;
		}
		/* Not a placeholder from its first byte: that byte, and all
		 * up to the next possible start, can go. */
		e2 = memchr(r->hold + 1, ph_open[0], r->nhold - 1);
		k = e2 != NULL ? (size_t)(e2 - r->hold) : r->nhold;
		err = buf_append(out, r->hold, k);
		memmove(r->hold, r->hold + k, r->nhold - k);
		r->nhold -= k;
	}
	return err;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1 when the digits s[0, k) begin a surrogate of the map. */
static int
sur_prefix(const struct pii_out *po, const char *s, size_t k)
{
	size_t i;

	for (i = 0; i < po->nmap; i++)
		if (po->map[i].nsur >= k && memcmp(po->map[i].sur, s, k) == 0)
			return 1;
	return 0;
}

/* A whole run of digits s[0, k): its original when it is a surrogate,
 * else itself. */
static enum relay_err
put_run(const struct pii_restorer *r, const char *s, size_t k, struct buf *out)
{
	const struct pii_out *po = r->po;
	size_t i;

	for (i = 0; i < po->nmap; i++)
		if (po->map[i].nsur == k && memcmp(po->map[i].sur, s, k) == 0)
			return r->json
			    ? put_json_escaped(
				  out, po->map[i].orig, po->map[i].len)
			    : buf_append(out, po->map[i].orig, po->map[i].len);
	return buf_append(out, s, k);
}

static enum relay_err feed_sur(
    struct pii_restorer *r, const char *p, size_t n, struct buf *out);

/* feed_sur(): the held start of a placeholder after one more byte. When
 * it cannot be one, only its first byte goes out: the rest is read
 * again, as it may begin a surrogate or another placeholder. */
static enum relay_err
settle_sur(struct pii_restorer *r, struct buf *out)
{
	char rest[PII_OUT_PH_MAX];
	size_t k;
	enum relay_err err;
	int st = ph_state(r->hold, r->nhold);

	if (st == 1)
		return RELAY_OK;
	if (st == 2) {
		err = put_restored(r->po, r->hold, r->nhold, r->json, out);
		r->nhold = 0;
		return err;
	}
	k = r->nhold - 1;
	memcpy(rest, r->hold + 1, k);
	err = buf_append(out, r->hold, 1);
	r->nhold = 0;
	/* At most PII_OUT_PH_MAX deep: each level reads fewer bytes. */
	return err != RELAY_OK ? err : feed_sur(r, rest, k, out);
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * pii_restorer_feed() when the map holds surrogates: a run of digits is
 * held while it begins one, and restored when it ends as exactly one; a
 * run that begins none goes out at once, to its end. A run stands as a
 * number only between bytes that are no ASCII letter or digit, as the
 * scanner reads numbers (r->dead: the byte before was one). Placeholders
 * as settle() does.
 */
static enum relay_err
feed_sur(struct pii_restorer *r, const char *p, size_t n, struct buf *out)
{
	enum relay_err err = RELAY_OK;
	size_t i = 0, k;

	while (i < n && err == RELAY_OK) {
		char c = p[i];

		if (r->json && r->nhold == 0 && (r->esc > 0 || c == '\\')) {
			/* JSON text: an escape (\n, \u53f7) is one
			 * character that is no letter or digit, whatever
			 * its bytes. */
			r->esc = r->esc == 0          ? 1
			    : r->esc == 1 && c == 'u' ? 4
						      : r->esc - 1;
			r->dead = 0;
			err = buf_append(out, &c, 1);
			i++;
			continue;
		}
		if (r->nhold > 0 && is_digit(r->hold[0])) {
			if (!is_digit(c)) {
				/* The run ended: a letter after it makes
				 * it a word, not a number. */
				err = is_alpha(c)
				    ? buf_append(out, r->hold, r->nhold)
				    : put_run(r, r->hold, r->nhold, out);
				r->nhold = 0;
				continue;
			}
			r->hold[r->nhold] = c;
			if (r->nhold < PII_OUT_SUR_MAX &&
			    sur_prefix(r->po, r->hold, r->nhold + 1)) {
				r->nhold++;
				i++;
				continue;
			}
			err = buf_append(out, r->hold, r->nhold);
			r->nhold = 0;
			r->dead = 1;
		} else if (r->nhold > 0) {
			r->hold[r->nhold++] = c;
			i++;
			err = settle_sur(r, out);
		} else if (is_digit(c) && r->dead) {
			for (k = i; k < n && is_digit(p[k]); k++)
				;
			err = buf_append(out, p + i, k - i);
			i = k;
		} else if (is_digit(c)) {
			r->hold[0] = c;
			i++;
			if (sur_prefix(r->po, r->hold, 1))
				r->nhold = 1;
			else {
				err = buf_append(out, &c, 1);
				r->dead = 1;
			}
		} else if (c == ph_open[0]) {
			r->dead = 0;
			r->hold[r->nhold++] = c;
			i++;
		} else {
			for (k = i; k < n && !is_digit(p[k]) &&
			     p[k] != ph_open[0] && !(r->json && p[k] == '\\');
			     k++)
				;
			err = buf_append(out, p + i, k - i);
			r->dead = is_alpha(p[k - 1]);
			i = k;
		}
	}
	return err;
}

enum relay_err
pii_restorer_feed(
    struct pii_restorer *r, const char *p, size_t n, struct buf *out)
{
	enum relay_err err = RELAY_OK;
	const char *e2;
	size_t i = 0, k;

	if (r->po->nsur > 0)
		return feed_sur(r, p, n, out);
	while (i < n && err == RELAY_OK) {
		if (r->nhold == 0) {
			/* Nothing pending: everything up to the next
			 * possible start goes out in one piece. */
			e2 = memchr(p + i, ph_open[0], n - i);
			k = e2 != NULL ? (size_t)(e2 - (p + i)) : n - i;
			err = buf_append(out, p + i, k);
			i += k;
			if (i >= n || err != RELAY_OK)
				break;
		}
		r->hold[r->nhold++] = p[i++];
		err = settle(r, out);
	}
	return err;
}

enum relay_err
pii_restorer_flush(struct pii_restorer *r, struct buf *out)
{
	enum relay_err err;

	/* A whole surrogate at the very end ends there. */
	if (r->nhold > 0 && is_digit(r->hold[0]))
		err = put_run(r, r->hold, r->nhold, out);
	else
		err = buf_append(out, r->hold, r->nhold);
	r->nhold = 0;
	r->dead = 0;
	r->esc = 0;
	return err;
}

/* --- streams ------------------------------------------------------------ */

/* Thinking and tool blocks open at once (interleaved tool arguments):
 * count; a fragment of a block beyond them goes out unrestored. */
#define PII_STREAM_SLOTS 8

struct pii_slot {
	int used;
	size_t index;
	struct pii_restorer r;
};

struct pii_stream {
	const struct pii_out *po;
	struct pii_restorer text; /* carried from one text block to the next */
	int text_open;
	size_t text_index;
	int stop_held; /* a text block's stop waits: its tail may go on */
	struct ir_sev held; /* that stop */
	struct pii_slot slot[PII_STREAM_SLOTS];
	struct buf tmp;
};

struct pii_stream *
pii_stream_new(const struct pii_out *po)
{
	struct pii_stream *ps = mem_calloc(1, sizeof(*ps));

	if (ps == NULL)
		return NULL;
	ps->po = po;
	pii_restorer_init(&ps->text, po, 0);
	buf_init(&ps->tmp, PII_OUT_TEXT_MAX);
	return ps;
}

void
pii_stream_free(void *arg)
{
	struct pii_stream *ps = arg;

	if (ps == NULL)
		return;
	buf_reset(&ps->tmp);
	mem_free(ps);
}

/* ps->tmp as a delta like ev (nothing when empty). */
static enum relay_err
send_delta(struct pii_stream *ps, const struct ir_sev *ev, size_t index,
    enum ir_part_type part, enum ir_delta kind, ir_sev_fn next, void *arg)
{
	struct ir_sev d;

	if (ps->tmp.len == 0)
		return RELAY_OK;
	if (ev != NULL)
		d = *ev;
	else
		memset(&d, 0, sizeof(d));
	d.kind = IR_SEV_DELTA;
	d.index = index;
	d.part = part;
	d.delta = kind;
	d.text = (struct span){ps->tmp.data, ps->tmp.len};
	return next(arg, &d);
}

static struct pii_slot *
slot_of(struct pii_stream *ps, size_t index)
{
	size_t i;

	for (i = 0; i < PII_STREAM_SLOTS; i++)
		if (ps->slot[i].used && ps->slot[i].index == index)
			return &ps->slot[i];
	return NULL;
}

/* A slot for a new thinking or tool block; NULL when all are taken. */
static struct pii_slot *
slot_new(struct pii_stream *ps, size_t index, int json)
{
	size_t i;

	for (i = 0; i < PII_STREAM_SLOTS; i++)
		if (!ps->slot[i].used) {
			ps->slot[i].used = 1;
			ps->slot[i].index = index;
			pii_restorer_init(&ps->slot[i].r, ps->po, json);
			return &ps->slot[i];
		}
	return NULL;
}

/* The held stop of the last text block goes out; its tail first unless a
 * text block follows to take it. */
static enum relay_err
release_stop(struct pii_stream *ps, int carry, ir_sev_fn next, void *arg)
{
	enum relay_err err = RELAY_OK;

	ps->stop_held = 0;
	if (!carry) {
		buf_clear(&ps->tmp);
		err = pii_restorer_flush(&ps->text, &ps->tmp);
		if (err == RELAY_OK)
			err = send_delta(ps, NULL, ps->held.index, IR_PART_TEXT,
			    IR_DELTA_TEXT, next, arg);
	}
	return err != RELAY_OK ? err : next(arg, &ps->held);
}

static enum relay_err
on_delta(
    struct pii_stream *ps, const struct ir_sev *ev, ir_sev_fn next, void *arg)
{
	struct pii_restorer *r = NULL;
	struct pii_slot *s;
	enum relay_err err;

	if (ev->delta == IR_DELTA_SIGNATURE)
		return next(arg, ev);
	if (ev->delta == IR_DELTA_TEXT && ps->text_open &&
	    ev->index == ps->text_index)
		r = &ps->text;
	else if ((s = slot_of(ps, ev->index)) != NULL)
		r = &s->r;
	if (r == NULL)
		return next(arg, ev);
	buf_clear(&ps->tmp);
	err = pii_restorer_feed(r, ev->text.p, ev->text.len, &ps->tmp);
	return err != RELAY_OK
	    ? err
	    : send_delta(ps, ev, ev->index, ev->part, ev->delta, next, arg);
}

static enum relay_err
on_stop(
    struct pii_stream *ps, const struct ir_sev *ev, ir_sev_fn next, void *arg)
{
	struct pii_slot *s;
	enum relay_err err;

	if (ps->text_open && ev->index == ps->text_index) {
		ps->text_open = 0;
		if (ps->text.nhold == 0)
			return next(arg, ev);
		ps->stop_held = 1;
		ps->held = *ev;
		return RELAY_OK;
	}
	s = slot_of(ps, ev->index);
	if (s == NULL)
		return next(arg, ev);
	buf_clear(&ps->tmp);
	err = pii_restorer_flush(&s->r, &ps->tmp);
	s->used = 0;
	if (err == RELAY_OK)
		err = send_delta(ps, NULL, ev->index, ev->part,
		    ev->part == IR_PART_TOOL_CALL ? IR_DELTA_ARGS
						  : IR_DELTA_THINKING,
		    next, arg);
	return err != RELAY_OK ? err : next(arg, ev);
}

enum relay_err
pii_stream_event(
    void *arg, const struct ir_sev *ev, ir_sev_fn next, void *next_arg)
{
	struct pii_stream *ps = arg;
	enum relay_err err;
	int text;

	if (ps->po->nmap == 0)
		return next(next_arg, ev);
	text = ev->kind == IR_SEV_BLOCK_START && ev->part == IR_PART_TEXT;
	if (ps->stop_held) {
		err = release_stop(ps, text, next, next_arg);
		if (err != RELAY_OK)
			return err;
	}
	switch (ev->kind) {
	case IR_SEV_BLOCK_START:
		if (text) {
			ps->text_open = 1;
			ps->text_index = ev->index;
		} else if (ev->part == IR_PART_THINKING ||
		    ev->part == IR_PART_TOOL_CALL)
			(void)slot_new(
			    ps, ev->index, ev->part == IR_PART_TOOL_CALL);
		return next(next_arg, ev);
	case IR_SEV_DELTA: return on_delta(ps, ev, next, next_arg);
	case IR_SEV_BLOCK_STOP: return on_stop(ps, ev, next, next_arg);
	default: return next(next_arg, ev);
	}
}

/* --- the operator's terms ---------------------------------------------- */

static struct filter_store *terms_store;
static pthread_once_t terms_once = PTHREAD_ONCE_INIT;

static void
terms_init(void)
{
	terms_store = filter_store_new();
}

struct wordfilter *
pii_out_terms(const struct config *cfg, int *failed)
{
	*failed = 0;
	if (cfg->npii_files == 0)
		return NULL;
	pthread_once(&terms_once, terms_init);
	if (terms_store == NULL) {
		*failed = 1;
		return NULL;
	}
	return filter_acquire_files(
	    terms_store, cfg->pii_files, cfg->npii_files, failed);
}

void
pii_out_counts(const struct pii_out *po, char *out, size_t outsz)
{
	size_t i, used = 0;
	int n;

	if (outsz == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < PII_ENT__MAX; i++) {
		if (po->hits[i] == 0)
			continue;
		n = snprintf(out + used, outsz - used, "%s%s:%s=%zu",
		    used > 0 ? "," : "", ent_names[i],
		    act_names[po->pol.act[i]], po->hits[i]);
		if (n < 0 || (size_t)n >= outsz - used) {
			out[used] = '\0';
			return;
		}
		used += (size_t)n;
	}
}
