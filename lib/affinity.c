/* SPDX-License-Identifier: MIT */
/* affinity.c - prompt-cache affinity (see affinity.h). */
#include "affinity.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "kv.h"
#include "log.h"

/* The agents' own session headers: Claude Code, Codex, OpenCode. */
static const char *const agent_headers[] = {
    "x-claude-code-session-id", "session_id", "x-session-affinity", NULL};
/* ... and body fields: Claude Code's metadata.user_id (it ends in the
 * session's uuid), Codex's prompt_cache_key (its conversation id). */
static const char *const agent_paths[] = {
    "metadata.user_id", "prompt_cache_key", NULL};

static int
take(const char *s, char *out, size_t outsz)
{
	if (s == NULL || s[0] == '\0')
		return 0;
	snprintf(out, outsz, "%s", s);
	return 1;
}

/* The string at a dotted path of root, or NULL. */
static const char *
at_path(json_t *root, const char *path)
{
	char part[RELAY_NAME_MAX + 1];
	const char *dot;
	json_t *o = root;
	size_t n;

	while (o != NULL && *path != '\0') {
		dot = strchr(path, '.');
		n = dot != NULL ? (size_t)(dot - path) : strlen(path);
		if (n == 0 || n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		o = json_is_object(o) ? json_object_get(o, part) : NULL;
		path += dot != NULL ? n + 1 : n;
	}
	return json_string_value(o);
}

int
affinity_session(const struct config_affinity *conf, json_t *root,
    affinity_hdr_fn hdr, void *ctx, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; i < conf->headers.n; i++)
		if (take(hdr(ctx, conf->headers.v[i]), out, outsz))
			return 1;
	for (i = 0; root != NULL && i < conf->body_paths.n; i++)
		if (take(at_path(root, conf->body_paths.v[i]), out, outsz))
			return 1;
	for (i = 0; agent_headers[i] != NULL; i++)
		if (take(hdr(ctx, agent_headers[i]), out, outsz))
			return 1;
	for (i = 0; root != NULL && agent_paths[i] != NULL; i++)
		if (take(at_path(root, agent_paths[i]), out, outsz))
			return 1;
	return 0;
}

void
affinity_key(const char *session, const char *scope, char out[AFFINITY_KEY_LEN])
{
	unsigned char h[32];
	char hex[33];
	struct {
		unsigned char sm[32], mm[32];
	} both;

	/* Hash each part first: "ab"+"c" and "a"+"bc" stay apart. */
	crypto_sha256(session, strlen(session), both.sm);
	crypto_sha256(scope, strlen(scope), both.mm);
	crypto_sha256(&both, sizeof(both), h);
	crypto_hex(h, 16, hex);
	snprintf(out, AFFINITY_KEY_LEN, "aff:%s", hex);
}

enum relay_err
affinity_parse(const char *val, size_t n, struct affinity_rec *r)
{
	const char *sp = memchr(val, ' ', n);
	size_t tl, fl, i;

	memset(r, 0, sizeof(*r));
	if (sp == NULL)
		return RELAY_EINVAL;
	tl = (size_t)(sp - val);
	fl = n - tl - 1;
	if (tl == 0 || tl >= sizeof(r->target) || (fl != 0 && fl != 16))
		return RELAY_EINVAL;
	/* A control byte (a NUL above all) would cut the name short. */
	for (i = 0; i < tl; i++)
		if ((unsigned char)val[i] < ' ' || val[i] == 0x7f)
			return RELAY_EINVAL;
	for (i = 0; i < fl; i++)
		if (!((sp[1 + i] >= '0' && sp[1 + i] <= '9') ||
			(sp[1 + i] >= 'a' && sp[1 + i] <= 'f')))
			return RELAY_EINVAL;
	memcpy(r->target, val, tl);
	memcpy(r->fp, sp + 1, fl);
	return RELAY_OK;
}

enum relay_err
affinity_get(struct kv *kv, const char *key, struct affinity_rec *r)
{
	struct buf b;
	enum relay_err err;

	memset(r, 0, sizeof(*r));
	buf_init(&b, 256);
	err = kv_get(kv, key, &b);
	if (err == RELAY_OK)
		err = affinity_parse(b.data != NULL ? b.data : "", b.len, r);
	buf_reset(&b);
	return err == RELAY_OK ? RELAY_OK : RELAY_ENOTFOUND;
}

void
affinity_put(struct kv *kv, const char *key, const char *target, const char *fp,
    long ttl_s)
{
	char val[2 * RELAY_NAME_MAX + 2 + 18];
	int n = snprintf(val, sizeof(val), "%s %s", target, fp);

	if (n <= 0 || (size_t)n >= sizeof(val))
		return;
	if (kv_set(kv, key, val, (size_t)n, (unsigned)ttl_s) != RELAY_OK)
		log_debug("affinity: record %s not stored", key);
}
