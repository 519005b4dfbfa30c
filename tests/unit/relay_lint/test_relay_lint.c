/* `imsrelay check` warns about allow rules that make an open relay behind NAT or a proxy,
 * and stays quiet about sensible ones. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "relay_lint.h"

/* Lints an allow list under the given RelayFlags; returns the number of warnings and
 * leaves the last message in `last`. */
static size_t lint(uint32_t flags, const char *const *lines, size_t count, char *last)
{
    regio_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.relay_flags = (regio_dword){"RelayFlags", REGIO_VALUE_OK, flags};
    cfg.relay_deny_list = (regio_list){"RelayDenyList", REGIO_VALUE_ABSENT, NULL, 0};
    cfg.relay_allow_list = (regio_list){"RelayAllowList", REGIO_VALUE_OK, lines, count};
    cfg.relay_local_ip_list = (regio_list){"RelayLocalIPList", REGIO_VALUE_ABSENT, NULL, 0};
    cfg.ip_enable_router = (regio_dword){"IPEnableRouter", REGIO_VALUE_ABSENT, 0};
    regio_diag_list build, diags;
    regio_diag_list_init(&build);
    regio_diag_list_init(&diags);
    relay_policy *policy = relay_policy_build(&cfg, &build);
    assert_non_null(policy);
    size_t n = relay_policy_lint(policy, &diags);
    assert_int_equal(n, diags.count);
    if (n && last) {
        strcpy(last, diags.items[n - 1].message);
    }
    relay_policy_free(policy);
    regio_diag_list_free(&build);
    regio_diag_list_free(&diags);
    return n;
}

static void everyone_allowed_is_an_open_relay(void **state)
{
    (void)state;
    char msg[REGIO_DIAG_MESSAGE_MAX];
    const char *v4[] = {"0.0.0.0;0.0.0.0"};
    assert_int_equal(lint(2, v4, 1, msg), 1);
    assert_non_null(strstr(msg, "every IPv4 client"));
    assert_non_null(strstr(msg, "open relay"));
    const char *v6[] = {"::/0"};
    assert_int_equal(lint(2, v6, 1, msg), 1);
    assert_non_null(strstr(msg, "every IPv6 client"));
}

static void whole_private_ranges_are_flagged(void **state)
{
    (void)state;
    char msg[REGIO_DIAG_MESSAGE_MAX];
    const char *lines[] = {"10.0.0.0;255.0.0.0", "172.16.0.0/12", "192.168.0.0/16",
                           "100.64.0.0/10",      "fc00::/7",      "172.0.0.0/8"};
    assert_int_equal(lint(2, lines, 6, msg), 6);
    assert_non_null(strstr(msg, "172.16.0.0/12")); /* 172.0.0.0/8 contains it */
    assert_non_null(strstr(msg, "NAT"));
}

static void a_non_contiguous_mask_covering_a_private_range_is_flagged(void **state)
{
    (void)state;
    /* Tests only the first octet: all of 10.0.0.0/8 matches. */
    const char *lines[] = {"10.0.0.0;255.0.0.0", "10.0.0.0;255.0.0.1"};
    assert_int_equal(lint(2, lines, 2, NULL), 1);
}

static void sensible_allow_lists_draw_no_warning(void **state)
{
    (void)state;
    const char *lines[] = {"192.168.1.0;255.255.255.0",
                           "127.0.0.1",
                           "10.1.0.0/16",
                           "2001:db8::/32",
                           "# comment",
                           ""};
    assert_int_equal(lint(2, lines, 6, NULL), 0);
}

static void allow_list_not_in_effect_is_not_linted(void **state)
{
    (void)state;
    const char *lines[] = {"0.0.0.0;0.0.0.0"};
    assert_int_equal(lint(1, lines, 1, NULL), 0);
    assert_int_equal(lint(8, lines, 1, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(everyone_allowed_is_an_open_relay),
            cmocka_unit_test(whole_private_ranges_are_flagged),
            cmocka_unit_test(a_non_contiguous_mask_covering_a_private_range_is_flagged),
            cmocka_unit_test(sensible_allow_lists_draw_no_warning),
            cmocka_unit_test(allow_list_not_in_effect_is_not_linted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
