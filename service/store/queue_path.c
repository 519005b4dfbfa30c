#include "store/queue_path.h"

#include "fnv1a.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void queue_path_subdir(const char *id, wchar_t out[QUEUE_PATH_SUBDIR_LEN + 1])
{
    static const wchar_t hex[] = L"0123456789ABCDEF";
    /* The spool's ids differ mostly in their last digits (time, sequence): folding the
     * whole hash into the byte lets every digit move the folder. */
    uint64_t h = fnv1a_string(FNV1A_INIT, id);
    h ^= h >> 32;
    h ^= h >> 16;
    h ^= h >> 8;
    out[0] = hex[(h >> 4) & 0xF];
    out[1] = hex[h & 0xF];
    out[2] = 0;
}

static bool is_hex_upper(wchar_t c)
{
    return (c >= L'0' && c <= L'9') || (c >= L'A' && c <= L'F');
}

bool queue_path_is_subdir(const wchar_t *name)
{
    /* Windows names are case-insensitive: an administrator's "0a" is the folder "0A". */
    wchar_t a = name[0] >= L'a' && name[0] <= L'f' ? (wchar_t)(name[0] - 32) : name[0];
    wchar_t b = name[1] >= L'a' && name[1] <= L'f' ? (wchar_t)(name[1] - 32) : name[1];
    return is_hex_upper(a) && is_hex_upper(b) && name[2] == 0;
}

bool queue_path_folder(wchar_t *out, size_t chars, const wchar_t *queue_dir, const char *id)
{
    wchar_t sub[QUEUE_PATH_SUBDIR_LEN + 1];
    queue_path_subdir(id, sub);
    int n = _snwprintf(out, chars, L"%ls\\%ls", queue_dir, sub);
    return n > 0 && (size_t)n < chars;
}

bool queue_path_parent(wchar_t *out, size_t chars, const wchar_t *path)
{
    const wchar_t *slash = wcsrchr(path, L'\\');
    if (!slash || (size_t)(slash - path) >= chars) {
        return false;
    }
    wmemcpy(out, path, (size_t)(slash - path));
    out[slash - path] = 0;
    return true;
}

static bool walk_folder(const wchar_t *folder, bool subfolders, queue_path_visit visit, void *ctx)
{
    wchar_t pattern[MAX_PATH * 4];
    int n = _snwprintf(pattern, MAX_PATH * 4, L"%ls\\*", folder);
    if (n <= 0 || n >= MAX_PATH * 4) {
        return true;
    }
    WIN32_FIND_DATAW found;
    HANDLE search = FindFirstFileW(pattern, &found);
    if (search == INVALID_HANDLE_VALUE) {
        return true;
    }
    /* Files first, then the subfolders, whose names are kept until this search is closed
     * (one open search at a time). */
    wchar_t(*subs)[QUEUE_PATH_SUBDIR_LEN + 1] = NULL;
    size_t sub_count = 0;
    if (subfolders) {
        subs = calloc(256, sizeof(*subs));
    }
    do {
        if (found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
            if (subs && sub_count < 256 && queue_path_is_subdir(found.cFileName)) {
                wcscpy(subs[sub_count++], found.cFileName);
            }
            continue;
        }
        if (!visit(folder, &found, ctx)) {
            FindClose(search);
            free(subs);
            return false;
        }
    } while (FindNextFileW(search, &found));
    FindClose(search);
    bool whole = true;
    for (size_t i = 0; i < sub_count && whole; i++) {
        wchar_t sub[MAX_PATH * 4];
        n = _snwprintf(sub, MAX_PATH * 4, L"%ls\\%ls", folder, subs[i]);
        if (n > 0 && n < MAX_PATH * 4) {
            whole = walk_folder(sub, false, visit, ctx);
        }
    }
    free(subs);
    return whole;
}

bool queue_path_walk(const wchar_t *queue_dir, bool subfolders, queue_path_visit visit, void *ctx)
{
    return walk_folder(queue_dir, subfolders, visit, ctx);
}
