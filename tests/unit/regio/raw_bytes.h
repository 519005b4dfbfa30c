/* Test helpers: registry value bytes as RegQueryValueExW would return them. */
#ifndef IMSRELAY_TESTS_RAW_BYTES_H
#define IMSRELAY_TESTS_RAW_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "diag.h"

/* UTF-16LE of `len` ASCII bytes (NULs included), in a heap block freed by raw_bytes_free_all(). */
uint8_t *utf16(const char *ascii, size_t len);

/* A REG_DWORD's 4 little-endian bytes, same ownership. */
uint8_t *dword_bytes(uint32_t value);

/* A copy of `size` bytes, same ownership: an exact-size block, so ASan sees any overread. */
uint8_t *bytes(const void *data, size_t size);

void raw_bytes_free_all(void);

/* Shorthand: a string literal with its embedded NULs, without the compiler's own NUL. */
#define U16(lit) utf16(lit, sizeof(lit) - 1), 2 * (sizeof(lit) - 1)

/* Index of the first diagnostic of `value` at `severity` whose message contains `part`, or -1. */
int find_diag(const regio_diag_list *diags, regio_severity severity, const char *value,
              const char *part);

#endif
