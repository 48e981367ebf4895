/* SPDX-License-Identifier: MIT */
/* fcgi_io.c - libfcgi's reentrant request API (FCGX_*_r) behind relay_err. */
#include <fcgiapp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "fcgi_io.h"
#include "mem.h"

struct fcgi_io {
	FCGX_Request req;
	int open; /* a request is accepted and not yet finished */
	int broken; /* a write failed: later writes fail fast */
	int local; /* the listening socket is AF_UNIX */
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
	io->local = getsockname(listen_fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family == AF_UNIX;
	return io;
}

void
fcgi_io_finish(struct fcgi_io *io)
{
	if (!io->open)
		return;
	/*
	 * libfcgi closes with shutdown(SHUT_WR), then waits (up to 2 s) for
	 * the web server to close first, so that a TCP RST cannot destroy
	 * response bytes still in flight. That costs three system calls and a
	 * sleep per request. No RST can come from a Unix socket, nor from a
	 * TCP one whose request body was read to its end: there a plain
	 * close(2) is as safe ("detached" is what makes libfcgi skip it).
	 */
	if (io->local ||
	    (io->req.in != NULL && FCGX_HasSeenEOF(io->req.in) == EOF))
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

enum relay_err
fcgi_io_accept(struct fcgi_io *io)
{
	fcgi_io_finish(io);
	io->broken = 0;
	/* FCGX_Accept_r returns < 0 when accept(2) fails, which is how a
	 * shutdown(2) of the listening socket reaches us. */
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
