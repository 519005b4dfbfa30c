/* Which daily log files LogMaxAgeDays deletes: only this log's own names, only real dates,
 * only older than the limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "log_age.h"

static void day_numbers_match_the_calendar(void **state)
{
    (void)state;
    assert_int_equal(log_age_day_number(1970, 1, 1), 0);
    assert_int_equal(log_age_day_number(2000, 3, 1), 11017);
    assert_int_equal(log_age_day_number(2026, 11, 30), 20787);
    /* Across a leap day and a year's end. */
    assert_int_equal(log_age_day_number(2024, 3, 1) - log_age_day_number(2024, 2, 28), 2);
    assert_int_equal(log_age_day_number(2027, 1, 1) - log_age_day_number(2026, 12, 31), 1);
}

static void only_this_logs_names_with_real_dates_parse(void **state)
{
    (void)state;
    int64_t day = -1;
    assert_true(log_age_name_day("smtp-20261130.log", "smtp", &day));
    assert_int_equal(day, 20787);
    assert_true(log_age_name_day("delivery-20240229.log", "delivery", &day));
    const char *kept[] = {
            "delivery-20261130.log", /* another log's file */
            "smtp-20261130.txt",
            "smtp-2026113.log",
            "smtp-202611300.log",
            "smtp-2026113x.log",
            "smtp_20261130.log",
            "smtp-20261131.log", /* no 31 Nov */
            "smtp-20250229.log",
            "smtp-20261300.log",
            "smtp-20261100.log",
            "smtp-19691231.log",
            "smtp-20261130.log.bak",
            "SMTP-20261130.log",
            "smtp-20261130.LOG",
            "smtp-.log",
            "",
    };
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        assert_false(log_age_name_day(kept[i], "smtp", &day));
    }
}

static void files_older_than_the_limit_expire(void **state)
{
    (void)state;
    int64_t today = log_age_day_number(2026, 11, 30);
    assert_false(log_age_expired("smtp-20261031.log", "smtp", today, 30)); /* 30 days old */
    assert_true(log_age_expired("smtp-20261030.log", "smtp", today, 30));  /* 31 */
    assert_false(log_age_expired("smtp-20261130.log", "smtp", today, 30)); /* today's */
    assert_false(log_age_expired("smtp-20261201.log", "smtp", today, 30)); /* clock set back */
    assert_false(log_age_expired("smtp-20261129.log", "smtp", today, 1));  /* yesterday's stays */
    assert_true(log_age_expired("smtp-20261128.log", "smtp", today, 1));
    assert_false(log_age_expired("smtp-19700101.log", "smtp", today, 0)); /* 0: for ever */
    assert_false(log_age_expired("notes-19700101.log", "smtp", today, 30));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(day_numbers_match_the_calendar),
            cmocka_unit_test(only_this_logs_names_with_real_dates_parse),
            cmocka_unit_test(files_older_than_the_limit_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
