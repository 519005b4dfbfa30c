/* Durations and retry schedules as an administrator writes them, and the arithmetic of
 * when a deferred recipient is tried again or given up. */
#include "duration.h"
#include "retry_schedule.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static uint32_t parse_ok(const char *text)
{
    uint32_t seconds = 12345;
    char error[DURATION_ERROR_MAX] = "";
    if (!duration_parse(text, &seconds, error, sizeof(error))) {
        fail_msg("\"%s\" rejected: %s", text, error);
    }
    return seconds;
}

static void expect_error(const char *text, const char *expected)
{
    uint32_t seconds = 0;
    char error[DURATION_ERROR_MAX] = "";
    assert_false(duration_parse(text, &seconds, error, sizeof(error)));
    assert_string_equal(error, expected);
}

static void expect_list_error(const char *text, const char *expected)
{
    duration_list list;
    char error[DURATION_ERROR_MAX] = "";
    assert_false(duration_list_parse(text, &list, error, sizeof(error)));
    assert_string_equal(error, expected);
}

static void durations_in_every_unit(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("30s"), 30);
    assert_int_equal(parse_ok("15m"), 900);
    assert_int_equal(parse_ok("1h"), 3600);
    assert_int_equal(parse_ok("2d"), 172800);
    assert_int_equal(parse_ok("  4H  "), 14400);
    assert_int_equal(parse_ok("\t90M"), 5400);
    assert_int_equal(parse_ok("1s"), 1);
    assert_int_equal(parse_ok("30d"), 30 * 86400);
    assert_int_equal(parse_ok("720h"), 30 * 86400);
    assert_int_equal(parse_ok("007m"), 420);
}

static void zero_means_off(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("0"), 0);
    assert_int_equal(parse_ok(" 0 "), 0);
    assert_int_equal(parse_ok("0m"), 0);
}

static void bad_durations_say_why(void **state)
{
    (void)state;
    expect_error("", "is empty");
    expect_error("   ", "is empty");
    expect_error("30", "\"30\" has no unit (expected s, m, h or d, e.g. 15m)");
    expect_error("15x", "\"15x\" has an unknown unit (expected s, m, h or d)");
    expect_error("15 m", "\"15 m\" has an unknown unit (expected s, m, h or d)");
    expect_error("1h30m", "\"1h30m\" has more than one unit letter (expected one, e.g. 90m "
                          "rather than 1h30m)");
    expect_error("h", "\"h\" is not a duration (expected e.g. 30s, 15m, 1h, 2d)");
    expect_error("-5m", "\"-5m\" is not a duration (expected e.g. 30s, 15m, 1h, 2d)");
    expect_error("1.5h", "\"1.5h\" has an unknown unit (expected s, m, h or d)");
    expect_error("31d", "\"31d\" is longer than 30d, the longest allowed");
    expect_error("2592001s", "\"2592001s\" is longer than 30d, the longest allowed");
    expect_error("99999999999999999999999999d",
                 "\"99999999999999999999999999d\" is longer than 30d, the longest allowed");
    expect_error("1234567890123456789012345678901234567890123456789m",
                 "\"1234567890123456789012345678901234567890...\" is longer than 30d, the "
                 "longest allowed");
}

static void overlong_values_are_refused_without_reading_them_whole(void **state)
{
    (void)state;
    char text[DURATION_TEXT_MAX + 2];
    memset(text, ' ', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    text[0] = '1';
    text[1] = 'm';
    expect_error(text, "is longer than 1024 characters");
    text[DURATION_TEXT_MAX] = '\0';
    assert_int_equal(parse_ok(text), 60);
}

static void lists_with_spaces(void **state)
{
    (void)state;
    duration_list list;
    char error[DURATION_ERROR_MAX] = "";
    assert_true(duration_list_parse("15m,30m,1h,4h", &list, error, sizeof(error)));
    assert_int_equal(list.count, 4);
    assert_int_equal(list.seconds[0], 900);
    assert_int_equal(list.seconds[1], 1800);
    assert_int_equal(list.seconds[2], 3600);
    assert_int_equal(list.seconds[3], 14400);
    assert_true(duration_list_parse("  1m ,\t2m , 3d ", &list, error, sizeof(error)));
    assert_int_equal(list.count, 3);
    assert_int_equal(list.seconds[2], 3 * 86400);
    assert_true(duration_list_parse("5m", &list, error, sizeof(error)));
    assert_int_equal(list.count, 1);
    assert_int_equal(list.seconds[0], 300);
}

static void list_limits(void **state)
{
    (void)state;
    char text[512] = "";
    for (int i = 0; i < DURATION_LIST_MAX; i++) {
        strcat(text, i ? ",1m" : "1m");
    }
    duration_list list;
    char error[DURATION_ERROR_MAX] = "";
    assert_true(duration_list_parse(text, &list, error, sizeof(error)));
    assert_int_equal(list.count, DURATION_LIST_MAX);
    strcat(text, ",1m");
    expect_list_error(text, "has more than 32 entries");
}

static void bad_lists_name_the_entry(void **state)
{
    (void)state;
    expect_list_error("", "is empty");
    expect_list_error(" , ", "entry 1 is empty");
    expect_list_error("15m,,1h", "entry 2 is empty");
    expect_list_error("15m,30m,", "entry 3 is empty");
    expect_list_error(",15m", "entry 1 is empty");
    expect_list_error("15m, 30q", "entry 2 \"30q\" has an unknown unit (expected s, m, h or d)");
    expect_list_error("15m,0,1h", "entry 2 \"0\" is zero (every interval is at least 1s)");
    expect_list_error("0", "entry 1 \"0\" is zero (every interval is at least 1s)");
    expect_list_error("1h,40d", "entry 2 \"40d\" is longer than 30d, the longest allowed");
    expect_list_error("1h;2h", "entry 1 \"1h;2h\" has more than one unit letter (expected one, "
                               "e.g. 90m rather than 1h30m)");
}

static void errors_fit_small_buffers(void **state)
{
    (void)state;
    uint32_t seconds;
    char error[8];
    assert_false(duration_parse("15x", &seconds, error, sizeof(error)));
    assert_string_equal(error, "\"15x\" h");
    assert_false(duration_parse("15x", &seconds, NULL, 0));
}

static void format_round_trips(void **state)
{
    (void)state;
    const uint32_t values[] = {0, 1, 59, 60, 61, 900, 3600, 5400, 86400, 90000, 30 * 86400};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char text[32];
        duration_format(values[i], text, sizeof(text));
        assert_int_equal(parse_ok(text), values[i]);
    }
    char text[32];
    duration_format(5400, text, sizeof(text));
    assert_string_equal(text, "90m");
    duration_format(172800, text, sizeof(text));
    assert_string_equal(text, "2d");
}

static retry_schedule schedule(const char *intervals, uint32_t expiration)
{
    retry_schedule s;
    char error[DURATION_ERROR_MAX];
    assert_true(duration_list_parse(intervals, &s.intervals, error, sizeof(error)));
    s.expiration = expiration;
    return s;
}

static void retry_intervals_follow_the_list_and_the_last_repeats(void **state)
{
    (void)state;
    retry_schedule s = schedule("15m,30m,1h,4h", 5 * 86400);
    const uint64_t queued = 1700000000;
    assert_int_equal(retry_schedule_next(&s, 0, queued, queued), queued);
    assert_int_equal(retry_schedule_next(&s, 1, queued + 10, queued), queued + 10 + 900);
    assert_int_equal(retry_schedule_next(&s, 2, queued + 1000, queued), queued + 1000 + 1800);
    assert_int_equal(retry_schedule_next(&s, 3, queued + 5000, queued), queued + 5000 + 3600);
    assert_int_equal(retry_schedule_next(&s, 4, queued + 9000, queued), queued + 9000 + 14400);
    assert_int_equal(retry_schedule_next(&s, 5, queued + 9000, queued), queued + 9000 + 14400);
    assert_int_equal(retry_schedule_next(&s, UINT32_MAX, queued + 9000, queued),
                     queued + 9000 + 14400);
}

static void the_next_attempt_never_lies_past_the_deadline(void **state)
{
    (void)state;
    retry_schedule s = schedule("4h", 86400);
    const uint64_t queued = 1000;
    /* 22h in: the next 4h interval would end 2h after expiry; the deadline wins. */
    assert_int_equal(retry_schedule_next(&s, 6, queued + 22 * 3600, queued), queued + 86400);
    assert_int_equal(retry_schedule_next(&s, 5, queued + 19 * 3600, queued), queued + 23 * 3600);
    /* Never expiring: only the interval counts, and the sum saturates. */
    retry_schedule forever = schedule("30d", 0);
    assert_int_equal(retry_schedule_next(&forever, 1, 5000, 0), 5000 + 30 * 86400);
    assert_int_equal(retry_schedule_next(&forever, 1, UINT64_MAX - 5, 0), UINT64_MAX);
    assert_int_equal(retry_schedule_deadline(&forever, 77), UINT64_MAX);
}

static void expiry(void **state)
{
    (void)state;
    retry_schedule s = schedule("15m", 2 * 86400);
    const uint64_t queued = 1700000000;
    assert_false(retry_schedule_expired(&s, queued, queued));
    assert_false(retry_schedule_expired(&s, queued, queued + 2 * 86400 - 1));
    assert_true(retry_schedule_expired(&s, queued, queued + 2 * 86400));
    assert_true(retry_schedule_expired(&s, queued, queued + 9 * 86400));
    /* A clock set back before the queue time expires nothing. */
    assert_false(retry_schedule_expired(&s, queued, queued - 3 * 86400));
    /* Expiration 0: kept until delivered. */
    s.expiration = 0;
    assert_false(retry_schedule_expired(&s, queued, UINT64_MAX));
    /* Near the end of time the deadline saturates instead of wrapping to the past. */
    s.expiration = 86400;
    assert_false(retry_schedule_expired(&s, UINT64_MAX - 10, UINT64_MAX - 1));
    assert_true(retry_schedule_expired(&s, UINT64_MAX - 10, UINT64_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(durations_in_every_unit),
            cmocka_unit_test(zero_means_off),
            cmocka_unit_test(bad_durations_say_why),
            cmocka_unit_test(overlong_values_are_refused_without_reading_them_whole),
            cmocka_unit_test(lists_with_spaces),
            cmocka_unit_test(list_limits),
            cmocka_unit_test(bad_lists_name_the_entry),
            cmocka_unit_test(errors_fit_small_buffers),
            cmocka_unit_test(format_round_trips),
            cmocka_unit_test(retry_intervals_follow_the_list_and_the_last_repeats),
            cmocka_unit_test(the_next_attempt_never_lies_past_the_deadline),
            cmocka_unit_test(expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
