/* SPDX-License-Identifier: MIT */
/* metrics.c - per-process shared-memory counters (fixed layout, relaxed
 * atomics), retirement into retired.metrics under flock, and the
 * Prometheus text renderer that sums every file of the directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "mem.h"
#include "num.h"
#include "pii.h"

#define MF_MAGIC 0x315254454d59454cull /* "LEYMETR1" */
#define MF_VERSION 1u
#define MF_HSLOTS 512
#define MF_BUCKETS 16 /* finite bounds + the +Inf bucket */
#define MF_RETIRED "retired.metrics"
#define MF_SUFFIX ".metrics"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "lock-free 64-bit atomics");

/* Label dimensions: the first ones have name tables in each file. */
enum mdim {
	MD_ROUTE,
	MD_DIALECT,
	MD_MODEL,
	MD_PROVIDER,
	MD_KIND,
	MD_TARGET,
	MD_NAMED__MAX,
	MD_DIRECTION = MD_NAMED__MAX, /* fixed values below */
	MD_RESULT,
	MD_NONE,
	MD__MAX
};

static const unsigned md_cap[MD_NAMED__MAX] = {METRICS_ROUTES, METRICS_DIALECTS,
    METRICS_MODELS, METRICS_PROVIDERS, METRICS_KINDS, METRICS_TARGETS};
static const char *const md_direction[] = {"in", "out", "cached"};
static const char *const md_result[] = {"hit", "miss"};

enum mtype { MT_COUNTER, MT_HISTOGRAM, MT_GAUGE };

enum mfam {
	MF_REQUESTS,
	MF_DURATION,
	MF_TTFT,
	MF_GAP,
	MF_TOKENS,
	MF_COST,
	MF_CACHE,
	MF_RATELIMIT,
	MF_UPSTREAM_ERR,
	MF_RETRIES,
	MF_FALLBACKS,
	MF_BREAKER,
	MF_INFLIGHT,
	MF_PII,
	MF__MAX
};

/* Histogram bounds in microseconds and as written in "le". */
struct mbuckets {
	size_t n;
	uint64_t us[MF_BUCKETS - 1];
	const char *le[MF_BUCKETS - 1];
};

static const struct mbuckets mb_duration = {15,
    {5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
	5000000, 10000000, 30000000, 60000000, 120000000, 300000000},
    {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
	"10", "30", "60", "120", "300"}};
static const struct mbuckets mb_ttft = {15,
    {50000, 100000, 250000, 500000, 750000, 1000000, 1500000, 2000000, 3000000,
	5000000, 7500000, 10000000, 20000000, 30000000, 60000000},
    {"0.05", "0.1", "0.25", "0.5", "0.75", "1", "1.5", "2", "3", "5", "7.5",
	"10", "20", "30", "60"}};
static const struct mbuckets mb_gap = {13,
    {1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
	5000000, 10000000, 30000000},
    {"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
	"2.5", "5", "10", "30"}};

struct mfamdef {
	const char *name;
	const char *help;
	enum mtype type;
	enum mdim dim[4];
	const char *label[4];
	int code; /* has a "code" label after the others */
	const struct mbuckets *buckets;
};

#define NONE4                                                                  \
	{                                                                      \
		MD_NONE, MD_NONE, MD_NONE, MD_NONE                             \
	}

static const struct mfamdef mfams[MF__MAX] = {
    [MF_REQUESTS] = {"relay_requests_total", "Requests answered.", MT_COUNTER,
	{MD_ROUTE, MD_DIALECT, MD_MODEL, MD_PROVIDER},
	{"route", "dialect", "model", "provider"}, 1, NULL},
    [MF_DURATION] = {"relay_request_duration_seconds",
	"Time from request to the last byte of the answer.", MT_HISTOGRAM,
	{MD_ROUTE, MD_NONE, MD_NONE, MD_NONE}, {"route"}, 0, &mb_duration},
    [MF_TTFT] = {"relay_time_to_first_token_seconds",
	"Time from request to the first streamed token.", MT_HISTOGRAM,
	{MD_MODEL, MD_NONE, MD_NONE, MD_NONE}, {"model"}, 0, &mb_ttft},
    [MF_GAP] = {"relay_stream_event_gap_seconds",
	"Time between two events of a stream.", MT_HISTOGRAM, NONE4, {0}, 0,
	&mb_gap},
    [MF_TOKENS] = {"relay_tokens_total", "Tokens by model and direction.",
	MT_COUNTER, {MD_MODEL, MD_DIRECTION, MD_NONE, MD_NONE},
	{"model", "direction"}, 0, NULL},
    [MF_COST] = {"relay_cost_usd_total", "Cost in US dollars.", MT_COUNTER,
	{MD_MODEL, MD_NONE, MD_NONE, MD_NONE}, {"model"}, 0, NULL},
    [MF_CACHE] = {"relay_cache_total", "Response cache lookups.", MT_COUNTER,
	{MD_RESULT, MD_NONE, MD_NONE, MD_NONE}, {"result"}, 0, NULL},
    [MF_RATELIMIT] = {"relay_ratelimit_refusals_total",
	"Requests refused by rate limits and quotas.", MT_COUNTER,
	{MD_KIND, MD_NONE, MD_NONE, MD_NONE}, {"kind"}, 0, NULL},
    [MF_UPSTREAM_ERR] = {"relay_upstream_errors_total",
	"Failed upstream attempts.", MT_COUNTER,
	{MD_PROVIDER, MD_KIND, MD_NONE, MD_NONE}, {"provider", "kind"}, 0,
	NULL},
    [MF_RETRIES] = {"relay_retries_total", "Upstream attempts retried.",
	MT_COUNTER, NONE4, {0}, 0, NULL},
    [MF_FALLBACKS] = {"relay_fallbacks_total",
	"Requests that moved to a fallback target.", MT_COUNTER, NONE4, {0}, 0,
	NULL},
    [MF_BREAKER] = {"relay_breaker_state",
	"Circuit breaker: 0 closed, 1 open, 2 half-open.", MT_GAUGE,
	{MD_TARGET, MD_NONE, MD_NONE, MD_NONE}, {"target"}, 0, NULL},
    [MF_INFLIGHT] = {"relay_inflight_streams", "Streams being relayed now.",
	MT_GAUGE, NONE4, {0}, 0, NULL},
    [MF_PII] = {"relay_pii_entities_total",
	"Personal data found in requests, by kind and outbound action.",
	MT_COUNTER, {MD_KIND, MD_KIND, MD_NONE, MD_NONE}, {"entity", "action"},
	0, NULL},
};

/* --- the shared file ---------------------------------------------------- */

struct mname {
	char s[METRICS_NAME_MAX + 1];
};

struct mcslot {
	_Atomic uint64_t key; /* 0: free; see mf_key() */
	_Atomic uint64_t val;
};

struct mhslot {
	_Atomic uint64_t key;
	_Atomic uint64_t count;
	_Atomic uint64_t sum_us;
	_Atomic uint64_t b[MF_BUCKETS]; /* per bucket, not cumulative */
};

struct mgauge {
	_Atomic int64_t val;
	_Atomic uint64_t stamp; /* CLOCK_REALTIME ns of the last report */
};

/*
 * One process's file. Only its owner writes it (the retired file: only
 * under flock); readers map it read-only. The name tables map this file's
 * label indices to names; index 0 of each is "other".
 */
struct mfile {
	uint64_t magic;
	uint32_t version;
	uint32_t size;
	int64_t pid; /* 0: retired.metrics */
	_Atomic uint32_t nnames[MD_NAMED__MAX];
	struct mname names[MD_NAMED__MAX][METRICS_MODELS];
	struct mcslot c[METRICS_SERIES];
	struct mhslot h[MF_HSLOTS];
	_Atomic uint64_t overflow[MF__MAX]; /* counts of a full table */
	_Atomic int64_t inflight;
	struct mgauge breaker[METRICS_TARGETS];
};

struct metrics {
	struct mfile *f;
	pthread_mutex_t names_mu; /* new names only; lookups take no lock */
	char *dir;
	char *path;
};

/* --- keys, names, slots ------------------------------------------------- */

static uint64_t
mf_key(enum mfam fam, const unsigned *l, unsigned code)
{
	return 1ull << 63 | (uint64_t)fam << 48 |
	    (uint64_t)(l[0] & 0xff) << 40 | (uint64_t)(l[1] & 0xff) << 32 |
	    (uint64_t)(l[2] & 0xff) << 24 | (uint64_t)(l[3] & 0xff) << 16 |
	    (code & 0xffff);
}

static void
mf_unkey(uint64_t key, unsigned *fam, unsigned *l, unsigned *code)
{
	*fam = (unsigned)(key >> 48) & 0x7fff;
	l[0] = (unsigned)(key >> 40) & 0xff;
	l[1] = (unsigned)(key >> 32) & 0xff;
	l[2] = (unsigned)(key >> 24) & 0xff;
	l[3] = (unsigned)(key >> 16) & 0xff;
	*code = (unsigned)key & 0xffff;
}

static size_t
mf_hash(uint64_t key, size_t mask)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* Claim or find the slot of key: lock-free, the first writer wins. */
static int
mf_claim(_Atomic uint64_t *slot, uint64_t key)
{
	uint64_t k = atomic_load_explicit(slot, memory_order_acquire);

	if (k == 0 &&
	    !atomic_compare_exchange_strong_explicit(
		slot, &k, key, memory_order_acq_rel, memory_order_acquire))
		return k == key;
	return k == 0 || k == key;
}

static _Atomic uint64_t *
mf_counter(struct mfile *f, uint64_t key)
{
	size_t i = mf_hash(key, METRICS_SERIES - 1), probe;

	for (probe = 0; probe < METRICS_SERIES; probe++) {
		if (mf_claim(&f->c[i].key, key))
			return &f->c[i].val;
		i = (i + 1) & (METRICS_SERIES - 1);
	}
	return NULL;
}

static struct mhslot *
mf_hist(struct mfile *f, uint64_t key)
{
	size_t i = mf_hash(key, MF_HSLOTS - 1), probe;

	for (probe = 0; probe < MF_HSLOTS; probe++) {
		if (mf_claim(&f->h[i].key, key))
			return &f->h[i];
		i = (i + 1) & (MF_HSLOTS - 1);
	}
	return NULL;
}

/* A label value we accept: 1-63 bytes of [!-~] except '"' and '\\'. */
static int
mf_name_ok(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= METRICS_NAME_MAX || s[i] < '!' || s[i] > '~' ||
		    s[i] == '"' || s[i] == '\\')
			return 0;
	return i > 0;
}

/* 1 when s looks like a key, a card or another secret (lib/pii.h). */
static int
mf_secret(const char *s)
{
	struct buf b;
	size_t n = strlen(s);
	int secret;

	buf_init(&b, 2 * n + 16);
	secret = pii_mask(s, n, &b) != RELAY_OK || b.len != n ||
	    memcmp(b.data, s, n) != 0;
	buf_reset(&b);
	return secret;
}

/* Name i of dimension d in a file we may not trust: "other" when bad. */
static const char *
mf_name_at(const struct mfile *f, enum mdim d, unsigned i)
{
	unsigned n = atomic_load_explicit(&f->nnames[d], memory_order_acquire);

	if (i == 0 || i >= n || i >= md_cap[d] ||
	    memchr(f->names[d][i].s, '\0', sizeof(f->names[d][i].s)) == NULL)
		return "other";
	return f->names[d][i].s;
}

static unsigned
mf_name_find(const struct mfile *f, enum mdim d, const char *s, unsigned from,
    unsigned to)
{
	unsigned i;

	for (i = from; i < to; i++)
		if (strcmp(f->names[d][i].s, s) == 0)
			return i;
	return 0;
}

/*
 * Index of name s in dimension d of f, added when new. Lookups read the
 * table without a lock (entries are complete before nnames publishes
 * them); additions take mu (NULL: the caller holds the file's flock).
 */
static unsigned
mf_name(struct mfile *f, enum mdim d, const char *s, pthread_mutex_t *mu)
{
	unsigned n, i;

	if (!mf_name_ok(s))
		return 0;
	n = atomic_load_explicit(&f->nnames[d], memory_order_acquire);
	i = mf_name_find(f, d, s, 1, n < md_cap[d] ? n : md_cap[d]);
	if (i != 0 || n >= md_cap[d] || mf_secret(s))
		return i;
	if (mu != NULL)
		pthread_mutex_lock(mu);
	i = mf_name_find(f, d, s, n, atomic_load(&f->nnames[d]));
	n = atomic_load(&f->nnames[d]);
	if (i == 0 && n < md_cap[d]) {
		memcpy(f->names[d][n].s, s, strlen(s) + 1);
		atomic_store_explicit(
		    &f->nnames[d], n + 1, memory_order_release);
		i = n;
	}
	if (mu != NULL)
		pthread_mutex_unlock(mu);
	return i;
}

/* --- recording ---------------------------------------------------------- */

/* *p += v, stopping at UINT64_MAX: a counter fed a saturated cost or an
 * upstream's absurd usage stays at its top instead of wrapping to a small
 * number (which a scraper would read as a reset). */
static void
mf_add_sat(_Atomic uint64_t *p, uint64_t v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old,
	    num_add_sat(old, v), memory_order_relaxed, memory_order_relaxed))
		;
}

static void
mf_add(struct mfile *f, enum mfam fam, const unsigned *l, unsigned code,
    uint64_t v)
{
	_Atomic uint64_t *p = mf_counter(f, mf_key(fam, l, code));

	if (p == NULL)
		p = &f->overflow[fam];
	mf_add_sat(p, v);
}

static uint64_t
mf_us(double seconds)
{
	if (!(seconds > 0))
		return 0;
	if (seconds > 1e12)
		return (uint64_t)1e18;
	return (uint64_t)(seconds * 1e6 + 0.5);
}

static void
mf_observe(struct mfile *f, enum mfam fam, unsigned l0, double seconds)
{
	const struct mbuckets *mb = mfams[fam].buckets;
	unsigned l[4] = {l0, 0, 0, 0};
	struct mhslot *h = mf_hist(f, mf_key(fam, l, 0));
	uint64_t us = mf_us(seconds);
	size_t i = 0;

	if (h == NULL)
		return;
	while (i < mb->n && us > mb->us[i])
		i++;
	atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
	mf_add_sat(&h->sum_us, us);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

static unsigned
mf_idx(struct metrics *m, enum mdim d, const char *s)
{
	return mf_name(m->f, d, s, &m->names_mu);
}

void
metrics_request(struct metrics *m, const char *route, const char *dialect,
    const char *model, const char *provider, int status, double seconds)
{
	unsigned l[4];

	if (m == NULL)
		return;
	l[0] = mf_idx(m, MD_ROUTE, route);
	l[1] = mf_idx(m, MD_DIALECT, dialect);
	l[2] = mf_idx(m, MD_MODEL, model);
	l[3] = mf_idx(m, MD_PROVIDER, provider);
	mf_add(m->f, MF_REQUESTS, l,
	    status >= 100 && status <= 599 ? (unsigned)status : 0, 1);
	mf_observe(m->f, MF_DURATION, l[0], seconds);
}

void
metrics_ttft(struct metrics *m, const char *model, double seconds)
{
	if (m != NULL)
		mf_observe(m->f, MF_TTFT, mf_idx(m, MD_MODEL, model), seconds);
}

void
metrics_stream_gap(struct metrics *m, double seconds)
{
	if (m != NULL)
		mf_observe(m->f, MF_GAP, 0, seconds);
}

void
metrics_tokens(struct metrics *m, const char *model, uint64_t in, uint64_t out,
    uint64_t cost_micro_usd)
{
	unsigned l[4] = {0, 0, 0, 0};

	if (m == NULL)
		return;
	l[0] = mf_idx(m, MD_MODEL, model);
	if (in > 0)
		mf_add(m->f, MF_TOKENS, l, 0, in);
	l[1] = 1;
	if (out > 0)
		mf_add(m->f, MF_TOKENS, l, 0, out);
	l[1] = 0;
	if (cost_micro_usd > 0)
		mf_add(m->f, MF_COST, l, 0, cost_micro_usd);
}

void
metrics_tokens_cached(struct metrics *m, const char *model, uint64_t n)
{
	unsigned l[4] = {0, 2, 0, 0};

	if (m == NULL || n == 0)
		return;
	l[0] = mf_idx(m, MD_MODEL, model);
	mf_add(m->f, MF_TOKENS, l, 0, n);
}

void
metrics_cache(struct metrics *m, int hit)
{
	unsigned l[4] = {hit ? 0u : 1u, 0, 0, 0};

	if (m != NULL)
		mf_add(m->f, MF_CACHE, l, 0, 1);
}

void
metrics_ratelimit(struct metrics *m, const char *kind)
{
	unsigned l[4] = {0, 0, 0, 0};

	if (m == NULL)
		return;
	l[0] = mf_idx(m, MD_KIND, kind);
	mf_add(m->f, MF_RATELIMIT, l, 0, 1);
}

void
metrics_pii(
    struct metrics *m, const char *entity, const char *action, uint64_t n)
{
	unsigned l[4] = {0, 0, 0, 0};

	if (m == NULL || n == 0)
		return;
	l[0] = mf_idx(m, MD_KIND, entity);
	l[1] = mf_idx(m, MD_KIND, action);
	mf_add(m->f, MF_PII, l, 0, n);
}

void
metrics_upstream_error(
    struct metrics *m, const char *provider, const char *kind)
{
	unsigned l[4] = {0, 0, 0, 0};

	if (m == NULL)
		return;
	l[0] = mf_idx(m, MD_PROVIDER, provider);
	l[1] = mf_idx(m, MD_KIND, kind);
	mf_add(m->f, MF_UPSTREAM_ERR, l, 0, 1);
}

void
metrics_retry(struct metrics *m)
{
	unsigned l[4] = {0, 0, 0, 0};

	if (m != NULL)
		mf_add(m->f, MF_RETRIES, l, 0, 1);
}

void
metrics_fallback(struct metrics *m)
{
	unsigned l[4] = {0, 0, 0, 0};

	if (m != NULL)
		mf_add(m->f, MF_FALLBACKS, l, 0, 1);
}

static uint64_t
mf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
metrics_breaker(struct metrics *m, const char *target, int state)
{
	unsigned i;

	if (m == NULL)
		return;
	i = mf_idx(m, MD_TARGET, target);
	atomic_store_explicit(
	    &m->f->breaker[i].val, state, memory_order_relaxed);
	atomic_store_explicit(
	    &m->f->breaker[i].stamp, mf_now_ns(), memory_order_release);
}

void
metrics_inflight(struct metrics *m, int delta)
{
	if (m != NULL)
		atomic_fetch_add_explicit(
		    &m->f->inflight, delta, memory_order_relaxed);
}

/* --- files -------------------------------------------------------------- */

static void
mf_init(struct mfile *f, int64_t pid)
{
	unsigned d;

	memset(f, 0, sizeof(*f));
	f->version = MF_VERSION;
	f->size = (uint32_t)sizeof(*f);
	f->pid = pid;
	for (d = 0; d < MD_NAMED__MAX; d++) {
		memcpy(f->names[d][0].s, "other", 6);
		atomic_store(&f->nnames[d], 1);
	}
	f->magic = MF_MAGIC;
}

static int
mf_valid(const struct mfile *f)
{
	unsigned d;

	if (f->magic != MF_MAGIC || f->version != MF_VERSION ||
	    f->size != sizeof(*f))
		return 0;
	for (d = 0; d < MD_NAMED__MAX; d++)
		if (atomic_load(&f->nnames[d]) > md_cap[d])
			return 0;
	return 1;
}

/* Map path (read-only, or read-write with rw) when it is a metrics file. */
static struct mfile *
mf_map(const char *path, int rw)
{
	struct stat st;
	void *p;
	int fd;

	fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != (off_t)sizeof(struct mfile)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(struct mfile), PROT_READ | (rw ? PROT_WRITE : 0),
	    MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	if (!mf_valid(p)) {
		munmap(p, sizeof(struct mfile));
		return NULL;
	}
	return p;
}

static void
mf_unmap(const struct mfile *f)
{
	if (f != NULL)
		munmap((void *)f, sizeof(*f));
}

static enum relay_err
mf_path(char *out, size_t outsz, const char *dir, const char *name)
{
	int n = snprintf(out, outsz, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= outsz ? RELAY_ETOOBIG : RELAY_OK;
}

/*
 * Open retired.metrics of dir, take its flock (exclusive: it serialises
 * retirement and rendering), create its content when new, and map it.
 * *fd holds the lock until mf_unlock().
 */
static enum relay_err
mf_lock(const char *dir, int *fd, struct mfile **rf)
{
	char path[4096];
	struct stat st;
	void *p;

	*rf = NULL;
	if (mf_path(path, sizeof(path), dir, MF_RETIRED) != RELAY_OK)
		return RELAY_ETOOBIG;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0)
		return RELAY_EIO;
	while (flock(*fd, LOCK_EX) != 0)
		if (errno != EINTR)
			goto fail;
	if (fstat(*fd, &st) != 0)
		goto fail;
	if (st.st_size != (off_t)sizeof(struct mfile) &&
	    ftruncate(*fd, (off_t)sizeof(struct mfile)) != 0)
		goto fail;
	p = mmap(NULL, sizeof(struct mfile), PROT_READ | PROT_WRITE, MAP_SHARED,
	    *fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	*rf = p;
	if (!mf_valid(*rf)) /* new, or not ours: start it afresh */
		mf_init(*rf, 0);
	return RELAY_OK;
fail:
	close(*fd);
	*fd = -1;
	return RELAY_EIO;
}

static void
mf_unlock(int fd, struct mfile *rf)
{
	if (rf != NULL)
		msync(rf, sizeof(*rf), MS_ASYNC);
	mf_unmap(rf);
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* Translate src's label indices of a family into dst's. */
static void
mf_relabel(
    struct mfile *dst, const struct mfile *src, unsigned fam, unsigned *l)
{
	unsigned j;
	enum mdim d;

	for (j = 0; j < 4; j++) {
		d = mfams[fam].dim[j];
		if (d < MD_NAMED__MAX)
			l[j] = mf_name(dst, d, mf_name_at(src, d, l[j]), NULL);
	}
}

/* Add src's counters and histograms to dst (caller holds the flock). */
static void
mf_fold(struct mfile *dst, const struct mfile *src)
{
	unsigned fam, code, l[4], k;
	struct mhslot *h;
	uint64_t key;
	size_t i;

	for (i = 0; i < METRICS_SERIES; i++) {
		key = atomic_load(&src->c[i].key);
		mf_unkey(key, &fam, l, &code);
		if (key == 0 || fam >= MF__MAX)
			continue;
		mf_relabel(dst, src, fam, l);
		mf_add(
		    dst, (enum mfam)fam, l, code, atomic_load(&src->c[i].val));
	}
	for (i = 0; i < MF_HSLOTS; i++) {
		key = atomic_load(&src->h[i].key);
		mf_unkey(key, &fam, l, &code);
		if (key == 0 || fam >= MF__MAX ||
		    mfams[fam].type != MT_HISTOGRAM)
			continue;
		mf_relabel(dst, src, fam, l);
		h = mf_hist(dst, mf_key((enum mfam)fam, l, code));
		if (h == NULL)
			continue;
		atomic_fetch_add(&h->count, atomic_load(&src->h[i].count));
		mf_add_sat(&h->sum_us, atomic_load(&src->h[i].sum_us));
		for (k = 0; k < MF_BUCKETS; k++)
			atomic_fetch_add(
			    &h->b[k], atomic_load(&src->h[i].b[k]));
	}
	for (i = 0; i < MF__MAX; i++)
		mf_add_sat(&dst->overflow[i], atomic_load(&src->overflow[i]));
}

/* Fold the file at path into rf and remove it (caller holds the flock). */
static void
mf_retire(struct mfile *rf, const char *path)
{
	struct mfile *f = mf_map(path, 0);

	if (f != NULL)
		mf_fold(rf, f);
	mf_unmap(f);
	unlink(path);
}

static enum relay_err
mf_create(const char *tmp, const char *path, struct mfile **out)
{
	void *p;
	int fd;

	fd = open(
	    tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return RELAY_EIO;
	if (ftruncate(fd, (off_t)sizeof(struct mfile)) != 0) {
		close(fd);
		unlink(tmp);
		return RELAY_EIO;
	}
	p = mmap(NULL, sizeof(struct mfile), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		unlink(tmp);
		return RELAY_EIO;
	}
	/* Complete before it gets the name that readers look for. */
	mf_init(p, (int64_t)getpid());
	if (rename(tmp, path) != 0) {
		munmap(p, sizeof(struct mfile));
		unlink(tmp);
		return RELAY_EIO;
	}
	*out = p;
	return RELAY_OK;
}

/* --- open and close ----------------------------------------------------- */

static void
mf_free(struct metrics *m)
{
	if (m == NULL)
		return;
	mf_unmap(m->f);
	pthread_mutex_destroy(&m->names_mu);
	mem_free(m->dir);
	mem_free(m->path);
	mem_free(m);
}

enum relay_err
metrics_open(const char *dir, const char *prog, struct metrics **out)
{
	char name[256], path[4096], tmp[4096];
	struct metrics *m = NULL;
	struct mfile *rf = NULL;
	int lockfd = -1;
	enum relay_err err;

	*out = NULL;
	if (prog[0] == '\0' || strchr(prog, '/') != NULL ||
	    snprintf(name, sizeof(name), "%s.%ld%s", prog, (long)getpid(),
		MF_SUFFIX) >= (int)sizeof(name))
		return RELAY_EINVAL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return RELAY_EIO;
	err = mf_path(path, sizeof(path), dir, name);
	if (err == RELAY_OK)
		err = mf_path(tmp, sizeof(tmp), dir, ".metrics.tmp");
	if (err == RELAY_OK && strlen(tmp) + 24 < sizeof(tmp))
		snprintf(tmp + strlen(tmp), 24, ".%ld", (long)getpid());
	if (err != RELAY_OK)
		return err;
	/* A file with our pid is a dead predecessor's: keep its counts. */
	err = mf_lock(dir, &lockfd, &rf);
	if (err != RELAY_OK)
		return err;
	if (access(path, F_OK) == 0)
		mf_retire(rf, path);
	mf_unlock(lockfd, rf);
	err = RELAY_ENOMEM;
	m = mem_calloc(1, sizeof(*m));
	if (m == NULL || pthread_mutex_init(&m->names_mu, NULL) != 0) {
		mem_free(m);
		return RELAY_ENOMEM;
	}
	m->dir = mem_strdup(dir);
	m->path = mem_strdup(path);
	if (m->dir == NULL || m->path == NULL)
		goto out;
	err = mf_create(tmp, path, &m->f);
	if (err == RELAY_OK) {
		*out = m;
		m = NULL;
	}
out:
	mf_free(m);
	return err;
}

void
metrics_close(struct metrics *m)
{
	struct mfile *rf = NULL;
	int lockfd = -1;

	if (m == NULL)
		return;
	if (mf_lock(m->dir, &lockfd, &rf) == RELAY_OK) {
		mf_fold(rf, m->f);
		unlink(m->path);
		mf_unlock(lockfd, rf);
	}
	mf_free(m);
}

/* --- rendering ---------------------------------------------------------- */

/* One series summed over files, keyed by family and label text. */
struct magg {
	unsigned fam;
	char *labels; /* `a="x",b="y"`, escaped; "" when none */
	uint64_t v; /* counter, or histogram count */
	uint64_t sum_us;
	uint64_t b[MF_BUCKETS];
	int64_t g;
	uint64_t stamp;
};

struct mtab {
	struct magg *e;
	size_t n, cap;
	size_t *idx; /* open addressing over e, SIZE_MAX: free */
	size_t icap;
};

static size_t
mt_hash(unsigned fam, const char *s, size_t mask)
{
	uint64_t h = 1469598103934665603ull ^ fam;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h & mask;
}

static enum relay_err
mt_rehash(struct mtab *t)
{
	size_t icap = t->icap != 0 ? t->icap * 2 : 256, i, j;
	size_t *idx = mem_calloc(icap, sizeof(*idx));

	if (idx == NULL)
		return RELAY_ENOMEM;
	memset(idx, 0xff, icap * sizeof(*idx));
	for (i = 0; i < t->n; i++) {
		j = mt_hash(t->e[i].fam, t->e[i].labels, icap - 1);
		while (idx[j] != SIZE_MAX)
			j = (j + 1) & (icap - 1);
		idx[j] = i;
	}
	mem_free(t->idx);
	t->idx = idx;
	t->icap = icap;
	return RELAY_OK;
}

/* The series (fam, labels), added zeroed when new; NULL when out of memory. */
static struct magg *
mt_get(struct mtab *t, unsigned fam, const char *labels)
{
	struct magg *e;
	size_t j;

	if (2 * (t->n + 1) > t->icap && mt_rehash(t) != RELAY_OK)
		return NULL;
	j = mt_hash(fam, labels, t->icap - 1);
	for (; t->idx[j] != SIZE_MAX; j = (j + 1) & (t->icap - 1)) {
		e = &t->e[t->idx[j]];
		if (e->fam == fam && strcmp(e->labels, labels) == 0)
			return e;
	}
	if (t->n == t->cap) {
		e = mem_reallocarray(
		    t->e, t->cap != 0 ? 2 * t->cap : 64, sizeof(*e));
		if (e == NULL)
			return NULL;
		t->e = e;
		t->cap = t->cap != 0 ? 2 * t->cap : 64;
	}
	e = &t->e[t->n];
	memset(e, 0, sizeof(*e));
	e->fam = fam;
	e->labels = mem_strdup(labels);
	if (e->labels == NULL)
		return NULL;
	t->idx[j] = t->n++;
	return e;
}

static void
mt_free(struct mtab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		mem_free(t->e[i].labels);
	mem_free(t->e);
	mem_free(t->idx);
}

/* Exposition format 0.0.4: label values escape \, " and newline. */
static enum relay_err
mt_label(struct buf *b, const char *name, const char *value)
{
	enum relay_err err;
	const char *p;

	err = buf_printf(b, "%s%s=\"", b->len > 0 ? "," : "", name);
	for (p = value; *p != '\0' && err == RELAY_OK; p++) {
		if (*p == '\\' || *p == '"')
			err = buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			err = buf_puts(b, "\\n");
		else
			err = buf_append(b, p, 1);
	}
	return err == RELAY_OK ? buf_puts(b, "\"") : err;
}

static const char *
mf_value_name(const struct mfile *f, enum mdim d, unsigned i)
{
	switch (d) {
	case MD_DIRECTION: return i < 3 ? md_direction[i] : "other";
	case MD_RESULT: return i < 2 ? md_result[i] : "other";
	case MD_ROUTE:
	case MD_DIALECT:
	case MD_MODEL:
	case MD_PROVIDER:
	case MD_KIND:
	case MD_TARGET: return mf_name_at(f, d, i);
	case MD_NONE:
	case MD__MAX: break;
	}
	return "other";
}

/* The label text of a series of f into b (cleared first). */
static enum relay_err
mf_labels(const struct mfile *f, unsigned fam, const unsigned *l, unsigned code,
    int other, struct buf *b)
{
	const struct mfamdef *fd = &mfams[fam];
	char num[8];
	enum relay_err err = RELAY_OK;
	unsigned j;

	buf_clear(b);
	for (j = 0; j < 4 && fd->dim[j] != MD_NONE && err == RELAY_OK; j++)
		err = mt_label(b, fd->label[j],
		    other ? "other" : mf_value_name(f, fd->dim[j], l[j]));
	if (fd->code && err == RELAY_OK) {
		snprintf(num, sizeof(num), "%u", code);
		err = mt_label(b, "code", code != 0 && !other ? num : "other");
	}
	if (err == RELAY_OK && b->data == NULL)
		err = buf_append(b, "", 0);
	return err;
}

static enum relay_err
mf_collect_counters(struct mtab *t, const struct mfile *f, struct buf *lb)
{
	unsigned fam, code, l[4];
	struct magg *e;
	uint64_t key;
	size_t i;

	for (i = 0; i < METRICS_SERIES; i++) {
		key = atomic_load_explicit(&f->c[i].key, memory_order_acquire);
		mf_unkey(key, &fam, l, &code);
		if (key == 0 || fam >= MF__MAX || mfams[fam].type != MT_COUNTER)
			continue;
		if (mf_labels(f, fam, l, code, 0, lb) != RELAY_OK)
			return RELAY_ENOMEM;
		e = mt_get(t, fam, lb->data);
		if (e == NULL)
			return RELAY_ENOMEM;
		e->v = num_add_sat(e->v,
		    atomic_load_explicit(&f->c[i].val, memory_order_relaxed));
	}
	for (fam = 0; fam < MF__MAX; fam++) {
		if (atomic_load(&f->overflow[fam]) == 0)
			continue;
		if (mf_labels(f, fam, l, 0, 1, lb) != RELAY_OK)
			return RELAY_ENOMEM;
		e = mt_get(t, fam, lb->data);
		if (e == NULL)
			return RELAY_ENOMEM;
		e->v = num_add_sat(e->v, atomic_load(&f->overflow[fam]));
	}
	return RELAY_OK;
}

static enum relay_err
mf_collect_hists(struct mtab *t, const struct mfile *f, struct buf *lb)
{
	unsigned fam, code, l[4], k;
	const struct mhslot *h;
	struct magg *e;
	uint64_t key;
	size_t i;

	for (i = 0; i < MF_HSLOTS; i++) {
		h = &f->h[i];
		key = atomic_load_explicit(&h->key, memory_order_acquire);
		mf_unkey(key, &fam, l, &code);
		if (key == 0 || fam >= MF__MAX ||
		    mfams[fam].type != MT_HISTOGRAM)
			continue;
		if (mf_labels(f, fam, l, code, 0, lb) != RELAY_OK)
			return RELAY_ENOMEM;
		e = mt_get(t, fam, lb->data);
		if (e == NULL)
			return RELAY_ENOMEM;
		/* Buckets first, count last: a racing observation never makes
		 * +Inf smaller than a finite bucket. */
		for (k = 0; k < MF_BUCKETS; k++)
			e->b[k] += atomic_load_explicit(
			    &h->b[k], memory_order_relaxed);
		e->sum_us = num_add_sat(e->sum_us,
		    atomic_load_explicit(&h->sum_us, memory_order_relaxed));
		e->v += atomic_load_explicit(&h->count, memory_order_relaxed);
	}
	return RELAY_OK;
}

/* Gauges of a live process: in-flight streams summed, breaker states by
 * the latest report. */
static enum relay_err
mf_collect_gauges(struct mtab *t, const struct mfile *f, struct buf *lb)
{
	unsigned l[4] = {0, 0, 0, 0}, i, n;
	struct magg *e;
	uint64_t stamp;

	e = mt_get(t, MF_INFLIGHT, "");
	if (e == NULL)
		return RELAY_ENOMEM;
	e->g += atomic_load_explicit(&f->inflight, memory_order_relaxed);
	n = atomic_load(&f->nnames[MD_TARGET]);
	for (i = 0; i < n && i < METRICS_TARGETS; i++) {
		stamp = atomic_load_explicit(
		    &f->breaker[i].stamp, memory_order_acquire);
		if (stamp == 0)
			continue;
		l[0] = i;
		if (mf_labels(f, MF_BREAKER, l, 0, 0, lb) != RELAY_OK)
			return RELAY_ENOMEM;
		e = mt_get(t, MF_BREAKER, lb->data);
		if (e == NULL)
			return RELAY_ENOMEM;
		if (stamp > e->stamp) {
			e->stamp = stamp;
			e->g = atomic_load(&f->breaker[i].val);
		}
	}
	return RELAY_OK;
}

static enum relay_err
mf_collect(struct mtab *t, const struct mfile *f, int live)
{
	struct buf lb;
	enum relay_err err;

	buf_init(&lb, 1024);
	err = mf_collect_counters(t, f, &lb);
	if (err == RELAY_OK)
		err = mf_collect_hists(t, f, &lb);
	if (err == RELAY_OK && live)
		err = mf_collect_gauges(t, f, &lb);
	buf_reset(&lb);
	return err;
}

static int
mf_alive(int64_t pid)
{
	if (pid <= 0 || pid > 0x7fffffff)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

static int
mf_is_process_file(const char *name)
{
	size_t n = strlen(name), s = strlen(MF_SUFFIX);

	return name[0] != '.' && n > s && strcmp(name, MF_RETIRED) != 0 &&
	    strcmp(name + n - s, MF_SUFFIX) == 0;
}

/* Sum every process file of dir into t; retire the dead ones into rf. */
static enum relay_err
mf_scan_dir(const char *dir, struct mfile *rf, struct mtab *t)
{
	char path[4096];
	struct dirent *de;
	struct mfile *f;
	enum relay_err err = RELAY_OK;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return RELAY_EIO;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL || err != RELAY_OK)
			break;
		if (!mf_is_process_file(de->d_name) ||
		    mf_path(path, sizeof(path), dir, de->d_name) != RELAY_OK)
			continue;
		f = mf_map(path, 0);
		if (f != NULL && !mf_alive(f->pid))
			mf_retire(rf, path);
		else if (f != NULL)
			err = mf_collect(t, f, 1);
		mf_unmap(f);
	}
	if (de == NULL && errno != 0 && err == RELAY_OK)
		err = RELAY_EIO;
	closedir(d);
	return err;
}

static int
mt_cmp(const void *a, const void *b)
{
	const struct magg *x = a, *y = b;

	if (x->fam != y->fam)
		return x->fam < y->fam ? -1 : 1;
	return strcmp(x->labels, y->labels);
}

/* name{labels[,le="..."]} */
static enum relay_err
mt_series(struct buf *out, const char *name, const char *suffix,
    const char *labels, const char *le)
{
	const char *sep = labels[0] != '\0' && le != NULL ? "," : "";

	if (labels[0] == '\0' && le == NULL)
		return buf_printf(out, "%s%s ", name, suffix);
	return buf_printf(out, "%s%s{%s%s%s%s%s} ", name, suffix, labels, sep,
	    le != NULL ? "le=\"" : "", le != NULL ? le : "",
	    le != NULL ? "\"" : "");
}

static enum relay_err
mt_hist(struct buf *out, const struct magg *e)
{
	const struct mfamdef *fd = &mfams[e->fam];
	enum relay_err err = RELAY_OK;
	uint64_t cum = 0;
	size_t k;

	for (k = 0; k < fd->buckets->n && err == RELAY_OK; k++) {
		cum += e->b[k];
		err = mt_series(out, fd->name == NULL ? "" : fd->name,
		    "_bucket", e->labels, fd->buckets->le[k]);
		if (err == RELAY_OK)
			err =
			    buf_printf(out, "%llu\n", (unsigned long long)cum);
	}
	if (err == RELAY_OK)
		err = mt_series(out, fd->name, "_bucket", e->labels, "+Inf");
	if (err == RELAY_OK)
		err = buf_printf(out, "%llu\n", (unsigned long long)e->v);
	if (err == RELAY_OK)
		err = mt_series(out, fd->name, "_sum", e->labels, NULL);
	if (err == RELAY_OK)
		err = buf_printf(out, "%llu.%06llu\n",
		    (unsigned long long)(e->sum_us / 1000000),
		    (unsigned long long)(e->sum_us % 1000000));
	if (err == RELAY_OK)
		err = mt_series(out, fd->name, "_count", e->labels, NULL);
	if (err == RELAY_OK)
		err = buf_printf(out, "%llu\n", (unsigned long long)e->v);
	return err;
}

static enum relay_err
mt_sample(struct buf *out, const struct magg *e)
{
	const struct mfamdef *fd = &mfams[e->fam];
	enum relay_err err;

	if (fd->type == MT_HISTOGRAM)
		return mt_hist(out, e);
	err = mt_series(out, fd->name, "", e->labels, NULL);
	if (err != RELAY_OK)
		return err;
	if (fd->type == MT_GAUGE)
		return buf_printf(out, "%lld\n", (long long)e->g);
	if (e->fam == MF_COST)
		return buf_printf(out, "%llu.%06llu\n",
		    (unsigned long long)(e->v / 1000000),
		    (unsigned long long)(e->v % 1000000));
	return buf_printf(out, "%llu\n", (unsigned long long)e->v);
}

static enum relay_err
mt_write(struct mtab *t, struct buf *out)
{
	static const char *const types[] = {"counter", "histogram", "gauge"};
	const struct mfamdef *fd;
	struct magg zero;
	enum relay_err err = RELAY_OK;
	size_t i = 0, j, k;
	unsigned fam;

	if (t->n > 0)
		qsort(t->e, t->n, sizeof(*t->e), mt_cmp);
	for (fam = 0; fam < MF__MAX && err == RELAY_OK; fam++) {
		fd = &mfams[fam];
		for (j = i; j < t->n && t->e[j].fam == fam; j++)
			;
		/* Unlabelled counters and gauges are always shown, at 0. */
		if (j == i &&
		    (fd->dim[0] != MD_NONE || fd->type == MT_HISTOGRAM))
			continue;
		err = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fd->name,
		    fd->help, fd->name, types[fd->type]);
		memset(&zero, 0, sizeof(zero));
		zero.fam = fam;
		zero.labels = "";
		if (j == i && err == RELAY_OK)
			err = mt_sample(out, &zero);
		for (k = i; k < j && err == RELAY_OK; k++)
			err = mt_sample(out, &t->e[k]);
		i = j;
	}
	return err;
}

enum relay_err
metrics_render(const char *dir, struct buf *out)
{
	struct mtab t = {NULL, 0, 0, NULL, 0};
	struct mfile *rf = NULL;
	int lockfd = -1;
	enum relay_err err;

	err = mf_lock(dir, &lockfd, &rf);
	if (err != RELAY_OK)
		return err;
	err = mf_scan_dir(dir, rf, &t);
	if (err == RELAY_OK)
		err = mf_collect(&t, rf, 0);
	mf_unlock(lockfd, rf);
	if (err == RELAY_OK)
		err = mt_write(&t, out);
	mt_free(&t);
	return err;
}
