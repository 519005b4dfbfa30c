#include "smtp_address.h"
#include "ascii.h"

#include <string.h>

#define LABEL_MAX 63

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_let_dig(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 5322 atext. */
static bool is_atext(unsigned char c)
{
    return is_let_dig(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str]. Returns the
 * length parsed at s[0..len), 0 when there is no valid domain there. A trailing dot ends
 * the domain before it, so the caller sees it as an unexpected character. */
static size_t parse_domain(const char *s, size_t len)
{
    size_t pos = 0;
    for (;;) {
        size_t label = pos;
        if (pos >= len || !is_let_dig((unsigned char)s[pos])) {
            return 0;
        }
        while (pos < len && (is_let_dig((unsigned char)s[pos]) || s[pos] == '-')) {
            pos++;
        }
        if (s[pos - 1] == '-' || pos - label > LABEL_MAX) {
            return 0;
        }
        if (pos + 1 < len && s[pos] == '.' && is_let_dig((unsigned char)s[pos + 1])) {
            pos++;
            continue;
        }
        return pos;
    }
}

/* Snum "." Snum "." Snum "." Snum, each 1*3DIGIT of value 0..255; the whole of s. */
static bool is_ipv4(const char *s, size_t len)
{
    size_t pos = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (pos >= len || s[pos] != '.') {
                return false;
            }
            pos++;
        }
        unsigned value = 0;
        size_t digits = 0;
        while (pos < len && is_digit((unsigned char)s[pos]) && digits < 3) {
            value = value * 10 + (unsigned)(s[pos] - '0');
            pos++;
            digits++;
        }
        if (digits == 0 || value > 255) {
            return false;
        }
    }
    return pos == len;
}

/* RFC 5321 IPv6-addr: up to 8 groups of 1-4 hex digits, at most one "::", optionally
 * ending in an IPv4 address that counts as two groups. The whole of s. */
static bool is_ipv6(const char *s, size_t len)
{
    size_t pos = 0;
    int groups = 0;
    bool compressed = false;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        compressed = true;
        pos = 2;
        if (pos == len) {
            return true;
        }
    } else if (len >= 1 && s[0] == ':') {
        return false;
    }
    for (;;) {
        size_t start = pos;
        while (pos < len && is_hex((unsigned char)s[pos]) && pos - start < 5) {
            pos++;
        }
        if (pos < len && s[pos] == '.') {
            /* Embedded IPv4 must be the final two groups. */
            if (!is_ipv4(s + start, len - start)) {
                return false;
            }
            groups += 2;
            break;
        }
        if (pos == start || pos - start > 4) {
            return false;
        }
        groups++;
        if (pos == len) {
            break;
        }
        if (s[pos] != ':') {
            return false;
        }
        pos++;
        if (pos < len && s[pos] == ':') {
            if (compressed) {
                return false;
            }
            compressed = true;
            pos++;
            if (pos == len) {
                break;
            }
        } else if (pos == len) {
            return false; /* a single trailing colon */
        }
        if (groups > 8) {
            return false;
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

/* address-literal content between "[" and "]". */
static bool is_address_literal(const char *s, size_t len)
{
    if (is_ipv4(s, len)) {
        return true;
    }
    if (len > 5 && ascii_equal_nocase(s, "IPv6:", 5)) {
        return is_ipv6(s + 5, len - 5);
    }
    /* General-address-literal: Standardized-tag ":" 1*dcontent. */
    size_t tag = 0;
    while (tag < len && (is_let_dig((unsigned char)s[tag]) || s[tag] == '-')) {
        tag++;
    }
    if (tag == 0 || tag >= len || s[tag] != ':' || s[tag - 1] == '-' || tag + 1 == len) {
        return false;
    }
    for (size_t i = tag + 1; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']') {
            return false;
        }
    }
    return true;
}

/* Local-part at s[0..len): Dot-string or Quoted-string. Returns the length, 0 if invalid. */
static size_t parse_local_part(const char *s, size_t len, bool *quoted)
{
    size_t pos = 0;
    *quoted = false;
    if (len > 0 && s[0] == '"') {
        *quoted = true;
        pos = 1;
        while (pos < len) {
            unsigned char c = (unsigned char)s[pos];
            if (c == '"') {
                return pos + 1;
            }
            if (c == '\\') {
                if (pos + 1 >= len || s[pos + 1] < 32 || s[pos + 1] > 126) {
                    return 0;
                }
                pos += 2;
                continue;
            }
            if (c < 32 || c > 126) {
                return 0;
            }
            pos++;
        }
        return 0;
    }
    for (;;) {
        size_t atom = pos;
        while (pos < len && is_atext((unsigned char)s[pos])) {
            pos++;
        }
        if (pos == atom) {
            return 0;
        }
        if (pos + 1 < len && s[pos] == '.' && is_atext((unsigned char)s[pos + 1])) {
            pos++;
            continue;
        }
        return pos;
    }
}

smtp_path_status smtp_path_parse(const char *text, size_t len, unsigned flags, smtp_path *out,
                                 size_t *consumed)
{
    memset(out, 0, sizeof *out);
    *consumed = 0;
    /* The caller's line is bounded, so the path is parsed whole and measured after. */
    size_t limit = len;
    if (limit < 2 || text[0] != '<') {
        return SMTP_PATH_SYNTAX;
    }
    size_t pos = 1;
    if (text[pos] == '>') {
        if (!(flags & SMTP_PATH_ALLOW_NULL)) {
            return SMTP_PATH_SYNTAX;
        }
        out->null_path = true;
        *consumed = 2;
        return SMTP_PATH_OK;
    }
    if (text[pos] == '@') {
        /* A-d-l = At-domain *( "," At-domain ) ":" */
        for (;;) {
            if (pos >= limit || text[pos] != '@') {
                return SMTP_PATH_SYNTAX;
            }
            size_t d = parse_domain(text + pos + 1, limit - pos - 1);
            if (d == 0 && pos + 1 < limit && text[pos + 1] == '[') {
                const char *close = memchr(text + pos + 1, ']', limit - pos - 1);
                if (close == NULL) {
                    return SMTP_PATH_SYNTAX;
                }
                d = (size_t)(close - (text + pos + 1)) + 1;
                if (!is_address_literal(text + pos + 2, d - 2)) {
                    return SMTP_PATH_SYNTAX;
                }
            }
            if (d == 0) {
                return SMTP_PATH_SYNTAX;
            }
            pos += 1 + d;
            if (pos < limit && text[pos] == ',') {
                pos++;
                continue;
            }
            if (pos < limit && text[pos] == ':') {
                pos++;
                break;
            }
            return SMTP_PATH_SYNTAX;
        }
        out->source_route = true;
    }
    size_t start = pos;
    bool quoted;
    size_t local = parse_local_part(text + pos, limit - pos, &quoted);
    if (local == 0) {
        return SMTP_PATH_SYNTAX;
    }
    out->quoted_local = quoted;
    pos += local;
    if (local > SMTP_LOCAL_PART_MAX) {
        return SMTP_PATH_TOO_LONG;
    }
    if (pos < limit && text[pos] == '>') {
        /* Only "<postmaster>" may go without a domain (RFC 5321 4.5.1). */
        if (!(flags & SMTP_PATH_ALLOW_POSTMASTER) || quoted || out->source_route || local != 10 ||
            !ascii_equal_nocase(text + start, "postmaster", 10)) {
            return SMTP_PATH_SYNTAX;
        }
        memcpy(out->mailbox, text + start, local);
        out->length = local;
        out->domain_offset = local;
        *consumed = pos + 1;
        return SMTP_PATH_OK;
    }
    if (pos >= limit || text[pos] != '@') {
        return SMTP_PATH_SYNTAX;
    }
    pos++;
    size_t domain_start = pos;
    size_t domain;
    if (pos < limit && text[pos] == '[') {
        const char *close = memchr(text + pos, ']', limit - pos);
        if (close == NULL) {
            return SMTP_PATH_SYNTAX;
        }
        domain = (size_t)(close - (text + pos)) + 1;
        if (!is_address_literal(text + pos + 1, domain - 2)) {
            return SMTP_PATH_SYNTAX;
        }
        out->address_literal = true;
    } else {
        domain = parse_domain(text + pos, limit - pos);
        if (domain == 0) {
            return SMTP_PATH_SYNTAX;
        }
    }
    pos += domain;
    if (domain > SMTP_DOMAIN_MAX) {
        return SMTP_PATH_TOO_LONG;
    }
    if (pos >= limit || text[pos] != '>') {
        return SMTP_PATH_SYNTAX;
    }
    pos++;
    if (pos > SMTP_PATH_MAX) {
        return SMTP_PATH_TOO_LONG;
    }
    size_t mailbox = pos - 1 - start;
    memcpy(out->mailbox, text + start, mailbox);
    out->mailbox[mailbox] = '\0';
    out->length = mailbox;
    out->domain_offset = domain_start - start;
    *consumed = pos;
    return SMTP_PATH_OK;
}

bool smtp_local_part_is_relay_trick(const char *local, size_t len)
{
    /* '%' and '!' route through a second host (percent hack, UUCP bang path); '@' can only
     * be inside a quoted local part, where it names another domain. */
    for (size_t i = 0; i < len; i++) {
        if (local[i] == '%' || local[i] == '!' || local[i] == '@') {
            return true;
        }
    }
    return false;
}

static bool domain_listed(const char *domain, size_t len, const char *entry)
{
    size_t n = strlen(entry);
    while (n > 0 && (entry[0] == ' ' || entry[0] == '\t')) {
        entry++;
        n--;
    }
    while (n > 0 && (entry[n - 1] == ' ' || entry[n - 1] == '\t')) {
        n--;
    }
    if (n == 0 || entry[0] == '#') {
        return false;
    }
    if (entry[n - 1] == '.') {
        n--;
    }
    return n == len && ascii_equal_nocase(domain, entry, len);
}

smtp_rcpt_class smtp_recipient_classify(const smtp_path *path, const char *const *local_domains,
                                        size_t local_domain_count)
{
    if (path->null_path) {
        return SMTP_RCPT_RELAY;
    }
    if (path->domain_offset >= path->length) {
        return (!path->quoted_local && path->length == 10 &&
                ascii_equal_nocase(path->mailbox, "postmaster", 10))
                       ? SMTP_RCPT_LOCAL
                       : SMTP_RCPT_RELAY;
    }
    if (smtp_local_part_is_relay_trick(path->mailbox, path->domain_offset - 1)) {
        return SMTP_RCPT_RELAY;
    }
    const char *domain = path->mailbox + path->domain_offset;
    size_t domain_len = path->length - path->domain_offset;
    for (size_t i = 0; i < local_domain_count; i++) {
        if (local_domains[i] != NULL && domain_listed(domain, domain_len, local_domains[i])) {
            return SMTP_RCPT_LOCAL;
        }
    }
    return SMTP_RCPT_RELAY;
}
