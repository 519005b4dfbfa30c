/* A spam run cannot flood the event log, and every denial is still accounted for. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "denial_limiter.h"

typedef struct tally {
    uint64_t logged;
    uint64_t reported;
    int summaries;
    denial_summary last;
} tally;

static void deny(denial_limiter *l, const char *client, uint64_t now, tally *t)
{
    denial_summary s;
    bool has = false;
    if (denial_limiter_on_denial(l, client, now, &s, &has)) {
        t->logged++;
    }
    if (has) {
        t->reported += s.suppressed;
        t->summaries++;
        t->last = s;
    }
}

static void on_summary(void *ctx, const denial_summary *s)
{
    tally *t = ctx;
    t->reported += s->suppressed;
    t->summaries++;
    t->last = *s;
}

static void first_denials_of_a_minute_are_logged_the_rest_counted(void **state)
{
    (void)state;
    denial_limiter *l = denial_limiter_create(10);
    tally t = {0};
    for (int i = 0; i < 1000; i++) {
        deny(l, "192.0.2.7", 1000 + (uint64_t)i * 10, &t); /* 1000 denials in 10 s */
    }
    assert_int_equal(t.logged, 10);
    assert_int_equal(t.summaries, 0);
    /* Once the minute is over, the sweep reports the 990 that were not logged. */
    denial_limiter_sweep(l, 1000 + 60000, false, on_summary, &t);
    assert_int_equal(t.summaries, 1);
    assert_int_equal(t.reported, 990);
    assert_string_equal(t.last.client, "192.0.2.7");
    assert_int_equal(t.last.seconds, 60);
    /* Reported once only. */
    denial_limiter_sweep(l, 1000 + 120000, false, on_summary, &t);
    assert_int_equal(t.summaries, 1);
    denial_limiter_destroy(l);
}

static void sweep_before_the_window_ends_reports_nothing_unless_flushing(void **state)
{
    (void)state;
    denial_limiter *l = denial_limiter_create(1);
    tally t = {0};
    deny(l, "192.0.2.1", 0, &t);
    deny(l, "192.0.2.1", 5, &t);
    denial_limiter_sweep(l, 30000, false, on_summary, &t);
    assert_int_equal(t.summaries, 0);
    denial_limiter_sweep(l, 30000, true, on_summary, &t); /* the service stops */
    assert_int_equal(t.summaries, 1);
    assert_int_equal(t.reported, 1);
    assert_int_equal(t.last.seconds, 30);
    denial_limiter_destroy(l);
}

static void a_new_window_reports_the_previous_one_first(void **state)
{
    (void)state;
    denial_limiter *l = denial_limiter_create(2);
    tally t = {0};
    for (int i = 0; i < 5; i++) {
        deny(l, "2001:db8::1", (uint64_t)i, &t);
    }
    assert_int_equal(t.logged, 2);
    deny(l, "2001:db8::1", 70000, &t); /* next minute: logged again, summary of 3 first */
    assert_int_equal(t.logged, 3);
    assert_int_equal(t.summaries, 1);
    assert_int_equal(t.reported, 3);
    denial_limiter_destroy(l);
}

static void clients_are_limited_independently(void **state)
{
    (void)state;
    denial_limiter *l = denial_limiter_create(3);
    tally t = {0};
    for (int i = 0; i < 10; i++) {
        deny(l, "198.51.100.1", (uint64_t)i, &t);
        deny(l, "198.51.100.2", (uint64_t)i, &t);
    }
    assert_int_equal(t.logged, 6);
    denial_limiter_destroy(l);
}

static void many_clients_never_lose_a_count(void **state)
{
    (void)state;
    /* Far more clients than slots: evicted clients' counts are reported on eviction. */
    denial_limiter *l = denial_limiter_create(1);
    tally t = {0};
    uint64_t total = 0;
    char client[32];
    for (int round = 0; round < 3; round++) {
        for (int c = 0; c < 5000; c++) {
            snprintf(client, sizeof(client), "10.%d.%d.%d", round, c / 256, c % 256);
            for (int k = 0; k < 3; k++) {
                deny(l, client, (uint64_t)round * 1000 + (uint64_t)c, &t);
                total++;
            }
        }
    }
    denial_limiter_sweep(l, 1000000, true, on_summary, &t);
    assert_int_equal(t.logged + t.reported, total);
    denial_limiter_destroy(l);
}

static void zero_rate_logs_nothing_but_counts_all(void **state)
{
    (void)state;
    denial_limiter *l = denial_limiter_create(0);
    tally t = {0};
    deny(l, "192.0.2.9", 0, &t);
    deny(l, "192.0.2.9", 1, &t);
    assert_int_equal(t.logged, 0);
    denial_limiter_set_rate(l, 5);
    deny(l, "192.0.2.9", 2, &t);
    assert_int_equal(t.logged, 1);
    denial_limiter_sweep(l, 3, true, on_summary, &t);
    assert_int_equal(t.reported, 2);
    denial_limiter_destroy(l);
}

static void overlong_client_text_is_cut_not_overflowed(void **state)
{
    (void)state;
    denial_limiter *l = denial_limiter_create(1);
    tally t = {0};
    char client[300];
    memset(client, 'a', sizeof(client) - 1);
    client[sizeof(client) - 1] = 0;
    deny(l, client, 0, &t);
    deny(l, client, 1, &t);
    denial_limiter_sweep(l, 2, true, on_summary, &t);
    assert_int_equal(t.reported, 1);
    assert_int_equal(strlen(t.last.client), DENIAL_LIMITER_KEY_MAX - 1);
    denial_limiter_destroy(l);
}

/* Denials from many addresses, each under its own limit, are held to the global one, and
 * every denial is still either logged or counted in a summary. */
static void many_addresses_are_held_to_the_total(void **state)
{
    (void)state;
    denial_limiter *l = denial_limiter_create(10);
    denial_limiter_set_total_rate(l, 100);
    tally t = {0};
    char client[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(client, sizeof client, "10.%d.%d.1", i / 200, i % 200);
        deny(l, client, 1000 + (uint64_t)i, &t);
    }
    assert_int_equal(t.logged, 100);
    denial_limiter_sweep(l, 1000 + DENIAL_LIMITER_WINDOW_MS, false, on_summary, &t);
    assert_int_equal(t.logged + t.reported, 5000);
    assert_string_equal(t.last.client, DENIAL_LIMITER_ALL_CLIENTS);
    /* A new minute logs again. */
    deny(l, "10.99.0.1", 2000 + DENIAL_LIMITER_WINDOW_MS, &t);
    assert_int_equal(t.logged, 101);
    denial_limiter_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(many_addresses_are_held_to_the_total),
            cmocka_unit_test(first_denials_of_a_minute_are_logged_the_rest_counted),
            cmocka_unit_test(sweep_before_the_window_ends_reports_nothing_unless_flushing),
            cmocka_unit_test(a_new_window_reports_the_previous_one_first),
            cmocka_unit_test(clients_are_limited_independently),
            cmocka_unit_test(many_clients_never_lose_a_count),
            cmocka_unit_test(zero_rate_logs_nothing_but_counts_all),
            cmocka_unit_test(overlong_client_text_is_cut_not_overflowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
