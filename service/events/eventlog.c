#include "events/eventlog.h"

#include <windows.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/eventlog_catalog.h"
#include "common/win_text.h"

#define EVENTLOG_MAX_STRINGS 16

static SRWLOCK lock = SRWLOCK_INIT;
static HANDLE source;
static bool echo;

void eventlog_open(bool echo_console)
{
    AcquireSRWLockExclusive(&lock);
    echo = echo_console;
    if (!source) {
        /* Works even before `install` registered the source: the text is then missing in
         * Event Viewer, but the event and its strings are kept. */
        source = RegisterEventSourceW(NULL, IMSRELAY_EVENT_SOURCE_W);
    }
    ReleaseSRWLockExclusive(&lock);
}

void eventlog_close(void)
{
    AcquireSRWLockExclusive(&lock);
    if (source) {
        DeregisterEventSource(source);
        source = NULL;
    }
    ReleaseSRWLockExclusive(&lock);
}

static WORD event_type(uint32_t id)
{
    switch (id >> 30) {
    case STATUS_SEVERITY_ERROR:
        return EVENTLOG_ERROR_TYPE;
    case STATUS_SEVERITY_WARNING:
        return EVENTLOG_WARNING_TYPE;
    default:
        return EVENTLOG_INFORMATION_TYPE;
    }
}

static const wchar_t *type_name(WORD type)
{
    switch (type) {
    case EVENTLOG_ERROR_TYPE:
        return L"Error";
    case EVENTLOG_WARNING_TYPE:
        return L"Warning";
    default:
        return L"Information";
    }
}

/* An insertion string as Event Log wants it: UTF-16, bounded, never empty (Event Viewer
 * shows an empty insertion as nothing at all, which reads like a bug). Much of it comes from
 * clients (HELO names, recipients): a control character would forge lines in the console
 * and in text exports, and Event Viewer replaces "%%n" in an insertion with message n of a
 * parameter file, so both are defused. */
static wchar_t *insertion(const char *utf8)
{
    wchar_t *wide = win_text_wide_from_utf8(utf8 && *utf8 ? utf8 : "-");
    if (!wide) {
        return NULL;
    }
    if (wcslen(wide) > EVENTLOG_STRING_MAX) {
        wcscpy(wide + EVENTLOG_STRING_MAX - 3, L"...");
    }
    for (wchar_t *p = wide; *p; p++) {
        if (*p < 0x20 || *p == 0x7F) {
            *p = L'?';
        } else if (*p == L'%' && p[1] == L'%') {
            p[1] = L'?';
        }
    }
    return wide;
}

size_t eventlog_render(uint32_t id, const wchar_t *const *strings, size_t count, wchar_t *out,
                       size_t out_len)
{
    const eventlog_entry *entry = eventlog_catalog_find(id);
    if (!entry || out_len == 0 || count < entry->strings) {
        return 0;
    }
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_ARGUMENT_ARRAY,
                             GetModuleHandleW(NULL), id, 0, out, (DWORD)out_len,
                             (va_list *)(void *)strings);
    while (n > 0 && (out[n - 1] == L'\r' || out[n - 1] == L'\n')) {
        out[--n] = L'\0';
    }
    return n;
}

static void echo_to_console(uint32_t id, WORD type, const wchar_t *const *strings, size_t count)
{
    static wchar_t text[EVENTLOG_MAX_STRINGS * (EVENTLOG_STRING_MAX + 1) + 4096];
    wchar_t line[160];
    SYSTEMTIME now;
    GetLocalTime(&now);
    swprintf(line, sizeof(line) / sizeof(line[0]), L"%04u-%02u-%02u %02u:%02u:%02u %ls %u: ",
             now.wYear, now.wMonth, now.wDay, now.wHour, now.wMinute, now.wSecond, type_name(type),
             (unsigned)(id & 0xFFFF));
    if (eventlog_render(id, strings, count, text, sizeof(text) / sizeof(text[0])) == 0) {
        wcscpy(text, L"(no message text)");
    }
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    DWORD mode;
    if (GetConsoleMode(out, &mode)) {
        DWORD written;
        WriteConsoleW(out, line, (DWORD)wcslen(line), &written, NULL);
        WriteConsoleW(out, text, (DWORD)wcslen(text), &written, NULL);
        WriteConsoleW(out, L"\r\n", 2, &written, NULL);
        return;
    }
    /* Redirected (a pipe, a file, a terminal under Wine): UTF-8 lines. */
    char *a = win_text_utf8_from_wide(line);
    char *b = win_text_utf8_from_wide(text);
    if (a && b) {
        fprintf(stdout, "%s%s\n", a, b);
        fflush(stdout);
    }
    free(a);
    free(b);
}

void eventlog_report(uint32_t id, size_t count, const char *const *strings)
{
    const eventlog_entry *entry = eventlog_catalog_find(id);
    size_t wanted = entry ? entry->strings : count;
    if (wanted > EVENTLOG_MAX_STRINGS) {
        wanted = EVENTLOG_MAX_STRINGS;
    }
    wchar_t *wide[EVENTLOG_MAX_STRINGS] = {0};
    for (size_t i = 0; i < wanted; i++) {
        wide[i] = insertion(i < count ? strings[i] : NULL);
        if (!wide[i]) {
            wanted = i; /* out of memory: write what we have rather than nothing */
            break;
        }
    }
    WORD type = event_type(id);

    AcquireSRWLockExclusive(&lock);
    if (!source) {
        source = RegisterEventSourceW(NULL, IMSRELAY_EVENT_SOURCE_W);
    }
    if (source) {
        ReportEventW(source, type, MSG_CATEGORY_SMTP, id, NULL, (WORD)wanted, 0,
                     (const wchar_t **)wide, NULL);
    }
    if (echo) {
        echo_to_console(id, type, (const wchar_t *const *)wide, wanted);
    }
    ReleaseSRWLockExclusive(&lock);

    for (size_t i = 0; i < wanted; i++) {
        free(wide[i]);
    }
}

void eventlog_write(uint32_t id, ...)
{
    const char *strings[EVENTLOG_MAX_STRINGS];
    size_t count = 0;
    va_list ap;
    va_start(ap, id);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
        if (count < EVENTLOG_MAX_STRINGS) {
            strings[count++] = s;
        }
    }
    va_end(ap);
    eventlog_report(id, count, strings);
}

size_t eventlog_config_diags(const regio_diag_list *diags)
{
    size_t errors = 0;
    for (size_t i = 0; i < diags->count; i++) {
        const regio_diag *d = &diags->items[i];
        if (d->severity == REGIO_SEV_INFO) {
            continue;
        }
        char line[16];
        snprintf(line, sizeof(line), "%u", (unsigned)d->line);
        const char *strings[4] = {d->value[0] ? d->value : "(Parameters key)", line, d->text,
                                  d->message};
        if (d->severity == REGIO_SEV_ERROR) {
            errors++;
            eventlog_report(MSG_CONFIG_ERROR, 4, strings);
        } else {
            eventlog_report(MSG_CONFIG_WARNING, 4, strings);
        }
    }
    if (diags->truncated) {
        errors++;
        eventlog_write(MSG_CONFIG_ERROR, "(all values)", "0", "",
                       "out of memory while collecting the configuration diagnostics; some "
                       "problems are not listed",
                       NULL);
    }
    return errors;
}
