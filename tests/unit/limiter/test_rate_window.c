/* Per-minute limits, global and per key, that count what they refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rate_table.h"

static void a_window_allows_its_limit_then_counts_refusals(void **state)
{
    (void)state;
    rate_window w = {0};
    for (int i = 0; i < 5; i++) {
        assert_true(rate_window_allow(&w, 1000 + (uint64_t)i, 5));
    }
    for (int i = 0; i < 7; i++) {
        assert_false(rate_window_allow(&w, 2000, 5));
    }
    assert_int_equal(rate_window_take_refused(&w), 7);
    assert_int_equal(rate_window_take_refused(&w), 0);
    /* The next window starts a minute after the first event. */
    assert_false(rate_window_allow(&w, 1000 + RATE_WINDOW_MS - 1, 5));
    assert_true(rate_window_allow(&w, 1000 + RATE_WINDOW_MS, 5));
    rate_window unlimited = {0};
    for (int i = 0; i < 1000; i++) {
        assert_true(rate_window_allow(&unlimited, 0, 0));
    }
}

static void keys_are_limited_apart(void **state)
{
    (void)state;
    rate_table *t = rate_table_create(64);
    assert_non_null(t);
    const char a[] = "127.0.3.1", b[] = "127.0.3.2";
    for (int i = 0; i < 3; i++) {
        assert_true(rate_table_allow(t, a, sizeof a, 0, 3));
    }
    assert_false(rate_table_allow(t, a, sizeof a, 10, 3));
    assert_true(rate_table_allow(t, b, sizeof b, 10, 3));
    assert_true(rate_table_allow(t, a, sizeof a, RATE_WINDOW_MS, 3));
    rate_table_destroy(t);
}

static void many_keys_in_a_small_table_never_block_a_new_one(void **state)
{
    (void)state;
    rate_table *t = rate_table_create(8);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        assert_true(rate_table_allow(t, key, (size_t)n, (uint64_t)i, 1));
    }
    /* A key just seen, in a table of 8 slots churned by 1000 keys, is usually evicted: the
     * table forgets rather than refuse a newcomer. The newest one is still known. */
    int n = snprintf(key, sizeof key, "10.0.%d.%d", 999 / 256, 999 % 256);
    assert_false(rate_table_allow(t, key, (size_t)n, 1000, 1));
    rate_table_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_window_allows_its_limit_then_counts_refusals),
            cmocka_unit_test(keys_are_limited_apart),
            cmocka_unit_test(many_keys_in_a_small_table_never_block_a_new_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
