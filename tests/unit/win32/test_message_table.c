/* Renders every event of imsrelay.exe the way Event Viewer does (LoadLibraryEx as a data
 * file, FormatMessageW from the module with an argument array), proving that no event shows
 * "the description cannot be found", every insertion string appears, the table has no
 * message the service does not know, and README.md lists every event ID. */
#include <windows.h>
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

#include "events/eventlog_catalog.h"
#include "messages.h"

static HMODULE exe;

/* The build gives Unix paths; Wine maps the Unix root to drive Z:. */
static void windows_path(const char *unix_path, wchar_t *out, size_t size)
{
    swprintf(out, size, L"%ls%hs", unix_path[0] == '/' ? L"Z:" : L"", unix_path);
    for (wchar_t *p = out; *p; p++) {
        if (*p == L'/') {
            *p = L'\\';
        }
    }
}

static int load_exe(void **state)
{
    (void)state;
    wchar_t path[MAX_PATH];
    windows_path(IMSRELAY_EXE_PATH, path, MAX_PATH);
    exe = LoadLibraryExW(path, NULL, LOAD_LIBRARY_AS_DATAFILE);
    if (!exe) {
        fprintf(stderr, "cannot load %s as a data file (error %lu)\n", IMSRELAY_EXE_PATH,
                GetLastError());
        return -1;
    }
    return 0;
}

static int free_exe(void **state)
{
    (void)state;
    FreeLibrary(exe);
    return 0;
}

static wchar_t *render(DWORD id, const wchar_t *const *strings)
{
    wchar_t *text = NULL;
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_ARGUMENT_ARRAY |
                                     FORMAT_MESSAGE_ALLOCATE_BUFFER,
                             exe, id, 0, (wchar_t *)&text, 0, (va_list *)(void *)strings);
    return n ? text : NULL;
}

static void every_event_renders_with_all_insertions(void **state)
{
    (void)state;
    assert_true(eventlog_catalog_count >= 13);
    for (size_t i = 0; i < eventlog_catalog_count; i++) {
        const eventlog_entry *e = &eventlog_catalog[i];
        wchar_t samples[16][48];
        const wchar_t *strings[16];
        assert_true(e->strings <= 16);
        for (unsigned k = 0; k < e->strings; k++) {
            swprintf(samples[k], 48, L"<insertion %u of %hs>", k + 1, e->name);
            strings[k] = samples[k];
        }
        wchar_t *text = render(e->id, strings);
        if (!text) {
            fail_msg("%s (%lu): no message text (error %lu)", e->name,
                     (unsigned long)(e->id & 0xFFFF), GetLastError());
        }
        for (unsigned k = 0; k < e->strings; k++) {
            if (!wcsstr(text, samples[k])) {
                fail_msg("%s: insertion %u does not appear in \"%ls\"", e->name, k + 1, text);
            }
        }
        /* An insertion beyond the ones the catalog gives would show as an error or, with
         * FORMAT_MESSAGE_IGNORE_INSERTS, as a bare %n: neither may happen. */
        for (const wchar_t *p = wcschr(text, L'%'); p; p = wcschr(p + 1, L'%')) {
            if (p[1] >= L'1' && p[1] <= L'9') {
                fail_msg("%s: unexpanded %%%lc in \"%ls\"", e->name, p[1], text);
            }
        }
        assert_true(wcslen(text) > 40);
        LocalFree(text);
    }
}

static void table_has_no_event_the_service_does_not_know(void **state)
{
    (void)state;
    static const wchar_t *const many[16] = {L"a", L"b", L"c", L"d", L"e", L"f", L"g", L"h",
                                            L"i", L"j", L"k", L"l", L"m", L"n", L"o", L"p"};
    for (DWORD code = 2; code < 4096; code++) {
        for (DWORD severity = 0; severity < 4; severity++) {
            DWORD id = (severity << 30) | code;
            wchar_t *text = render(id, many);
            bool known = eventlog_catalog_find(id) != NULL;
            if (text && !known) {
                fail_msg("message 0x%08lx is in messages.mc but not in eventlog_catalog.c",
                         (unsigned long)id);
            }
            LocalFree(text);
        }
    }
}

static void category_has_a_name(void **state)
{
    (void)state;
    wchar_t *text = render(MSG_CATEGORY_SMTP, NULL);
    assert_non_null(text);
    assert_non_null(wcsstr(text, L"SMTP relay"));
    LocalFree(text);
}

static char *read_file(const char *unix_path)
{
    wchar_t path[MAX_PATH];
    windows_path(unix_path, path, MAX_PATH);
    FILE *f = _wfopen(path, L"rb");
    if (!f) {
        return NULL;
    }
    static char buffer[512 * 1024];
    size_t n = fread(buffer, 1, sizeof(buffer) - 1, f);
    fclose(f);
    buffer[n] = '\0';
    return buffer;
}

static void readme_lists_every_event(void **state)
{
    (void)state;
    char *readme = read_file(IMSRELAY_README_PATH);
    assert_non_null(readme);
    char *section = strstr(readme, "\n## Event Log");
    assert_non_null(section);
    char *end = strstr(section + 1, "\n## ");
    if (end) {
        *end = '\0';
    }
    for (size_t i = 0; i < eventlog_catalog_count; i++) {
        char cell[24];
        snprintf(cell, sizeof(cell), "| %lu |", (unsigned long)(eventlog_catalog[i].id & 0xFFFF));
        if (!strstr(section, cell)) {
            fail_msg("README.md, \"## Event Log\": no row for event %s (%s)", cell,
                     eventlog_catalog[i].name);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(every_event_renders_with_all_insertions),
            cmocka_unit_test(table_has_no_event_the_service_does_not_know),
            cmocka_unit_test(category_has_a_name),
            cmocka_unit_test(readme_lists_every_event),
    };
    return cmocka_run_group_tests(tests, load_exe, free_exe);
}
