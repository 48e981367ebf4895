/* SPDX-License-Identifier: MIT */
/* ledger.c - append-only JSON lines; the report reads them back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonx.h"
#include "ledger.h"
#include "mem.h"
#include "num.h"

struct ledger {
	pthread_mutex_t lock;
	char *dir;
	char host[64];
	char day[16]; /* the day fd is for */
	int fd;
};

struct ledger *
ledger_open(const char *dir)
{
	struct ledger *l;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return NULL;
	l = mem_calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->dir = mem_strdup(dir);
	l->fd = -1;
	if (gethostname(l->host, sizeof(l->host)) != 0 ||
	    strpbrk(l->host, "/.") != NULL)
		snprintf(l->host, sizeof(l->host), "host");
	pthread_mutex_init(&l->lock, NULL);
	if (l->dir == NULL) {
		ledger_close(l);
		return NULL;
	}
	return l;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	pthread_mutex_destroy(&l->lock);
	mem_free(l->dir);
	mem_free(l);
}

/* Caller holds l->lock: the file of today. */
static void
do_day_file(struct ledger *l, const char *day)
{
	char path[4096];

	if (l->fd >= 0 && strcmp(l->day, day) == 0)
		return;
	if (l->fd >= 0)
		close(l->fd);
	snprintf(l->day, sizeof(l->day), "%s", day);
	if (snprintf(path, sizeof(path), "%s/%s.%s.jsonl", l->dir, day,
		l->host) >= (int)sizeof(path)) {
		l->fd = -1;
		return;
	}
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

void
ledger_record(struct ledger *l, const char *key_id, const char *end_user,
    const char *model, long long tokens_in, long long tokens_out,
    uint64_t cost_micro_usd, int cache_hit)
{
	char day[16], line[1200];
	time_t now = time(NULL);
	struct tm tm;
	struct buf k, m, u;
	int n;

	if (l == NULL)
		return;
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	buf_init(&k, 128);
	buf_init(&m, 1024);
	buf_init(&u, 160);
	if (buf_json_escape(&k, key_id, strlen(key_id)) != RELAY_OK ||
	    buf_json_escape(&m, model, strlen(model)) != RELAY_OK ||
	    (end_user != NULL &&
		(buf_puts(&u, ",\"user\":\"") != RELAY_OK ||
		    buf_json_escape(&u, end_user, strlen(end_user)) !=
			RELAY_OK ||
		    buf_puts(&u, "\"") != RELAY_OK)))
		goto out;
	n = snprintf(line, sizeof(line),
	    "{\"ts\":%lld,\"key\":\"%s\"%s,\"model\":\"%s\",\"in\":%lld,"
	    "\"out\":%lld,\"cost\":%llu,\"hit\":%d}\n",
	    (long long)now, k.data, u.len > 0 ? u.data : "", m.data, tokens_in,
	    tokens_out,
	    /* A saturated cost as the largest a JSON reader takes back
	     * (jansson refuses integers past 2^63-1: the line would be
	     * skipped as torn, and its spending lost from the report). */
	    cost_micro_usd > (uint64_t)LLONG_MAX
		? (unsigned long long)LLONG_MAX
		: (unsigned long long)cost_micro_usd,
	    cache_hit ? 1 : 0);
	if (n <= 0 || (size_t)n >= sizeof(line))
		goto out;
	pthread_mutex_lock(&l->lock);
	do_day_file(l, day);
	if (l->fd >= 0 && write(l->fd, line, (size_t)n) != n)
		l->day[0] = '\0'; /* reopen next time */
	pthread_mutex_unlock(&l->lock);
out:
	buf_reset(&k);
	buf_reset(&m);
	buf_reset(&u);
}

static int
valid_day(const char *d)
{
	static const char shape[] = "dddd-dd-dd";
	size_t i;

	if (strlen(d) != 10)
		return 0;
	for (i = 0; i < 10; i++)
		if (shape[i] == 'd' ? (d[i] < '0' || d[i] > '9') : d[i] != '-')
			return 0;
	return 1;
}

/* Add one line's counts to the (day, key, model) row of agg. */
static enum relay_err
add_line(json_t *agg, const char *day, const char *p, size_t n)
{
	char jerr[32], id[1400];
	json_t *v = NULL, *row;
	const char *key, *model, *user;
	enum relay_err err;

	if (jsonx_parse(p, n, &v, jerr, sizeof(jerr)) != RELAY_OK)
		return RELAY_OK; /* a torn line: skipped */
	key = json_string_value(json_object_get(v, "key"));
	model = json_string_value(json_object_get(v, "model"));
	/* A tier key's end user: a row of its own (the lower tier's key). */
	user = json_string_value(json_object_get(v, "user"));
	err = RELAY_OK;
	if (key != NULL && model != NULL &&
	    snprintf(id, sizeof(id), "%s\t%s\t%s\t%s", day, key,
		user != NULL ? user : "", model) < (int)sizeof(id)) {
		row = json_object_get(agg, id);
		if (row == NULL) {
			row = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I}",
			    "day", day, "key", key, "model", model, "requests",
			    (json_int_t)0, "cache_hits", (json_int_t)0,
			    "tokens_in", (json_int_t)0, "tokens_out",
			    (json_int_t)0, "cost", (json_int_t)0);
			if (row != NULL && user != NULL &&
			    json_object_set_new(
				row, "end_user", json_string(user)) != 0) {
				json_decref(row);
				row = NULL;
			}
			if (row == NULL ||
			    json_object_set_new(agg, id, row) != 0)
				err = RELAY_ENOMEM;
		}
		if (err == RELAY_OK) {
			static const char *const f[][2] = {{"tokens_in", "in"},
			    {"tokens_out", "out"}, {"cost", "cost"},
			    {"cache_hits", "hit"}};
			size_t i;

			/* Sums saturate: a line's numbers are ours, but a
			 * large one plus the row must not overflow. */
			json_object_set_new(row, "requests",
			    json_integer(num_addll_sat(
				json_integer_value(
				    json_object_get(row, "requests")),
				1)));
			for (i = 0; i < 4; i++)
				json_object_set_new(row, f[i][0],
				    json_integer(num_addll_sat(
					json_integer_value(
					    json_object_get(row, f[i][0])),
					json_integer_value(
					    json_object_get(v, f[i][1])))));
		}
	}
	json_decref(v);
	return err;
}

static enum relay_err
read_file(json_t *agg, const char *path, const char *day)
{
	struct buf b;
	char chunk[16384];
	enum relay_err err = RELAY_OK;
	size_t start = 0, i;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return RELAY_EIO;
	buf_init(&b, 256u * 1024 * 1024);
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r <= 0 || err != RELAY_OK)
			break;
		err = buf_append(&b, chunk, (size_t)r);
	}
	close(fd);
	for (i = 0; err == RELAY_OK && i < b.len; i++)
		if (b.data[i] == '\n') {
			if (i > start)
				err = add_line(
				    agg, day, b.data + start, i - start);
			start = i + 1;
		}
	buf_reset(&b);
	return err;
}

static enum relay_err
render(json_t *agg, int csv, struct buf *out)
{
	json_t *list = json_array(), *row, *doc;
	const char *k;
	enum relay_err err = RELAY_OK;

	if (list == NULL)
		return RELAY_ENOMEM;
	if (csv)
		err = buf_puts(out,
		    "day,key,model,requests,cache_hits,tokens_in,"
		    "tokens_out,cost_usd,end_user\n");
	json_object_foreach (agg, k, row) {
		double usd =
		    (double)json_integer_value(json_object_get(row, "cost")) /
		    1e6;

		if (err != RELAY_OK)
			break;
		json_object_set_new(row, "cost_usd", json_real(usd));
		json_object_del(row, "cost");
		if (csv)
			err = buf_printf(out,
			    "%s,%s,%s,%lld,%lld,%lld,%lld,%.6f,%s\n",
			    json_string_value(json_object_get(row, "day")),
			    json_string_value(json_object_get(row, "key")),
			    json_string_value(json_object_get(row, "model")),
			    (long long)json_integer_value(
				json_object_get(row, "requests")),
			    (long long)json_integer_value(
				json_object_get(row, "cache_hits")),
			    (long long)json_integer_value(
				json_object_get(row, "tokens_in")),
			    (long long)json_integer_value(
				json_object_get(row, "tokens_out")),
			    usd,
			    json_is_string(json_object_get(row, "end_user"))
				? json_string_value(
				      json_object_get(row, "end_user"))
				: "");
		else if (json_array_append(list, row) != 0)
			err = RELAY_ENOMEM;
	}
	if (err == RELAY_OK && !csv) {
		doc = json_pack("{s:s,s:O}", "object", "list", "data", list);
		err = doc != NULL ? jsonx_dump(doc, out) : RELAY_ENOMEM;
		json_decref(doc);
	}
	json_decref(list);
	return err;
}

enum relay_err
ledger_report(
    const char *dir, const char *from, const char *to, int csv, struct buf *out)
{
	char path[4096], day[11];
	struct dirent *de;
	enum relay_err err = RELAY_OK;
	json_t *agg;
	DIR *d;

	if (!valid_day(from) || !valid_day(to))
		return RELAY_EINVAL;
	agg = json_object();
	if (agg == NULL)
		return RELAY_ENOMEM;
	d = opendir(dir);
	for (;;) {
		size_t n;

		de = d != NULL && err == RELAY_OK ? readdir(d) : NULL;
		if (de == NULL)
			break;
		n = strlen(de->d_name);
		if (n < 17 || strcmp(de->d_name + n - 6, ".jsonl") != 0)
			continue;
		memcpy(day, de->d_name, 10);
		day[10] = '\0';
		if (!valid_day(day) || strcmp(day, from) < 0 ||
		    strcmp(day, to) > 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) <
		    (int)sizeof(path))
			err = read_file(agg, path, day);
	}
	if (d != NULL)
		closedir(d);
	if (err == RELAY_OK)
		err = render(agg, csv, out);
	json_decref(agg);
	return err;
}
