/* The queue manager's decisions, played against a real journal: each decision is encoded
 * as the service appends it and replayed as the service reads it back, so what is checked
 * is what a recipient, a sender and the queue folder would see. */
#include "queue_outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define T0     1700000000u
#define MINUTE 60u
#define HOUR   3600u

typedef struct message {
    queue_state state;
    retry_schedule schedule;
    char journal[65536];
    size_t size;
} message;

static void replay_all(message *m)
{
    size_t n = m->state.recipient_count;
    queue_state_free(&m->state);
    assert_true(queue_state_init(&m->state, n));
    assert_true(queue_state_replay(&m->state, m->journal, m->size));
    assert_int_equal(m->state.records_skipped, 0);
}

static void append(message *m, size_t len)
{
    assert_true(len > 0);
    m->size += len;
    replay_all(m);
}

static void message_init(message *m, size_t recipients, const char *intervals, uint32_t expiration)
{
    memset(m, 0, sizeof(*m));
    assert_true(queue_state_init(&m->state, recipients));
    assert_true(duration_list_parse(intervals, &m->schedule.intervals, NULL, 0));
    m->schedule.expiration = expiration;
    append(m, queue_state_encode_queued(m->journal, sizeof(m->journal), T0, recipients));
}

/* One attempt's result for recipient i at now, recorded as the service records it. Returns
 * the decision; false (nothing recorded) when there was nothing to decide. */
static bool attempt(message *m, size_t i, smtp_client_outcome outcome, const char *reply,
                    uint64_t now, queue_outcome_decision *d)
{
    if (!queue_outcome_decide(&m->state, i, outcome, reply, &m->schedule, now, d)) {
        return false;
    }
    queue_state_outcome o = {.status = d->status,
                             .time = now,
                             .next_attempt = d->next_attempt,
                             .remote_host = "mx.far.test",
                             .reply = d->reply};
    append(m, queue_state_encode_outcome(m->journal + m->size, sizeof(m->journal) - m->size, &i, 1,
                                         &o));
    return true;
}

static void dsn_sent(message *m, const size_t *idx, size_t n, queue_state_dsn kind, uint64_t now)
{
    append(m, queue_state_encode_dsn_sent(m->journal + m->size, sizeof(m->journal) - m->size, idx,
                                          n, kind, now));
}

static size_t dsns_due(const message *m, const char *sender, dsn_action action, uint64_t now,
                       uint32_t delay_warning)
{
    size_t idx[16];
    assert_true(m->state.recipient_count <= 16);
    return queue_outcome_dsn_recipients(&m->state, sender, action, now, delay_warning, idx);
}

static void a_2xx_is_done_and_never_sent_again(void **state)
{
    (void)state;
    message *m = malloc(sizeof(*m));
    message_init(m, 1, "15m", 2 * 24 * HOUR);
    assert_true(queue_outcome_due(&m->state, 0, &m->schedule, T0));
    queue_outcome_decision d;
    assert_true(attempt(m, 0, SMTP_OUTCOME_DELIVERED, "250 2.0.0 queued as 1", T0 + 5, &d));
    assert_int_equal(d.status, QUEUE_STATE_DONE);
    assert_int_equal(m->state.recipients[0].status, QUEUE_STATE_DONE);
    assert_string_equal(m->state.recipients[0].last_reply, "250 2.0.0 queued as 1");
    /* Not due again: not later, not past the expiry, not after `queue retry`. */
    append(m, queue_state_encode_retry_now(m->journal + m->size, sizeof(m->journal) - m->size,
                                           T0 + 10));
    assert_false(queue_outcome_due(&m->state, 0, &m->schedule, T0 + 10));
    assert_false(queue_outcome_due(&m->state, 0, &m->schedule, T0 + 30 * 24 * HOUR));
    /* A late result (a second connection's, a replayed one) records nothing over it. */
    assert_false(attempt(m, 0, SMTP_OUTCOME_FAILED, "550 5.1.1 no", T0 + 20, &d));
    assert_false(attempt(m, 0, SMTP_OUTCOME_DEFERRED, "451 4.3.0 busy", T0 + 20, &d));
    assert_int_equal(m->state.recipients[0].status, QUEUE_STATE_DONE);
    assert_true(queue_outcome_all_final(&m->state));
    assert_true(queue_outcome_finished(&m->state, "a@b.org"));
    assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_FAILED, T0 + 20, 60), 0);
    assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_DELAYED, T0 + 20, 60), 0);
    queue_state_free(&m->state);
    free(m);
}

/* The 250 of one transaction is recorded before anything else: a crash that tore the next
 * record leaves those recipients done, and only the others are tried again. */
static void a_250_recorded_before_a_crash_is_not_sent_again(void **state)
{
    (void)state;
    message *m = malloc(sizeof(*m));
    message_init(m, 3, "15m", 2 * 24 * HOUR);
    size_t both[2] = {0, 1};
    queue_state_outcome done = {.status = QUEUE_STATE_DONE, .time = T0 + 1, .reply = "250 ok"};
    append(m, queue_state_encode_outcome(m->journal + m->size, sizeof(m->journal) - m->size, both,
                                         2, &done));
    /* The torn record: half a line. */
    memcpy(m->journal + m->size, "R 2 deferred t=17", 17);
    m->size += 17;
    size_t n = m->state.recipient_count;
    queue_state_free(&m->state);
    assert_true(queue_state_init(&m->state, n));
    assert_true(queue_state_replay(&m->state, m->journal, m->size));
    assert_true(m->state.torn_tail);
    assert_false(queue_outcome_due(&m->state, 0, &m->schedule, T0 + 2));
    assert_false(queue_outcome_due(&m->state, 1, &m->schedule, T0 + 2));
    assert_true(queue_outcome_due(&m->state, 2, &m->schedule, T0 + 2));
    assert_false(queue_outcome_all_final(&m->state));
    assert_false(queue_outcome_finished(&m->state, "a@b.org"));
    queue_state_free(&m->state);
    free(m);
}

/* 4xx: deferred, next attempt after the first interval, then the next, the last repeating;
 * due exactly when its time comes. */
static void a_4xx_defers_to_the_next_interval(void **state)
{
    (void)state;
    message *m = malloc(sizeof(*m));
    message_init(m, 1, "15m,30m,1h", 2 * 24 * HOUR);
    static const uint32_t waits[] = {15 * MINUTE, 30 * MINUTE, HOUR, HOUR, HOUR};
    uint64_t now = T0;
    for (size_t k = 0; k < sizeof waits / sizeof waits[0]; k++) {
        queue_outcome_decision d;
        assert_true(attempt(m, 0, SMTP_OUTCOME_DEFERRED, "451 4.3.0 busy", now, &d));
        assert_int_equal(d.status, QUEUE_STATE_DEFERRED);
        assert_false(d.expired);
        assert_int_equal(d.next_attempt, now + waits[k]);
        assert_int_equal(m->state.recipients[0].status, QUEUE_STATE_DEFERRED);
        assert_int_equal(m->state.recipients[0].attempts, k + 1);
        assert_string_equal(m->state.recipients[0].last_reply, "451 4.3.0 busy");
        assert_false(queue_outcome_due(&m->state, 0, &m->schedule, now + waits[k] - 1));
        assert_true(queue_outcome_due(&m->state, 0, &m->schedule, now + waits[k]));
        now += waits[k];
    }
    assert_false(queue_outcome_all_final(&m->state));
    assert_false(queue_outcome_finished(&m->state, "a@b.org"));
    /* `imsrelay queue retry`: due at once. */
    append(m, queue_state_encode_retry_now(m->journal + m->size, sizeof(m->journal) - m->size,
                                           now + 1));
    assert_true(queue_outcome_due(&m->state, 0, &m->schedule, now + 1));
    queue_state_free(&m->state);
    free(m);
}

/* 5xx: failed at once, a failure DSN due for it (once), and the message stays queued until
 * that DSN is in the spool. */
static void a_5xx_fails_and_its_dsn_is_due_once(void **state)
{
    (void)state;
    message *m = malloc(sizeof(*m));
    message_init(m, 2, "15m", 2 * 24 * HOUR);
    queue_outcome_decision d;
    assert_true(
            attempt(m, 0, SMTP_OUTCOME_FAILED, "550 5.1.1 <x@far.test>: no such user", T0 + 3, &d));
    assert_int_equal(d.status, QUEUE_STATE_FAILED);
    assert_false(d.expired);
    assert_true(attempt(m, 1, SMTP_OUTCOME_DELIVERED, "250 ok", T0 + 3, &d));
    assert_false(queue_outcome_due(&m->state, 0, &m->schedule, T0 + HOUR));
    assert_true(queue_outcome_all_final(&m->state));
    size_t idx[2];
    assert_int_equal(
            queue_outcome_dsn_recipients(&m->state, "a@b.org", DSN_ACTION_FAILED, T0 + 3, 0, idx),
            1);
    assert_int_equal(idx[0], 0);
    assert_false(queue_outcome_finished(&m->state, "a@b.org"));
    dsn_sent(m, idx, 1, QUEUE_STATE_DSN_FAILED, T0 + 4);
    assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_FAILED, T0 + 5, 0), 0);
    assert_true(queue_outcome_finished(&m->state, "a@b.org"));
    queue_state_free(&m->state);
    free(m);
}

/* A temporary failure once MessageExpiration has passed: failed with 4.4.7 and the last
 * reply; a deferred recipient is due at its deadline even when its next interval is later,
 * and no next attempt is scheduled past the deadline. */
static void expiry_fails_with_4_4_7(void **state)
{
    (void)state;
    message *m = malloc(sizeof(*m));
    message_init(m, 1, "4h", HOUR);
    queue_outcome_decision d;
    assert_true(attempt(m, 0, SMTP_OUTCOME_DEFERRED, "421 4.4.2 timeout", T0 + 50 * MINUTE, &d));
    assert_int_equal(d.next_attempt, T0 + HOUR); /* not T0 + 50m + 4h */
    assert_false(queue_outcome_due(&m->state, 0, &m->schedule, T0 + HOUR - 1));
    assert_true(queue_outcome_due(&m->state, 0, &m->schedule, T0 + HOUR));
    assert_true(attempt(m, 0, SMTP_OUTCOME_DEFERRED, "451 4.3.0 still busy", T0 + HOUR, &d));
    assert_int_equal(d.status, QUEUE_STATE_FAILED);
    assert_true(d.expired);
    assert_string_equal(
            d.reply, "4.4.7 not delivered in 1h (MessageExpiration); last: 451 4.3.0 still busy");
    assert_int_equal(m->state.recipients[0].status, QUEUE_STATE_FAILED);
    assert_string_equal(m->state.recipients[0].last_reply, d.reply);
    assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_FAILED, T0 + HOUR, 0), 1);
    /* A 2xx or 5xx at the deadline is what it is: only temporary failures expire. */
    queue_state_free(&m->state);
    message_init(m, 2, "4h", HOUR);
    assert_true(attempt(m, 0, SMTP_OUTCOME_DELIVERED, "250 ok", T0 + 2 * HOUR, &d));
    assert_int_equal(d.status, QUEUE_STATE_DONE);
    assert_true(attempt(m, 1, SMTP_OUTCOME_FAILED, "554 5.7.1 no", T0 + 2 * HOUR, &d));
    assert_false(d.expired);
    assert_string_equal(d.reply, "554 5.7.1 no");
    queue_state_free(&m->state);
    free(m);
}

/* The null sender (a DSN itself) never gets a DSN, of either kind; its message leaves the
 * queue once every recipient is final. */
static void the_null_sender_never_gets_a_dsn(void **state)
{
    (void)state;
    message *m = malloc(sizeof(*m));
    message_init(m, 2, "15m", 2 * 24 * HOUR);
    queue_outcome_decision d;
    assert_true(attempt(m, 0, SMTP_OUTCOME_DEFERRED, "451 later", T0 + 1, &d));
    assert_int_equal(dsns_due(m, "", DSN_ACTION_DELAYED, T0 + HOUR, 60), 0);
    assert_int_equal(dsns_due(m, NULL, DSN_ACTION_DELAYED, T0 + HOUR, 60), 0);
    assert_true(attempt(m, 0, SMTP_OUTCOME_FAILED, "550 no", T0 + 2, &d));
    assert_true(attempt(m, 1, SMTP_OUTCOME_FAILED, "550 no", T0 + 2, &d));
    assert_int_equal(dsns_due(m, "", DSN_ACTION_FAILED, T0 + 3, 60), 0);
    assert_true(queue_outcome_finished(&m->state, ""));
    /* The same message from a real sender waits for its two failure DSNs. */
    assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_FAILED, T0 + 3, 60), 2);
    assert_false(queue_outcome_finished(&m->state, "a@b.org"));
    queue_state_free(&m->state);
    free(m);
}

/* DelayNotification 1m: no delay DSN before a recipient has waited a minute, one when it
 * has, and never a second one however long it stays deferred; a later failure still gets
 * its failure DSN. DelayNotification 0: never. */
static void a_delay_dsn_is_due_once(void **state)
{
    (void)state;
    message *m = malloc(sizeof(*m));
    message_init(m, 2, "20s", 2 * 24 * HOUR);
    queue_outcome_decision d;
    assert_true(attempt(m, 0, SMTP_OUTCOME_DEFERRED, "451 4.3.0 busy", T0 + 10, &d));
    assert_true(attempt(m, 1, SMTP_OUTCOME_DELIVERED, "250 ok", T0 + 10, &d));
    assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_DELAYED, T0 + 59, MINUTE), 0);
    size_t idx[2];
    assert_int_equal(queue_outcome_dsn_recipients(&m->state, "a@b.org", DSN_ACTION_DELAYED,
                                                  T0 + MINUTE, MINUTE, idx),
                     1);
    assert_int_equal(idx[0], 0);
    assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_DELAYED, T0 + MINUTE, 0), 0);
    dsn_sent(m, idx, 1, QUEUE_STATE_DSN_DELAYED, T0 + MINUTE);
    uint64_t now = T0 + MINUTE;
    for (int k = 0; k < 5; k++) {
        now += 20;
        assert_true(attempt(m, 0, SMTP_OUTCOME_DEFERRED, "451 4.3.0 busy", now, &d));
        assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_DELAYED, now, MINUTE), 0);
    }
    assert_true(m->state.recipients[0].delay_dsn_sent);
    assert_true(attempt(m, 0, SMTP_OUTCOME_FAILED, "550 5.1.1 gone", now + 20, &d));
    assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_FAILED, now + 20, MINUTE), 1);
    assert_int_equal(dsns_due(m, "a@b.org", DSN_ACTION_DELAYED, now + 20, MINUTE), 0);
    queue_state_free(&m->state);
    free(m);
}

static void nothing_is_decided_for_a_bad_index_or_a_pending_outcome(void **state)
{
    (void)state;
    message *m = malloc(sizeof(*m));
    message_init(m, 1, "15m", HOUR);
    queue_outcome_decision d;
    assert_false(queue_outcome_decide(&m->state, 1, SMTP_OUTCOME_DELIVERED, "250", &m->schedule, T0,
                                      &d));
    assert_false(
            queue_outcome_decide(&m->state, 0, SMTP_OUTCOME_PENDING, "250", &m->schedule, T0, &d));
    assert_false(queue_outcome_due(&m->state, 1, &m->schedule, T0));
    /* A reply longer than the journal keeps is cut, not overrun. */
    char longer[QUEUE_STATE_REPLY_MAX * 2];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_true(queue_outcome_decide(&m->state, 0, SMTP_OUTCOME_DEFERRED, longer, &m->schedule, T0,
                                     &d));
    assert_int_equal(strlen(d.reply), QUEUE_STATE_REPLY_MAX);
    queue_state_free(&m->state);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_2xx_is_done_and_never_sent_again),
            cmocka_unit_test(a_250_recorded_before_a_crash_is_not_sent_again),
            cmocka_unit_test(a_4xx_defers_to_the_next_interval),
            cmocka_unit_test(a_5xx_fails_and_its_dsn_is_due_once),
            cmocka_unit_test(expiry_fails_with_4_4_7),
            cmocka_unit_test(the_null_sender_never_gets_a_dsn),
            cmocka_unit_test(a_delay_dsn_is_due_once),
            cmocka_unit_test(nothing_is_decided_for_a_bad_index_or_a_pending_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
