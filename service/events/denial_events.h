/* Relay-denied events (MSG_RELAY_DENIED): rate limited per client address by the portable
 * denial_limiter, with a summary event (MSG_DENIALS_SUPPRESSED) for every count that was
 * not written, and the client's host name looked up (PTR) on a pool thread so that the
 * session that was denied never waits for DNS. Thread-safe. */
#ifndef IMSRELAY_DENIAL_EVENTS_H
#define IMSRELAY_DENIAL_EVENTS_H

#include <winsock2.h>
#include <ws2tcpip.h>

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "relay_policy.h"

typedef struct denial_events denial_events;

/* What the event says besides the rule that decided; NULL or "" is written as "-". */
typedef struct denial_report {
    const struct sockaddr_storage *peer; /* for the PTR lookup; NULL: no lookup */
    const char *client;                  /* textual client address */
    const char *helo;
    const char *auth_account;
    const char *recipient;
    const char *local; /* textual local address the client connected to */
} denial_report;

denial_events *denial_events_create(uint32_t per_minute);

/* One denial. config: the configuration that made the decision, whose rate limit applies
 * (a reload changes the limit as it changes the rules). */
void denial_events_report(denial_events *events, const regio_config *config,
                          const denial_report *report, const relay_verdict *verdict);

/* Summaries of the windows that have ended; about once a minute. */
void denial_events_sweep(denial_events *events);

/* At stop: every pending summary, then waits (bounded) for the host name lookups. */
void denial_events_flush(denial_events *events);

void denial_events_destroy(denial_events *events);

#endif
