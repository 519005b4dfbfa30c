#include "store/protocol_log.h"

#include "store/daily_file.h"

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct protocol_log {
    CRITICAL_SECTION lock;
    daily_file file; /* MailRoot\Logs\smtp-YYYYMMDD.log */
    volatile LONG failures;
    volatile LONG64 daily_limit;           /* 0: none */
    uint64_t day_bytes;                    /* in today's file */
    uint64_t dropped_lines, dropped_bytes; /* today, past the limit */
    bool limit_noted;                      /* the line saying so is written */
    /* Lines not yet written to `file`, all of its day: one write per flush, not per line. */
    char pending[PROTOCOL_LOG_BATCH_BYTES];
    size_t pending_len;
    volatile LONG max_age_days; /* LogMaxAgeDays, given to the daily file at each roll */
};

/* Writes the pending lines; called with the lock held. */
static void write_pending(protocol_log *log)
{
    if (log->pending_len == 0) {
        return;
    }
    DWORD wrote = 0;
    if (log->file.file == INVALID_HANDLE_VALUE ||
        !WriteFile(log->file.file, log->pending, (DWORD)log->pending_len, &wrote, NULL) ||
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
    if (!daily_file_init(&log->file, mail_root, L"smtp")) {
        free(log);
        return NULL;
    }
    log->max_age_days = 30;
    InitializeCriticalSection(&log->lock);
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
    daily_file_close(&log->file);
    DeleteCriticalSection(&log->lock);
    free(log);
}

void protocol_log_set_max_age(protocol_log *log, uint32_t days)
{
    if (log) {
        InterlockedExchange(&log->max_age_days, (LONG)days);
    }
}

void protocol_log_set_daily_limit(protocol_log *log, uint64_t bytes)
{
    if (log) {
        InterlockedExchange64(&log->daily_limit, (LONG64)bytes);
    }
}

/* Takes bytes for today's file into the batch; called with the lock held. They count
 * against the daily limit from now on. */
static void write_raw(protocol_log *log, const char *bytes, size_t len)
{
    if (log->pending_len + len > sizeof(log->pending)) {
        write_pending(log);
    }
    if (len > sizeof(log->pending)) {
        return; /* cannot happen: a line is bounded far below a batch */
    }
    memcpy(log->pending + log->pending_len, bytes, len);
    log->pending_len += len;
    log->day_bytes += len;
}

/* Opens the file of the day `now` falls in; called with the lock held. */
static void roll(protocol_log *log, const SYSTEMTIME *now)
{
    if (daily_file_is_current(&log->file, now)) {
        return;
    }
    write_pending(log); /* the lines of the day that ended go to its own file */
    uint64_t dropped_lines = log->dropped_lines, dropped_bytes = log->dropped_bytes;
    WORD year = log->file.year, month = log->file.month, day = log->file.day;
    log->dropped_lines = log->dropped_bytes = 0;
    log->limit_noted = false;
    daily_file_set_max_age(&log->file, (uint32_t)log->max_age_days);
    daily_file_roll(&log->file, now);
    /* A restart the same day continues the count. */
    LARGE_INTEGER size = {0};
    log->day_bytes = log->file.file != INVALID_HANDLE_VALUE && GetFileSizeEx(log->file.file, &size)
                             ? (uint64_t)size.QuadPart
                             : 0;
    if (dropped_lines > 0) {
        char note[200];
        int n = snprintf(note, sizeof(note),
                         "%04u-%02u-%02uT00:00:00.000Z 0 - * %llu lines (%llu bytes) of "
                         "%04u-%02u-%02u not logged: ProtocolLogDailyMegabytes reached\r\n",
                         now->wYear, now->wMonth, now->wDay, (unsigned long long)dropped_lines,
                         (unsigned long long)dropped_bytes, year, month, day);
        if (n > 0) {
            write_raw(log, note, (size_t)n < sizeof(note) ? (size_t)n : sizeof(note) - 1);
        }
    }
}

size_t protocol_log_line(protocol_log *log, uint64_t session, const char *client, char direction,
                         const char *line, size_t len)
{
    if (!log) {
        return 0;
    }
    SYSTEMTIME now;
    GetSystemTime(&now);
    char out[128 + 4 * PROTOCOL_LOG_LINE_MAX + 8];
    int n = snprintf(out, 128, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ %llx %.63s %c ", now.wYear,
                     now.wMonth, now.wDay, now.wHour, now.wMinute, now.wSecond, now.wMilliseconds,
                     (unsigned long long)session, client ? client : "-", direction);
    size_t used = n > 0 ? (size_t)n : 0;
    /* The bound is on the escaped text: a line of 0xFF bytes is cut at a quarter. */
    size_t text_end = used + PROTOCOL_LOG_LINE_MAX;
    size_t shown = 0;
    for (; shown < len; shown++) {
        unsigned char c = (unsigned char)line[shown];
        bool escape = c < 0x20 || c >= 0x7f || c == '\\';
        if (used + (escape ? 4 : 1) > text_end) {
            break;
        }
        if (escape) {
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
    uint64_t limit = (uint64_t)log->daily_limit, before = log->day_bytes;
    if (limit > 0 && log->day_bytes + used > limit) {
        log->dropped_lines++;
        log->dropped_bytes += len;
        if (!log->limit_noted) {
            log->limit_noted = true;
            char note[160];
            int k = snprintf(note, sizeof(note),
                             "%.24s 0 - * ProtocolLogDailyMegabytes reached: the rest of the "
                             "day is not logged, only counted\r\n",
                             out);
            if (k > 0) {
                write_raw(log, note, (size_t)k < sizeof(note) ? (size_t)k : sizeof(note) - 1);
            }
        }
    } else {
        write_raw(log, out, used);
    }
    size_t wrote = (size_t)(log->day_bytes - before);
    LeaveCriticalSection(&log->lock);
    return wrote;
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
