/* Where mail for a recipient goes: the SmartHost value, and the recipient's domain.
 *
 * SmartHost is a comma-separated list, tried in order, of
 *   host            MX lookup of host, then its A/AAAA records (Postfix's relayhost rule)
 *   host:port
 *   [host]          no MX lookup: the A/AAAA records of host
 *   [192.0.2.1]     an IPv4 address; [2001:db8::1] an IPv6 address (no DNS at all)
 *   [address]:port
 * Spaces around entries are ignored; the port defaults to 25. An empty value means no smart
 * host: each recipient's domain is routed by its own MX records. Errors name the character
 * where the problem is, e.g. "at character 17: port 0 is out of range (1 to 65535)". */
#ifndef IMSRELAY_DELIVERY_ROUTE_H
#define IMSRELAY_DELIVERY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay_addr.h"

#define ROUTE_HOSTS_MAX    16
#define ROUTE_NAME_MAX     253 /* longest DNS name, without the trailing dot */
#define ROUTE_TEXT_MAX     4096
#define ROUTE_DEFAULT_PORT 25
#define ROUTE_ERROR_MAX    200

typedef enum route_kind {
    ROUTE_NAME, /* a DNS host name */
    ROUTE_IPV4, /* an address literal */
    ROUTE_IPV6,
} route_kind;

typedef struct route_host {
    route_kind kind;
    bool mx_lookup;                /* a bare name: look up its MX records first */
    uint16_t port;                 /* 1..65535 */
    bool port_given;               /* written in the value (else the default, 25) */
    char name[ROUTE_NAME_MAX + 1]; /* lowercase name without a trailing dot, or the
                                      address in canonical text (no brackets) */
    relay_addr address;            /* literals only */
} route_host;

typedef struct route_smarthost {
    size_t count; /* 0: no smart host */
    route_host hosts[ROUTE_HOSTS_MAX];
} route_smarthost;

/* Parses a SmartHost value. false on a bad value, with *out unspecified and the reason in
 * error; the service then holds relayed mail in the queue rather than guess a route. */
bool route_smarthost_parse(const char *text, route_smarthost *out, char *error, size_t error_size);

/* NULL when name[0..len) is a host name (RFC 1123 letters, digits and hyphens in labels of
 * 1..63 bytes, at most 253 bytes, one trailing dot allowed, a top label that is not all
 * digits), else the reason, e.g. "has a label that begins or ends with a hyphen". */
const char *route_host_name_problem(const char *name, size_t len);

typedef struct route_domain {
    route_kind kind;
    char name[ROUTE_NAME_MAX + 1]; /* lowercase, no trailing dot; literal: canonical text */
    relay_addr address;            /* literals only */
} route_domain;

/* The domain of a recipient address (without angle brackets): after the last '@',
 * lowercased, "[192.0.2.1]" and "[IPv6:2001:db8::1]" recognised as address literals.
 * false with the reason when there is no usable domain. */
bool route_recipient_domain(const char *address, route_domain *out, char *error, size_t error_size);

#endif
