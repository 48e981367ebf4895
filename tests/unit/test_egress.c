/* SPDX-License-Identifier: MIT */
/* test_egress.c - unit tests for lib/egress.c: which proxy URLs are taken,
 * that a refusal never quotes the URL (it may hold a password), and how
 * a failed transfer through a proxy is told from the upstream's failure
 * (real transfers on loopback: a closed port, a CONNECT refused). */
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
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/egress.h"

static void
test_check(void **state)
{
	static const char *const good[] = {"http://127.0.0.1:3128",
	    "http://proxy.example:8080/", "https://u:p%40ss@proxy.example",
	    "socks5://10.0.0.1:1080", "socks5h://user:pw@[::1]:1080",
	    "http://u:p@ss@host:1", NULL};
	static const char *const bad[] = {"", "proxy:3128", "ftp://h:1",
	    "socks4://h:1", "http://", "http://user:pw@", "http://:3128",
	    "http://h:1/path", "http://h:1?x", "http://h 1:2", "http://h:1\n",
	    NULL};
	char eb[128];
	size_t i;

	(void)state;
	for (i = 0; good[i] != NULL; i++)
		assert_int_equal(egress_check(good[i], eb, sizeof(eb)), 0);
	for (i = 0; bad[i] != NULL; i++) {
		eb[0] = '\0';
		assert_int_equal(egress_check(bad[i], eb, sizeof(eb)), -1);
		assert_true(eb[0] != '\0');
	}
	/* The reason never quotes the URL. */
	assert_int_equal(
	    egress_check("http://u:s3cret@h:1/x", eb, sizeof(eb)), -1);
	assert_null(strstr(eb, "s3cret"));
}

/* A listening socket on 127.0.0.1 and its port. */
static int
listen_any(int *port)
{
	struct sockaddr_in a;
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A free port: bound, then closed. */
static int
closed_port(void)
{
	int port, fd = listen_any(&port);

	close(fd);
	return port;
}

struct fake_proxy {
	int fd;
	const char *answer;
};

/* Answer one CONNECT with a canned status line. */
static void *
fake_proxy_run(void *arg)
{
	struct fake_proxy *fp = arg;
	char buf[2048];
	int c = accept(fp->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	if (read(c, buf, sizeof(buf)) > 0 &&
	    write(c, fp->answer, strlen(fp->answer)) < 0)
		buf[0] = '\0';
	close(c);
	return NULL;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* A transfer to url through proxy: egress_failed()'s verdict and msg. */
static int
through(const char *url, const char *proxy, char *msg, size_t n)
{
	CURL *e = curl_easy_init();
	CURLcode rc;
	int r;

	assert_non_null(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	egress_setopt(e, proxy);
	rc = curl_easy_perform(e);
	assert_int_not_equal(rc, CURLE_OK);
	msg[0] = '\0';
	r = egress_failed(e, rc, msg, n);
	curl_easy_cleanup(e);
	return r;
}

static void
test_failed(void **state)
{
	char url[64], proxy[96], msg[256];
	struct fake_proxy fp;
	pthread_t th;
	int port;

	(void)state;
	/* No proxy listening. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", closed_port());
	snprintf(
	    proxy, sizeof(proxy), "http://u:pw@127.0.0.1:%d", closed_port());
	assert_int_equal(through(url, proxy, msg, sizeof(msg)), 1);
	assert_string_equal(msg, "could not connect to the egress proxy");
	/* A CONNECT refused: 407, then 502. */
	fp.fd = listen_any(&port);
	fp.answer = "HTTP/1.1 407 Proxy Authentication Required\r\n"
		    "Proxy-Authenticate: Basic realm=\"x\"\r\n"
		    "Content-Length: 0\r\n\r\n";
	snprintf(proxy, sizeof(proxy), "http://u:pw@127.0.0.1:%d", port);
	assert_int_equal(pthread_create(&th, NULL, fake_proxy_run, &fp), 0);
	assert_int_equal(through(url, proxy, msg, sizeof(msg)), 1);
	pthread_join(th, NULL);
	assert_non_null(strstr(msg, "HTTP 407 (proxy authentication"));
	assert_null(strstr(msg, "pw"));
	fp.answer = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(pthread_create(&th, NULL, fake_proxy_run, &fp), 0);
	assert_int_equal(through(url, proxy, msg, sizeof(msg)), 1);
	pthread_join(th, NULL);
	assert_non_null(strstr(msg, "HTTP 502"));
	close(fp.fd);
	/* Direct, the environment's proxy ignored: the environment names a
	 * proxy that would answer 200, yet the call fails to connect to the
	 * closed upstream port. */
	fp.fd = listen_any(&port);
	fp.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", port);
	setenv("http_proxy", proxy, 1);
	setenv("ALL_PROXY", proxy, 1);
	assert_int_equal(pthread_create(&th, NULL, fake_proxy_run, &fp), 0);
	{
		CURL *e = curl_easy_init();

		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
		egress_setopt(e, NULL);
		assert_int_equal(curl_easy_perform(e), CURLE_COULDNT_CONNECT);
		curl_easy_cleanup(e);
	}
	/* Let the fake proxy's accept() end. */
	{
		int c = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a;

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((uint16_t)port);
		assert_int_equal(
		    connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_true(write(c, "x", 1) == 1);
		close(c);
	}
	pthread_join(th, NULL);
	close(fp.fd);
	unsetenv("http_proxy");
	unsetenv("ALL_PROXY");
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_failed),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* libcurl's allocations are not ours to fail: no torture here. */
	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77;
	return cmocka_run_group_tests_name("egress", cases, NULL, NULL);
}
