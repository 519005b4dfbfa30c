/* Slow senders are cut by the deadlines, honest slow clients are not. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "session_deadline.h"

/* The defaults of the registry table: 300 s idle and per command, 256 B/s, one hour, stress
 * at 70 % with 20 s. */
static const session_deadline_limits defaults = {
        .idle_ms = 300000,
        .command_ms = 300000,
        .data_min_rate = 256,
        .session_ms = 3600000,
        .stress_percent = 70,
        .stress_ms = 20000,
};

static void trickling_command_is_cut_after_the_deadline(void **state)
{
    (void)state;
    /* One byte every 5 s: never silent for long, but the line is not done after 300 s. */
    session_deadline_state s = {.session_start_ms = 0, .phase_start_ms = 1000};
    for (uint64_t t = 1000; t <= 301000; t += 5000) {
        s.last_activity_ms = t;
        assert_int_equal(session_deadline_check(&defaults, &s, t), SESSION_DEADLINE_OK);
    }
    s.last_activity_ms = 301001;
    assert_int_equal(session_deadline_check(&defaults, &s, 301001), SESSION_DEADLINE_COMMAND);
}

static void silence_is_the_idle_timeout(void **state)
{
    (void)state;
    session_deadline_state s = {.last_activity_ms = 0};
    assert_int_equal(session_deadline_check(&defaults, &s, 299999), SESSION_DEADLINE_OK);
    assert_int_equal(session_deadline_check(&defaults, &s, 300000), SESSION_DEADLINE_IDLE);
}

/* Bytes of message data arriving at t, as the transport counts them. */
static void data_at(const session_deadline_limits *limits, session_deadline_state *s,
                    uint64_t bytes, uint64_t t)
{
    s->last_activity_ms = t;
    session_deadline_received(limits, s, bytes, t);
}

static void data_below_the_rate_is_cut_after_the_grace(void **state)
{
    (void)state;
    session_deadline_state s = {.in_data = true};
    /* A trickler: 1 byte every 5 s. Within the 300 s grace it is left alone... */
    for (uint64_t t = 5000; t <= 300000; t += 5000) {
        data_at(&defaults, &s, 1, t);
    }
    assert_int_equal(session_deadline_check(&defaults, &s, 300000), SESSION_DEADLINE_OK);
    /* ...but 60 bytes buy only 180 ms past the grace. */
    assert_int_equal(session_deadline_check(&defaults, &s, 301000), SESSION_DEADLINE_DATA_RATE);
}

static void a_burst_earns_no_stock_of_time_for_a_trickle(void **state)
{
    (void)state;
    /* 9 MiB at once, then one byte every 5 s (issue 14, finding 2: such senders held their
     * share of Tmp for the whole session, since 9 MiB at 256 B/s "earned" 10 hours). */
    session_deadline_state s = {.in_data = true};
    data_at(&defaults, &s, 9u << 20, 1000);
    uint64_t t = 1000;
    for (t = 6000; t <= 301000; t += 5000) {
        data_at(&defaults, &s, 1, t);
        assert_int_equal(session_deadline_check(&defaults, &s, t), SESSION_DEADLINE_OK);
    }
    /* Never more than 300 s past the burst, plus what the trickle itself earned. */
    assert_int_equal(session_deadline_check(&defaults, &s, 302000), SESSION_DEADLINE_DATA_RATE);
}

static void a_slow_honest_link_is_never_cut(void **state)
{
    (void)state;
    /* 10 MiB at 1,000 bytes per second (a 9,600 bit/s modem): about 2.9 hours, which the
     * session limit bounds, but the rate never cuts it. */
    session_deadline_limits no_lifetime = defaults;
    no_lifetime.session_ms = 0;
    session_deadline_state s = {.in_data = true};
    for (uint64_t t = 1000; t <= 10485760; t += 1000) {
        data_at(&no_lifetime, &s, 1000, t);
        assert_int_equal(session_deadline_check(&no_lifetime, &s, t + 999), SESSION_DEADLINE_OK);
    }
}

static void a_reply_starts_a_new_phase(void **state)
{
    (void)state;
    session_deadline_state s = {.in_data = true};
    data_at(&defaults, &s, 1, 299000);
    session_deadline_phase_start(&s, 400000); /* the 250 after the dot, then the next DATA */
    s.last_activity_ms = 400000;
    assert_int_equal(s.data_deadline_ms, 0); /* what the data before it earned is gone */
    /* The grace counts from the reply: 300 s from 400 s, and one byte buys 3 ms more. */
    assert_int_equal(session_deadline_check(&defaults, &s, 699000), SESSION_DEADLINE_OK);
    data_at(&defaults, &s, 1, 699000);
    assert_int_equal(session_deadline_check(&defaults, &s, 700003), SESSION_DEADLINE_OK);
    assert_int_equal(session_deadline_check(&defaults, &s, 700004), SESSION_DEADLINE_DATA_RATE);
}

static void the_session_lifetime_bounds_everything(void **state)
{
    (void)state;
    session_deadline_state s = {.in_data = true};
    data_at(&defaults, &s, 1u << 30, 3599999);
    assert_int_equal(session_deadline_check(&defaults, &s, 3600000), SESSION_DEADLINE_OK);
    assert_int_equal(session_deadline_check(&defaults, &s, 3600001), SESSION_DEADLINE_SESSION);
}

static void stress_shortens_the_time_data_has_earned(void **state)
{
    (void)state;
    /* A burst earns 300 s; once the server is under stress, the trickle that follows is cut
     * within 20 s (StressTimeoutSeconds) of its next byte. */
    session_deadline_state s = {.in_data = true};
    data_at(&defaults, &s, 1u << 20, 1000);
    session_deadline_limits l = session_deadline_effective(&defaults, true);
    data_at(&l, &s, 1, 6000);
    data_at(&l, &s, 1, 11000);
    data_at(&l, &s, 1, 16000);
    data_at(&l, &s, 1, 21000);
    assert_int_equal(session_deadline_check(&l, &s, 26000), SESSION_DEADLINE_OK);
    assert_int_equal(session_deadline_check(&l, &s, 26100), SESSION_DEADLINE_DATA_RATE);
}

static void stress_shortens_idle_command_and_grace(void **state)
{
    (void)state;
    assert_false(session_deadline_stressed(&defaults, 1399, 2000));
    assert_true(session_deadline_stressed(&defaults, 1400, 2000));
    session_deadline_limits off = defaults;
    off.stress_percent = 0;
    assert_false(session_deadline_stressed(&off, 2000, 2000));

    session_deadline_limits l = session_deadline_effective(&defaults, true);
    assert_int_equal(l.idle_ms, 20000);
    assert_int_equal(l.command_ms, 20000);
    assert_int_equal(l.session_ms, 3600000);
    session_deadline_state s = {.phase_start_ms = 0, .last_activity_ms = 20000};
    assert_int_equal(session_deadline_check(&l, &s, 20000), SESSION_DEADLINE_OK);
    assert_int_equal(session_deadline_check(&l, &s, 20001), SESSION_DEADLINE_COMMAND);
    /* Never longer than the normal limits. */
    session_deadline_limits short_normal = defaults;
    short_normal.command_ms = 10000;
    assert_int_equal(session_deadline_effective(&short_normal, true).command_ms, 10000);
    assert_int_equal(session_deadline_effective(&defaults, false).command_ms, 300000);
}

static void a_clock_going_back_cuts_nobody(void **state)
{
    (void)state;
    session_deadline_state s = {
            .session_start_ms = 5000000, .phase_start_ms = 5000000, .last_activity_ms = 5000000};
    assert_int_equal(session_deadline_check(&defaults, &s, 0), SESSION_DEADLINE_OK);
    assert_string_equal(session_deadline_describe(SESSION_DEADLINE_OK), "within limits");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(trickling_command_is_cut_after_the_deadline),
            cmocka_unit_test(silence_is_the_idle_timeout),
            cmocka_unit_test(data_below_the_rate_is_cut_after_the_grace),
            cmocka_unit_test(a_burst_earns_no_stock_of_time_for_a_trickle),
            cmocka_unit_test(a_slow_honest_link_is_never_cut),
            cmocka_unit_test(a_reply_starts_a_new_phase),
            cmocka_unit_test(the_session_lifetime_bounds_everything),
            cmocka_unit_test(stress_shortens_the_time_data_has_earned),
            cmocka_unit_test(stress_shortens_idle_command_and_grace),
            cmocka_unit_test(a_clock_going_back_cuts_nobody),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
