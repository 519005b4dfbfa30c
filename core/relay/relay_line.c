#include "relay_line.h"

#include <stdio.h>
#include <string.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Narrows [*b, *e) to exclude surrounding blanks. */
static void trim(const char *s, size_t *b, size_t *e)
{
    while (*b < *e && is_blank(s[*b])) {
        (*b)++;
    }
    while (*e > *b && is_blank(s[*e - 1])) {
        (*e)--;
    }
}

/* A part must be one token: "10.0.0.1 # mail hub" is an error, not a silent comment. */
static bool has_inner_blank(const char *s, size_t b, size_t e, const char *what, char *why,
                            size_t why_size)
{
    for (size_t i = b; i < e; i++) {
        if (is_blank(s[i])) {
            size_t rest = i;
            while (rest < e && is_blank(s[rest])) {
                rest++;
            }
            snprintf(why, why_size, "unexpected text after the %s %.*s: %.*s", what, (int)(i - b),
                     s + b, (int)(e - rest), s + rest);
            return true;
        }
    }
    return false;
}

static int prefix_of(const relay_addr *mask)
{
    int bytes = mask->family == RELAY_AF_INET4 ? 4 : 16;
    int ones = 0;
    int i = 0;
    while (i < bytes && mask->bytes[i] == 0xff) {
        ones += 8;
        i++;
    }
    if (i < bytes) {
        uint8_t b = mask->bytes[i];
        while (b & 0x80) {
            ones++;
            b = (uint8_t)(b << 1);
        }
        if (b != 0) {
            return -1;
        }
        for (i++; i < bytes; i++) {
            if (mask->bytes[i] != 0) {
                return -1;
            }
        }
    }
    return ones;
}

static relay_addr mask_of_prefix(uint8_t family, int prefix)
{
    relay_addr m;
    memset(&m, 0, sizeof(m));
    m.family = family;
    for (int i = 0; i < prefix / 8; i++) {
        m.bytes[i] = 0xff;
    }
    if (prefix % 8) {
        m.bytes[prefix / 8] = (uint8_t)(0xff << (8 - prefix % 8));
    }
    return m;
}

static const char *family_name(uint8_t family)
{
    return family == RELAY_AF_INET4 ? "IPv4" : "IPv6";
}

/* ::ffff:a.b.c.d with a mask covering the first 96 bits is the IPv4 rule it spells. */
static void unmap(relay_rule *rule)
{
    static const uint8_t ones[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (!relay_addr_is_v4_mapped(&rule->net) || memcmp(rule->mask.bytes, ones, 12) != 0) {
        return;
    }
    rule->net = relay_addr_normalized(&rule->net);
    relay_addr m;
    memset(&m, 0, sizeof(m));
    m.family = RELAY_AF_INET4;
    memcpy(m.bytes, rule->mask.bytes + 12, 4);
    rule->mask = m;
    if (rule->prefix >= 0) {
        rule->prefix -= 96;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A dotted quad written canonically (no leading zeros), at *p; advances *p past it. */
static bool parse_plain_quad(const char **p, uint32_t *out)
{
    const char *c = *p;
    uint32_t quad = 0;
    for (int octet = 0; octet < 4; octet++) {
        if (octet > 0) {
            if (*c != '.') {
                return false;
            }
            c++;
        }
        if (!is_digit(*c)) {
            return false;
        }
        unsigned value = (unsigned)(*c++ - '0');
        if (value != 0) {
            for (int more = 0; more < 2 && is_digit(*c); more++) {
                value = value * 10 + (unsigned)(*c++ - '0');
            }
        }
        if (value > 255 || is_digit(*c)) {
            return false;
        }
        quad = quad << 8 | value;
    }
    *p = c;
    *out = quad;
    return true;
}

/* The lines a big list is made of, a.b.c.d, a.b.c.d/n and a.b.c.d;m.m.m.m written
 * canonically (no blanks, no leading zeros, net inside its mask), read in one pass.
 * Anything else returns false and goes the general way, which words the reasons; a line
 * taken here reads exactly as the general way would read it. */
static bool parse_plain_v4(const char *line, relay_rule *rule)
{
    const char *p = line;
    uint32_t net = 0, mask = UINT32_MAX;
    if (!parse_plain_quad(&p, &net)) {
        return false;
    }
    int prefix = 32;
    if (*p == '/') {
        p++;
        if (!is_digit(*p)) {
            return false;
        }
        prefix = *p++ - '0';
        if (prefix != 0 && is_digit(*p)) {
            prefix = prefix * 10 + (*p++ - '0');
        }
        if (prefix > 32 || is_digit(*p)) {
            return false;
        }
        mask = prefix ? UINT32_MAX << (32 - prefix) : 0;
    } else if (*p == ';') {
        p++;
        if (!parse_plain_quad(&p, &mask)) {
            return false;
        }
        /* Contiguous: the inverted mask is all ones from some bit down. */
        uint32_t host = ~mask;
        if ((host & (host + 1)) != 0) {
            prefix = -1;
        } else {
            prefix = 32;
            while (host) {
                host >>= 1;
                prefix--;
            }
        }
    }
    if (*p != '\0' || (net & ~mask) != 0) {
        return false;
    }
    memset(rule, 0, sizeof(*rule));
    /* Only the family and the four bytes of each address. */
    rule->net.family = rule->mask.family = RELAY_AF_INET4;
    for (int i = 0; i < 4; i++) {
        rule->net.bytes[i] = (uint8_t)(net >> (24 - 8 * i));
        rule->mask.bytes[i] = (uint8_t)(mask >> (24 - 8 * i));
    }
    rule->prefix = prefix;
    return true;
}

relay_line_kind relay_line_parse(const char *line, relay_rule *rule, char *why, size_t why_size)
{
    if (why != NULL && why_size > 0) {
        why[0] = '\0';
    }
    if (parse_plain_v4(line, rule)) {
        return RELAY_LINE_RULE;
    }
    char local_why[8];
    if (why == NULL || why_size == 0) {
        why = local_why;
        why_size = sizeof(local_why);
    }
    why[0] = '\0';
    memset(rule, 0, sizeof(*rule));

    size_t len = 0;
    while (len <= RELAY_LINE_MAX && line[len] != '\0') {
        len++;
    }
    if (len > RELAY_LINE_MAX) {
        snprintf(why, why_size, "the line is longer than %d characters", RELAY_LINE_MAX);
        return RELAY_LINE_INVALID;
    }
    size_t b = 0, e = len;
    trim(line, &b, &e);
    if (b == e) {
        return RELAY_LINE_BLANK;
    }
    if (line[b] == '#') {
        return RELAY_LINE_COMMENT;
    }

    size_t sep = b;
    while (sep < e && line[sep] != ';' && line[sep] != '/') {
        sep++;
    }
    size_t nb = b, ne = sep;
    trim(line, &nb, &ne);
    if (nb == ne) {
        snprintf(why, why_size, "no network address before '%c'", line[sep]);
        return RELAY_LINE_INVALID;
    }
    if (has_inner_blank(line, nb, ne, "address", why, why_size)) {
        return RELAY_LINE_INVALID;
    }
    if (!relay_addr_parse_span(line + nb, ne - nb, &rule->net, why, why_size)) {
        return RELAY_LINE_INVALID;
    }
    uint8_t family = rule->net.family;
    int max_prefix = family == RELAY_AF_INET4 ? 32 : 128;

    if (sep == e) {
        rule->mask = mask_of_prefix(family, max_prefix);
    } else {
        char kind = line[sep];
        const char *what = kind == ';' ? "mask" : "prefix length";
        size_t mb = sep + 1, me = e;
        for (size_t i = mb; i < me; i++) {
            if (line[i] == ';' || line[i] == '/') {
                snprintf(why, why_size,
                         "more than one ';' or '/' (a line is net;mask or "
                         "net/prefix)");
                return RELAY_LINE_INVALID;
            }
        }
        trim(line, &mb, &me);
        if (mb == me) {
            snprintf(why, why_size, "no %s after '%c'", what, kind);
            return RELAY_LINE_INVALID;
        }
        if (has_inner_blank(line, mb, me, what, why, why_size)) {
            return RELAY_LINE_INVALID;
        }
        if (kind == ';') {
            char sub[200];
            if (!relay_addr_parse_span(line + mb, me - mb, &rule->mask, sub, sizeof(sub))) {
                snprintf(why, why_size, "bad mask: %s", sub);
                return RELAY_LINE_INVALID;
            }
            if (rule->mask.family != family) {
                snprintf(why, why_size, "the mask %.*s is %s but the network %.*s is %s",
                         (int)(me - mb), line + mb, family_name(rule->mask.family), (int)(ne - nb),
                         line + nb, family_name(family));
                return RELAY_LINE_INVALID;
            }
        } else {
            int prefix = 0;
            for (size_t i = mb; i < me; i++) {
                if (line[i] < '0' || line[i] > '9' || i - mb >= 3) {
                    snprintf(why, why_size, "the prefix length /%.*s is not a number from 0 to %d",
                             (int)(me - mb), line + mb, max_prefix);
                    return RELAY_LINE_INVALID;
                }
                prefix = prefix * 10 + (line[i] - '0');
            }
            if (prefix > max_prefix) {
                snprintf(why, why_size,
                         "the prefix length /%d is too long for an %s network (at most %d)", prefix,
                         family_name(family), max_prefix);
                return RELAY_LINE_INVALID;
            }
            rule->mask = mask_of_prefix(family, prefix);
        }
    }
    rule->prefix = prefix_of(&rule->mask);
    unmap(rule);

    int bytes = rule->net.family == RELAY_AF_INET4 ? 4 : 16;
    for (int i = 0; i < bytes; i++) {
        if (rule->net.bytes[i] & ~rule->mask.bytes[i]) {
            rule->never_matches = true;
        }
    }
    if (rule->never_matches) {
        relay_rule fixed = *rule;
        for (int i = 0; i < bytes; i++) {
            fixed.net.bytes[i] &= rule->mask.bytes[i];
        }
        char net[RELAY_ADDR_TEXT_MAX], mask[RELAY_ADDR_TEXT_MAX],
                suggestion[2 * RELAY_ADDR_TEXT_MAX];
        relay_addr_format(&rule->net, net, sizeof(net));
        relay_addr_format(&rule->mask, mask, sizeof(mask));
        relay_rule_format(&fixed, suggestion, sizeof(suggestion));
        snprintf(why, why_size, "never matches: %s has bits outside the mask %s (did you mean %s?)",
                 net, mask, suggestion);
    }
    return RELAY_LINE_RULE;
}

bool relay_rule_matches(const relay_rule *rule, const relay_addr *address)
{
    if (address->family != rule->net.family) {
        return false;
    }
    int bytes = rule->net.family == RELAY_AF_INET4 ? 4 : 16;
    for (int i = 0; i < bytes; i++) {
        if ((address->bytes[i] & rule->mask.bytes[i]) != rule->net.bytes[i]) {
            return false;
        }
    }
    return true;
}

size_t relay_rule_format(const relay_rule *rule, char *buf, size_t size)
{
    char net[RELAY_ADDR_TEXT_MAX], mask[RELAY_ADDR_TEXT_MAX];
    relay_addr_format(&rule->net, net, sizeof(net));
    int n;
    if (rule->prefix >= 0) {
        n = snprintf(buf, size, "%s/%d", net, rule->prefix);
    } else {
        relay_addr_format(&rule->mask, mask, sizeof(mask));
        n = snprintf(buf, size, "%s;%s", net, mask);
    }
    return n < 0 ? 0 : (size_t)n;
}
