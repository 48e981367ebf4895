/* SPDX-License-Identifier: MIT */
/* log.c - line-at-a-time logging to stderr (the web server or run script
 * decides where stderr goes). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pii.h"

/* Set once in main() before threads start; read-only afterwards. */
static char log_prog[32] = "relay";
static enum log_level log_level_min = LOG_LVL_INFO;

static const char *const log_names[LOG_LVL__MAX] = {
    [LOG_LVL_ERROR] = "error",
    [LOG_LVL_WARN] = "warn",
    [LOG_LVL_INFO] = "info",
    [LOG_LVL_DEBUG] = "debug",
};

void
log_init(const char *prog, enum log_level level)
{
	const char *env = getenv("RELAY_LOG_LEVEL");
	int i;

	snprintf(log_prog, sizeof(log_prog), "%s", prog);
	log_level_min = level;
	if (env == NULL)
		return;
	for (i = 0; i < LOG_LVL__MAX; i++)
		if (strcasecmp(env, log_names[i]) == 0)
			log_level_min = (enum log_level)i;
}

/*
 * Whatever a message quotes (an upstream's error text, a header) may hold
 * personal data or a key: the message part of every line goes through
 * pii_mask() before it is written. A line that cannot be masked (memory
 * is short) is replaced, never written as it was.
 */
/* Length of a request id at p: "id=" then 32 hex digits, not followed by
 * another letter or digit; 0 when p is not one. */
static size_t
request_id_at(const char *p, size_t n)
{
	size_t i;

	if (n < 35 || memcmp(p, "id=", 3) != 0)
		return 0;
	for (i = 3; i < 35; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
			(p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	if (n > 35 &&
	    ((p[35] >= '0' && p[35] <= '9') || (p[35] >= 'a' && p[35] <= 'z') ||
		(p[35] >= 'A' && p[35] <= 'Z')))
		return 0;
	return 35;
}

/*
 * Mask the message msg[0..n) into b, except the request ids the relay
 * writes as "id=<32 hex>": they look like a secret to pii_mask() but are
 * what ties a line to its request (x-request-id, the access log).
 */
static enum relay_err
mask_message(const char *msg, size_t n, struct buf *b)
{
	enum relay_err err = RELAY_OK;
	size_t i = 0, from = 0, id;

	while (err == RELAY_OK && i < n) {
		if ((i == 0 || msg[i - 1] == ' ') &&
		    (id = request_id_at(msg + i, n - i)) > 0) {
			err = pii_mask(msg + from, i - from, b);
			if (err == RELAY_OK)
				err = buf_append(b, msg + i, id);
			i += id;
			from = i;
			continue;
		}
		i++;
	}
	if (err == RELAY_OK)
		err = pii_mask(msg + from, n - from, b);
	return err;
}

static void
mask_and_write(const char *line, size_t head, size_t msglen)
{
	static const char dropped[] = "[log line dropped: it could not be "
				      "masked]\n";
	struct buf b;

	buf_init(&b, 2 * msglen + 64);
	if (buf_append(&b, line, head) != RELAY_OK ||
	    mask_message(line + head, msglen, &b) != RELAY_OK ||
	    buf_append(&b, "\n", 1) != RELAY_OK) {
		buf_clear(&b);
		if (buf_append(&b, line, head) != RELAY_OK ||
		    buf_append(&b, dropped, sizeof(dropped) - 1) != RELAY_OK) {
			buf_reset(&b);
			return;
		}
	}
	if (write(STDERR_FILENO, b.data, b.len) < 0)
		b.len = 0;
	buf_reset(&b);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (level > log_level_min || (unsigned)level >= LOG_LVL__MAX)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%ld] ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, log_names[level], log_prog,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	if ((size_t)m > sizeof(line) - (size_t)n - 2)
		m = (int)(sizeof(line) - (size_t)n - 2);
	mask_and_write(line, (size_t)n, (size_t)m);
}

void
log_sanitize(char *out, unsigned long outsz, const char *p, unsigned long n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned long i, o = 0;

	if (outsz == 0)
		return;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)c;
			continue;
		}
		if (o + 4 >= outsz)
			break;
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
}
