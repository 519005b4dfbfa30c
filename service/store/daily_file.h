/* A log kept as one file per day (UTC) under MailRoot\Logs, named <prefix>-YYYYMMDD.log:
 * append-only, and readable (even deletable) while the service writes it. The protocol log
 * and the delivery log both keep theirs this way. Not thread-safe: the owner locks. */
#ifndef IMSRELAY_DAILY_FILE_H
#define IMSRELAY_DAILY_FILE_H

#include <windows.h>
#include <stdbool.h>

typedef struct daily_file {
    wchar_t dir[1024];  /* MailRoot\Logs */
    wchar_t prefix[32]; /* "smtp", "delivery" */
    HANDLE file;        /* the day's file, or INVALID_HANDLE_VALUE */
    WORD year, month, day;
} daily_file;

/* Makes MailRoot\Logs (and MailRoot) if needed. false when MailRoot is not valid UTF-8, too
 * long, or the folder cannot be made. */
bool daily_file_init(daily_file *f, const char *mail_root, const wchar_t *prefix);

/* The open file is the one of the day `now` falls in. */
bool daily_file_is_current(const daily_file *f, const SYSTEMTIME *now);

/* Opens the file of the day `now` falls in, unless it is the one open; the previous day's
 * file is closed. f->file stays INVALID_HANDLE_VALUE when the file cannot be opened. */
void daily_file_roll(daily_file *f, const SYSTEMTIME *now);

void daily_file_close(daily_file *f);

#endif
