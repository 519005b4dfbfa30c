#include "store/daily_file.h"

#include <wchar.h>

#include "common/win_text.h"
#include "log_age.h"

bool daily_file_init(daily_file *f, const char *mail_root, const wchar_t *prefix)
{
    wchar_t root[900];
    if (!win_text_wide_into(mail_root, root, sizeof(root) / sizeof(root[0]))) {
        return false;
    }
    _snwprintf(f->dir, sizeof(f->dir) / sizeof(f->dir[0]), L"%ls\\Logs", root);
    f->dir[sizeof(f->dir) / sizeof(f->dir[0]) - 1] = 0;
    _snwprintf(f->prefix, sizeof(f->prefix) / sizeof(f->prefix[0]), L"%ls", prefix);
    f->prefix[sizeof(f->prefix) / sizeof(f->prefix[0]) - 1] = 0;
    f->file = INVALID_HANDLE_VALUE;
    f->year = f->month = f->day = 0;
    f->max_age_days = 30;
    CreateDirectoryW(root, NULL);
    return CreateDirectoryW(f->dir, NULL) || GetLastError() == ERROR_ALREADY_EXISTS;
}

bool daily_file_is_current(const daily_file *f, const SYSTEMTIME *now)
{
    return f->file != INVALID_HANDLE_VALUE && f->year == now->wYear && f->month == now->wMonth &&
           f->day == now->wDay;
}

void daily_file_set_max_age(daily_file *f, uint32_t days)
{
    f->max_age_days = days;
}

static void delete_expired(const daily_file *f, const SYSTEMTIME *now)
{
    char prefix[64];
    if (f->max_age_days == 0 || !win_text_utf8_into(f->prefix, prefix, sizeof(prefix))) {
        return;
    }
    int64_t today = log_age_day_number(now->wYear, now->wMonth, now->wDay);
    wchar_t pattern[1100];
    _snwprintf(pattern, 1100, L"%ls\\%ls-*.log", f->dir, f->prefix);
    pattern[1099] = 0;
    WIN32_FIND_DATAW found;
    HANDLE search = FindFirstFileW(pattern, &found);
    if (search == INVALID_HANDLE_VALUE) {
        return;
    }
    do {
        char name[64];
        if ((found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ||
            !win_text_utf8_into(found.cFileName, name, sizeof(name)) ||
            !log_age_expired(name, prefix, today, f->max_age_days)) {
            continue;
        }
        wchar_t path[1100];
        _snwprintf(path, 1100, L"%ls\\%ls", f->dir, found.cFileName);
        path[1099] = 0;
        DeleteFileW(path);
    } while (FindNextFileW(search, &found));
    FindClose(search);
}

void daily_file_roll(daily_file *f, const SYSTEMTIME *now)
{
    if (daily_file_is_current(f, now)) {
        return;
    }
    if (f->file != INVALID_HANDLE_VALUE) {
        CloseHandle(f->file);
    }
    wchar_t path[1100];
    _snwprintf(path, 1100, L"%ls\\%ls-%04u%02u%02u.log", f->dir, f->prefix, now->wYear, now->wMonth,
               now->wDay);
    path[1099] = 0;
    f->file = CreateFileW(path, FILE_APPEND_DATA,
                          FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_ALWAYS,
                          FILE_ATTRIBUTE_NORMAL, NULL);
    f->year = now->wYear;
    f->month = now->wMonth;
    f->day = now->wDay;
    delete_expired(f, now);
}

void daily_file_close(daily_file *f)
{
    if (f->file != INVALID_HANDLE_VALUE) {
        CloseHandle(f->file);
        f->file = INVALID_HANDLE_VALUE;
    }
}
