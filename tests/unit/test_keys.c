/* SPDX-License-Identifier: MIT */
/* test_keys.c - unit tests for lib/keys.c: the admin operations on a
 * temporary key file (secrets shown once, only hashes stored, every
 * validation error naming its field), snapshots seeing changes, CIDR
 * parsing and matching, model allowlists; the oom-safe group also runs
 * under RELAY_FAIL_ALLOC. */
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

#include "../../lib/keys.c"

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
	snprintf(dir, sizeof(dir), "/tmp/test_keys.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/keys.json", dir);
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

/* The whole text of a file (at most 64 KiB). */
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

/* 1 when the serialisation of v contains s. */
static int
json_holds(const json_t *v, const char *s)
{
	char *text = json_dumps(v, JSON_COMPACT);
	int found;

	if (text == NULL && oom_n != 0) /* the one failed allocation */
		text = json_dumps(v, JSON_COMPACT);
	assert_non_null(text);
	found = strstr(text, s) != NULL;
	mem_free(text);
	return found;
}

static void
assert_secret_format(const char *s)
{
	size_t i, p = sizeof(KEYS_SECRET_PREFIX) - 1;

	assert_non_null(s);
	assert_int_equal(strlen(s), KEYS_SECRET_LEN);
	assert_memory_equal(s, KEYS_SECRET_PREFIX, p);
	for (i = p; i < KEYS_SECRET_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", s[i]));
}

/* Create a key named name; its secret into secret, its id into id. */
static void
make_key(const char *json, char secret[KEYS_SECRET_LEN + 1],
    char id[KEYS_ID_LEN + 1])
{
	json_t *req = json_loads(json, 0, NULL), *out = NULL;
	char eb[256] = "";

	assert_non_null(req);
	assert_int_equal(
	    keys_admin_create(path, req, &out, eb, sizeof(eb)), RELAY_OK);
	snprintf(secret, KEYS_SECRET_LEN + 1, "%s",
	    json_string_value(json_object_get(out, "secret")));
	snprintf(id, KEYS_ID_LEN + 1, "%s",
	    json_string_value(json_object_get(out, "id")));
	json_decref(req);
	json_decref(out);
}

/* Reloads are looked for at every acquire (RELAY_KEYS_CHECK_MS 0); the
 * wait stays so that these cases hold with any bound. */
static void
wait_reload(void)
{
	usleep(300 * 1000);
}

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_create_list_get(void **state)
{
	json_t *req = NULL, *out = NULL, *list = NULL, *got = NULL;
	char eb[256] = "", file[65536], hex[65], id[KEYS_ID_LEN + 1];
	char secret[KEYS_SECRET_LEN + 1];
	unsigned char h[32];
	const char *s;

	(void)state;
	req = json_pack("{s:s,s:i,s:[s],s:[s]}", "name", "team-a", "rpm", 60,
	    "models", "gpt-4o", "allowed_ips", "10.0.0.0/8");
	if (req == NULL && oom_n != 0)
		goto out;
	assert_non_null(req);
	TRY(keys_admin_create(path, req, &out, eb, sizeof(eb)), RELAY_OK);
	s = json_string_value(json_object_get(out, "secret"));
	assert_secret_format(s);
	snprintf(secret, sizeof(secret), "%s", s);
	s = json_string_value(json_object_get(out, "id"));
	assert_non_null(s);
	assert_int_equal(strlen(s), KEYS_ID_LEN);
	assert_memory_equal(s, "key_", 4);
	snprintf(id, sizeof(id), "%s", s);
	assert_null(json_object_get(out, "hash"));
	assert_string_equal(
	    json_string_value(json_object_get(out, "name")), "team-a");
	assert_int_equal(json_integer_value(json_object_get(out, "rpm")), 60);

	/* On disk: the hash, never the secret. */
	slurp(path, file, sizeof(file));
	assert_null(strstr(file, secret));
	crypto_sha256(secret, strlen(secret), h);
	crypto_hex(h, 32, hex);
	assert_non_null(strstr(file, hex));

	TRY(keys_admin_list(path, &list, eb, sizeof(eb)), RELAY_OK);
	assert_string_equal(
	    json_string_value(json_object_get(list, "object")), "list");
	assert_int_equal(json_array_size(json_object_get(list, "data")), 1);
	assert_false(json_holds(list, secret));
	assert_false(json_holds(list, hex));
	assert_false(json_holds(list, "\"hash\""));

	TRY(keys_admin_get(path, id, &got, eb, sizeof(eb)), RELAY_OK);
	assert_string_equal(json_string_value(json_object_get(got, "id")), id);
	assert_false(json_holds(got, secret));
	assert_false(json_holds(got, "\"hash\""));
out:
	json_decref(req);
	json_decref(out);
	json_decref(list);
	json_decref(got);
}

static void
test_store_sees_key(void **state)
{
	json_t *req = NULL, *out = NULL;
	struct keys_store *st = NULL;
	struct keyring *r = NULL;
	const struct vkey *k;
	char eb[256] = "", secret[KEYS_SECRET_LEN + 1];
	const char *s;

	(void)state;
	req = json_pack(
	    "{s:s,s:i,s:[s,s]}", "name", "n", "tpm", 1000, "models", "a", "b");
	if (req == NULL && oom_n != 0)
		goto out;
	assert_non_null(req);
	TRY(keys_admin_create(path, req, &out, eb, sizeof(eb)), RELAY_OK);
	s = json_string_value(json_object_get(out, "secret"));
	snprintf(secret, sizeof(secret), "%s", s);
	st = keys_store_new(path);
	if (st == NULL && oom_n != 0)
		goto out;
	assert_non_null(st);
	r = keys_acquire(st);
	if (keys_count(r) == 0 && oom_n != 0)
		goto out; /* the reload ran out of memory: logged, kept */
	assert_int_equal(keys_count(r), 1);
	k = keys_find(r, secret, strlen(secret));
	assert_non_null(k);
	assert_string_equal(
	    k->id, json_string_value(json_object_get(out, "id")));
	assert_int_equal(k->tpm, 1000);
	assert_int_equal(k->nmodels, 2);
	secret[KEYS_SECRET_LEN - 1] ^= 1;
	assert_null(keys_find(r, secret, strlen(secret)));
	assert_null(keys_find(r, secret, 0));
out:
	keys_release(r);
	keys_store_free(st);
	json_decref(req);
	json_decref(out);
}

/* --- other cases ---------------------------------------------------- */

/* The error of creating with body json: code and the start of errbuf. */
static void
expect_create_error(const char *json, const char *field)
{
	json_t *req = json_loads(json, 0, NULL), *out = (json_t *)1;
	char eb[256] = "", want[64];

	assert_non_null(req);
	assert_int_equal(
	    keys_admin_create(path, req, &out, eb, sizeof(eb)), RELAY_EINVAL);
	assert_null(out);
	snprintf(want, sizeof(want), "%s:", field);
	if (strncmp(eb, want, strlen(want)) != 0)
		fail_msg("%s: error \"%s\" does not name %s", json, eb, field);
	json_decref(req);
}

static void
test_validation_names_field(void **state)
{
	char file[4096] = "";

	(void)state;
	expect_create_error("{\"name\":\"a\",\"colour\":\"red\"}", "colour");
	expect_create_error("{\"name\":\"a\",\"rpm\":-1}", "rpm");
	expect_create_error("{\"name\":\"a\",\"tpm\":1.5}", "tpm");
	expect_create_error(
	    "{\"name\":\"a\",\"max_concurrency\":\"2\"}", "max_concurrency");
	expect_create_error(
	    "{\"name\":\"a\",\"allowed_ips\":[\"10.0.0.0/33\"]}",
	    "allowed_ips");
	expect_create_error(
	    "{\"name\":\"a\",\"allowed_ips\":[\"example.com\"]}",
	    "allowed_ips");
	expect_create_error(
	    "{\"name\":\"a\",\"allowed_ips\":\"10.0.0.1\"}", "allowed_ips");
	expect_create_error(
	    "{\"name\":\"a\",\"expires_at\":\"tomorrow\"}", "expires_at");
	expect_create_error("{\"name\":\"a\",\"expires_at\":-5}", "expires_at");
	expect_create_error(
	    "{\"name\":\"a\",\"expires_at\":\"2026-12-31T00:00:00+02:00\"}",
	    "expires_at");
	expect_create_error("{\"name\":\"a\",\"monthly_budget_usd\":-0.01}",
	    "monthly_budget_usd");
	expect_create_error("{\"name\":\"a\",\"disabled\":1}", "disabled");
	expect_create_error("{\"name\":\"a\",\"models\":[\"\"]}", "models");
	expect_create_error("{\"name\":\"a\",\"hash\":\"00\"}", "hash");
	expect_create_error("{\"name\":\"\"}", "name");
	expect_create_error("{\"name\":7}", "name");
	expect_create_error("{\"rpm\":1}", "name");
	/* Nothing was written by any of them. */
	if (access(path, F_OK) == 0) {
		slurp(path, file, sizeof(file));
		assert_null(strstr(file, "key_"));
	}
}

static void
test_expires_at_forms(void **state)
{
	json_t *req, *out = NULL;
	char eb[256] = "";

	(void)state;
	req = json_loads(
	    "{\"name\":\"a\",\"expires_at\":\"2026-12-31T00:00:00Z\"}", 0,
	    NULL);
	assert_int_equal(
	    keys_admin_create(path, req, &out, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(
	    json_integer_value(json_object_get(out, "expires_at")), 1798675200);
	json_decref(req);
	json_decref(out);
	req = json_loads("{\"name\":\"a\",\"expires_at\":1700000000}", 0, NULL);
	assert_int_equal(
	    keys_admin_create(path, req, &out, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(
	    json_integer_value(json_object_get(out, "expires_at")), 1700000000);
	json_decref(req);
	json_decref(out);
	req = json_loads("{\"name\":\"a\",\"expires_at\":null}", 0, NULL);
	assert_int_equal(
	    keys_admin_create(path, req, &out, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(
	    json_integer_value(json_object_get(out, "expires_at")), 0);
	json_decref(req);
	json_decref(out);
}

static void
test_unknown_id(void **state)
{
	json_t *req = json_loads("{\"rpm\":5}", 0, NULL), *out = (json_t *)1;
	char eb[256] = "", secret[KEYS_SECRET_LEN + 1], id[KEYS_ID_LEN + 1];

	(void)state;
	assert_int_equal(keys_admin_update(path, "key_000000000000", req, &out,
			     eb, sizeof(eb)),
	    RELAY_ENOTFOUND);
	assert_null(out);
	make_key("{\"name\":\"x\"}", secret, id);
	assert_int_equal(keys_admin_update(path, "key_000000000000", req, &out,
			     eb, sizeof(eb)),
	    RELAY_ENOTFOUND);
	assert_int_equal(
	    keys_admin_rotate(path, "key_000000000000", &out, eb, sizeof(eb)),
	    RELAY_ENOTFOUND);
	assert_int_equal(
	    keys_admin_delete(path, "key_000000000000", eb, sizeof(eb)),
	    RELAY_ENOTFOUND);
	assert_int_equal(
	    keys_admin_get(path, "key_000000000000", &out, eb, sizeof(eb)),
	    RELAY_ENOTFOUND);
	assert_null(out);
	json_decref(req);
}

static void
test_update_rotate_delete(void **state)
{
	char eb[256] = "", s1[KEYS_SECRET_LEN + 1], id[KEYS_ID_LEN + 1];
	char s2[KEYS_SECRET_LEN + 1], file[65536];
	json_t *req, *out = NULL;
	struct keys_store *st;
	struct keyring *r;
	const struct vkey *k;

	(void)state;
	make_key("{\"name\":\"x\",\"rpm\":1}", s1, id);
	st = keys_store_new(path);
	assert_non_null(st);
	r = keys_acquire(st);
	assert_non_null(keys_find(r, s1, strlen(s1)));
	keys_release(r);

	/* Update: new limits, the secret still works. */
	req = json_loads("{\"rpm\":77,\"disabled\":true}", 0, NULL);
	assert_int_equal(
	    keys_admin_update(path, id, req, &out, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(json_integer_value(json_object_get(out, "rpm")), 77);
	assert_null(json_object_get(out, "hash"));
	assert_null(json_object_get(out, "secret"));
	json_decref(out);
	json_decref(req);
	req = json_loads("{\"hash\":\"00\"}", 0, NULL);
	assert_int_equal(keys_admin_update(path, id, req, &out, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_non_null(strstr(eb, "hash"));
	json_decref(req);
	req = json_loads("{\"rpm\":-3}", 0, NULL);
	assert_int_equal(keys_admin_update(path, id, req, &out, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_memory_equal(eb, "rpm:", 4);
	json_decref(req);
	wait_reload();
	r = keys_acquire(st);
	k = keys_find(r, s1, strlen(s1));
	assert_non_null(k);
	assert_int_equal(k->rpm, 77);
	assert_true(k->disabled);
	keys_release(r);

	/* Rotate: a new secret; the old one fails. */
	assert_int_equal(
	    keys_admin_rotate(path, id, &out, eb, sizeof(eb)), RELAY_OK);
	snprintf(s2, sizeof(s2), "%s",
	    json_string_value(json_object_get(out, "secret")));
	assert_secret_format(s2);
	assert_string_not_equal(s1, s2);
	assert_string_equal(json_string_value(json_object_get(out, "id")), id);
	assert_null(json_object_get(out, "hash"));
	json_decref(out);
	slurp(path, file, sizeof(file));
	assert_null(strstr(file, s2));
	wait_reload();
	r = keys_acquire(st);
	assert_null(keys_find(r, s1, strlen(s1)));
	k = keys_find(r, s2, strlen(s2));
	assert_non_null(k);
	assert_string_equal(k->id, id);
	assert_int_equal(k->rpm, 77); /* settings survive a rotation */
	keys_release(r);

	/* Delete: gone from the file and the next snapshot. */
	assert_int_equal(keys_admin_delete(path, id, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(
	    keys_admin_get(path, id, &out, eb, sizeof(eb)), RELAY_ENOTFOUND);
	wait_reload();
	r = keys_acquire(st);
	assert_int_equal(keys_count(r), 0);
	assert_null(keys_find(r, s2, strlen(s2)));
	keys_release(r);
	keys_store_free(st);
}

static void
test_snapshot_outlives_reload(void **state)
{
	char s1[KEYS_SECRET_LEN + 1], s2[KEYS_SECRET_LEN + 1];
	char id1[KEYS_ID_LEN + 1], id2[KEYS_ID_LEN + 1];
	struct keys_store *st;
	struct keyring *old, *r;

	(void)state;
	st = keys_store_new(path);
	assert_non_null(st);
	old = keys_acquire(st); /* no file yet: no keys */
	assert_int_equal(keys_count(old), 0);
	make_key("{\"name\":\"one\"}", s1, id1);
	make_key("{\"name\":\"two\"}", s2, id2);
	wait_reload();
	r = keys_acquire(st);
	assert_int_equal(keys_count(r), 2);
	assert_non_null(keys_find(r, s1, strlen(s1)));
	assert_non_null(keys_find(r, s2, strlen(s2)));
	assert_int_equal(keys_count(old), 0); /* still valid */
	keys_release(old);
	keys_release(r);
	keys_store_free(st);
}

static void
test_bad_file_keeps_snapshot(void **state)
{
	char s1[KEYS_SECRET_LEN + 1], id1[KEYS_ID_LEN + 1];
	struct keys_store *st;
	struct keyring *r;
	int fd;

	(void)state;
	make_key("{\"name\":\"one\"}", s1, id1);
	st = keys_store_new(path);
	assert_non_null(st);
	r = keys_acquire(st);
	assert_int_equal(keys_count(r), 1);
	keys_release(r);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"keys\":[", 9), 9);
	close(fd);
	wait_reload();
	r = keys_acquire(st);
	assert_int_equal(keys_count(r), 1);
	assert_non_null(keys_find(r, s1, strlen(s1)));
	keys_release(r);
	keys_store_free(st);
}

static struct keys_cidr
cidr(const char *s)
{
	struct keys_cidr c;

	if (keys_parse_cidr(s, &c) != RELAY_OK)
		fail_msg("\"%s\" refused", s);
	return c;
}

/* 1 when a key whose allowlist is the one block s allows ip. */
static int
allows(const char *s, const char *ip)
{
	struct vkey k;
	struct keys_cidr c = cidr(s);

	memset(&k, 0, sizeof(k));
	k.ips = &c;
	k.nips = 1;
	return keys_ip_allowed(&k, ip);
}

static void
test_cidr_parse(void **state)
{
	static const char *const bad[] = {"", "/8", "10.0.0.0/", "10.0.0.0/33",
	    "::/129", "10.0.0.0/8/8", "10.0.0", "10.0.0.256", "1.2.3.4/ 8",
	    "1.2.3.4 /8", "1.2.3.4/8 ", "example.com", "fe80::1%eth0", "::g",
	    "10.0.0.0/0x8", "1.2.3.4/+8",
	    "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000",
	    NULL};
	struct keys_cidr c;
	size_t i;

	(void)state;
	c = cidr("10.1.2.3/8");
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.bits, 8);
	assert_memory_equal(c.addr, "\x0a\x01\x02\x03", 4);
	c = cidr("192.168.0.1");
	assert_int_equal(c.bits, 32);
	c = cidr("2001:db8::/32");
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.bits, 32);
	c = cidr("::1");
	assert_int_equal(c.bits, 128);
	c = cidr("0.0.0.0/0");
	assert_int_equal(c.bits, 0);
	for (i = 0; bad[i] != NULL; i++)
		if (keys_parse_cidr(bad[i], &c) != RELAY_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
}

static void
test_cidr_match(void **state)
{
	(void)state;
	assert_true(allows("10.0.0.0/8", "10.255.1.2"));
	assert_false(allows("10.0.0.0/8", "11.0.0.1"));
	assert_true(allows("10.1.2.3/32", "10.1.2.3"));
	assert_false(allows("10.1.2.3/32", "10.1.2.2"));
	assert_true(allows("10.1.2.3", "10.1.2.3"));
	assert_true(allows("0.0.0.0/0", "203.0.113.9"));
	assert_false(allows("0.0.0.0/0", "::1")); /* v4 block, v6 client */
	assert_true(allows("::/0", "2001:db8::1"));
	assert_false(allows("::/0", "10.0.0.1"));
	assert_true(allows("172.16.0.0/12", "172.31.255.255"));
	assert_false(allows("172.16.0.0/12", "172.32.0.0"));
	assert_true(allows("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(allows("2001:db8::/32", "2001:db9::1"));
	assert_true(allows("2001:db8::1/128", "2001:db8::1"));
	assert_false(allows("2001:db8::1/128", "2001:db8::2"));
	assert_true(allows("2001:db8::/127", "2001:db8::1"));
	/* An IPv4 client seen through an IPv6 socket. */
	assert_true(allows("1.2.3.0/24", "::ffff:1.2.3.4"));
	assert_true(allows("1.2.3.4/32", "::ffff:1.2.3.4"));
	assert_false(allows("1.2.3.0/24", "::ffff:1.2.4.4"));
	assert_false(allows("1.2.3.0/24", "::1.2.3.4")); /* not mapped */
	/* Garbage addresses are never allowed by a list. */
	assert_false(allows("0.0.0.0/0", ""));
	assert_false(allows("0.0.0.0/0", "garbage"));
	assert_false(allows("0.0.0.0/0", "1.2.3.4/32"));
	assert_false(allows("::/0", "::1%lo"));
}

static void
test_ip_allowlist_several_and_none(void **state)
{
	struct keys_cidr c[2];
	struct vkey k;

	(void)state;
	memset(&k, 0, sizeof(k));
	assert_true(keys_ip_allowed(&k, "10.0.0.1")); /* no list: anyone */
	assert_true(keys_ip_allowed(&k, "garbage"));
	c[0] = cidr("10.0.0.0/8");
	c[1] = cidr("2001:db8::/32");
	k.ips = c;
	k.nips = 2;
	assert_true(keys_ip_allowed(&k, "10.9.9.9"));
	assert_true(keys_ip_allowed(&k, "2001:db8::5"));
	assert_false(keys_ip_allowed(&k, "192.168.0.1"));
	assert_false(keys_ip_allowed(&k, "fe80::1"));
}

static void
test_model_allowed(void **state)
{
	char *models[] = {"gpt-4o", "claude-sonnet"};
	struct vkey k;

	(void)state;
	memset(&k, 0, sizeof(k));
	assert_true(keys_model_allowed(&k, "anything", 8));
	k.models = models;
	k.nmodels = 2;
	assert_true(keys_model_allowed(&k, "gpt-4o", 6));
	assert_true(keys_model_allowed(&k, "claude-sonnet", 13));
	assert_false(keys_model_allowed(&k, "gpt-4", 5)); /* a prefix */
	assert_false(keys_model_allowed(&k, "gpt-4o-mini", 11));
	assert_false(keys_model_allowed(&k, "GPT-4o", 6));
	/* n bounds the name: "gpt-4o" inside a longer buffer. */
	assert_true(keys_model_allowed(&k, "gpt-4o-mini", 6));
	assert_false(keys_model_allowed(&k, "", 0));
}

static void
test_allowlist_of_nothing_valid_disables(void **state)
{
	char eb[256];
	json_t *doc;
	struct keyring *r = NULL;
	static const char text[] = "{\"keys\":[{\"id\":\"key_1\",\"hash\":"
				   "\"d0afc2eb8eb16679c2ed78d4e70"
				   "f02d37802ca6eb883fc5a87a2fe3e2448209f\","
				   "\"allowed_ips\":[\"x\"]}]}";

	(void)state;
	assert_int_equal(
	    jsonx_parse(text, strlen(text), &doc, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(ring_from_json(doc, &r), RELAY_OK);
	assert_int_equal(r->n, 1);
	assert_true(r->v[0].disabled);
	assert_int_equal(r->v[0].nips, 0);
	ring_free(r);
	json_decref(doc);
}

/*
 * Regression: a key file that parses but has no "keys" array (or is not
 * an object) must not be read as "no keys", which opens the relay to
 * everyone; it should be refused like invalid JSON, keeping the previous
 * snapshot.
 */
static void
test_bug_shapeless_file_opens_relay(void **state)
{
	char s1[KEYS_SECRET_LEN + 1], id1[KEYS_ID_LEN + 1];
	struct keys_store *st;
	struct keyring *r;
	size_t n;
	int fd;

	(void)state;
	make_key("{\"name\":\"one\"}", s1, id1);
	st = keys_store_new(path);
	assert_non_null(st);
	r = keys_acquire(st);
	assert_int_equal(keys_count(r), 1);
	keys_release(r);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"keys\":{}}", 11), 11);
	close(fd);
	wait_reload();
	r = keys_acquire(st);
	n = keys_count(r);
	keys_release(r);
	keys_store_free(st);
	assert_int_equal(n, 1);
}

/*
 * Regression: an allowlist entry in ::ffff:0:0/96 parses, but clients in
 * that range are compared as IPv4, so it can never match, not even its
 * own address.
 */
static void
test_bug_v4_mapped_block_never_matches(void **state)
{
	struct keys_cidr c;

	(void)state;
	if (keys_parse_cidr("::ffff:1.2.3.4/128", &c) != RELAY_OK)
		return; /* refusing it is a fix too */
	assert_true(allows("::ffff:1.2.3.4/128", "::ffff:1.2.3.4"));
	assert_true(allows("::ffff:1.2.3.0/120", "1.2.3.4"));
}

/*
 * Regression: an expiry before 1970 is stored negative, and a negative
 * expires_at is read as "never" by gate_auth(). It should be refused.
 */
static void
test_bug_expiry_before_epoch_never_expires(void **state)
{
	json_t *req, *out = NULL;
	char eb[256] = "";
	enum relay_err err;
	long long at = 0;

	(void)state;
	req = json_loads(
	    "{\"name\":\"a\",\"expires_at\":\"1969-12-31T23:59:59Z\"}", 0,
	    NULL);
	err = keys_admin_create(path, req, &out, eb, sizeof(eb));
	if (err == RELAY_OK)
		at = json_integer_value(json_object_get(out, "expires_at"));
	json_decref(req);
	json_decref(out);
	assert_int_equal(err, RELAY_EINVAL);
	assert_int_equal(at, 0);
}

/*
 * Regression: "/-0" is not a prefix length, yet num_parse() reads it as 0,
 * so "10.0.0.0/-0" allowed every IPv4 address.
 */
static void
test_bug_negative_zero_prefix(void **state)
{
	struct keys_cidr c;

	(void)state;
	assert_int_equal(keys_parse_cidr("10.0.0.0/-0", &c), RELAY_EINVAL);
}

/*
 * Regression: keys_admin_create() must never return RELAY_OK with a
 * response that lacks the key's id. merge_view() relies on
 * json_object_update_missing(), which (jansson 2.14) ignores a failed
 * insertion and returns 0. Fails each allocation of a create in turn.
 */
static void
test_bug_create_ok_without_id(void **state)
{
	json_t *req = json_loads("{\"name\":\"a\",\"rpm\":1}", 0, NULL);
	json_t *out = NULL;
	char eb[256];
	unsigned long n;
	int incomplete = 0, done = 0;

	(void)state;
	assert_non_null(req);
	for (n = 1; n < 1000 && !done; n++) {
		enum relay_err err;

		unlink(path); /* the same work each time */
		mem_fail_after(n);
		err = keys_admin_create(path, req, &out, eb, sizeof(eb));
		done = mem_count() < n; /* nothing failed: all visited */
		mem_fail_after(0);
		if (err == RELAY_OK && json_object_get(out, "id") == NULL)
			incomplete++;
		json_decref(out);
		out = NULL;
	}
	json_decref(req);
	assert_true(done);
	assert_int_equal(incomplete, 0);
}

/* Issue 18: a key is usable the moment the admin answers (created, then
 * used with no wait), and disabled, rotated or deleted ones are refused
 * by the very next acquire, many times in a row; an unchanged file costs
 * a stat per acquire (measured and printed). */
static void
test_key_usable_at_once(void **state)
{
	char s[KEYS_SECRET_LEN + 1], id[KEYS_ID_LEN + 1], eb[256];
	struct keys_store *st;
	struct keyring *r;
	const struct vkey *k;
	struct timespec t0, t1;
	json_t *req, *out = NULL;
	int i, n = 20000;
	double ns;

	(void)state;
	st = keys_store_new(path);
	assert_non_null(st);
	for (i = 0; i < 20; i++) {
		make_key("{\"name\":\"at-once\"}", s, id);
		r = keys_acquire(st);
		k = keys_find(r, s, strlen(s));
		assert_non_null(k);
		assert_false(k->disabled);
		keys_release(r);
		req = json_loads("{\"disabled\":true}", 0, NULL);
		assert_int_equal(
		    keys_admin_update(path, id, req, &out, eb, sizeof(eb)),
		    RELAY_OK);
		json_decref(req);
		json_decref(out);
		r = keys_acquire(st);
		k = keys_find(r, s, strlen(s));
		assert_non_null(k);
		assert_true(k->disabled);
		keys_release(r);
		assert_int_equal(
		    keys_admin_delete(path, id, eb, sizeof(eb)), RELAY_OK);
		r = keys_acquire(st);
		assert_null(keys_find(r, s, strlen(s)));
		keys_release(r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		keys_release(keys_acquire(st));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		 (double)(t1.tv_nsec - t0.tv_nsec)) /
	    n;
	printf("measure: keys_acquire, file unchanged: %.0f ns\n", ns);
	assert_true(ns < 100000); /* a stat, never a reload */
	/* The reload after a change, with 100 keys: what the first request
	 * after an admin write pays, on its loop thread. */
	for (i = 0; i < 100; i++)
		make_key("{\"name\":\"many\",\"models\":[\"a\",\"b\"]}", s, id);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = keys_acquire(st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(keys_count(r), 100);
	keys_release(r);
	printf("measure: keys_acquire reloading 100 keys: %.0f us\n",
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		(double)(t1.tv_nsec - t0.tv_nsec)) /
		1e3);
	keys_store_free(st);
}

/* Issue 18: null lifts an allowlist (the console's edit form clears one
 * so); the key then may use any model from any address. */
static void
test_null_lifts_allowlists(void **state)
{
	char s[KEYS_SECRET_LEN + 1], id[KEYS_ID_LEN + 1], eb[256];
	struct keys_store *st;
	struct keyring *r;
	const struct vkey *k;
	json_t *req, *out = NULL;

	(void)state;
	make_key("{\"name\":\"x\",\"models\":[\"a\"],"
		 "\"allowed_ips\":[\"10.0.0.0/8\"]}",
	    s, id);
	req = json_loads("{\"models\":null,\"allowed_ips\":null}", 0, NULL);
	assert_int_equal(
	    keys_admin_update(path, id, req, &out, eb, sizeof(eb)), RELAY_OK);
	assert_null(json_object_get(out, "models"));
	assert_null(json_object_get(out, "allowed_ips"));
	json_decref(out);
	json_decref(req);
	st = keys_store_new(path);
	assert_non_null(st);
	r = keys_acquire(st);
	k = keys_find(r, s, strlen(s));
	assert_non_null(k);
	assert_true(keys_model_allowed(k, "anything", 8));
	assert_true(keys_ip_allowed(k, "192.0.2.7"));
	keys_release(r);
	keys_store_free(st);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_DIR_CASE(test_create_list_get),
	    OOM_DIR_CASE(test_store_sees_key),
	};
	const struct CMUnitTest cases[] = {
	    DIR_CASE(test_validation_names_field),
	    DIR_CASE(test_expires_at_forms),
	    DIR_CASE(test_unknown_id),
	    DIR_CASE(test_update_rotate_delete),
	    DIR_CASE(test_snapshot_outlives_reload),
	    DIR_CASE(test_bad_file_keeps_snapshot),
	    DIR_CASE(test_key_usable_at_once),
	    DIR_CASE(test_null_lifts_allowlists),
	    cmocka_unit_test(test_cidr_parse),
	    cmocka_unit_test(test_cidr_match),
	    cmocka_unit_test(test_ip_allowlist_several_and_none),
	    cmocka_unit_test(test_model_allowed),
	    cmocka_unit_test(test_allowlist_of_nothing_valid_disables),
	    DIR_CASE(test_bug_shapeless_file_opens_relay),
	    cmocka_unit_test(test_bug_v4_mapped_block_never_matches),
	    DIR_CASE(test_bug_expiry_before_epoch_never_expires),
	    cmocka_unit_test(test_bug_negative_zero_prefix),
	    DIR_CASE(test_bug_create_ok_without_id),
	};
	int failed;

	oom_init();
	log_init("test_keys", LOG_LVL_WARN);
	failed = cmocka_run_group_tests_name(
	    "keys (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("keys", cases, NULL, NULL);
	return oom_exit(failed);
}
