/* SPDX-License-Identifier: MIT */
/* test_accesslog.c - unit tests for lib/accesslog.c's day files: a file
 * of an earlier day moved to path.YYYY-MM-DD at the first write of the
 * next, files past the retention removed and nothing else, a file past
 * its size set aside under a timestamped name, never overwritten. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/accesslog.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_accesslog_XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void
age(const char *name, long seconds)
{
	char p[128];
	struct timeval tv[2];

	path_of(p, sizeof(p), name);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= seconds;
	tv[1] = tv[0];
	assert_int_equal(utimes(p, tv), 0);
}

static void
touch(const char *name, long age_s)
{
	char p[128];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("{}\n", f);
	fclose(f);
	age(name, age_s);
}

static int
exists(const char *name)
{
	char p[128];

	path_of(p, sizeof(p), name);
	return access(p, F_OK) == 0;
}

static long
size_of(const char *name)
{
	char p[128];
	struct stat st;

	path_of(p, sizeof(p), name);
	return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void
entry(struct accesslog *al, const char *id)
{
	struct access_entry e;

	memset(&e, 0, sizeof(e));
	e.id = id;
	e.status = 200;
	accesslog_write(al, &e);
}

static void
day_name(char *out, size_t n, long ago)
{
	time_t t = time(NULL) - ago;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "access.log.%Y-%m-%d", &tm);
}

static void
test_day_files_and_retention(void **state)
{
	struct accesslog *al;
	char p[128], two_days[64];

	(void)state;
	path_of(p, sizeof(p), "access.log");
	touch("access.log.2020-01-01", 200L * 86400); /* past 180 days */
	touch("access.log.2099-12-31", 10L * 86400); /* within */
	touch("other.log.2020-01-01", 400L * 86400); /* not ours */
	touch("access.logbook", 400L * 86400); /* not ours either */
	al = accesslog_open(p, 1 << 20);
	assert_non_null(al);
	entry(al, "first");
	assert_true(size_of("access.log") > 0);
	/* The live file is made two days old: the next write moves it. */
	age("access.log", 2L * 86400);
	accesslog_close(al);
	al = accesslog_open(p, 1 << 20);
	assert_non_null(al);
	entry(al, "second");
	day_name(two_days, sizeof(two_days), 2L * 86400);
	assert_true(exists(two_days));
	assert_true(exists("access.log"));
	assert_true(size_of(two_days) > size_of("access.log") - 8);
	assert_false(exists("access.log.2020-01-01"));
	assert_true(exists("access.log.2099-12-31"));
	assert_true(exists("other.log.2020-01-01"));
	assert_true(exists("access.logbook"));
	/* The same day again: nothing moves. */
	entry(al, "third");
	assert_true(exists("access.log"));
	accesslog_close(al);
}

static void
test_size_files_never_overwritten(void **state)
{
	struct accesslog *al;
	char p[128];
	int i, n = 0;
	FILE *ls;
	char line[256], cmd[128];

	(void)state;
	path_of(p, sizeof(p), "access.log");
	al = accesslog_open(p, 64);
	assert_non_null(al);
	for (i = 0; i < 200; i++)
		entry(al, "x");
	accesslog_close(al);
	snprintf(cmd, sizeof(cmd), "ls '%s'", dir);
	ls = popen(cmd, "r");
	assert_non_null(ls);
	while (fgets(line, sizeof(line), ls) != NULL)
		n += strncmp(line, "access.log.", 11) == 0 &&
		    strchr(line, 'T') != NULL;
	pclose(ls);
	/* Set aside at least once, under its timestamp, not "access.log.1". */
	assert_true(n >= 1);
	assert_false(exists("access.log.1"));
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test_setup_teardown(
		test_day_files_and_retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_size_files_never_overwritten, setup, teardown),
	};

	/* No case under the allocation-failure torture: done at once. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("accesslog", cases, NULL, NULL);
}
