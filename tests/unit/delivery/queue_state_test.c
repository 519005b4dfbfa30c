/* The per-recipient delivery journal: what is recorded is what a replay after a crash
 * knows, a torn or damaged line costs only itself, and final outcomes are never undone. */
#include "queue_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define T0 1700000000u

typedef struct journal {
    char *data;
    size_t size;
    size_t capacity;
} journal;

static void append(journal *j, const char *record, size_t len)
{
    assert_true(len > 0);
    if (j->size + len > j->capacity) {
        j->capacity = (j->size + len) * 2;
        j->data = realloc(j->data, j->capacity);
        assert_non_null(j->data);
    }
    memcpy(j->data + j->size, record, len);
    j->size += len;
}

static void add_queued(journal *j, uint64_t t, size_t n)
{
    char rec[256];
    append(j, rec, queue_state_encode_queued(rec, sizeof(rec), t, n));
}

static void add_outcome(journal *j, const size_t *idx, size_t count, queue_state_status status,
                        uint64_t t, uint64_t next, const char *host, const char *reply)
{
    char rec[4096];
    queue_state_outcome o = {status, t, next, host, reply, NULL};
    append(j, rec, queue_state_encode_outcome(rec, sizeof(rec), idx, count, &o));
}

static queue_state replay(const journal *j, size_t recipients)
{
    queue_state s;
    assert_true(queue_state_init(&s, recipients));
    /* A private copy of exactly the journal's bytes, so an overread is caught. */
    char *copy = malloc(j->size ? j->size : 1);
    assert_non_null(copy);
    memcpy(copy, j->data, j->size);
    assert_true(queue_state_replay(&s, copy, j->size));
    free(copy);
    return s;
}

static void records_are_single_lines_with_a_standard_crc32(void **state)
{
    (void)state;
    char rec[256];
    const size_t idx[] = {0, 1, 2, 5};
    queue_state_outcome done = {QUEUE_STATE_DONE, T0, 0, "mx.example.net", "250 2.0.0 OK", NULL};
    size_t len = queue_state_encode_outcome(rec, sizeof(rec), idx, 4, &done);
    /* The CRC is zlib's crc32 of the bytes before " crc=" (checked with Python). */
    assert_string_equal(rec, "R 0-2,5 done t=1700000000 host=mx.example.net "
                             "reply=250%202.0.0%20OK crc=c2b95180\r\n");
    assert_int_equal(len, strlen(rec));
    len = queue_state_encode_queued(rec, sizeof(rec), T0, 3);
    assert_string_equal(rec, "Q t=1700000000 n=3 crc=80de1392\r\n");
    assert_int_equal(len, strlen(rec));
    const size_t one = 7;
    queue_state_outcome later = {QUEUE_STATE_DEFERRED, T0 + 5, T0 + 905, "", NULL, NULL};
    queue_state_encode_outcome(rec, sizeof(rec), &one, 1, &later);
    assert_memory_equal(rec, "R 7 deferred t=1700000005 next=1700000905 crc=", 46);
    queue_state_encode_retry_now(rec, sizeof(rec), T0 + 9);
    assert_memory_equal(rec, "N t=1700000009 crc=", 19);
    queue_state_encode_dsn_sent(rec, sizeof(rec), idx, 4, QUEUE_STATE_DSN_DELAYED, T0 + 10);
    assert_memory_equal(rec, "S 0-2,5 delayed t=1700000010 crc=", 33);
}

static void encoders_refuse_what_cannot_be_replayed(void **state)
{
    (void)state;
    char rec[256];
    const size_t idx[] = {0, QUEUE_STATE_RECIPIENTS_MAX};
    queue_state_outcome done = {QUEUE_STATE_DONE, T0, 0, NULL, NULL, NULL};
    queue_state_outcome pending = {QUEUE_STATE_PENDING, T0, 0, NULL, NULL, NULL};
    assert_int_equal(queue_state_encode_outcome(rec, sizeof(rec), idx, 0, &done), 0);
    assert_int_equal(queue_state_encode_outcome(rec, sizeof(rec), idx, 2, &done), 0);
    assert_int_equal(queue_state_encode_outcome(rec, sizeof(rec), idx, 1, &pending), 0);
    assert_int_equal(
            queue_state_encode_dsn_sent(rec, sizeof(rec), idx, 2, QUEUE_STATE_DSN_FAILED, T0), 0);
    assert_int_equal(queue_state_encode_queued(rec, sizeof(rec), T0, 0), 0);
    assert_int_equal(queue_state_encode_queued(rec, sizeof(rec), T0, 100001), 0);
    /* Too small a buffer: nothing half-written. */
    assert_int_equal(queue_state_encode_queued(rec, 20, T0, 3), 0);
    assert_string_equal(rec, "");
    assert_int_equal(queue_state_encode_queued(rec, 34, T0, 3), 33);
    assert_int_equal(queue_state_encode_queued(rec, 33, T0, 3), 0);
}

static void a_delivery_story(void **state)
{
    (void)state;
    journal j = {0};
    add_queued(&j, T0, 3);
    const size_t all[] = {0, 1, 2};
    add_outcome(&j, all, 3, QUEUE_STATE_DEFERRED, T0 + 10, T0 + 910, "mx1.example.net",
                "421 4.7.0 Try again later");
    const size_t first[] = {0};
    add_outcome(&j, first, 1, QUEUE_STATE_DONE, T0 + 920, 0, "mx2.example.net",
                "250 2.0.0 Ok: queued as 12345");
    const size_t second[] = {1};
    add_outcome(&j, second, 1, QUEUE_STATE_FAILED, T0 + 920, 0, "mx2.example.net",
                "550-5.1.1 no such user\r\n550 5.1.1 see https://example.net/help");
    char rec[256];
    append(&j, rec,
           queue_state_encode_dsn_sent(rec, sizeof(rec), second, 1, QUEUE_STATE_DSN_FAILED,
                                       T0 + 921));
    const size_t third[] = {2};
    add_outcome(&j, third, 1, QUEUE_STATE_DEFERRED, T0 + 930, T0 + 4530, NULL,
                "connect: timed out");
    append(&j, rec, queue_state_encode_retry_now(rec, sizeof(rec), T0 + 1000));

    queue_state s = replay(&j, 3);
    assert_int_equal(s.records_applied, 7);
    assert_int_equal(s.records_skipped, 0);
    assert_false(s.torn_tail);
    assert_int_equal(s.complete_size, j.size);
    assert_int_equal(s.queued_at, T0);
    assert_int_equal(s.retry_requested, T0 + 1000);

    queue_state_recipient *r = s.recipients;
    assert_int_equal(r[0].status, QUEUE_STATE_DONE);
    assert_int_equal(r[0].attempts, 2);
    assert_int_equal(r[0].first_queued, T0);
    assert_int_equal(r[0].last_attempt, T0 + 920);
    assert_int_equal(r[0].next_attempt, 0);
    assert_string_equal(r[0].remote_host, "mx2.example.net");
    assert_string_equal(r[0].last_reply, "250 2.0.0 Ok: queued as 12345");

    assert_int_equal(r[1].status, QUEUE_STATE_FAILED);
    assert_string_equal(r[1].last_reply,
                        "550-5.1.1 no such user\r\n550 5.1.1 see https://example.net/help");
    assert_true(r[1].failure_dsn_sent);
    assert_false(r[1].delay_dsn_sent);
    assert_false(r[0].failure_dsn_sent);

    assert_int_equal(r[2].status, QUEUE_STATE_DEFERRED);
    assert_int_equal(r[2].attempts, 2);
    assert_string_equal(r[2].remote_host, "");
    assert_string_equal(r[2].last_reply, "connect: timed out");
    /* "imsrelay queue retry" brought the next attempt forward to the request. */
    assert_int_equal(r[2].next_attempt, T0 + 1000);
    assert_string_equal(queue_state_status_name(r[2].status), "deferred");
    queue_state_free(&s);
    free(j.data);
}

static void final_outcomes_are_never_undone(void **state)
{
    (void)state;
    journal j = {0};
    const size_t both[] = {0, 1};
    const size_t first[] = {0};
    const size_t second[] = {1};
    add_outcome(&j, first, 1, QUEUE_STATE_DONE, T0, 0, "a", "250 ok");
    add_outcome(&j, second, 1, QUEUE_STATE_FAILED, T0, 0, "a", "550 no");
    add_outcome(&j, both, 2, QUEUE_STATE_DEFERRED, T0 + 1, T0 + 60, "b", "451 later");
    add_outcome(&j, both, 2, QUEUE_STATE_DONE, T0 + 2, 0, "c", "250 again");
    queue_state s = replay(&j, 2);
    assert_int_equal(s.records_applied, 4);
    assert_int_equal(s.recipients[0].status, QUEUE_STATE_DONE);
    assert_string_equal(s.recipients[0].last_reply, "250 ok");
    assert_int_equal(s.recipients[0].attempts, 1);
    assert_int_equal(s.recipients[1].status, QUEUE_STATE_FAILED);
    assert_string_equal(s.recipients[1].last_reply, "550 no");
    queue_state_free(&s);
    free(j.data);
}

/* After a crash at any byte, the replay knows exactly the records whose line is whole, and
 * complete_size is where the next append must go. */
static void a_torn_last_line_is_ignored_at_every_byte(void **state)
{
    (void)state;
    journal j = {0};
    add_queued(&j, T0, 2);
    const size_t both[] = {0, 1};
    add_outcome(&j, both, 2, QUEUE_STATE_DEFERRED, T0 + 1, T0 + 61, "mx.example.net",
                "451 4.3.0 busy");
    size_t before_done = j.size;
    add_outcome(&j, both, 2, QUEUE_STATE_DONE, T0 + 70, 0, "mx.example.net", "250 2.0.0 ok");
    for (size_t cut = before_done; cut <= j.size; cut++) {
        journal prefix = {j.data, cut, cut};
        queue_state s = replay(&prefix, 2);
        bool whole = cut == j.size;
        assert_int_equal(s.torn_tail, !whole && cut != before_done);
        assert_int_equal(s.complete_size, whole ? j.size : before_done);
        assert_int_equal(s.records_applied, whole ? 3 : 2);
        assert_int_equal(s.records_skipped, 0);
        assert_int_equal(s.recipients[1].status, whole ? QUEUE_STATE_DONE : QUEUE_STATE_DEFERRED);
        queue_state_free(&s);
    }
    /* The service truncates to complete_size and appends: the new record counts. */
    journal again = {0};
    append(&again, j.data, j.size - 5);
    again.size = before_done;
    add_outcome(&again, both, 2, QUEUE_STATE_DONE, T0 + 80, 0, "mx.example.net", "250 ok");
    queue_state s = replay(&again, 2);
    assert_int_equal(s.records_applied, 3);
    assert_int_equal(s.recipients[0].status, QUEUE_STATE_DONE);
    queue_state_free(&s);
    free(again.data);
    free(j.data);
}

static void a_damaged_record_in_the_middle_costs_only_itself(void **state)
{
    (void)state;
    journal j = {0};
    add_queued(&j, T0, 3);
    const size_t r0[] = {0}, r1[] = {1}, r2[] = {2};
    add_outcome(&j, r0, 1, QUEUE_STATE_DONE, T0 + 1, 0, "mx", "250 ok");
    size_t second = j.size;
    add_outcome(&j, r1, 1, QUEUE_STATE_DONE, T0 + 2, 0, "mx", "250 ok");
    size_t third = j.size;
    add_outcome(&j, r2, 1, QUEUE_STATE_FAILED, T0 + 3, 0, "mx", "550 no");
    /* Every single-bit change inside the record is caught (CRC-32 detects all of them). */
    for (size_t at = second; at < third; at++) {
        for (int bit = 0; bit < 8; bit++) {
            j.data[at] ^= (char)(1 << bit);
            bool split = j.data[at] == '\n'; /* a new line end: two bad lines */
            bool merged = at == third - 1;   /* its line end lost: glued to the next */
            queue_state s = replay(&j, 3);
            assert_int_equal(s.recipients[0].status, QUEUE_STATE_DONE);
            assert_int_equal(s.recipients[1].status, QUEUE_STATE_PENDING);
            assert_int_equal(s.recipients[2].status,
                             merged ? QUEUE_STATE_PENDING : QUEUE_STATE_FAILED);
            assert_int_equal(s.records_applied, merged ? 2 : 3);
            assert_int_equal(s.records_skipped, split ? 2 : 1);
            assert_int_equal(s.first_skipped_line, 3);
            queue_state_free(&s);
            j.data[at] ^= (char)(1 << bit);
        }
    }
    free(j.data);
}

static void records_for_another_file_are_skipped(void **state)
{
    (void)state;
    journal j = {0};
    add_queued(&j, T0, 5); /* this file has 3 recipients */
    const size_t beyond[] = {1, 3};
    add_outcome(&j, beyond, 2, QUEUE_STATE_DONE, T0, 0, "mx", "250 ok");
    append(&j, "\r\n", 2);
    append(&j, "garbage\n", 8);
    queue_state s = replay(&j, 3);
    assert_int_equal(s.records_applied, 0);
    assert_int_equal(s.records_skipped, 4);
    assert_int_equal(s.first_skipped_line, 1);
    assert_int_equal(s.recipients[1].status, QUEUE_STATE_PENDING);
    assert_int_equal(s.recipients[1].first_queued, 0);
    assert_int_equal(s.complete_size, j.size);
    queue_state_free(&s);
    free(j.data);
}

static void texts_are_escaped_bounded_and_restored(void **state)
{
    (void)state;
    char reply[QUEUE_STATE_REPLY_MAX + 100];
    memset(reply, 'x', sizeof(reply) - 1);
    reply[sizeof(reply) - 1] = '\0';
    memcpy(reply, "451 a%b c\t\x01\xff", 12);
    journal j = {0};
    const size_t r0[] = {0};
    add_outcome(&j, r0, 1, QUEUE_STATE_DEFERRED, T0, T0 + 1, "h\r\nQ t=1 n=1 crc=00000000", reply);
    /* One record, one line, whatever the remote said. */
    const char *lf = memchr(j.data, '\n', j.size);
    assert_int_equal(lf - j.data, j.size - 1);
    assert_null(memchr(j.data, '\t', j.size));
    assert_null(memchr(j.data, '\r', j.size - 2));
    queue_state s = replay(&j, 1);
    assert_int_equal(s.records_applied, 1);
    assert_int_equal(strlen(s.recipients[0].last_reply), QUEUE_STATE_REPLY_MAX);
    assert_memory_equal(s.recipients[0].last_reply, "451 a%b c\t\x01\xffxxx", 15);
    assert_string_equal(s.recipients[0].remote_host, "h\r\nQ t=1 n=1 crc=00000000");
    assert_int_equal(s.queued_at, 0);
    queue_state_free(&s);
    free(j.data);
}

static void each_attempt_keeps_its_tls_and_older_records_have_none(void **state)
{
    (void)state;
    journal j = {0};
    const size_t r0[] = {0}, r1[] = {1};
    add_outcome(&j, r0, 1, QUEUE_STATE_DEFERRED, T0, T0 + 60, "old", "421 busy");
    char rec[4096];
    queue_state_outcome o = {QUEUE_STATE_DONE,
                             T0 + 60,
                             0,
                             "relay [127.0.0.1:465]",
                             "250 ok",
                             "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 verified"};
    size_t n = queue_state_encode_outcome(rec, sizeof(rec), r1, 1, &o);
    assert_non_null(strstr(rec, " tls=TLSv1.2%20TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384%20verified"));
    append(&j, rec, n);
    queue_state s = replay(&j, 2);
    assert_int_equal(s.records_applied, 2);
    assert_string_equal(s.recipients[0].last_tls, ""); /* a record from before tls= */
    assert_string_equal(s.recipients[1].last_tls,
                        "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 verified");
    queue_state_free(&s);
    free(j.data);
}

/* The largest set a record can name, every other one of 100000 recipients, fits the
 * documented buffer and replays. */
static void the_biggest_record_fits(void **state)
{
    (void)state;
    size_t count = QUEUE_STATE_RECIPIENTS_MAX / 2;
    size_t *idx = malloc(count * sizeof(*idx));
    assert_non_null(idx);
    for (size_t i = 0; i < count; i++) {
        idx[i] = QUEUE_STATE_RECIPIENTS_MAX - 1 - 2 * i; /* descending: no ranges at all */
    }
    char *rec = malloc(QUEUE_STATE_RECORD_MAX);
    assert_non_null(rec);
    char long_reply[QUEUE_STATE_REPLY_MAX + 1];
    memset(long_reply, ' ', QUEUE_STATE_REPLY_MAX);
    long_reply[QUEUE_STATE_REPLY_MAX] = '\0';
    char long_host[QUEUE_STATE_HOST_MAX + 1];
    memset(long_host, '%', QUEUE_STATE_HOST_MAX);
    long_host[QUEUE_STATE_HOST_MAX] = '\0';
    queue_state_outcome o = {QUEUE_STATE_DEFERRED, UINT64_MAX, UINT64_MAX, long_host,
                             long_reply,           NULL};
    size_t len = queue_state_encode_outcome(rec, QUEUE_STATE_RECORD_MAX, idx, count, &o);
    assert_true(len > 0);
    journal j = {rec, len, QUEUE_STATE_RECORD_MAX};
    queue_state s = replay(&j, QUEUE_STATE_RECIPIENTS_MAX);
    assert_int_equal(s.records_applied, 1);
    assert_int_equal(s.recipients[QUEUE_STATE_RECIPIENTS_MAX - 1].status, QUEUE_STATE_DEFERRED);
    assert_int_equal(s.recipients[QUEUE_STATE_RECIPIENTS_MAX - 2].status, QUEUE_STATE_PENDING);
    assert_int_equal(s.recipients[1].status, QUEUE_STATE_DEFERRED);
    assert_int_equal(s.recipients[1].next_attempt, UINT64_MAX);
    assert_int_equal(strlen(s.recipients[1].remote_host), QUEUE_STATE_HOST_MAX);
    queue_state_free(&s);
    free(rec);
    free(idx);
}

static void many_records_replay_whole_or_one_by_one_alike(void **state)
{
    (void)state;
    enum { RECIPIENTS = 50, ROUNDS = 400 };
    journal j = {0};
    add_queued(&j, T0, RECIPIENTS);
    uint32_t expected_attempts[RECIPIENTS] = {0};
    for (size_t round = 0; round < ROUNDS; round++) {
        size_t idx[RECIPIENTS];
        size_t n = 0;
        for (size_t i = round % 7; i < RECIPIENTS; i += 1 + round % 5) {
            idx[n++] = i;
            expected_attempts[i]++;
        }
        char reply[64];
        snprintf(reply, sizeof(reply), "451 round %zu", round);
        add_outcome(&j, idx, n, QUEUE_STATE_DEFERRED, T0 + round, T0 + round + 60, "mx", reply);
    }
    queue_state whole = replay(&j, RECIPIENTS);
    assert_int_equal(whole.records_applied, ROUNDS + 1);
    queue_state pieces;
    assert_true(queue_state_init(&pieces, RECIPIENTS));
    size_t pos = 0;
    while (pos < j.size) {
        const char *lf = memchr(j.data + pos, '\n', j.size - pos);
        size_t len = (size_t)(lf - (j.data + pos)) + 1;
        assert_true(queue_state_replay(&pieces, j.data + pos, len));
        pos += len;
    }
    assert_int_equal(pieces.complete_size, j.size);
    for (size_t i = 0; i < RECIPIENTS; i++) {
        assert_int_equal(whole.recipients[i].attempts, expected_attempts[i]);
        assert_int_equal(pieces.recipients[i].attempts, expected_attempts[i]);
        assert_int_equal(whole.recipients[i].next_attempt, pieces.recipients[i].next_attempt);
        assert_string_equal(whole.recipients[i].last_reply, pieces.recipients[i].last_reply);
    }
    assert_string_equal(whole.recipients[0].last_reply, "451 round 399");
    queue_state_free(&whole);
    queue_state_free(&pieces);
    free(j.data);
}

static void init_bounds(void **state)
{
    (void)state;
    queue_state s;
    assert_false(queue_state_init(&s, 0));
    assert_false(queue_state_init(&s, QUEUE_STATE_RECIPIENTS_MAX + 1));
    assert_true(queue_state_init(&s, 1));
    assert_int_equal(s.recipients[0].status, QUEUE_STATE_PENDING);
    assert_string_equal(s.recipients[0].last_reply, "");
    assert_true(queue_state_replay(&s, "", 0));
    assert_false(s.torn_tail);
    queue_state_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(records_are_single_lines_with_a_standard_crc32),
            cmocka_unit_test(encoders_refuse_what_cannot_be_replayed),
            cmocka_unit_test(a_delivery_story),
            cmocka_unit_test(final_outcomes_are_never_undone),
            cmocka_unit_test(a_torn_last_line_is_ignored_at_every_byte),
            cmocka_unit_test(a_damaged_record_in_the_middle_costs_only_itself),
            cmocka_unit_test(records_for_another_file_are_skipped),
            cmocka_unit_test(texts_are_escaped_bounded_and_restored),
            cmocka_unit_test(each_attempt_keeps_its_tls_and_older_records_have_none),
            cmocka_unit_test(the_biggest_record_fits),
            cmocka_unit_test(many_records_replay_whole_or_one_by_one_alike),
            cmocka_unit_test(init_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
