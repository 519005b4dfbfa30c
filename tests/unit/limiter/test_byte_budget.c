/* Bytes held by messages in progress stay under both caps, and come back when released. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "byte_budget.h"

static void the_total_cap_holds(void **state)
{
    (void)state;
    byte_budget *b = byte_budget_create(16);
    assert_non_null(b);
    char key[16];
    uint64_t taken = 0;
    /* 50 clients each try to hold 9 MB in 8 KiB writes under a 100 MB cap. */
    for (int c = 0; c < 50; c++) {
        int n = snprintf(key, sizeof key, "c%d", c % 10);
        for (int i = 0; i < 9000000 / 8192; i++) {
            if (byte_budget_reserve(b, key, (size_t)n, 8192, 100000000, 0)) {
                taken += 8192;
            }
        }
    }
    assert_true(byte_budget_total(b) <= 100000000);
    assert_int_equal(byte_budget_total(b), taken);
    assert_true(taken > 100000000 - 8192);
    byte_budget_destroy(b);
}

static void one_key_cannot_take_more_than_its_share(void **state)
{
    (void)state;
    byte_budget *b = byte_budget_create(16);
    assert_true(byte_budget_reserve(b, "a", 1, 600, 1000, 700));
    assert_false(byte_budget_reserve(b, "a", 1, 101, 1000, 700));
    assert_true(byte_budget_reserve(b, "a", 1, 100, 1000, 700));
    assert_true(byte_budget_reserve(b, "b", 1, 300, 1000, 700));
    assert_false(byte_budget_reserve(b, "b", 1, 1, 1000, 700)); /* the total is reached */
    byte_budget_release(b, "a", 1, 700);
    assert_int_equal(byte_budget_held(b, "a", 1), 0);
    assert_int_equal(byte_budget_total(b), 300);
    assert_true(byte_budget_reserve(b, "b", 1, 400, 1000, 700));
    byte_budget_release(b, "b", 1, 100000); /* more than held: only what is held */
    assert_int_equal(byte_budget_total(b), 0);
    byte_budget_destroy(b);
}

static void a_full_table_refuses_a_new_key_and_frees_slots(void **state)
{
    (void)state;
    byte_budget *b = byte_budget_create(2);
    assert_true(byte_budget_reserve(b, "a", 1, 1, 0, 0));
    assert_true(byte_budget_reserve(b, "b", 1, 1, 0, 0));
    assert_false(byte_budget_reserve(b, "c", 1, 1, 0, 0));
    byte_budget_release(b, "a", 1, 1);
    assert_true(byte_budget_reserve(b, "c", 1, 1, 0, 0));
    /* b is still found past the slot a freed. */
    assert_int_equal(byte_budget_held(b, "b", 1), 1);
    byte_budget_release(b, "b", 1, 1);
    byte_budget_release(b, "c", 1, 1);
    assert_int_equal(byte_budget_total(b), 0);
    byte_budget_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(the_total_cap_holds),
            cmocka_unit_test(one_key_cannot_take_more_than_its_share),
            cmocka_unit_test(a_full_table_refuses_a_new_key_and_frees_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
