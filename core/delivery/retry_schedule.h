/* When to try a deferred recipient again, and when to give up on it.
 *
 * Times are whole seconds on any clock the caller keeps (the service uses seconds since
 * 1970, UTC); nothing here reads a clock. */
#ifndef IMSRELAY_DELIVERY_RETRY_SCHEDULE_H
#define IMSRELAY_DELIVERY_RETRY_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "duration.h"

typedef struct retry_schedule {
    duration_list intervals; /* after attempt n waits intervals[n-1]; the last one repeats */
    uint32_t expiration;     /* MessageExpiration in seconds; 0: never expire */
} retry_schedule;

/* The time of the next attempt for a recipient first queued at first_queued whose
 * attempt number `attempts` (1 for the first) failed temporarily at last_attempt.
 * attempts 0 means not tried yet: due at last_attempt. The result never lies beyond the
 * expiry deadline, so a recipient that cannot be delivered is failed at its deadline and
 * not up to one interval later. */
uint64_t retry_schedule_next(const retry_schedule *schedule, uint32_t attempts,
                             uint64_t last_attempt, uint64_t first_queued);

/* True when a recipient queued at first_queued has been in the queue for the whole
 * expiration at time now (now >= first_queued + expiration). A clock that went back
 * (now < first_queued) never expires anything. */
bool retry_schedule_expired(const retry_schedule *schedule, uint64_t first_queued, uint64_t now);

/* first_queued + expiration, saturated; UINT64_MAX when expiration is 0 (never). */
uint64_t retry_schedule_deadline(const retry_schedule *schedule, uint64_t first_queued);

#endif
