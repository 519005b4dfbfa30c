/* One rate window per key, such as a client address, in a table of fixed size: a flood of
 * new keys evicts old windows instead of growing memory. Portable: no clock, no lock (the
 * caller serializes). */
#ifndef IMSRELAY_RATE_TABLE_H
#define IMSRELAY_RATE_TABLE_H

#include "rate_window.h"

#define RATE_TABLE_KEY_MAX 32 /* bytes: an address family and an IPv6 address fit */

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
