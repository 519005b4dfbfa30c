/* What one client address (and all of them together) may take of the server, shared by every
 * session: new connections per minute (ConnectionsPerClientPerMinute), AUTH attempts per
 * minute (AuthAttemptsPerClientPerMinute), and bytes of messages in progress held in
 * MailRoot\Tmp (TmpMaxMegabytes, TmpMaxMegabytesPerClient). The arithmetic is the portable
 * core's (core/limiter: rate_window.h, byte_budget.h); this adds the lock and the clock.
 * Thread-safe. */
#ifndef IMSRELAY_CLIENT_LIMITS_H
#define IMSRELAY_CLIENT_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "relay_addr.h"

typedef struct client_limits client_limits;

/* NULL when out of memory. */
client_limits *client_limits_create(void);
void client_limits_destroy(client_limits *limits);

/* A new connection from client: false when it passed ConnectionsPerClientPerMinute. */
bool client_limits_connection(client_limits *limits, const relay_addr *client,
                              const regio_config *config);

/* An AUTH attempt from client: false when it passed AuthAttemptsPerClientPerMinute. */
bool client_limits_auth_attempt(client_limits *limits, const relay_addr *client,
                                const regio_config *config);

/* n more bytes of a message in progress from client: false (nothing taken) when the total or
 * the client's share would pass its cap. */
bool client_limits_tmp_reserve(client_limits *limits, const relay_addr *client, uint64_t n,
                               const regio_config *config);
void client_limits_tmp_release(client_limits *limits, const relay_addr *client, uint64_t n);
uint64_t client_limits_tmp_total(client_limits *limits);

#endif
