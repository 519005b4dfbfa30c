/* FNV-1a, 64-bit: a fast, dependency-free hash for fingerprints and hash tables. Not for
 * anything an attacker may aim collisions at where that would matter (use keyed hashing). */
#ifndef IMSRELAY_COMMON_FNV1A_H
#define IMSRELAY_COMMON_FNV1A_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FNV1A_INIT 0xcbf29ce484222325ull

static inline uint64_t fnv1a_bytes(uint64_t h, const void *data, size_t size)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < size; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

/* A string by its length, terminator included, so "ab","c" and "a","bc" hash apart; NULL
 * hashes like "". */
static inline uint64_t fnv1a_string(uint64_t h, const char *text)
{
    return text ? fnv1a_bytes(h, text, strlen(text) + 1) : fnv1a_bytes(h, "", 1);
}

#endif
