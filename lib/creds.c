/* SPDX-License-Identifier: MIT */
/* creds.c - sealed provider credentials. File format
 * {"version":1,"credentials":[{"id","provider","label","key_id","box",
 * "last4","created_at","proxy_box"?,"proxy"?}]}; box is base64(nonce ||
 * ciphertext || tag) of the API key under the master key named by key_id,
 * with the credential's id and provider as additional data, so a box
 * cannot be moved to another record unnoticed. proxy_box seals the key's
 * egress proxy URL (it may hold the proxy's password) the same way, with
 * other additional data; "proxy" shows it without credentials. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "creds.h"
#include "crypto.h"
#include "egress.h"
#include "limits.h"
#include "log.h"
#include "mem.h"
#include "store.h"

/* One opened credential in a snapshot. */
struct cred {
	char *provider;
	char *secret;
	char *proxy; /* its egress proxy URL, NULL: none */
};

struct creds_snap {
	struct cred *v; /* sorted by provider */
	const char **secrets; /* v[i].secret, so a run can be handed out */
	size_t n;
	int refs;
};

struct creds_store {
	pthread_mutex_t lock;
	char *path;
	struct creds_master master;
	struct store_watch watch;
	struct creds_snap *cur;
};

enum relay_err
creds_master_load(struct creds_master *m)
{
	enum relay_err err;

	memset(m, 0, sizeof(*m));
	err = crypto_load_key(
	    "RELAY_MASTER_KEY", "RELAY_MASTER_KEY_FILE", m->cur);
	if (err == RELAY_OK)
		m->have_cur = 1;
	else if (err != RELAY_ENOTFOUND)
		return err;
	err = crypto_load_key("RELAY_MASTER_KEY_PREVIOUS",
	    "RELAY_MASTER_KEY_PREVIOUS_FILE", m->prev);
	if (err == RELAY_OK)
		m->have_prev = 1;
	else if (err != RELAY_ENOTFOUND)
		return err;
	return RELAY_OK;
}

/* The additional data of rec's box ("box": the API key) or proxy_box. */
static void
aad_of(char *out, size_t outsz, const char *field, const char *id,
    const char *provider)
{
	snprintf(out, outsz, "llm-relay:%s:%s:%s",
	    strcmp(field, "box") == 0 ? "credential" : "credential-proxy", id,
	    provider);
}

/* Open rec's box (field "box" or "proxy_box") with whichever master key
 * sealed it. */
static enum relay_err
open_box(const struct creds_master *m, json_t *rec, const char *field,
    struct buf *out)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *prov = json_string_value(json_object_get(rec, "provider"));
	const char *kid = json_string_value(json_object_get(rec, "key_id"));
	const char *box = json_string_value(json_object_get(rec, field));
	const unsigned char *key = NULL;
	char aad[512], cid[9], pid[9];
	enum relay_err err;
	struct buf raw;

	if (id == NULL || prov == NULL || kid == NULL || box == NULL)
		return RELAY_EINVAL;
	if (m->have_cur) {
		crypto_key_id(m->cur, cid);
		if (strcmp(cid, kid) == 0)
			key = m->cur;
	}
	if (key == NULL && m->have_prev) {
		crypto_key_id(m->prev, pid);
		if (strcmp(pid, kid) == 0)
			key = m->prev;
	}
	if (key == NULL)
		return RELAY_ENOTFOUND;
	buf_init(&raw, 1 << 20);
	aad_of(aad, sizeof(aad), field, id, prov);
	err = crypto_unb64(&raw, box);
	if (err == RELAY_OK)
		err = crypto_open(
		    key, aad, (const unsigned char *)raw.data, raw.len, out);
	buf_reset(&raw);
	return err;
}

/* Seal secret into rec's field ("box" or "proxy_box"; rec has id and
 * provider) under m->cur. */
static enum relay_err
seal_into(const struct creds_master *m, json_t *rec, const char *field,
    const char *secret)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *prov = json_string_value(json_object_get(rec, "provider"));
	char aad[512], kid[9];
	struct buf box, b64;
	enum relay_err err;

	buf_init(&box, 1 << 20);
	buf_init(&b64, 2 << 20);
	aad_of(aad, sizeof(aad), field, id, prov);
	crypto_key_id(m->cur, kid);
	err = crypto_seal(m->cur, aad, secret, strlen(secret), &box);
	if (err == RELAY_OK)
		err =
		    crypto_b64(&b64, (const unsigned char *)box.data, box.len);
	if (err == RELAY_OK &&
	    (json_object_set_new(rec, field, json_string(b64.data)) != 0 ||
		json_object_set_new(rec, "key_id", json_string(kid)) != 0))
		err = RELAY_ENOMEM;
	buf_reset(&b64);
	buf_reset(&box);
	return err;
}

/* --- snapshots --------------------------------------------------------- */

static void
snap_free(struct creds_snap *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		if (s->v[i].secret != NULL)
			explicit_bzero(s->v[i].secret, strlen(s->v[i].secret));
		mem_free(s->v[i].secret);
		mem_free(s->v[i].provider);
		if (s->v[i].proxy != NULL)
			explicit_bzero(s->v[i].proxy, strlen(s->v[i].proxy));
		mem_free(s->v[i].proxy);
	}
	mem_free(s->v);
	mem_free(s->secrets);
	mem_free(s);
}

void
creds_release(struct creds_snap *s)
{
	if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		snap_free(s);
}

static struct creds_snap *
snap_new(size_t n)
{
	struct creds_snap *s = mem_calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->refs = 1;
	if (n > 0) {
		s->v = mem_calloc(n, sizeof(*s->v));
		s->secrets = mem_calloc(n, sizeof(*s->secrets));
		if (s->v == NULL || s->secrets == NULL) {
			snap_free(s);
			return NULL;
		}
	}
	return s;
}

static enum relay_err
snap_add(struct creds_snap *s, const struct creds_master *m, json_t *rec)
{
	const char *prov = json_string_value(json_object_get(rec, "provider"));
	enum relay_err err;
	struct buf plain;

	buf_init(&plain, 1 << 20);
	err = open_box(m, rec, "box", &plain);
	if (err == RELAY_OK && json_object_get(rec, "proxy_box") != NULL) {
		struct buf px;

		buf_init(&px, 1 << 16);
		err = open_box(m, rec, "proxy_box", &px);
		s->v[s->n].proxy = err == RELAY_OK ? buf_steal(&px) : NULL;
		if (err == RELAY_OK && s->v[s->n].proxy == NULL)
			err = RELAY_ENOMEM;
		buf_reset(&px);
		if (err != RELAY_OK) {
			explicit_bzero(plain.data, plain.len);
			buf_clear(&plain);
		}
	}
	if (err != RELAY_OK) {
		log_err(
		    "credential %s: cannot be opened (%s): wrong or missing "
		    "master key?",
		    json_string_value(json_object_get(rec, "id")),
		    err_name(err));
		buf_reset(&plain);
		return err == RELAY_ENOMEM ? err : RELAY_OK;
	}
	s->v[s->n].provider = mem_strdup(prov);
	s->v[s->n].secret = buf_steal(&plain);
	if (s->v[s->n].provider == NULL || s->v[s->n].secret == NULL)
		err = RELAY_ENOMEM;
	s->n++;
	return err;
}

struct creds_store *
creds_store_new(const char *path, const struct creds_master *m)
{
	struct creds_store *st = mem_calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->path = mem_strdup(path);
	st->cur = snap_new(0);
	if (st->path == NULL || st->cur == NULL) {
		creds_release(st->cur);
		mem_free(st->path);
		mem_free(st);
		return NULL;
	}
	st->master = *m;
	pthread_mutex_init(&st->lock, NULL);
	return st;
}

void
creds_store_free(struct creds_store *st)
{
	if (st == NULL)
		return;
	creds_release(st->cur);
	explicit_bzero(&st->master, sizeof(st->master));
	pthread_mutex_destroy(&st->lock);
	mem_free(st->path);
	mem_free(st);
}

static int
cred_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cred *)a)->provider,
	    ((const struct cred *)b)->provider);
}

/* Group by provider so that creds_for() hands out one run. */
static void
snap_index(struct creds_snap *s)
{
	size_t i;

	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cred_cmp);
	for (i = 0; i < s->n; i++)
		s->secrets[i] = s->v[i].secret;
}

/* Caller holds st->lock. */
static void
do_creds_reload(struct creds_store *st)
{
	struct creds_snap *next;
	json_t *doc = NULL, *list, *rec;
	enum relay_err err;
	char errbuf[256];
	struct stat sb;
	size_t i;

	err = store_read(st->path, &doc, &sb, errbuf, sizeof(errbuf));
	/* A bad file counts as seen too: not re-read until it changes. */
	store_seen(&st->watch, err == RELAY_ENOTFOUND ? NULL : &sb);
	if (err != RELAY_OK && err != RELAY_ENOTFOUND) {
		log_err("credentials: %s", errbuf);
		return;
	}
	list = json_object_get(doc, "credentials");
	next = snap_new(json_array_size(list));
	err = next != NULL ? RELAY_OK : RELAY_ENOMEM;
	json_array_foreach (list, i, rec) {
		if (err == RELAY_OK)
			err = snap_add(next, &st->master, rec);
	}
	json_decref(doc);
	if (err != RELAY_OK) {
		snap_free(next);
		log_err("credentials: not loaded (%s)", err_name(err));
		return;
	}
	snap_index(next);
	creds_release(st->cur);
	st->cur = next;
}

struct creds_snap *
creds_acquire(struct creds_store *st)
{
	struct creds_snap *s;

	pthread_mutex_lock(&st->lock);
	if (store_changed(&st->watch, st->path, 250))
		do_creds_reload(st);
	s = st->cur;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&st->lock);
	return s;
}

const char *
creds_proxy(const struct creds_snap *s, const char *secret)
{
	size_t i;

	for (i = 0; secret != NULL && i < s->n; i++)
		if (s->v[i].secret == secret)
			return s->v[i].proxy;
	return NULL;
}

const char *const *
creds_for(const struct creds_snap *s, const char *provider, size_t *n)
{
	size_t i, k;

	*n = 0;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].provider, provider) == 0)
			break;
	for (k = i; k < s->n && strcmp(s->v[k].provider, provider) == 0; k++)
		;
	*n = k - i;
	return *n > 0 ? s->secrets + i : NULL;
}

/* --- admin operations ------------------------------------------------- */

struct cop {
	const struct creds_master *m;
	json_t *req;
	const char *id;
	json_t *out;
	char *errbuf;
	size_t errsz;
	int count;
};

static enum relay_err RELAY_COLD
cbad(struct cop *o, const char *msg)
{
	snprintf(o->errbuf, o->errsz, "%s", msg);
	return RELAY_EINVAL;
}

/* A record for responses: never the box. */
static json_t *
cred_view(json_t *rec)
{
	json_t *v = json_deep_copy(rec);

	if (v != NULL) {
		json_object_del(v, "box");
		json_object_del(v, "proxy_box");
	}
	return v;
}

/* A proxy URL without its credentials, for lists: scheme://host:port. */
static json_t *
proxy_shown(const char *url)
{
	const char *sep = strstr(url, "://"), *auth = sep + 3, *host = auth;
	size_t i, n = strcspn(auth, "/?#");
	char out[RELAY_EGRESS_URL_MAX + 8];

	for (i = 0; i < n; i++)
		if (auth[i] == '@')
			host = auth + i + 1;
	snprintf(out, sizeof(out), "%.*s://%s%s", (int)(sep - url), url,
	    host != auth ? "***@" : "", host);
	return json_string(out);
}

static enum relay_err
op_add(json_t *list, void *arg)
{
	struct cop *o = arg;
	const char *prov =
	    json_string_value(json_object_get(o->req, "provider"));
	const char *key = json_string_value(json_object_get(o->req, "api_key"));
	json_t *label = json_object_get(o->req, "label"), *rec;
	json_t *proxy = json_object_get(o->req, "proxy");
	unsigned char rnd[6];
	char id[24], last4[8], eb[128];
	enum relay_err err;
	size_t klen;

	if (!o->m->have_cur)
		return cbad(o,
		    "no master key: set RELAY_MASTER_KEY or "
		    "RELAY_MASTER_KEY_FILE for relay-admin");
	if (prov == NULL || *prov == '\0' || strlen(prov) > RELAY_NAME_MAX ||
	    key == NULL || *key == '\0' || strlen(key) > 4096 ||
	    (label != NULL && !json_is_string(label)))
		return cbad(o,
		    "want {\"provider\": name, \"api_key\": secret, "
		    "\"label\": optional text, \"proxy\": optional URL}");
	if (proxy != NULL &&
	    (!json_is_string(proxy) ||
		egress_check(json_string_value(proxy), eb, sizeof(eb)) != 0)) {
		char msg[192];

		snprintf(msg, sizeof(msg), "\"proxy\" %s",
		    json_is_string(proxy) ? eb : "must be a string");
		return cbad(o, msg);
	}
	err = crypto_random(rnd, sizeof(rnd));
	if (err != RELAY_OK)
		return err;
	memcpy(id, "cred_", 5);
	crypto_hex(rnd, sizeof(rnd), id + 5);
	klen = strlen(key);
	snprintf(last4, sizeof(last4), "%s", klen > 8 ? key + klen - 4 : "");
	rec = json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", id, "provider", prov,
	    "label", label != NULL ? json_string_value(label) : "", "last4",
	    last4, "created_at", (json_int_t)time(NULL));
	if (rec == NULL)
		return RELAY_ENOMEM;
	err = seal_into(o->m, rec, "box", key);
	if (err == RELAY_OK && proxy != NULL)
		err =
		    seal_into(o->m, rec, "proxy_box", json_string_value(proxy));
	if (err == RELAY_OK && proxy != NULL &&
	    json_object_set_new(
		rec, "proxy", proxy_shown(json_string_value(proxy))) != 0)
		err = RELAY_ENOMEM;
	if (err == RELAY_OK && json_array_append(list, rec) != 0)
		err = RELAY_ENOMEM;
	if (err == RELAY_OK) {
		o->out = cred_view(rec);
		err = o->out != NULL ? RELAY_OK : RELAY_ENOMEM;
	}
	json_decref(rec);
	return err;
}

static enum relay_err
op_del(json_t *list, void *arg)
{
	struct cop *o = arg;
	json_t *rec;
	size_t i;

	json_array_foreach (list, i, rec) {
		const char *id = json_string_value(json_object_get(rec, "id"));

		if (id != NULL && strcmp(id, o->id) == 0)
			return json_array_remove(list, i) == 0 ? RELAY_OK
							       : RELAY_ENOMEM;
	}
	return RELAY_ENOTFOUND;
}

/* Open rec's boxes, then seal them under m->cur: both are opened before
 * either is sealed, as they share the record's key_id. */
static enum relay_err
reseal_one(const struct creds_master *m, json_t *rec)
{
	int has_px = json_object_get(rec, "proxy_box") != NULL;
	struct buf key, px;
	enum relay_err err;

	buf_init(&key, 1 << 20);
	buf_init(&px, 1 << 16);
	err = open_box(m, rec, "box", &key);
	if (err == RELAY_OK && has_px)
		err = open_box(m, rec, "proxy_box", &px);
	if (err == RELAY_OK)
		err = seal_into(m, rec, "box", key.data);
	if (err == RELAY_OK && has_px)
		err = seal_into(m, rec, "proxy_box", px.data);
	if (key.data != NULL)
		explicit_bzero(key.data, key.len);
	if (px.data != NULL)
		explicit_bzero(px.data, px.len);
	buf_reset(&key);
	buf_reset(&px);
	return err;
}

static enum relay_err
op_reseal(json_t *list, void *arg)
{
	struct cop *o = arg;
	enum relay_err err = RELAY_OK;
	json_t *rec;
	size_t i;

	if (!o->m->have_cur)
		return cbad(o, "no master key: set RELAY_MASTER_KEY");
	json_array_foreach (list, i, rec) {
		err = reseal_one(o->m, rec);
		if (err != RELAY_OK) {
			snprintf(o->errbuf, o->errsz,
			    "credential %s cannot be opened with "
			    "RELAY_MASTER_KEY or RELAY_MASTER_KEY_PREVIOUS",
			    json_string_value(json_object_get(rec, "id")));
			return err == RELAY_ENOMEM ? err : RELAY_EINVAL;
		}
		o->count++;
	}
	return RELAY_OK;
}

enum relay_err
creds_admin_add(const char *path, const struct creds_master *m, json_t *req,
    json_t **out, char *errbuf, size_t errsz)
{
	struct cop o = {m, req, NULL, NULL, errbuf, errsz, 0};
	enum relay_err err;

	*out = NULL;
	err = store_update(path, "credentials", op_add, &o, errbuf, errsz);
	if (err == RELAY_OK)
		*out = o.out;
	else
		json_decref(o.out);
	return err;
}

enum relay_err
creds_admin_delete(const char *path, const char *id, char *errbuf, size_t errsz)
{
	struct cop o = {NULL, NULL, id, NULL, errbuf, errsz, 0};

	return store_update(path, "credentials", op_del, &o, errbuf, errsz);
}

enum relay_err
creds_admin_reencrypt(const char *path, const struct creds_master *m,
    json_t **out, char *errbuf, size_t errsz)
{
	struct cop o = {m, NULL, NULL, NULL, errbuf, errsz, 0};
	enum relay_err err;

	*out = NULL;
	err = store_update(path, "credentials", op_reseal, &o, errbuf, errsz);
	if (err == RELAY_OK) {
		*out = json_pack("{s:i}", "reencrypted", o.count);
		if (*out == NULL)
			err = RELAY_ENOMEM;
	}
	return err;
}

enum relay_err
creds_admin_list(const char *path, json_t **out, char *errbuf, size_t errsz)
{
	json_t *doc = NULL, *rec, *data = json_array();
	enum relay_err err;
	size_t i;

	*out = NULL;
	err = data != NULL
	    ? store_read_list(path, "credentials", &doc, errbuf, errsz)
	    : RELAY_ENOMEM;
	json_array_foreach (json_object_get(doc, "credentials"), i, rec) {
		if (err == RELAY_OK &&
		    json_array_append_new(data, cred_view(rec)) != 0)
			err = RELAY_ENOMEM;
	}
	json_decref(doc);
	if (err == RELAY_OK)
		*out = json_pack("{s:s,s:o}", "object", "list", "data", data);
	else
		json_decref(data);
	return err == RELAY_OK && *out == NULL ? RELAY_ENOMEM : err;
}
