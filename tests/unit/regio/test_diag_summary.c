/* regio_diag_list_summarize: thousands of warnings of one kind read as the first hundred
 * and one line with the count (issue 14 item 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "diag.h"

static void add_lines(regio_diag_list *list, regio_diag_code code, const char *value,
                      uint32_t first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        regio_diag_add_code(list, code, REGIO_SEV_WARNING, value, first + (uint32_t)i, "10.0.0.0/8",
                            "allows the whole private range 10.0.0.0/8");
    }
}

static void forty_thousand_warnings_become_a_hundred_and_a_count(void **state)
{
    (void)state;
    regio_diag_list in, out;
    regio_diag_list_init(&in);
    regio_diag_list_init(&out);
    regio_diag_add(&in, REGIO_SEV_ERROR, "MaxRecipients", 0, NULL, "out of bounds");
    add_lines(&in, REGIO_DIAG_ALLOW_PRIVATE_RANGE, "RelayAllowList", 1, 40000);
    regio_diag_list_summarize(&in, REGIO_DIAG_SUMMARY_KEEP, &out);

    assert_int_equal(out.count, 1 + 100 + 1);
    assert_string_equal(out.items[0].value, "MaxRecipients");
    assert_int_equal(out.items[0].severity, REGIO_SEV_ERROR);
    for (size_t i = 1; i <= 100; i++) { /* the first hundred, in order, whole */
        assert_int_equal(out.items[i].line, i);
        assert_int_equal(out.items[i].code, REGIO_DIAG_ALLOW_PRIVATE_RANGE);
        assert_string_equal(out.items[i].text, "10.0.0.0/8");
    }
    const regio_diag *summary = &out.items[101];
    assert_int_equal(summary->code, REGIO_DIAG_SUMMARY);
    assert_int_equal(summary->severity, REGIO_SEV_WARNING);
    assert_int_equal(summary->line, 0);
    assert_string_equal(summary->value, "RelayAllowList");
    assert_string_equal(summary->message,
                        "... and 39,900 more warnings like this for RelayAllowList");
    /* The counts an administrator is told still come from the whole list. */
    assert_int_equal(regio_diag_count(&in, REGIO_SEV_WARNING), 40001);
    regio_diag_list_free(&in);
    regio_diag_list_free(&out);
}

static void kinds_are_counted_apart_and_small_ones_kept_whole(void **state)
{
    (void)state;
    regio_diag_list in, out;
    regio_diag_list_init(&in);
    regio_diag_list_init(&out);
    add_lines(&in, REGIO_DIAG_ALLOW_PRIVATE_RANGE, "RelayAllowList", 1, 101);
    add_lines(&in, REGIO_DIAG_ALLOW_EVERY_ADDRESS, "RelayAllowList", 200, 100);
    add_lines(&in, REGIO_DIAG_ALLOW_PRIVATE_RANGE, "RelayDenyList", 1, 150);
    /* Uncoded warnings are not known to be alike: never summarised. */
    add_lines(&in, REGIO_DIAG_UNCODED, "RelayLocalIPList", 1, 300);
    regio_diag_list_summarize(&in, 100, &out);

    assert_int_equal(out.count, 100 + 100 + 100 + 300 + 2);
    assert_string_equal(out.items[out.count - 2].message,
                        "... and 1 more warning like this for RelayAllowList");
    assert_string_equal(out.items[out.count - 1].message,
                        "... and 50 more warnings like this for RelayDenyList");
    regio_diag_list_free(&in);
    regio_diag_list_free(&out);
}

static void a_short_list_is_copied_unchanged(void **state)
{
    (void)state;
    regio_diag_list in, out;
    regio_diag_list_init(&in);
    regio_diag_list_init(&out);
    add_lines(&in, REGIO_DIAG_ALLOW_PRIVATE_RANGE, "RelayAllowList", 1, 3);
    regio_diag_add(&in, REGIO_SEV_INFO, "", 0, NULL, "note");
    in.truncated = 1;
    regio_diag_list_summarize(&in, 100, &out);
    assert_int_equal(out.count, in.count);
    assert_memory_equal(out.items, in.items, in.count * sizeof(*in.items));
    assert_int_equal(out.truncated, 1);
    regio_diag_list_free(&in);
    regio_diag_list_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(forty_thousand_warnings_become_a_hundred_and_a_count),
            cmocka_unit_test(kinds_are_counted_apart_and_small_ones_kept_whole),
            cmocka_unit_test(a_short_list_is_copied_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
