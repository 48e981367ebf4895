/* SPDX-License-Identifier: MIT */
/* store.c - crash-safe file replacement (the rename(2) pattern) and
 * flock(2) writer exclusion. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "buf.h"
#include "limits.h"
#include "store.h"

/* Largest store file: bytes. */
#define STORE_MAX (64u * 1024 * 1024)

static enum relay_err
read_all(int fd, struct buf *b)
{
	char chunk[16384];
	enum relay_err err;
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return RELAY_EIO;
		if (n == 0)
			return RELAY_OK;
		err = buf_append(b, chunk, (size_t)n);
		if (err != RELAY_OK)
			return err;
	}
}

enum relay_err
store_read(
    const char *path, json_t **out, struct stat *st, char *errbuf, size_t errsz)
{
	struct buf b;
	enum relay_err err;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return RELAY_ENOTFOUND;
		snprintf(errbuf, errsz, "%s: %s", path, strerror(errno));
		return RELAY_EIO;
	}
	if (st != NULL && fstat(fd, st) != 0)
		memset(st, 0, sizeof(*st));
	buf_init(&b, STORE_MAX);
	err = read_all(fd, &b);
	close(fd);
	if (err != RELAY_OK)
		snprintf(
		    errbuf, errsz, "%s: read failed (%s)", path, err_name(err));
	else
		err = jsonx_parse(
		    b.data != NULL ? b.data : "", b.len, out, errbuf, errsz);
	buf_reset(&b);
	return err;
}

static enum relay_err
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return RELAY_EIO;
		p += w;
		n -= (size_t)w;
	}
	return RELAY_OK;
}

static enum relay_err
fsync_dir(const char *path)
{
	char copy[4096];
	int fd, rc;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return RELAY_EINVAL;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return RELAY_EIO;
	rc = fsync(fd);
	close(fd);
	return rc == 0 ? RELAY_OK : RELAY_EIO;
}

static void
ensure_dir(const char *path)
{
	char copy[4096];

	if (snprintf(copy, sizeof(copy), "%s", path) < (int)sizeof(copy))
		(void)mkdir(dirname(copy), 0700);
}

enum relay_err
store_write(const char *path, const json_t *v)
{
	char tmp[4096];
	struct buf b;
	enum relay_err err;
	int fd = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return RELAY_EINVAL;
	buf_init(&b, STORE_MAX);
	err = jsonx_dump(v, &b);
	if (err == RELAY_OK)
		err = buf_append(&b, "\n", 1);
	if (err != RELAY_OK)
		goto out;
	ensure_dir(path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = RELAY_EIO;
		goto out;
	}
	err = write_all(fd, b.data, b.len);
	if (err == RELAY_OK && fsync(fd) != 0)
		err = RELAY_EIO;
	if (close(fd) != 0 && err == RELAY_OK)
		err = RELAY_EIO;
	fd = -1;
	if (err == RELAY_OK && rename(tmp, path) != 0)
		err = RELAY_EIO;
	if (err == RELAY_OK)
		err = fsync_dir(path);
out:
	if (err != RELAY_OK)
		unlink(tmp);
	buf_reset(&b);
	return err;
}

enum relay_err
store_lock(const char *path, int *fd)
{
	char lock[4096];

	*fd = -1;
	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock))
		return RELAY_EINVAL;
	ensure_dir(path);
	*fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return RELAY_EIO;
	while (flock(*fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(*fd);
			*fd = -1;
			return RELAY_EIO;
		}
	}
	return RELAY_OK;
}

void
store_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

enum relay_err
store_update(const char *path, const char *list_key, store_update_fn fn,
    void *arg, char *errbuf, size_t errsz)
{
	json_t *doc = NULL, *list;
	enum relay_err err;
	int fd;

	err = store_lock(path, &fd);
	if (err != RELAY_OK) {
		snprintf(errbuf, errsz, "cannot lock %s", path);
		return err;
	}
	err = store_read(path, &doc, NULL, errbuf, errsz);
	if (err == RELAY_ENOTFOUND) {
		doc = json_pack("{s:i,s:[]}", "version", 1, list_key);
		err = doc != NULL ? RELAY_OK : RELAY_ENOMEM;
	}
	list = json_object_get(doc, list_key);
	if (err == RELAY_OK && !json_is_array(list)) {
		snprintf(errbuf, errsz, "%s is damaged: no \"%s\" array", path,
		    list_key);
		err = RELAY_EIO;
	}
	if (err == RELAY_OK)
		err = fn(list, arg);
	if (err == RELAY_OK) {
		err = store_write(path, doc);
		if (err != RELAY_OK)
			snprintf(errbuf, errsz, "cannot write %s", path);
	}
	json_decref(doc);
	store_unlock(fd);
	return err;
}

enum relay_err
store_read_list(const char *path, const char *list_key, json_t **doc,
    char *errbuf, size_t errsz)
{
	enum relay_err err = store_read(path, doc, NULL, errbuf, errsz);

	if (err == RELAY_ENOTFOUND) {
		*doc = json_pack("{s:[]}", list_key);
		err = *doc != NULL ? RELAY_OK : RELAY_ENOMEM;
	}
	return err;
}

int
store_changed(struct store_watch *w, const char *path, long interval_ms)
{
	struct timespec now;
	struct stat st;
	int exists;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (w->checked.tv_sec != 0 &&
	    (now.tv_sec - w->checked.tv_sec) * 1000 +
		    (now.tv_nsec - w->checked.tv_nsec) / 1000000 <
		interval_ms)
		return 0;
	w->checked = now;
	exists = stat(path, &st) == 0;
	if (exists != w->have)
		return 1;
	if (!exists)
		return 0;
	return st.st_ino != w->seen.st_ino || st.st_size != w->seen.st_size ||
	    st.st_mtim.tv_sec != w->seen.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != w->seen.st_mtim.tv_nsec ||
	    st.st_ctim.tv_sec != w->seen.st_ctim.tv_sec ||
	    st.st_ctim.tv_nsec != w->seen.st_ctim.tv_nsec;
}

void
store_seen(struct store_watch *w, const struct stat *st)
{
	w->have = st != NULL;
	if (st != NULL)
		w->seen = *st;
}
