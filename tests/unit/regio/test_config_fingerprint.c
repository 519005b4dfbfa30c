/* regio_config_fingerprint: what decides that a reload changes nothing (issue 9 defect 2).
 * Two readings of identical registry values must fingerprint alike whatever the heap held
 * before, diagnostics included; a changed value must change the fingerprint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "raw_bytes.h"
#include "relay_policy.h"

#define DWORD(name_, v)                                                                            \
    {                                                                                              \
        .name = name_, .type = REGIO_REG_DWORD, .data = dword_bytes(v), .size = 4                  \
    }
#define MULTI(name_, lit)                                                                          \
    {                                                                                              \
        .name = name_, .type = REGIO_REG_MULTI_SZ, .data = U16(lit)                                \
    }

/* Leaves freed heap blocks of many sizes filled with `garbage`, so the allocations that
 * follow (the configuration, its lines, the diagnostics) start out holding it. */
static void dirty_heap(unsigned char garbage)
{
    enum { BLOCKS = 64 };
    void *blocks[BLOCKS];
    for (size_t i = 0; i < BLOCKS; i++) {
        size_t size = 32u << (i % 10); /* 32 bytes .. 16 KiB */
        blocks[i] = malloc(size);
        assert_non_null(blocks[i]);
        memset(blocks[i], garbage, size);
    }
    for (size_t i = 0; i < BLOCKS; i++) {
        free(blocks[i]);
    }
}

/* A diagnostic list whose spare capacity holds `garbage`, as a reused heap block would
 * (deterministic on every allocator, sanitizers included). */
static void dirty_diag_list(regio_diag_list *diags, unsigned char garbage)
{
    regio_diag_list_init(diags);
    diags->capacity = 64;
    diags->items = malloc(diags->capacity * sizeof(*diags->items));
    assert_non_null(diags->items);
    memset(diags->items, garbage, diags->capacity * sizeof(*diags->items));
}

/* The fingerprint the service computes for one reading: configuration, compiled policy and
 * every diagnostic of both. */
static uint64_t reading(const regio_raw_value *values, size_t count, unsigned char garbage,
                        size_t *diag_count)
{
    dirty_heap(garbage);
    regio_diag_list diags;
    dirty_diag_list(&diags, garbage);
    regio_config *config = regio_config_build(values, count, false, &diags);
    assert_non_null(config);
    relay_policy *policy = relay_policy_build(config, &diags);
    assert_non_null(policy);
    uint64_t fingerprint = regio_config_fingerprint(config, &diags);
    *diag_count = diags.count;
    relay_policy_free(policy);
    regio_config_free(config);
    regio_diag_list_free(&diags);
    return fingerprint;
}

static void identical_readings_with_diagnostics_fingerprint_alike(void **state)
{
    (void)state;
    regio_raw_value values[] = {
            DWORD("RelayFlags", 2),
            /* a warning (a whole private range), an error (not an address) */
            MULTI("RelayAllowList", "10.0.0.0/8\0not an address\0192.0.2.1\0\0"),
            DWORD("MaxRecipients", 5),  /* out of bounds: an error */
            DWORD("MaxRecipient", 100), /* a typo: a warning */
    };
    size_t count = sizeof(values) / sizeof(values[0]);
    size_t diags_a, diags_b;
    uint64_t a = reading(values, count, 0xAA, &diags_a);
    uint64_t b = reading(values, count, 0x55, &diags_b);
    assert_true(diags_a >= 3); /* the test is about diagnostics: there must be some */
    assert_int_equal(diags_a, diags_b);
    assert_true(a == b);
    raw_bytes_free_all();
}

static void a_changed_value_changes_the_fingerprint(void **state)
{
    (void)state;
    regio_raw_value before[] = {
            DWORD("RelayFlags", 2),
            MULTI("RelayAllowList", "10.0.0.0/8\0192.0.2.1\0\0"),
            DWORD("ListenPort", 25),
    };
    regio_raw_value other_line[] = {
            DWORD("RelayFlags", 2),
            MULTI("RelayAllowList", "10.0.0.0/8\0192.0.2.2\0\0"),
            DWORD("ListenPort", 25),
    };
    regio_raw_value other_port[] = {
            DWORD("RelayFlags", 2),
            MULTI("RelayAllowList", "10.0.0.0/8\0192.0.2.1\0\0"),
            DWORD("ListenPort", 26),
    };
    /* Lines split differently: the same bytes, another list. */
    regio_raw_value other_split[] = {
            DWORD("RelayFlags", 2),
            MULTI("RelayAllowList", "10.0.0.0/8192.0.2.1\0\0"),
            DWORD("ListenPort", 25),
    };
    size_t n;
    uint64_t base = reading(before, 3, 0xAA, &n);
    assert_true(reading(before, 3, 0x55, &n) == base);
    assert_true(reading(other_line, 3, 0xAA, &n) != base);
    assert_true(reading(other_port, 3, 0xAA, &n) != base);
    assert_true(reading(other_split, 3, 0xAA, &n) != base);
    raw_bytes_free_all();
}

/* Only what a diagnostic says counts, never the bytes after a field's terminator. */
static void diagnostics_count_by_their_fields(void **state)
{
    (void)state;
    regio_raw_value none[] = {DWORD("ListenPort", 25)};
    regio_diag_list empty;
    regio_diag_list_init(&empty);
    regio_config *config = regio_config_build(none, 1, false, &empty);
    assert_non_null(config);

    regio_diag_list a, b;
    dirty_diag_list(&a, 0xAA);
    dirty_diag_list(&b, 0x55);
    regio_diag_add(&a, REGIO_SEV_WARNING, "RelayAllowList", 3, "10.0.0.0/8", "short");
    regio_diag_add(&b, REGIO_SEV_WARNING, "RelayAllowList", 3, "10.0.0.0/8", "short");
    assert_true(regio_config_fingerprint(config, &a) == regio_config_fingerprint(config, &b));
    assert_true(regio_config_fingerprint(config, &a) != regio_config_fingerprint(config, &empty));

    regio_diag_list c;
    dirty_diag_list(&c, 0xAA);
    regio_diag_add(&c, REGIO_SEV_WARNING, "RelayAllowList", 4, "10.0.0.0/8", "short");
    assert_true(regio_config_fingerprint(config, &a) != regio_config_fingerprint(config, &c));

    regio_diag_list_free(&a);
    regio_diag_list_free(&b);
    regio_diag_list_free(&c);
    regio_diag_list_free(&empty);
    regio_config_free(config);
    raw_bytes_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(identical_readings_with_diagnostics_fingerprint_alike),
            cmocka_unit_test(a_changed_value_changes_the_fingerprint),
            cmocka_unit_test(diagnostics_count_by_their_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
