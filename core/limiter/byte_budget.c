#include "byte_budget.h"

#include <stdlib.h>
#include <string.h>

typedef struct budget_slot {
    uint8_t key[BYTE_BUDGET_KEY_MAX];
    size_t key_len;
    uint64_t held; /* 0: the slot is free */
} budget_slot;

struct byte_budget {
    uint64_t total;
    size_t slots;
    budget_slot slot[];
};

byte_budget *byte_budget_create(size_t slots)
{
    if (slots == 0 || slots > SIZE_MAX / sizeof(budget_slot) - 1) {
        return NULL;
    }
    byte_budget *b = calloc(1, sizeof(*b) + slots * sizeof(budget_slot));
    if (b) {
        b->slots = slots;
    }
    return b;
}

void byte_budget_destroy(byte_budget *budget)
{
    free(budget);
}

static size_t hash(const uint8_t *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ key[i]) * 1099511628211ull;
    }
    return (size_t)h;
}

/* The key's slot, or (when `free_slot` is given) a free one for it; NULL when neither. A
 * free slot met while probing does not end the probe: the key may sit further on, past a
 * slot that was freed after it was placed. */
static budget_slot *find(const byte_budget *b, const void *key, size_t len, budget_slot **free_slot)
{
    size_t start = hash(key, len) % b->slots;
    if (free_slot) {
        *free_slot = NULL;
    }
    for (size_t i = 0; i < b->slots; i++) {
        budget_slot *s = (budget_slot *)&b->slot[(start + i) % b->slots];
        if (s->held > 0 && s->key_len == len && memcmp(s->key, key, len) == 0) {
            return s;
        }
        if (s->held == 0 && free_slot && !*free_slot) {
            *free_slot = s;
        }
    }
    return NULL;
}

bool byte_budget_reserve(byte_budget *b, const void *key, size_t key_len, uint64_t n,
                         uint64_t total_cap, uint64_t key_cap)
{
    if (key_len > BYTE_BUDGET_KEY_MAX) {
        key_len = BYTE_BUDGET_KEY_MAX;
    }
    if (n == 0) {
        return true;
    }
    if (total_cap > 0 && (b->total + n < b->total || b->total + n > total_cap)) {
        return false;
    }
    budget_slot *free_slot = NULL;
    budget_slot *s = find(b, key, key_len, &free_slot);
    uint64_t held = s ? s->held : 0;
    if (key_cap > 0 && (held + n < held || held + n > key_cap)) {
        return false;
    }
    if (!s) {
        if (!free_slot) {
            return false;
        }
        s = free_slot;
        memcpy(s->key, key, key_len);
        s->key_len = key_len;
        s->held = 0;
    }
    s->held += n;
    b->total += n;
    return true;
}

void byte_budget_release(byte_budget *b, const void *key, size_t key_len, uint64_t n)
{
    if (key_len > BYTE_BUDGET_KEY_MAX) {
        key_len = BYTE_BUDGET_KEY_MAX;
    }
    budget_slot *s = find(b, key, key_len, NULL);
    if (!s) {
        return;
    }
    if (n > s->held) {
        n = s->held;
    }
    s->held -= n;
    b->total -= n;
}

uint64_t byte_budget_total(const byte_budget *b)
{
    return b->total;
}

uint64_t byte_budget_held(const byte_budget *b, const void *key, size_t key_len)
{
    if (key_len > BYTE_BUDGET_KEY_MAX) {
        key_len = BYTE_BUDGET_KEY_MAX;
    }
    const budget_slot *s = find(b, key, key_len, NULL);
    return s ? s->held : 0;
}
