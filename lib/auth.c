/* SPDX-License-Identifier: MIT */
/* auth.c - constant-time secret comparison, the one Authorization and
 * ?key= reader, and the admin token check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <time.h>

#include "apierr.h"
#include "auth.h"
#include "limits.h"
#include "req.h"

int
auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	volatile unsigned char diff = alen != blen;
	size_t i;

	for (i = 0; i < alen && i < blen; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

const char *
auth_bearer(const char *h, size_t *n)
{
	size_t i = 6, end;

	*n = 0;
	if (strncasecmp(h, "Bearer", 6) != 0 || h[6] != ' ')
		return NULL;
	while (h[i] == ' ')
		i++;
	end = i + strlen(h + i);
	while (end > i && (h[end - 1] == ' ' || h[end - 1] == '\t'))
		end--;
	if (end == i)
		return NULL;
	*n = end - i;
	return h + i;
}

const char *
auth_query_key(struct span q, size_t *n)
{
	const char *p = q.p, *end = q.p + q.len, *amp;

	*n = 0;
	while (p != NULL && p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp - p >= 4 && memcmp(p, "key=", 4) == 0) {
			*n = (size_t)(amp - p - 4);
			return p + 4;
		}
		p = amp + 1;
	}
	return NULL;
}

/* Read the admin token into out; 0 when none is configured. */
static size_t
admin_token(char *out, size_t outsz)
{
	const char *env = getenv("RELAY_ADMIN_TOKEN");
	const char *path = getenv("RELAY_ADMIN_TOKEN_FILE");
	size_t n = 0;
	FILE *f;

	if (env != NULL && *env != '\0')
		return (size_t)snprintf(out, outsz, "%s", env) < outsz
		    ? strlen(out)
		    : 0;
	if (path == NULL || *path == '\0')
		return 0;
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	if (fgets(out, (int)outsz, f) != NULL) {
		n = strcspn(out, "\r\n");
		out[n] = '\0';
	}
	fclose(f);
	return n;
}

/* --- slowing down wrong admin tokens, per client address ------------ */

struct fail_slot {
	char ip[64];
	long long first; /* monotonic s of the window's first failure */
	long long until; /* locked out before this monotonic s */
	int n; /* failures in the window */
};

static struct fail_slot fails[RELAY_ADMIN_FAIL_SLOTS];
static pthread_mutex_t fails_lock = PTHREAD_MUTEX_INITIALIZER;

static long long
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec + 1; /* 0 stays "never" */
}

/* ip's slot, or (make) NULL: a free or the stalest one. Lock held. */
static struct fail_slot *
fail_find(const char *ip, int make, long long now)
{
	struct fail_slot *victim = &fails[0];
	size_t i;

	for (i = 0; i < RELAY_ADMIN_FAIL_SLOTS; i++) {
		if (fails[i].first != 0 && strcmp(fails[i].ip, ip) == 0)
			return &fails[i];
		if (fails[i].first < victim->first)
			victim = &fails[i];
	}
	if (!make)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->ip, sizeof(victim->ip), "%s", ip);
	victim->first = now;
	return victim;
}

long
auth_admin_locked(const char *ip)
{
	long long now = mono_s();
	struct fail_slot *f;
	long wait = 0;

	pthread_mutex_lock(&fails_lock);
	f = fail_find(ip, 0, now);
	if (f != NULL && f->until > now)
		wait = (long)(f->until - now);
	pthread_mutex_unlock(&fails_lock);
	return wait;
}

void
auth_admin_failed(const char *ip)
{
	long long now = mono_s(), pause;
	struct fail_slot *f;

	pthread_mutex_lock(&fails_lock);
	f = fail_find(ip, 1, now);
	if (now - f->first >= RELAY_ADMIN_FAIL_WINDOW_S && f->until <= now) {
		f->first = now;
		f->n = 0;
	}
	if (++f->n > RELAY_ADMIN_FAIL_FREE) {
		pause = 1LL << (f->n - RELAY_ADMIN_FAIL_FREE > 6
				? 6
				: f->n - RELAY_ADMIN_FAIL_FREE);
		if (pause > RELAY_ADMIN_LOCK_MAX_S)
			pause = RELAY_ADMIN_LOCK_MAX_S;
		f->until = now + pause;
		f->first = now; /* the window runs on while it is abused */
	}
	pthread_mutex_unlock(&fails_lock);
}

void
auth_admin_passed(const char *ip)
{
	struct fail_slot *f;

	pthread_mutex_lock(&fails_lock);
	f = fail_find(ip, 0, 0);
	if (f != NULL)
		memset(f, 0, sizeof(*f));
	pthread_mutex_unlock(&fails_lock);
}

int
auth_admin(struct relay_req *req)
{
	long wait;
	char token[512];
	const char *h = req_header(req, "authorization"), *t = NULL;
	size_t tlen = admin_token(token, sizeof(token)), n = 0, qn;
	int ok;

	if (tlen == 0) {
		apierr_send(req, DIALECT_OPENAI, 403, NULL, "admin_disabled",
		    "The admin API is disabled: set RELAY_ADMIN_TOKEN or "
		    "RELAY_ADMIN_TOKEN_FILE.");
		return 0;
	}
	wait = auth_admin_locked(req->client_ip);
	if (wait > 0) {
		explicit_bzero(token, sizeof(token));
		if (req_add_header(req, "Retry-After: %ld", wait) != RELAY_OK)
			req->status = 500;
		apierr_send(req, DIALECT_OPENAI, 429, NULL,
		    "too_many_failed_attempts",
		    "Too many wrong admin tokens from your address: try again "
		    "in %ld s.",
		    wait);
		return 0;
	}
	if (h != NULL)
		t = auth_bearer(h, &n);
	/* A token in the URL ends up in histories and proxies' logs: refused
	 * like a wrong one, whatever the header says. */
	ok = t != NULL && auth_query_key(req->query, &qn) == NULL &&
	    auth_equal(t, n, token, tlen);
	explicit_bzero(token, sizeof(token));
	if (!ok) {
		/* A request with no token at all (a browser's first look, a
		 * probe) guesses nothing: only wrong tokens count. */
		if (h != NULL || auth_query_key(req->query, &qn) != NULL)
			auth_admin_failed(req->client_ip);
		apierr_send(req, DIALECT_OPENAI, 401, NULL,
		    "invalid_admin_token", "Missing or wrong admin token.");
	} else
		auth_admin_passed(req->client_ip);
	return ok;
}
