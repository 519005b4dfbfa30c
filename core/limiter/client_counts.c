#include "client_counts.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_SLOTS 64 /* a power of two */

typedef struct slot {
    relay_addr addr;
    uint32_t count; /* 0: the slot is empty */
} slot;

struct client_counts {
    slot *slots;
    size_t mask; /* slot count - 1 */
    size_t used;
    uint64_t seed;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static size_t hash(const client_counts *counts, const relay_addr *addr)
{
    uint64_t lo, hi;
    memcpy(&lo, addr->bytes, 8);
    memcpy(&hi, addr->bytes + 8, 8);
    uint64_t h = mix(counts->seed ^ addr->family);
    h = mix(h ^ lo);
    h = mix(h ^ hi);
    return (size_t)h;
}

static bool same(const relay_addr *a, const relay_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

/* The slot holding addr, or the empty slot where it would go. */
static size_t find(const client_counts *counts, const relay_addr *addr)
{
    size_t i = hash(counts, addr) & counts->mask;
    while (counts->slots[i].count != 0 && !same(&counts->slots[i].addr, addr)) {
        i = (i + 1) & counts->mask;
    }
    return i;
}

client_counts *client_counts_create(uint64_t seed)
{
    client_counts *counts = calloc(1, sizeof(*counts));
    if (!counts) {
        return NULL;
    }
    counts->slots = calloc(INITIAL_SLOTS, sizeof(slot));
    if (!counts->slots) {
        free(counts);
        return NULL;
    }
    counts->mask = INITIAL_SLOTS - 1;
    counts->seed = seed;
    return counts;
}

void client_counts_destroy(client_counts *counts)
{
    if (!counts) {
        return;
    }
    free(counts->slots);
    free(counts);
}

uint32_t client_counts_get(const client_counts *counts, const relay_addr *addr)
{
    relay_addr key = relay_addr_normalized(addr);
    return counts->slots[find(counts, &key)].count;
}

/* Doubles the table: at most half full, so a probe stays short. */
static bool grow(client_counts *counts)
{
    size_t old_size = counts->mask + 1;
    slot *old = counts->slots;
    slot *fresh = calloc(old_size * 2, sizeof(slot));
    if (!fresh) {
        return false;
    }
    counts->slots = fresh;
    counts->mask = old_size * 2 - 1;
    for (size_t i = 0; i < old_size; i++) {
        if (old[i].count != 0) {
            counts->slots[find(counts, &old[i].addr)] = old[i];
        }
    }
    free(old);
    return true;
}

bool client_counts_add(client_counts *counts, const relay_addr *addr)
{
    relay_addr key = relay_addr_normalized(addr);
    size_t i = find(counts, &key);
    if (counts->slots[i].count == 0) {
        if ((counts->used + 1) * 2 > counts->mask + 1) {
            if (!grow(counts)) {
                return false;
            }
            i = find(counts, &key);
        }
        counts->slots[i].addr = key;
        counts->used++;
    }
    counts->slots[i].count++;
    return true;
}

void client_counts_remove(client_counts *counts, const relay_addr *addr)
{
    relay_addr key = relay_addr_normalized(addr);
    size_t i = find(counts, &key);
    if (counts->slots[i].count == 0 || --counts->slots[i].count != 0) {
        return;
    }
    counts->used--;
    /* Backward-shift deletion (no tombstones): every later entry of the probe run that
     * could live at the hole moves into it, so lookups still stop at the first empty slot. */
    size_t hole = i;
    for (size_t j = (i + 1) & counts->mask; counts->slots[j].count != 0;
         j = (j + 1) & counts->mask) {
        size_t home = hash(counts, &counts->slots[j].addr) & counts->mask;
        /* j's entry may move to the hole when its home is not in (hole, j] cyclically. */
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            counts->slots[hole] = counts->slots[j];
            hole = j;
        }
    }
    memset(&counts->slots[hole], 0, sizeof(slot));
}

size_t client_counts_clients(const client_counts *counts)
{
    return counts->used;
}
