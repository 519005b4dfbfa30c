#include "delivery/delivery_log.h"

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/daily_file.h"

#define LINE_MAX_BYTES 4096

struct delivery_log {
    CRITICAL_SECTION lock;
    daily_file file; /* MailRoot\Logs\delivery-YYYYMMDD.log */
    volatile LONG failures;
};

delivery_log *delivery_log_open(const char *mail_root)
{
    delivery_log *log = calloc(1, sizeof(*log));
    if (!log || !daily_file_init(&log->file, mail_root, L"delivery")) {
        free(log);
        return NULL;
    }
    InitializeCriticalSection(&log->lock);
    return log;
}

void delivery_log_set_max_age(delivery_log *log, uint32_t days)
{
    if (!log) {
        return;
    }
    EnterCriticalSection(&log->lock);
    daily_file_set_max_age(&log->file, days);
    LeaveCriticalSection(&log->lock);
}

void delivery_log_close(delivery_log *log)
{
    if (!log) {
        return;
    }
    daily_file_close(&log->file);
    DeleteCriticalSection(&log->lock);
    free(log);
}

/* Writes text escaped, stopping before `limit` bytes of the line are used. */
static size_t put_field(char *out, size_t used, const char *text, size_t limit)
{
    for (const unsigned char *p = (const unsigned char *)(text && *text ? text : "-");
         *p && used + 8 < limit; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '\\') {
            used += (size_t)snprintf(out + used, 5, "\\x%02X", *p);
        } else {
            out[used++] = (char)*p;
        }
    }
    return used;
}

void delivery_log_line(delivery_log *log, const char *id, const char *recipient, const char *remote,
                       const char *outcome, const char *reply, const char *tls)
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
    const char *fields[6] = {id, recipient, remote, outcome, reply, tls};
    for (int i = 0; i < 6; i++) {
        out[used++] = '\t';
        /* A long reply is cut so that the TLS column after it always fits. */
        used = put_field(out, used, fields[i], i == 4 ? LINE_MAX_BYTES - 160 : LINE_MAX_BYTES);
    }
    out[used++] = '\r';
    out[used++] = '\n';
    EnterCriticalSection(&log->lock);
    daily_file_roll(&log->file, &now);
    DWORD wrote = 0;
    if (log->file.file == INVALID_HANDLE_VALUE ||
        !WriteFile(log->file.file, out, (DWORD)used, &wrote, NULL) || wrote != used) {
        log->failures++;
    }
    LeaveCriticalSection(&log->lock);
}
