/* SPDX-License-Identifier: MIT */
/* test_ui.c - the console's built-in files: every file of ui/ is there,
 * byte for byte, with its type; nothing else is (no path leads out). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/ui.c"

static struct span
sp(const char *s)
{
	return (struct span){s, strlen(s)};
}

/* Each built-in file equals ui/<name> on disk (the build is current). */
static void
test_files_match_disk(void **state)
{
	static const char *const names[] = {
	    "index.html", "app.js", "i18n.js", "app.css", "favicon.svg"};
	static char disk[1 << 20];
	const struct ui_asset *a;
	char path[64];
	size_t i, n;
	FILE *f;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		a = ui_find(sp(names[i]));
		assert_non_null(a);
		snprintf(path, sizeof(path), "ui/%s", names[i]);
		f = fopen(path, "rb");
		assert_non_null(f);
		n = fread(disk, 1, sizeof(disk), f);
		fclose(f);
		assert_int_equal(a->len, n);
		assert_memory_equal(a->data, disk, n);
	}
	a = ui_find(sp(""));
	assert_non_null(a);
	assert_string_equal(a->name, "index.html");
	assert_string_equal(a->type, "text/html; charset=utf-8");
	assert_string_equal(
	    ui_find(sp("app.js"))->type, "text/javascript; charset=utf-8");
}

static void
test_nothing_else(void **state)
{
	(void)state;
	assert_null(ui_find(sp("../keys.json")));
	assert_null(ui_find(sp("app.js/")));
	assert_null(ui_find(sp("/app.js")));
	assert_null(ui_find(sp("APP.JS")));
	assert_null(ui_find(sp("app.j")));
	assert_null(ui_find((struct span){"index.html\0x", 12}));
	assert_true(ui_path(sp("/admin/ui")));
	assert_true(ui_path(sp("/admin/ui/")));
	assert_true(ui_path(sp("/admin/ui/app.js")));
	assert_false(ui_path(sp("/admin/uix")));
	assert_false(ui_path(sp("/admin/u")));
	assert_false(ui_path(sp("/admin/keys")));
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_files_match_disk),
	    cmocka_unit_test(test_nothing_else),
	};

	/* ui.c allocates nothing: nothing to torture. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("ui", cases, NULL, NULL) != 0;
}
