/* SPDX-License-Identifier: MIT */
/* fuzz_metrics.c - libFuzzer target for lib/metrics.c. The input drives
 * recorders with arbitrary label values, then patches bytes of the shared
 * file the way a stray writer or a torn file could, then renders.
 * Invariants: rendering never fails or reads out of bounds; every line is
 * a comment or `name[{labels}] value` with no control bytes; unpatched
 * counts are exact; no label value that pii_mask() would change (a secret)
 * ever reaches the output. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/metrics.h"
#include "../../lib/pii.h"

static char dir[64];

/* Next NUL-terminated name of at most 70 bytes from the input. */
static const char *
next_name(const uint8_t **p, const uint8_t *end, char *out)
{
	size_t k = 0;

	while (*p < end && **p != 0 && k < 70)
		out[k++] = (char)*(*p)++;
	if (*p < end)
		(*p)++;
	out[k] = '\0';
	return out;
}

static void
check_line(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		abort();
	if (s[0] == '#')
		return;
	if (memchr(s, ' ', n) == NULL || strncmp(s, "relay_", 6) != 0)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

static void
check_output(const struct buf *b, unsigned long retries, int patched)
{
	const char *p = b->data, *nl;
	char want[64];
	struct buf m;

	while (p < b->data + b->len) {
		nl = memchr(p, '\n', (size_t)(b->data + b->len - p));
		if (nl == NULL)
			abort();
		check_line(p, (size_t)(nl - p));
		p = nl + 1;
	}
	snprintf(want, sizeof(want), "\nrelay_retries_total %lu\n", retries);
	if (!patched && strstr(b->data, want) == NULL)
		abort();
	/* Secrets never get in: masking the output changes nothing. */
	buf_init(&m, 2 * b->len + 16);
	if (pii_mask(b->data, b->len, &m) != RELAY_OK || m.len != b->len ||
	    memcmp(m.data, b->data, b->len) != 0)
		abort();
	buf_reset(&m);
}

/* Apply (offset u32, byte) patches to this process's file. */
static int
patch(const uint8_t *p, const uint8_t *end)
{
	char path[128];
	uint32_t off;
	int fd, n = 0;

	snprintf(path, sizeof(path), "%s/fz.%ld.metrics", dir, (long)getpid());
	fd = open(path, O_RDWR);
	if (fd < 0)
		abort();
	while (end - p >= 5) {
		memcpy(&off, p, 4);
		off %= 200000;
		if (pwrite(fd, p + 4, 1, off) == 1)
			n++;
		p += 5;
	}
	close(fd);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *cut;
	char a[72], b2[72], c[72], d[72], path[128];
	unsigned long retries = 0;
	struct metrics *m;
	struct buf out;
	int patched = 0;

	if (size > 4096)
		return 0;
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_metrics.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	snprintf(path, sizeof(path), "%s/retired.metrics", dir);
	unlink(path);
	if (metrics_open(dir, "fz", &m) != RELAY_OK)
		abort();
	/* Ops until a 0xff byte; patches after it. */
	cut = memchr(data, 0xff, size);
	if (cut == NULL)
		cut = end;
	while (p < cut) {
		uint8_t op = *p++;

		next_name(&p, cut, a);
		next_name(&p, cut, b2);
		next_name(&p, cut, c);
		next_name(&p, cut, d);
		switch (op % 8) {
		case 0:
			metrics_request(m, a, b2, c, d, op * 3, op / 7.0);
			break;
		case 1: metrics_ttft(m, a, op / 50.0); break;
		case 2: metrics_tokens(m, a, op, op / 2, op * 1000u); break;
		case 3: metrics_upstream_error(m, a, b2); break;
		case 4: metrics_ratelimit(m, a); break;
		case 5: metrics_breaker(m, a, op % 3); break;
		case 6:
			metrics_retry(m);
			retries++;
			break;
		default: metrics_stream_gap(m, op / 1000.0); break;
		}
	}
	if (cut < end)
		patched = patch(cut + 1, end) > 0;
	buf_init(&out, METRICS_RENDER_MAX);
	if (metrics_render(dir, &out) != RELAY_OK)
		abort();
	check_output(&out, retries, patched);
	buf_reset(&out);
	metrics_close(m);
	return 0;
}
