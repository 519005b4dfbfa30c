/* UTF-16LE -> UTF-8, portable: registry strings arrive as UTF-16LE bytes on every platform
 * (they are the bytes RegQueryValueExW returns), and everything after regio is UTF-8. */
#ifndef IMSRELAY_REGIO_UTF16_H
#define IMSRELAY_REGIO_UTF16_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of UTF-8 that `units` UTF-16 code units can need at most: a surrogate pair (two
 * units) needs 4, every other unit at most 3. */
#define REGIO_UTF8_MAX_PER_UNIT 3

/* Converts `units` code units read little-endian from `src` (2 * units bytes; no alignment
 * needed) into `dst`, which must hold REGIO_UTF8_MAX_PER_UNIT * units bytes. Writes no
 * terminator; returns the number of bytes written. A NUL unit becomes a NUL byte.
 *
 * An unpaired surrogate cannot be represented in UTF-8: it becomes U+FFFD, which no address,
 * mask or domain can contain, so a line holding one can never match anything. `*replaced`
 * (may be NULL) receives how many were replaced, `*first_bad` (may be NULL) the 0-based unit
 * index of the first one (unchanged when there is none). */
size_t regio_utf16le_to_utf8(const uint8_t *src, size_t units, char *dst, size_t *replaced,
                             size_t *first_bad);

#endif
