/* Bytes held by work in progress, in total and per key (a client address), against two
 * caps: messages being received sit in MailRoot\Tmp, and without a bound a few clients that
 * send large messages slowly can fill the disk for everyone.
 *
 * Reserve before writing, release when the bytes leave (the message is stored or thrown
 * away). A reservation that would pass either cap is refused whole. Keys are tracked in a
 * table of fixed size; a key holds a slot only while it holds bytes, and when no slot is
 * free for a new key the reservation is refused (fail closed: a 452, never a false 250).
 * Portable: no lock (the caller serializes). */
#ifndef IMSRELAY_BYTE_BUDGET_H
#define IMSRELAY_BYTE_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BYTE_BUDGET_KEY_MAX 32

typedef struct byte_budget byte_budget;

/* NULL when out of memory. */
byte_budget *byte_budget_create(size_t slots);
void byte_budget_destroy(byte_budget *budget);

/* Takes n more bytes for key if the total stays <= total_cap and the key's share <= key_cap
 * (a cap of 0 means no cap). false: nothing taken. */
bool byte_budget_reserve(byte_budget *budget, const void *key, size_t key_len, uint64_t n,
                         uint64_t total_cap, uint64_t key_cap);

/* Gives back n bytes of key (at most what it holds). */
void byte_budget_release(byte_budget *budget, const void *key, size_t key_len, uint64_t n);

uint64_t byte_budget_total(const byte_budget *budget);
uint64_t byte_budget_held(const byte_budget *budget, const void *key, size_t key_len);

#endif
