/* regio_config_build: the whole registry contract, defaults, bounds and the fail-safe rules. */
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
#include "settings.h"

typedef struct fixture {
    regio_diag_list diags;
    regio_config *config;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    regio_diag_list_init(&f->diags);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    regio_config_free(f->config);
    regio_diag_list_free(&f->diags);
    free(f);
    raw_bytes_free_all();
    return 0;
}

static const regio_config *build(fixture *f, const regio_raw_value *values, size_t count)
{
    regio_config_free(f->config);
    regio_diag_list_free(&f->diags);
    f->config = regio_config_build(values, count, false, &f->diags);
    assert_non_null(f->config);
    return f->config;
}

#define DWORD(name_, v)                                                                            \
    {                                                                                              \
        .name = name_, .type = REGIO_REG_DWORD, .data = dword_bytes(v), .size = 4                  \
    }
#define MULTI(name_, lit)                                                                          \
    {                                                                                              \
        .name = name_, .type = REGIO_REG_MULTI_SZ, .data = U16(lit)                                \
    }
#define SZ(name_, lit)                                                                             \
    {                                                                                              \
        .name = name_, .type = REGIO_REG_SZ, .data = U16(lit)                                      \
    }

static void missing_key_gives_every_default(void **state)
{
    fixture *f = *state;
    f->config = regio_config_build(NULL, 0, true, &f->diags);
    const regio_config *c = f->config;
    assert_non_null(c);
    assert_int_equal(c->relay_flags.state, REGIO_VALUE_ABSENT);
    assert_int_equal(c->relay_flags.value, 0);
    assert_string_equal(c->relay_flags.name, "RelayFlags");
    const regio_list *lists[] = {&c->relay_deny_list, &c->relay_allow_list, &c->relay_local_ip_list,
                                 &c->local_domains, &c->listen_addresses};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(lists[i]->state, REGIO_VALUE_ABSENT);
        assert_int_equal(lists[i]->count, 0);
        assert_non_null(lists[i]->lines);
        assert_non_null(lists[i]->name);
    }
    assert_int_equal(c->ip_enable_router.value, 0);
    assert_int_equal(c->listen_port.value, 25);
    assert_int_equal(c->max_message_bytes.value, 10485760);
    assert_int_equal(c->max_recipients.value, 100);
    assert_int_equal(c->max_line_length.value, 1000);
    assert_int_equal(c->idle_timeout_seconds.value, 300);
    assert_int_equal(c->max_connections.value, 2000);
    assert_int_equal(c->max_connections_per_client.value, 50);
    assert_int_equal(c->protocol_log.value, 1);
    assert_int_equal(c->denial_events_per_minute.value, 10);
    assert_int_equal(c->auth_windows_accounts.value, 0);
    assert_string_equal(c->mail_root, "%ProgramData%\\imsrelay");
    assert_int_equal(c->mail_root_state, REGIO_VALUE_ABSENT);
    assert_string_equal(c->host_name, "");
    assert_int_equal(c->host_name_state, REGIO_VALUE_ABSENT);
    assert_true(find_diag(&f->diags, REGIO_SEV_INFO, "", "does not exist") >= 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_INFO, "RelayFlags", "no client may relay") >= 0);
    assert_int_equal(regio_diag_count(&f->diags, REGIO_SEV_WARNING), 0);
}

static void a_full_valid_configuration_is_read_as_written(void **state)
{
    fixture *f = *state;
    regio_raw_value values[] = {
            DWORD("RelayFlags", 3),
            MULTI("RelayDenyList", "192.168.1.0;255.255.255.248\0\0"),
            MULTI("RelayAllowList", "192.168.1.0;255.255.255.0\0# office\0\0"),
            MULTI("RelayLocalIPList", "10.1.1.1\0\0"),
            DWORD("IPEnableRouter", 1),
            MULTI("LocalDomains", "example.com\0example.org\0\0"),
            DWORD("ListenPort", 2525),
            MULTI("ListenAddresses", "127.0.0.1\0::1\0\0"),
            {.name = "MailRoot", .type = REGIO_REG_EXPAND_SZ, .data = U16("D:\\imsrelay\0")},
            SZ("SmtpHostName", "mail.example.com\0"),
            DWORD("MaxMessageBytes", 1048576),
            DWORD("MaxRecipients", 500),
            DWORD("MaxLineLength", 4096),
            DWORD("IdleTimeoutSeconds", 60),
            DWORD("MaxConnections", 100),
            DWORD("MaxConnectionsPerClient", 5),
            DWORD("ProtocolLog", 0),
            DWORD("DenialEventsPerMinute", 3),
            DWORD("AuthWindowsAccounts", 1),
    };
    const regio_config *c = build(f, values, sizeof(values) / sizeof(values[0]));
    assert_int_equal(f->diags.count, 0);
    assert_int_equal(c->relay_flags.state, REGIO_VALUE_OK);
    assert_int_equal(c->relay_flags.value, 3);
    assert_int_equal(c->relay_deny_list.count, 1);
    assert_string_equal(c->relay_deny_list.lines[0], "192.168.1.0;255.255.255.248");
    assert_int_equal(c->relay_allow_list.count, 2);
    assert_string_equal(c->relay_allow_list.lines[1], "# office");
    assert_string_equal(c->relay_local_ip_list.lines[0], "10.1.1.1");
    assert_int_equal(c->ip_enable_router.value, 1);
    assert_string_equal(c->local_domains.lines[1], "example.org");
    assert_int_equal(c->listen_port.value, 2525);
    assert_string_equal(c->listen_addresses.lines[1], "::1");
    assert_string_equal(c->mail_root, "D:\\imsrelay");
    assert_int_equal(c->mail_root_state, REGIO_VALUE_OK);
    assert_string_equal(c->host_name, "mail.example.com");
    assert_int_equal(c->max_message_bytes.value, 1048576);
    assert_int_equal(c->max_recipients.value, 500);
    assert_int_equal(c->max_line_length.value, 4096);
    assert_int_equal(c->idle_timeout_seconds.value, 60);
    assert_int_equal(c->max_connections.value, 100);
    assert_int_equal(c->max_connections_per_client.value, 5);
    assert_int_equal(c->protocol_log.value, 0);
    assert_int_equal(c->denial_events_per_minute.value, 3);
    assert_int_equal(c->auth_windows_accounts.value, 1);
}

static void configuration_outlives_the_raw_bytes(void **state)
{
    fixture *f = *state;
    regio_raw_value values[] = {MULTI("RelayAllowList", "10.0.0.0/8\0\0"),
                                SZ("SmtpHostName", "mx.example.net")};
    build(f, values, 2);
    raw_bytes_free_all(); /* the registry buffers are gone; the configuration is not */
    assert_string_equal(f->config->relay_allow_list.lines[0], "10.0.0.0/8");
    assert_string_equal(f->config->host_name, "mx.example.net");
}

static void value_names_match_ignoring_case(void **state)
{
    fixture *f = *state;
    regio_raw_value values[] = {DWORD("RELAYFLAGS", 2), MULTI("relayallowlist", "10.0.0.1\0\0")};
    const regio_config *c = build(f, values, 2);
    assert_int_equal(c->relay_flags.value, 2);
    assert_int_equal(c->relay_allow_list.count, 1);
    assert_int_equal(f->diags.count, 0);
}

static void relay_flags_of_the_wrong_type_is_unreadable_and_zero(void **state)
{
    fixture *f = *state;
    const uint8_t eight[8] = {3};
    regio_raw_value wrong[] = {
            SZ("RelayFlags", "3\0"),
            {.name = "RelayFlags", .type = REGIO_REG_BINARY, .data = dword_bytes(3), .size = 4},
            {.name = "RelayFlags", .type = REGIO_REG_QWORD, .data = bytes(eight, 8), .size = 8},
            {.name = "RelayFlags", .type = REGIO_REG_DWORD, .data = bytes(eight, 8), .size = 8},
            {.name = "RelayFlags", .type = REGIO_REG_DWORD, .unreadable = true},
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        const regio_config *c = build(f, &wrong[i], 1);
        assert_int_equal(c->relay_flags.state, REGIO_VALUE_UNREADABLE);
        assert_int_equal(c->relay_flags.value, 0);
        assert_int_equal(regio_diag_count(&f->diags, REGIO_SEV_ERROR), 1);
        assert_string_equal(f->diags.items[0].value, "RelayFlags");
    }
}

static void relay_flags_keeps_every_bit(void **state)
{
    fixture *f = *state;
    /* Unknown bits are the relay engine's to warn about; regio hands them over intact. */
    regio_raw_value v = DWORD("RelayFlags", 0xFFFFFFF1u);
    const regio_config *c = build(f, &v, 1);
    assert_int_equal(c->relay_flags.state, REGIO_VALUE_OK);
    assert_int_equal(c->relay_flags.value, 0xFFFFFFF1u);
}

static void unreadable_deny_list_is_reported_as_unreadable(void **state)
{
    fixture *f = *state;
    regio_raw_value values[] = {
            DWORD("RelayFlags", 1),
            {.name = "RelayDenyList", .type = REGIO_REG_BINARY, .data = U16("10.0.0.1\0\0")},
    };
    const regio_config *c = build(f, values, 2);
    assert_int_equal(c->relay_deny_list.state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(c->relay_deny_list.count, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RelayDenyList", "REG_BINARY") >= 0);
}

/* 16 MiB of NUL bytes read as an empty deny list, which under RelayFlags 1 opens relaying
 * for every client: a warning says so. An empty list is no surprise and earns none. */
static void a_deny_list_with_bytes_but_no_rules_is_a_warning(void **state)
{
    fixture *f = *state;
    static uint8_t nuls[16 * 1024 * 1024];
    regio_raw_value values[] = {
            DWORD("RelayFlags", 1),
            {.name = "RelayDenyList",
             .type = REGIO_REG_MULTI_SZ,
             .data = nuls,
             .size = sizeof nuls},
    };
    const regio_config *c = build(f, values, 2);
    assert_int_equal(c->relay_deny_list.count, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayDenyList",
                          "under RelayFlags 1 every client may relay") >= 0);

    regio_raw_value empty[] = {
            {.name = "RelayDenyList", .type = REGIO_REG_MULTI_SZ, .data = nuls, .size = 4},
    };
    build(f, empty, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayDenyList", "not one rule") < 0);
    regio_raw_value comments = MULTI("RelayAllowList", "# nobody yet\0\0");
    build(f, &comments, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayAllowList", "not one rule") >= 0);
}

static void string_where_a_list_is_expected_is_coerced(void **state)
{
    fixture *f = *state;
    regio_raw_value v = SZ("RelayAllowList", "192.168.1.0;255.255.255.0\0");
    const regio_config *c = build(f, &v, 1);
    assert_int_equal(c->relay_allow_list.state, REGIO_VALUE_COERCED);
    assert_int_equal(c->relay_allow_list.count, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayAllowList", "list of one line") >= 0);
}

static void near_miss_names_get_a_did_you_mean_warning(void **state)
{
    fixture *f = *state;
    regio_raw_value values[] = {
            MULTI("RelayAlowList", "10.0.0.1\0\0"), /* a letter missing */
            MULTI("RelayDneyList", "10.0.0.1\0\0"), /* two letters swapped */
            DWORD("ListenPorts", 26),               /* a letter extra */
            DWORD("Comment", 1),                    /* nothing like any setting */
    };
    const regio_config *c = build(f, values, 4);
    assert_int_equal(c->relay_allow_list.state, REGIO_VALUE_ABSENT);
    assert_int_equal(c->relay_deny_list.state, REGIO_VALUE_ABSENT);
    assert_int_equal(c->listen_port.value, 25);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayAlowList",
                          "did you mean RelayAllowList?") >= 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayDneyList",
                          "did you mean RelayDenyList?") >= 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "ListenPorts",
                          "did you mean ListenPort?") >= 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_INFO, "Comment", "not a value imsrelay reads") >= 0);
    assert_int_equal(regio_diag_count(&f->diags, REGIO_SEV_ERROR), 0);
}

static void stray_values_are_reported_up_to_a_bound(void **state)
{
    fixture *f = *state;
    char names[40][16];
    regio_raw_value values[41];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "Stray%02d", i);
        values[i] = (regio_raw_value){.name = names[i], .type = REGIO_REG_NONE};
    }
    values[40] = (regio_raw_value)DWORD("ListenPort", 2525); /* still read after all of them */
    const regio_config *c = build(f, values, 41);
    assert_int_equal(c->listen_port.value, 2525);
    assert_int_equal(f->diags.count, 32 + 1 + 1); /* 32 names, the rest counted, RelayFlags */
    assert_true(find_diag(&f->diags, REGIO_SEV_INFO, "", "8 more values") >= 0);
}

static void a_value_given_twice_uses_the_first(void **state)
{
    fixture *f = *state;
    regio_raw_value values[] = {DWORD("ListenPort", 2525), DWORD("listenport", 2626)};
    const regio_config *c = build(f, values, 2);
    assert_int_equal(c->listen_port.value, 2525);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "ListenPort", "more than once") >= 0);
}

static void dword_bounds_are_inclusive(void **state)
{
    fixture *f = *state;
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    for (size_t i = 0; i < count; i++) {
        const regio_setting *s = &settings[i];
        if (s->kind != REGIO_SETTING_DWORD) {
            continue;
        }
        const uint32_t edges[] = {s->min, s->max};
        for (size_t e = 0; e < 2; e++) {
            regio_raw_value v = DWORD(s->name, edges[e]);
            build(f, &v, 1);
            const regio_dword *d = (const regio_dword *)((const char *)f->config + s->offset);
            assert_int_equal(d->state, REGIO_VALUE_OK);
            assert_int_equal(d->value, edges[e]);
        }
    }
}

static void out_of_range_dwords_are_errors_and_take_their_fallback(void **state)
{
    fixture *f = *state;
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    size_t checked = 0;
    for (size_t i = 0; i < count; i++) {
        const regio_setting *s = &settings[i];
        if (s->kind != REGIO_SETTING_DWORD) {
            continue;
        }
        uint32_t outside[2];
        size_t n = 0;
        if (s->min > 0) {
            outside[n++] = s->min - 1;
        }
        if (s->max < UINT32_MAX) {
            outside[n++] = s->max + 1;
        }
        for (size_t e = 0; e < n; e++) {
            regio_raw_value v = DWORD(s->name, outside[e]);
            build(f, &v, 1);
            const regio_dword *d = (const regio_dword *)((const char *)f->config + s->offset);
            assert_int_equal(d->state, REGIO_VALUE_UNREADABLE);
            assert_int_equal(d->value, s->fallback);
            assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, s->name, "outside") >= 0);
            checked++;
        }
    }
    assert_int_equal(checked, 51); /* every bound of every DWORD setting but RelayFlags */
}

static void concrete_bounds(void **state)
{
    fixture *f = *state;
    regio_raw_value port0 = DWORD("ListenPort", 0);
    assert_int_equal(build(f, &port0, 1)->listen_port.value, 25);
    regio_raw_value port_big = DWORD("ListenPort", 65536);
    assert_int_equal(build(f, &port_big, 1)->listen_port.value, 25);
    regio_raw_value line_short = DWORD("MaxLineLength", 999);
    assert_int_equal(build(f, &line_short, 1)->max_line_length.value, 1000);
    regio_raw_value rcpt_few = DWORD("MaxRecipients", 99);
    assert_int_equal(build(f, &rcpt_few, 1)->max_recipients.value, 100);
}

static void ip_enable_router_fails_to_the_side_that_narrows_relay(void **state)
{
    fixture *f = *state;
    regio_raw_value on = DWORD("IPEnableRouter", 1);
    assert_int_equal(build(f, &on, 1)->ip_enable_router.value, 1);
    regio_raw_value off = DWORD("IPEnableRouter", 0);
    assert_int_equal(build(f, &off, 1)->ip_enable_router.value, 0);
    /* Unknown meaning: take forwarding as on, so RelayLocalIPList lets nobody relay. */
    regio_raw_value two = DWORD("IPEnableRouter", 2);
    assert_int_equal(build(f, &two, 1)->ip_enable_router.value, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "IPEnableRouter", "outside") >= 0);
    regio_raw_value text = SZ("IPEnableRouter", "0");
    const regio_config *c = build(f, &text, 1);
    assert_int_equal(c->ip_enable_router.value, 1);
    assert_int_equal(c->ip_enable_router.state, REGIO_VALUE_UNREADABLE);
    assert_true(find_diag(&f->diags, REGIO_SEV_INFO, "IPEnableRouter", "safe side") >= 0);
}

static void mail_root_must_be_an_absolute_path(void **state)
{
    fixture *f = *state;
    const char *good[] = {"C:\\ProgramData\\imsrelay", "d:/mail", "\\\\server\\share\\mail"};
    for (size_t i = 0; i < 3; i++) {
        regio_raw_value v = {.name = "MailRoot",
                             .type = REGIO_REG_SZ,
                             .data = utf16(good[i], strlen(good[i])),
                             .size = 2 * strlen(good[i])};
        const regio_config *c = build(f, &v, 1);
        assert_int_equal(c->mail_root_state, REGIO_VALUE_OK);
        assert_string_equal(c->mail_root, good[i]);
    }
    const char *bad[] = {"imsrelay", "\\imsrelay", "C:imsrelay", "%ProgramData%\\imsrelay"};
    for (size_t i = 0; i < 4; i++) {
        regio_raw_value v = {.name = "MailRoot",
                             .type = REGIO_REG_EXPAND_SZ,
                             .data = utf16(bad[i], strlen(bad[i])),
                             .size = 2 * strlen(bad[i])};
        const regio_config *c = build(f, &v, 1);
        assert_int_equal(c->mail_root_state, REGIO_VALUE_UNREADABLE);
        assert_string_equal(c->mail_root, "%ProgramData%\\imsrelay");
        assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "MailRoot", "absolute path") >= 0);
    }
}

static void host_name_cannot_inject_into_smtp_replies(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"mail.example.com\r\n250 ok", "mail example",      "-mail.example.com",
                         "mail..example.com",          "mail.example.com.", "<mail>"};
    regio_host_defaults defaults = {.host_name = "server1.example.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        regio_raw_value v = {.name = "SmtpHostName",
                             .type = REGIO_REG_SZ,
                             .data = utf16(bad[i], strlen(bad[i])),
                             .size = 2 * strlen(bad[i])};
        regio_config_free(f->config);
        regio_diag_list_free(&f->diags);
        f->config = regio_config_build_with_defaults(&v, 1, false, &defaults, &f->diags);
        assert_int_equal(f->config->host_name_state, REGIO_VALUE_UNREADABLE);
        assert_string_equal(f->config->host_name, "server1.example.com");
        assert_true(regio_diag_count(&f->diags, REGIO_SEV_ERROR) >= 1);
    }
}

static void machine_defaults_apply_when_values_are_absent(void **state)
{
    fixture *f = *state;
    regio_host_defaults defaults = {.mail_root = "C:\\ProgramData\\imsrelay",
                                    .host_name = "server1.example.com"};
    f->config = regio_config_build_with_defaults(NULL, 0, false, &defaults, &f->diags);
    assert_string_equal(f->config->mail_root, "C:\\ProgramData\\imsrelay");
    assert_string_equal(f->config->host_name, "server1.example.com");
    assert_int_equal(f->config->host_name_state, REGIO_VALUE_ABSENT);
}

static void a_computer_name_that_is_no_dns_name_falls_back_to_localhost(void **state)
{
    fixture *f = *state;
    regio_host_defaults defaults = {.host_name = "MY_PC"};
    f->config = regio_config_build_with_defaults(NULL, 0, false, &defaults, &f->diags);
    assert_string_equal(f->config->host_name, "localhost");
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "SmtpHostName", "localhost") >= 0);
}

static void table_is_consistent(void **state)
{
    (void)state;
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    assert_int_equal(count, REGIO_SETTING_COUNT);
    for (size_t i = 0; i < count; i++) {
        const regio_setting *s = &settings[i];
        assert_non_null(s->meaning);
        assert_non_null(s->default_text);
        assert_ptr_equal(regio_setting_find(s->name), s);
        if (s->kind == REGIO_SETTING_DWORD) {
            assert_true(s->min <= s->default_value && s->default_value <= s->max);
            assert_true(s->min <= s->fallback && s->fallback <= s->max);
        }
    }
}

static void delivery_values_have_their_defaults(void **state)
{
    fixture *f = *state;
    const regio_config *c = build(f, NULL, 0);
    assert_string_equal(c->smart_host, "");
    assert_int_equal(c->dns_servers.count, 0);
    assert_int_equal(c->delivery_port.value, 25);
    assert_int_equal(c->max_outbound_connections.value, 100);
    assert_int_equal(c->max_connections_per_destination.value, 10);
    assert_string_equal(c->retry_intervals, "15m,30m,1h,4h");
    assert_string_equal(c->message_expiration, "2d");
    assert_string_equal(c->delay_notification, "0");
}

static void a_smart_host_is_read_and_an_empty_one_means_none(void **state)
{
    fixture *f = *state;
    regio_raw_value v = SZ("SmartHost", "[127.0.0.1]:2525, relay.example.net\0");
    const regio_config *c = build(f, &v, 1);
    assert_int_equal(c->smart_host_state, REGIO_VALUE_OK);
    assert_string_equal(c->smart_host, "[127.0.0.1]:2525, relay.example.net");

    regio_raw_value empty = SZ("SmartHost", "\0");
    c = build(f, &empty, 1);
    assert_int_equal(c->smart_host_state, REGIO_VALUE_OK);
    assert_string_equal(c->smart_host, "");
    assert_int_equal(f->diags.count, 1); /* only the RelayFlags note */
}

static void a_bad_smart_host_is_an_error_naming_the_character(void **state)
{
    fixture *f = *state;
    regio_raw_value v = SZ("SmartHost", "relay.example.net:0\0");
    const regio_config *c = build(f, &v, 1);
    assert_int_equal(c->smart_host_state, REGIO_VALUE_UNREADABLE);
    assert_string_equal(c->smart_host, "");
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "SmartHost", "character") >= 0);
}

static void tls_settings_have_safe_defaults(void **state)
{
    fixture *f = *state;
    const regio_config *c = build(f, NULL, 0);
    assert_string_equal(c->tls_certificate, "");
    assert_int_equal(c->tls_certificate_state, REGIO_VALUE_ABSENT);
    assert_int_equal(c->auth_without_tls.value, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "AuthWithoutTls", "") < 0);
}

static void tls_certificate_takes_a_thumbprint_or_a_host_name(void **state)
{
    fixture *f = *state;
    regio_raw_value v =
            SZ("TlsCertificate", "a9 09 50 2d d8 2a e4 14 33 e6 f8 38 86 b0 0d 42 77 a3 "
                                 "2a 7b\0");
    const regio_config *c = build(f, &v, 1);
    assert_int_equal(c->tls_certificate_state, REGIO_VALUE_OK);
    assert_string_equal(c->tls_certificate,
                        "a9 09 50 2d d8 2a e4 14 33 e6 f8 38 86 b0 0d 42 77 a3 2a 7b");
    regio_raw_value name = SZ("TlsCertificate", "CN=mail.example.com\0");
    c = build(f, &name, 1);
    assert_int_equal(c->tls_certificate_state, REGIO_VALUE_OK);
    assert_string_equal(c->tls_certificate, "CN=mail.example.com");
}

static void bad_tls_values_are_errors_and_keep_the_safe_side(void **state)
{
    fixture *f = *state;
    regio_raw_value v[] = {SZ("TlsCertificate", "mail example com\0"), DWORD("AuthWithoutTls", 2)};
    const regio_config *c = build(f, v, 2);
    assert_int_equal(c->tls_certificate_state, REGIO_VALUE_UNREADABLE);
    assert_string_equal(c->tls_certificate, "");
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "TlsCertificate", "") >= 0);
    /* Out of bounds: AUTH stays inside TLS. */
    assert_int_equal(c->auth_without_tls.state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(c->auth_without_tls.value, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "AuthWithoutTls", "") >= 0);

    regio_raw_value wrong_type[] = {DWORD("TlsCertificate", 1), SZ("AuthWithoutTls", "1\0")};
    c = build(f, wrong_type, 2);
    assert_string_equal(c->tls_certificate, "");
    assert_int_equal(c->auth_without_tls.value, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "TlsCertificate", "") >= 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "AuthWithoutTls", "") >= 0);
}

static void auth_without_tls_is_read_and_warned_about(void **state)
{
    fixture *f = *state;
    regio_raw_value v = DWORD("AuthWithoutTls", 1);
    const regio_config *c = build(f, &v, 1);
    assert_int_equal(c->auth_without_tls.value, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "AuthWithoutTls", "in clear") >= 0);
}

static void bad_durations_are_errors_and_keep_the_defaults(void **state)
{
    fixture *f = *state;
    regio_raw_value v[] = {SZ("RetryIntervals", "15m,,1h\0"), SZ("MessageExpiration", "2 weeks\0"),
                           SZ("DelayNotification", "45d\0")};
    const regio_config *c = build(f, v, 3);
    assert_string_equal(c->retry_intervals, "15m,30m,1h,4h");
    assert_string_equal(c->message_expiration, "2d");
    assert_string_equal(c->delay_notification, "0");
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RetryIntervals", "entry 2") >= 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "MessageExpiration", "") >= 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "DelayNotification", "") >= 0);

    regio_raw_value good[] = {SZ("RetryIntervals", "5s, 10s\0"), SZ("MessageExpiration", "0\0")};
    c = build(f, good, 2);
    assert_string_equal(c->retry_intervals, "5s, 10s");
    assert_string_equal(c->message_expiration, "0");
}

static void dns_servers_lines_that_are_not_ipv4_addresses_are_errors(void **state)
{
    fixture *f = *state;
    regio_raw_value v = MULTI("DnsServers", "127.0.0.53\0# ours\0\0dns.example\0"
                                            "010.0.0.1\0\0");
    const regio_config *c = build(f, &v, 1);
    assert_int_equal(c->dns_servers.count, 5);
    int bad = find_diag(&f->diags, REGIO_SEV_ERROR, "DnsServers", "not an IPv4");
    assert_true(bad >= 0);
    assert_int_equal(f->diags.items[bad].line, 4);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "DnsServers", "leading zero") >= 0);
    size_t errors = 0;
    for (size_t i = 0; i < f->diags.count; i++) {
        errors += f->diags.items[i].severity == REGIO_SEV_ERROR;
    }
    assert_int_equal(errors, 2);
}

static void outbound_tls_values_have_safe_defaults(void **state)
{
    fixture *f = *state;
    const regio_config *c = build(f, NULL, 0);
    assert_int_equal(c->smart_host_tls.value, 1);
    assert_int_equal(c->mx_tls.value, 1);
    assert_string_equal(c->smart_host_account, "");

    regio_raw_value v[] = {DWORD("SmartHostTls", 3), DWORD("MxTls", 2),
                           SZ("SmartHostAccount", "relay@example.net\0")};
    c = build(f, v, 3);
    assert_int_equal(c->smart_host_tls.value, 3);
    assert_int_equal(c->mx_tls.value, 2);
    assert_string_equal(c->smart_host_account, "relay@example.net");
    assert_int_equal(f->diags.count, 1); /* only the RelayFlags note */
}

static void outbound_tls_modes_out_of_range_are_errors_and_take_the_default(void **state)
{
    fixture *f = *state;
    regio_raw_value v[] = {DWORD("SmartHostTls", 4), DWORD("MxTls", 3)};
    const regio_config *c = build(f, v, 2);
    assert_int_equal(c->smart_host_tls.value, 1);
    assert_int_equal(c->mx_tls.value, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "SmartHostTls", "outside") >= 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "MxTls", "outside") >= 0);

    regio_raw_value wrong_type = SZ("SmartHostTls", "2\0");
    c = build(f, &wrong_type, 1);
    assert_int_equal(c->smart_host_tls.value, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "SmartHostTls", "") >= 0);
}

static void a_smart_host_account_with_control_characters_or_too_long_is_refused(void **state)
{
    fixture *f = *state;
    regio_raw_value v = SZ("SmartHostAccount", "relay\tuser\0");
    const regio_config *c = build(f, &v, 1);
    assert_string_equal(c->smart_host_account, "");
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "SmartHostAccount", "control character") >=
                0);

    char long_name[300];
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    assert_non_null(regio_setting_find("SmartHostAccount")->check(long_name));
    long_name[255] = '\0';
    assert_null(regio_setting_find("SmartHostAccount")->check(long_name));
}

static void an_account_without_tls_is_a_warning_because_the_mail_would_stay_queued(void **state)
{
    fixture *f = *state;
    regio_raw_value v[] = {DWORD("SmartHostTls", 0), SZ("SmartHostAccount", "relay\0")};
    const regio_config *c = build(f, v, 2);
    assert_string_equal(c->smart_host_account, "relay");
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "SmartHostAccount", "stays queued") >= 0);

    regio_raw_value with_tls[] = {DWORD("SmartHostTls", 2), SZ("SmartHostAccount", "relay\0")};
    build(f, with_tls, 2);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "SmartHostAccount", "") < 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
            T(missing_key_gives_every_default),
            T(a_deny_list_with_bytes_but_no_rules_is_a_warning),
            T(a_full_valid_configuration_is_read_as_written),
            T(configuration_outlives_the_raw_bytes),
            T(value_names_match_ignoring_case),
            T(relay_flags_of_the_wrong_type_is_unreadable_and_zero),
            T(relay_flags_keeps_every_bit),
            T(unreadable_deny_list_is_reported_as_unreadable),
            T(string_where_a_list_is_expected_is_coerced),
            T(near_miss_names_get_a_did_you_mean_warning),
            T(stray_values_are_reported_up_to_a_bound),
            T(a_value_given_twice_uses_the_first),
            T(dword_bounds_are_inclusive),
            T(out_of_range_dwords_are_errors_and_take_their_fallback),
            T(concrete_bounds),
            T(ip_enable_router_fails_to_the_side_that_narrows_relay),
            T(mail_root_must_be_an_absolute_path),
            T(host_name_cannot_inject_into_smtp_replies),
            T(machine_defaults_apply_when_values_are_absent),
            T(a_computer_name_that_is_no_dns_name_falls_back_to_localhost),
            T(table_is_consistent),
            T(delivery_values_have_their_defaults),
            T(a_smart_host_is_read_and_an_empty_one_means_none),
            T(a_bad_smart_host_is_an_error_naming_the_character),
            T(tls_settings_have_safe_defaults),
            T(tls_certificate_takes_a_thumbprint_or_a_host_name),
            T(bad_tls_values_are_errors_and_keep_the_safe_side),
            T(auth_without_tls_is_read_and_warned_about),
            T(bad_durations_are_errors_and_keep_the_defaults),
            T(dns_servers_lines_that_are_not_ipv4_addresses_are_errors),
            T(outbound_tls_values_have_safe_defaults),
            T(outbound_tls_modes_out_of_range_are_errors_and_take_the_default),
            T(a_smart_host_account_with_control_characters_or_too_long_is_refused),
            T(an_account_without_tls_is_a_warning_because_the_mail_would_stay_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
