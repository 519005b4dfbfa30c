#include "relay_addr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Addresses quoted in reasons are cut at this length so a reason always fits a diagnostic. */
#define QUOTE_MAX 80

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static bool
fail(char *why, size_t why_size, const char *text, size_t len, const char *fmt, ...)
{
    if (why_size == 0) {
        return false;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < why_size) {
        int shown = len > QUOTE_MAX ? QUOTE_MAX : (int)len;
        snprintf(why + n, why_size - (size_t)n, ": %.*s%s", shown, text,
                 len > QUOTE_MAX ? "..." : "");
    }
    return false;
}

/* A character as a reader should see it in a reason: printable as itself, else as hex. */
static const char *char_name(char c, char buf[8])
{
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u < 0x7f) {
        snprintf(buf, 8, "'%c'", c);
    } else {
        snprintf(buf, 8, "0x%02x", u);
    }
    return buf;
}

static bool parse_v4(const char *s, size_t len, uint8_t out[4], char *why, size_t why_size)
{
    char cb[8];
    size_t i = 0;
    for (int octet = 1; octet <= 4; octet++) {
        if (octet > 1) {
            if (i == len) {
                return fail(why, why_size, s, len, "octet %d is missing", octet);
            }
            if (s[i] != '.') {
                return fail(why, why_size, s, len, "unexpected character %s after octet %d",
                            char_name(s[i], cb), octet - 1);
            }
            i++;
        }
        size_t start = i;
        unsigned value = 0;
        while (i < len && is_digit(s[i]) && i - start < 4) {
            value = value * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        size_t digits = i - start;
        if (digits == 0) {
            if (i == len) {
                return fail(why, why_size, s, len, "octet %d is missing", octet);
            }
            return fail(why, why_size, s, len, "unexpected character %s in octet %d",
                        char_name(s[i], cb), octet);
        }
        if (digits > 3 || value > 255) {
            while (i < len && is_digit(s[i])) {
                i++;
            }
            return fail(why, why_size, s, len, "octet %d is %.*s, above 255", octet,
                        (int)(i - start > 12 ? 12 : i - start), s + start);
        }
        if (digits > 1 && s[start] == '0') {
            return fail(why, why_size, s, len,
                        "octet %d has a leading zero (Windows would read it as octal)", octet);
        }
        out[octet - 1] = (uint8_t)value;
    }
    if (i < len) {
        if (s[i] == '.') {
            return fail(why, why_size, s, len, "more than four octets");
        }
        return fail(why, why_size, s, len, "unexpected character %s after octet 4",
                    char_name(s[i], cb));
    }
    return true;
}

static bool parse_v6(const char *s, size_t len, uint8_t out[16], char *why, size_t why_size)
{
    char cb[8];
    uint16_t groups[8];
    int count = 0; /* groups written into groups[] */
    int gap = -1;  /* index in groups[] where "::" stands, or -1 */
    bool v4_tail = false;
    uint8_t v4[4];
    size_t i = 0;

    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    } else if (len >= 1 && s[0] == ':') {
        return fail(why, why_size, s, len, "starts with a single ':'");
    }
    while (i < len) {
        size_t start = i;
        unsigned value = 0;
        while (i < len && hex_value(s[i]) >= 0 && i - start < 5) {
            value = value * 16 + (unsigned)hex_value(s[i]);
            i++;
        }
        if (i < len && s[i] == '.') {
            /* The last 32 bits as a dotted quad. */
            if (count > 6) {
                return fail(why, why_size, s, len, "too many groups before the IPv4 part");
            }
            char sub[RELAY_ADDR_TEXT_MAX * 2];
            if (!parse_v4(s + start, len - start, v4, sub, sizeof(sub))) {
                /* The dotted-quad reason already quotes its part; quote the whole too. */
                char *colon = strstr(sub, ": ");
                if (colon) {
                    *colon = '\0';
                }
                return fail(why, why_size, s, len, "in the IPv4 part, %s", sub);
            }
            v4_tail = true;
            i = len;
            break;
        }
        size_t digits = i - start;
        if (digits == 0) {
            if (s[i] == '%') {
                return fail(why, why_size, s, len, "zone indexes ('%%...') are not allowed");
            }
            if (s[i] == ':') {
                return fail(why, why_size, s, len, "'::' appears more than once or ':::'");
            }
            return fail(why, why_size, s, len, "unexpected character %s in group %d",
                        char_name(s[i], cb), count + 1);
        }
        if (digits > 4) {
            return fail(why, why_size, s, len, "group %d has more than four hex digits", count + 1);
        }
        if (count == 8) {
            return fail(why, why_size, s, len, "more than eight groups");
        }
        groups[count++] = (uint16_t)value;
        if (i == len) {
            break;
        }
        if (s[i] != ':') {
            if (s[i] == '%') {
                return fail(why, why_size, s, len, "zone indexes ('%%...') are not allowed");
            }
            return fail(why, why_size, s, len, "unexpected character %s after group %d",
                        char_name(s[i], cb), count);
        }
        i++;
        if (i < len && s[i] == ':') {
            if (gap >= 0) {
                return fail(why, why_size, s, len, "'::' appears more than once");
            }
            gap = count;
            i++;
        } else if (i == len) {
            return fail(why, why_size, s, len, "ends with a single ':'");
        }
    }

    int total = count + (v4_tail ? 2 : 0);
    if (gap < 0 && total != 8) {
        return fail(why, why_size, s, len, "has %d groups; eight are needed without '::'", total);
    }
    if (gap >= 0 && total > 7) {
        return fail(why, why_size, s, len, "'::' must stand for at least one group of zeros");
    }
    memset(out, 0, 16);
    int tail = count - (gap < 0 ? count : gap); /* groups written after the gap */
    int head = count - tail;
    for (int g = 0; g < head; g++) {
        out[2 * g] = (uint8_t)(groups[g] >> 8);
        out[2 * g + 1] = (uint8_t)groups[g];
    }
    int tail_at = 8 - (v4_tail ? 2 : 0) - tail;
    for (int g = 0; g < tail; g++) {
        out[2 * (tail_at + g)] = (uint8_t)(groups[head + g] >> 8);
        out[2 * (tail_at + g) + 1] = (uint8_t)groups[head + g];
    }
    if (v4_tail) {
        memcpy(out + 12, v4, 4);
    }
    return true;
}

bool relay_addr_parse_span(const char *text, size_t len, relay_addr *out, char *why,
                           size_t why_size)
{
    relay_addr a;
    memset(&a, 0, sizeof(a));
    if (why_size > 0) {
        why[0] = '\0';
    }
    if (len == 0) {
        return fail(why, why_size, text, len, "the address is empty");
    }
    bool v6 = memchr(text, ':', len) != NULL;
    if (v6) {
        if (!parse_v6(text, len, a.bytes, why, why_size)) {
            return false;
        }
        a.family = RELAY_AF_INET6;
    } else {
        if (!is_digit(text[0]) && hex_value(text[0]) < 0 && text[0] != '.') {
            return fail(why, why_size, text, len,
                        "not an IPv4 or IPv6 address (host names are not allowed)");
        }
        if (!parse_v4(text, len, a.bytes, why, why_size)) {
            return false;
        }
        a.family = RELAY_AF_INET4;
    }
    *out = a;
    return true;
}

bool relay_addr_parse(const char *text, relay_addr *out)
{
    return relay_addr_parse_span(text, strlen(text), out, NULL, 0);
}

static size_t format_v4(const uint8_t b[4], char *buf, size_t size)
{
    int n = snprintf(buf, size, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return n < 0 ? 0 : (size_t)n;
}

size_t relay_addr_format(const relay_addr *addr, char *buf, size_t size)
{
    char text[RELAY_ADDR_TEXT_MAX];
    size_t n = 0;
    if (addr->family == RELAY_AF_INET4) {
        n = format_v4(addr->bytes, text, sizeof(text));
    } else if (addr->family == RELAY_AF_INET6) {
        if (relay_addr_is_v4_mapped(addr)) {
            memcpy(text, "::ffff:", 7);
            n = 7 + format_v4(addr->bytes + 12, text + 7, sizeof(text) - 7);
        } else {
            unsigned g[8];
            for (int i = 0; i < 8; i++) {
                g[i] = (unsigned)addr->bytes[2 * i] << 8 | addr->bytes[2 * i + 1];
            }
            /* RFC 5952: shorten the longest run of two or more zero groups, the first on a
             * tie. */
            int best = -1, best_len = 1;
            for (int i = 0; i < 8;) {
                int j = i;
                while (j < 8 && g[j] == 0) {
                    j++;
                }
                if (j - i > best_len) {
                    best = i;
                    best_len = j - i;
                }
                i = j > i ? j : i + 1;
            }
            for (int i = 0; i < 8; i++) {
                if (i == best) {
                    text[n++] = ':';
                    if (i == 0) {
                        text[n++] = ':';
                    }
                    i += best_len - 1;
                    continue;
                }
                n += (size_t)snprintf(text + n, sizeof(text) - n, "%x", g[i]);
                if (i < 7) {
                    text[n++] = ':';
                }
            }
            text[n] = '\0';
        }
    } else {
        memcpy(text, "(none)", 7);
        n = 6;
    }
    if (size > 0) {
        size_t copy = n < size ? n : size - 1;
        memcpy(buf, text, copy);
        buf[copy] = '\0';
    }
    return n;
}

bool relay_addr_is_v4_mapped(const relay_addr *addr)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return addr->family == RELAY_AF_INET6 && memcmp(addr->bytes, prefix, 12) == 0;
}

relay_addr relay_addr_normalized(const relay_addr *addr)
{
    relay_addr a = *addr;
    if (relay_addr_is_v4_mapped(addr)) {
        memset(&a, 0, sizeof(a));
        a.family = RELAY_AF_INET4;
        memcpy(a.bytes, addr->bytes + 12, 4);
    }
    return a;
}

bool relay_addr_equal(const relay_addr *a, const relay_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

relay_addr relay_addr_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    relay_addr r;
    memset(&r, 0, sizeof(r));
    r.family = RELAY_AF_INET4;
    r.bytes[0] = a;
    r.bytes[1] = b;
    r.bytes[2] = c;
    r.bytes[3] = d;
    return r;
}

relay_addr relay_addr_from_v4_uint(uint32_t host_order)
{
    return relay_addr_v4((uint8_t)(host_order >> 24), (uint8_t)(host_order >> 16),
                         (uint8_t)(host_order >> 8), (uint8_t)host_order);
}
