/* SPDX-License-Identifier: MIT */
/* promptlog.c - masked prompts and answers in hourly files, purged after
 * the retention. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"
#include "mem.h"
#include "pii.h"
#include "promptlog.h"

struct promptlog {
	pthread_mutex_t lock;
	char *dir;
	char host[64];
	char hour[16]; /* "YYYY-MM-DDTHH" the fd is for */
	int fd;
	time_t swept; /* the last sweep (atomic) */
};

struct promptlog *
promptlog_open(const char *dir)
{
	struct promptlog *pl = mem_calloc(1, sizeof(*pl));

	if (pl == NULL)
		return NULL;
	pl->dir = mem_strdup(dir);
	pl->fd = -1;
	if (gethostname(pl->host, sizeof(pl->host)) != 0 ||
	    strpbrk(pl->host, "/.") != NULL)
		snprintf(pl->host, sizeof(pl->host), "host");
	pthread_mutex_init(&pl->lock, NULL);
	if (pl->dir == NULL) {
		promptlog_close(pl);
		return NULL;
	}
	return pl;
}

void
promptlog_close(struct promptlog *pl)
{
	if (pl == NULL)
		return;
	if (pl->fd >= 0)
		close(pl->fd);
	pthread_mutex_destroy(&pl->lock);
	mem_free(pl->dir);
	mem_free(pl);
}

/* The hour a file name "YYYY-MM-DDTHH.*" is for, or -1. */
static time_t
file_hour(const char *name)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(name, "%Y-%m-%dT%H", &tm);
	if (end == NULL || *end != '.' || strlen(name) < 20 ||
	    strcmp(name + strlen(name) - 6, ".jsonl") != 0)
		return -1;
	return timegm(&tm);
}

int
promptlog_sweep(struct promptlog *pl, long retention_h)
{
	char path[4096];
	struct dirent *de;
	time_t now = time(NULL), h;
	int removed = 0;
	time_t last = __atomic_load_n(&pl->swept, __ATOMIC_RELAXED);
	DIR *d;

	/* Called on every request: one thread a minute gets to sweep, the
	 * others pass by without a lock. */
	if (now - last < RELAY_PROMPT_LOG_SWEEP_S ||
	    !__atomic_compare_exchange_n(
		&pl->swept, &last, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return 0;
	d = opendir(pl->dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		h = file_hour(de->d_name);
		/* The file covers [h, h + 1h): gone once its last line is
		 * older than the retention. */
		if (h < 0 || h + 3600 + retention_h * 3600 > now)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", pl->dir, de->d_name) <
			(int)sizeof(path) &&
		    unlink(path) == 0)
			removed++;
	}
	closedir(d);
	if (removed > 0)
		log_info("prompt log: %d file(s) past %ldh removed", removed,
		    retention_h);
	return removed;
}

static enum relay_err
plain_field(struct buf *b, const char *name, const char *v)
{
	if (v == NULL)
		v = "-";
	return buf_json_member(b, name, v, strlen(v));
}

static enum relay_err
masked_field(struct buf *b, const char *name, struct span v)
{
	struct buf m;
	enum relay_err err;

	buf_init(&m, 2 * v.len + 64);
	err = pii_mask(v.p != NULL ? v.p : "", v.len, &m);
	if (err == RELAY_OK)
		err = buf_json_member(
		    b, name, m.data != NULL ? m.data : "", m.len);
	buf_reset(&m);
	return err;
}

void
promptlog_write(struct promptlog *pl, const char *id, const char *key_id,
    const char *model, int status, struct span request, struct span answer)
{
	char hour[16], path[4096], ts[32];
	time_t now = time(NULL);
	struct tm tm;
	struct buf b;
	enum relay_err err;

	if (pl == NULL)
		return;
	gmtime_r(&now, &tm);
	strftime(hour, sizeof(hour), "%Y-%m-%dT%H", &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_init(&b, 4 * (request.len + answer.len) + 4096);
	err = buf_printf(&b, "{\"ts\":\"%s\"", ts);
	/* Our own request id, key id and model name: plain. */
	if (err == RELAY_OK)
		err = plain_field(&b, "id", id);
	if (err == RELAY_OK)
		err = plain_field(&b, "key", key_id);
	if (err == RELAY_OK)
		err = plain_field(&b, "model", model);
	if (err == RELAY_OK)
		err = buf_printf(&b, ",\"status\":%d", status);
	if (err == RELAY_OK)
		err = masked_field(&b, "request", request);
	if (err == RELAY_OK)
		err = masked_field(&b, "answer", answer);
	if (err == RELAY_OK)
		err = buf_append(&b, "}\n", 2);
	pthread_mutex_lock(&pl->lock);
	if (err == RELAY_OK && (pl->fd < 0 || strcmp(pl->hour, hour) != 0)) {
		if (pl->fd >= 0)
			close(pl->fd);
		snprintf(pl->hour, sizeof(pl->hour), "%s", hour);
		if (mkdir(pl->dir, 0700) != 0 && errno != EEXIST)
			log_warn("prompt log %s: %s", pl->dir, strerror(errno));
		pl->fd = snprintf(path, sizeof(path), "%s/%s.%s.jsonl", pl->dir,
			     hour, pl->host) < (int)sizeof(path)
		    ? open(
			  path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)
		    : -1;
	}
	if (err == RELAY_OK && pl->fd >= 0 &&
	    write(pl->fd, b.data, b.len) != (ssize_t)b.len)
		pl->hour[0] = '\0'; /* reopen next time */
	pthread_mutex_unlock(&pl->lock);
	buf_reset(&b);
}
