/* MX order: preference first, equal preferences shuffled (every order reachable, none
 * favoured grossly), null MX, our own name in the list, bad names, the cap. */
#include "mx_order.h"
#include "test_rng.h"

#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static uint32_t draw(void *context)
{
    return (uint32_t)(next((rng *)context) >> 32);
}

static const char *const self[] = {"MX.Our.Example.", "relay.our.example"};

static mx_order_result order(const mx_record *records, size_t count, rng *r)
{
    mx_order_result out;
    mx_order(records, count, self, 2, 0, r ? draw : NULL, r, &out);
    return out;
}

static void sorted_by_preference(void **state)
{
    (void)state;
    const mx_record records[] = {{30, "c.example"}, {10, "a.example"}, {20, "b.example."}};
    mx_order_result out = order(records, 3, NULL);
    assert_int_equal(out.status, MX_ORDER_OK);
    assert_int_equal(out.count, 3);
    assert_string_equal(out.hosts[0].exchange, "a.example");
    assert_string_equal(out.hosts[1].exchange, "b.example.");
    assert_string_equal(out.hosts[2].exchange, "c.example");
    assert_null(out.enhanced_status);
}

/* Three hosts at 10 between one at 5 and one at 20: all six orders of the three appear
 * over many seeds, each roughly a sixth of the time, and the 5 and 20 never move. */
static void equal_preferences_take_every_order(void **state)
{
    (void)state;
    const mx_record records[] = {{20, "last.example"},
                                 {10, "x.example"},
                                 {5, "first.example"},
                                 {10, "y.example"},
                                 {10, "z.example"}};
    size_t seen[6] = {0};
    const char *const perms[6][3] = {
            {"x", "y", "z"}, {"x", "z", "y"}, {"y", "x", "z"},
            {"y", "z", "x"}, {"z", "x", "y"}, {"z", "y", "x"},
    };
    enum { RUNS = 6000 };
    for (uint64_t seed = 0; seed < RUNS; seed++) {
        rng r = {seed};
        mx_order_result out = order(records, 5, &r);
        assert_int_equal(out.count, 5);
        assert_string_equal(out.hosts[0].exchange, "first.example");
        assert_string_equal(out.hosts[4].exchange, "last.example");
        for (size_t i = 1; i < out.count; i++) {
            assert_true(out.hosts[i - 1].preference <= out.hosts[i].preference);
        }
        size_t p = 0;
        while (p < 6 && !(out.hosts[1].exchange[0] == perms[p][0][0] &&
                          out.hosts[2].exchange[0] == perms[p][1][0] &&
                          out.hosts[3].exchange[0] == perms[p][2][0])) {
            p++;
        }
        assert_true(p < 6);
        seen[p]++;
    }
    for (size_t p = 0; p < 6; p++) {
        assert_in_range(seen[p], RUNS / 6 - RUNS / 20, RUNS / 6 + RUNS / 20);
    }
}

static void null_mx(void **state)
{
    (void)state;
    const mx_record dot[] = {{0, "."}};
    mx_order_result out = order(dot, 1, NULL);
    assert_int_equal(out.status, MX_ORDER_NULL_MX);
    assert_int_equal(out.count, 0);
    assert_string_equal(out.enhanced_status, "5.1.10");
    assert_string_equal(out.reason, "the recipient's domain accepts no mail (null MX, RFC 7505)");
    const mx_record empty[] = {{0, ""}};
    assert_int_equal(order(empty, 1, NULL).status, MX_ORDER_NULL_MX);
    /* A root exchange beside real ones (RFC 7505 forbids it) is skipped, not believed. */
    const mx_record mixed[] = {{0, "."}, {10, "mx.example"}};
    out = order(mixed, 2, NULL);
    assert_int_equal(out.status, MX_ORDER_OK);
    assert_int_equal(out.count, 1);
    assert_string_equal(out.hosts[0].exchange, "mx.example");
}

static void no_records_means_implicit_mx(void **state)
{
    (void)state;
    mx_order_result out = order(NULL, 0, NULL);
    assert_int_equal(out.status, MX_ORDER_NO_RECORDS);
    assert_int_equal(out.count, 0);
}

static void our_own_name(void **state)
{
    (void)state;
    /* We are the best: a loop. Case and trailing dot do not hide us. */
    const mx_record best[] = {{20, "backup.example"}, {10, "mx.our.example"}};
    mx_order_result out = order(best, 2, NULL);
    assert_int_equal(out.status, MX_ORDER_LOOP);
    assert_string_equal(out.enhanced_status, "5.4.6");
    assert_non_null(strstr(out.reason, "mail loop"));
    /* Tied with another at the best preference: still a loop (RFC 5321 5.1 drops both). */
    const mx_record tied[] = {{10, "other.example"}, {10, "RELAY.our.example."}};
    assert_int_equal(order(tied, 2, NULL).status, MX_ORDER_LOOP);
    /* We are a backup: only the more preferred hosts remain. */
    const mx_record backup[] = {{30, "c.example"},
                                {10, "a.example"},
                                {20, "relay.our.example"},
                                {20, "b.example"},
                                {5, "zero.example"}};
    out = order(backup, 5, NULL);
    assert_int_equal(out.status, MX_ORDER_OK);
    assert_int_equal(out.count, 2);
    assert_string_equal(out.hosts[0].exchange, "zero.example");
    assert_string_equal(out.hosts[1].exchange, "a.example");
    /* A name that merely contains ours is someone else. */
    const mx_record similar[] = {{10, "mx.our.example.net"}};
    assert_int_equal(order(similar, 1, NULL).status, MX_ORDER_OK);
}

static void bad_names_are_skipped(void **state)
{
    (void)state;
    const mx_record bad[] = {{10, "bad name.example"}, {20, "-x.example"}, {30, "ok.example"}};
    mx_order_result out = order(bad, 3, NULL);
    assert_int_equal(out.status, MX_ORDER_OK);
    assert_int_equal(out.count, 1);
    assert_string_equal(out.hosts[0].exchange, "ok.example");
    out = order(bad, 2, NULL);
    assert_int_equal(out.status, MX_ORDER_UNUSABLE);
    assert_string_equal(out.enhanced_status, "4.4.4");
}

static void the_cap(void **state)
{
    (void)state;
    mx_record many[40];
    char names[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "mx%d.example", i);
        many[i].exchange = names[i];
        many[i].preference = (uint16_t)(100 - i);
    }
    mx_order_result out;
    mx_order(many, 40, self, 2, 3, NULL, NULL, &out);
    assert_int_equal(out.count, 3);
    assert_string_equal(out.hosts[0].exchange, "mx39.example");
    assert_string_equal(out.hosts[2].exchange, "mx37.example");
    mx_order(many, 40, self, 2, 1000, NULL, NULL, &out);
    assert_int_equal(out.count, MX_ORDER_HOSTS_MAX);
    mx_order(many, 40, NULL, 0, 0, NULL, NULL, &out);
    assert_int_equal(out.count, MX_ORDER_HOSTS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(sorted_by_preference),
            cmocka_unit_test(equal_preferences_take_every_order),
            cmocka_unit_test(null_mx),
            cmocka_unit_test(no_records_means_implicit_mx),
            cmocka_unit_test(our_own_name),
            cmocka_unit_test(bad_names_are_skipped),
            cmocka_unit_test(the_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
