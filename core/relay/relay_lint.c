#include "relay_lint.h"

#include <string.h>

typedef struct wide_range {
    const char *text; /* as the warning names it */
    const char *what;
    relay_addr net;
    relay_addr mask;
} wide_range;

static relay_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return relay_addr_v4(a, b, c, d);
}

static relay_addr v6_prefix(uint8_t first, uint8_t second)
{
    relay_addr a;
    memset(&a, 0, sizeof(a));
    a.family = RELAY_AF_INET6;
    a.bytes[0] = first;
    a.bytes[1] = second;
    return a;
}

/* Ranges whose addresses a NAT gateway or a proxy may give to every connection it passes
 * on: RFC 1918 private networks, RFC 6598 shared address space, IPv6 unique local
 * addresses. */
static size_t wide_ranges(wide_range *out)
{
    size_t n = 0;
    out[n++] = (wide_range){"10.0.0.0/8", "private range", v4(10, 0, 0, 0), v4(255, 0, 0, 0)};
    out[n++] =
            (wide_range){"172.16.0.0/12", "private range", v4(172, 16, 0, 0), v4(255, 240, 0, 0)};
    out[n++] =
            (wide_range){"192.168.0.0/16", "private range", v4(192, 168, 0, 0), v4(255, 255, 0, 0)};
    out[n++] = (wide_range){"100.64.0.0/10", "shared (carrier-grade NAT) range", v4(100, 64, 0, 0),
                            v4(255, 192, 0, 0)};
    out[n++] =
            (wide_range){"fc00::/7", "unique local range", v6_prefix(0xfc, 0), v6_prefix(0xfe, 0)};
    return n;
}

static size_t family_bytes(const relay_addr *a)
{
    return a->family == RELAY_AF_INET4 ? 4 : 16;
}

/* Every address of range matches rule: the rule's mask tests no bit the range leaves free,
 * and the range's net agrees with the rule's net on the bits the rule tests. */
static bool rule_covers(const relay_rule *rule, const relay_addr *net, const relay_addr *mask)
{
    if (rule->net.family != net->family || rule->never_matches) {
        return false;
    }
    for (size_t i = 0; i < family_bytes(net); i++) {
        if ((rule->mask.bytes[i] & (uint8_t)~mask->bytes[i]) != 0) {
            return false;
        }
        if ((net->bytes[i] & rule->mask.bytes[i]) != rule->net.bytes[i]) {
            return false;
        }
    }
    return true;
}

static bool mask_is_zero(const relay_rule *rule)
{
    for (size_t i = 0; i < family_bytes(&rule->mask); i++) {
        if (rule->mask.bytes[i]) {
            return false;
        }
    }
    return true;
}

size_t relay_policy_lint(const relay_policy *policy, regio_diag_list *diags)
{
    if (!(relay_policy_flags(policy) & RELAY_BIT2_ALLOW_LIST) || relay_policy_fail_closed(policy)) {
        return 0;
    }
    const relay_list *allow = relay_policy_list(policy, RELAY_ALLOW_LIST);
    wide_range ranges[8];
    size_t range_count = wide_ranges(ranges);
    size_t warnings = 0;
    for (size_t i = 0; i < relay_list_count(allow); i++) {
        const relay_entry *e = relay_list_entry(allow, i);
        if (mask_is_zero(&e->rule) && !e->rule.never_matches) {
            regio_diag_add_code(diags, REGIO_DIAG_ALLOW_EVERY_ADDRESS, REGIO_SEV_WARNING,
                                relay_list_name(allow), e->line, e->text,
                                "allows every %s client to relay: this server is an open relay",
                                e->rule.net.family == RELAY_AF_INET4 ? "IPv4" : "IPv6");
            warnings++;
            continue;
        }
        for (size_t r = 0; r < range_count; r++) {
            if (rule_covers(&e->rule, &ranges[r].net, &ranges[r].mask)) {
                regio_diag_add_code(
                        diags, REGIO_DIAG_ALLOW_PRIVATE_RANGE, REGIO_SEV_WARNING,
                        relay_list_name(allow), e->line, e->text,
                        "allows the whole %s %s to relay: behind NAT or a proxy every "
                        "connection may come from such an address, which makes this "
                        "server an open relay; list the hosts that need to relay instead",
                        ranges[r].what, ranges[r].text);
                warnings++;
                break;
            }
        }
    }
    return warnings;
}
