/* SPDX-License-Identifier: MIT */
/* pii.c - one-pass masking of personal data and secrets with hand-written
 * scanners; no regular expressions, no allocation besides the output. */
#include <string.h>

#include "pii.h"

/* Shortest bodies we treat as a secret after a known prefix. */
#define PII_SK_MIN 16
#define PII_AIZA_MIN 30
#define PII_BEARER_MIN 8
#define PII_JWT_MIN 20
/* Runs of hex or base64 at least this long are secrets. */
#define PII_RUN_MIN 32
/* RFC 5321 §4.5.3.1: local part 64, domain 255 octets. */
#define PII_LOCAL_MAX 64
#define PII_DOMAIN_MAX 255
/* Digit runs of this length inside an email domain are masked too. */
#define PII_DOMAIN_DIGITS 7

enum pii_kind {
	PII_NONE,
	PII_MOBILE,
	PII_ID,
	PII_CARD,
	PII_EMAIL,
	PII_KEY, /* aux: length of the prefix kept */
	PII_BEARER,
	PII_SECRET,
	PII__MAX
};

struct pii_hit {
	enum pii_kind kind;
	size_t len; /* bytes of input covered */
	size_t aux; /* kind-specific, see enum pii_kind */
};

struct pii_scan {
	const char *p;
	size_t n;
	size_t no_run_until; /* no secret run starts before this offset */
	size_t no_mail_until; /* end of the last local-part run scanned */
	size_t mail_dom; /* length of the domain after it, 0: none */
};

static int
pii_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
pii_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
pii_alnum(char c)
{
	return pii_digit(c) || pii_alpha(c);
}

static int
pii_b64(char c)
{
	return pii_alnum(c) || c == '+' || c == '/';
}

/* Characters of API keys after their prefix, and of JWTs. */
static int
pii_keychar(char c)
{
	return pii_alnum(c) || c == '-' || c == '_' || c == '.';
}

/* RFC 6750 §2.1 b64token. */
static int
pii_tokenchar(char c)
{
	return pii_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
	    c == '+' || c == '/' || c == '=';
}

static int
pii_localchar(char c)
{
	return pii_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
	    c == '-';
}

/* 1 when offset i ends a word: the end, or a byte that is not [A-Za-z0-9]. */
static int
pii_bound_at(const struct pii_scan *s, size_t i)
{
	return i >= s->n || !pii_alnum(s->p[i]);
}

static size_t
pii_span(const struct pii_scan *s, size_t i, int (*ok)(char))
{
	size_t j = i;

	while (j < s->n && ok(s->p[j]))
		j++;
	return j - i;
}

static int
pii_prefix(const struct pii_scan *s, size_t i, const char *lit)
{
	size_t k = strlen(lit);

	return s->n - i >= k && memcmp(s->p + i, lit, k) == 0;
}

/* --- checks on digit strings -------------------------------------------- */

static unsigned
pii_num(const char *d, size_t k)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < k; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

static int
pii_date_ok(unsigned y, unsigned m, unsigned d)
{
	return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

/* GB 11643-1999: 6-digit region, YYYYMMDD, 3-digit sequence, and an ISO
 * 7064 MOD 11-2 check character over the first 17 digits. */
static int
pii_id18_ok(const char *d)
{
	static const unsigned w[17] = {
	    7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	static const char check[] = "10X98765432";
	unsigned sum = 0;
	size_t i;
	char c = d[17] == 'x' ? 'X' : d[17];

	if (d[0] < '1' || d[0] > '8')
		return 0;
	if (!pii_date_ok(
		pii_num(d + 6, 4), pii_num(d + 10, 2), pii_num(d + 12, 2)))
		return 0;
	for (i = 0; i < 17; i++)
		sum += w[i] * (unsigned)(d[i] - '0');
	return check[sum % 11] == c;
}

/* The 15-digit form (before 1999): region, YYMMDD, sequence. */
static int
pii_id15_ok(const char *d)
{
	if (d[0] < '1' || d[0] > '8')
		return 0;
	return pii_date_ok(
	    1900 + pii_num(d + 6, 2), pii_num(d + 8, 2), pii_num(d + 10, 2));
}

static int
pii_mobile_ok(const char *d)
{
	return d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

/* ISO/IEC 7812: 13-19 digits, issuer digit 2-6, Luhn check. */
static int
pii_card_ok(const char *d, size_t k)
{
	unsigned sum = 0, v;
	size_t i;

	if (k < 13 || k > 19 || d[0] < '2' || d[0] > '6')
		return 0;
	for (i = 0; i < k; i++) {
		v = (unsigned)(d[k - 1 - i] - '0');
		if (i % 2 == 1)
			v = v * 2 > 9 ? v * 2 - 9 : v * 2;
		sum += v;
	}
	return sum % 10 == 0;
}

/* --- numbers ------------------------------------------------------------ */

/* Copy the digits of p[i, i + len) into d (at most dmax), skipping
 * separators; returns how many. */
static size_t
pii_digits(const struct pii_scan *s, size_t i, size_t len, char *d, size_t dmax)
{
	size_t k = 0, j;

	for (j = i; j < i + len && k < dmax; j++)
		if (pii_digit(s->p[j]) || s->p[j] == 'X' || s->p[j] == 'x')
			d[k++] = s->p[j];
	return k;
}

static int
pii_sep(char c)
{
	return c == ' ' || c == '-';
}

/* Length of exactly want digits at i followed by a word boundary, else 0. */
static size_t
pii_group(const struct pii_scan *s, size_t i, size_t want)
{
	size_t k = pii_span(s, i, pii_digit);

	return k == want && pii_bound_at(s, i + k) ? k : 0;
}

/* A mobile number at i: 11 digits, or 3-4-4 with one kind of separator. */
static size_t
pii_mobile_at(const struct pii_scan *s, size_t i)
{
	size_t k = pii_span(s, i, pii_digit);
	char c;

	if (k == 11 && pii_bound_at(s, i + 11) && pii_mobile_ok(s->p + i))
		return 11;
	if (k != 3 || !pii_mobile_ok(s->p + i) || i + 4 >= s->n)
		return 0;
	c = s->p[i + 3];
	if (!pii_sep(c) || pii_group(s, i + 4, 4) == 0 || i + 9 >= s->n ||
	    s->p[i + 8] != c || pii_group(s, i + 9, 4) == 0)
		return 0;
	return 13;
}

/* A card written in groups: 4 digits, then groups of 3-6 digits joined by
 * the same separator; the longest prefix of groups that passes. */
static size_t
pii_card_groups_at(const struct pii_scan *s, size_t i)
{
	char d[19];
	size_t total = 4, j = i + 4, g, best = 0;
	char c;

	if (pii_span(s, i, pii_digit) != 4 || j >= s->n || !pii_sep(s->p[j]))
		return 0;
	c = s->p[j];
	memcpy(d, s->p + i, 4);
	while (j < s->n && s->p[j] == c) {
		g = pii_span(s, j + 1, pii_digit);
		if (g < 3 || g > 6 || g > 19 - total)
			break;
		memcpy(d + total, s->p + j + 1, g);
		total += g;
		j += 1 + g;
		if (pii_bound_at(s, j) && pii_card_ok(d, total))
			best = j - i;
	}
	return best;
}

static void
pii_keep(struct pii_hit *h, enum pii_kind kind, size_t len, size_t aux)
{
	if (len > h->len) {
		h->kind = kind;
		h->len = len;
		h->aux = aux;
	}
}

/* An unseparated run of digits at i: ID (18 or 15), mobile, card. */
static void
pii_number_plain(const struct pii_scan *s, size_t i, struct pii_hit *h)
{
	const char *d = s->p + i;
	size_t k = pii_span(s, i, pii_digit);

	if (k == 17 && i + 17 < s->n && (d[17] == 'X' || d[17] == 'x') &&
	    pii_bound_at(s, i + 18) && pii_id18_ok(d))
		pii_keep(h, PII_ID, 18, 0);
	if (!pii_bound_at(s, i + k))
		return;
	if ((k == 18 && pii_id18_ok(d)) || (k == 15 && pii_id15_ok(d)))
		pii_keep(h, PII_ID, k, 0);
	else if (k == 11 && pii_mobile_ok(d))
		pii_keep(h, PII_MOBILE, k, 0);
	else if (pii_card_ok(d, k))
		pii_keep(h, PII_CARD, k, 0);
}

static void
pii_try_number(const struct pii_scan *s, size_t i, struct pii_hit *h)
{
	size_t pre = 0, m;

	if (pii_prefix(s, i, "+86"))
		pre = 3;
	else if (pii_prefix(s, i, "0086"))
		pre = 4;
	if (pre != 0 && i + pre < s->n && pii_sep(s->p[i + pre]))
		pre++;
	if (pre != 0) {
		m = pii_mobile_at(s, i + pre);
		if (m != 0)
			pii_keep(h, PII_MOBILE, pre + m, pre);
	}
	if (!pii_digit(s->p[i]))
		return;
	pii_number_plain(s, i, h);
	m = pii_mobile_at(s, i);
	if (m == 13)
		pii_keep(h, PII_MOBILE, m, 0);
	pii_keep(h, PII_CARD, pii_card_groups_at(s, i), 0);
}

/* --- keys and tokens ---------------------------------------------------- */

static int
pii_keybody(char c)
{
	return pii_alnum(c) || c == '-' || c == '_';
}

/* sk-relay-, sk-ant-, sk- (OpenAI, Anthropic, ours) and AIza (Google). */
static void
pii_try_key(const struct pii_scan *s, size_t i, struct pii_hit *h)
{
	static const struct {
		const char *prefix;
		size_t min;
	} keys[] = {
	    {"sk-relay-", PII_SK_MIN},
	    {"sk-ant-", PII_SK_MIN},
	    {"sk-", PII_SK_MIN},
	    {"AIza", PII_AIZA_MIN},
	};
	size_t k, body;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t pl = strlen(keys[k].prefix);

		if (!pii_prefix(s, i, keys[k].prefix))
			continue;
		body = pii_span(s, i + pl, pii_keybody);
		if (body >= keys[k].min) {
			pii_keep(h, PII_KEY, pl + body, pl);
			return;
		}
	}
}

/* RFC 6750 §2.1: "Bearer" 1*SP b64token (the scheme is case-insensitive). */
static void
pii_try_bearer(const struct pii_scan *s, size_t i, struct pii_hit *h)
{
	static const char lit[] = "bearer";
	size_t j, k, tok;

	if (s->n - i < sizeof(lit))
		return;
	for (k = 0; k < sizeof(lit) - 1; k++)
		if ((s->p[i + k] | 0x20) != lit[k])
			return;
	j = i + k;
	while (j < s->n && s->p[j] == ' ')
		j++;
	if (j == i + k)
		return;
	tok = pii_span(s, j, pii_tokenchar);
	if (tok >= PII_BEARER_MIN)
		pii_keep(h, PII_BEARER, j + tok - i, 0);
}

/* A JWT (RFC 7519): base64url of '{"' is "eyJ"; dots between the parts. */
static void
pii_try_jwt(const struct pii_scan *s, size_t i, struct pii_hit *h)
{
	size_t k;

	if (!pii_prefix(s, i, "eyJ"))
		return;
	k = pii_span(s, i, pii_keychar);
	while (k > 0 && s->p[i + k - 1] == '.')
		k--;
	if (k >= PII_JWT_MIN)
		pii_keep(h, PII_SECRET, k, 0);
}

/*
 * A hex or base64 run of PII_RUN_MIN+ characters holding both a digit and
 * a letter (plus up to two '=' of padding). A run that fails fails from
 * every later start inside it too (fewer characters, no new classes), so
 * those starts are skipped: this keeps the pass linear.
 */
static void
pii_try_run(struct pii_scan *s, size_t i, struct pii_hit *h)
{
	size_t k, j;
	int digit = 0, alpha = 0;

	if (i < s->no_run_until)
		return;
	k = pii_span(s, i, pii_b64);
	for (j = i; j < i + k && !(digit && alpha); j++) {
		digit |= pii_digit(s->p[j]);
		alpha |= pii_alpha(s->p[j]);
	}
	if (k < PII_RUN_MIN || !digit || !alpha) {
		s->no_run_until = i + k;
		return;
	}
	for (j = 0; j < 2 && i + k < s->n && s->p[i + k] == '='; j++)
		k++;
	pii_keep(h, PII_SECRET, k, 0);
}

/* --- email -------------------------------------------------------------- */

static int
pii_domchar(char c)
{
	return pii_alnum(c) || c == '-';
}

/* Length of the domain at d: 2+ labels, the last all letters (2+); the
 * longest such prefix, 0 if none. */
static size_t
pii_domain(const struct pii_scan *s, size_t d)
{
	size_t j = d, k, best = 0, labels = 0;

	while (j < s->n && j - d < PII_DOMAIN_MAX) {
		k = pii_span(s, j, pii_domchar);
		if (k == 0)
			break;
		labels++;
		if (labels >= 2 && k >= 2 && pii_span(s, j, pii_alpha) == k &&
		    j + k - d <= PII_DOMAIN_MAX)
			best = j + k - d;
		j += k;
		if (j + 1 >= s->n || s->p[j] != '.')
			break;
		j++;
	}
	return best;
}

/*
 * local@domain. The local run and its domain are the same for every start
 * inside the run, so they are computed once per run (linear pass).
 */
static void
pii_try_email(struct pii_scan *s, size_t i, struct pii_hit *h)
{
	size_t at, dom;

	if (!pii_alnum(s->p[i]))
		return;
	if (i >= s->no_mail_until) {
		at = i + pii_span(s, i, pii_localchar);
		s->no_mail_until = at;
		s->mail_dom =
		    at < s->n && s->p[at] == '@' ? pii_domain(s, at + 1) : 0;
	}
	at = s->no_mail_until;
	dom = s->mail_dom;
	if (dom == 0 || at - i > PII_LOCAL_MAX || s->p[at - 1] == '.')
		return;
	pii_keep(h, PII_EMAIL, at - i + 1 + dom, at - i);
}

/* --- output ------------------------------------------------------------- */

static enum relay_err
pii_stars(struct buf *out, size_t k)
{
	static const char stars[] = "****************";
	enum relay_err err = RELAY_OK;
	size_t m;

	while (k > 0 && err == RELAY_OK) {
		m = k < sizeof(stars) - 1 ? k : sizeof(stars) - 1;
		err = buf_append(out, stars, m);
		k -= m;
	}
	return err;
}

/* The digits of the hit, head and tail kept, the middle as '*'. */
static enum relay_err
pii_emit_digits(const struct pii_scan *s, size_t i, const struct pii_hit *h,
    size_t head, size_t tail, struct buf *out)
{
	char d[24];
	size_t k;
	enum relay_err err;

	err = buf_append(out, s->p + i, h->aux);
	if (err != RELAY_OK)
		return err;
	k = pii_digits(s, i + h->aux, h->len - h->aux, d, sizeof(d));
	err = buf_append(out, d, head);
	if (err == RELAY_OK)
		err = pii_stars(out, k - head - tail);
	if (err == RELAY_OK)
		err = buf_append(out, d + k - tail, tail);
	return err;
}

/* a***@domain, with long digit runs in the domain masked as well. */
static enum relay_err
pii_emit_email(const struct pii_scan *s, size_t i, const struct pii_hit *h,
    struct buf *out)
{
	size_t j = i + h->aux + 1, end = i + h->len, k;
	enum relay_err err;

	err = buf_append(out, s->p + i, 1);
	if (err == RELAY_OK)
		err = buf_append(out, "***@", 4);
	while (err == RELAY_OK && j < end) {
		k = pii_span(s, j, pii_digit);
		if (k > end - j)
			k = end - j;
		if (k >= PII_DOMAIN_DIGITS)
			err = pii_stars(out, k);
		else
			err = buf_append(out, s->p + j, k > 0 ? k : 1);
		j += k > 0 ? k : 1;
	}
	return err;
}

static enum relay_err
pii_emit(const struct pii_scan *s, size_t i, const struct pii_hit *h,
    struct buf *out)
{
	enum relay_err err = RELAY_OK;

	switch (h->kind) {
	case PII_NONE: break;
	case PII_MOBILE: err = pii_emit_digits(s, i, h, 3, 4, out); break;
	case PII_ID:
	case PII_CARD: err = pii_emit_digits(s, i, h, 4, 4, out); break;
	case PII_EMAIL: err = pii_emit_email(s, i, h, out); break;
	case PII_KEY:
		err = buf_append(out, s->p + i, h->aux);
		if (err == RELAY_OK)
			err = buf_puts(out, "...[redacted]");
		break;
	case PII_BEARER:
		err = buf_append(out, s->p + i, 6);
		if (err == RELAY_OK)
			err = buf_puts(out, " [redacted]");
		break;
	case PII_SECRET: err = buf_puts(out, "[redacted]"); break;
	case PII__MAX: break;
	}
	return err;
}

/* The first recogniser that claims offset i (a word start) wins. */
static void
pii_find(struct pii_scan *s, size_t i, struct pii_hit *h)
{
	char c = s->p[i];

	h->kind = PII_NONE;
	h->len = 0;
	h->aux = 0;
	/* The prefixed kinds only where their first letter is. */
	if ((c | 0x20) == 'b')
		pii_try_bearer(s, i, h);
	if (h->len == 0 && (c == 's' || c == 'A'))
		pii_try_key(s, i, h);
	if (h->len == 0 && c == 'e')
		pii_try_jwt(s, i, h);
	if (h->len == 0)
		pii_try_email(s, i, h);
	if (h->len == 0)
		pii_try_number(s, i, h);
	if (h->len == 0)
		pii_try_run(s, i, h);
}

/* The one pass both entry points share: hit(arg, s, i, h) for each item
 * found at offset i; a non-zero return stops the pass with that value. */
static int
pii_walk(const char *p, size_t n,
    int (*hit)(void *, const struct pii_scan *, size_t, const struct pii_hit *),
    void *arg)
{
	struct pii_scan s = {p, n, 0, 0, 0};
	struct pii_hit h;
	size_t i = 0;
	int rc;

	while (i < n) {
		/* Every item starts with a letter, a digit, '+' or '/' (a
		 * base64 run): other bytes (CJK text, blanks, punctuation)
		 * are passed without trying the recognisers. */
		if (!pii_alnum(p[i]) && p[i] != '+' && p[i] != '/') {
			i++;
			continue;
		}
		if (i == 0 || !pii_alnum(p[i - 1])) {
			pii_find(&s, i, &h);
			if (h.len > 0) {
				rc = hit(arg, &s, i, &h);
				if (rc != 0)
					return rc;
				i += h.len;
				continue;
			}
		}
		/* Inside a word nothing starts: skip the rest of it. */
		i += pii_alnum(p[i]) ? pii_span(&s, i, pii_alnum) : 1;
	}
	return 0;
}

struct pii_mask_ctx {
	struct buf *out;
	size_t from;
	enum relay_err err;
};

static int
pii_mask_hit(
    void *arg, const struct pii_scan *s, size_t i, const struct pii_hit *h)
{
	struct pii_mask_ctx *m = arg;

	m->err = buf_append(m->out, s->p + m->from, i - m->from);
	if (m->err == RELAY_OK)
		m->err = pii_emit(s, i, h, m->out);
	m->from = i + h->len;
	return m->err != RELAY_OK;
}

enum relay_err
pii_mask(const char *p, size_t n, struct buf *out)
{
	struct pii_mask_ctx m = {out, 0, RELAY_OK};

	(void)pii_walk(p, n, pii_mask_hit, &m);
	if (m.err == RELAY_OK)
		m.err = buf_append(out, p + m.from, n - m.from);
	return m.err;
}

struct pii_scan_ctx {
	pii_hit_fn fn;
	void *arg;
};

/* Personal data is reported; keys and secret runs are passed over whole,
 * so no number inside one is taken for a phone. */
static int
pii_scan_hit(
    void *arg, const struct pii_scan *s, size_t i, const struct pii_hit *h)
{
	struct pii_scan_ctx *c = arg;

	(void)s;
	switch (h->kind) {
	case PII_MOBILE: return c->fn(c->arg, PII_ENT_PHONE, i, h->len);
	case PII_ID: return c->fn(c->arg, PII_ENT_ID, i, h->len);
	case PII_CARD: return c->fn(c->arg, PII_ENT_CARD, i, h->len);
	case PII_EMAIL: return c->fn(c->arg, PII_ENT_EMAIL, i, h->len);
	default: return 0;
	}
}

int
pii_scan(const char *p, size_t n, pii_hit_fn fn, void *arg)
{
	struct pii_scan_ctx c = {fn, arg};

	return pii_walk(p, n, pii_scan_hit, &c);
}
