/* SPDX-License-Identifier: MIT */
/* accesslog.c - JSON lines in a file per day (path.YYYY-MM-DD, UTC),
 * path a symlink to today's; day files past the retention deleted; an
 * optional hash chain per file (accesslog.h). Every responder process of
 * the host appends (O_APPEND: one write(2) a line). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "buf.h"
#include "crypto.h"
#include "limits.h"
#include "mem.h"

struct accesslog {
	pthread_mutex_t lock;
	char *path; /* the name readers use: a symlink to today's file */
	char *dir, *base; /* path's directory and file name */
	int days; /* retention, 0: for ever */
	int chain; /* hash chain */
	int fd; /* today's file */
	char day[16];
	off_t end; /* the file's size after our last line, -1: unknown */
	char last[65]; /* our last line's hash */
	unsigned long writes;
};

void
accesslog_anon_ip(const char *ip, char *out, unsigned long outsz)
{
	unsigned char a[16];

	if (ip != NULL && inet_pton(AF_INET, ip, a) == 1) {
		a[3] = 0;
		inet_ntop(AF_INET, a, out, (socklen_t)outsz);
	} else if (ip != NULL && inet_pton(AF_INET6, ip, a) == 1) {
		memset(a + 6, 0, 10);
		inet_ntop(AF_INET6, a, out, (socklen_t)outsz);
	} else
		snprintf(out, outsz, "-");
}

/* "<base>.YYYY-MM-DD" (a day file of ours): the day, else NULL. */
static const char *
day_of(const char *name, const char *base, size_t baselen)
{
	static const char shape[] = "dddd-dd-dd";
	const char *d;
	size_t i;

	if (strncmp(name, base, baselen) != 0 || name[baselen] != '.')
		return NULL;
	d = name + baselen + 1;
	if (strlen(d) != 10)
		return NULL;
	for (i = 0; i < 10; i++)
		if (shape[i] == 'd' ? (d[i] < '0' || d[i] > '9') : d[i] != '-')
			return NULL;
	return d;
}

/* Day files older than the retention go: every process may do it at its
 * day change (an unlink that lost the race fails harmlessly). */
static void
prune(struct accesslog *al, time_t now)
{
	char cutoff[16], path[4096];
	time_t old = now - (time_t)al->days * 86400;
	struct dirent *de;
	const char *d;
	struct tm tm;
	DIR *dir;

	if (al->days <= 0)
		return;
	gmtime_r(&old, &tm);
	strftime(cutoff, sizeof(cutoff), "%Y-%m-%d", &tm);
	dir = opendir(al->dir);
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		d = day_of(de->d_name, al->base, strlen(al->base));
		if (d != NULL && strcmp(d, cutoff) < 0 &&
		    snprintf(path, sizeof(path), "%s/%s", al->dir, de->d_name) <
			(int)sizeof(path))
			(void)unlink(path);
	}
	closedir(dir);
}

/* path itself names today's file: a symlink swapped in whole (a plain
 * file there, from before day files, is kept as path.old). */
static void
link_today(struct accesslog *al)
{
	char target[4096], tmp[4096];
	struct stat st;

	if (snprintf(target, sizeof(target), "%s.%s", al->base, al->day) >=
		(int)sizeof(target) ||
	    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", al->path,
		(long)getpid()) >= (int)sizeof(tmp))
		return;
	if (lstat(al->path, &st) == 0 && S_ISREG(st.st_mode)) {
		snprintf(tmp, sizeof(tmp), "%s.old", al->path);
		(void)rename(al->path, tmp);
		snprintf(
		    tmp, sizeof(tmp), "%s.%ld.tmp", al->path, (long)getpid());
	}
	(void)unlink(tmp);
	if (symlink(target, tmp) == 0 && rename(tmp, al->path) != 0)
		(void)unlink(tmp);
}

/* Caller holds al->lock: the file of day (UTC), opened on a new day. */
static void
do_day_file(struct accesslog *al, const char *day, time_t now)
{
	char path[4096];

	if (al->fd >= 0 && strcmp(al->day, day) == 0)
		return;
	if (al->fd >= 0)
		close(al->fd);
	al->fd = -1;
	al->end = -1;
	snprintf(al->day, sizeof(al->day), "%s", day);
	if (snprintf(path, sizeof(path), "%s.%s", al->path, day) >=
	    (int)sizeof(path))
		return;
	/* Read too: a chained line hashes the line before it. */
	al->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	link_today(al);
	prune(al, now);
}

struct accesslog *
accesslog_open(const char *path, int retention_days, int hash_chain)
{
	struct accesslog *al = mem_calloc(1, sizeof(*al));
	const char *slash;
	char day[16];
	time_t now = time(NULL);
	struct tm tm;

	if (al == NULL)
		return NULL;
	al->fd = -1;
	al->days = retention_days;
	al->chain = hash_chain;
	pthread_mutex_init(&al->lock, NULL);
	al->path = mem_strdup(path);
	slash = path != NULL ? strrchr(path, '/') : NULL;
	al->dir = slash == NULL ? mem_strdup(".")
				: mem_strndup(path, (size_t)(slash - path));
	al->base = mem_strdup(slash == NULL ? path : slash + 1);
	if (al->path == NULL || al->dir == NULL || al->base == NULL) {
		accesslog_close(al);
		errno = ENOMEM;
		return NULL;
	}
	if (al->dir[0] == '\0') {
		mem_free(al->dir);
		al->dir = mem_strdup("/");
	}
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	do_day_file(al, day, now);
	if (al->fd < 0) {
		accesslog_close(al);
		return NULL;
	}
	return al;
}

void
accesslog_close(struct accesslog *al)
{
	if (al == NULL)
		return;
	if (al->fd >= 0)
		close(al->fd);
	pthread_mutex_destroy(&al->lock);
	mem_free(al->path);
	mem_free(al->dir);
	mem_free(al->base);
	mem_free(al);
}

/* The hash of the last whole line of fd's file of size sz: hex into out.
 * 0, or -1 when it cannot be read. */
static int
last_line_hash(int fd, off_t sz, char out[65])
{
	/* On the heap: this runs on a coroutine's small stack. */
	char *tail = mem_malloc(RELAY_ACCESS_LINE_MAX);
	unsigned char md[32];
	off_t from =
	    sz > RELAY_ACCESS_LINE_MAX ? sz - RELAY_ACCESS_LINE_MAX : 0;
	ssize_t n =
	    tail != NULL ? pread(fd, tail, (size_t)(sz - from), from) : -1;
	ssize_t i;
	int rc = -1;

	if (n <= 0 || tail[n - 1] != '\n')
		goto out;
	for (i = n - 2; i >= 0 && tail[i] != '\n'; i--)
		;
	if (i < 0 && from > 0)
		goto out;
	crypto_sha256(tail + i + 1, (size_t)(n - 2 - i), md);
	crypto_hex(md, 32, out);
	rc = 0;
out:
	mem_free(tail);
	return rc;
}

/* Caller holds al->lock; b is a line ending in "}\n". Chained: the line
 * gets "prev", the hash of the line before it in the file (zeros for the
 * first), found under flock(2) since every process of the host appends
 * to the file (its own last line is remembered: no read when it was the
 * last writer). */
static void
do_write(struct accesslog *al, struct buf *b)
{
	static const char zeros[] = "0000000000000000000000000000000000000000"
				    "000000000000000000000000";
	char prev[65];
	unsigned char md[32];
	struct stat st;

	if (!al->chain) {
		if (write(al->fd, b->data, b->len) < 0)
			al->writes +=
			    0; /* a full disk must not fail requests */
		return;
	}
	if (flock(al->fd, LOCK_EX) != 0)
		return;
	if (fstat(al->fd, &st) != 0)
		goto out;
	if (st.st_size == 0)
		memcpy(prev, zeros, 65);
	else if (st.st_size == al->end)
		memcpy(prev, al->last, 65);
	else if (last_line_hash(al->fd, st.st_size, prev) != 0)
	/* A torn or unreadable line before: the line is kept, and
		 * the verifier reports the break here. */
	{
		memset(prev, 'f', 64);
		prev[64] = '\0';
	}
	buf_truncate(b, b->len - 2);
	if (buf_printf(b, ",\"prev\":\"%s\"}\n", prev) != RELAY_OK)
		goto out;
	if (write(al->fd, b->data, b->len) == (ssize_t)b->len) {
		crypto_sha256(b->data, b->len - 1, md);
		crypto_hex(md, 32, al->last);
		al->end = st.st_size + (off_t)b->len;
	} else
		al->end = -1;
out:
	(void)flock(al->fd, LOCK_UN);
}

static enum relay_err
str_field(struct buf *b, const char *name, const char *v)
{
	if (v == NULL)
		v = "-";
	return buf_json_member(b, name, v, strlen(v));
}

/* Milliseconds with one decimal from seconds, without floating-point
 * formatting (a line is written per request). */
static void
ms_tenths(double seconds, long long *whole, int *tenth)
{
	long long t = seconds >= 0 ? (long long)(seconds * 10000 + 0.5) : -10;

	*whole = t / 10;
	*tenth = (int)(t < 0 ? -(t % 10) : t % 10);
}

void
accesslog_write(struct accesslog *al, const struct access_entry *e)
{
	char ip[INET6_ADDRSTRLEN + 1], ts[40], head[96], tail[320];
	long long ms, ttft;
	int ms_t, ttft_t, n;
	struct timespec now;
	struct tm tm;
	struct buf b;
	enum relay_err err;

	if (al == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	accesslog_anon_ip(e->client_ip, ip, sizeof(ip));
	ms_tenths(e->seconds, &ms, &ms_t);
	ms_tenths(e->ttft_seconds, &ttft, &ttft_t);
	buf_init(&b, RELAY_ACCESS_LINE_MAX - 80); /* room for "prev" */
	n = snprintf(head, sizeof(head), "{\"ts\":\"%s.%03ldZ\"", ts,
	    now.tv_nsec / 1000000);
	err = buf_append(&b, head, n > 0 ? (size_t)n : 0);
	if (err == RELAY_OK)
		err = str_field(&b, "id", e->id);
	if (err == RELAY_OK)
		err = str_field(&b, "key", e->key_id);
	if (err == RELAY_OK && e->end_user != NULL)
		err = str_field(&b, "end_user", e->end_user);
	if (err == RELAY_OK)
		err = str_field(&b, "route", e->route);
	if (err == RELAY_OK)
		err = str_field(&b, "dialect", e->dialect);
	if (err == RELAY_OK)
		err = str_field(&b, "model", e->model);
	if (err == RELAY_OK)
		err = str_field(&b, "provider", e->provider);
	if (err == RELAY_OK)
		err = str_field(&b, "ip", ip);
	if (err == RELAY_OK)
		err = str_field(&b, "cache", e->cache);
	if (err == RELAY_OK && e->error != NULL)
		err = str_field(&b, "error", e->error);
	if (err == RELAY_OK && e->pii != NULL)
		err = str_field(&b, "pii", e->pii);
	/* snprintf into the stack, then one copy: buf_printf() would format
	 * twice into a buffer this young. */
	n = snprintf(tail, sizeof(tail),
	    ",\"status\":%d,\"ms\":%lld.%d,\"ttft_ms\":%lld.%d,"
	    "\"in\":%lld,\"out\":%lld,\"cached\":%lld,"
	    "\"cost_usd\":%llu.%06llu,"
	    "\"attempts\":%d}\n",
	    e->status, ms, ms_t, ttft, ttft_t, e->tokens_in, e->tokens_out,
	    e->tokens_cached, (unsigned long long)(e->cost_micro_usd / 1000000),
	    (unsigned long long)(e->cost_micro_usd % 1000000), e->attempts);
	if (err == RELAY_OK)
		err = n > 0 && (size_t)n < sizeof(tail)
		    ? buf_append(&b, tail, (size_t)n)
		    : RELAY_ETOOBIG;
	if (err == RELAY_OK) {
		char day[16];

		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		pthread_mutex_lock(&al->lock);
		do_day_file(al, day, now.tv_sec);
		if (al->fd >= 0)
			do_write(al, &b);
		pthread_mutex_unlock(&al->lock);
	}
	buf_reset(&b);
}

/* One line of a chained file (p, n: without its newline) against the
 * hash expected of its "prev": 0, or -1 with why. */
static int
verify_line(const char *p, size_t n, const char *want, char *why, size_t whysz)
{
	static const char tag[] = ",\"prev\":\"";
	const size_t tail = sizeof(tag) - 1 + 64 + 2; /* tag, hex, "} */
	const char *h;

	if (n < tail + 1 || p[0] != '{' || memcmp(p + n - 2, "\"}", 2) != 0 ||
	    memcmp(p + n - tail, tag, sizeof(tag) - 1) != 0) {
		snprintf(why, whysz, "no \"prev\" hash at its end");
		return -1;
	}
	h = p + n - 66;
	if (memcmp(h, want, 64) != 0) {
		snprintf(why, whysz,
		    "\"prev\" is %.12s..., the line before hashes to %.12s...: "
		    "a line was changed, inserted or removed",
		    h, want);
		return -1;
	}
	return 0;
}

enum relay_err
accesslog_verify(const char *file, long *nlines, char *why, size_t whysz)
{
	char want[65], chunk[16384];
	unsigned char md[32];
	struct buf line;
	enum relay_err err = RELAY_OK;
	ssize_t r = 0, i, from;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	*nlines = 0;
	snprintf(why, whysz, "%s", "");
	if (fd < 0) {
		snprintf(why, whysz, "%s", strerror(errno));
		return RELAY_EIO;
	}
	memset(want, '0', 64);
	want[64] = '\0';
	buf_init(&line, RELAY_ACCESS_LINE_MAX);
	while (err == RELAY_OK && (r = read(fd, chunk, sizeof(chunk))) > 0) {
		for (from = 0, i = 0; err == RELAY_OK && i < r; i++) {
			if (chunk[i] != '\n')
				continue;
			err =
			    buf_append(&line, chunk + from, (size_t)(i - from));
			from = i + 1;
			if (err == RELAY_ETOOBIG) {
				snprintf(why, whysz, "a line over %d bytes",
				    RELAY_ACCESS_LINE_MAX);
				err = RELAY_EPROTO;
			}
			if (err != RELAY_OK)
				break;
			++*nlines;
			if (verify_line(line.data != NULL ? line.data : "",
				line.len, want, why, whysz) != 0) {
				err = RELAY_EPROTO;
				break;
			}
			crypto_sha256(line.data, line.len, md);
			crypto_hex(md, 32, want);
			buf_clear(&line);
		}
		if (err == RELAY_OK && from < r) {
			err =
			    buf_append(&line, chunk + from, (size_t)(r - from));
			if (err == RELAY_ETOOBIG) {
				snprintf(why, whysz, "a line over %d bytes",
				    RELAY_ACCESS_LINE_MAX);
				err = RELAY_EPROTO;
			}
		}
	}
	if (err == RELAY_OK && r < 0) {
		snprintf(why, whysz, "%s", strerror(errno));
		err = RELAY_EIO;
	}
	if (err == RELAY_OK && line.len > 0) {
		++*nlines;
		snprintf(why, whysz, "the last line is torn (no newline)");
		err = RELAY_EPROTO;
	}
	if (err == RELAY_EPROTO && *nlines == 0)
		*nlines = 1;
	buf_reset(&line);
	close(fd);
	return err;
}
