/* A log kept as one file per day (UTC) under MailRoot\Logs, named <prefix>-YYYYMMDD.log:
 * append-only, and readable (even deletable) while the service writes it; files older than
 * LogMaxAgeDays are deleted when a day's file is opened. The protocol log and the delivery
 * log both keep theirs this way. Not thread-safe: the owner locks. */
#ifndef IMSRELAY_DAILY_FILE_H
#define IMSRELAY_DAILY_FILE_H

#include <windows.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct daily_file {
    wchar_t dir[1024];  /* MailRoot\Logs */
    wchar_t prefix[32]; /* "smtp", "delivery" */
    HANDLE file;        /* the day's file, or INVALID_HANDLE_VALUE */
    WORD year, month, day;
    uint32_t max_age_days; /* 0: files are kept for ever */
} daily_file;

/* Makes MailRoot\Logs (and MailRoot) if needed. false when MailRoot is not valid UTF-8, too
 * long, or the folder cannot be made. */
bool daily_file_init(daily_file *f, const char *mail_root, const wchar_t *prefix);

/* The open file is the one of the day `now` falls in. */
bool daily_file_is_current(const daily_file *f, const SYSTEMTIME *now);

/* Opens the file of the day `now` falls in, unless it is the one open; the previous day's
 * file is closed, and this log's files older than max_age_days are deleted (a file another
 * program holds open stays, and goes at a later day's roll). f->file stays
 * INVALID_HANDLE_VALUE when the file cannot be opened. */
void daily_file_roll(daily_file *f, const SYSTEMTIME *now);

/* LogMaxAgeDays as the configuration says now; applies from the next day's file (and the
 * first one). */
void daily_file_set_max_age(daily_file *f, uint32_t days);

void daily_file_close(daily_file *f);

#endif
