/* SPDX-License-Identifier: MIT */
/* fcgi_loop.c - FastCGI on the loop; see fcgi_loop.h. One coroutine per
 * connection: it reads records into a buffer that exists only while a
 * request's head or body is coming in (a long answer keeps none), builds
 * the params as "NAME=value" strings for the handler, runs it, and ends
 * the request with an empty FCGI_STDOUT and FCGI_END_REQUEST. */
#include <errno.h>
#include <fastcgi.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "fcgi_loop.h"
#include "fcgi_rec.h"
#include "limits.h"
#include "log.h"
#include "loop.h"
#include "mem.h"

/* Bytes read from the web server at a time. */
#define LREQ_READ 16384
/* Answer bytes queued before they are written without waiting for a
 * flush; the queue's own bound is a few times that. */
#define LREQ_OUT_SOFT 16384
#define LREQ_OUT_MAX (4u * 65536)

struct fcgi_listener {
	struct loop *loop;
	struct loop_io io;
	int fd;
	fcgi_loop_fn fn;
	void *arg;
	size_t stack;
	size_t conns;
	int stopping;
	int ended; /* the accepting coroutine returned */
	struct coro *self;
};

struct fcgi_lreq {
	struct fcgi_listener *ls;
	int fd;
	struct loop_io io;
	struct fcgi_conn parse;
	struct buf in; /* read, from in_off on not yet taken */
	size_t in_off;
	struct span pending; /* body bytes of a record not yet handed out */
	int stdin_done;
	unsigned id; /* the request in progress */
	struct buf out; /* records queued, from out_off on not yet written */
	size_t out_off;
	struct buf env; /* "NAME=value\0"... */
	char **envp; /* into env, NULL-terminated */
	size_t nenv;
	int broken; /* the connection failed: nothing more goes out */
	int aborted; /* end it without FCGI_END_REQUEST */
};

/* --- the connection's bytes ---------------------------------------------- */

/* Write what is queued. */
static enum relay_err
send_out(struct fcgi_lreq *r)
{
	ssize_t w;

	while (!r->broken && r->out_off < r->out.len) {
		w = send(r->fd, r->out.data + r->out_off,
		    r->out.len - r->out_off, MSG_NOSIGNAL);
		if (w > 0) {
			r->out_off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			loop_io_clear(&r->io, LOOP_OUT);
			if (loop_io_wait(&r->io, LOOP_OUT, 0) < 0)
				r->broken = 1;
			continue;
		}
		r->broken = 1;
	}
	buf_clear(&r->out);
	r->out_off = 0;
	return r->broken ? RELAY_ECLOSED : RELAY_OK;
}

/* Read more from the web server into in (which keeps a whole record's
 * room). RELAY_ECLOSED at its end or on an error. */
static enum relay_err
read_more(struct fcgi_lreq *r)
{
	size_t room;
	char *tail;
	ssize_t n;

	if (r->in_off > 0) {
		buf_consume(&r->in, r->in_off);
		r->in_off = 0;
	}
	room = r->in.max - r->in.len;
	if (room > LREQ_READ)
		room = LREQ_READ;
	if (room == 0 || buf_extend(&r->in, room, &tail) != RELAY_OK)
		return RELAY_ECLOSED; /* no room for a record: not FastCGI */
	for (;;) {
		n = read(r->fd, tail, room);
		if (n > 0) {
			buf_truncate(&r->in, r->in.len - room + (size_t)n);
			return RELAY_OK;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			loop_io_clear(&r->io, LOOP_IN);
			if (loop_io_wait(&r->io, LOOP_IN, 0) >= 0)
				continue;
		}
		buf_truncate(&r->in, r->in.len - room);
		return RELAY_ECLOSED;
	}
}

/*
 * The next record that means something to the request; management
 * records and refusals are answered on the way. RELAY_ECLOSED when the
 * connection ended or broke the protocol.
 */
static enum relay_err
next_event(struct fcgi_lreq *r, struct fcgi_event *ev)
{
	enum relay_err err;
	size_t used;

	for (;;) {
		err = fcgi_conn_feed(&r->parse, r->in.data + r->in_off,
		    r->in.len - r->in_off, &used, ev);
		if (err != RELAY_OK) {
			log_warn("fastcgi: %s from the web server",
			    err == RELAY_ETOOBIG ? "params too large"
						 : "a protocol error");
			return RELAY_ECLOSED;
		}
		if (used == 0) {
			if ((err = read_more(r)) != RELAY_OK)
				return err;
			continue;
		}
		r->in_off += used;
		switch (ev->ev) {
		case FCGI_EV_NONE: continue;
		case FCGI_EV_GET_VALUES:
			err = fcgi_put_values(&r->out, ev->data,
			    RELAY_FCGI_CONNS_MAX, RELAY_FCGI_CONNS_MAX);
			break;
		case FCGI_EV_UNKNOWN_TYPE:
			err = fcgi_put_unknown(&r->out, ev->type);
			break;
		case FCGI_EV_REFUSE:
			err = fcgi_put_end(&r->out, ev->id, 0, ev->status);
			break;
		default: return RELAY_OK;
		}
		if (err != RELAY_OK || send_out(r) != RELAY_OK)
			return RELAY_ECLOSED;
	}
}

/* The params as "NAME=value" strings and their NULL-ended array. */
static enum relay_err
make_env(struct fcgi_lreq *r)
{
	struct span in = {r->parse.params.data, r->parse.params.len}, n, v;
	size_t count = 0, i, off = 0;
	enum relay_err err = RELAY_OK;

	buf_clear(&r->env);
	while (err == RELAY_OK &&
	    (err = fcgi_pair_next(&in, &n, &v)) == RELAY_OK && n.p != NULL) {
		if (memchr(n.p, '\0', n.len) != NULL ||
		    memchr(v.p, '\0', v.len) != NULL)
			continue; /* not expressible as a C string: left out */
		if ((err = buf_append(&r->env, n.p, n.len)) == RELAY_OK &&
		    (err = buf_append(&r->env, "=", 1)) == RELAY_OK &&
		    (err = buf_append(&r->env, v.p, v.len)) == RELAY_OK)
			err = buf_append(&r->env, "", 1);
		count++;
	}
	if (err != RELAY_OK)
		return err;
	mem_free(r->envp);
	r->envp = mem_reallocarray(NULL, count + 1, sizeof(*r->envp));
	if (r->envp == NULL)
		return RELAY_ENOMEM;
	for (i = 0; i < count; i++) {
		r->envp[i] = r->env.data + off;
		off += strlen(r->envp[i]) + 1;
	}
	r->envp[count] = NULL;
	r->nenv = count;
	/* The params stream lives on in env: its buffer goes (a stream keeps
	 * its connection for minutes). */
	buf_reset(&r->parse.params);
	return RELAY_OK;
}

/* --- a connection -------------------------------------------------------- */

/* The body was not read to its end: let the web server close first. */
static void
linger(struct fcgi_lreq *r)
{
	struct loop *l = loop_current();
	uint64_t until = loop_now(l) + RELAY_FCGI_LINGER_MS;
	char sink[512];
	ssize_t n;

	if (shutdown(r->fd, SHUT_WR) != 0)
		return;
	for (;;) {
		n = read(r->fd, sink, sizeof(sink));
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN) {
			loop_io_clear(&r->io, LOOP_IN);
			if (loop_io_wait(&r->io, LOOP_IN, until) > 0)
				continue;
		}
		return;
	}
}

static void
request_reset(struct fcgi_lreq *r)
{
	r->pending.p = NULL;
	r->pending.len = 0;
	r->stdin_done = 0;
	r->aborted = 0;
	r->id = 0;
	fcgi_conn_end(&r->parse);
}

/* Serve the requests of one connection until it ends. */
static void
conn_main(void *arg)
{
	struct fcgi_lreq *r = arg;
	struct fcgi_listener *ls = r->ls;
	struct fcgi_event ev;
	int keep = 1;

	if (loop_io_add(&r->io, r->fd) != RELAY_OK)
		keep = 0;
	while (keep) {
		if (next_event(r, &ev) != RELAY_OK || ev.ev != FCGI_EV_BEGIN)
			break; /* the end of the connection, or no request */
		r->id = ev.id;
		keep = ev.keep_conn;
		if (next_event(r, &ev) != RELAY_OK || ev.ev != FCGI_EV_PARAMS ||
		    make_env(r) != RELAY_OK)
			break;
		ls->fn(r, ls->arg);
		if (r->aborted || r->broken)
			break;
		if (fcgi_put_stream(&r->out, FCGI_STDOUT, r->id, NULL, 0) !=
			RELAY_OK ||
		    fcgi_put_end(&r->out, r->id, 0, FCGI_REQUEST_COMPLETE) !=
			RELAY_OK ||
		    send_out(r) != RELAY_OK)
			break;
		if (!r->stdin_done) {
			linger(r);
			break;
		}
		request_reset(r);
		if (r->in_off == r->in.len) { /* nothing read ahead */
			buf_reset(&r->in);
			r->in_off = 0;
		}
	}
	if (r->aborted) {
		/* What the answer had, then one byte of a record header and
		 * the close: a read error for any web server (a clean close
		 * between records reads as a plain end of stream to Caddy's
		 * FastCGI client), and on TCP a reset. */
		static const unsigned char torn = FCGI_VERSION_1;
		struct linger lg = {1, 0};

		/* What the answer had went out at fcgi_lreq_abort(); a web
		 * server that reads it and the tear at once may take the
		 * head for the whole answer (lighttpd did, for a head with
		 * no body yet): let it forward the head first. */
		(void)send_out(r);
		(void)loop_sleep_until(
		    loop_now(r->ls->loop) + RELAY_FCGI_TEAR_AFTER_MS);
		if (buf_append(&r->out, &torn, 1) == RELAY_OK)
			(void)send_out(r);
		(void)setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (r->io.loop != NULL)
		loop_io_del(&r->io);
	close(r->fd);
	fcgi_conn_reset(&r->parse);
	buf_reset(&r->in);
	buf_reset(&r->out);
	buf_reset(&r->env);
	mem_free(r->envp);
	mem_free(r);
	ls->conns--;
	if (ls->ended && ls->conns == 0)
		mem_free(ls);
}

/* --- the listener -------------------------------------------------------- */

static void
start_conn(struct fcgi_listener *ls, int fd)
{
	struct fcgi_lreq *r = mem_calloc(1, sizeof(*r));

	if (r == NULL) {
		close(fd);
		return;
	}
	r->ls = ls;
	r->fd = fd;
	fcgi_conn_init(&r->parse, RELAY_FCGI_PARAMS_MAX);
	buf_init(&r->in, RELAY_FCGI_RECORD_MAX + LREQ_READ);
	buf_init(&r->out, LREQ_OUT_MAX);
	buf_init(&r->env, RELAY_FCGI_PARAMS_MAX + RELAY_FCGI_PARAMS_MAX / 2);
	ls->conns++;
	if (loop_spawn(ls->loop, conn_main, r, ls->stack) != RELAY_OK) {
		ls->conns--;
		fcgi_conn_reset(&r->parse);
		mem_free(r);
		close(fd);
	}
}

static void
listener_main(void *arg)
{
	struct fcgi_listener *ls = arg;
	int fd;

	ls->self = loop_self();
	if (loop_io_add(&ls->io, ls->fd) != RELAY_OK) {
		log_err("fastcgi: cannot watch the listening socket");
		ls->stopping = 1;
	}
	while (!ls->stopping) {
		fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			start_conn(ls, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			loop_io_clear(&ls->io, LOOP_IN);
			(void)loop_io_wait(&ls->io, LOOP_IN, 0);
			break;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM: /* out of something: breathe, then go on */
			log_warn("fastcgi accept: %s", strerror(errno));
			(void)loop_sleep_until(
			    loop_now(ls->loop) + RELAY_ACCEPT_BACKOFF_MS);
			break;
		case EINVAL: /* shut down */
		case EBADF: ls->stopping = 1; break;
		default: break; /* that connection failed, not the socket */
		}
	}
	if (ls->io.loop != NULL)
		loop_io_del(&ls->io);
	ls->ended = 1;
	if (ls->conns == 0)
		mem_free(ls);
}

struct fcgi_listener *
fcgi_listen(struct loop *l, int listen_fd, fcgi_loop_fn fn, void *arg,
    size_t stack_size)
{
	struct fcgi_listener *ls = mem_calloc(1, sizeof(*ls));
	int fl;

	if (ls == NULL)
		return NULL;
	fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		mem_free(ls);
		return NULL;
	}
	ls->loop = l;
	ls->fd = listen_fd;
	ls->fn = fn;
	ls->arg = arg;
	ls->stack = stack_size;
	if (loop_spawn(l, listener_main, ls, RELAY_CORO_STACK_SMALL) !=
	    RELAY_OK) {
		mem_free(ls);
		return NULL;
	}
	return ls;
}

void
fcgi_listen_stop(struct fcgi_listener *ls)
{
	ls->stopping = 1;
	if (ls->self != NULL)
		loop_wake(ls->self);
}

size_t
fcgi_listen_conns(const struct fcgi_listener *ls)
{
	return ls->conns;
}

/* --- the request --------------------------------------------------------- */

const char *
fcgi_lreq_param(struct fcgi_lreq *r, const char *name)
{
	size_t nl = strlen(name), i;

	for (i = 0; i < r->nenv; i++)
		if (strncmp(r->envp[i], name, nl) == 0 && r->envp[i][nl] == '=')
			return r->envp[i] + nl + 1;
	return NULL;
}

const char *
fcgi_lreq_param_at(struct fcgi_lreq *r, size_t i)
{
	return i < r->nenv ? r->envp[i] : NULL;
}

enum relay_err
fcgi_lreq_read(struct fcgi_lreq *r, char *p, size_t n, size_t *got)
{
	struct fcgi_event ev;
	size_t k;

	*got = 0;
	while (r->pending.len == 0 && !r->stdin_done) {
		if (next_event(r, &ev) != RELAY_OK || ev.ev == FCGI_EV_ABORT)
			return RELAY_ECLOSED;
		if (ev.ev == FCGI_EV_STDIN)
			r->pending = ev.data;
		else if (ev.ev == FCGI_EV_STDIN_END) {
			r->stdin_done = 1;
			if (r->in_off == r->in.len) { /* nothing read ahead */
				buf_reset(
				    &r->in); /* a long answer keeps none */
				r->in_off = 0;
			}
		}
	}
	k = r->pending.len < n ? r->pending.len : n;
	if (k > 0)
		memcpy(p, r->pending.p, k);
	r->pending.p += k;
	r->pending.len -= k;
	*got = k;
	return RELAY_OK;
}

enum relay_err
fcgi_lreq_write(struct fcgi_lreq *r, const void *p, size_t n)
{
	const char *s = p;
	size_t k;

	while (n > 0 && !r->broken) {
		k = n < FCGI_MAX_LENGTH ? n : FCGI_MAX_LENGTH;
		if (r->out.len + k + FCGI_HEADER_LEN > r->out.max &&
		    send_out(r) != RELAY_OK)
			break;
		if (fcgi_put_stream(&r->out, FCGI_STDOUT, r->id, s, k) !=
		    RELAY_OK) {
			r->broken = 1;
			break;
		}
		s += k;
		n -= k;
		if (r->out.len - r->out_off >= LREQ_OUT_SOFT &&
		    send_out(r) != RELAY_OK)
			break;
	}
	return r->broken ? RELAY_ECLOSED : RELAY_OK;
}

enum relay_err
fcgi_lreq_flush(struct fcgi_lreq *r)
{
	return send_out(r);
}

struct loop_io *
fcgi_lreq_watch(struct fcgi_lreq *r)
{
	return &r->io;
}

void
fcgi_lreq_abort(struct fcgi_lreq *r)
{
	r->aborted = 1;
	(void)send_out(r); /* what the answer had, now */
}
