#include "queue_outcome.h"

#include <stdio.h>
#include <string.h>

#include "duration.h"

uint64_t queue_outcome_first_queued(const queue_state *state, size_t index)
{
    uint64_t first = state->recipients[index].first_queued;
    return first != 0 ? first : state->queued_at;
}

bool queue_outcome_due(const queue_state *state, size_t index, const retry_schedule *schedule,
                       uint64_t now)
{
    if (index >= state->recipient_count) {
        return false;
    }
    const queue_state_recipient *r = &state->recipients[index];
    if (r->status == QUEUE_STATE_PENDING) {
        return true;
    }
    if (r->status != QUEUE_STATE_DEFERRED) {
        return false;
    }
    return r->next_attempt <= now || state->retry_requested >= r->last_attempt ||
           retry_schedule_expired(schedule, queue_outcome_first_queued(state, index), now);
}

static void copy_reply(char *out, const char *reply)
{
    snprintf(out, QUEUE_STATE_REPLY_MAX + 1, "%s", reply != NULL ? reply : "");
}

bool queue_outcome_decide(const queue_state *state, size_t index, smtp_client_outcome outcome,
                          const char *reply, const retry_schedule *schedule, uint64_t now,
                          queue_outcome_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (index >= state->recipient_count) {
        return false;
    }
    const queue_state_recipient *r = &state->recipients[index];
    if (r->status == QUEUE_STATE_DONE || r->status == QUEUE_STATE_FAILED) {
        return false; /* final: a 250 recorded is never recorded over, nor sent again */
    }
    switch (outcome) {
    case SMTP_OUTCOME_DELIVERED:
        out->status = QUEUE_STATE_DONE;
        copy_reply(out->reply, reply);
        return true;
    case SMTP_OUTCOME_FAILED:
        out->status = QUEUE_STATE_FAILED;
        copy_reply(out->reply, reply);
        return true;
    case SMTP_OUTCOME_DEFERRED:
        break;
    default:
        return false;
    }
    uint64_t first = queue_outcome_first_queued(state, index);
    if (retry_schedule_expired(schedule, first, now)) {
        char age[32];
        duration_format(schedule->expiration, age, sizeof(age));
        out->status = QUEUE_STATE_FAILED;
        out->expired = true;
        snprintf(out->reply, sizeof(out->reply),
                 "4.4.7 not delivered in %s (MessageExpiration); last: %s", age,
                 reply != NULL ? reply : "");
        return true;
    }
    out->status = QUEUE_STATE_DEFERRED;
    out->next_attempt = retry_schedule_next(schedule, r->attempts + 1, now, first);
    copy_reply(out->reply, reply);
    return true;
}

bool queue_outcome_all_final(const queue_state *state)
{
    for (size_t i = 0; i < state->recipient_count; i++) {
        if (state->recipients[i].status != QUEUE_STATE_DONE &&
            state->recipients[i].status != QUEUE_STATE_FAILED) {
            return false;
        }
    }
    return true;
}

size_t queue_outcome_dsn_recipients(const queue_state *state, const char *envelope_sender,
                                    dsn_action action, uint64_t now, uint32_t delay_warning,
                                    size_t *indexes)
{
    size_t n = 0;
    for (size_t i = 0; i < state->recipient_count; i++) {
        if (dsn_due(envelope_sender, action, &state->recipients[i], now, delay_warning)) {
            indexes[n++] = i;
        }
    }
    return n;
}

bool queue_outcome_finished(const queue_state *state, const char *envelope_sender)
{
    if (!queue_outcome_all_final(state)) {
        return false;
    }
    if (envelope_sender == NULL || envelope_sender[0] == '\0') {
        return true;
    }
    for (size_t i = 0; i < state->recipient_count; i++) {
        const queue_state_recipient *r = &state->recipients[i];
        if (r->status == QUEUE_STATE_FAILED && !r->failure_dsn_sent) {
            return false; /* its DSN is not in the spool yet */
        }
    }
    return true;
}
