/* SPDX-License-Identifier: MIT */
/* fcgi_io.c - libfcgi's reentrant request API (FCGX_*_r) behind relay_err. */
#include <errno.h>
#include <fastcgi.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fcgi_io.h"
#include "mem.h"

struct fcgi_io {
	FCGX_Request req;
	int listen_fd;
	int open; /* a request is accepted and not yet finished */
	int broken; /* a write failed: later writes fail fast */
	int cut; /* end the request as broken (fcgi_io_cut) */
	int local; /* the listening socket is AF_UNIX: we accept(2) ourselves */
};

enum relay_err
fcgi_io_init(void)
{
	return FCGX_Init() == 0 ? RELAY_OK : RELAY_EIO;
}

struct fcgi_io *
fcgi_io_new(int listen_fd)
{
	struct fcgi_io *io = mem_calloc(1, sizeof(*io));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (io == NULL)
		return NULL;
	if (FCGX_InitRequest(&io->req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) !=
	    0) {
		mem_free(io);
		return NULL;
	}
	io->listen_fd = listen_fd;
	io->local = getsockname(listen_fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family == AF_UNIX;
	return io;
}

/*
 * End the request without FCGI_END_REQUEST, so that the web server aborts
 * the client's response (no final chunk) rather than end it like a whole
 * one. A clean close between records reads as a plain end of stream to
 * Caddy's FastCGI client, so the connection ends inside a record header
 * (one byte of it: a read error on any server) and, on TCP, with a reset
 * (SO_LINGER 0). libfcgi's state is dropped unsent.
 */
static void
finish_cut(struct fcgi_io *io)
{
	static const unsigned char torn = FCGI_VERSION_1;
	struct linger lg = {1, 0};

	if (io->req.ipcFd >= 0) {
		(void)!write(io->req.ipcFd, &torn, 1);
		(void)setsockopt(
		    io->req.ipcFd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	io->req.detached = 1; /* a plain close(2), no drain */
	FCGX_Free(&io->req, 1);
	io->open = 0;
	io->cut = 0;
}

void
fcgi_io_cut(struct fcgi_io *io)
{
	if (!io->open)
		return;
	/* What was sent so far goes out first; nothing after it. */
	if (!io->broken)
		(void)FCGX_FFlush(io->req.out);
	io->broken = 1;
	io->cut = 1;
}

void
fcgi_io_finish(struct fcgi_io *io)
{
	if (!io->open)
		return;
	if (io->cut) {
		finish_cut(io);
		return;
	}
	/*
	 * libfcgi closes with shutdown(SHUT_WR), then waits (up to 2 s) for
	 * the web server to close first: a close(2) with request bytes still
	 * unread makes the peer's next read fail (a TCP RST; ECONNRESET on a
	 * Unix socket too), which can cost it the response. That costs three
	 * system calls and a sleep per request. When the request's stdin was
	 * read to its end nothing is left unread, and a plain close(2) is as
	 * safe ("detached" is what makes libfcgi skip the wait).
	 */
	if (io->req.in != NULL && FCGX_HasSeenEOF(io->req.in) == EOF)
		io->req.detached = 1;
	FCGX_Finish_r(&io->req);
	io->open = 0;
}

void
fcgi_io_free(struct fcgi_io *io)
{
	if (io == NULL)
		return;
	fcgi_io_finish(io);
	mem_free(io);
}

/*
 * accept(2) the next connection ourselves: libfcgi's own accept on a Unix
 * socket then waits in poll(2) for the first bytes (against port scans,
 * which a Unix socket does not have), one more system call per request.
 * -1 when the listening socket was shut down or failed for good.
 */
static int
accept_next(int listen_fd)
{
	int fd;

	for (;;) {
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		switch (errno) {
		case ECONNABORTED:
		case EPROTO:
		case ENETDOWN:
		case ENOPROTOOPT:
		case EHOSTDOWN:
		case ENONET:
		case EHOSTUNREACH:
		case EOPNOTSUPP:
		case ENETUNREACH:
			continue; /* that connection failed, not the socket */
		default: return -1;
		}
	}
}

enum relay_err
fcgi_io_accept(struct fcgi_io *io)
{
	fcgi_io_finish(io);
	io->broken = 0;
	/* With ipcFd open, FCGX_Accept_r reads the request from it; should
	 * that connection turn out bad, libfcgi accepts the next one
	 * itself. Either accept failing (how a shutdown(2) of the listening
	 * socket reaches us) ends the thread. */
	if (io->local && io->req.ipcFd < 0) {
		io->req.ipcFd = accept_next(io->listen_fd);
		if (io->req.ipcFd < 0)
			return RELAY_EIO;
		/* FCGX_Accept_r first finishes "the current request", which
		 * would close this fd; the begin record then sets the flag
		 * from what the web server asked for. */
		io->req.keepConnection = 1;
	}
	if (FCGX_Accept_r(&io->req) < 0)
		return RELAY_EIO;
	io->open = 1;
	return RELAY_OK;
}

const char *
fcgi_io_param(struct fcgi_io *io, const char *name)
{
	return FCGX_GetParam(name, io->req.envp);
}

const char *
fcgi_io_param_at(struct fcgi_io *io, size_t i)
{
	size_t k;

	if (io->req.envp == NULL)
		return NULL;
	for (k = 0; k < i; k++)
		if (io->req.envp[k] == NULL)
			return NULL;
	return io->req.envp[i];
}

int
fcgi_io_fd(struct fcgi_io *io)
{
	return io->req.ipcFd;
}

enum relay_err
fcgi_io_read(struct fcgi_io *io, char *p, size_t n, size_t *got)
{
	int r;

	*got = 0;
	if (io->cut)
		return RELAY_ECLOSED;
	if (n > 1u << 30)
		n = 1u << 30;
	r = FCGX_GetStr(p, (int)n, io->req.in);
	if (r < 0 || (r == 0 && FCGX_GetError(io->req.in) != 0))
		return RELAY_ECLOSED;
	*got = (size_t)r;
	return RELAY_OK;
}

enum relay_err
fcgi_io_write(struct fcgi_io *io, const void *p, size_t n)
{
	while (n > 0 && !io->broken) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n;

		if (FCGX_PutStr(p, chunk, io->req.out) != chunk) {
			io->broken = 1;
			break;
		}
		p = (const char *)p + chunk;
		n -= (size_t)chunk;
	}
	return io->broken ? RELAY_ECLOSED : RELAY_OK;
}

enum relay_err
fcgi_io_flush(struct fcgi_io *io)
{
	if (!io->broken && FCGX_FFlush(io->req.out) != 0)
		io->broken = 1;
	return io->broken ? RELAY_ECLOSED : RELAY_OK;
}
