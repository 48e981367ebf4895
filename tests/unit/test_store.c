/* SPDX-License-Identifier: MIT */
/* test_store.c - unit tests for lib/store.c: atomic replacement (mode,
 * directory, no temporary left), locked read-modify-write under 8 racing
 * threads, and change polling; the oom-safe group also runs under
 * RELAY_FAIL_ALLOC. */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/mem.h"
#include "../../lib/store.c"

#include "oom_test.h"

/* Under torture RELAY_ENOMEM ends the case through its cleanup at out:. */
#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

/* A fresh directory per case, removed with its files afterwards. */
static char dir[64];

static void
mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void
rm_tree(const char *d)
{
	char p[512];
	struct dirent *e;
	struct stat st;
	DIR *dp = opendir(d);

	if (dp == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(dp);
	rmdir(d);
}

/* Files in d whose name holds ".tmp.". */
static int
count_tmp(const char *d)
{
	struct dirent *e;
	DIR *dp = opendir(d);
	int n = 0;

	assert_non_null(dp);
	while ((e = readdir(dp)) != NULL)
		if (strstr(e->d_name, ".tmp.") != NULL)
			n++;
	closedir(dp);
	return n;
}

static int
dir_setup(void **state)
{
	(void)state;
	mkdir_tmp();
	return 0;
}

static int
dir_teardown(void **state)
{
	(void)state;
	rm_tree(dir);
	return 0;
}

static int
oom_dir_setup(void **state)
{
	dir_setup(state);
	return oom_setup(state);
}

static int
oom_dir_teardown(void **state)
{
	oom_teardown(state);
	return dir_teardown(state);
}

#define OOM_DIR_CASE(f)                                                        \
	cmocka_unit_test_setup_teardown(f, oom_dir_setup, oom_dir_teardown)
#define DIR_CASE(f) cmocka_unit_test_setup_teardown(f, dir_setup, dir_teardown)

static void
slurp(const char *path, char *out, size_t outsz)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, out, outsz - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
}

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_write_read_round_trip(void **state)
{
	char path[128], eb[256] = "";
	json_t *v = NULL, *back = NULL;
	struct stat st, st2;

	(void)state;
	snprintf(path, sizeof(path), "%s/doc.json", dir);
	v = json_pack("{s:i,s:[s,s],s:s}", "version", 1, "keys", "a", "b",
	    "name", "caf\xc3\xa9");
	if (v == NULL && oom_n != 0)
		goto out;
	assert_non_null(v);
	TRY(store_write(path, v), RELAY_OK);
	TRY(store_read(path, &back, &st, eb, sizeof(eb)), RELAY_OK);
	assert_true(json_equal(v, back));
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st.st_ino == st2.st_ino);
	assert_true(st.st_size == st2.st_size);
	assert_int_equal(count_tmp(dir), 0);
out:
	json_decref(v);
	json_decref(back);
}

static enum relay_err
fn_append(json_t *list, void *arg)
{
	(void)arg;
	return json_array_append_new(list, json_integer(7)) == 0 ? RELAY_OK
								 : RELAY_ENOMEM;
}

static enum relay_err
fn_fail(json_t *list, void *arg)
{
	int *called = arg;

	*called = 1;
	/* Change the document, then refuse: nothing may reach the disk. */
	if (json_array_clear(list) != 0 ||
	    json_array_append_new(list, json_string("junk")) != 0)
		return RELAY_ENOMEM;
	return RELAY_EINVAL;
}

static void
test_update_creates_document(void **state)
{
	char path[128], eb[256] = "";
	json_t *doc = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	TRY(store_update(path, "keys", fn_append, NULL, eb, sizeof(eb)),
	    RELAY_OK);
	TRY(store_read(path, &doc, NULL, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(
	    json_integer_value(json_object_get(doc, "version")), 1);
	assert_int_equal(json_array_size(json_object_get(doc, "keys")), 1);
	assert_int_equal(
	    json_integer_value(json_array_get(json_object_get(doc, "keys"), 0)),
	    7);
	assert_int_equal(count_tmp(dir), 0);
out:
	json_decref(doc);
}

static void
test_read_list_missing(void **state)
{
	char path[128], eb[256] = "";
	json_t *doc = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/absent.json", dir);
	TRY(store_read_list(path, "credentials", &doc, eb, sizeof(eb)),
	    RELAY_OK);
	assert_true(json_is_array(json_object_get(doc, "credentials")));
	assert_int_equal(
	    json_array_size(json_object_get(doc, "credentials")), 0);
	/* Reading creates nothing. */
	assert_int_equal(access(path, F_OK), -1);
out:
	json_decref(doc);
}

/* --- other cases ---------------------------------------------------- */

static void
test_mode_and_directory(void **state)
{
	char path[160], sub[128];
	json_t *v = json_pack("{s:i}", "version", 1);
	struct stat st;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/state", dir);
	snprintf(path, sizeof(path), "%s/keys.json", sub);
	assert_int_equal(access(sub, F_OK), -1);
	umask(022);
	assert_int_equal(store_write(path, v), RELAY_OK);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A replacement keeps 0600 even over a file that was widened. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(store_write(path, v), RELAY_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_tmp(sub), 0);
	json_decref(v);
}

static void
test_update_failing_fn_leaves_file(void **state)
{
	char path[128], eb[256] = "", before[4096], after[4096];
	json_t *v = json_pack("{s:i,s:[i,i]}", "version", 1, "keys", 1, 2);
	struct stat st1, st2;
	int called = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	assert_int_equal(store_write(path, v), RELAY_OK);
	slurp(path, before, sizeof(before));
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(
	    store_update(path, "keys", fn_fail, &called, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_true(called);
	slurp(path, after, sizeof(after));
	assert_string_equal(before, after);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st1.st_ino == st2.st_ino);
	assert_int_equal(count_tmp(dir), 0);
	json_decref(v);
}

static void
test_update_damaged_document(void **state)
{
	char path[128], eb[256] = "";
	json_t *v = json_pack("{s:i,s:{}}", "version", 1, "keys");
	int called = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	assert_int_equal(store_write(path, v), RELAY_OK);
	assert_int_equal(
	    store_update(path, "keys", fn_fail, &called, eb, sizeof(eb)),
	    RELAY_EIO);
	assert_false(called);
	assert_non_null(strstr(eb, "damaged"));
	json_decref(v);
	/* Invalid JSON: the parser's error, fn never called. */
	{
		int fd = open(path, O_WRONLY | O_TRUNC);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "{\"keys\":[", 9), 9);
		close(fd);
	}
	eb[0] = '\0';
	assert_int_equal(
	    store_update(path, "keys", fn_fail, &called, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_false(called);
	assert_true(eb[0] != '\0');
}

static void
test_read_errors(void **state)
{
	char path[128], eb[256] = "";
	json_t *doc = (json_t *)1;

	(void)state;
	snprintf(path, sizeof(path), "%s/none.json", dir);
	assert_int_equal(
	    store_read(path, &doc, NULL, eb, sizeof(eb)), RELAY_ENOTFOUND);
	assert_null(doc);
	/* A directory cannot be read as a document. */
	assert_int_equal(
	    store_read(dir, &doc, NULL, eb, sizeof(eb)), RELAY_EIO);
	assert_null(doc);
	assert_true(eb[0] != '\0');
}

struct racer {
	const char *path;
	int errors;
};

static enum relay_err
fn_increment(json_t *list, void *arg)
{
	json_t *c = json_array_get(list, 0);

	(void)arg;
	if (c == NULL)
		return json_array_append_new(list, json_integer(1)) == 0
		    ? RELAY_OK
		    : RELAY_ENOMEM;
	return json_integer_set(c, json_integer_value(c) + 1) == 0
	    ? RELAY_OK
	    : RELAY_EINVAL;
}

static void *
race(void *arg)
{
	struct racer *r = arg;
	char eb[256];
	int i;

	for (i = 0; i < 50; i++)
		if (store_update(r->path, "n", fn_increment, NULL, eb,
			sizeof(eb)) != RELAY_OK)
			r->errors++;
	return NULL;
}

static void
test_update_concurrent_exact(void **state)
{
	char path[128], eb[256] = "";
	struct racer r[8];
	pthread_t th[8];
	json_t *doc = NULL;
	int i;

	(void)state;
	snprintf(path, sizeof(path), "%s/counter.json", dir);
	for (i = 0; i < 8; i++) {
		r[i].path = path;
		r[i].errors = 0;
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].errors, 0);
	}
	assert_int_equal(
	    store_read(path, &doc, NULL, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(
	    json_integer_value(json_array_get(json_object_get(doc, "n"), 0)),
	    400);
	assert_int_equal(count_tmp(dir), 0);
	json_decref(doc);
}

static void
test_changed_same_second(void **state)
{
	char path[128], eb[256] = "";
	struct store_watch w;
	json_t *v = json_pack("{s:i}", "version", 1), *doc = NULL;
	struct stat st;

	(void)state;
	memset(&w, 0, sizeof(w));
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	/* Absent and never seen: no change. */
	assert_int_equal(store_changed(&w, path, 0), 0);
	assert_int_equal(store_write(path, v), RELAY_OK);
	assert_int_equal(store_changed(&w, path, 0), 1); /* appeared */
	assert_int_equal(store_read(path, &doc, &st, eb, sizeof(eb)), RELAY_OK);
	json_decref(doc);
	store_seen(&w, &st);
	assert_int_equal(store_changed(&w, path, 0), 0);
	/* The same bytes again, at once: a new inode all the same. */
	assert_int_equal(store_write(path, v), RELAY_OK);
	assert_int_equal(store_changed(&w, path, 0), 1);
	assert_int_equal(store_read(path, &doc, &st, eb, sizeof(eb)), RELAY_OK);
	json_decref(doc);
	store_seen(&w, &st);
	assert_int_equal(store_changed(&w, path, 0), 0);
	/* Vanished. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_changed(&w, path, 0), 1);
	store_seen(&w, NULL);
	assert_int_equal(store_changed(&w, path, 0), 0);
	json_decref(v);
}

static void
test_changed_interval(void **state)
{
	char path[128], eb[256] = "";
	struct store_watch w;
	json_t *v = json_pack("{s:i}", "version", 1), *doc = NULL;
	struct stat st;

	(void)state;
	memset(&w, 0, sizeof(w));
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	assert_int_equal(store_write(path, v), RELAY_OK);
	assert_int_equal(store_read(path, &doc, &st, eb, sizeof(eb)), RELAY_OK);
	json_decref(doc);
	store_seen(&w, &st);
	assert_int_equal(store_changed(&w, path, 200), 0); /* looked now */
	assert_int_equal(store_write(path, v), RELAY_OK);
	/* Within the interval the file is not looked at. */
	assert_int_equal(store_changed(&w, path, 200), 0);
	assert_int_equal(store_changed(&w, path, 200), 0);
	usleep(250 * 1000);
	assert_int_equal(store_changed(&w, path, 200), 1);
	/* Having looked, the next look waits again. */
	assert_int_equal(store_changed(&w, path, 200), 0);
	json_decref(v);
}

static void
test_lock_excludes(void **state)
{
	char path[128];
	int a = -1, b = -1, fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	assert_int_equal(store_lock(path, &a), RELAY_OK);
	assert_true(a >= 0);
	/* Another open file description cannot take it meanwhile. */
	{
		char lock[160];

		snprintf(lock, sizeof(lock), "%s.lock", path);
		fd = open(lock, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
		close(fd);
	}
	store_unlock(a);
	assert_int_equal(store_lock(path, &b), RELAY_OK);
	store_unlock(b);
	store_unlock(-1); /* accepted */
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_DIR_CASE(test_write_read_round_trip),
	    OOM_DIR_CASE(test_update_creates_document),
	    OOM_DIR_CASE(test_read_list_missing),
	};
	const struct CMUnitTest cases[] = {
	    DIR_CASE(test_mode_and_directory),
	    DIR_CASE(test_update_failing_fn_leaves_file),
	    DIR_CASE(test_update_damaged_document),
	    DIR_CASE(test_read_errors),
	    DIR_CASE(test_update_concurrent_exact),
	    DIR_CASE(test_changed_same_second),
	    DIR_CASE(test_changed_interval),
	    DIR_CASE(test_lock_excludes),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "store (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("store", cases, NULL, NULL);
	return oom_exit(failed);
}
