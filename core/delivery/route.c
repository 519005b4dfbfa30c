#include "route.h"

#include "ascii.h"
#include "delivery_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* "IPv6:" in any case, the tag of an IPv6 address literal (RFC 5321 4.1.3). */
static bool is_ipv6_tag(const char *text, size_t len)
{
    return len >= 5 && ascii_equal_nocase(text, "ipv6:", 5);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

const char *route_host_name_problem(const char *name, size_t len)
{
    if (len > 0 && name[len - 1] == '.') {
        len--;
    }
    if (len == 0) {
        return "is empty";
    }
    if (len > ROUTE_NAME_MAX) {
        return "is longer than 253 characters, the longest DNS name";
    }
    size_t label = 0;
    bool all_digits = true;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? name[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63) {
                return "has an empty label or one longer than 63 characters";
            }
            if (name[i - 1] == '-' || name[i - label] == '-') {
                return "has a label that begins or ends with a hyphen";
            }
            if (i < len) {
                all_digits = true;
            }
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-')) {
            return "is not a host name (only letters, digits, hyphens and dots)";
        }
        if (!is_digit(c)) {
            all_digits = false;
        }
        label++;
    }
    if (all_digits) {
        return "ends in an all-digit label (an address must be written in brackets, e.g. "
               "[192.0.2.1])";
    }
    return NULL;
}

static void copy_lower(char *out, const char *text, size_t len)
{
    if (len > 0 && text[len - 1] == '.') {
        len--;
    }
    for (size_t i = 0; i < len; i++) {
        out[i] = (char)ascii_lower((unsigned char)text[i]);
    }
    out[len] = '\0';
}

/* The inside of brackets: an IPv4 or IPv6 address (with or without the "IPv6:" tag), or a
 * host name whose MX records are not to be looked up. */
static const char *parse_bracketed(const char *text, size_t len, route_host *host, char *why,
                                   size_t why_size)
{
    if (is_ipv6_tag(text, len)) {
        text += 5;
        len -= 5;
        if (memchr(text, ':', len) == NULL) {
            return "is not an IPv6 address after \"IPv6:\"";
        }
    }
    bool digits_and_dots = len > 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(text[i]) && text[i] != '.') {
            digits_and_dots = false;
        }
    }
    if (memchr(text, ':', len) != NULL || digits_and_dots) {
        if (!relay_addr_parse_span(text, len, &host->address, why, why_size)) {
            return why;
        }
        host->kind = host->address.family == RELAY_AF_INET4 ? ROUTE_IPV4 : ROUTE_IPV6;
        relay_addr_format(&host->address, host->name, sizeof(host->name));
        return NULL;
    }
    const char *problem = route_host_name_problem(text, len);
    if (problem) {
        return problem;
    }
    host->kind = ROUTE_NAME;
    copy_lower(host->name, text, len);
    return NULL;
}

static bool parse_port(const char *text, size_t len, uint16_t *port)
{
    if (len == 0 || len > 5) {
        return false;
    }
    unsigned long value = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(text[i])) {
            return false;
        }
        value = value * 10 + (unsigned long)(text[i] - '0');
    }
    if (value < 1 || value > 65535) {
        return false;
    }
    *port = (uint16_t)value;
    return true;
}

/* One trimmed entry text[0..len) starting at 1-based character column. */
static bool parse_entry(const char *text, size_t len, size_t column, route_host *host, char *error,
                        size_t error_size)
{
    memset(host, 0, sizeof(*host));
    host->port = ROUTE_DEFAULT_PORT;
    const char *port_text = NULL;
    size_t port_len = 0;
    char why[ROUTE_ERROR_MAX];
    why[0] = '\0';
    if (text[0] == '[') {
        const char *close = memchr(text, ']', len);
        if (close == NULL) {
            delivery_format_error(error, error_size, "at character %zu: '[' without ']'", column);
            return false;
        }
        size_t inner = (size_t)(close - text) - 1;
        const char *problem = parse_bracketed(text + 1, inner, host, why, sizeof(why));
        if (problem == why) {
            delivery_format_error(error, error_size, "at character %zu: %s", column + 1, why);
            return false;
        }
        if (problem) {
            delivery_format_error(error, error_size, "at character %zu: \"%.*s\" %s", column + 1,
                                  (int)(inner > 64 ? 64 : inner), text + 1, problem);
            return false;
        }
        size_t after = inner + 2;
        if (after < len) {
            if (text[after] != ':') {
                delivery_format_error(error, error_size,
                                      "at character %zu: expected ':' and a port after ']'",
                                      column + after);
                return false;
            }
            port_text = text + after + 1;
            port_len = len - after - 1;
        }
    } else {
        const char *colon = memchr(text, ':', len);
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon - text) - 1)) {
            delivery_format_error(error, error_size,
                                  "at character %zu: an IPv6 address must be in brackets, e.g. "
                                  "[2001:db8::1]:25",
                                  column);
            return false;
        }
        size_t name_len = colon ? (size_t)(colon - text) : len;
        const char *problem = route_host_name_problem(text, name_len);
        if (problem) {
            delivery_format_error(error, error_size, "at character %zu: \"%.*s\" %s", column,
                                  (int)(name_len > 64 ? 64 : name_len), text, problem);
            return false;
        }
        host->kind = ROUTE_NAME;
        host->mx_lookup = true;
        copy_lower(host->name, text, name_len);
        if (colon) {
            port_text = colon + 1;
            port_len = len - name_len - 1;
        }
    }
    host->port_given = port_text != NULL;
    if (port_text && !parse_port(port_text, port_len, &host->port)) {
        delivery_format_error(error, error_size,
                              "at character %zu: port \"%.*s\" is not a number from 1 to 65535",
                              column + (size_t)(port_text - text),
                              (int)(port_len > 16 ? 16 : port_len), port_text);
        return false;
    }
    return true;
}

bool route_smarthost_parse(const char *text, route_smarthost *out, char *error, size_t error_size)
{
    size_t len = 0;
    while (len <= ROUTE_TEXT_MAX && text[len] != '\0') {
        len++;
    }
    out->count = 0;
    if (len > ROUTE_TEXT_MAX) {
        delivery_format_error(error, error_size, "is longer than %d characters", ROUTE_TEXT_MAX);
        return false;
    }
    size_t s = 0;
    while (s < len && (text[s] == ' ' || text[s] == '\t')) {
        s++;
    }
    if (s == len) {
        return true; /* no smart host */
    }
    size_t pos = 0;
    for (;;) {
        const char *comma = memchr(text + pos, ',', len - pos);
        size_t end = comma ? (size_t)(comma - text) : len;
        size_t a = pos, b = end;
        while (a < b && (text[a] == ' ' || text[a] == '\t')) {
            a++;
        }
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t')) {
            b--;
        }
        if (a == b) {
            delivery_format_error(error, error_size,
                                  "at character %zu: empty entry (two commas, or a comma "
                                  "at the start or end)",
                                  pos + 1);
            out->count = 0;
            return false;
        }
        if (out->count == ROUTE_HOSTS_MAX) {
            delivery_format_error(error, error_size, "at character %zu: more than %d hosts", a + 1,
                                  ROUTE_HOSTS_MAX);
            out->count = 0;
            return false;
        }
        if (!parse_entry(text + a, b - a, a + 1, &out->hosts[out->count], error, error_size)) {
            out->count = 0;
            return false;
        }
        out->count++;
        if (comma == NULL) {
            return true;
        }
        pos = end + 1;
    }
}

bool route_recipient_domain(const char *address, route_domain *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof(*out));
    size_t len = 0;
    while (len <= ROUTE_TEXT_MAX && address[len] != '\0') {
        len++;
    }
    const char *at = NULL;
    for (size_t i = 0; i < len; i++) {
        if (address[i] == '@') {
            at = address + i;
        }
    }
    if (len > ROUTE_TEXT_MAX || at == NULL) {
        delivery_format_error(error, error_size, "the address has no domain (no '@')");
        return false;
    }
    const char *domain = at + 1;
    size_t dlen = len - (size_t)(domain - address);
    if (dlen == 0) {
        delivery_format_error(error, error_size, "the address has an empty domain");
        return false;
    }
    if (domain[0] == '[') {
        if (domain[dlen - 1] != ']') {
            delivery_format_error(error, error_size, "the address literal does not end with ']'");
            return false;
        }
        const char *inner = domain + 1;
        size_t ilen = dlen - 2;
        bool v6_tag = is_ipv6_tag(inner, ilen);
        if (v6_tag) {
            inner += 5;
            ilen -= 5;
        } else if (memchr(inner, ':', ilen) != NULL) {
            delivery_format_error(
                    error, error_size,
                    "the address literal is not IPv4 and has no \"IPv6:\" tag (RFC 5321 4.1.3)");
            return false;
        }
        char why[ROUTE_ERROR_MAX];
        if (!relay_addr_parse_span(inner, ilen, &out->address, why, sizeof(why)) ||
            (out->address.family == RELAY_AF_INET6) != v6_tag) {
            delivery_format_error(error, error_size, "the address literal is not an %s address",
                                  v6_tag ? "IPv6" : "IPv4");
            return false;
        }
        out->kind = v6_tag ? ROUTE_IPV6 : ROUTE_IPV4;
        relay_addr_format(&out->address, out->name, sizeof(out->name));
        return true;
    }
    const char *problem = route_host_name_problem(domain, dlen);
    if (problem) {
        delivery_format_error(error, error_size, "the domain \"%.*s\" %s",
                              (int)(dlen > 64 ? 64 : dlen), domain, problem);
        return false;
    }
    out->kind = ROUTE_NAME;
    copy_lower(out->name, domain, dlen);
    return true;
}
