/* Where one delivery attempt goes, decided at the attempt (so a configuration change applies
 * to mail already queued): the smart hosts in turn, or the recipient domain's mail
 * exchangers (RFC 5321 5.1) found with DnsQuery_W, each turned into addresses.
 *
 * DNS answers as Wine 8 gives them (docs: /work/shared/wine-notes.md, 2026-11-30):
 *   - 9003 (name error) comes both for "no such domain" and for "the name exists but has no
 *     MX": the domain's own A/AAAA records decide; only when they are missing too is the
 *     domain taken as nonexistent (permanent, 5.1.2).
 *   - 9502 (bad packet) is what a null MX (RFC 7505, "0 .") gives: permanent, 5.1.10.
 *   - 9002 (server failure), a timeout, or any other error: temporary (4.4.3); no mail is
 *     ever bounced because a DNS server failed to answer.
 * Every query bypasses the cache and NetBIOS (DNS_QUERY_NO_NETBT: without it an A lookup
 * may fall back to NetBIOS and return 123), and goes to DnsServers when that is set. */
#ifndef IMSRELAY_DNS_ROUTE_H
#define IMSRELAY_DNS_ROUTE_H

#include <winsock2.h>
#include <ws2tcpip.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "route.h"

#define DNS_ROUTE_TARGETS_MAX  16 /* addresses tried in one attempt at most */
#define DNS_ROUTE_SERVERS_MAX  8
#define DNS_ROUTE_REASON_MAX   300
#define DNS_ROUTE_ADDRESS_TEXT 64

typedef struct dns_route_target {
    char host[ROUTE_NAME_MAX + 1]; /* the name it was found under (MX or smart host) */
    struct sockaddr_storage address;
    int address_length;
    char address_text[DNS_ROUTE_ADDRESS_TEXT]; /* "192.0.2.1:25" */
} dns_route_target;

typedef enum dns_route_status {
    DNS_ROUTE_OK,        /* try targets[0..count) in order */
    DNS_ROUTE_TEMPORARY, /* defer: the reason and enhanced status say why */
    DNS_ROUTE_PERMANENT, /* fail the recipient: 5.1.2, 5.1.10, 5.4.6 */
} dns_route_status;

typedef struct dns_route_result {
    dns_route_status status;
    char enhanced[12]; /* "4.4.3", "5.1.10", ...; "" when OK */
    char reason[DNS_ROUTE_REASON_MAX];
    size_t count;
    dns_route_target targets[DNS_ROUTE_TARGETS_MAX];
} dns_route_result;

typedef struct dns_route_config {
    const route_smarthost *smart_host;       /* count 0: MX delivery */
    uint32_t servers[DNS_ROUTE_SERVERS_MAX]; /* IPv4, network order; none: Windows' own */
    size_t server_count;
    uint16_t delivery_port;
    const char *self_name; /* SmtpHostName: an MX naming it is a loop */
} dns_route_config;

/* Fills config->servers from the DnsServers lines (invalid lines were reported by the
 * configuration; they are skipped here). */
void dns_route_servers_from_lines(dns_route_config *config, const char *const *lines, size_t count);

/* The route for mail to `domain` (from route_recipient_domain). `random` shuffles MX
 * records of equal preference. Blocking: DNS queries happen here. */
void dns_route_resolve(const dns_route_config *config, const route_domain *domain,
                       dns_route_result *out);

/* One line for `imsrelay explain`: "smart host [127.0.0.1]:2525" or "MX lookup of
 * example.com through DNS servers 127.0.0.53 (Windows' own when none)". */
void dns_route_describe(const dns_route_config *config, const route_domain *domain, char *out,
                        size_t out_size);

#endif
