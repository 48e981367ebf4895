/* SPDX-License-Identifier: MIT */
/* test_adminview.c - the access log's tail (newest first; by request id;
 * errors only; a torn line skipped; the rotated file when the current one
 * is short; only the last RELAY_ADMIN_LOG_TAIL bytes read) and the list of
 * responder processes from a metrics directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/adminview.c"

#include "oom_test.h"

static char dir[64], logp[128];

static int
dir_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_adminview.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(logp, sizeof(logp), "%s/access.log", dir);
	return oom_setup(state);
}

static int
dir_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return oom_teardown(state);
}

static void
put(const char *path, const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *
id_at(json_t *a, size_t i)
{
	return json_string_value(json_object_get(json_array_get(a, i), "id"));
}

static void
test_log_filters(void **state)
{
	json_t *a = NULL;
	enum relay_err err;

	(void)state;
	put(logp, "w",
	    "{\"id\":\"a\",\"status\":200}\n"
	    "{\"id\":\"b\",\"status\":401}\n"
	    "not json\n"
	    "{\"id\":\"c\",\"status\":502}\n"
	    "{\"id\":\"d\",\"status\":200}\n"
	    "{\"id\":\"e\",\"sta"); /* torn: being written */
	err = adminview_log(logp, NULL, 0, 10, &a);
	if (err == RELAY_ENOMEM && oom_n != 0)
		return;
	assert_int_equal(err, RELAY_OK);
	assert_int_equal(json_array_size(a), 4);
	assert_string_equal(id_at(a, 0), "d"); /* newest first */
	assert_string_equal(id_at(a, 3), "a");
	json_decref(a);
	err = adminview_log(logp, NULL, 1, 10, &a);
	if (err == RELAY_ENOMEM && oom_n != 0)
		return;
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(id_at(a, 0), "c");
	assert_string_equal(id_at(a, 1), "b");
	json_decref(a);
	err = adminview_log(logp, "b", 0, 10, &a);
	if (err == RELAY_ENOMEM && oom_n != 0)
		return;
	assert_int_equal(json_array_size(a), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(a, 0), "status")),
	    401);
	json_decref(a);
	err = adminview_log(logp, NULL, 0, 2, &a);
	if (err == RELAY_ENOMEM && oom_n != 0)
		return;
	assert_int_equal(json_array_size(a), 2);
	json_decref(a);
}

static void
test_log_missing_and_rotated(void **state)
{
	char older[160];
	json_t *a = NULL;

	(void)state;
	assert_int_equal(adminview_log(logp, NULL, 0, 10, &a), RELAY_OK);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	snprintf(older, sizeof(older), "%s.1", logp);
	put(older, "w", "{\"id\":\"old\",\"status\":500}\n");
	put(logp, "w", "{\"id\":\"new\",\"status\":200}\n");
	assert_int_equal(adminview_log(logp, NULL, 0, 10, &a), RELAY_OK);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(id_at(a, 0), "new");
	assert_string_equal(id_at(a, 1), "old");
	json_decref(a);
}

/* A log far larger than the tail: only its end is read, from a line
 * start (the cut line is dropped, not parsed as garbage). */
static void
test_log_reads_the_tail_only(void **state)
{
	char line[128];
	json_t *a = NULL;
	FILE *f;
	int i;

	(void)state;
	f = fopen(logp, "w");
	assert_non_null(f);
	for (i = 0; i < 40000; i++) {
		snprintf(line, sizeof(line),
		    "{\"id\":\"r%06d\",\"status\":200,\"pad\":\"xxxxxxxx\"}\n",
		    i);
		fputs(line, f);
	}
	fclose(f);
	assert_int_equal(adminview_log(logp, NULL, 0, 100000, &a), RELAY_OK);
	assert_string_equal(id_at(a, 0), "r039999");
	assert_true(json_array_size(a) < 40000);
	assert_true(json_array_size(a) * 40 >= RELAY_ADMIN_LOG_TAIL / 2);
	json_decref(a);
	assert_int_equal(adminview_log(logp, "r000001", 0, 10, &a), RELAY_OK);
	assert_int_equal(json_array_size(a), 0); /* beyond the tail */
	json_decref(a);
}

static void
test_processes(void **state)
{
	char p[160];
	json_t *a = NULL, *e;

	(void)state;
	snprintf(
	    p, sizeof(p), "%s/relay-chat.%ld.metrics", dir, (long)getpid());
	put(p, "w", "");
	snprintf(p, sizeof(p), "%s/relay-admin.2147483000.metrics", dir);
	put(p, "w", "");
	snprintf(p, sizeof(p), "%s/retired.metrics", dir);
	put(p, "w", "");
	snprintf(p, sizeof(p), "%s/.metrics.tmp.12", dir);
	put(p, "w", "");
	snprintf(p, sizeof(p), "%s/relay-x.-5.metrics", dir);
	put(p, "w", "");
	assert_int_equal(adminview_processes(dir, &a), RELAY_OK);
	assert_int_equal(json_array_size(a), 2);
	e = json_array_get(a, 0);
	assert_string_equal(
	    json_string_value(json_object_get(e, "prog")), "relay-admin");
	assert_false(json_is_true(json_object_get(e, "alive")));
	e = json_array_get(a, 1);
	assert_string_equal(
	    json_string_value(json_object_get(e, "prog")), "relay-chat");
	assert_int_equal(
	    json_integer_value(json_object_get(e, "pid")), (long)getpid());
	assert_true(json_is_true(json_object_get(e, "alive")));
	json_decref(a);
	snprintf(p, sizeof(p), "%s/nope", dir);
	assert_int_equal(adminview_processes(p, &a), RELAY_OK);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test_setup_teardown(
		test_log_filters, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_log_missing_and_rotated, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_log_reads_the_tail_only, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_processes, dir_setup, dir_teardown),
	};

	oom_init();
	if (oom_n != 0) { /* only the first case is written to survive it */
		const struct CMUnitTest oom[] = {
		    cmocka_unit_test_setup_teardown(
			test_log_filters, dir_setup, dir_teardown)};

		return oom_exit(cmocka_run_group_tests_name(
		    "adminview-oom", oom, NULL, NULL));
	}
	return oom_exit(
	    cmocka_run_group_tests_name("adminview", cases, NULL, NULL));
}
