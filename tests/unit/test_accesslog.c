/* SPDX-License-Identifier: MIT */
/* test_accesslog.c - unit tests for lib/accesslog.c: day files behind a
 * symlink, the retention that deletes old day files (and nothing else),
 * a plain file from before kept aside, and the hash chain: intact across
 * two writers (two processes' handles) and broken by a changed, removed
 * or torn line, or by a file written without it. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/accesslog.h"
#include "../../lib/err.h"

#include "oom_test.h"

static char dir[64], logp[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_accesslog.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(logp, sizeof(logp), "%s/access.log", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
today_file(char *out, size_t n, long days_ago)
{
	time_t t = time(NULL) - days_ago * 86400;
	struct tm tm;
	char day[16];

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(out, n, "%s.%s", logp, day);
}

static void
line(struct accesslog *al, const char *id)
{
	struct access_entry e;

	memset(&e, 0, sizeof(e));
	e.id = id;
	e.route = "chat";
	e.status = 200;
	e.ttft_seconds = -1;
	accesslog_write(al, &e);
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *
slurp(const char *path)
{
	static char b[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(b, 1, sizeof(b) - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

static long
verify(const char *file, enum relay_err want)
{
	char why[256];
	long n = -1;

	assert_int_equal(accesslog_verify(file, &n, why, sizeof(why)), want);
	return n;
}

static void
test_day_file_and_link(void **state)
{
	struct accesslog *al;
	char today[256], target[256];
	ssize_t n;

	(void)state;
	al = accesslog_open(logp, 180, 0);
	assert_non_null(al);
	line(al, "r1");
	accesslog_close(al);
	today_file(today, sizeof(today), 0);
	assert_non_null(strstr(slurp(today), "\"id\":\"r1\""));
	n = readlink(logp, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, strrchr(today, '/') + 1);
	/* Readers of the old name read today's lines. */
	assert_non_null(strstr(slurp(logp), "\"id\":\"r1\""));
	assert_null(strstr(slurp(today), "prev"));
}

static void
test_plain_file_kept_aside(void **state)
{
	struct accesslog *al;
	char old[160];
	struct stat st;

	(void)state;
	put(logp, "{\"id\":\"before\"}\n");
	al = accesslog_open(logp, 180, 0);
	assert_non_null(al);
	accesslog_close(al);
	snprintf(old, sizeof(old), "%s.old", logp);
	assert_string_equal(slurp(old), "{\"id\":\"before\"}\n");
	assert_int_equal(lstat(logp, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

static void
test_retention(void **state)
{
	char ancient[256], recent[256], edge[256], other[256], odd[256];
	struct accesslog *al;

	(void)state;
	snprintf(ancient, sizeof(ancient), "%s.2000-01-01", logp);
	today_file(edge, sizeof(edge), 31); /* just past 30 days */
	today_file(recent, sizeof(recent), 29);
	snprintf(other, sizeof(other), "%s/ledger.2000-01-01", dir);
	snprintf(odd, sizeof(odd), "%s.2000-01-01.bak", logp);
	put(ancient, "x\n");
	put(edge, "x\n");
	put(recent, "x\n");
	put(other, "x\n");
	put(odd, "x\n");
	al = accesslog_open(logp, 30, 0);
	assert_non_null(al);
	accesslog_close(al);
	assert_int_equal(access(ancient, F_OK), -1);
	assert_int_equal(access(edge, F_OK), -1);
	assert_int_equal(access(recent, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
	assert_int_equal(access(odd, F_OK), 0);
	/* 0: kept for ever. */
	put(ancient, "x\n");
	al = accesslog_open(logp, 0, 0);
	assert_non_null(al);
	accesslog_close(al);
	assert_int_equal(access(ancient, F_OK), 0);
}

static void
test_chain(void **state)
{
	struct accesslog *a, *b;
	char today[256], *text, *second, *third;
	char copy[65536];

	(void)state;
	a = accesslog_open(logp, 180, 1);
	b = accesslog_open(logp, 180, 1); /* another process's handle */
	assert_non_null(a);
	assert_non_null(b);
	line(a, "c1");
	line(b, "c2");
	line(b, "c3");
	line(a, "c4");
	line(a, "c5");
	accesslog_close(a);
	accesslog_close(b);
	today_file(today, sizeof(today), 0);
	assert_int_equal(verify(today, RELAY_OK), 5);
	text = slurp(today);
	assert_non_null(strstr(text,
	    "\"prev\":\"0000000000000000000000000000000000000000000000000000"
	    "000000000000\"}\n"));
	snprintf(copy, sizeof(copy), "%s", text);

	/* A changed status in line 2: line 3 no longer chains to it. */
	second = strchr(copy, '\n') + 1;
	assert_non_null(strstr(second, "\"status\":200"));
	memcpy(strstr(second, "\"status\":200") + 9, "500", 3);
	put(today, copy);
	assert_int_equal(verify(today, RELAY_EPROTO), 3);

	/* Line 2 removed. */
	snprintf(copy, sizeof(copy), "%s", text);
	second = strchr(copy, '\n') + 1;
	third = strchr(second, '\n') + 1;
	memmove(second, third, strlen(third) + 1);
	put(today, copy);
	assert_int_equal(verify(today, RELAY_EPROTO), 2);

	/* The first line removed: the new first does not start the chain. */
	snprintf(copy, sizeof(copy), "%s", strchr(text, '\n') + 1);
	put(today, copy);
	assert_int_equal(verify(today, RELAY_EPROTO), 1);

	/* A torn last line. */
	snprintf(copy, sizeof(copy), "%s{\"id\":\"torn", text);
	put(today, copy);
	assert_int_equal(verify(today, RELAY_EPROTO), 6);

	/* A file written without the chain. */
	put(today, "{\"id\":\"x\"}\n");
	assert_int_equal(verify(today, RELAY_EPROTO), 1);
	assert_int_equal(verify("/nonexistent/x", RELAY_EIO), 0);
}

/* A writer finds the file grown by another since its last line: it
 * chains to the other's line, read back from the file. */
static void
test_chain_resumes(void **state)
{
	struct accesslog *a;
	char today[256];

	(void)state;
	a = accesslog_open(logp, 180, 1);
	assert_non_null(a);
	line(a, "d1");
	accesslog_close(a);
	a = accesslog_open(logp, 180, 1); /* a restart */
	assert_non_null(a);
	line(a, "d2");
	accesslog_close(a);
	today_file(today, sizeof(today), 0);
	assert_int_equal(verify(today, RELAY_OK), 2);
}

/* Under allocation failures: open fails cleanly (NULL, ENOMEM) or works;
 * a line is written whole or dropped; the verifier answers or says
 * RELAY_ENOMEM; nothing leaks (ASan). */
static void
test_oom(void **state)
{
	struct accesslog *al;
	char today[256];
	long n;
	char why[128];
	enum relay_err err;

	(void)state;
	al = accesslog_open(logp, 180, 1);
	if (al != NULL) {
		line(al, "o1");
		line(al, "o2");
		accesslog_close(al);
	}
	today_file(today, sizeof(today), 0);
	err = accesslog_verify(today, &n, why, sizeof(why));
	assert_true(err == RELAY_OK || err == RELAY_ENOMEM ||
	    (err == RELAY_EIO && al == NULL));
}

static int
oom_setup_dir(void **state)
{
	return setup(state) != 0 ? -1 : oom_setup(state);
}

static int
oom_teardown_dir(void **state)
{
	oom_teardown(state);
	return teardown(state);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    cmocka_unit_test_setup_teardown(
		test_oom, oom_setup_dir, oom_teardown_dir),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test_setup_teardown(
		test_day_file_and_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_plain_file_kept_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_chain_resumes, setup, teardown),
	};

	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "accesslog (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("accesslog", cases, NULL, NULL);
	return oom_exit(failed);
}
