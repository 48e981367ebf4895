/* SPDX-License-Identifier: MIT */
/* fuzz_keystore.c - libFuzzer target for the key file loader, through its
 * public path: the input is written as keys.json, then keys_store_new() and
 * keys_acquire(). Never a crash or a leak, and the snapshot agrees with an
 * independent reading of the document: a file that does not load leaves
 * no keys, a file that loads has one key per record, and the known
 * secrets below find exactly the records that carry their hash. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/crypto.h"
#include "../../lib/jsonx.h"
#include "../../lib/keys.h"
#include "../../lib/log.h"

/* Secrets whose hashes the corpus and the dictionary carry. */
static const char *const secrets[] = {
    "sk-relay-000000000000000000000000000000000000000000000000",
    "sk-relay-111111111111111111111111111111111111111111111111",
    "sk-relay-222222222222222222222222222222222222222222222222",
    "sk-relay-333333333333333333333333333333333333333333333333",
};
#define NSECRETS (sizeof(secrets) / sizeof(secrets[0]))

static char path[256];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/fuzz_keystore.XXXXXX";

	(void)argc;
	(void)argv;
	log_init("fuzz_keystore", LOG_LVL_ERROR);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	return 0;
}

/* 1 when rec is a record vkey_load() accepts; its hash into h. */
static int
record_ok(json_t *rec, unsigned char h[32])
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *hash = json_string_value(json_object_get(rec, "hash"));

	return id != NULL && hash != NULL && strlen(id) <= KEYS_ID_LEN &&
	    crypto_unhex(hash, h, 32) == RELAY_OK;
}

static long long
int_or_zero(json_t *rec, const char *k)
{
	json_t *v = json_object_get(rec, k);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* The key found for secret agrees with rec, one of the records with its
 * hash. */
static void
check_key(const struct vkey *k, json_t *arr, const unsigned char h[32])
{
	json_t *rec, *ips;
	size_t i;
	int match = 0;

	if (memcmp(k->hash, h, 32) != 0)
		abort();
	json_array_foreach (arr, i, rec) {
		unsigned char rh[32];
		const char *id = json_string_value(json_object_get(rec, "id"));

		if (!record_ok(rec, rh) || memcmp(rh, h, 32) != 0 ||
		    strcmp(id, k->id) != 0)
			continue;
		if (k->rpm != int_or_zero(rec, "rpm") ||
		    k->tpm != int_or_zero(rec, "tpm") ||
		    k->expires_at != int_or_zero(rec, "expires_at") ||
		    k->nmodels !=
			json_array_size(json_object_get(rec, "models")))
			continue;
		ips = json_object_get(rec, "allowed_ips");
		if (k->nips > json_array_size(ips))
			abort();
		/* An allowlist of nothing valid allows no one. */
		if (json_array_size(ips) > 0 && k->nips == 0 && !k->disabled)
			abort();
		match = 1;
	}
	if (!match)
		abort();
	if (k->name == NULL)
		abort();
	for (i = 0; i < k->nmodels; i++)
		(void)keys_model_allowed(k, k->models[i], strlen(k->models[i]));
	(void)keys_ip_allowed(k, "10.1.2.3");
	(void)keys_ip_allowed(k, "2001:db8::1");
}

static void
check(const struct keyring *r, const uint8_t *data, size_t size)
{
	char errbuf[256];
	json_t *doc = NULL, *arr, *rec;
	unsigned char h[32], want[NSECRETS][32];
	int has[NSECRETS] = {0}, loads = 1;
	size_t i, j;

	for (j = 0; j < NSECRETS; j++)
		crypto_sha256(secrets[j], strlen(secrets[j]), want[j]);
	if (jsonx_parse((const char *)data, size, &doc, errbuf,
		sizeof(errbuf)) != RELAY_OK) {
		if (keys_count(r) != 0)
			abort();
		return;
	}
	arr = json_object_get(doc, "keys");
	json_array_foreach (arr, i, rec) {
		if (!record_ok(rec, h)) {
			loads = 0;
			break;
		}
		for (j = 0; j < NSECRETS; j++)
			if (memcmp(h, want[j], 32) == 0)
				has[j] = 1;
	}
	if (keys_count(r) != (loads ? json_array_size(arr) : 0))
		abort();
	for (j = 0; j < NSECRETS; j++) {
		const struct vkey *k =
		    keys_find(r, secrets[j], strlen(secrets[j]));

		if ((k != NULL) != (loads && has[j]))
			abort();
		if (k != NULL)
			check_key(k, arr, want[j]);
		/* One byte short is another secret. */
		if (keys_find(r, secrets[j], strlen(secrets[j]) - 1) != NULL)
			abort();
	}
	json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keys_store *st;
	struct keyring *r;
	int fd;

	if (size > 1 << 20)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	st = keys_store_new(path);
	if (st == NULL)
		abort();
	r = keys_acquire(st);
	check(r, data, size);
	keys_release(r);
	keys_store_free(st);
	return 0;
}
