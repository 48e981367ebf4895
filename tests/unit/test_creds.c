/* SPDX-License-Identifier: MIT */
/* test_creds.c - unit tests for lib/creds.c: master keys from the
 * environment, sealed credentials on disk (no plaintext), opened
 * snapshots grouped by provider, re-encryption under a new master key, and
 * a wrong key opening nothing; the oom-safe group also runs under
 * RELAY_FAIL_ALLOC. */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/creds.c"

#include "oom_test.h"

/* Under torture RELAY_ENOMEM ends the case through its cleanup at out:. */
#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

static char dir[64], path[128];

static const struct creds_master m_old = {
    .cur = {0x11, 0x22, 0x33}, .have_cur = 1};
static const struct creds_master m_new = {.cur = {0x44, 0x55, 0x66},
    .prev = {0x11, 0x22, 0x33},
    .have_cur = 1,
    .have_prev = 1};
static const struct creds_master m_new_only = {
    .cur = {0x44, 0x55, 0x66}, .have_cur = 1};
static const struct creds_master m_wrong = {
    .cur = {0x77}, .prev = {0x78}, .have_cur = 1, .have_prev = 1};
static const struct creds_master m_none;

static void
rm_dir(const char *d)
{
	char p[512];
	struct dirent *e;
	DIR *dp = opendir(d);

	if (dp == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		unlink(p);
	}
	closedir(dp);
	rmdir(d);
}

static int
dir_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_creds.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/credentials.json", dir);
	return 0;
}

static int
dir_teardown(void **state)
{
	(void)state;
	rm_dir(dir);
	return 0;
}

static int
oom_dir_setup(void **state)
{
	if (dir_setup(state) != 0)
		return -1;
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
slurp(const char *p, char *out, size_t outsz)
{
	int fd = open(p, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, out, outsz - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
}

/* Add api_key for provider under m; its id into id (may be NULL). */
static void
add(const struct creds_master *m, const char *provider, const char *api_key,
    char *id, size_t idsz)
{
	json_t *req =
	    json_pack("{s:s,s:s}", "provider", provider, "api_key", api_key);
	json_t *out = NULL;
	char eb[256] = "";

	assert_non_null(req);
	if (creds_admin_add(path, m, req, &out, eb, sizeof(eb)) != RELAY_OK)
		fail_msg("add %s: %s", provider, eb);
	if (id != NULL)
		snprintf(id, idsz, "%s",
		    json_string_value(json_object_get(out, "id")));
	json_decref(req);
	json_decref(out);
}

/* 1 when list (creds_for's answer, n long) holds s. */
static int
has(const char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

static void
wait_reload(void)
{
	usleep(300 * 1000);
}

/* Run acquire on a fresh store with m; stderr captured into log. */
static struct creds_snap *
acquire_logged(struct creds_store *st, char *log, size_t logsz)
{
	char tmpl[] = "/tmp/test_creds_log.XXXXXX";
	int fd = mkstemp(tmpl), saved = dup(STDERR_FILENO);
	struct creds_snap *s;

	assert_true(fd >= 0 && saved >= 0);
	unlink(tmpl);
	dup2(fd, STDERR_FILENO);
	s = creds_acquire(st);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	{
		ssize_t n = read(fd, log, logsz - 1);

		log[n > 0 ? n : 0] = '\0';
	}
	close(fd);
	return s;
}

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_add_list_no_plaintext(void **state)
{
	json_t *req = NULL, *out = NULL, *list = NULL, *rec;
	char eb[256] = "", file[16384], kid[9];
	static const char secret[] = "sk-proj-THISISTHEPLAINTEXTabcd";

	(void)state;
	req = json_pack("{s:s,s:s,s:s}", "provider", "openai", "api_key",
	    secret, "label", "prod");
	if (req == NULL && oom_n != 0)
		goto out;
	assert_non_null(req);
	TRY(creds_admin_add(path, &m_old, req, &out, eb, sizeof(eb)), RELAY_OK);
	assert_string_equal(
	    json_string_value(json_object_get(out, "provider")), "openai");
	assert_string_equal(
	    json_string_value(json_object_get(out, "label")), "prod");
	assert_string_equal(
	    json_string_value(json_object_get(out, "last4")), "abcd");
	assert_null(json_object_get(out, "box"));
	assert_null(json_object_get(out, "api_key"));
	crypto_key_id(m_old.cur, kid);
	assert_string_equal(
	    json_string_value(json_object_get(out, "key_id")), kid);
	assert_memory_equal(
	    json_string_value(json_object_get(out, "id")), "cred_", 5);

	slurp(path, file, sizeof(file));
	assert_null(strstr(file, secret));
	assert_null(strstr(file, "THISISTHEPLAINTEXT"));
	assert_non_null(strstr(file, "\"box\""));

	TRY(creds_admin_list(path, &list, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(json_array_size(json_object_get(list, "data")), 1);
	rec = json_array_get(json_object_get(list, "data"), 0);
	assert_null(json_object_get(rec, "box"));
	assert_string_equal(json_string_value(json_object_get(rec, "id")),
	    json_string_value(json_object_get(out, "id")));
out:
	json_decref(req);
	json_decref(out);
	json_decref(list);
}

static void
test_store_opens(void **state)
{
	json_t *req = NULL, *out = NULL;
	struct creds_store *st = NULL;
	struct creds_snap *s = NULL;
	const char *const *keys;
	char eb[256] = "";
	size_t n;

	(void)state;
	req = json_pack("{s:s,s:s}", "provider", "anthropic", "api_key",
	    "sk-ant-xyz-0123456789");
	if (req == NULL && oom_n != 0)
		goto out;
	assert_non_null(req);
	TRY(creds_admin_add(path, &m_old, req, &out, eb, sizeof(eb)), RELAY_OK);
	st = creds_store_new(path, &m_old);
	if (st == NULL && oom_n != 0)
		goto out;
	assert_non_null(st);
	s = creds_acquire(st);
	keys = creds_for(s, "anthropic", &n);
	if (n == 0 && oom_n != 0)
		goto out; /* the reload ran out of memory: logged, kept */
	assert_int_equal(n, 1);
	assert_string_equal(keys[0], "sk-ant-xyz-0123456789");
	assert_null(creds_for(s, "openai", &n));
	assert_int_equal(n, 0);
out:
	creds_release(s);
	creds_store_free(st);
	json_decref(req);
	json_decref(out);
}

/* --- other cases ---------------------------------------------------- */

static void
test_master_load_env(void **state)
{
	struct creds_master m;
	char hex[65];
	unsigned char k[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

	(void)state;
	unsetenv("RELAY_MASTER_KEY");
	unsetenv("RELAY_MASTER_KEY_FILE");
	unsetenv("RELAY_MASTER_KEY_PREVIOUS");
	unsetenv("RELAY_MASTER_KEY_PREVIOUS_FILE");
	assert_int_equal(creds_master_load(&m), RELAY_OK);
	assert_false(m.have_cur);
	assert_false(m.have_prev);
	crypto_hex(k, 32, hex);
	setenv("RELAY_MASTER_KEY", hex, 1);
	assert_int_equal(creds_master_load(&m), RELAY_OK);
	assert_true(m.have_cur);
	assert_false(m.have_prev);
	assert_memory_equal(m.cur, k, 32);
	/* base64 of 32 bytes: 0x00..0x1f. */
	setenv("RELAY_MASTER_KEY_PREVIOUS",
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
	assert_int_equal(creds_master_load(&m), RELAY_OK);
	assert_true(m.have_prev);
	assert_int_equal(m.prev[0], 0);
	assert_int_equal(m.prev[31], 31);
	setenv("RELAY_MASTER_KEY_PREVIOUS", "short", 1);
	assert_int_equal(creds_master_load(&m), RELAY_EINVAL);
	unsetenv("RELAY_MASTER_KEY_PREVIOUS");
	setenv("RELAY_MASTER_KEY", "zz", 1);
	assert_int_equal(creds_master_load(&m), RELAY_EINVAL);
	unsetenv("RELAY_MASTER_KEY");
}

static void
test_add_without_master(void **state)
{
	json_t *req = json_pack("{s:s,s:s}", "provider", "openai", "api_key",
		   "sk-123456789"),
	       *out = (json_t *)1;
	char eb[256] = "";

	(void)state;
	assert_int_equal(
	    creds_admin_add(path, &m_none, req, &out, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_null(out);
	assert_non_null(strstr(eb, "RELAY_MASTER_KEY"));
	assert_int_equal(access(path, F_OK), -1); /* nothing written */
	json_decref(req);
}

static void
test_add_bad_requests(void **state)
{
	static const char *const bad[] = {"{\"api_key\":\"sk-1\"}",
	    "{\"provider\":\"openai\"}",
	    "{\"provider\":\"openai\",\"api_key\":\"\"}",
	    "{\"provider\":\"openai\",\"api_key\":7}",
	    "{\"provider\":\"openai\",\"api_key\":\"sk-1\",\"label\":3}", NULL};
	json_t *req, *out = NULL;
	char eb[256];
	size_t i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		req = json_loads(bad[i], 0, NULL);
		assert_non_null(req);
		eb[0] = '\0';
		if (creds_admin_add(path, &m_old, req, &out, eb, sizeof(eb)) !=
		    RELAY_EINVAL)
			fail_msg("%s accepted", bad[i]);
		assert_true(eb[0] != '\0');
		json_decref(req);
	}
}

static void
test_delete(void **state)
{
	char id[32], eb[256] = "";
	json_t *list = NULL;

	(void)state;
	add(&m_old, "openai", "sk-aaaaaaaaaaaa", id, sizeof(id));
	add(&m_old, "openai", "sk-bbbbbbbbbbbb", NULL, 0);
	assert_int_equal(creds_admin_delete(path, "cred_nope", eb, sizeof(eb)),
	    RELAY_ENOTFOUND);
	assert_int_equal(
	    creds_admin_delete(path, id, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(
	    creds_admin_delete(path, id, eb, sizeof(eb)), RELAY_ENOTFOUND);
	assert_int_equal(
	    creds_admin_list(path, &list, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(json_array_size(json_object_get(list, "data")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(list, "data"), 0), "last4")),
	    "bbbb");
	json_decref(list);
}

static void
test_grouped_by_provider(void **state)
{
	struct creds_store *st;
	struct creds_snap *s;
	const char *const *k;
	size_t n;

	(void)state;
	add(&m_old, "openai", "sk-openai-one-1111", NULL, 0);
	add(&m_old, "anthropic", "sk-ant-one-2222", NULL, 0);
	add(&m_old, "openai", "sk-openai-two-3333", NULL, 0);
	add(&m_old, "gemini", "AIza-gemini-4444", NULL, 0);
	add(&m_old, "openai", "sk-openai-three-5555", NULL, 0);
	add(&m_old, "azure", "az-6666666666", NULL, 0);
	st = creds_store_new(path, &m_old);
	assert_non_null(st);
	s = creds_acquire(st);
	k = creds_for(s, "openai", &n);
	assert_int_equal(n, 3);
	assert_true(has(k, n, "sk-openai-one-1111"));
	assert_true(has(k, n, "sk-openai-two-3333"));
	assert_true(has(k, n, "sk-openai-three-5555"));
	k = creds_for(s, "anthropic", &n);
	assert_int_equal(n, 1);
	assert_string_equal(k[0], "sk-ant-one-2222");
	k = creds_for(s, "gemini", &n);
	assert_int_equal(n, 1);
	assert_string_equal(k[0], "AIza-gemini-4444");
	k = creds_for(s, "azure", &n);
	assert_int_equal(n, 1);
	assert_null(creds_for(s, "mistral", &n));
	assert_int_equal(n, 0);
	assert_null(creds_for(s, "open", &n)); /* a prefix is not a name */
	assert_int_equal(n, 0);
	creds_release(s);
	creds_store_free(st);
}

static void
test_reencrypt(void **state)
{
	char eb[256] = "", kid_old[9], kid_new[9], file[16384];
	struct creds_store *st;
	struct creds_snap *s;
	const char *const *k;
	json_t *out = NULL, *list = NULL, *rec;
	size_t n, i;

	(void)state;
	crypto_key_id(m_old.cur, kid_old);
	crypto_key_id(m_new.cur, kid_new);
	assert_string_not_equal(kid_old, kid_new);
	add(&m_old, "openai", "sk-openai-rotate-1", NULL, 0);
	add(&m_old, "anthropic", "sk-ant-rotate-2", NULL, 0);
	/* Without the previous key nothing can be re-sealed. */
	assert_int_equal(
	    creds_admin_reencrypt(path, &m_new_only, &out, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_null(out);
	assert_non_null(strstr(eb, "cannot be opened"));
	assert_int_equal(
	    creds_admin_reencrypt(path, &m_none, &out, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_int_equal(
	    creds_admin_reencrypt(path, &m_new, &out, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(
	    json_integer_value(json_object_get(out, "reencrypted")), 2);
	json_decref(out);
	assert_int_equal(
	    creds_admin_list(path, &list, eb, sizeof(eb)), RELAY_OK);
	json_array_foreach (json_object_get(list, "data"), i, rec)
		assert_string_equal(
		    json_string_value(json_object_get(rec, "key_id")), kid_new);
	json_decref(list);
	slurp(path, file, sizeof(file));
	assert_null(strstr(file, kid_old));
	assert_null(strstr(file, "rotate-"));
	/* The new key alone now opens everything; the old alone nothing. */
	st = creds_store_new(path, &m_new_only);
	assert_non_null(st);
	s = creds_acquire(st);
	k = creds_for(s, "openai", &n);
	assert_int_equal(n, 1);
	assert_string_equal(k[0], "sk-openai-rotate-1");
	k = creds_for(s, "anthropic", &n);
	assert_int_equal(n, 1);
	assert_string_equal(k[0], "sk-ant-rotate-2");
	creds_release(s);
	creds_store_free(st);
	st = creds_store_new(path, &m_old);
	s = acquire_logged(st, file, sizeof(file));
	assert_null(creds_for(s, "openai", &n));
	assert_non_null(strstr(file, "cannot be opened"));
	creds_release(s);
	creds_store_free(st);
}

static void
test_wrong_key_opens_nothing(void **state)
{
	char log[4096];
	struct creds_store *st;
	struct creds_snap *s;
	size_t n;

	(void)state;
	add(&m_old, "openai", "sk-openai-secret-9999", NULL, 0);
	st = creds_store_new(path, &m_wrong);
	assert_non_null(st);
	s = acquire_logged(st, log, sizeof(log));
	assert_null(creds_for(s, "openai", &n));
	assert_int_equal(n, 0);
	assert_non_null(strstr(log, "cannot be opened"));
	assert_null(strstr(log, "sk-openai-secret")); /* never logged */
	creds_release(s);
	creds_store_free(st);
	/* No master key at all: likewise. */
	st = creds_store_new(path, &m_none);
	s = acquire_logged(st, log, sizeof(log));
	assert_null(creds_for(s, "openai", &n));
	assert_non_null(strstr(log, "cannot be opened"));
	creds_release(s);
	creds_store_free(st);
}

static void
test_moved_box_refused(void **state)
{
	char id1[32], id2[32], eb[256];
	json_t *doc = NULL, *list, *a, *b, *box;
	struct creds_store *st;
	struct creds_snap *s;
	const char *const *k;
	size_t n;

	(void)state;
	add(&m_old, "openai", "sk-openai-AAAAAAAA", id1, sizeof(id1));
	add(&m_old, "anthropic", "sk-ant-BBBBBBBB", id2, sizeof(id2));
	/* Swap the boxes: each is bound to its record's id and provider. */
	assert_int_equal(
	    store_read(path, &doc, NULL, eb, sizeof(eb)), RELAY_OK);
	list = json_object_get(doc, "credentials");
	a = json_array_get(list, 0);
	b = json_array_get(list, 1);
	box = json_incref(json_object_get(a, "box"));
	json_object_set(a, "box", json_object_get(b, "box"));
	json_object_set_new(b, "box", box);
	assert_int_equal(store_write(path, doc), RELAY_OK);
	json_decref(doc);
	st = creds_store_new(path, &m_old);
	s = acquire_logged(st, eb, sizeof(eb));
	k = creds_for(s, "openai", &n);
	assert_int_equal(n, 0);
	assert_null(k);
	assert_null(creds_for(s, "anthropic", &n));
	creds_release(s);
	creds_store_free(st);
}

static void
test_store_reloads(void **state)
{
	struct creds_store *st;
	struct creds_snap *s, *old;
	char id[32], eb[256];
	size_t n;

	(void)state;
	st = creds_store_new(path, &m_old);
	assert_non_null(st);
	old = creds_acquire(st); /* no file yet */
	assert_null(creds_for(old, "openai", &n));
	add(&m_old, "openai", "sk-openai-later-777", id, sizeof(id));
	wait_reload();
	s = creds_acquire(st);
	assert_non_null(creds_for(s, "openai", &n));
	assert_int_equal(n, 1);
	creds_release(s);
	creds_release(old);
	assert_int_equal(
	    creds_admin_delete(path, id, eb, sizeof(eb)), RELAY_OK);
	wait_reload();
	s = creds_acquire(st);
	assert_null(creds_for(s, "openai", &n));
	creds_release(s);
	creds_store_free(st);
}

/* A key stored with its egress proxy: the proxy (with its password) is
 * sealed, the list shows it without credentials, the snapshot hands it
 * out for that key only, a re-encryption keeps it; a bad proxy URL is
 * refused without being quoted. */
static void
test_proxy_sealed(void **state)
{
	static const char px[] = "http://relay:PXPASSWORD42@127.0.0.1:3128";
	json_t *req, *out = NULL;
	char eb[256] = "", file[16384];
	struct creds_store *st;
	struct creds_snap *s;
	const char *const *keys;
	size_t n;

	(void)state;
	req = json_pack("{s:s,s:s,s:s}", "provider", "oa", "api_key",
	    "sk-with-proxy-1234", "proxy", px);
	assert_int_equal(
	    creds_admin_add(path, &m_old, req, &out, eb, sizeof(eb)), RELAY_OK);
	assert_string_equal(json_string_value(json_object_get(out, "proxy")),
	    "http://***@127.0.0.1:3128");
	assert_null(json_object_get(out, "proxy_box"));
	json_decref(out);
	json_decref(req);
	add(&m_old, "oa", "sk-without-proxy-5678", NULL, 0);
	slurp(path, file, sizeof(file));
	assert_null(strstr(file, "PXPASSWORD42"));
	assert_non_null(strstr(file, "proxy_box"));
	st = creds_store_new(path, &m_old);
	s = creds_acquire(st);
	keys = creds_for(s, "oa", &n);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i], "sk-with-proxy-1234") == 0)
			assert_string_equal(creds_proxy(s, keys[i]), px);
		else
			assert_null(creds_proxy(s, keys[i]));
	}
	/* Only the handed-out pointer counts, not an equal string. */
	assert_null(creds_proxy(s, "sk-with-proxy-1234"));
	creds_release(s);
	creds_store_free(st);
	/* Re-sealed under a new master key, the proxy opens with it alone. */
	assert_int_equal(
	    creds_admin_reencrypt(path, &m_new, &out, eb, sizeof(eb)),
	    RELAY_OK);
	json_decref(out);
	st = creds_store_new(path, &m_new_only);
	s = creds_acquire(st);
	keys = creds_for(s, "oa", &n);
	assert_int_equal(n, 2);
	assert_string_equal(
	    creds_proxy(s,
		strcmp(keys[0], "sk-with-proxy-1234") == 0 ? keys[0] : keys[1]),
	    px);
	creds_release(s);
	creds_store_free(st);
	req = json_pack("{s:s,s:s,s:s}", "provider", "oa", "api_key", "k",
	    "proxy", "ftp://u:SECRETPW@h:1");
	assert_int_equal(
	    creds_admin_add(path, &m_old, req, &out, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_non_null(strstr(eb, "\"proxy\" must start with"));
	assert_null(strstr(eb, "SECRETPW"));
	json_decref(req);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_DIR_CASE(test_add_list_no_plaintext),
	    OOM_DIR_CASE(test_store_opens),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_master_load_env),
	    DIR_CASE(test_add_without_master),
	    DIR_CASE(test_add_bad_requests),
	    DIR_CASE(test_delete),
	    DIR_CASE(test_grouped_by_provider),
	    DIR_CASE(test_reencrypt),
	    DIR_CASE(test_wrong_key_opens_nothing),
	    DIR_CASE(test_moved_box_refused),
	    DIR_CASE(test_store_reloads),
	    DIR_CASE(test_proxy_sealed),
	};
	int failed;

	oom_init();
	log_init("test_creds", LOG_LVL_ERROR);
	failed = cmocka_run_group_tests_name(
	    "creds (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("creds", cases, NULL, NULL);
	return oom_exit(failed);
}
