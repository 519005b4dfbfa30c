/* Events rate limited per client address (and, optionally, in all), with a summary event
 * for every count that was not written, so that a flood cannot flood the Application Event
 * Log and no event goes unaccounted. The portable denial_limiter does the counting; this
 * adds the lock and writes the summaries (message `summary_message`: count, client,
 * seconds, limit per minute). Used by the relay-denied and the connection-refused events. */
#ifndef IMSRELAY_LIMITED_EVENTS_H
#define IMSRELAY_LIMITED_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct limited_events limited_events;

limited_events *limited_events_create(uint32_t per_minute, uint32_t summary_message);

/* One event about `client` at `now_ms`: true when it may be written. The limits in force
 * are passed each time (a reload changes them); total_per_minute 0: no limit in all. A
 * summary that is due is written first. */
bool limited_events_allow(limited_events *events, const char *client, uint32_t per_minute,
                          uint32_t total_per_minute, uint64_t now_ms);

/* Summaries of the windows that have ended (about once a minute); flush_all at stop writes
 * every pending count. */
void limited_events_sweep(limited_events *events, bool flush_all);

void limited_events_destroy(limited_events *events);

#endif
