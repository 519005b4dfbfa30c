/* UTF-16LE -> UTF-8: what registry text looks like after decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "utf16.h"

static size_t convert(const uint16_t *units, size_t count, char *out, size_t *replaced,
                      size_t *first_bad)
{
    uint8_t le[64];
    for (size_t i = 0; i < count; i++) {
        le[2 * i] = (uint8_t)(units[i] & 0xFF);
        le[2 * i + 1] = (uint8_t)(units[i] >> 8);
    }
    return regio_utf16le_to_utf8(le, count, out, replaced, first_bad);
}

static void ascii_passes_unchanged(void **state)
{
    (void)state;
    const uint16_t units[] = {'1', '0', '.', '0', ';', ' ', '#'};
    char out[32];
    size_t replaced = 99;
    size_t len = convert(units, 7, out, &replaced, NULL);
    assert_int_equal(len, 7);
    assert_memory_equal(out, "10.0;\x20#", 7);
    assert_int_equal(replaced, 0);
}

static void two_and_three_byte_forms(void **state)
{
    (void)state;
    const uint16_t units[] = {0x00E9, 0x20AC, 0xFFFD}; /* e-acute, euro sign, U+FFFD itself */
    char out[32];
    size_t replaced = 99;
    size_t len = convert(units, 3, out, &replaced, NULL);
    assert_int_equal(len, 8);
    assert_memory_equal(out, "\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBD", 8);
    assert_int_equal(replaced, 0); /* a real U+FFFD is valid text, not a replacement */
}

static void surrogate_pair_is_one_code_point(void **state)
{
    (void)state;
    const uint16_t units[] = {0xD83D, 0xDCE7}; /* U+1F4E7 E-MAIL SYMBOL */
    char out[32];
    size_t replaced = 99;
    size_t len = convert(units, 2, out, &replaced, NULL);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "\xF0\x9F\x93\xA7", 4);
    assert_int_equal(replaced, 0);
}

static void unpaired_surrogates_become_replacement_characters(void **state)
{
    (void)state;
    /* lone high at the end, lone low, a pair in the wrong order, a high before a letter */
    const uint16_t units[] = {'a', 0xDC00, 'b', 0xDC01, 0xD801, 'c', 0xD802, 'd', 0xD803};
    char out[64];
    size_t replaced = 0, first_bad = 99;
    size_t len = convert(units, 9, out, &replaced, &first_bad);
    assert_int_equal(replaced, 5);
    assert_int_equal(first_bad, 1);
    const char expected[] = "a\xEF\xBF\xBD"
                            "b\xEF\xBF\xBD\xEF\xBF\xBD"
                            "c\xEF\xBF\xBD"
                            "d\xEF\xBF\xBD";
    assert_int_equal(len, sizeof(expected) - 1);
    assert_memory_equal(out, expected, len);
}

static void nul_units_become_nul_bytes(void **state)
{
    (void)state;
    const uint16_t units[] = {'a', 0, 'b'};
    char out[16];
    size_t len = convert(units, 3, out, NULL, NULL);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "a\0b", 3);
}

static void worst_case_fits_the_documented_bound(void **state)
{
    (void)state;
    /* Three-byte units and lone surrogates are the worst case per unit. */
    const uint16_t units[] = {0xFFFF, 0xD800, 0x0800, 0xDFFF};
    char out[4 * REGIO_UTF8_MAX_PER_UNIT];
    size_t len = convert(units, 4, out, NULL, NULL);
    assert_int_equal(len, 4 * REGIO_UTF8_MAX_PER_UNIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(ascii_passes_unchanged),
            cmocka_unit_test(two_and_three_byte_forms),
            cmocka_unit_test(surrogate_pair_is_one_code_point),
            cmocka_unit_test(unpaired_surrogates_become_replacement_characters),
            cmocka_unit_test(nul_units_become_nul_bytes),
            cmocka_unit_test(worst_case_fits_the_documented_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
