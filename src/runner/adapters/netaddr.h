/*-------------------------------------------------------------------------
 * adapters/netaddr.h
 *	  Which addresses the http adapter refuses to connect to unless a
 *	  superuser allowed them (paperclip.http_allow_private_networks, or the
 *	  host named in paperclip.allowed_http_hosts): the server's own machine
 *	  and networks. No libcurl here: the unit tests use it too.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_NETADDR_H
#define PAPERCLIP_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* longest text http_address_text writes, its NUL included */
#define HTTP_ADDRESS_TEXT_MAX 64

/*
 * The class of a special address ("loopback", "link-local", "private", ...),
 * or NULL for an ordinary public one. IPv4 addresses inside IPv6 ones
 * (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4
 * 2002::/16) are judged as the IPv4 address they carry. Anything that is
 * not an IPv4 or IPv6 address is "not an IP address".
 */
extern const char *http_address_class(const struct sockaddr *sa, size_t len);

/* The address as text (no port), in buf of HTTP_ADDRESS_TEXT_MAX bytes. */
extern void http_address_text(const struct sockaddr *sa, size_t len, char *buf);

#endif
