#include "delivery/dns_route.h"

#include <windows.h>
#include <windns.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/win_text.h"
#include "mx_order.h"

/* Wine 8's codes (and Windows'), named for what they mean here. */
#define DNS_NAME_ERROR  9003 /* DNS_ERROR_RCODE_NAME_ERROR: NXDOMAIN, or no MX (Wine) */
#define DNS_NO_RECORDS  9501 /* DNS_INFO_NO_RECORDS: the name exists, no such record */
#define DNS_BAD_PACKET  9502 /* DNS_ERROR_BAD_PACKET: how Wine answers a null MX */
#define DNS_QUERY_FLAGS (DNS_QUERY_STANDARD | DNS_QUERY_BYPASS_CACHE | DNS_QUERY_NO_NETBT)
#define MX_RECORDS_READ 64

typedef struct server_array {
    DWORD count;
    IP4_ADDRESS addresses[DNS_ROUTE_SERVERS_MAX];
} server_array;

void dns_route_servers_from_lines(dns_route_config *config, const char *const *lines, size_t count)
{
    config->server_count = 0;
    for (size_t i = 0; i < count && config->server_count < DNS_ROUTE_SERVERS_MAX; i++) {
        struct in_addr a;
        const char *line = lines[i] + strspn(lines[i], " \t");
        if (*line && *line != '#' && inet_pton(AF_INET, line, &a) == 1) {
            config->servers[config->server_count++] = a.s_addr;
        }
    }
}

/* One query at a time: Wine's DnsQuery_W keeps the resolver's state (the server list
 * among it) in process-wide variables, and delivery threads query at once. */
static INIT_ONCE query_lock_once = INIT_ONCE_STATIC_INIT;
static CRITICAL_SECTION query_lock;

static BOOL CALLBACK query_lock_init(INIT_ONCE *once, void *param, void **context)
{
    (void)once;
    (void)param;
    (void)context;
    InitializeCriticalSection(&query_lock);
    return TRUE;
}

static DNS_STATUS query(const dns_route_config *config, const char *name, WORD type,
                        DNS_RECORDW **records)
{
    wchar_t wide[ROUTE_NAME_MAX + 2];
    *records = NULL;
    if (!win_text_wide_into(name, wide, sizeof(wide) / sizeof(wide[0]))) {
        return ERROR_INVALID_NAME;
    }
    server_array servers;
    servers.count = (DWORD)config->server_count;
    for (size_t i = 0; i < config->server_count; i++) {
        servers.addresses[i] = config->servers[i];
    }
    InitOnceExecuteOnce(&query_lock_once, query_lock_init, NULL, NULL);
    EnterCriticalSection(&query_lock);
    DNS_STATUS st = DnsQuery_W(wide, type, DNS_QUERY_FLAGS,
                               config->server_count ? (PIP4_ARRAY)(void *)&servers : NULL,
                               (PDNS_RECORD *)(void *)records, NULL);
    LeaveCriticalSection(&query_lock);
    return st;
}

static void add_target(dns_route_result *out, const char *host, const struct sockaddr *address,
                       int length)
{
    if (out->count >= DNS_ROUTE_TARGETS_MAX) {
        return;
    }
    dns_route_target *t = &out->targets[out->count];
    for (size_t i = 0; i < out->count; i++) {
        if (out->targets[i].address_length == length &&
            !memcmp(&out->targets[i].address, address, (size_t)length)) {
            return; /* the same address twice (two MX names for one host) is tried once */
        }
    }
    memset(t, 0, sizeof(*t));
    snprintf(t->host, sizeof(t->host), "%s", host);
    memcpy(&t->address, address, (size_t)length);
    t->address_length = length;
    char ip[INET6_ADDRSTRLEN] = "?";
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)address;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        snprintf(t->address_text, sizeof(t->address_text), "%s:%u", ip, ntohs(v4->sin_port));
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)address;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(t->address_text, sizeof(t->address_text), "[%s]:%u", ip, ntohs(v6->sin6_port));
    }
    out->count++;
}

static void add_ipv4(dns_route_result *out, const char *host, const void *address, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    memcpy(&a.sin_addr, address, 4);
    add_target(out, host, (const struct sockaddr *)&a, sizeof(a));
}

static void add_ipv6(dns_route_result *out, const char *host, const void *address, uint16_t port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    memcpy(&a.sin6_addr, address, 16);
    add_target(out, host, (const struct sockaddr *)&a, sizeof(a));
}

typedef enum lookup { LOOKUP_FOUND, LOOKUP_NONE, LOOKUP_FAILED } lookup;

/* The A and AAAA records of name, as targets on port. NONE: the name has neither (both
 * queries said name error or no records); FAILED: a query failed otherwise. */
static lookup add_addresses(const dns_route_config *config, const char *name, uint16_t port,
                            dns_route_result *out, DNS_STATUS *failure)
{
    size_t before = out->count;
    bool failed = false;
    static const WORD types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
    for (int t = 0; t < 2; t++) {
        DNS_RECORDW *records = NULL;
        DNS_STATUS st = query(config, name, types[t], &records);
        if (st == 0) {
            for (DNS_RECORDW *r = records; r; r = r->pNext) {
                if (r->Flags.S.Section != DnsSectionAnswer) {
                    continue;
                }
                if (r->wType == DNS_TYPE_A) {
                    add_ipv4(out, name, &r->Data.A.IpAddress, port);
                } else if (r->wType == DNS_TYPE_AAAA) {
                    add_ipv6(out, name, &r->Data.AAAA.Ip6Address, port);
                }
            }
        } else if (st != DNS_NAME_ERROR && st != DNS_NO_RECORDS) {
            failed = true;
            *failure = st;
        }
        if (records) {
            DnsRecordListFree((PDNS_RECORD)(void *)records, DnsFreeRecordList);
        }
    }
    if (out->count > before) {
        return LOOKUP_FOUND;
    }
    return failed ? LOOKUP_FAILED : LOOKUP_NONE;
}

__attribute__((format(gnu_printf, 4, 5))) static void set_result(dns_route_result *out,
                                                                 dns_route_status status,
                                                                 const char *enhanced,
                                                                 const char *format, ...)
{
    out->status = status;
    snprintf(out->enhanced, sizeof(out->enhanced), "%s", enhanced);
    va_list args;
    va_start(args, format);
    vsnprintf(out->reason, sizeof(out->reason), format, args);
    va_end(args);
}

static uint32_t shuffle_random(void *context)
{
    uint64_t *s = context;
    /* xorshift64*: good enough to spread load over equal MX records. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 2685821657736338717ULL) >> 32);
}

/* MX delivery to `name` on `port` (a domain, or a smart host name without brackets).
 * permanent_answers: a null MX, a loop or a nonexistent name fail the recipient (domains);
 * for a smart host they only make it unusable (temporary). */
static void resolve_mx(const dns_route_config *config, const char *name, uint16_t port,
                       bool permanent_answers, dns_route_result *out)
{
    DNS_RECORDW *records = NULL;
    DNS_STATUS st = query(config, name, DNS_TYPE_MX, &records);
    dns_route_status permanent = permanent_answers ? DNS_ROUTE_PERMANENT : DNS_ROUTE_TEMPORARY;
    if (st == DNS_BAD_PACKET) {
        set_result(out, permanent, permanent_answers ? "5.1.10" : "4.4.3",
                   "the MX answer for %s cannot be read (DNS error %lu), which is how a null MX "
                   "(RFC 7505: the domain accepts no mail) comes back",
                   name, (unsigned long)st);
        return;
    }
    if (st == 0) {
        mx_record mx[MX_RECORDS_READ];
        char names[MX_RECORDS_READ][ROUTE_NAME_MAX + 1];
        size_t n = 0;
        for (DNS_RECORDW *r = records; r && n < MX_RECORDS_READ; r = r->pNext) {
            if (r->wType != DNS_TYPE_MX || r->Flags.S.Section != DnsSectionAnswer) {
                continue;
            }
            if (!r->Data.MX.pNameExchange ||
                !win_text_utf8_into(r->Data.MX.pNameExchange, names[n], sizeof(names[n]))) {
                continue;
            }
            mx[n].preference = r->Data.MX.wPreference;
            mx[n].exchange = names[n];
            n++;
        }
        const char *self[1] = {config->self_name};
        uint64_t seed = GetTickCount64() ^ ((uint64_t)GetCurrentThreadId() << 32) ^ (uintptr_t)out;
        mx_order_result order;
        mx_order(mx, n, self, config->self_name && *config->self_name ? 1 : 0, 0, shuffle_random,
                 &seed, &order);
        if (order.status == MX_ORDER_OK) {
            DNS_STATUS failure = 0;
            bool failed = false;
            for (size_t i = 0; i < order.count; i++) {
                if (add_addresses(config, order.hosts[i].exchange, port, out, &failure) ==
                    LOOKUP_FAILED) {
                    failed = true;
                }
            }
            if (records) {
                DnsRecordListFree((PDNS_RECORD)(void *)records, DnsFreeRecordList);
            }
            if (out->count == 0) {
                set_result(out, DNS_ROUTE_TEMPORARY, "4.4.3",
                           failed ? "no address of a mail exchanger of %s could be looked up "
                                    "(DNS error %lu)"
                                  : "no mail exchanger of %s has an address (%lu)",
                           name, (unsigned long)failure);
            }
            return;
        }
        if (records) {
            DnsRecordListFree((PDNS_RECORD)(void *)records, DnsFreeRecordList);
        }
        if (order.status != MX_ORDER_NO_RECORDS) {
            bool final = order.status == MX_ORDER_NULL_MX || order.status == MX_ORDER_LOOP;
            out->status = final ? permanent : DNS_ROUTE_TEMPORARY;
            snprintf(out->enhanced, sizeof(out->enhanced), "%s",
                     final && !permanent_answers ? "4.4.3" : order.enhanced_status);
            snprintf(out->reason, sizeof(out->reason), "%s: %s", name, order.reason);
            return;
        }
        st = DNS_NO_RECORDS;
    }
    if (st != DNS_NAME_ERROR && st != DNS_NO_RECORDS) {
        set_result(out, DNS_ROUTE_TEMPORARY, "4.4.3",
                   "the MX records of %s could not be looked up (DNS error %lu)", name,
                   (unsigned long)st);
        return;
    }
    /* No MX (or Wine's name error, which may mean the same): the implicit MX, the name's
     * own addresses (RFC 5321 5.1). */
    DNS_STATUS failure = 0;
    lookup found = add_addresses(config, name, port, out, &failure);
    if (found == LOOKUP_FOUND) {
        return;
    }
    if (found == LOOKUP_FAILED) {
        set_result(out, DNS_ROUTE_TEMPORARY, "4.4.3",
                   "%s has no MX records and its addresses could not be looked up "
                   "(DNS error %lu)",
                   name, (unsigned long)failure);
        return;
    }
    set_result(out, permanent, permanent_answers ? "5.1.2" : "4.4.3",
               "%s does not exist in DNS or has neither MX nor address records (DNS error %lu)",
               name, (unsigned long)st);
}

static void resolve_smart_host(const dns_route_config *config, dns_route_result *out)
{
    const route_smarthost *sh = config->smart_host;
    char problems[DNS_ROUTE_REASON_MAX] = "";
    for (size_t i = 0; i < sh->count && out->count < DNS_ROUTE_TARGETS_MAX; i++) {
        const route_host *h = &sh->hosts[i];
        if (h->kind == ROUTE_IPV4) {
            struct in_addr a;
            if (inet_pton(AF_INET, h->name, &a) == 1) {
                add_ipv4(out, h->name, &a, h->port);
            }
            continue;
        }
        if (h->kind == ROUTE_IPV6) {
            struct in6_addr a;
            if (inet_pton(AF_INET6, h->name, &a) == 1) {
                add_ipv6(out, h->name, &a, h->port);
            }
            continue;
        }
        dns_route_result one;
        memset(&one, 0, sizeof(one));
        DNS_STATUS failure = 0;
        if (h->mx_lookup) {
            resolve_mx(config, h->name, h->port, false, &one);
        } else if (add_addresses(config, h->name, h->port, &one, &failure) != LOOKUP_FOUND) {
            snprintf(one.reason, sizeof(one.reason), "smart host %s has no address (DNS %lu)",
                     h->name, (unsigned long)failure);
        }
        for (size_t t = 0; t < one.count; t++) {
            add_target(out, one.targets[t].host, (const struct sockaddr *)&one.targets[t].address,
                       one.targets[t].address_length);
        }
        if (one.count == 0 && problems[0] == '\0') {
            snprintf(problems, sizeof(problems), "%s", one.reason);
        }
    }
    if (out->count == 0) {
        out->status = DNS_ROUTE_TEMPORARY;
        snprintf(out->enhanced, sizeof(out->enhanced), "4.4.3");
        snprintf(out->reason, sizeof(out->reason), "no smart host could be resolved: %s",
                 problems[0] ? problems : "none listed");
    }
}

void dns_route_resolve(const dns_route_config *config, const route_domain *domain,
                       dns_route_result *out)
{
    memset(out, 0, sizeof(*out));
    out->status = DNS_ROUTE_OK;
    if (config->smart_host && config->smart_host->count > 0) {
        resolve_smart_host(config, out);
        return;
    }
    if (domain->kind == ROUTE_IPV4) {
        struct in_addr a;
        if (inet_pton(AF_INET, domain->name, &a) == 1) {
            add_ipv4(out, domain->name, &a, config->delivery_port);
        }
    } else if (domain->kind == ROUTE_IPV6) {
        struct in6_addr a;
        if (inet_pton(AF_INET6, domain->name, &a) == 1) {
            add_ipv6(out, domain->name, &a, config->delivery_port);
        }
    } else {
        resolve_mx(config, domain->name, config->delivery_port, true, out);
        return;
    }
    if (out->count == 0) {
        set_result(out, DNS_ROUTE_PERMANENT, "5.1.2", "the address literal %s is not usable",
                   domain->name);
    }
}

void dns_route_describe(const dns_route_config *config, const route_domain *domain, char *out,
                        size_t out_size)
{
    char servers[DNS_ROUTE_SERVERS_MAX * 18] = "";
    size_t used = 0;
    for (size_t i = 0; i < config->server_count; i++) {
        char ip[INET_ADDRSTRLEN];
        struct in_addr a;
        a.s_addr = config->servers[i];
        inet_ntop(AF_INET, &a, ip, sizeof(ip));
        int n = snprintf(servers + used, sizeof(servers) - used, "%s%s", i ? ", " : "", ip);
        if (n > 0) {
            used += (size_t)n;
        }
    }
    const char *through = config->server_count ? servers : "Windows' own DNS servers";
    if (config->smart_host && config->smart_host->count > 0) {
        char hosts[1024] = "";
        used = 0;
        for (size_t i = 0; i < config->smart_host->count && used < sizeof(hosts); i++) {
            const route_host *h = &config->smart_host->hosts[i];
            bool brackets = !h->mx_lookup;
            int n = snprintf(hosts + used, sizeof(hosts) - used, "%s%s%s%s:%u", i ? ", " : "",
                             brackets ? "[" : "", h->name, brackets ? "]" : "", h->port);
            if (n > 0) {
                used += (size_t)n;
            }
        }
        snprintf(out, out_size, "by smart host, tried in turn: %s (names looked up through %s)",
                 hosts, through);
    } else if (domain->kind != ROUTE_NAME) {
        snprintf(out, out_size, "directly to the address literal %s, port %u", domain->name,
                 config->delivery_port);
    } else {
        snprintf(out, out_size,
                 "by MX lookup of %s (then its A/AAAA records when it has no MX) through %s, "
                 "port %u",
                 domain->name, through, config->delivery_port);
    }
}
