#include "tls_selector.h"

#include <string.h>

/* Longer text is not a selector, whatever it holds: 40 digits with separators and a few
 * invisible marks, or a host name with "CN=", fit easily. */
#define TLS_SELECTOR_TEXT_MAX 512

static bool tls_selector_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint8_t tls_selector_hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return (uint8_t)(c - '0');
    }
    if (c >= 'a' && c <= 'f') {
        return (uint8_t)(c - 'a' + 10);
    }
    return (uint8_t)(c - 'A' + 10);
}

static bool tls_selector_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Length in bytes of an invisible format character at p (left-to-right and right-to-left
 * marks and embeddings, byte order mark), 0 when there is none. Copying a thumbprint from
 * certmgr brings a U+200E along; it is invisible in regedit and must not make the value
 * "wrong" for reasons nobody can see. */
static size_t tls_selector_invisible_at(const unsigned char *p, size_t left)
{
    if (left >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
        (p[2] == 0x8E || p[2] == 0x8F || (p[2] >= 0xAA && p[2] <= 0xAE))) {
        return 3;
    }
    if (left >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        return 3;
    }
    return 0;
}

static char tls_selector_lower(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    return c;
}

bool tls_selector_host_name_valid(const char *name, bool allow_wildcard)
{
    size_t len = strlen(name);
    if (len == 0 || len > TLS_SELECTOR_NAME_MAX) {
        return false;
    }
    size_t i = 0;
    if (allow_wildcard && len > 2 && name[0] == '*' && name[1] == '.') {
        i = 2;
    }
    size_t label_len = 0;
    char previous = '.';
    for (; i < len; i++) {
        char c = name[i];
        if (c == '.') {
            if (label_len == 0 || previous == '-') {
                return false;
            }
            label_len = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-') {
            if (c == '-' && label_len == 0) {
                return false;
            }
            if (++label_len > 63) {
                return false;
            }
        } else {
            return false;
        }
        previous = c;
    }
    return label_len > 0 && previous != '-';
}

static bool tls_selector_thumbprint(const char *text, size_t len, struct tls_selector *out,
                                    const char **why, bool *is_thumbprint)
{
    size_t digits = 0;
    bool separated = false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ' || text[i] == ':') {
            separated = true;
        } else if (tls_selector_is_hex(text[i])) {
            digits++;
        } else {
            *is_thumbprint = false;
            return false;
        }
    }
    /* Only hexadecimal digits: a thumbprint when separated like one or long like one; a short
     * run of hex letters ("cafe") is left to be read as a host name. */
    *is_thumbprint = separated || digits >= 32;
    if (!*is_thumbprint) {
        return false;
    }
    if (digits != 2 * TLS_SELECTOR_THUMBPRINT_BYTES) {
        *why = "a thumbprint has 40 hexadecimal digits";
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (tls_selector_is_hex(text[i])) {
            uint8_t v = tls_selector_hex_value(text[i]);
            if (n % 2 == 0) {
                out->thumbprint[n / 2] = (uint8_t)(v << 4);
            } else {
                out->thumbprint[n / 2] |= v;
            }
            n++;
        } else if (n % 2 != 0) {
            /* A separator inside a byte ("A B") is a typing mistake, not a thumbprint. */
            *why = "a thumbprint's separators go between pairs of hexadecimal digits";
            return false;
        }
    }
    out->kind = TLS_SELECTOR_THUMBPRINT;
    out->host_name[0] = '\0';
    return true;
}

bool tls_selector_parse(const char *text, size_t len, struct tls_selector *out, const char **why)
{
    static const char *const invalid = "neither a 40-digit thumbprint nor a host name";
    const char *ignored;
    if (why == NULL) {
        why = &ignored;
    }
    memset(out, 0, sizeof *out);
    if (len > TLS_SELECTOR_TEXT_MAX) {
        *why = "longer than any thumbprint or host name";
        return false;
    }
    char clean[TLS_SELECTOR_TEXT_MAX + 1];
    size_t clean_len = 0;
    const unsigned char *bytes = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t skip = tls_selector_invisible_at(bytes + i, len - i);
        if (skip > 0) {
            i += skip;
            continue;
        }
        if (text[i] == '\0') {
            *why = "contains a NUL character";
            return false;
        }
        clean[clean_len++] = text[i++];
    }
    size_t start = 0;
    while (start < clean_len && tls_selector_is_space(clean[start])) {
        start++;
    }
    while (clean_len > start && tls_selector_is_space(clean[clean_len - 1])) {
        clean_len--;
    }
    if (clean_len == start) {
        *why = "empty";
        return false;
    }
    const char *body = clean + start;
    size_t body_len = clean_len - start;

    bool is_thumbprint = false;
    if (tls_selector_thumbprint(body, body_len, out, why, &is_thumbprint)) {
        return true;
    }
    if (is_thumbprint) {
        return false;
    }

    if (body_len > 3 && tls_selector_lower(body[0]) == 'c' && tls_selector_lower(body[1]) == 'n' &&
        body[2] == '=') {
        body += 3;
        body_len -= 3;
    }
    /* A fully qualified name's final dot names the same host. */
    if (body_len > 1 && body[body_len - 1] == '.') {
        body_len--;
    }
    if (body_len > TLS_SELECTOR_NAME_MAX) {
        *why = invalid;
        return false;
    }
    for (size_t i = 0; i < body_len; i++) {
        out->host_name[i] = tls_selector_lower(body[i]);
    }
    out->host_name[body_len] = '\0';
    if (!tls_selector_host_name_valid(out->host_name, true)) {
        out->host_name[0] = '\0';
        *why = invalid;
        return false;
    }
    /* What reads as a thumbprint must not come back as a host name once "CN=" or a final
     * dot is gone: one spelling, one meaning. */
    bool only_hex = true;
    for (size_t i = 0; i < body_len; i++) {
        only_hex = only_hex && tls_selector_is_hex(out->host_name[i]);
    }
    if (only_hex && body_len >= 32) {
        out->host_name[0] = '\0';
        *why = "a thumbprint has 40 hexadecimal digits";
        return false;
    }
    out->kind = TLS_SELECTOR_HOST_NAME;
    return true;
}

void tls_selector_thumbprint_text(const uint8_t thumbprint[TLS_SELECTOR_THUMBPRINT_BYTES],
                                  char out[2 * TLS_SELECTOR_THUMBPRINT_BYTES + 1])
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < TLS_SELECTOR_THUMBPRINT_BYTES; i++) {
        out[2 * i] = digits[thumbprint[i] >> 4];
        out[2 * i + 1] = digits[thumbprint[i] & 0x0F];
    }
    out[2 * TLS_SELECTOR_THUMBPRINT_BYTES] = '\0';
}
