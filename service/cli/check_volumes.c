#include "cli/check_volumes.h"

#include <windows.h>

#include <stdio.h>
#include <wchar.h>

#include "common/win_text.h"

/* The volume a folder is on ("C:\", or a mount point), or false when it does not exist. */
static bool volume_of(const wchar_t *root, const wchar_t *folder, wchar_t *volume, DWORD size)
{
    wchar_t path[1100];
    _snwprintf(path, 1100, L"%ls\\%ls", root, folder);
    path[1099] = 0;
    DWORD attributes = GetFileAttributesW(path);
    if (attributes == INVALID_FILE_ATTRIBUTES || !(attributes & FILE_ATTRIBUTE_DIRECTORY)) {
        return false;
    }
    /* A junction is followed: the volume is the target's. */
    wchar_t target[1100];
    DWORD n = GetFullPathNameW(path, 1100, target, NULL);
    HANDLE h = CreateFileW(path, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h != INVALID_HANDLE_VALUE) {
        DWORD got = GetFinalPathNameByHandleW(h, target, 1100, 0);
        CloseHandle(h);
        n = got > 0 && got < 1100 ? got : n;
    }
    if (n == 0 || n >= 1100) {
        return false;
    }
    return GetVolumePathNameW(target, volume, size) != 0;
}

size_t check_volumes_warn(const char *mail_root)
{
    wchar_t root[1000];
    if (!mail_root || !win_text_wide_into(mail_root, root, 1000)) {
        return 0;
    }
    wchar_t tmp[MAX_PATH + 1], other[MAX_PATH + 1];
    if (!volume_of(root, L"Tmp", tmp, MAX_PATH + 1)) {
        return 0;
    }
    size_t warnings = 0;
    const wchar_t *folders[] = {L"Queue", L"Drop"};
    for (size_t i = 0; i < 2; i++) {
        if (volume_of(root, folders[i], other, MAX_PATH + 1) && _wcsicmp(tmp, other) != 0) {
            printf("MailRoot: warning: %ls is on volume %ls but Tmp is on %ls: messages are "
                   "written in Tmp and renamed into %ls, which cannot cross volumes, so every "
                   "message for it would get 451; keep MailRoot\\%ls on the volume of "
                   "MailRoot\\Tmp\n",
                   folders[i], other, tmp, folders[i], folders[i]);
            warnings++;
        }
    }
    return warnings;
}
