/* Connections refused with 421 for MaxConnectionsPerClient or MaxConnections
 * (MSG_CONNECTION_REFUSED), rate limited per client address by the portable denial_limiter
 * at DenialEventsPerMinute, like relay denials, with a summary event
 * (MSG_REFUSALS_SUPPRESSED) for every refusal that was not written. Thread-safe. */
#ifndef IMSRELAY_CONNECTION_EVENTS_H
#define IMSRELAY_CONNECTION_EVENTS_H

#include <stdint.h>

#include "config.h"

typedef struct connection_events connection_events;

connection_events *connection_events_create(uint32_t per_minute);

/* One refusal of `client` (text): `open` sessions were open against `limit`, the value of the
 * setting `setting`. config: the configuration in force (its DenialEventsPerMinute applies). */
void connection_events_refused(connection_events *events, const regio_config *config,
                               const char *client, uint64_t open, const char *setting,
                               uint64_t limit);

/* Summaries of the windows that have ended; about once a minute. */
void connection_events_sweep(connection_events *events);

/* At stop: every pending summary. */
void connection_events_flush(connection_events *events);

void connection_events_destroy(connection_events *events);

#endif
