/* Counting events per minute: one global window (rate_window), and one window per key, such
 * as a client address, in a table of fixed size (rate_table). What a limit refuses is
 * counted, so a summary can say how much was not done.
 *
 * A window starts at the first event after the previous one ended and lasts
 * RATE_WINDOW_MS; its first `per_minute` events are allowed. Portable: no clock (now_ms from
 * any monotonic clock is passed in), no lock (the caller serializes). */
#ifndef IMSRELAY_RATE_WINDOW_H
#define IMSRELAY_RATE_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATE_WINDOW_MS     60000u
#define RATE_TABLE_KEY_MAX 32 /* bytes: an address family and an IPv6 address fit */

typedef struct rate_window {
    uint64_t start_ms;
    uint32_t count;   /* events allowed in the current window */
    uint64_t refused; /* refused since the last rate_window_take_refused */
    bool started;
} rate_window;

/* One event at now_ms under a limit of per_minute (0: no limit, always allowed). */
bool rate_window_allow(rate_window *w, uint64_t now_ms, uint32_t per_minute);

/* The count of refused events since the last call, and resets it. */
uint64_t rate_window_take_refused(rate_window *w);

typedef struct rate_table rate_table;

/* A table tracking up to `slots` keys at once; a new key takes the slot whose window ended
 * longest ago, or else the least recently started one. NULL when out of memory. */
rate_table *rate_table_create(size_t slots);
void rate_table_destroy(rate_table *table);

/* One event of `key` (key_len <= RATE_TABLE_KEY_MAX bytes, longer keys are cut) at now_ms;
 * false when the key has had per_minute events in its current window (0: no limit). */
bool rate_table_allow(rate_table *table, const void *key, size_t key_len, uint64_t now_ms,
                      uint32_t per_minute);

#endif
