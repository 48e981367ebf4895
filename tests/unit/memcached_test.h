/* SPDX-License-Identifier: MIT */
/* memcached_test.h - for unit tests that need a real memcached: start one
 * on a free loopback port, stop it. Included by one test file each. */
#ifndef RELAY_MEMCACHED_TEST_H
#define RELAY_MEMCACHED_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/compiler.h"

#define MEMCACHED_BIN "/usr/bin/memcached"

static pid_t mc_pid = -1; /* -1: none running (cases then skip) */
static char mc_addr[64]; /* "127.0.0.1:port" */
static int mc_port;

/* A loopback port nobody listens on right now. */
static int
free_port(void)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int
can_connect(int port)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static double RELAY_UNUSED
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 0 when memcached runs at mc_addr, or is not installed (mc_pid -1);
 * -1 when it would not start. */
static int
memcached_start(void)
{
	char portstr[16];
	int i;

	if (access(MEMCACHED_BIN, X_OK) != 0)
		return 0;
	mc_port = free_port();
	if (mc_port < 0)
		return -1;
	snprintf(portstr, sizeof(portstr), "%d", mc_port);
	snprintf(mc_addr, sizeof(mc_addr), "127.0.0.1:%d", mc_port);
	mc_pid = fork();
	if (mc_pid < 0)
		return -1;
	if (mc_pid == 0) {
		execl(MEMCACHED_BIN, "memcached", "-u", "root", "-l",
		    "127.0.0.1", "-p", portstr, "-U", "0", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && !can_connect(mc_port); i++)
		usleep(10000);
	return can_connect(mc_port) ? 0 : -1;
}

static void
memcached_stop(void)
{
	if (mc_pid > 0) {
		kill(mc_pid, SIGKILL); /* its graceful exit takes a second */
		waitpid(mc_pid, NULL, 0);
		mc_pid = -1;
	}
}

/* cmocka group fixtures: one memcached for the group's cases. */
static int RELAY_UNUSED
mc_start(void **state)
{
	(void)state;
	return memcached_start();
}

static int RELAY_UNUSED
mc_stop(void **state)
{
	(void)state;
	memcached_stop();
	return 0;
}

#endif
