/* The outbound TLS and login decisions: every mode against every server behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "smtp_client.h"
#include "tls_policy.h"

static void registry_values_map_to_modes_and_unknown_values_to_the_strict_side(void **state)
{
    (void)state;
    assert_int_equal(tls_policy_for_smart_host(0), TLS_POLICY_NEVER);
    assert_int_equal(tls_policy_for_smart_host(1), TLS_POLICY_OPPORTUNISTIC);
    assert_int_equal(tls_policy_for_smart_host(2), TLS_POLICY_REQUIRED);
    assert_int_equal(tls_policy_for_smart_host(3), TLS_POLICY_IMPLICIT);
    assert_int_equal(tls_policy_for_smart_host(7), TLS_POLICY_REQUIRED);
    assert_int_equal(tls_policy_for_mx(0), TLS_POLICY_NEVER);
    assert_int_equal(tls_policy_for_mx(1), TLS_POLICY_OPPORTUNISTIC);
    assert_int_equal(tls_policy_for_mx(2), TLS_POLICY_REQUIRED);
    assert_int_equal(tls_policy_for_mx(3), TLS_POLICY_REQUIRED);
    assert_false(tls_policy_verifies(TLS_POLICY_OPPORTUNISTIC));
    assert_true(tls_policy_verifies(TLS_POLICY_REQUIRED));
    assert_true(tls_policy_verifies(TLS_POLICY_IMPLICIT));
}

typedef struct ehlo_case {
    tls_policy_mode mode;
    bool offered;
    tls_policy_step expected;
} ehlo_case;

static void after_the_first_ehlo_only_a_required_mode_without_starttls_defers(void **state)
{
    (void)state;
    static const ehlo_case cases[] = {
            {TLS_POLICY_NEVER, false, TLS_STEP_CLEAR},
            {TLS_POLICY_NEVER, true, TLS_STEP_CLEAR},
            {TLS_POLICY_OPPORTUNISTIC, false, TLS_STEP_CLEAR},
            {TLS_POLICY_OPPORTUNISTIC, true, TLS_STEP_STARTTLS},
            {TLS_POLICY_REQUIRED, false, TLS_STEP_DEFER},
            {TLS_POLICY_REQUIRED, true, TLS_STEP_STARTTLS},
            {TLS_POLICY_IMPLICIT, false, TLS_STEP_DEFER},
            {TLS_POLICY_IMPLICIT, true, TLS_STEP_DEFER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char reason[TLS_POLICY_REASON_MAX];
        tls_policy_step step = tls_policy_after_ehlo(cases[i].mode, false, cases[i].offered, reason,
                                                     sizeof(reason));
        assert_int_equal(step, cases[i].expected);
        if (step == TLS_STEP_DEFER) {
            assert_non_null(strstr(reason, "required"));
        } else {
            assert_string_equal(reason, "");
        }
    }
    char reason[TLS_POLICY_REASON_MAX];
    assert_non_null(strstr(
            (tls_policy_after_ehlo(TLS_POLICY_REQUIRED, false, false, reason, sizeof(reason)),
             reason),
            "does not offer STARTTLS"));
    for (int mode = TLS_POLICY_NEVER; mode <= TLS_POLICY_IMPLICIT; mode++) {
        assert_int_equal(
                tls_policy_after_ehlo((tls_policy_mode)mode, true, false, reason, sizeof(reason)),
                TLS_STEP_PROCEED);
    }
}

static void a_refused_starttls_defers_a_required_mode_and_goes_on_in_clear_otherwise(void **state)
{
    (void)state;
    char reason[TLS_POLICY_REASON_MAX];
    assert_int_equal(tls_policy_after_starttls_refused(TLS_POLICY_OPPORTUNISTIC,
                                                       "454 4.7.0 TLS not available", reason,
                                                       sizeof(reason)),
                     TLS_STEP_CLEAR);
    assert_int_equal(tls_policy_after_starttls_refused(TLS_POLICY_REQUIRED,
                                                       "454 4.7.0 TLS not available", reason,
                                                       sizeof(reason)),
                     TLS_STEP_DEFER);
    assert_non_null(strstr(reason, "454 4.7.0 TLS not available"));
    assert_non_null(strstr(reason, "nothing was sent in clear"));
}

static void a_failed_handshake_is_retried_in_clear_once_only_when_opportunistic(void **state)
{
    (void)state;
    char reason[TLS_POLICY_REASON_MAX];
    const char *error = "certificate not verified: not issued by a trusted authority";
    assert_int_equal(tls_policy_after_handshake_failure(TLS_POLICY_OPPORTUNISTIC, false, error,
                                                        reason, sizeof(reason)),
                     TLS_STEP_RETRY_CLEAR);
    assert_int_equal(tls_policy_after_handshake_failure(TLS_POLICY_OPPORTUNISTIC, true, error,
                                                        reason, sizeof(reason)),
                     TLS_STEP_DEFER);
    assert_int_equal(tls_policy_after_handshake_failure(TLS_POLICY_REQUIRED, false, error, reason,
                                                        sizeof(reason)),
                     TLS_STEP_DEFER);
    assert_non_null(strstr(reason, "not issued by a trusted authority"));
    assert_non_null(strstr(reason, "nothing was sent in clear"));
    assert_int_equal(tls_policy_after_handshake_failure(TLS_POLICY_IMPLICIT, false, error, reason,
                                                        sizeof(reason)),
                     TLS_STEP_DEFER);
}

static void the_password_goes_only_inside_tls_and_plain_is_preferred(void **state)
{
    (void)state;
    char reason[TLS_POLICY_REASON_MAX];
    unsigned mech = 99;
    const unsigned both = SMTP_CLIENT_AUTH_PLAIN | SMTP_CLIENT_AUTH_LOGIN;
    assert_int_equal(tls_policy_auth(false, false, false, both, &mech, reason, sizeof(reason)),
                     TLS_AUTH_NONE);
    assert_int_equal(mech, 0);
    assert_int_equal(tls_policy_auth(true, true, false, both, &mech, reason, sizeof(reason)),
                     TLS_AUTH_DEFER);
    assert_non_null(strstr(reason, "only inside TLS"));
    assert_int_equal(tls_policy_auth(true, false, true, both, &mech, reason, sizeof(reason)),
                     TLS_AUTH_DEFER);
    assert_non_null(strstr(reason, "no usable password is stored"));
    assert_int_equal(tls_policy_auth(true, true, true, 0, &mech, reason, sizeof(reason)),
                     TLS_AUTH_DEFER);
    assert_non_null(strstr(reason, "neither AUTH PLAIN nor LOGIN"));
    assert_int_equal(tls_policy_auth(true, true, true, both, &mech, reason, sizeof(reason)),
                     TLS_AUTH_SEND);
    assert_int_equal(mech, SMTP_CLIENT_AUTH_PLAIN);
    assert_int_equal(tls_policy_auth(true, true, true, SMTP_CLIENT_AUTH_LOGIN, &mech, reason,
                                     sizeof(reason)),
                     TLS_AUTH_SEND);
    assert_int_equal(mech, SMTP_CLIENT_AUTH_LOGIN);
}

static void the_description_names_protocol_cipher_and_verification(void **state)
{
    (void)state;
    char out[160];
    tls_policy_describe(false, "", "", false, out, sizeof(out));
    assert_string_equal(out, "none");
    tls_policy_describe(true, "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", true, out,
                        sizeof(out));
    assert_string_equal(out, "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 verified");
    tls_policy_describe(true, "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false, out,
                        sizeof(out));
    assert_string_equal(out, "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 not-verified");
}

static void implicit_tls_takes_port_465_unless_smart_host_names_a_port(void **state)
{
    (void)state;
    route_smarthost hosts;
    char error[ROUTE_ERROR_MAX];
    assert_true(route_smarthost_parse("relay.example.net, [192.0.2.1]:2525, [relay2.example.net]",
                                      &hosts, error, sizeof(error)));
    route_smarthost same = hosts;
    for (int mode = TLS_POLICY_NEVER; mode <= TLS_POLICY_REQUIRED; mode++) {
        tls_policy_smart_host_ports((tls_policy_mode)mode, &same);
        assert_int_equal(same.hosts[0].port, 25);
        assert_int_equal(same.hosts[1].port, 2525);
        assert_int_equal(same.hosts[2].port, 25);
    }
    tls_policy_smart_host_ports(TLS_POLICY_IMPLICIT, &hosts);
    assert_int_equal(hosts.hosts[0].port, 465);
    assert_int_equal(hosts.hosts[1].port, 2525);
    assert_int_equal(hosts.hosts[2].port, 465);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(registry_values_map_to_modes_and_unknown_values_to_the_strict_side),
            cmocka_unit_test(after_the_first_ehlo_only_a_required_mode_without_starttls_defers),
            cmocka_unit_test(
                    a_refused_starttls_defers_a_required_mode_and_goes_on_in_clear_otherwise),
            cmocka_unit_test(a_failed_handshake_is_retried_in_clear_once_only_when_opportunistic),
            cmocka_unit_test(the_password_goes_only_inside_tls_and_plain_is_preferred),
            cmocka_unit_test(the_description_names_protocol_cipher_and_verification),
            cmocka_unit_test(implicit_tls_takes_port_465_unless_smart_host_names_a_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
