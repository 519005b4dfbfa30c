/* The event API the service uses: what reaches the log and the console is the message
 * table's text with every insertion in place, padded when a caller passes too few strings,
 * bounded, and defused when a client put line breaks or "%%n" into what it sent. */
#include <windows.h>
#include <io.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include "events/eventlog.h"
#include "events/eventlog_catalog.h"

static char console_file[MAX_PATH];
static char console[65536];

/* Runs fn with the console echo going to a file, and reads what it wrote. */
static void capture(void (*fn)(void))
{
    char dir[MAX_PATH];
    GetTempPathA(MAX_PATH, dir);
    snprintf(console_file, sizeof(console_file), "%simsrelay-eventlog-%lu.txt", dir,
             GetCurrentProcessId());
    fflush(stdout);
    int saved = _dup(_fileno(stdout));
    HANDLE saved_handle = GetStdHandle(STD_OUTPUT_HANDLE);
    FILE *f = freopen(console_file, "w", stdout);
    assert_non_null(f);
    /* The echo asks the Win32 handle whether it is a console: make it the file too. */
    SetStdHandle(STD_OUTPUT_HANDLE, (HANDLE)_get_osfhandle(_fileno(stdout)));
    eventlog_open(true);
    fn();
    eventlog_close();
    fflush(stdout);
    _dup2(saved, _fileno(stdout));
    SetStdHandle(STD_OUTPUT_HANDLE, saved_handle);
    _close(saved);
    FILE *in = fopen(console_file, "rb");
    assert_non_null(in);
    size_t n = fread(console, 1, sizeof(console) - 1, in);
    fclose(in);
    console[n] = '\0';
    remove(console_file);
}

static size_t lines(const char *text)
{
    size_t n = 0;
    for (; *text; text++) {
        n += *text == '\n';
    }
    return n;
}

static void denial_from_a_hostile_client(void)
{
    eventlog_write(MSG_RELAY_DENIED, "192.0.2.7", "-",
                   "evil\r\n2026-01-01 Information 1000: forged", "-", "victim%%1@far.test",
                   "192.0.2.1", "denied: no rule allows it", NULL);
}

static void client_text_cannot_forge_lines_or_parameters(void **state)
{
    (void)state;
    capture(denial_from_a_hostile_client);
    assert_non_null(
            strstr(console, "Warning 1008: Relaying denied. Client IP address: 192.0.2.7."));
    assert_non_null(strstr(console, "HELO name: evil??2026-01-01 Information 1000: forged."));
    assert_non_null(strstr(console, "Recipient: victim%?1@far.test."));
    assert_int_equal(lines(console), 1);
}

static void too_few_strings(void)
{
    eventlog_write(MSG_LISTENER_FAILED, "0.0.0.0", NULL);
}

static void missing_insertions_are_shown_as_dashes(void **state)
{
    (void)state;
    capture(too_few_strings);
    assert_non_null(strstr(console, "Error 1010: Cannot listen for SMTP connections on address "
                                    "0.0.0.0, port -: - (Windows error -)."));
    assert_null(strstr(console, "%"));
}

static void too_many_strings(void)
{
    eventlog_write(MSG_STOPPED, "stop requested", "surplus", "more", NULL);
}

static void surplus_insertions_are_dropped(void **state)
{
    (void)state;
    capture(too_many_strings);
    assert_non_null(strstr(console, "Information 1001: The imsrelay SMTP service stopped: stop "
                                    "requested."));
    assert_null(strstr(console, "surplus"));
}

static void long_string(void)
{
    static char reason[EVENTLOG_STRING_MAX * 3];
    memset(reason, 'x', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    eventlog_write(MSG_FAIL_CLOSED, reason, NULL);
}

static void long_insertions_are_cut_visibly(void **state)
{
    (void)state;
    capture(long_string);
    const char *x = strchr(console, 'x');
    assert_non_null(x);
    size_t run = strspn(x, "x");
    assert_int_equal(run, EVENTLOG_STRING_MAX - 3);
    assert_memory_equal(x + run, "...", 3);
}

static void diagnostics(void)
{
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    regio_diag_add(&diags, REGIO_SEV_ERROR, "RelayDenyList", 3, "10.0.0.256",
                   "octet 4 is above 255");
    regio_diag_add(&diags, REGIO_SEV_WARNING, "RelayFlags", 0, NULL, "bits 0x10 have no meaning");
    regio_diag_add(&diags, REGIO_SEV_INFO, "ListenPort", 0, NULL, "the default is used");
    assert_int_equal(eventlog_config_diags(&diags), 1);
    regio_diag_list_free(&diags);
}

static void configuration_diagnostics_become_error_and_warning_events(void **state)
{
    (void)state;
    capture(diagnostics);
    assert_non_null(strstr(console, "Error 1002: Configuration error in registry value "
                                    "RelayDenyList, line 3 (\"10.0.0.256\"): octet 4 is above "
                                    "255."));
    assert_non_null(strstr(console, "Warning 1003: Configuration warning for registry value "
                                    "RelayFlags, line 0 (\"-\"): bits 0x10 have no meaning."));
    assert_null(strstr(console, "ListenPort"));
}

static void every_event_renders_from_this_program(void **state)
{
    (void)state;
    static const wchar_t *const strings[16] = {L"1", L"2", L"3", L"4", L"5", L"6", L"7", L"8"};
    for (size_t i = 0; i < eventlog_catalog_count; i++) {
        wchar_t text[4096];
        assert_true(eventlog_render(eventlog_catalog[i].id, strings, eventlog_catalog[i].strings,
                                    text, 4096) > 0);
    }
    wchar_t text[64];
    assert_int_equal(eventlog_render(0x40000000u | 999u, strings, 8, text, 64), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(client_text_cannot_forge_lines_or_parameters),
            cmocka_unit_test(missing_insertions_are_shown_as_dashes),
            cmocka_unit_test(surplus_insertions_are_dropped),
            cmocka_unit_test(long_insertions_are_cut_visibly),
            cmocka_unit_test(configuration_diagnostics_become_error_and_warning_events),
            cmocka_unit_test(every_event_renders_from_this_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
