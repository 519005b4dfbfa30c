/* Decoding of raw registry value bytes into typed values, portable and bounds-checked: every
 * read stays inside regio_raw_value.size, whatever the type, size or content claims. Problems
 * become diagnostics naming `name`; the caller applies defaults and fallbacks. */
#ifndef IMSRELAY_REGIO_VALUE_DECODE_H
#define IMSRELAY_REGIO_VALUE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "diag.h"

/* Largest list value read: 16 MiB holds over 250,000 lines of the longest IPv4 form
 * "255.255.255.255;255.255.255.255", far beyond any real list, yet decoding it stays bounded
 * in time and memory. A larger value is REGIO_VALUE_UNREADABLE (for the deny list, the relay
 * engine then fails closed). */
#define REGIO_LIST_MAX_BYTES ((size_t)16 * 1024 * 1024)

/* Longest string value (MailRoot, SmtpHostName) in UTF-16 units, the longest Windows path;
 * one more unit is allowed for the terminating NUL. */
#define REGIO_STRING_MAX_UNITS 32767

/* At most this many per-line diagnostics per value; the rest are counted in one more. */
#define REGIO_LINE_DIAGS_MAX 10

/* A decoded list: `count` NUL-terminated UTF-8 lines, all inside `text`. Both are heap blocks
 * the caller frees (either may be NULL when count is 0). */
typedef struct regio_decoded_list {
    char *text;
    const char **lines;
    size_t count;
} regio_decoded_list;

/* REG_MULTI_SZ, or REG_SZ/REG_EXPAND_SZ as a one-line list (REGIO_VALUE_COERCED, warning).
 * Returns false only when out of memory; *state is then meaningless. */
bool regio_decode_list(const regio_raw_value *value, const char *name, regio_decoded_list *out,
                       regio_value_state *state, regio_diag_list *diags);

/* REG_SZ or REG_EXPAND_SZ (never expanded here), non-empty, valid UTF-16, no text after its
 * terminating NUL. *out is a heap string on REGIO_VALUE_OK, else NULL. Returns false only when
 * out of memory. */
bool regio_decode_string(const regio_raw_value *value, const char *name, char **out,
                         regio_value_state *state, regio_diag_list *diags);

/* REG_DWORD of exactly 4 bytes, little-endian. Returns REGIO_VALUE_OK and sets *out, or
 * REGIO_VALUE_UNREADABLE with an error diagnostic and leaves *out alone. */
regio_value_state regio_decode_dword(const regio_raw_value *value, const char *name, uint32_t *out,
                                     regio_diag_list *diags);

#endif
