/* relay_policy_diag_covered: which configuration warnings an event of their own already says
 * (issue 9 defect 3). The decision is by the diagnostic's code: rewording a message must
 * never change which warnings the service shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_fixture.h"

static regio_diag diag(regio_diag_code code, regio_severity severity, const char *value,
                       const char *message)
{
    regio_diag_list list;
    regio_diag_list_init(&list);
    regio_diag_add_code(&list, code, severity, value, 0, NULL, "%s", message);
    assert_int_equal(list.count, 1);
    regio_diag d = list.items[0];
    regio_diag_list_free(&list);
    return d;
}

/* The code the engine gives the warning it produced for this condition. */
static regio_diag_code code_of_warning(const regio_diag_list *diags, const char *value)
{
    for (size_t i = 0; i < diags->count; i++) {
        if (diags->items[i].severity == REGIO_SEV_WARNING &&
            strcmp(diags->items[i].value, value) == 0) {
            return diags->items[i].code;
        }
    }
    fail_msg("no warning about %s", value);
    return REGIO_DIAG_UNCODED;
}

static void relay_disabled_warning_is_covered_by_its_code(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(0);
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    relay_policy *p = relay_policy_build(&cfg, &diags);
    assert_non_null(p);
    assert_true(relay_policy_relay_disabled(p));
    assert_int_equal(code_of_warning(&diags, "RelayFlags"), REGIO_DIAG_RELAY_DISABLED);
    for (size_t i = 0; i < diags.count; i++) {
        assert_int_equal(relay_policy_diag_covered(p, &diags.items[i]),
                         diags.items[i].code == REGIO_DIAG_RELAY_DISABLED);
    }

    regio_diag right_code = diag(REGIO_DIAG_RELAY_DISABLED, REGIO_SEV_WARNING, "RelayFlags",
                                 "words that say something else entirely");
    assert_true(relay_policy_diag_covered(p, &right_code));
    regio_diag right_words = diag(REGIO_DIAG_UNCODED, REGIO_SEV_WARNING, "RelayFlags",
                                  "RelayFlags is 0: every relay is denied");
    assert_false(relay_policy_diag_covered(p, &right_words));
    regio_diag other_code = diag(REGIO_DIAG_ALLOW_PRIVATE_RANGE, REGIO_SEV_WARNING, "RelayFlags",
                                 "RelayFlags is 0: every relay is denied");
    assert_false(relay_policy_diag_covered(p, &other_code));
    regio_diag an_error = diag(REGIO_DIAG_RELAY_DISABLED, REGIO_SEV_ERROR, "RelayFlags", "x");
    assert_false(relay_policy_diag_covered(p, &an_error)); /* errors are never hidden */
    relay_policy_free(p);
    regio_diag_list_free(&diags);
}

static void local_ip_ignored_warning_is_covered_by_its_code(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(4);
    set_list(&cfg.relay_local_ip_list, "192.0.2.1");
    cfg.ip_enable_router.state = REGIO_VALUE_OK;
    cfg.ip_enable_router.value = 1;
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    relay_policy *p = relay_policy_build(&cfg, &diags);
    assert_non_null(p);
    assert_true(relay_policy_local_ip_ignored(p));
    assert_int_equal(code_of_warning(&diags, "RelayFlags"), REGIO_DIAG_LOCAL_IP_IGNORED);

    regio_diag right_code =
            diag(REGIO_DIAG_LOCAL_IP_IGNORED, REGIO_SEV_WARNING, "RelayFlags", "reworded");
    assert_true(relay_policy_diag_covered(p, &right_code));
    regio_diag right_words = diag(REGIO_DIAG_UNCODED, REGIO_SEV_WARNING, "RelayFlags",
                                  "RelayLocalIPList is not in effect");
    assert_false(relay_policy_diag_covered(p, &right_words));
    /* Not the condition at hand: a relay-disabled code is not covered here. */
    regio_diag disabled = diag(REGIO_DIAG_RELAY_DISABLED, REGIO_SEV_WARNING, "RelayFlags", "x");
    assert_false(relay_policy_diag_covered(p, &disabled));
    relay_policy_free(p);
    regio_diag_list_free(&diags);
}

/* When neither condition holds nothing is covered, whatever its code. */
static void nothing_is_covered_when_the_rules_are_in_effect(void **state)
{
    (void)state;
    regio_config cfg = fixture_config(2);
    set_list(&cfg.relay_allow_list, "192.0.2.1");
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    relay_policy *p = relay_policy_build(&cfg, &diags);
    assert_non_null(p);
    regio_diag a = diag(REGIO_DIAG_RELAY_DISABLED, REGIO_SEV_WARNING, "RelayFlags", "x");
    regio_diag b = diag(REGIO_DIAG_LOCAL_IP_IGNORED, REGIO_SEV_WARNING, "RelayFlags", "x");
    assert_false(relay_policy_diag_covered(p, &a));
    assert_false(relay_policy_diag_covered(p, &b));
    relay_policy_free(p);
    regio_diag_list_free(&diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(relay_disabled_warning_is_covered_by_its_code),
            cmocka_unit_test(local_ip_ignored_warning_is_covered_by_its_code),
            cmocka_unit_test(nothing_is_covered_when_the_rules_are_in_effect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
