/* How many sessions each client address holds open, for MaxConnectionsPerClient: one lookup
 * at accept and one at the end of a session, whatever the number of sessions or clients (an
 * open-addressing hash table keyed by the normalized address, grown as clients arrive and
 * holding only the addresses that have a session open).
 *
 * Portable C, no lock (the caller serializes), no randomness of its own: the hash seed is
 * the caller's, so that a client cannot choose addresses that all land in one place of the
 * table of a server whose seed it does not know. */
#ifndef IMSRELAY_CLIENT_COUNTS_H
#define IMSRELAY_CLIENT_COUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay_addr.h"

typedef struct client_counts client_counts;

/* NULL when out of memory. */
client_counts *client_counts_create(uint64_t seed);
void client_counts_destroy(client_counts *counts);

/* Sessions open from addr (0 for an address never seen or whose sessions all ended). */
uint32_t client_counts_get(const client_counts *counts, const relay_addr *addr);

/* One more session from addr. false (and nothing counted) only when out of memory. */
bool client_counts_add(client_counts *counts, const relay_addr *addr);

/* One session from addr ended; an address whose count reaches 0 leaves the table. Removing
 * an address that holds no session does nothing. */
void client_counts_remove(client_counts *counts, const relay_addr *addr);

/* Addresses with at least one session open. */
size_t client_counts_clients(const client_counts *counts);

#endif
