/* Issue 9: every value `imsrelay check` calls valid must reach the SMTP engine unchanged.
 * For each DWORD setting at its minimum and at its maximum, the limits the configuration
 * gives the engine are exactly the limits the engine then uses (no clamp anywhere). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "engine_limits.h"
#include "raw_bytes.h"
#include "settings.h"
#include "smtp_session.h"

static regio_config *build_with(const regio_setting *setting, uint32_t value)
{
    regio_raw_value raw = {
            .name = setting->name, .type = REGIO_REG_DWORD, .data = dword_bytes(value), .size = 4};
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    regio_config *config = regio_config_build(&raw, 1, false, &diags);
    assert_non_null(config);
    /* A bound is a valid value: `check` reports nothing against it (but AuthWithoutTls 1,
     * which is valid and warned about on purpose: passwords in clear). */
    bool warned_on_purpose = !strcmp(setting->name, "AuthWithoutTls") && value == 1;
    if (regio_diag_count(&diags, REGIO_SEV_WARNING) != 0 && !warned_on_purpose) {
        fail_msg("%s = %lu: %s", setting->name, (unsigned long)value, diags.items[0].message);
    }
    regio_diag_list_free(&diags);
    const regio_dword *dword = (const regio_dword *)((const char *)config + setting->offset);
    assert_int_equal(dword->value, value);
    return config;
}

static void assert_engine_keeps(const regio_config *config, const char *what)
{
    smtp_limits given = regio_engine_limits(config);
    smtp_limits used = smtp_limits_effective(&given);
    if (used.max_message_bytes != given.max_message_bytes ||
        used.max_recipients != given.max_recipients ||
        used.max_line_length != given.max_line_length) {
        fail_msg("%s: the engine changed bytes %llu->%llu recipients %lu->%lu line %lu->%lu", what,
                 (unsigned long long)given.max_message_bytes,
                 (unsigned long long)used.max_message_bytes, (unsigned long)given.max_recipients,
                 (unsigned long)used.max_recipients, (unsigned long)given.max_line_length,
                 (unsigned long)used.max_line_length);
    }
}

static void every_dword_bound_reaches_the_engine_unchanged(void **state)
{
    (void)state;
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    for (size_t i = 0; i < count; i++) {
        if (settings[i].kind != REGIO_SETTING_DWORD) {
            continue;
        }
        const uint32_t bounds[2] = {settings[i].min, settings[i].max};
        for (int b = 0; b < 2; b++) {
            regio_config *config = build_with(&settings[i], bounds[b]);
            char what[96];
            snprintf(what, sizeof what, "%s = %lu", settings[i].name, (unsigned long)bounds[b]);
            assert_engine_keeps(config, what);
            regio_config_free(config);
        }
    }
    raw_bytes_free_all();
}

/* The mapping itself: each limit setting lands in its engine field. */
static void limit_settings_feed_their_engine_fields(void **state)
{
    (void)state;
    regio_raw_value raw[] = {
            {.name = "MaxMessageBytes",
             .type = REGIO_REG_DWORD,
             .data = dword_bytes(2147483647),
             .size = 4},
            {.name = "MaxRecipients",
             .type = REGIO_REG_DWORD,
             .data = dword_bytes(5000),
             .size = 4},
            {.name = "MaxLineLength",
             .type = REGIO_REG_DWORD,
             .data = dword_bytes(65536),
             .size = 4},
    };
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    regio_config *config = regio_config_build(raw, 3, false, &diags);
    assert_non_null(config);
    smtp_limits given = regio_engine_limits(config);
    smtp_limits used = smtp_limits_effective(&given);
    assert_int_equal(used.max_message_bytes, 2147483647);
    assert_int_equal(used.max_recipients, 5000);
    assert_int_equal(used.max_line_length, 65536);
    regio_config_free(config);
    regio_diag_list_free(&diags);
    raw_bytes_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(every_dword_bound_reaches_the_engine_unchanged),
            cmocka_unit_test(limit_settings_feed_their_engine_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
