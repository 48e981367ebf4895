/* SPDX-License-Identifier: MIT */
/* test_fcgi_loop.c - unit tests for lib/fcgi_loop.c: a thread plays the
 * web server with blocking sockets (records made by fcgi_rec.c's writers)
 * while the loop serves: a request answered and closed, two requests on a
 * kept connection, a 1 MiB answer to a slow reader, concurrent clients,
 * an aborted answer (no END_REQUEST, a reset), FCGI_GET_VALUES, an early
 * answer whose body was never read, and a client that leaves while the
 * handler waits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <fastcgi.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/fcgi_loop.h"
#include "../../lib/fcgi_rec.h"
#include "../../lib/limits.h"
#include "../../lib/loop.h"

static char sock_path[108];
static struct loop *the_loop;
static struct fcgi_listener *the_ls;

/* --- the handler under test ---------------------------------------------- */

static int gone_seen; /* the "wait" route saw its client leave */

static void
handler(struct fcgi_lreq *r, void *arg)
{
	const char *uri = fcgi_lreq_param(r, "REQUEST_URI");
	char body[4096];
	size_t got, have = 0;
	int i;

	(void)arg;
	assert_non_null(uri);
	if (strcmp(uri, "/early") == 0) { /* answer without reading */
		assert_int_equal(fcgi_lreq_write(r, "early", 5), RELAY_OK);
		return;
	}
	if (strcmp(uri, "/big") == 0) {
		memset(body, 'b', sizeof(body));
		for (i = 0; i < 256; i++)
			if (fcgi_lreq_write(r, body, sizeof(body)) != RELAY_OK)
				return;
		assert_int_equal(fcgi_lreq_flush(r), RELAY_OK);
		return;
	}
	do {
		assert_int_equal(
		    fcgi_lreq_read(r, body + have, sizeof(body) - have, &got),
		    RELAY_OK);
		have += got;
	} while (got > 0 && have < sizeof(body));
	if (strcmp(uri, "/abort") == 0) {
		assert_int_equal(fcgi_lreq_write(r, "partial", 7), RELAY_OK);
		fcgi_lreq_abort(r);
		return;
	}
	if (strcmp(uri, "/wait") == 0) { /* until the client leaves */
		struct loop_io *w = fcgi_lreq_watch(r);
		uint64_t until = loop_now(loop_current()) + 5000;

		if (loop_io_wait(w, LOOP_IN, until) > 0)
			gone_seen = 1;
		return;
	}
	assert_int_equal(fcgi_lreq_write(r, uri, strlen(uri)), RELAY_OK);
	assert_int_equal(fcgi_lreq_write(r, ":", 1), RELAY_OK);
	assert_int_equal(fcgi_lreq_write(r, body, have), RELAY_OK);
}

/* --- the web server's side ------------------------------------------------ */

static int
connect_sock(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, sock_path, sizeof(sa.sun_path));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
send_all(int fd, const struct buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t w = write(fd, b->data + off, b->len - off);

		assert_true(w > 0);
		off += (size_t)w;
	}
}

static void
put_pair(struct buf *b, const char *n, const char *v)
{
	unsigned char l[2] = {
	    (unsigned char)strlen(n), (unsigned char)strlen(v)};

	assert_int_equal(buf_append(b, l, 2), RELAY_OK);
	assert_int_equal(buf_append(b, n, strlen(n)), RELAY_OK);
	assert_int_equal(buf_append(b, v, strlen(v)), RELAY_OK);
}

/* A request's records: begin, params, and the body unless body is NULL
 * (then the body's records are left for the caller). */
static void
request(struct buf *b, unsigned id, int keep, const char *uri, const char *body)
{
	unsigned char begin[16] = {1, FCGI_BEGIN_REQUEST,
	    (unsigned char)(id >> 8), (unsigned char)id, 0, 8, 0, 0, 0,
	    FCGI_RESPONDER, (unsigned char)(keep ? FCGI_KEEP_CONN : 0)};
	struct buf p;

	buf_init(&p, 4096);
	put_pair(&p, "REQUEST_METHOD", "POST");
	put_pair(&p, "REQUEST_URI", uri);
	assert_int_equal(buf_append(b, begin, sizeof(begin)), RELAY_OK);
	assert_int_equal(
	    fcgi_put_stream(b, FCGI_PARAMS, id, p.data, p.len), RELAY_OK);
	assert_int_equal(
	    fcgi_put_stream(b, FCGI_PARAMS, id, NULL, 0), RELAY_OK);
	if (body != NULL) {
		if (*body != '\0')
			assert_int_equal(fcgi_put_stream(b, FCGI_STDIN, id,
					     body, strlen(body)),
			    RELAY_OK);
		assert_int_equal(
		    fcgi_put_stream(b, FCGI_STDIN, id, NULL, 0), RELAY_OK);
	}
	buf_reset(&p);
}

/* Read records until END_REQUEST of id: its stdout into out. 1 when the
 * request ended, 0 when the connection closed first (reset or EOF). */
static int
answer(int fd, unsigned id, struct buf *out, size_t slow_every)
{
	struct buf in;
	struct fcgi_rec r;
	char chunk[8192];
	size_t reads = 0;
	int ended = 0;

	buf_init(&in, 1 << 22);
	for (;;) {
		assert_int_equal(fcgi_rec_parse(in.data, in.len, &r), RELAY_OK);
		if (r.size > 0) {
			assert_int_equal(r.id, id);
			if (r.type == FCGI_STDOUT)
				assert_int_equal(
				    buf_append(out, r.content.p, r.content.len),
				    RELAY_OK);
			if (r.type == FCGI_END_REQUEST) {
				assert_int_equal(
				    r.content.p[4], FCGI_REQUEST_COMPLETE);
				ended = 1;
				break;
			}
			buf_consume(&in, r.size);
			continue;
		}
		if (slow_every > 0 && ++reads % slow_every == 0)
			usleep(2000);
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		assert_int_equal(buf_append(&in, chunk, (size_t)n), RELAY_OK);
	}
	buf_reset(&in);
	return ended;
}

/* --- running it ----------------------------------------------------------- */

static void
stop_all(void *arg)
{
	(void)arg;
	fcgi_listen_stop(the_ls);
	loop_stop(the_loop);
}

/* Run client(arg) on a thread while the loop serves; stop after it. */
struct run {
	void (*client)(void);
};

static void *
client_thread(void *arg)
{
	struct run *rn = arg;

	rn->client();
	assert_int_equal(loop_post(the_loop, stop_all, NULL), RELAY_OK);
	return NULL;
}

static void
serve_while(void (*client)(void))
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct run rn = {client};
	pthread_t t;
	int lfd;

	snprintf(sock_path, sizeof(sock_path), "/tmp/test_fcgi_loop.%d.sock",
	    (int)getpid());
	unlink(sock_path);
	memcpy(sa.sun_path, sock_path, sizeof(sa.sun_path));
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 128), 0);
	the_loop = loop_new();
	assert_non_null(the_loop);
	the_ls = fcgi_listen(the_loop, lfd, handler, NULL, RELAY_CORO_STACK);
	assert_non_null(the_ls);
	assert_int_equal(pthread_create(&t, NULL, client_thread, &rn), 0);
	assert_int_equal(loop_run(the_loop, 0), RELAY_OK);
	pthread_join(t, NULL);
	loop_free(the_loop);
	close(lfd);
	unlink(sock_path);
}

/* --- cases ----------------------------------------------------------------- */

static void
c_one(void)
{
	struct buf b, out;
	char ch;
	int fd = connect_sock();

	buf_init(&b, 1 << 16);
	buf_init(&out, 1 << 16);
	request(&b, 1, 0, "/echo", "hello");
	send_all(fd, &b);
	assert_true(answer(fd, 1, &out, 0));
	assert_int_equal(out.len, 11);
	assert_memory_equal(out.data, "/echo:hello", 11);
	assert_int_equal(read(fd, &ch, 1), 0); /* closed: not kept */
	close(fd);
	buf_reset(&b);
	buf_reset(&out);
}

static void
test_one_request(void **state)
{
	(void)state;
	serve_while(c_one);
}

static void
c_keep(void)
{
	struct buf b, out;
	int fd = connect_sock(), i;

	buf_init(&b, 1 << 16);
	buf_init(&out, 1 << 16);
	for (i = 1; i <= 3; i++) {
		buf_clear(&b);
		buf_clear(&out);
		request(&b, (unsigned)i, 1, "/k", i == 2 ? "" : "xyz");
		send_all(fd, &b);
		assert_true(answer(fd, (unsigned)i, &out, 0));
		assert_string_equal(out.data, i == 2 ? "/k:" : "/k:xyz");
	}
	close(fd);
	buf_reset(&b);
	buf_reset(&out);
}

static void
test_kept_connection(void **state)
{
	(void)state;
	serve_while(c_keep);
}

static void
c_big(void)
{
	struct buf b, out;
	int fd = connect_sock();
	size_t i;

	buf_init(&b, 1 << 16);
	buf_init(&out, 2 << 20);
	request(&b, 7, 0, "/big", "");
	send_all(fd, &b);
	assert_true(answer(fd, 7, &out, 4)); /* a slow reader */
	assert_int_equal(out.len, 256 * 4096);
	for (i = 0; i < out.len; i++)
		if (out.data[i] != 'b')
			fail();
	close(fd);
	buf_reset(&b);
	buf_reset(&out);
}

static void
test_big_answer_slow_reader(void **state)
{
	(void)state;
	serve_while(c_big);
}

static void *
many_one(void *arg)
{
	char uri[32];
	struct buf b, out;
	int i, fd;

	buf_init(&b, 1 << 16);
	buf_init(&out, 1 << 16);
	for (i = 0; i < 20; i++) {
		snprintf(uri, sizeof(uri), "/c%d/%d", (int)(intptr_t)arg, i);
		fd = connect_sock();
		buf_clear(&b);
		buf_clear(&out);
		request(&b, 1, 0, uri, "body");
		send_all(fd, &b);
		assert_true(answer(fd, 1, &out, 0));
		assert_int_equal(out.len, strlen(uri) + 5);
		assert_memory_equal(out.data, uri, strlen(uri));
		close(fd);
	}
	buf_reset(&b);
	buf_reset(&out);
	return NULL;
}

static void
c_many(void)
{
	pthread_t t[16];
	int i;

	for (i = 0; i < 16; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, many_one, (void *)(intptr_t)i),
		    0);
	for (i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
}

static void
test_concurrent_clients(void **state)
{
	(void)state;
	serve_while(c_many);
}

static void
c_abort(void)
{
	struct buf b, out;
	int fd = connect_sock();

	buf_init(&b, 1 << 16);
	buf_init(&out, 1 << 16);
	request(&b, 3, 1, "/abort", "x");
	send_all(fd, &b);
	assert_false(answer(fd, 3, &out, 0)); /* no END_REQUEST */
	assert_int_equal(out.len, 7);
	assert_memory_equal(out.data, "partial", 7);
	close(fd);
	buf_reset(&b);
	buf_reset(&out);
}

static void
test_abort(void **state)
{
	(void)state;
	serve_while(c_abort);
}

static void
c_values(void)
{
	struct buf b, q, in;
	struct fcgi_rec r;
	char chunk[512];
	int fd = connect_sock();
	ssize_t n;

	buf_init(&b, 4096);
	buf_init(&q, 4096);
	buf_init(&in, 4096);
	put_pair(&q, FCGI_MPXS_CONNS, "");
	put_pair(&q, FCGI_MAX_CONNS, "");
	assert_int_equal(
	    fcgi_put_stream(&b, FCGI_GET_VALUES, 0, q.data, q.len), RELAY_OK);
	send_all(fd, &b);
	do {
		n = read(fd, chunk, sizeof(chunk));
		assert_true(n > 0);
		assert_int_equal(buf_append(&in, chunk, (size_t)n), RELAY_OK);
		assert_int_equal(fcgi_rec_parse(in.data, in.len, &r), RELAY_OK);
	} while (r.size == 0);
	assert_int_equal(r.type, FCGI_GET_VALUES_RESULT);
	assert_true(span_eq(fcgi_param_get(r.content, FCGI_MPXS_CONNS), "0"));
	assert_non_null(fcgi_param_get(r.content, FCGI_MAX_CONNS).p);
	close(fd);
	buf_reset(&b);
	buf_reset(&q);
	buf_reset(&in);
}

static void
test_get_values(void **state)
{
	(void)state;
	serve_while(c_values);
}

/* The handler answers before the body came: the answer arrives whole,
 * and the connection waits for us to close (no reset). */
static void
c_early(void)
{
	struct buf b, out;
	int fd = connect_sock();

	buf_init(&b, 1 << 16);
	buf_init(&out, 1 << 16);
	request(&b, 5, 0, "/early", NULL);
	assert_int_equal(
	    fcgi_put_stream(&b, FCGI_STDIN, 5, "some body", 9), RELAY_OK);
	send_all(fd, &b); /* the body's end never sent */
	assert_true(answer(fd, 5, &out, 0));
	assert_memory_equal(out.data, "early", 5);
	close(fd);
	buf_reset(&b);
	buf_reset(&out);
}

static void
test_early_answer(void **state)
{
	(void)state;
	serve_while(c_early);
}

static void
c_gone(void)
{
	struct buf b;
	int fd = connect_sock();

	buf_init(&b, 1 << 16);
	request(&b, 9, 0, "/wait", "");
	send_all(fd, &b);
	usleep(50000);
	close(fd); /* the client left */
	usleep(100000);
	buf_reset(&b);
}

static void
test_client_gone(void **state)
{
	(void)state;
	gone_seen = 0;
	serve_while(c_gone);
	assert_int_equal(gone_seen, 1);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_one_request),
	    cmocka_unit_test(test_kept_connection),
	    cmocka_unit_test(test_big_answer_slow_reader),
	    cmocka_unit_test(test_concurrent_clients),
	    cmocka_unit_test(test_abort),
	    cmocka_unit_test(test_get_values),
	    cmocka_unit_test(test_early_answer),
	    cmocka_unit_test(test_client_gone),
	};

	if (getenv("RELAY_FAIL_ALLOC") != NULL)
		return 77; /* the parser's failures are test_fcgi_rec's */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("fcgi_loop", cases, NULL, NULL);
}
