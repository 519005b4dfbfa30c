/* The queue manager's decisions about the recipients of one queued message: which are due
 * for an attempt, what an attempt's result records, which DSNs are due, and when the
 * message may leave the queue.
 *
 * Pure functions of the message's queue_state, the settings and the time (whole seconds on
 * the caller's clock, the service uses seconds since 1970 UTC): no I/O, no clock, so every
 * rule the service applies is tested here. The Win32 layer appends the records these
 * decisions describe, spools the DSNs and removes the files.
 *
 * The rules:
 * - a 2xx records done, a 5xx failed, a 4xx (or no answer, or a connection or DNS failure)
 *   deferred with the next attempt from the retry schedule;
 * - a temporary failure at or after the expiry deadline (first queued + MessageExpiration)
 *   records failed with 4.4.7 instead;
 * - a recipient once done or failed stays so: nothing is recorded over it and it is never
 *   due again, so a recorded 250 is never sent again;
 * - DSNs (see dsn_due): never to the null sender, a failure DSN once per failed recipient,
 *   a delay DSN once per recipient deferred for DelayNotification;
 * - a message leaves the queue when every recipient is final and every failure DSN due is
 *   in the spool. */
#ifndef IMSRELAY_DELIVERY_QUEUE_OUTCOME_H
#define IMSRELAY_DELIVERY_QUEUE_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dsn.h"
#include "queue_state.h"
#include "retry_schedule.h"
#include "smtp_client.h"

/* What one attempt's result records for one recipient. */
typedef struct queue_outcome_decision {
    queue_state_status status; /* DONE, DEFERRED or FAILED */
    uint64_t next_attempt;     /* DEFERRED: when to try again; 0 otherwise */
    bool expired;              /* a temporary failure turned into FAILED 4.4.7 */
    /* The reply to record: the attempt's, or for an expired recipient "4.4.7 not delivered
     * in <MessageExpiration> (MessageExpiration); last: <the attempt's reply>", cut to fit. */
    char reply[QUEUE_STATE_REPLY_MAX + 1];
} queue_outcome_decision;

/* The first time a recipient was queued: its own, or the message's when it has none. */
uint64_t queue_outcome_first_queued(const queue_state *state, size_t index);

/* Whether recipient `index` is due for an attempt at now: never tried, or deferred and its
 * next attempt has come, a retry was requested after its last attempt, or it has expired
 * (so that it is failed with 4.4.7 without waiting for another interval). Done and failed
 * recipients never are. */
bool queue_outcome_due(const queue_state *state, size_t index, const retry_schedule *schedule,
                       uint64_t now);

/* What to record for recipient `index` after an attempt that ended at now with `outcome`
 * (DELIVERED, DEFERRED or FAILED) and `reply` (NULL or "" for none). false when nothing is
 * to be recorded: the recipient is already done or failed, the index is out of range, or
 * the outcome is PENDING. */
bool queue_outcome_decide(const queue_state *state, size_t index, smtp_client_outcome outcome,
                          const char *reply, const retry_schedule *schedule, uint64_t now,
                          queue_outcome_decision *out);

/* Every recipient is done or failed. */
bool queue_outcome_all_final(const queue_state *state);

/* The recipients a DSN of this kind is due for at now (see dsn_due), in ascending order,
 * written to indexes (room for state->recipient_count); returns how many. */
size_t queue_outcome_dsn_recipients(const queue_state *state, const char *envelope_sender,
                                    dsn_action action, uint64_t now, uint32_t delay_warning,
                                    size_t *indexes);

/* The message may leave the queue: every recipient is final, and unless the sender is the
 * null sender every failed recipient's failure DSN has been recorded as sent. */
bool queue_outcome_finished(const queue_state *state, const char *envelope_sender);

#endif
