/* SPDX-License-Identifier: MIT */
/* accesslog.c - size-rotated JSON lines. Rotation: the process that sees
 * the file past its limit renames it to path.1 under flock(path.lock);
 * every process notices the new inode on its next write and reopens. */
#include <arpa/inet.h>
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
#include "mem.h"

struct accesslog {
	pthread_mutex_t lock;
	char *path;
	long long max;
	int fd;
	ino_t ino;
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

static int
open_log(struct accesslog *al)
{
	struct stat st;

	al->fd =
	    open(al->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (al->fd < 0 || fstat(al->fd, &st) != 0)
		return -1;
	al->ino = st.st_ino;
	return 0;
}

struct accesslog *
accesslog_open(const char *path, long long max_bytes)
{
	struct accesslog *al = mem_calloc(1, sizeof(*al));

	if (al == NULL)
		return NULL;
	al->path = mem_strdup(path);
	al->max = max_bytes;
	pthread_mutex_init(&al->lock, NULL);
	if (al->path == NULL || open_log(al) != 0) {
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
	mem_free(al);
}

/* Caller holds al->lock: rotate when too big, reopen when rotated. */
static void
do_maybe_rotate(struct accesslog *al)
{
	char lock[4096], old[4096];
	struct stat st, cur;
	int lfd;

	if (++al->writes % 64 != 0 && al->writes != 1)
		return;
	if (stat(al->path, &st) == 0 && st.st_ino == al->ino &&
	    st.st_size < al->max)
		return;
	if (snprintf(lock, sizeof(lock), "%s.lock", al->path) >=
		(int)sizeof(lock) ||
	    snprintf(old, sizeof(old), "%s.1", al->path) >= (int)sizeof(old))
		return;
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd >= 0 && flock(lfd, LOCK_EX) == 0 && stat(al->path, &cur) == 0 &&
	    cur.st_size >= al->max)
		(void)rename(al->path, old); /* the other writers follow */
	if (lfd >= 0)
		close(lfd);
	close(al->fd);
	if (open_log(al) != 0)
		al->fd = -1;
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
	buf_init(&b, 8192);
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
	/* snprintf into the stack, then one copy: buf_printf() would format
	 * twice into a buffer this young. */
	n = snprintf(tail, sizeof(tail),
	    ",\"status\":%d,\"ms\":%lld.%d,\"ttft_ms\":%lld.%d,"
	    "\"in\":%lld,\"out\":%lld,\"cost_usd\":%llu.%06llu,"
	    "\"attempts\":%d}\n",
	    e->status, ms, ms_t, ttft, ttft_t, e->tokens_in, e->tokens_out,
	    (unsigned long long)(e->cost_micro_usd / 1000000),
	    (unsigned long long)(e->cost_micro_usd % 1000000), e->attempts);
	if (err == RELAY_OK)
		err = n > 0 && (size_t)n < sizeof(tail)
		    ? buf_append(&b, tail, (size_t)n)
		    : RELAY_ETOOBIG;
	if (err == RELAY_OK) {
		pthread_mutex_lock(&al->lock);
		do_maybe_rotate(al);
		if (al->fd >= 0 && write(al->fd, b.data, b.len) < 0)
			al->writes +=
			    0; /* a full disk must not fail requests */
		pthread_mutex_unlock(&al->lock);
	}
	buf_reset(&b);
}
