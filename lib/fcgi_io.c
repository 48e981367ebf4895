/* SPDX-License-Identifier: MIT */
/* fcgi_io.c - libfcgi's reentrant request API (FCGX_*_r) behind relay_err. */
#include <fcgiapp.h>
#include <string.h>

#include "fcgi_io.h"
#include "mem.h"

struct fcgi_io {
	FCGX_Request req;
	int open; /* a request is accepted and not yet finished */
	int broken; /* a write failed: later writes fail fast */
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

	if (io == NULL)
		return NULL;
	if (FCGX_InitRequest(&io->req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) !=
	    0) {
		mem_free(io);
		return NULL;
	}
	return io;
}

void
fcgi_io_finish(struct fcgi_io *io)
{
	if (!io->open)
		return;
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
