/* The Win32 reader against real registry keys (Wine's registry in the test prefix): scratch
 * keys under HKCU, written with RegSetValueExW byte for byte, so shapes that regedit would
 * never write (no terminators, odd sizes, wrong types, huge values) are exercised too. */
#include <windows.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <cmocka.h>

#include "raw_bytes.h"
#include "config/reg_reader.h"
#include "value_decode.h"

typedef struct fixture {
    wchar_t root[128];
    wchar_t parameters[192];
    wchar_t tcpip[192];
    wchar_t policy[192];
    HKEY params_key;
    HKEY policy_key;
    HKEY tcpip_key;
    regio_diag_list diags;
    regio_config *config;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    swprintf(f->root, 128, L"Software\\imsrelay-tests\\regio-%lu-%lu",
             (unsigned long)GetCurrentProcessId(), (unsigned long)GetTickCount());
    swprintf(f->parameters, 192, L"%ls\\MSExchangeIMC\\Parameters", f->root);
    swprintf(f->tcpip, 192, L"%ls\\Tcpip\\Parameters", f->root);
    swprintf(f->policy, 192, L"%ls\\Policies\\imsrelay", f->root);
    regio_diag_list_init(&f->diags);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->policy_key) {
        RegCloseKey(f->policy_key);
    }
    if (f->params_key) {
        RegCloseKey(f->params_key);
    }
    if (f->tcpip_key) {
        RegCloseKey(f->tcpip_key);
    }
    RegDeleteTreeW(HKEY_CURRENT_USER, f->root);
    RegDeleteKeyW(HKEY_CURRENT_USER, f->root);
    regio_config_free(f->config);
    regio_diag_list_free(&f->diags);
    free(f);
    raw_bytes_free_all();
    return 0;
}

static HKEY create(const wchar_t *path)
{
    HKEY key;
    assert_int_equal(
            RegCreateKeyExW(HKEY_CURRENT_USER, path, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &key, NULL),
            ERROR_SUCCESS);
    return key;
}

static void set(HKEY key, const wchar_t *name, DWORD type, const void *data, size_t size)
{
    assert_int_equal(RegSetValueExW(key, name, 0, type, data, (DWORD)size), ERROR_SUCCESS);
}

static void set_dword(HKEY key, const wchar_t *name, DWORD value)
{
    set(key, name, REG_DWORD, &value, sizeof(value));
}

/* A wide literal with its embedded NULs, without the compiler's own NUL. */
#define WSET(key, name, type, lit) set(key, name, type, lit, sizeof(lit) - sizeof(wchar_t))

static const regio_config *read_config(fixture *f)
{
    f->config = reg_reader_read_config_from(HKEY_CURRENT_USER, f->parameters, f->policy, f->tcpip,
                                            &f->diags);
    assert_non_null(f->config);
    return f->config;
}

static void missing_key_gives_defaults_with_the_machine_s_names(void **state)
{
    fixture *f = *state;
    const regio_config *c = read_config(f);
    assert_int_equal(c->relay_flags.state, REGIO_VALUE_ABSENT);
    assert_int_equal(c->listen_port.value, 25);
    assert_int_equal(c->ip_enable_router.state, REGIO_VALUE_ABSENT);
    assert_true(find_diag(&f->diags, REGIO_SEV_INFO, "", "does not exist") >= 0);
    /* The reader expands the default: an absolute path, no % left. */
    assert_non_null(strstr(c->mail_root, ":\\"));
    assert_non_null(strstr(c->mail_root, "\\imsrelay"));
    assert_null(strchr(c->mail_root, '%'));
    assert_true(strlen(c->host_name) > 0);
    assert_int_equal(regio_diag_count(&f->diags, REGIO_SEV_WARNING), 0);
}

static void values_are_read_as_written(void **state)
{
    fixture *f = *state;
    f->params_key = create(f->parameters);
    f->tcpip_key = create(f->tcpip);
    set_dword(f->params_key, L"RelayFlags", 7);
    WSET(f->params_key, L"RelayDenyList", REG_MULTI_SZ, L"192.168.1.0;255.255.255.248\0\0");
    WSET(f->params_key, L"RelayAllowList", REG_SZ, L"192.168.1.0;255.255.255.0\0");
    WSET(f->params_key, L"relaylocaliplist", REG_MULTI_SZ,
         L"10.1.1.1\0"
         L"10.2.2.2\0\0");
    WSET(f->params_key, L"MailRoot", REG_EXPAND_SZ, L"%SystemDrive%\\mailroot\0");
    WSET(f->params_key, L"SmtpHostName", REG_SZ, L"mx.example.com\0");
    set_dword(f->params_key, L"ListenPort", 2525);
    set_dword(f->tcpip_key, L"IPEnableRouter", 1);

    const regio_config *c = read_config(f);
    assert_int_equal(c->relay_flags.value, 7);
    assert_int_equal(c->relay_deny_list.state, REGIO_VALUE_OK);
    assert_string_equal(c->relay_deny_list.lines[0], "192.168.1.0;255.255.255.248");
    assert_int_equal(c->relay_allow_list.state, REGIO_VALUE_COERCED);
    assert_string_equal(c->relay_allow_list.lines[0], "192.168.1.0;255.255.255.0");
    assert_int_equal(c->relay_local_ip_list.count, 2);
    assert_string_equal(c->relay_local_ip_list.lines[1], "10.2.2.2");
    assert_int_equal(c->mail_root_state, REGIO_VALUE_OK);
    assert_string_equal(c->mail_root, "C:\\mailroot");
    assert_string_equal(c->host_name, "mx.example.com");
    assert_int_equal(c->listen_port.value, 2525);
    assert_int_equal(c->ip_enable_router.state, REGIO_VALUE_OK);
    assert_int_equal(c->ip_enable_router.value, 1);
    assert_int_equal(regio_diag_count(&f->diags, REGIO_SEV_ERROR), 0);
}

static void raw_shapes_are_read_safely(void **state)
{
    fixture *f = *state;
    f->params_key = create(f->parameters);
    /* no terminators at all */
    set(f->params_key, L"RelayDenyList", REG_MULTI_SZ,
        L"10.0.0.1\0"
        L"10.0.0.2",
        17 * 2);
    /* odd byte count: the last byte is half a character */
    set(f->params_key, L"RelayAllowList", REG_MULTI_SZ, L"10.0.0.3\0\0", 9 * 2 + 1);
    /* wrong type for RelayFlags: fails closed */
    WSET(f->params_key, L"RelayFlags", REG_SZ, L"3\0");
    /* IPEnableRouter belongs to the TCP/IP key */
    set_dword(f->params_key, L"IPEnableRouter", 0);
    /* embedded empty string keeps line numbers */
    WSET(f->params_key, L"LocalDomains", REG_MULTI_SZ,
         L"a.example\0\0"
         L"b.example\0\0");
    /* a typo, with a non-ASCII letter */
    WSET(f->params_key, L"RelayAll\u00f6wList", REG_MULTI_SZ, L"10.9.9.9\0\0");

    const regio_config *c = read_config(f);
    assert_int_equal(c->relay_deny_list.count, 2);
    assert_string_equal(c->relay_deny_list.lines[1], "10.0.0.2");
    assert_int_equal(c->relay_allow_list.count, 1);
    assert_string_equal(c->relay_allow_list.lines[0], "10.0.0.3");
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayAllowList", "odd number") >= 0);
    assert_int_equal(c->relay_flags.state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(c->relay_flags.value, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RelayFlags", "is REG_SZ") >= 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "IPEnableRouter", "ignored here") >= 0);
    assert_int_equal(c->ip_enable_router.state, REGIO_VALUE_ABSENT);
    assert_int_equal(c->local_domains.count, 3);
    assert_string_equal(c->local_domains.lines[1], "");
    assert_string_equal(c->local_domains.lines[2], "b.example");
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayAll\xC3\xB6wList",
                          "did you mean RelayAllowList?") >= 0);
}

static void a_list_beyond_the_limit_is_unreadable(void **state)
{
    fixture *f = *state;
    f->params_key = create(f->parameters);
    size_t size = REGIO_LIST_MAX_BYTES + 2;
    uint8_t *data = calloc(1, size);
    assert_non_null(data);
    memset(data, '1', 16); /* "1111..." then NULs: a valid list, only too large */
    for (size_t i = 1; i < 16; i += 2) {
        data[i] = 0;
    }
    set(f->params_key, L"RelayDenyList", REG_MULTI_SZ, data, size);
    free(data);
    set_dword(f->params_key, L"RelayFlags", 1);
    const regio_config *c = read_config(f);
    assert_int_equal(c->relay_deny_list.state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(c->relay_deny_list.count, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RelayDenyList", "more than the limit") >= 0);
    assert_int_equal(c->relay_flags.value, 1);
}

static void ip_enable_router_of_the_wrong_type_counts_as_forwarding(void **state)
{
    fixture *f = *state;
    f->tcpip_key = create(f->tcpip);
    WSET(f->tcpip_key, L"IPEnableRouter", REG_SZ, L"0\0");
    const regio_config *c = read_config(f);
    assert_int_equal(c->ip_enable_router.state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(c->ip_enable_router.value, 1);
}

static void a_key_that_cannot_be_opened_fails_closed(void **state)
{
    fixture *f = *state;
    /* A handle that is no key: RegOpenKeyExW fails with an error other than "not found",
     * as it would with "access denied". Absent would mean defaults; this must not. */
    HKEY bogus = (HKEY)(ULONG_PTR)0x7ffe1234;
    f->config = reg_reader_read_config_from(bogus, f->parameters, f->policy, f->tcpip, &f->diags);
    assert_non_null(f->config);
    const regio_config *c = f->config;
    assert_int_equal(c->relay_flags.state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(c->relay_flags.value, 0);
    assert_int_equal(c->relay_deny_list.state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(c->relay_allow_list.state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(c->relay_local_ip_list.state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(c->ip_enable_router.value, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "", "cannot be opened") >= 0);
}

/* Group Policy: a value in the policy key wins over Parameters, the Parameters value is
 * reported as shadowed, and every other value still comes from Parameters. */
static void a_policy_value_wins_over_parameters(void **state)
{
    fixture *f = *state;
    f->params_key = create(f->parameters);
    f->policy_key = create(f->policy);
    set_dword(f->params_key, L"RelayFlags", 1);
    set_dword(f->params_key, L"ListenPort", 2525);
    set_dword(f->policy_key, L"RelayFlags", 3);
    WSET(f->policy_key, L"RelayDenyList", REG_MULTI_SZ, L"10.0.0.1\0\0");

    const regio_config *c = read_config(f);
    assert_int_equal(c->relay_flags.value, 3);
    assert_string_equal(c->relay_deny_list.lines[0], "10.0.0.1");
    assert_int_equal(c->listen_port.value, 2525);
    assert_int_equal(regio_config_source(c, "RelayFlags"), REGIO_SOURCE_POLICY);
    assert_int_equal(regio_config_source(c, "RelayDenyList"), REGIO_SOURCE_POLICY);
    assert_int_equal(regio_config_source(c, "ListenPort"), REGIO_SOURCE_PARAMETERS);
    assert_int_equal(regio_config_source(c, "MaxConnections"), REGIO_SOURCE_DEFAULT);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayFlags", "policy key") >= 0);
    assert_int_equal(regio_diag_count(&f->diags, REGIO_SEV_ERROR), 0);
}

/* A bad policy value is judged like a bad Parameters value, and the diagnostic says it came
 * from the policy key; the Parameters value it shadows is not used instead. */
static void a_bad_policy_value_fails_like_a_bad_parameter_and_names_its_key(void **state)
{
    fixture *f = *state;
    f->params_key = create(f->parameters);
    f->policy_key = create(f->policy);
    set_dword(f->params_key, L"RelayFlags", 1);
    WSET(f->policy_key, L"RelayFlags", REG_SZ, L"3\0");

    const regio_config *c = read_config(f);
    assert_int_equal(c->relay_flags.state, REGIO_VALUE_UNREADABLE);
    regio_config_note_sources(c, &f->diags, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RelayFlags",
                          "HKLM\\SOFTWARE\\Policies\\imsrelay") >= 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
            T(missing_key_gives_defaults_with_the_machine_s_names),
            T(values_are_read_as_written),
            T(raw_shapes_are_read_safely),
            T(a_list_beyond_the_limit_is_unreadable),
            T(ip_enable_router_of_the_wrong_type_counts_as_forwarding),
            T(a_key_that_cannot_be_opened_fails_closed),
            T(a_policy_value_wins_over_parameters),
            T(a_bad_policy_value_fails_like_a_bad_parameter_and_names_its_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
