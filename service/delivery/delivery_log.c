#include "delivery/delivery_log.h"

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/win_text.h"

#define LINE_MAX_BYTES 4096

struct delivery_log {
    CRITICAL_SECTION lock;
    wchar_t dir[1024];
    HANDLE file;
    WORD year, month, day;
    volatile LONG failures;
};

delivery_log *delivery_log_open(const char *mail_root)
{
    delivery_log *log = calloc(1, sizeof(*log));
    wchar_t root[900];
    if (!log || !win_text_wide_into(mail_root, root, sizeof(root) / sizeof(root[0]))) {
        free(log);
        return NULL;
    }
    _snwprintf(log->dir, 1024, L"%ls\\Logs", root);
    log->dir[1023] = 0;
    if (!CreateDirectoryW(log->dir, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) {
        free(log);
        return NULL;
    }
    InitializeCriticalSection(&log->lock);
    log->file = INVALID_HANDLE_VALUE;
    return log;
}

void delivery_log_close(delivery_log *log)
{
    if (!log) {
        return;
    }
    if (log->file != INVALID_HANDLE_VALUE) {
        CloseHandle(log->file);
    }
    DeleteCriticalSection(&log->lock);
    free(log);
}

static void roll(delivery_log *log, const SYSTEMTIME *now)
{
    if (log->file != INVALID_HANDLE_VALUE && log->year == now->wYear && log->month == now->wMonth &&
        log->day == now->wDay) {
        return;
    }
    if (log->file != INVALID_HANDLE_VALUE) {
        CloseHandle(log->file);
    }
    wchar_t path[1100];
    _snwprintf(path, 1100, L"%ls\\delivery-%04u%02u%02u.log", log->dir, now->wYear, now->wMonth,
               now->wDay);
    path[1099] = 0;
    log->file = CreateFileW(path, FILE_APPEND_DATA,
                            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                            OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    log->year = now->wYear;
    log->month = now->wMonth;
    log->day = now->wDay;
}

static size_t put_field(char *out, size_t used, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)(text && *text ? text : "-");
         *p && used + 8 < LINE_MAX_BYTES; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '\\') {
            used += (size_t)snprintf(out + used, 5, "\\x%02X", *p);
        } else {
            out[used++] = (char)*p;
        }
    }
    return used;
}

void delivery_log_line(delivery_log *log, const char *id, const char *recipient, const char *remote,
                       const char *outcome, const char *reply)
{
    if (!log) {
        return;
    }
    SYSTEMTIME now;
    GetSystemTime(&now);
    char out[LINE_MAX_BYTES + 4];
    int n = snprintf(out, 64, "%04u-%02u-%02uT%02u:%02u:%02uZ", now.wYear, now.wMonth, now.wDay,
                     now.wHour, now.wMinute, now.wSecond);
    size_t used = n > 0 ? (size_t)n : 0;
    const char *fields[5] = {id, recipient, remote, outcome, reply};
    for (int i = 0; i < 5; i++) {
        out[used++] = '\t';
        used = put_field(out, used, fields[i]);
    }
    out[used++] = '\r';
    out[used++] = '\n';
    EnterCriticalSection(&log->lock);
    roll(log, &now);
    DWORD wrote = 0;
    if (log->file == INVALID_HANDLE_VALUE ||
        !WriteFile(log->file, out, (DWORD)used, &wrote, NULL) || wrote != used) {
        log->failures++;
    }
    LeaveCriticalSection(&log->lock);
}
