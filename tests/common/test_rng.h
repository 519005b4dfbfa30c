/* A seeded pseudo-random generator (splitmix64) for tests and benchmarks: the same seed
 * gives the same sequence on every platform, so a failing case can be replayed. */
#ifndef IMSRELAY_TESTS_TEST_RNG_H
#define IMSRELAY_TESTS_TEST_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s;
} rng;

static inline uint64_t next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

#endif
