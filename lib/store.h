/* SPDX-License-Identifier: MIT */
/* store.h - durable JSON files: atomic replacement (write, fsync, rename,
 * fsync the directory), exclusive writers, and change polling for readers. */
#ifndef RELAY_STORE_H
#define RELAY_STORE_H

#include <sys/stat.h>
#include <time.h>

#include "compiler.h"
#include "err.h"
#include "jsonx.h"

/*
 * Read the JSON document at path into *out (a new reference). RELAY_OK,
 * RELAY_ENOTFOUND when the file does not exist, RELAY_EIO or RELAY_EINVAL
 * (reason in errbuf) otherwise. st, when not NULL, receives the file's
 * stat as read (for store_changed()).
 */
enum relay_err store_read(const char *path, json_t **out, struct stat *st,
    char *errbuf, size_t errsz) RELAY_MUST_CHECK;

/*
 * Replace path with v, mode 0600, so that after a crash at any point the
 * file holds either the old or the new document, never a mix: the new
 * text goes to a temporary file in the same directory, is fsync'ed,
 * renamed over path, and the directory is fsync'ed. Creates the directory
 * (0700) when missing. Hold store_lock() around read-modify-write.
 */
enum relay_err store_write(const char *path, const json_t *v) RELAY_MUST_CHECK;

/* Take the exclusive writer lock of path (flock on "path.lock"); blocks
 * until free. *fd receives the lock to pass to store_unlock(). */
enum relay_err store_lock(const char *path, int *fd) RELAY_MUST_CHECK;
void store_unlock(int fd);

/* Called with the document's array under list_key; returns RELAY_OK to
 * have the document written back. */
typedef enum relay_err (*store_update_fn)(json_t *list, void *arg);

/*
 * Locked read-modify-write of the document at path: lock, read (a missing
 * file is {"version":1, list_key:[]}), call fn on its list_key array, and
 * write it back atomically when fn returned RELAY_OK. fn's error is
 * returned as is; RELAY_EIO (reason in errbuf) when the file cannot be
 * locked, read or written.
 */
enum relay_err store_update(const char *path, const char *list_key,
    store_update_fn fn, void *arg, char *errbuf, size_t errsz) RELAY_MUST_CHECK;

/* Read the document at path (a missing file is {list_key:[]}) into *doc.
 * Errors as store_read(). */
enum relay_err store_read_list(const char *path, const char *list_key,
    json_t **doc, char *errbuf, size_t errsz) RELAY_MUST_CHECK;

/* What a reader last saw of a file. Zero it to start. */
struct store_watch {
	struct stat seen;
	struct timespec checked; /* CLOCK_MONOTONIC */
	int have; /* seen is valid (the file existed) */
};

/*
 * 1 when path differs (appeared, vanished, or another inode, size or
 * mtime) from what w last saw, looked at no more than once per
 * interval_ms; 0 otherwise. Call store_seen() after loading it.
 */
int store_changed(struct store_watch *w, const char *path, long interval_ms);
/* Record st (NULL: the file is absent) as seen. */
void store_seen(struct store_watch *w, const struct stat *st);

#endif
