/* SPDX-License-Identifier: MIT */
/* test_upstream.c - unit tests for lib/upstream.c's error classification:
 * a call libcurl cannot form is RELAY_EINVAL (nothing was sent, so it is
 * no upstream's failure); a transport failure says what failed, never
 * where, and keeps libcurl's own words for the log. Loopback only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/upstream.h"

static struct upstream_shared *sh;
static struct upstream *up;

static enum relay_err
on_head(void *arg, const struct upstream_head *h)
{
	(void)arg;
	(void)h;
	return RELAY_OK;
}

static enum relay_err
on_data(void *arg, const char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return RELAY_OK;
}

static enum relay_err
call(const char *url, const char *header, struct upstream_call *c)
{
	const char *lines[1] = {header};

	memset(c, 0, sizeof(*c));
	c->url = url;
	c->headers = lines;
	c->nheaders = header != NULL ? 1 : 0;
	c->body = "{}";
	c->body_len = 2;
	c->connect_ms = 2000;
	c->first_byte_ms = 2000;
	c->idle_ms = 2000;
	c->watch_fd = -1;
	c->on_head = on_head;
	c->on_data = on_data;
	return upstream_perform(up, c);
}

/* A loopback port nothing listens on (bound, then closed). */
static int
closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void
test_malformed_is_einval(void **state)
{
	static const char *const urls[] = {
	    "http://127.0.0.1:1/v1beta/models/gem-x y:generateContent",
	    "http://127.0.0.1:1/v1beta/models/a\r\nX-Injected: 1",
	    "http://[::1/x",
	    "",
	};
	struct upstream_call c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		if (call(urls[i], NULL, &c) != RELAY_EINVAL)
			fail_msg("\"%s\": not RELAY_EINVAL", urls[i]);
		assert_int_equal(c.status, 0);
		assert_string_equal(c.errmsg,
		    "the relay could not form a valid upstream request");
		assert_true(c.detail[0] != '\0');
	}
}

static void
test_refused_says_what_not_where(void **state)
{
	struct upstream_call c;
	char url[64], port[16];

	(void)state;
	snprintf(port, sizeof(port), "%d", closed_port());
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/chat", port);
	assert_int_equal(call(url, NULL, &c), RELAY_EUPSTREAM);
	assert_string_equal(c.errmsg, "could not connect to the upstream");
	assert_null(strstr(c.errmsg, "127.0.0.1"));
	assert_null(strstr(c.errmsg, port));
	/* The log keeps libcurl's words, control bytes made visible. */
	assert_non_null(strstr(c.detail, port));
	assert_null(strpbrk(c.detail, "\r\n"));
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_malformed_is_einval),
	    cmocka_unit_test(test_refused_says_what_not_where),
	};
	int failed;

	/* Torture is for the oom-safe cases of other binaries: none here. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	if (upstream_global_init() != RELAY_OK)
		return 1;
	sh = upstream_shared_new();
	up = sh != NULL ? upstream_new(sh) : NULL;
	if (up == NULL)
		return 1;
	failed = cmocka_run_group_tests_name("upstream", cases, NULL, NULL);
	upstream_free(up);
	upstream_shared_free(sh);
	return failed != 0;
}
