/*-------------------------------------------------------------------------
 * adapters/netaddr.c
 *	  The classes of addresses the http adapter does not connect to by
 *	  default: what reaches the server's own machine (loopback, unspecified),
 *	  its link (link-local, where cloud metadata services answer with
 *	  credentials), its private networks (RFC 1918, CGNAT, unique local) and
 *	  multicast or broadcast. Judged on the address libcurl is about to
 *	  connect to, so a name that resolves there, or is rebound there, is
 *	  caught as well as a literal address.
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"

/* An IPv4 address in host order. */
static const char *
ipv4_class(uint32_t a)
{
	if ((a >> 24) == 0)
		return "unspecified";	/* 0.0.0.0/8: "this host" */
	if ((a >> 24) == 127)
		return "loopback";
	if ((a >> 16) == 0xA9FE)
		return "link-local";	/* 169.254.0.0/16: cloud metadata */
	if ((a >> 24) == 10 || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8)
		return "private";		/* 10/8, 172.16/12, 192.168/16 */
	if ((a >> 22) == (0x64400000u >> 22))
		return "private (shared address space)";	/* 100.64.0.0/10, CGNAT */
	if ((a >> 28) == 0xE)
		return "multicast";		/* 224.0.0.0/4 */
	if (a == 0xFFFFFFFFu)
		return "broadcast";
	if ((a >> 28) == 0xF)
		return "reserved";		/* 240.0.0.0/4 */
	return NULL;
}

static uint32_t
ipv4_at(const unsigned char *b)
{
	return ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) | ((uint32_t) b[2] << 8) | b[3];
}

static const char *
ipv6_class(const unsigned char *b)
{
	static const unsigned char zero[12] = {0};
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	static const unsigned char nat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};

	if (memcmp(b, zero, 12) == 0)
	{
		uint32_t	v4 = ipv4_at(b + 12);

		if (v4 == 0)
			return "unspecified";	/* :: */
		if (v4 == 1)
			return "loopback";	/* ::1 */
		return ipv4_class(v4);	/* ::a.b.c.d, IPv4-compatible */
	}
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return ipv4_class(ipv4_at(b + 12));
	if (b[0] == 0x20 && b[1] == 0x02)
		return ipv4_class(ipv4_at(b + 2));	/* 6to4 */
	if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80)
		return "link-local";	/* fe80::/10 */
	if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0)
		return "site-local";	/* fec0::/10, deprecated */
	if ((b[0] & 0xFE) == 0xFC)
		return "private";		/* fc00::/7, unique local */
	if (b[0] == 0xFF)
		return "multicast";
	return NULL;
}

const char *
http_address_class(const struct sockaddr *sa, size_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return ipv4_class(ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return ipv6_class(((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr);
	return "not an IP address";
}

void
http_address_text(const struct sockaddr *sa, size_t len, char *buf)
{
	const char *done = NULL;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		done = inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
						 buf, HTTP_ADDRESS_TEXT_MAX);
	else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		done = inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr,
						 buf, HTTP_ADDRESS_TEXT_MAX);
	if (done == NULL)
		snprintf(buf, HTTP_ADDRESS_TEXT_MAX, "(address family %d)", (int) sa->sa_family);
}
