/* MaxConnectionsPerClient counts every client's open sessions exactly, however many clients
 * come and go, and a session that ended stops counting at once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "client_counts.h"

static relay_addr v4(uint32_t n)
{
    return relay_addr_from_v4_uint(0x7f000000u | n);
}

static void test_counts_per_address(void **state)
{
    (void)state;
    client_counts *c = client_counts_create(42);
    assert_non_null(c);
    relay_addr a = v4(1), b = v4(2);
    assert_int_equal(client_counts_get(c, &a), 0);
    for (int i = 0; i < 50; i++) {
        assert_true(client_counts_add(c, &a));
    }
    assert_true(client_counts_add(c, &b));
    assert_int_equal(client_counts_get(c, &a), 50);
    assert_int_equal(client_counts_get(c, &b), 1);
    assert_int_equal(client_counts_clients(c), 2);
    client_counts_remove(c, &a);
    assert_int_equal(client_counts_get(c, &a), 49);
    client_counts_remove(c, &b);
    assert_int_equal(client_counts_get(c, &b), 0);
    assert_int_equal(client_counts_clients(c), 1);
    /* An address without sessions: nothing happens, nothing goes negative. */
    client_counts_remove(c, &b);
    assert_int_equal(client_counts_get(c, &b), 0);
    assert_int_equal(client_counts_get(c, &a), 49);
    client_counts_destroy(c);
}

static void test_v4_mapped_is_the_v4_client(void **state)
{
    (void)state;
    client_counts *c = client_counts_create(7);
    relay_addr plain, mapped;
    assert_true(relay_addr_parse("192.0.2.7", &plain));
    assert_true(relay_addr_parse("::ffff:192.0.2.7", &mapped));
    assert_true(client_counts_add(c, &plain));
    assert_true(client_counts_add(c, &mapped));
    assert_int_equal(client_counts_get(c, &plain), 2);
    assert_int_equal(client_counts_clients(c), 1);
    client_counts_remove(c, &mapped);
    assert_int_equal(client_counts_get(c, &plain), 1);
    client_counts_destroy(c);
}

/* Many clients arriving and leaving in a scrambled order (the table grows, and deletions
 * shift entries back) against a plain array that knows the truth. */
#define CLIENTS 5000
static uint32_t truth[CLIENTS];

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static relay_addr client_of(uint32_t i)
{
    if (i % 3 == 0) {
        relay_addr a;
        memset(&a, 0, sizeof(a));
        a.family = RELAY_AF_INET6;
        a.bytes[0] = 0x20;
        a.bytes[1] = 0x01;
        a.bytes[14] = (uint8_t)(i >> 8);
        a.bytes[15] = (uint8_t)i;
        return a;
    }
    return v4(i);
}

static void test_agrees_with_a_plain_count_under_churn(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        memset(truth, 0, sizeof(truth));
        client_counts *c = client_counts_create(seed);
        assert_non_null(c);
        uint64_t rng = 0x9e3779b97f4a7c15ull * seed;
        size_t open_clients = 0;
        for (int step = 0; step < 200000; step++) {
            uint32_t i = (uint32_t)(next_random(&rng) % CLIENTS);
            relay_addr a = client_of(i);
            if (next_random(&rng) % 2 == 0) {
                assert_true(client_counts_add(c, &a));
                open_clients += truth[i]++ == 0;
            } else {
                client_counts_remove(c, &a);
                if (truth[i] > 0) {
                    open_clients -= --truth[i] == 0;
                }
            }
            if (step % 997 == 0) {
                for (uint32_t k = 0; k < CLIENTS; k++) {
                    relay_addr b = client_of(k);
                    assert_int_equal(client_counts_get(c, &b), truth[k]);
                }
            }
            assert_int_equal(client_counts_clients(c), open_clients);
        }
        /* Everyone leaves: the table is empty again. */
        for (uint32_t k = 0; k < CLIENTS; k++) {
            relay_addr b = client_of(k);
            while (truth[k] > 0) {
                client_counts_remove(c, &b);
                truth[k]--;
            }
        }
        assert_int_equal(client_counts_clients(c), 0);
        client_counts_destroy(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_counts_per_address),
            cmocka_unit_test(test_v4_mapped_is_the_v4_client),
            cmocka_unit_test(test_agrees_with_a_plain_count_under_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
