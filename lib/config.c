/* SPDX-License-Identifier: MIT */
/* config.c - config validation with JSON-path errors, the built-in default,
 * and hot reload by stat(2) polling. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "egress.h"
#include "jsonx.h"
#include "limits.h"
#include "log.h"
#include "mem.h"
#include "wordfilter.h"

static const char *const provider_type_names[PROVIDER__MAX] = {
    [PROVIDER_OPENAI] = "openai",
    [PROVIDER_AZURE] = "azure",
    [PROVIDER_ANTHROPIC] = "anthropic",
    [PROVIDER_GEMINI] = "gemini",
};

const char *
config_provider_type_name(enum provider_type t)
{
	if ((unsigned)t >= PROVIDER__MAX)
		return "unknown";
	return provider_type_names[t];
}

/* Validation context: the error goes to errbuf once, with its path. */
struct vctx {
	char *errbuf;
	size_t errsz;
	enum relay_err err;
};

static void RELAY_PRINTF(3, 4) RELAY_COLD
    vfail(struct vctx *v, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (v->err != RELAY_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(v->errbuf, v->errsz, "%s: %s", path, msg);
	v->err = RELAY_EINVAL;
}

static void
voom(struct vctx *v)
{
	if (v->err == RELAY_OK) {
		snprintf(v->errbuf, v->errsz, "out of memory");
		v->err = RELAY_ENOMEM;
	}
}

static char *
vdup(struct vctx *v, const char *s)
{
	char *d = mem_strdup(s);

	if (d == NULL)
		voom(v);
	return d;
}

/* Refuse keys the schema does not know: typos must not pass silently. */
static void
vkeys(struct vctx *v, json_t *obj, const char *path, const char *const *known)
{
	const char *k;
	json_t *val;
	size_t i;

	json_object_foreach (obj, k, val) {
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (known[i] == NULL)
			vfail(v, path, "unknown key \"%.64s\"", k);
	}
}

/* A non-empty string of at most RELAY_NAME_MAX bytes, or NULL after
 * vfail(). */
static const char *
vname(struct vctx *v, json_t *obj, const char *key, const char *path,
    int required)
{
	json_t *s = json_object_get(obj, key);
	const char *str;

	if (s == NULL) {
		if (required)
			vfail(v, path, "missing required key \"%s\"", key);
		return NULL;
	}
	str = json_string_value(s);
	if (str == NULL || json_string_length(s) == 0 ||
	    json_string_length(s) > RELAY_NAME_MAX ||
	    strlen(str) != json_string_length(s)) {
		vfail(v, path,
		    "\"%s\" must be a non-empty string of at most %d bytes",
		    key, RELAY_NAME_MAX);
		return NULL;
	}
	return str;
}

static long
vlong(struct vctx *v, json_t *obj, const char *key, const char *path, long def,
    long min, long max)
{
	json_t *n = json_object_get(obj, key);
	json_int_t i;

	if (n == NULL)
		return def;
	if (!json_is_integer(n)) {
		vfail(v, path, "\"%s\" must be an integer", key);
		return def;
	}
	i = json_integer_value(n);
	if (i < min || i > max) {
		vfail(v, path, "\"%s\" must be between %ld and %ld", key, min,
		    max);
		return def;
	}
	return (long)i;
}

static double
vprice(struct vctx *v, json_t *obj, const char *key, const char *path)
{
	json_t *n = json_object_get(obj, key);

	if (n == NULL)
		return 0;
	if (!json_is_number(n) || json_number_value(n) < 0 ||
	    json_number_value(n) > 1e6) {
		vfail(v, path,
		    "\"%s\" must be a number of USD per million "
		    "tokens, 0 to 1000000",
		    key);
		return 0;
	}
	return json_number_value(n);
}

/* true or false; def when absent. */
static int
vbool(struct vctx *v, json_t *obj, const char *key, const char *path, int def)
{
	json_t *b = json_object_get(obj, key);

	if (b == NULL)
		return def;
	if (!json_is_boolean(b)) {
		vfail(v, path, "\"%s\" must be true or false", key);
		return def;
	}
	return json_is_true(b);
}

/* A "cache" object over the defaults def (top level: the built-in ones). */
static void
parse_cache(struct vctx *v, json_t *j, const char *path, int top,
    const struct config_cache *def, struct config_cache *out)
{
	static const char *const known[] = {"enabled", "ttl_s",
	    "any_temperature", "shared", "max_bytes", "part_bytes", NULL};
	static const char *const mknown[] = {
	    "enabled", "ttl_s", "any_temperature", "shared", NULL};

	*out = *def;
	if (j == NULL)
		return;
	if (!json_is_object(j)) {
		vfail(v, path, "must be an object");
		return;
	}
	vkeys(v, j, path, top ? known : mknown);
	out->enabled = vbool(v, j, "enabled", path, def->enabled);
	out->ttl_s = vlong(v, j, "ttl_s", path, def->ttl_s, 1, 30L * 86400);
	out->any_temperature =
	    vbool(v, j, "any_temperature", path, def->any_temperature);
	out->shared = vbool(v, j, "shared", path, def->shared);
}

/* A "content_filter" object over the defaults def. */
static void
parse_filter(struct vctx *v, json_t *j, const char *path, int top,
    const struct config_filter *def, struct config_filter *out)
{
	static const char *const known[] = {
	    "word_files", "input", "output", NULL};
	static const char *const mknown[] = {"input", "output", NULL};
	static const char *const outs[FILTER_OUT__MAX] = {
	    [FILTER_OUT_OFF] = "off",
	    [FILTER_OUT_MASK] = "mask",
	    [FILTER_OUT_STOP] = "stop",
	};
	json_t *o;
	int i;

	*out = *def;
	if (j == NULL)
		return;
	if (!json_is_object(j)) {
		vfail(v, path, "must be an object");
		return;
	}
	vkeys(v, j, path, top ? known : mknown);
	out->input = vbool(v, j, "input", path, def->input);
	o = json_object_get(j, "output");
	if (o == NULL)
		return;
	for (i = 0; i < FILTER_OUT__MAX; i++)
		if (json_is_string(o) &&
		    strcmp(json_string_value(o), outs[i]) == 0)
			out->output = (enum filter_output)i;
	if (!json_is_string(o) ||
	    strcmp(json_string_value(o), outs[out->output]) != 0)
		vfail(v, path,
		    "\"output\" must be \"off\", \"mask\" or "
		    "\"stop\"");
}

/* content_filter.word_files: readable word lists (loaded here once, so a
 * bad list is a config error, not a silent filter that matches nothing). */
static void
parse_filter_files(struct vctx *v, struct config *c, json_t *j)
{
	json_t *files = json_object_get(j, "word_files"), *f;
	struct wordfilter *wf;
	char eb[256];
	size_t i;

	if (files == NULL)
		return;
	if (!json_is_array(files) ||
	    json_array_size(files) > RELAY_FILTER_FILES_MAX) {
		vfail(v, "$.content_filter",
		    "\"word_files\" must be an array of at most %d paths",
		    RELAY_FILTER_FILES_MAX);
		return;
	}
	c->filter_files =
	    mem_calloc(json_array_size(files) + 1, sizeof(char *));
	if (c->filter_files == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (files, i, f) {
		if (!json_is_string(f) || json_string_length(f) == 0) {
			vfail(v, "$.content_filter",
			    "\"word_files\" holds file paths");
			return;
		}
		c->filter_files[i] = vdup(v, json_string_value(f));
		if (c->filter_files[i] == NULL)
			return;
		c->nfilter_files = i + 1;
	}
	wf = wordfilter_load((const char *const *)c->filter_files,
	    c->nfilter_files, eb, sizeof(eb));
	if (wf == NULL)
		vfail(v, "$.content_filter", "%s", eb);
	wordfilter_free(wf);
}

/* An action name of pii_protection, or -1. */
static int
pii_action_of(json_t *s)
{
	static const char *const names[PII_ACT__MAX] = {
	    [PII_ACT_OFF] = "off",
	    [PII_ACT_MASK] = "mask",
	    [PII_ACT_PSEUDO] = "pseudonymise",
	    [PII_ACT_BLOCK] = "block",
	};
	int i;

	if (!json_is_string(s))
		return -1;
	if (strcmp(json_string_value(s), "pseudonymize") == 0)
		return PII_ACT_PSEUDO;
	for (i = 0; i < PII_ACT__MAX; i++)
		if (strcmp(json_string_value(s), names[i]) == 0)
			return i;
	return -1;
}

/* A "pii_protection" object over the defaults def: "action" for every
 * entity kind, then "entities" per kind. */
static void
parse_pii(struct vctx *v, json_t *j, const char *path, int top,
    const struct config_pii *def, struct config_pii *out)
{
	static const char *const known[] = {"action", "entities", "word_files",
	    "detector", "proxy", "surrogates", NULL};
	static const char *const mknown[] = {"action", "entities", NULL};
	static const char *const ents[PII_ENT__MAX + 1] = {
	    "phone", "id", "card", "email", "term", "name", "address", NULL};
	static const char bad[] = "must be \"off\", \"mask\", "
				  "\"pseudonymise\" or \"block\"";
	json_t *a, *e;
	int i, act;

	*out = *def;
	if (j == NULL)
		return;
	if (!json_is_object(j)) {
		vfail(v, path, "must be an object");
		return;
	}
	vkeys(v, j, path, top ? known : mknown);
	if (top)
		out->surrogates = (unsigned char)vbool(
		    v, j, "surrogates", path, def->surrogates);
	a = json_object_get(j, "action");
	if (a != NULL) {
		act = pii_action_of(a);
		if (act < 0)
			vfail(v, path, "\"action\" %s", bad);
		for (i = 0; act >= 0 && i < PII_ENT__MAX; i++)
			out->act[i] = (unsigned char)act;
	}
	e = json_object_get(j, "entities");
	if (e == NULL)
		return;
	if (!json_is_object(e)) {
		vfail(v, path, "\"entities\" must be an object");
		return;
	}
	vkeys(v, e, path, ents);
	for (i = 0; i < PII_ENT__MAX; i++) {
		a = json_object_get(e, ents[i]);
		if (a == NULL)
			continue;
		act = pii_action_of(a);
		if (act < 0)
			vfail(v, path, "\"entities.%s\" %s", ents[i], bad);
		else
			out->act[i] = (unsigned char)act;
	}
}

static int url_ok(const char *url);
static void vstrs(struct vctx *v, json_t *a, const char *key, const char *path,
    int kind, struct config_strs *out);

/* pii_protection.detector (config.h: struct config_detector). */
static void
parse_pii_detector(struct vctx *v, struct config *c, json_t *j)
{
	static const char *const known[] = {"url", "timeout_ms", "entities",
	    "language", "score_threshold", "on_error", NULL};
	static const char *const def_entities[] = {"PERSON", "LOCATION"};
	static const char path[] = "$.pii_protection.detector";
	struct config_detector *d = &c->pii_detector;
	json_t *det = json_object_get(j, "detector"), *x;
	const char *s;
	size_t i;

	if (det == NULL)
		return;
	if (!json_is_object(det)) {
		vfail(v, path, "must be an object");
		return;
	}
	vkeys(v, det, path, known);
	s = vname(v, det, "url", path, 1);
	if (s != NULL && !url_ok(s))
		vfail(
		    v, path, "\"url\" must be http:// or https:// and a host");
	if (v->err != RELAY_OK)
		return;
	d->url = vdup(v, s);
	d->timeout_ms = vlong(
	    v, det, "timeout_ms", path, RELAY_PII_DETECT_MS_DEFAULT, 10, 60000);
	s = vname(v, det, "language", path, 0);
	d->language = vdup(v, s != NULL ? s : "en");
	x = json_object_get(det, "score_threshold");
	if (x != NULL &&
	    (!json_is_number(x) || json_number_value(x) < 0 ||
		json_number_value(x) > 1))
		vfail(v, path, "\"score_threshold\" must be a number, 0 to 1");
	d->score_threshold = x != NULL && json_is_number(x)
	    ? json_number_value(x)
	    : RELAY_PII_DETECT_SCORE_DEFAULT;
	x = json_object_get(det, "on_error");
	if (x != NULL &&
	    (!json_is_string(x) ||
		(strcmp(json_string_value(x), "block") != 0 &&
		    strcmp(json_string_value(x), "skip") != 0)))
		vfail(v, path, "\"on_error\" must be \"block\" or \"skip\"");
	d->skip_on_error = x != NULL && json_is_string(x) &&
	    strcmp(json_string_value(x), "skip") == 0;
	x = json_object_get(det, "entities");
	if (x != NULL) {
		vstrs(v, x, "entities", path, 0, &d->entities);
		if (v->err == RELAY_OK && d->entities.n == 0)
			vfail(v, path,
			    "\"entities\" must name at least one type");
		return;
	}
	d->entities.v = mem_calloc(2, sizeof(char *));
	if (d->entities.v == NULL) {
		voom(v);
		return;
	}
	for (i = 0; i < 2; i++) {
		d->entities.v[i] = vdup(v, def_entities[i]);
		if (d->entities.v[i] == NULL)
			return;
		d->entities.n = i + 1;
	}
}

/* pii_protection.word_files: the operator's terms (names, code names),
 * loaded once here so a bad list is a config error. */
static void
parse_pii_files(struct vctx *v, struct config *c, json_t *j)
{
	json_t *files = json_object_get(j, "word_files"), *f;
	struct wordfilter *wf;
	char eb[256];
	size_t i;

	if (files == NULL)
		return;
	if (!json_is_array(files) ||
	    json_array_size(files) > RELAY_FILTER_FILES_MAX) {
		vfail(v, "$.pii_protection",
		    "\"word_files\" must be an array of at most %d paths",
		    RELAY_FILTER_FILES_MAX);
		return;
	}
	c->pii_files = mem_calloc(json_array_size(files) + 1, sizeof(char *));
	if (c->pii_files == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (files, i, f) {
		if (!json_is_string(f) || json_string_length(f) == 0) {
			vfail(v, "$.pii_protection",
			    "\"word_files\" holds file paths");
			return;
		}
		c->pii_files[i] = vdup(v, json_string_value(f));
		if (c->pii_files[i] == NULL)
			return;
		c->npii_files = i + 1;
	}
	wf = wordfilter_load(
	    (const char *const *)c->pii_files, c->npii_files, eb, sizeof(eb));
	if (wf == NULL)
		vfail(v, "$.pii_protection", "%s", eb);
	wordfilter_free(wf);
}

/* pii_protection.proxy: what /proxy/ does while a policy is on: "refuse"
 * (its bodies are not read, so none goes out unprotected) or "json" (a
 * JSON body protected as a chat request is, the answer restored). */
static void
parse_pii_proxy(struct vctx *v, struct config *c, json_t *j)
{
	json_t *m = json_object_get(j, "proxy");

	c->pii_proxy_json = 0;
	if (m == NULL)
		return;
	if (json_is_string(m) && strcmp(json_string_value(m), "json") == 0)
		c->pii_proxy_json = 1;
	else if (!json_is_string(m) ||
	    strcmp(json_string_value(m), "refuse") != 0)
		vfail(v, "$.pii_protection",
		    "\"proxy\" must be \"refuse\" or \"json\"");
}

/* "env:NAME" resolves to the variable's value; anything else is literal. */
static char *
vsecret(struct vctx *v, json_t *s, const char *path)
{
	const char *str = json_string_value(s), *val;

	if (str == NULL || json_string_length(s) == 0 ||
	    strlen(str) != json_string_length(s)) {
		vfail(v, path,
		    "must be a non-empty string (literal or env:NAME)");
		return NULL;
	}
	if (strncmp(str, "env:", 4) != 0)
		return vdup(v, str);
	val = getenv(str + 4);
	if (val == NULL || *val == '\0') {
		vfail(
		    v, path, "environment variable %.64s is not set", str + 4);
		return NULL;
	}
	return vdup(v, val);
}

/* An egress proxy URL (literal or env:NAME), checked; it may hold a
 * password, so errors never quote it. NULL when absent or refused. */
static char *
vproxy(struct vctx *v, json_t *s, const char *path)
{
	char eb[128], *url;

	if (s == NULL)
		return NULL;
	url = vsecret(v, s, path);
	if (url == NULL)
		return NULL;
	if (egress_check(url, eb, sizeof(eb)) != 0) {
		vfail(v, path, "\"proxy\" %s", eb);
		explicit_bzero(url, strlen(url));
		mem_free(url);
		return NULL;
	}
	return url;
}

static void
free_secret(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
	mem_free(s);
}

const char *
config_key_proxy(const struct config_provider *p, const char *key)
{
	size_t i;

	for (i = 0; key != NULL && p->key_proxies != NULL && i < p->nkeys; i++)
		if (p->keys[i] == key && p->key_proxies[i] != NULL)
			return p->key_proxies[i];
	return p->proxy;
}

static void
strs_free(struct config_strs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		mem_free(s->v[i]);
	mem_free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void
provider_free(struct config_provider *p)
{
	size_t i;

	mem_free(p->name);
	mem_free(p->base_url);
	for (i = 0; i < p->nurls; i++)
		mem_free(p->urls[i].url);
	mem_free(p->urls);
	for (i = 0; i < p->nkeys; i++) {
		if (p->keys[i] != NULL)
			explicit_bzero(p->keys[i], strlen(p->keys[i]));
		mem_free(p->keys[i]);
		if (p->key_proxies != NULL)
			free_secret(p->key_proxies[i]);
	}
	mem_free(p->key_proxies);
	free_secret(p->proxy);
	mem_free(p->keys);
	mem_free(p->key_weights);
	mem_free(p->api_version);
	for (i = 0; i < p->nheaders; i++) {
		mem_free(p->headers[i].name);
		mem_free(p->headers[i].value);
	}
	mem_free(p->headers);
	strs_free(&p->ov.beta_allow);
	strs_free(&p->ov.beta_deny);
	strs_free(&p->ov.headers_delete);
	strs_free(&p->ov.pass_headers);
	strs_free(&p->ov.body_delete);
	strs_free(&p->ov.body_set_path);
	strs_free(&p->ov.body_set_json);
}

static void
config_free(struct config *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->nkv_servers; i++)
		mem_free(c->kv_servers[i]);
	mem_free(c->kv_servers);
	strs_free(&c->affinity.headers);
	strs_free(&c->affinity.body_paths);
	for (i = 0; i < c->nproviders; i++)
		provider_free(&c->providers[i]);
	mem_free(c->providers);
	for (i = 0; i < c->nmodels; i++) {
		for (j = 0; j < c->models[i].naliases; j++)
			mem_free(c->models[i].aliases[j]);
		mem_free(c->models[i].aliases);
		mem_free(c->models[i].name);
		for (j = 0; j < c->models[i].ntargets; j++)
			mem_free(c->models[i].targets[j].model);
		mem_free(c->models[i].targets);
	}
	mem_free(c->models);
	for (i = 0; i < c->nfilter_files; i++)
		mem_free(c->filter_files[i]);
	mem_free(c->filter_files);
	for (i = 0; i < c->npii_files; i++)
		mem_free(c->pii_files[i]);
	mem_free(c->pii_files);
	mem_free(c->pii_detector.url);
	mem_free(c->pii_detector.language);
	strs_free(&c->pii_detector.entities);
	mem_free(c->data_dir);
	mem_free(c->source);
	mem_free(c);
}

void
config_release(struct config *cfg)
{
	if (cfg == NULL)
		return;
	if (__atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(cfg);
}

/* The memcached a config without "memcached.servers" uses: the one the
 * environment names (make run and scripts/stack.sh export the memcached
 * they started), else the usual local one, as the built-in config does. */
static const char *
kv_server_env(void)
{
	const char *mc = getenv("RELAY_MEMCACHED");

	return mc != NULL && *mc != '\0' ? mc : RELAY_KV_SERVER_DEFAULT;
}

static void
default_kv_server(struct vctx *v, struct config *c)
{
	c->kv_servers = mem_calloc(1, sizeof(char *));
	if (c->kv_servers == NULL) {
		voom(v);
		return;
	}
	c->kv_servers[0] = vdup(v, kv_server_env());
	if (c->kv_servers[0] != NULL)
		c->nkv_servers = 1;
}

static void
parse_memcached(struct vctx *v, struct config *c, json_t *root)
{
	static const char *const known[] = {"servers", "timeout_ms", NULL};
	json_t *mc = json_object_get(root, "memcached"), *servers, *s;
	char path[64];
	size_t i;

	c->kv_timeout_ms = RELAY_KV_TIMEOUT_MS_DEFAULT;
	if (mc != NULL && !json_is_object(mc)) {
		vfail(v, "$.memcached", "must be an object");
		return;
	}
	if (mc != NULL) {
		vkeys(v, mc, "$.memcached", known);
		c->kv_timeout_ms = vlong(v, mc, "timeout_ms", "$.memcached",
		    RELAY_KV_TIMEOUT_MS_DEFAULT, 1, 60000);
	}
	servers = mc != NULL ? json_object_get(mc, "servers") : NULL;
	if (servers == NULL) {
		default_kv_server(v, c);
		return;
	}
	if (!json_is_array(servers) || json_array_size(servers) == 0 ||
	    json_array_size(servers) > RELAY_KV_SERVERS_MAX) {
		vfail(v, "$.memcached.servers",
		    "must be an array of 1 to %d \"host:port\" strings",
		    RELAY_KV_SERVERS_MAX);
		return;
	}
	c->kv_servers = mem_calloc(json_array_size(servers), sizeof(char *));
	if (c->kv_servers == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (servers, i, s) {
		const char *str = json_string_value(s);

		snprintf(path, sizeof(path), "$.memcached.servers[%zu]", i);
		if (str == NULL || *str == '\0' ||
		    (str[0] != '/' && strrchr(str, ':') == NULL)) {
			vfail(
			    v, path, "must be \"host:port\" or a socket path");
			return;
		}
		c->kv_servers[c->nkv_servers] = vdup(v, str);
		if (c->kv_servers[c->nkv_servers] == NULL)
			return;
		c->nkv_servers++;
	}
}

static void
parse_provider_headers(
    struct vctx *v, struct config_provider *p, json_t *h, const char *path)
{
	const char *k;
	json_t *val;
	size_t n = 0;

	if (h == NULL)
		return;
	if (!json_is_object(h)) {
		vfail(v, path, "\"headers\" must be an object of strings");
		return;
	}
	if (json_object_size(h) == 0)
		return;
	p->headers = mem_calloc(json_object_size(h), sizeof(*p->headers));
	if (p->headers == NULL) {
		voom(v);
		return;
	}
	json_object_foreach (h, k, val) {
		const char *s = json_string_value(val);
		size_t i;

		for (i = 0; k[i] != '\0'; i++)
			if (!((k[i] >= 'a' && k[i] <= 'z') ||
				(k[i] >= 'A' && k[i] <= 'Z') ||
				(k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
				break;
		if (i == 0 || k[i] != '\0' || s == NULL ||
		    strpbrk(s, "\r\n") != NULL) {
			vfail(v, path,
			    "header \"%.64s\" must be a token with "
			    "a one-line string value",
			    k);
			return;
		}
		p->headers[n].name = vdup(v, k);
		p->headers[n].value = vdup(v, s);
		p->nheaders = ++n;
		if (v->err != RELAY_OK)
			return;
	}
}

static void
parse_provider_keys(
    struct vctx *v, struct config_provider *p, json_t *keys, const char *path)
{
	static const char *const kknown[] = {"key", "weight", "proxy", NULL};
	char kpath[128];
	json_t *k;
	size_t i;

	if (keys == NULL)
		return; /* a local OpenAI-compatible server may need none */
	if (!json_is_array(keys)) {
		vfail(v, path, "\"api_keys\" must be an array");
		return;
	}
	if (json_array_size(keys) == 0)
		return;
	p->keys = mem_calloc(json_array_size(keys), sizeof(char *));
	p->key_weights = mem_calloc(json_array_size(keys), sizeof(int));
	p->key_proxies = mem_calloc(json_array_size(keys), sizeof(char *));
	if (p->keys == NULL || p->key_weights == NULL ||
	    p->key_proxies == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (keys, i, k) {
		json_t *secret =
		    json_is_object(k) ? json_object_get(k, "key") : k;

		snprintf(kpath, sizeof(kpath), "%s.api_keys[%zu]", path, i);
		p->key_weights[i] = 1;
		if (json_is_object(k)) {
			vkeys(v, k, kpath, kknown);
			p->key_weights[i] =
			    (int)vlong(v, k, "weight", kpath, 1, 1, 1000);
			p->key_proxies[i] =
			    vproxy(v, json_object_get(k, "proxy"), kpath);
		}
		p->keys[i] = vsecret(v, secret, kpath);
		if (p->keys[i] == NULL)
			return;
		p->nkeys = i + 1;
	}
}

/* A header name: a token of letters, digits and '-'. */
static int
header_token(const char *k)
{
	size_t i;

	for (i = 0; k[i] != '\0'; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
			(k[i] >= 'A' && k[i] <= 'Z') ||
			(k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
			return 0;
	return i > 0 && i <= RELAY_NAME_MAX;
}

/* Credentials and framing are the relay's: a client never passes them on,
 * and the config cannot delete the ones the relay must send. */
static int
header_reserved(const char *k)
{
	static const char *const names[] = {"authorization", "x-api-key",
	    "x-goog-api-key", "api-key", "cookie", "proxy-authorization",
	    "host", "content-length", "transfer-encoding", "connection",
	    "content-type", NULL};
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		if (strcasecmp(k, names[i]) == 0)
			return 1;
	return 0;
}

/* kind: 0 any short string, 1 a header name, 2 a header name the
 * relay does not own, 3 a dotted body path. */
static void
vstrs(struct vctx *v, json_t *a, const char *key, const char *path, int kind,
    struct config_strs *out)
{
	json_t *e;
	size_t i;

	if (a == NULL)
		return;
	if (!json_is_array(a)) {
		vfail(v, path, "\"%s\" must be an array of strings", key);
		return;
	}
	out->v = json_array_size(a) > 0
	    ? mem_calloc(json_array_size(a), sizeof(char *))
	    : NULL;
	if (json_array_size(a) > 0 && out->v == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (a, i, e) {
		const char *s = json_string_value(e);

		if (s == NULL || json_string_length(e) == 0 ||
		    json_string_length(e) > RELAY_NAME_MAX ||
		    strlen(s) != json_string_length(e) ||
		    (kind >= 1 && kind <= 2 && !header_token(s)) ||
		    (kind == 2 && header_reserved(s)) ||
		    (kind == 3 &&
			(s[0] == '.' || s[strlen(s) - 1] == '.' ||
			    strstr(s, "..") != NULL))) {
			vfail(v, path, "\"%s\"[%zu] must be %s", key, i,
			    kind == 0       ? "a non-empty short string"
				: kind == 3 ? "a dotted path (a.b.c)"
				: kind == 2
				? "a header name the relay does not "
				  "set itself (no credentials)"
				: "a header name");
			return;
		}
		out->v[i] = vdup(v, s);
		if (out->v[i] == NULL)
			return;
		out->n = i + 1;
	}
}

static void
parse_override(
    struct vctx *v, struct config_provider *p, json_t *j, const char *path)
{
	static const char *const known[] = {
	    "headers_delete", "pass_headers", "body_delete", "body_set", NULL};
	static const char *const bknown[] = {"allow", "deny", NULL};
	json_t *o = json_object_get(j, "override"), *b, *val;
	json_t *beta = json_object_get(j, "anthropic_beta");
	char opath[128];
	const char *k;
	size_t i = 0;

	snprintf(opath, sizeof(opath), "%s.anthropic_beta", path);
	if (beta != NULL && !json_is_object(beta)) {
		vfail(v, opath, "must be an object");
		return;
	}
	if (beta != NULL)
		vkeys(v, beta, opath, bknown);
	vstrs(v, json_object_get(beta, "allow"), "allow", opath, 0,
	    &p->ov.beta_allow);
	vstrs(v, json_object_get(beta, "deny"), "deny", opath, 0,
	    &p->ov.beta_deny);
	snprintf(opath, sizeof(opath), "%s.override", path);
	if (o == NULL)
		return;
	if (!json_is_object(o)) {
		vfail(v, opath, "must be an object");
		return;
	}
	vkeys(v, o, opath, known);
	vstrs(v, json_object_get(o, "headers_delete"), "headers_delete", opath,
	    1, &p->ov.headers_delete);
	vstrs(v, json_object_get(o, "pass_headers"), "pass_headers", opath, 2,
	    &p->ov.pass_headers);
	vstrs(v, json_object_get(o, "body_delete"), "body_delete", opath, 3,
	    &p->ov.body_delete);
	b = json_object_get(o, "body_set");
	if (b == NULL || v->err != RELAY_OK)
		return;
	if (!json_is_object(b)) {
		vfail(
		    v, opath, "\"body_set\" must be an object of path: value");
		return;
	}
	p->ov.body_set_path.v =
	    mem_calloc(json_object_size(b) + 1, sizeof(char *));
	p->ov.body_set_json.v =
	    mem_calloc(json_object_size(b) + 1, sizeof(char *));
	if (p->ov.body_set_path.v == NULL || p->ov.body_set_json.v == NULL) {
		voom(v);
		return;
	}
	json_object_foreach (b, k, val) {
		json_t *wrap;
		char *js;

		if (k[0] == '\0' || k[0] == '.' || k[strlen(k) - 1] == '.' ||
		    strstr(k, "..") != NULL || strlen(k) > RELAY_NAME_MAX) {
			vfail(v, opath,
			    "\"body_set\" key \"%.64s\" must be a "
			    "dotted path (a.b.c)",
			    k);
			return;
		}
		/* Kept as a one-element array: any JSON value parses. */
		wrap = json_pack("[O]", val);
		js = wrap != NULL ? json_dumps(wrap, JSON_COMPACT) : NULL;
		json_decref(wrap);
		p->ov.body_set_path.v[i] = vdup(v, k);
		p->ov.body_set_json.v[i] = js != NULL ? vdup(v, js) : NULL;
		mem_free(js);
		if (p->ov.body_set_json.v[i] == NULL)
			voom(v);
		if (v->err != RELAY_OK)
			return;
		p->ov.body_set_path.n = p->ov.body_set_json.n = ++i;
	}
}

/* Azure's api-version, Anthropic's anthropic-version: given or default. */
static void
parse_api_version(struct vctx *v, struct config_provider *p, json_t *j,
    const char *path, enum provider_type t)
{
	const char *ver = vname(v, j, "api_version", path, 0);

	if (ver == NULL && t == PROVIDER_AZURE)
		ver = RELAY_AZURE_API_VERSION;
	if (ver == NULL && t == PROVIDER_ANTHROPIC)
		ver = RELAY_ANTHROPIC_VERSION;
	if (ver != NULL)
		p->api_version = vdup(v, ver);
}

/* http:// or https:// and a host. */
static int
url_ok(const char *url)
{
	return (strncmp(url, "http://", 7) == 0 ||
		   strncmp(url, "https://", 8) == 0) &&
	    strstr(url, "://")[3] != '\0' && strstr(url, "://")[3] != '/';
}

/* "base_urls": strings or {"url", "weight"}, 1..RELAY_BASE_URLS_MAX. */
static void
parse_base_urls(
    struct vctx *v, struct config_provider *p, json_t *arr, const char *path)
{
	static const char *const uknown[] = {"url", "weight", NULL};
	char upath[160];
	const char *u;
	json_t *e;
	size_t i, n;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > RELAY_BASE_URLS_MAX) {
		vfail(v, path, "\"base_urls\" must be an array of 1 to %d URLs",
		    RELAY_BASE_URLS_MAX);
		return;
	}
	p->urls = mem_calloc(json_array_size(arr), sizeof(*p->urls));
	if (p->urls == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (arr, i, e) {
		snprintf(upath, sizeof(upath), "%s.base_urls[%zu]", path, i);
		p->urls[i].weight = 1;
		if (json_is_object(e)) {
			vkeys(v, e, upath, uknown);
			p->urls[i].weight =
			    (int)vlong(v, e, "weight", upath, 1, 1, 1000);
			u = vname(v, e, "url", upath, 1);
		} else {
			u = json_string_value(e);
			if (u == NULL || strlen(u) > RELAY_NAME_MAX)
				u = NULL;
		}
		if (u == NULL || !url_ok(u)) {
			vfail(v, upath,
			    "must be an http:// or https:// URL with a host, "
			    "or "
			    "{\"url\", \"weight\"}");
			return;
		}
		p->urls[i].url = vdup(v, u);
		if (p->urls[i].url == NULL)
			return;
		n = strlen(p->urls[i].url);
		while (n > 0 && p->urls[i].url[n - 1] == '/')
			p->urls[i].url[--n] = '\0';
		p->nurls = i + 1;
	}
}

static void
parse_provider(
    struct vctx *v, struct config_provider *p, json_t *j, const char *path)
{
	static const char *const known[] = {"name", "type", "base_url",
	    "base_urls", "api_keys", "headers", "timeouts", "api_version",
	    "override", "anthropic_beta", "proxy", "relay", "reasoning_content",
	    NULL};
	static const char *const tknown[] = {
	    "connect_ms", "first_byte_ms", "idle_ms", "total_ms", NULL};
	const char *name, *type, *url;
	json_t *t;
	char tpath[128];
	int i;

	if (!json_is_object(j)) {
		vfail(v, path, "must be an object");
		return;
	}
	vkeys(v, j, path, known);
	name = vname(v, j, "name", path, 1);
	type = vname(v, j, "type", path, 1);
	if (json_object_get(j, "base_urls") != NULL) {
		if (json_object_get(j, "base_url") != NULL) {
			vfail(v, path,
			    "give \"base_url\" or \"base_urls\", "
			    "not both");
			return;
		}
		parse_base_urls(v, p, json_object_get(j, "base_urls"), path);
		url = p->nurls > 0 ? p->urls[0].url : NULL;
	} else
		url = vname(v, j, "base_url", path, 1);
	if (name == NULL || type == NULL || url == NULL)
		return;
	for (i = 0; i < PROVIDER__MAX; i++)
		if (strcmp(type, provider_type_names[i]) == 0)
			break;
	if (i == PROVIDER__MAX) {
		vfail(v, path,
		    "\"type\" must be openai, azure, anthropic or gemini, not "
		    "\"%.32s\"",
		    type);
		return;
	}
	parse_api_version(v, p, j, path, (enum provider_type)i);
	p->type = (enum provider_type)i;
	if (!url_ok(url)) {
		vfail(v, path,
		    "\"base_url\" must be http:// or https:// and a host");
		return;
	}
	p->name = vdup(v, name);
	p->relay = vbool(v, j, "relay", path, 0);
	p->reasoning_content = vbool(v, j, "reasoning_content", path, 0);
	p->base_url = vdup(v, url);
	if (p->base_url != NULL) {
		size_t n = strlen(p->base_url);

		while (n > 0 && p->base_url[n - 1] == '/')
			p->base_url[--n] = '\0';
	}
	p->proxy = vproxy(v, json_object_get(j, "proxy"), path);
	parse_provider_keys(v, p, json_object_get(j, "api_keys"), path);
	parse_provider_headers(v, p, json_object_get(j, "headers"), path);
	parse_override(v, p, j, path);
	t = json_object_get(j, "timeouts");
	snprintf(tpath, sizeof(tpath), "%s.timeouts", path);
	if (t != NULL && !json_is_object(t)) {
		vfail(v, tpath, "must be an object");
		return;
	}
	if (t != NULL)
		vkeys(v, t, tpath, tknown);
	p->connect_ms = vlong(
	    v, t, "connect_ms", tpath, RELAY_CONNECT_MS_DEFAULT, 1, 600000);
	p->first_byte_ms = vlong(v, t, "first_byte_ms", tpath,
	    RELAY_FIRST_BYTE_MS_DEFAULT, 1, 3600000);
	p->idle_ms =
	    vlong(v, t, "idle_ms", tpath, RELAY_IDLE_MS_DEFAULT, 1, 3600000);
	p->total_ms =
	    vlong(v, t, "total_ms", tpath, RELAY_TOTAL_MS_DEFAULT, 0, 86400000);
}

static void
parse_providers(struct vctx *v, struct config *c, json_t *root)
{
	json_t *arr = json_object_get(root, "providers"), *p;
	char path[64];
	size_t i, j;

	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		vfail(v, "$.providers", "must be a non-empty array");
		return;
	}
	c->providers = mem_calloc(json_array_size(arr), sizeof(*c->providers));
	if (c->providers == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (arr, i, p) {
		snprintf(path, sizeof(path), "$.providers[%zu]", i);
		c->nproviders = i + 1;
		parse_provider(v, &c->providers[i], p, path);
		if (v->err != RELAY_OK)
			return;
		for (j = 0; j < i; j++)
			if (strcmp(c->providers[j].name,
				c->providers[i].name) == 0)
				vfail(v, path, "duplicate provider name \"%s\"",
				    c->providers[i].name);
	}
}

static const struct config_provider *
find_provider(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nproviders; i++)
		if (strcmp(c->providers[i].name, name) == 0)
			return &c->providers[i];
	return NULL;
}

static void
parse_aliases(
    struct vctx *v, struct config_model *m, json_t *a, const char *path)
{
	json_t *e;
	size_t i;

	if (a == NULL)
		return;
	if (!json_is_array(a) || json_array_size(a) == 0) {
		vfail(
		    v, path, "\"aliases\" must be a non-empty array of names");
		return;
	}
	m->aliases = mem_calloc(json_array_size(a), sizeof(char *));
	if (m->aliases == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (a, i, e) {
		const char *s = json_string_value(e);

		if (s == NULL || *s == '\0' || strlen(s) > RELAY_NAME_MAX) {
			vfail(v, path, "\"aliases\" must hold names");
			return;
		}
		m->aliases[i] = vdup(v, s);
		m->naliases = i + 1;
	}
}

/* A target's "api": "chat" (the default) or "responses" (OpenAI and
 * Azure only: the other providers have no Responses API). */
static void
parse_target_api(
    struct vctx *v, struct config_target *t, json_t *api, const char *tpath)
{
	const char *s = json_string_value(api);

	if (api == NULL)
		return;
	if (s == NULL ||
	    (strcmp(s, "chat") != 0 && strcmp(s, "responses") != 0)) {
		vfail(v, tpath, "\"api\" must be \"chat\" or \"responses\"");
		return;
	}
	t->responses = strcmp(s, "responses") == 0;
	if (t->responses && t->provider->type != PROVIDER_OPENAI &&
	    t->provider->type != PROVIDER_AZURE)
		vfail(v, tpath,
		    "\"api\": \"responses\" needs an openai or azure provider");
}

static void
parse_model(struct vctx *v, struct config *c, struct config_model *m, json_t *j,
    const char *path)
{
	static const char *const known[] = {"name", "targets", "price",
	    "aliases", "cache", "content_filter", "pii_protection", NULL};
	static const char *const tknown[] = {
	    "provider", "model", "priority", "weight", "api", NULL};
	static const char *const pknown[] = {
	    "input_per_mtok", "output_per_mtok", NULL};
	json_t *price = json_object_get(j, "price");
	json_t *targets, *t;
	const char *name;
	char tpath[128];
	size_t i;

	if (!json_is_object(j)) {
		vfail(v, path, "must be an object");
		return;
	}
	vkeys(v, j, path, known);
	name = vname(v, j, "name", path, 1);
	if (name == NULL)
		return;
	m->name = vdup(v, name);
	m->pattern = strpbrk(name, "*?[") != NULL;
	snprintf(tpath, sizeof(tpath), "%s.cache", path);
	parse_cache(
	    v, json_object_get(j, "cache"), tpath, 0, &c->cache, &m->cache);
	snprintf(tpath, sizeof(tpath), "%s.content_filter", path);
	parse_filter(v, json_object_get(j, "content_filter"), tpath, 0,
	    &c->filter, &m->filter);
	if ((m->filter.input || m->filter.output != FILTER_OUT_OFF) &&
	    c->nfilter_files == 0)
		vfail(v, tpath, "the filter needs content_filter.word_files");
	snprintf(tpath, sizeof(tpath), "%s.pii_protection", path);
	parse_pii(v, json_object_get(j, "pii_protection"), tpath, 0, &c->pii,
	    &m->pii);
	parse_aliases(v, m, json_object_get(j, "aliases"), path);
	if (price != NULL) {
		snprintf(tpath, sizeof(tpath), "%s.price", path);
		if (!json_is_object(price)) {
			vfail(v, tpath, "must be an object");
			return;
		}
		vkeys(v, price, tpath, pknown);
		m->price_in = vprice(v, price, "input_per_mtok", tpath);
		m->price_out = vprice(v, price, "output_per_mtok", tpath);
	}
	targets = json_object_get(j, "targets");
	if (!json_is_array(targets) || json_array_size(targets) == 0) {
		vfail(v, path, "\"targets\" must be a non-empty array");
		return;
	}
	m->targets = mem_calloc(json_array_size(targets), sizeof(*m->targets));
	if (m->targets == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (targets, i, t) {
		const char *prov, *model;

		snprintf(tpath, sizeof(tpath), "%s.targets[%zu]", path, i);
		if (!json_is_object(t)) {
			vfail(v, tpath, "must be an object");
			return;
		}
		vkeys(v, t, tpath, tknown);
		prov = vname(v, t, "provider", tpath, 1);
		model = vname(v, t, "model", tpath, 0);
		if (prov == NULL)
			return;
		m->targets[i].provider = find_provider(c, prov);
		if (m->targets[i].provider == NULL) {
			vfail(v, tpath, "unknown provider \"%.64s\"", prov);
			return;
		}
		m->targets[i].model = vdup(v,
		    model != NULL    ? model
			: m->pattern ? "*"
				     : name);
		m->targets[i].priority =
		    (int)vlong(v, t, "priority", tpath, 0, 0, 1000);
		m->targets[i].weight =
		    (int)vlong(v, t, "weight", tpath, 1, 1, 1000);
		parse_target_api(
		    v, &m->targets[i], json_object_get(t, "api"), tpath);
		m->ntargets = i + 1;
		if (v->err != RELAY_OK)
			return;
	}
}

static void
parse_models(struct vctx *v, struct config *c, json_t *root)
{
	json_t *arr = json_object_get(root, "models"), *m;
	char path[64];
	size_t i, j;

	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		vfail(v, "$.models", "must be a non-empty array");
		return;
	}
	c->models = mem_calloc(json_array_size(arr), sizeof(*c->models));
	if (c->models == NULL) {
		voom(v);
		return;
	}
	json_array_foreach (arr, i, m) {
		snprintf(path, sizeof(path), "$.models[%zu]", i);
		c->nmodels = i + 1;
		parse_model(v, c, &c->models[i], m, path);
		if (v->err != RELAY_OK)
			return;
		for (j = 0; j < i; j++)
			if (strcmp(c->models[j].name, c->models[i].name) == 0)
				vfail(v, path, "duplicate model name \"%s\"",
				    c->models[i].name);
	}
}

static void
parse_policy(struct vctx *v, struct config *c, json_t *lim)
{
	json_t *p = json_object_get(lim, "on_memcached_error");
	const char *s = json_string_value(p);

	c->fail_open = 1;
	if (p == NULL)
		return;
	if (s != NULL && strcmp(s, "fail_closed") == 0)
		c->fail_open = 0;
	else if (s == NULL || strcmp(s, "fail_open") != 0)
		vfail(v, "$.limits",
		    "\"on_memcached_error\" must be "
		    "\"fail_open\" or \"fail_closed\"");
}

/* data_dir: the config's, else RELAY_DATA_DIR, else the default. */
static void
parse_data_dir(struct vctx *v, struct config *c, json_t *root)
{
	json_t *d = json_object_get(root, "data_dir");
	const char *env = getenv("RELAY_DATA_DIR");
	const char *s = RELAY_DATA_DIR_DEFAULT;

	if (d != NULL) {
		s = json_string_value(d);
		if (s == NULL || *s == '\0' || strlen(s) > 1024) {
			vfail(v, "$", "\"data_dir\" must be a directory path");
			return;
		}
	} else if (env != NULL && *env != '\0')
		s = env;
	c->data_dir = vdup(v, s);
}

static void
parse_retry(struct vctx *v, struct config *c, json_t *root)
{
	static const char *const known[] = {"max_attempts", "base_delay_ms",
	    "max_delay_ms", "deadline_ms", "max_retry_after_ms", "on_status",
	    NULL};
	static const int defaults[] = {429, 500, 502, 503, 504, 529};
	json_t *r = json_object_get(root, "retry"), *st, *e;
	struct config_retry *cr = &c->retry;
	size_t i;

	if (r != NULL && !json_is_object(r)) {
		vfail(v, "$.retry", "must be an object");
		return;
	}
	if (r != NULL)
		vkeys(v, r, "$.retry", known);
	cr->max_attempts =
	    (int)vlong(v, r, "max_attempts", "$.retry", 2, 1, 10);
	cr->base_delay_ms =
	    vlong(v, r, "base_delay_ms", "$.retry", 200, 0, 60000);
	cr->max_delay_ms =
	    vlong(v, r, "max_delay_ms", "$.retry", 5000, 0, 600000);
	cr->deadline_ms =
	    vlong(v, r, "deadline_ms", "$.retry", 60000, 0, 3600000);
	cr->max_retry_after_ms =
	    vlong(v, r, "max_retry_after_ms", "$.retry", 10000, 0, 3600000);
	st = json_object_get(r, "on_status");
	if (st == NULL) {
		memcpy(cr->on_status, defaults, sizeof(defaults));
		cr->non_status = sizeof(defaults) / sizeof(defaults[0]);
		return;
	}
	if (!json_is_array(st) || json_array_size(st) > 16) {
		vfail(v, "$.retry",
		    "\"on_status\" must be an array of at most 16 "
		    "HTTP statuses");
		return;
	}
	json_array_foreach (st, i, e) {
		if (!json_is_integer(e) || json_integer_value(e) < 400 ||
		    json_integer_value(e) > 599) {
			vfail(
			    v, "$.retry", "\"on_status\" holds 400..599 only");
			return;
		}
		cr->on_status[cr->non_status++] = (int)json_integer_value(e);
	}
}

static void
parse_breaker(struct vctx *v, struct config *c, json_t *root)
{
	static const char *const known[] = {
	    "failures", "window_s", "open_s", NULL};
	json_t *b = json_object_get(root, "breaker");

	if (b != NULL && !json_is_object(b)) {
		vfail(v, "$.breaker", "must be an object");
		return;
	}
	if (b != NULL)
		vkeys(v, b, "$.breaker", known);
	c->breaker.failures =
	    (int)vlong(v, b, "failures", "$.breaker", 5, 0, 100000);
	c->breaker.window_s =
	    (int)vlong(v, b, "window_s", "$.breaker", 30, 1, 86400);
	c->breaker.open_s =
	    (int)vlong(v, b, "open_s", "$.breaker", 30, 1, 86400);
}

static void
parse_keypool(struct vctx *v, struct config *c, json_t *root)
{
	static const char *const known[] = {
	    "auth_bench_s", "auth_recheck_s", NULL};
	json_t *k = json_object_get(root, "keypool");

	if (k != NULL && !json_is_object(k)) {
		vfail(v, "$.keypool", "must be an object");
		return;
	}
	if (k != NULL)
		vkeys(v, k, "$.keypool", known);
	c->keypool.auth_bench_s = vlong(v, k, "auth_bench_s", "$.keypool",
	    RELAY_KEY_AUTH_BENCH_S, 1, 86400);
	c->keypool.auth_recheck_s = vlong(v, k, "auth_recheck_s", "$.keypool",
	    RELAY_KEY_AUTH_RECHECK_S, 1, 86400);
	if (v->err == RELAY_OK &&
	    c->keypool.auth_recheck_s > c->keypool.auth_bench_s)
		vfail(v, "$.keypool",
		    "\"auth_recheck_s\" must not exceed \"auth_bench_s\"");
}

static void
parse_affinity(struct vctx *v, struct config *c, json_t *root)
{
	static const char *const known[] = {
	    "enabled", "ttl_s", "headers", "body_paths", NULL};
	json_t *a = json_object_get(root, "affinity");

	if (a != NULL && !json_is_object(a)) {
		vfail(v, "$.affinity", "must be an object");
		return;
	}
	if (a != NULL)
		vkeys(v, a, "$.affinity", known);
	c->affinity.enabled = vbool(v, a, "enabled", "$.affinity", 1);
	c->affinity.ttl_s =
	    vlong(v, a, "ttl_s", "$.affinity", RELAY_AFFINITY_TTL_S, 1, 86400);
	vstrs(v, json_object_get(a, "headers"), "headers", "$.affinity", 1,
	    &c->affinity.headers);
	vstrs(v, json_object_get(a, "body_paths"), "body_paths", "$.affinity",
	    3, &c->affinity.body_paths);
}

static void
parse_top(struct vctx *v, struct config *c, json_t *root)
{
	static const char *const known[] = {"memcached", "providers", "models",
	    "limits", "stream", "data_dir", "retry", "breaker", "keypool",
	    "affinity", "cache", "content_filter", "prompt_log",
	    "pii_protection", "access_log", NULL};
	static const char *const pknown[] = {"enabled", "retention_h", NULL};
	static const struct config_pii pii_def = {{0}, 0};
	static const char *const aknown[] = {
	    "retention_days", "hash_chain", NULL};
	static const struct config_filter filter_def = {0, FILTER_OUT_OFF};
	static const struct config_cache cache_def = {
	    0, RELAY_CACHE_TTL_DEFAULT, 0, 0};
	static const char *const lknown[] = {
	    "max_body_bytes", "on_memcached_error", "default_max_tokens", NULL};
	static const char *const sknown[] = {"heartbeat_ms", NULL};
	json_t *lim = json_object_get(root, "limits");
	json_t *st = json_object_get(root, "stream");
	json_t *pl, *al = json_object_get(root, "access_log");

	vkeys(v, root, "$", known);
	if (lim != NULL && !json_is_object(lim))
		vfail(v, "$.limits", "must be an object");
	if (st != NULL && !json_is_object(st))
		vfail(v, "$.stream", "must be an object");
	if (v->err != RELAY_OK)
		return;
	if (lim != NULL)
		vkeys(v, lim, "$.limits", lknown);
	if (st != NULL)
		vkeys(v, st, "$.stream", sknown);
	c->body_max = (size_t)vlong(v, lim, "max_body_bytes", "$.limits",
	    RELAY_BODY_MAX_DEFAULT, 1024, RELAY_BODY_MAX_CEILING);
	c->heartbeat_ms = vlong(v, st, "heartbeat_ms", "$.stream",
	    RELAY_HEARTBEAT_MS_DEFAULT, 0, 60000);
	c->default_max_tokens = vlong(v, lim, "default_max_tokens", "$.limits",
	    RELAY_DEFAULT_MAX_TOKENS, 1, 10000000);
	parse_policy(v, c, lim);
	parse_data_dir(v, c, root);
	parse_retry(v, c, root);
	parse_breaker(v, c, root);
	parse_keypool(v, c, root);
	parse_affinity(v, c, root);
	parse_cache(v, json_object_get(root, "cache"), "$.cache", 1, &cache_def,
	    &c->cache);
	c->cache_max_bytes = (size_t)vlong(v, json_object_get(root, "cache"),
	    "max_bytes", "$.cache", RELAY_CACHE_MAX_BYTES_DEFAULT, 1024,
	    RELAY_CACHE_MAX_BYTES_CEILING);
	c->cache_part_bytes = (size_t)vlong(v, json_object_get(root, "cache"),
	    "part_bytes", "$.cache", RELAY_CACHE_PART_BYTES_DEFAULT, 1024,
	    RELAY_CACHE_PART_BYTES_DEFAULT);
	parse_filter(v, json_object_get(root, "content_filter"),
	    "$.content_filter", 1, &filter_def, &c->filter);
	pl = json_object_get(root, "prompt_log");
	if (pl != NULL && !json_is_object(pl))
		vfail(v, "$.prompt_log", "must be an object");
	else if (pl != NULL)
		vkeys(v, pl, "$.prompt_log", pknown);
	c->prompt_log = vbool(v, pl, "enabled", "$.prompt_log", 0);
	c->prompt_log_hours = vlong(v, pl, "retention_h", "$.prompt_log",
	    RELAY_PROMPT_LOG_HOURS_DEFAULT, 1, 24L * 366);
	if (al != NULL && !json_is_object(al))
		vfail(v, "$.access_log", "must be an object");
	else if (al != NULL)
		vkeys(v, al, "$.access_log", aknown);
	c->access_retention_days = (int)vlong(v, al, "retention_days",
	    "$.access_log", RELAY_ACCESS_LOG_DAYS_DEFAULT, 0, 36600);
	c->access_hash_chain = vbool(v, al, "hash_chain", "$.access_log", 0);
	if (v->err == RELAY_OK)
		parse_filter_files(
		    v, c, json_object_get(root, "content_filter"));
	parse_pii(v, json_object_get(root, "pii_protection"),
	    "$.pii_protection", 1, &pii_def, &c->pii);
	if (v->err == RELAY_OK)
		parse_pii_files(v, c, json_object_get(root, "pii_protection"));
	if (v->err == RELAY_OK)
		parse_pii_detector(
		    v, c, json_object_get(root, "pii_protection"));
	if (v->err == RELAY_OK)
		parse_pii_proxy(v, c, json_object_get(root, "pii_protection"));
	parse_memcached(v, c, root);
	if (v->err == RELAY_OK)
		parse_providers(v, c, root);
	if (v->err == RELAY_OK)
		parse_models(v, c, root);
}

enum relay_err
config_parse(const char *text, size_t len, struct config **out, char *errbuf,
    size_t errsz)
{
	struct vctx v = {errbuf, errsz, RELAY_OK};
	char jerr[256];
	struct config *c = NULL;
	json_t *root = NULL;

	*out = NULL;
	v.err = jsonx_parse(text, len, &root, jerr, sizeof(jerr));
	if (v.err == RELAY_EINVAL)
		snprintf(errbuf, errsz, "$: %s", jerr);
	if (v.err == RELAY_ENOMEM)
		snprintf(errbuf, errsz, "out of memory");
	if (v.err != RELAY_OK)
		goto out;
	if (!json_is_object(root)) {
		vfail(&v, "$", "must be an object");
		goto out;
	}
	c = mem_calloc(1, sizeof(*c));
	if (c == NULL) {
		voom(&v);
		goto out;
	}
	c->refs = 1;
	parse_top(&v, c, root);
out:
	json_decref(root);
	if (v.err != RELAY_OK) {
		config_free(c);
		return v.err;
	}
	*out = c;
	return RELAY_OK;
}

const struct config_model *
config_find_model(const struct config *cfg, struct span name)
{
	char z[RELAY_NAME_MAX + 1];
	size_t i, j;

	for (i = 0; i < cfg->nmodels; i++)
		if (!cfg->models[i].pattern &&
		    span_eq(name, cfg->models[i].name))
			return &cfg->models[i];
	for (i = 0; i < cfg->nmodels; i++)
		for (j = 0; j < cfg->models[i].naliases; j++)
			if (span_eq(name, cfg->models[i].aliases[j]))
				return &cfg->models[i];
	if (name.len > RELAY_NAME_MAX || memchr(name.p, '\0', name.len))
		return NULL;
	memcpy(z, name.p, name.len);
	z[name.len] = '\0';
	for (i = 0; i < cfg->nmodels; i++)
		if (cfg->models[i].pattern &&
		    fnmatch(cfg->models[i].name, z, 0) == 0)
			return &cfg->models[i];
	return NULL;
}

static enum relay_err
json_str(struct buf *b, const char *s)
{
	enum relay_err err = buf_append(b, "\"", 1);

	if (err == RELAY_OK)
		err = buf_json_escape(b, s, strlen(s));
	if (err == RELAY_OK)
		err = buf_append(b, "\"", 1);
	return err;
}

enum relay_err
config_default_json(struct buf *b)
{
	const char *demo = getenv("RELAY_DEMO_URL");
	int openai = getenv("OPENAI_API_KEY") != NULL &&
	    *getenv("OPENAI_API_KEY") != '\0';
	enum relay_err err;

	err = buf_puts(b, "{\"memcached\":{\"servers\":[");
	if (err == RELAY_OK)
		err = json_str(b, kv_server_env());
	if (err == RELAY_OK)
		err = buf_puts(b,
		    "]},\"providers\":[{\"name\":\"demo\","
		    "\"type\":\"openai\",\"base_url\":");
	if (err == RELAY_OK)
		err = json_str(b,
		    demo != NULL && *demo != '\0'
			? demo
			: "http://127.0.0.1:18081/v1");
	if (err == RELAY_OK && openai)
		err = buf_puts(b,
		    "},{\"name\":\"openai\",\"type\":\"openai\","
		    "\"base_url\":\"https://api.openai.com/v1\","
		    "\"api_keys\":[\"env:OPENAI_API_KEY\"]");
	if (err == RELAY_OK)
		err = buf_puts(b,
		    "}],\"models\":[{\"name\":\"demo\",\"targets\":"
		    "[{\"provider\":\"demo\",\"model\":\"demo\"}]}");
	if (err == RELAY_OK && openai)
		err = buf_puts(b,
		    ",{\"name\":\"gpt-4o-mini\",\"targets\":"
		    "[{\"provider\":\"openai\"}]},{\"name\":\"gpt-4o\","
		    "\"targets\":[{\"provider\":\"openai\"}]}");
	if (err == RELAY_OK)
		err = buf_puts(b, "]}");
	return err;
}

/* --- the store: one current snapshot, replaced on change ------------- */

struct config_store {
	pthread_mutex_t lock;
	struct config *cur;
	char *path; /* NULL: built-in */
	struct timespec checked; /* CLOCK_MONOTONIC of the last stat */
	struct stat seen; /* the file as last loaded or refused */
	unsigned long generation;
};

static long
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Read the whole file, bounded by RELAY_CONFIG_MAX. */
static enum relay_err
read_file(const char *path, struct buf *b, struct stat *st, char *errbuf,
    size_t errsz)
{
	char chunk[8192];
	enum relay_err err = RELAY_OK;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, st) != 0) {
		snprintf(errbuf, errsz, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return RELAY_EIO;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(
			    errbuf, errsz, "%s: %s", path, strerror(errno));
			err = RELAY_EIO;
			break;
		}
		if (n == 0)
			break;
		err = buf_append(b, chunk, (size_t)n);
		if (err != RELAY_OK) {
			snprintf(errbuf, errsz, "%s: larger than %u bytes",
			    path, RELAY_CONFIG_MAX);
			break;
		}
	}
	close(fd);
	return err;
}

static enum relay_err
store_load(struct config_store *st, struct config **out, struct stat *sb,
    char *errbuf, size_t errsz)
{
	struct buf text;
	enum relay_err err;

	buf_init(&text, RELAY_CONFIG_MAX);
	memset(sb, 0, sizeof(*sb));
	if (st->path == NULL) {
		err = config_default_json(&text);
		if (err != RELAY_OK)
			snprintf(errbuf, errsz, "built-in config: %s",
			    err_name(err));
	} else
		err = read_file(st->path, &text, sb, errbuf, errsz);
	if (err == RELAY_OK)
		err = config_parse(text.data, text.len, out, errbuf, errsz);
	buf_reset(&text);
	if (err == RELAY_OK) {
		(*out)->generation = ++st->generation;
		(*out)->source =
		    mem_strdup(st->path != NULL ? st->path : "built-in");
		if ((*out)->source == NULL) {
			config_release(*out);
			*out = NULL;
			err = RELAY_ENOMEM;
		}
	}
	return err;
}

struct config_store *
config_store_new(const char *path, char *errbuf, size_t errsz)
{
	struct config_store *st = mem_calloc(1, sizeof(*st));

	if (st == NULL) {
		snprintf(errbuf, errsz, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&st->lock, NULL);
	if (path != NULL) {
		st->path = mem_strdup(path);
		if (st->path == NULL) {
			snprintf(errbuf, errsz, "out of memory");
			config_store_free(st);
			return NULL;
		}
	}
	if (store_load(st, &st->cur, &st->seen, errbuf, errsz) != RELAY_OK) {
		config_store_free(st);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &st->checked);
	return st;
}

static int
file_changed(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_dev != b->st_dev ||
	    a->st_size != b->st_size ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/* Caller holds st->lock. */
static void
do_store_check(struct config_store *st)
{
	struct config *next = NULL;
	struct stat sb;
	char errbuf[512];

	clock_gettime(CLOCK_MONOTONIC, &st->checked);
	if (stat(st->path, &sb) != 0 || !file_changed(&sb, &st->seen))
		return;
	if (store_load(st, &next, &sb, errbuf, sizeof(errbuf)) != RELAY_OK) {
		st->seen = sb;
		log_err("config %s refused, keeping generation %lu: %s",
		    st->path, st->cur->generation, errbuf);
		return;
	}
	st->seen = sb;
	config_release(st->cur);
	st->cur = next;
	log_info("config %s reloaded: generation %lu, %zu providers, "
		 "%zu models",
	    st->path, next->generation, next->nproviders, next->nmodels);
}

struct config *
config_acquire(struct config_store *st)
{
	struct config *c;

	pthread_mutex_lock(&st->lock);
	if (st->path != NULL && ms_since(&st->checked) >= RELAY_CONFIG_CHECK_MS)
		do_store_check(st);
	c = st->cur;
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&st->lock);
	return c;
}

void
config_store_free(struct config_store *st)
{
	if (st == NULL)
		return;
	config_release(st->cur);
	mem_free(st->path);
	pthread_mutex_destroy(&st->lock);
	mem_free(st);
}
