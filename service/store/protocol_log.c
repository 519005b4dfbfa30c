#include "store/protocol_log.h"

#include "common/win_text.h"

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct protocol_log {
    CRITICAL_SECTION lock;
    wchar_t dir[1024];
    HANDLE file; /* today's file, or INVALID_HANDLE_VALUE */
    WORD year, month, day;
    volatile LONG failures;
    /* Lines not yet written to `file`, all of its day: one write per flush, not per line. */
    char pending[PROTOCOL_LOG_BATCH_BYTES];
    size_t pending_len;
};

/* Writes the pending lines; called with the lock held. */
static void write_pending(protocol_log *log)
{
    if (log->pending_len == 0) {
        return;
    }
    DWORD wrote = 0;
    if (log->file == INVALID_HANDLE_VALUE ||
        !WriteFile(log->file, log->pending, (DWORD)log->pending_len, &wrote, NULL) ||
        wrote != log->pending_len) {
        log->failures++;
    }
    log->pending_len = 0;
}

protocol_log *protocol_log_open(const char *mail_root)
{
    protocol_log *log = calloc(1, sizeof(*log));
    if (!log) {
        return NULL;
    }
    wchar_t root[900];
    if (!win_text_wide_into(mail_root, root, sizeof(root) / sizeof(root[0]))) {
        free(log);
        return NULL;
    }
    _snwprintf(log->dir, 1024, L"%ls\\Logs", root);
    log->dir[1023] = 0;
    CreateDirectoryW(root, NULL);
    if (!CreateDirectoryW(log->dir, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) {
        free(log);
        return NULL;
    }
    InitializeCriticalSection(&log->lock);
    log->file = INVALID_HANDLE_VALUE;
    return log;
}

void protocol_log_close(protocol_log *log)
{
    if (!log) {
        return;
    }
    EnterCriticalSection(&log->lock);
    write_pending(log);
    LeaveCriticalSection(&log->lock);
    if (log->file != INVALID_HANDLE_VALUE) {
        CloseHandle(log->file);
    }
    DeleteCriticalSection(&log->lock);
    free(log);
}

/* Opens the file of the day `now` falls in; called with the lock held. */
static void roll(protocol_log *log, const SYSTEMTIME *now)
{
    if (log->file != INVALID_HANDLE_VALUE && log->year == now->wYear && log->month == now->wMonth &&
        log->day == now->wDay) {
        return;
    }
    write_pending(log); /* the lines of the day that ended go to its own file */
    if (log->file != INVALID_HANDLE_VALUE) {
        CloseHandle(log->file);
    }
    wchar_t path[1100];
    _snwprintf(path, 1100, L"%ls\\smtp-%04u%02u%02u.log", log->dir, now->wYear, now->wMonth,
               now->wDay);
    path[1099] = 0;
    /* Append-only, and readable (even deletable) while the service writes it. */
    log->file = CreateFileW(path, FILE_APPEND_DATA,
                            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                            OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    log->year = now->wYear;
    log->month = now->wMonth;
    log->day = now->wDay;
}

void protocol_log_line(protocol_log *log, uint64_t session, const char *client, char direction,
                       const char *line, size_t len)
{
    if (!log) {
        return;
    }
    SYSTEMTIME now;
    GetSystemTime(&now);
    char out[128 + 4 * PROTOCOL_LOG_LINE_MAX + 8];
    int n = snprintf(out, 128, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ %llx %.63s %c ", now.wYear,
                     now.wMonth, now.wDay, now.wHour, now.wMinute, now.wSecond, now.wMilliseconds,
                     (unsigned long long)session, client ? client : "-", direction);
    size_t used = n > 0 ? (size_t)n : 0;
    size_t shown = len < PROTOCOL_LOG_LINE_MAX ? len : PROTOCOL_LOG_LINE_MAX;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            used += (size_t)snprintf(out + used, 5, "\\x%02X", c);
        } else {
            out[used++] = (char)c;
        }
    }
    if (shown < len) {
        memcpy(out + used, "...", 3);
        used += 3;
    }
    out[used++] = '\r';
    out[used++] = '\n';

    EnterCriticalSection(&log->lock);
    roll(log, &now);
    if (log->pending_len + used > sizeof(log->pending)) {
        write_pending(log);
    }
    memcpy(log->pending + log->pending_len, out, used);
    log->pending_len += used;
    LeaveCriticalSection(&log->lock);
}

void protocol_log_flush(protocol_log *log)
{
    if (!log) {
        return;
    }
    EnterCriticalSection(&log->lock);
    write_pending(log);
    LeaveCriticalSection(&log->lock);
}
