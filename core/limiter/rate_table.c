#include "rate_table.h"

#include "fnv1a.h"

#include <stdlib.h>
#include <string.h>

typedef struct rate_slot {
    uint8_t key[RATE_TABLE_KEY_MAX];
    size_t key_len;
    bool used;
    rate_window window;
} rate_slot;

struct rate_table {
    size_t slots;
    rate_slot slot[];
};

rate_table *rate_table_create(size_t slots)
{
    if (slots == 0 || slots > SIZE_MAX / sizeof(rate_slot) - 1) {
        return NULL;
    }
    rate_table *t = calloc(1, sizeof(*t) + slots * sizeof(rate_slot));
    if (t) {
        t->slots = slots;
    }
    return t;
}

void rate_table_destroy(rate_table *table)
{
    free(table);
}

/* The slot to start probing at. */
static size_t hash(const uint8_t *key, size_t len)
{
    return (size_t)fnv1a_bytes(FNV1A_INIT, key, len);
}

#define PROBES 16

bool rate_table_allow(rate_table *t, const void *key, size_t key_len, uint64_t now_ms,
                      uint32_t per_minute)
{
    if (per_minute == 0) {
        return true;
    }
    if (key_len > RATE_TABLE_KEY_MAX) {
        key_len = RATE_TABLE_KEY_MAX;
    }
    size_t start = hash(key, key_len) % t->slots;
    rate_slot *victim = NULL;
    size_t probes = t->slots < PROBES ? t->slots : PROBES;
    for (size_t i = 0; i < probes; i++) {
        rate_slot *s = &t->slot[(start + i) % t->slots];
        if (s->used && s->key_len == key_len && memcmp(s->key, key, key_len) == 0) {
            return rate_window_allow(&s->window, now_ms, per_minute);
        }
        /* Prefer a free slot, then one whose window is over, then the oldest window. */
        bool over = !s->used || now_ms < s->window.start_ms ||
                    now_ms - s->window.start_ms >= RATE_WINDOW_MS;
        bool victim_over = victim && (!victim->used || now_ms < victim->window.start_ms ||
                                      now_ms - victim->window.start_ms >= RATE_WINDOW_MS);
        if (!victim || (over && !victim_over) ||
            (over == victim_over && s->window.start_ms < victim->window.start_ms)) {
            victim = s;
        }
    }
    memset(victim, 0, sizeof(*victim));
    victim->used = true;
    memcpy(victim->key, key, key_len);
    victim->key_len = key_len;
    return rate_window_allow(&victim->window, now_ms, per_minute);
}
