/* SPDX-License-Identifier: MIT */
/* fuzz_cidr.c - libFuzzer target for keys_parse_cidr() and keys_ip_allowed():
 * never a crash; an accepted block matches its own address and every
 * address that shares its prefix, and no address outside the prefix. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../lib/keys.h"

/* The textual address part of s (before the slash) into out. */
static void
addr_part(const char *s, char *out, size_t outsz)
{
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);

	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* ::ffff:a.b.c.d, which keys_ip_allowed() treats as the IPv4 client. */
static int
v4_mapped(const struct keys_cidr *c)
{
	return c->family == AF_INET6 &&
	    memcmp(c->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0;
}

static int
allowed(const struct keys_cidr *c, const unsigned char *addr)
{
	struct vkey k;
	struct keys_cidr copy = *c;
	char text[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, addr, text, sizeof(text)) == NULL)
		abort();
	memset(&k, 0, sizeof(k));
	k.ips = &copy;
	k.nips = 1;
	return keys_ip_allowed(&k, text);
}

/* Flip one bit inside and one bit outside the prefix. */
static void
check_prefix(const struct keys_cidr *c, const uint8_t *data, size_t size)
{
	int len = c->family == AF_INET ? 32 : 128, bit;
	unsigned char a[16];

	if (size == 0)
		return;
	if (c->bits < len) { /* a host bit: still inside */
		bit = c->bits + data[0] % (len - c->bits);
		memcpy(a, c->addr, sizeof(a));
		a[bit / 8] ^= (unsigned char)(0x80 >> (bit % 8));
		if (!allowed(c, a))
			abort();
	}
	if (c->bits > 0) { /* a network bit: outside */
		bit = data[size - 1] % c->bits;
		memcpy(a, c->addr, sizeof(a));
		a[bit / 8] ^= (unsigned char)(0x80 >> (bit % 8));
		/* Leaving or entering ::ffff:0:0/96 changes the family the
		 * client is compared as; skip those. */
		if (c->family == AF_INET6 && bit < 96)
			return;
		if (allowed(c, a))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[300], addr[300];
	struct keys_cidr c, fixed[3];
	struct vkey k;
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	memcpy(s, data, n);
	s[n] = '\0';

	/* The input as a client address against fixed blocks: no crash. */
	if (keys_parse_cidr("10.0.0.0/8", &fixed[0]) != RELAY_OK ||
	    keys_parse_cidr("2001:db8::/32", &fixed[1]) != RELAY_OK ||
	    keys_parse_cidr("0.0.0.0/0", &fixed[2]) != RELAY_OK)
		abort();
	memset(&k, 0, sizeof(k));
	k.ips = fixed;
	k.nips = 3;
	(void)keys_ip_allowed(&k, s);

	if (keys_parse_cidr(s, &c) != RELAY_OK)
		return 0;
	if ((c.family != AF_INET && c.family != AF_INET6) || c.bits < 0 ||
	    c.bits > (c.family == AF_INET ? 32 : 128))
		abort();
	/* KNOWN BUG (reported): a v4-mapped IPv6 block parses but can
	 * never match, because clients in ::ffff:0:0/96 are compared as
	 * IPv4. Skip it so the rest keeps being explored. */
	if (v4_mapped(&c))
		return 0;
	addr_part(s, addr, sizeof(addr));
	k.ips = &c;
	k.nips = 1;
	if (!keys_ip_allowed(&k, addr))
		abort();
	check_prefix(&c, data, size);
	return 0;
}
