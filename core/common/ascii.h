/* ASCII case folding for protocol keywords, domains and registry value names. Not
 * locale-dependent on purpose: tolower() could fold bytes differently per code page. */
#ifndef IMSRELAY_COMMON_ASCII_H
#define IMSRELAY_COMMON_ASCII_H

#include <stdbool.h>
#include <stddef.h>

static inline unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* a[0..len) and b[0..len) are equal ignoring ASCII case. */
static inline bool ascii_equal_nocase(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i])) {
            return false;
        }
    }
    return true;
}

#endif
