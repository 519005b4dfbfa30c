#include "denial_limiter.h"

#include "fnv1a.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char client[DENIAL_LIMITER_KEY_MAX]; /* "" when free */
    uint64_t window_start;
    uint64_t last_seen;
    uint32_t logged;     /* in the current window */
    uint64_t suppressed; /* in the current window, not yet reported */
} slot;

struct denial_limiter {
    uint32_t per_minute;
    /* All clients together: a window of its own, and what it held back. */
    uint32_t total_per_minute; /* 0: no global limit */
    slot all;
    slot slots[DENIAL_LIMITER_SLOTS];
};

denial_limiter *denial_limiter_create(uint32_t per_minute)
{
    denial_limiter *l = calloc(1, sizeof(*l));
    if (l) {
        l->per_minute = per_minute;
    }
    return l;
}

void denial_limiter_destroy(denial_limiter *l)
{
    free(l);
}

void denial_limiter_set_rate(denial_limiter *l, uint32_t per_minute)
{
    l->per_minute = per_minute;
}

static void take_summary(slot *s, uint64_t now_ms, denial_summary *out);

void denial_limiter_set_total_rate(denial_limiter *l, uint32_t per_minute)
{
    l->total_per_minute = per_minute;
}

/* The global window, once the client's own limit let the denial through. A summary of the
 * global window that ended is due first, like a client's. */
static bool total_allows(denial_limiter *l, uint64_t now_ms, denial_summary *summary,
                         bool *has_summary)
{
    slot *all = &l->all;
    if (l->total_per_minute == 0) {
        return true;
    }
    if (!all->client[0] || now_ms - all->window_start >= DENIAL_LIMITER_WINDOW_MS) {
        if (all->client[0] && all->suppressed && !*has_summary) {
            take_summary(all, now_ms, summary);
            *has_summary = true;
        }
        memcpy(all->client, DENIAL_LIMITER_ALL_CLIENTS, sizeof(DENIAL_LIMITER_ALL_CLIENTS));
        all->window_start = now_ms;
        all->logged = 0;
    }
    if (all->logged < l->total_per_minute) {
        all->logged++;
        return true;
    }
    all->suppressed++;
    return false;
}

/* The table is small and keys are short; open addressing with a short probe. */
static size_t hash_key(const char *key)
{
    return (size_t)fnv1a_bytes(FNV1A_INIT, key, strlen(key));
}

#define PROBE 8

static void take_summary(slot *s, uint64_t now_ms, denial_summary *out)
{
    memcpy(out->client, s->client, sizeof(out->client));
    out->suppressed = s->suppressed;
    uint64_t span = now_ms > s->window_start ? now_ms - s->window_start : 0;
    if (span > DENIAL_LIMITER_WINDOW_MS) {
        span = DENIAL_LIMITER_WINDOW_MS;
    }
    out->seconds = (uint32_t)((span + 999) / 1000);
    if (out->seconds == 0) {
        out->seconds = 1;
    }
    s->suppressed = 0;
}

bool denial_limiter_on_denial(denial_limiter *l, const char *client, uint64_t now_ms,
                              denial_summary *summary, bool *has_summary)
{
    *has_summary = false;
    char key[DENIAL_LIMITER_KEY_MAX];
    size_t len = strlen(client);
    if (len >= sizeof(key)) {
        len = sizeof(key) - 1;
    }
    memcpy(key, client, len);
    key[len] = 0;

    size_t base = hash_key(key);
    slot *found = NULL;
    slot *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        slot *s = &l->slots[(base + i) % DENIAL_LIMITER_SLOTS];
        if (!strcmp(s->client, key) && s->client[0]) {
            found = s;
            break;
        }
        if (!victim || (victim->client[0] && (!s->client[0] || s->last_seen < victim->last_seen))) {
            victim = s;
        }
    }
    if (!found) {
        if (victim->client[0] && victim->suppressed) {
            take_summary(victim, now_ms, summary);
            *has_summary = true;
        }
        memset(victim, 0, sizeof(*victim));
        memcpy(victim->client, key, len + 1);
        victim->window_start = now_ms;
        found = victim;
    } else if (now_ms - found->window_start >= DENIAL_LIMITER_WINDOW_MS) {
        if (found->suppressed) {
            take_summary(found, now_ms, summary);
            *has_summary = true;
        }
        found->window_start = now_ms;
        found->logged = 0;
    }
    found->last_seen = now_ms;
    if (found->logged < l->per_minute) {
        if (!total_allows(l, now_ms, summary, has_summary)) {
            return false; /* counted in the global window, not the client's */
        }
        found->logged++;
        return true;
    }
    found->suppressed++;
    return false;
}

void denial_limiter_sweep(denial_limiter *l, uint64_t now_ms, bool flush_all,
                          void (*report)(void *ctx, const denial_summary *summary), void *ctx)
{
    if (l->all.client[0] && l->all.suppressed &&
        (flush_all || now_ms - l->all.window_start >= DENIAL_LIMITER_WINDOW_MS)) {
        denial_summary summary;
        take_summary(&l->all, now_ms, &summary);
        report(ctx, &summary);
    }
    for (size_t i = 0; i < DENIAL_LIMITER_SLOTS; i++) {
        slot *s = &l->slots[i];
        if (!s->client[0] || !s->suppressed) {
            continue;
        }
        if (flush_all || now_ms - s->window_start >= DENIAL_LIMITER_WINDOW_MS) {
            denial_summary summary;
            take_summary(s, now_ms, &summary);
            report(ctx, &summary);
        }
    }
}
