#include "delivery/queue_entry.h"

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/win_text.h"
#include "store/queue_path.h"

#define ENVELOPE_FIRST_READ (64u * 1024u)
#define JOURNAL_READ_MAX    (64u * 1024u * 1024u) /* a journal this long is read up to here */

/* 1601-01-01 to 1970-01-01 in 100 ns units. */
#define FILETIME_UNIX_EPOCH 116444736000000000ULL

static uint64_t unix_from_filetime(FILETIME ft)
{
    uint64_t ticks = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    return ticks > FILETIME_UNIX_EPOCH ? (ticks - FILETIME_UNIX_EPOCH) / 10000000ULL : 0;
}

uint64_t queue_entry_now(void)
{
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    return unix_from_filetime(ft);
}

bool queue_entry_id_valid(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len >= QUEUE_ENTRY_ID_MAX || id[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '.' || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

static void set_reason(char *reason, size_t size, const char *text)
{
    if (size > 0) {
        snprintf(reason, size, "%s", text);
    }
}

/* Reads up to `want` bytes from offset into buf; the count read, or -1 on error. */
static long long read_at(HANDLE h, uint64_t offset, void *buf, size_t want)
{
    LARGE_INTEGER at;
    at.QuadPart = (LONGLONG)offset;
    if (!SetFilePointerEx(h, at, NULL, FILE_BEGIN)) {
        return -1;
    }
    size_t got = 0;
    while (got < want) {
        DWORD chunk = want - got > (1u << 30) ? (1u << 30) : (DWORD)(want - got);
        DWORD n = 0;
        if (!ReadFile(h, (char *)buf + got, chunk, &n, NULL)) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += n;
    }
    return (long long)got;
}

static HANDLE open_shared(const wchar_t *path, DWORD access, DWORD disposition)
{
    return CreateFileW(path, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                       disposition, FILE_ATTRIBUTE_NORMAL, NULL);
}

static queue_entry_status load_envelope(queue_entry *e, char *reason, size_t reason_size)
{
    wchar_t path[QUEUE_ENTRY_PATH_MAX];
    queue_entry_path(e, L".eml", path);
    HANDLE h = open_shared(path, GENERIC_READ, OPEN_EXISTING);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD error = GetLastError();
        if (error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND) {
            return QUEUE_ENTRY_GONE;
        }
        win_text_error(error, reason, reason_size);
        return QUEUE_ENTRY_IO_ERROR;
    }
    LARGE_INTEGER file_size;
    FILETIME created;
    if (!GetFileSizeEx(h, &file_size) || !GetFileTime(h, &created, NULL, NULL)) {
        CloseHandle(h);
        set_reason(reason, reason_size, "cannot read the file's size");
        return QUEUE_ENTRY_IO_ERROR;
    }
    e->arrival = unix_from_filetime(created);
    uint64_t total = (uint64_t)file_size.QuadPart;
    size_t want = ENVELOPE_FIRST_READ;
    queue_entry_status result = QUEUE_ENTRY_IO_ERROR;
    for (;;) {
        bool whole = total <= want;
        size_t size = whole ? (size_t)total : want;
        char *buf = malloc(size ? size : 1);
        if (!buf) {
            set_reason(reason, reason_size, "out of memory");
            break;
        }
        long long got = read_at(h, 0, buf, size);
        if (got < 0 || (size_t)got != size) {
            free(buf);
            set_reason(reason, reason_size, "the file cannot be read");
            break;
        }
        queue_file_status st =
                queue_file_parse(buf, size, whole, &e->envelope, reason, reason_size);
        free(buf);
        if (st == QUEUE_FILE_OK) {
            e->size = total - e->envelope.message_offset;
            result = QUEUE_ENTRY_OK;
            break;
        }
        if (st == QUEUE_FILE_MALFORMED) {
            result = QUEUE_ENTRY_MALFORMED;
            break;
        }
        if (whole || want >= QUEUE_FILE_ENVELOPE_MAX) {
            /* INCOMPLETE with the whole file or the largest envelope read: out of memory. */
            break;
        }
        want = want * 8 > QUEUE_FILE_ENVELOPE_MAX ? QUEUE_FILE_ENVELOPE_MAX : want * 8;
    }
    CloseHandle(h);
    return result;
}

/* Applies the journal bytes from state.complete_size to the end of the open file. */
static bool read_new_records(queue_entry *e, HANDLE h, uint64_t file_size)
{
    uint64_t from = e->state.complete_size;
    if (file_size <= from) {
        return true;
    }
    uint64_t length = file_size - from;
    if (from >= JOURNAL_READ_MAX) {
        return true;
    }
    if (length > JOURNAL_READ_MAX - from) {
        length = JOURNAL_READ_MAX - from;
    }
    char *buf = malloc((size_t)length);
    if (!buf) {
        return false;
    }
    long long got = read_at(h, from, buf, (size_t)length);
    bool ok = got >= 0 && queue_state_replay(&e->state, buf, (size_t)got);
    free(buf);
    return ok;
}

bool queue_entry_refresh(queue_entry *e)
{
    wchar_t path[QUEUE_ENTRY_PATH_MAX];
    if (!queue_entry_path(e, L".state", path)) {
        return false;
    }
    HANDLE h = open_shared(path, GENERIC_READ, OPEN_EXISTING);
    if (h == INVALID_HANDLE_VALUE) {
        return GetLastError() == ERROR_FILE_NOT_FOUND;
    }
    LARGE_INTEGER size;
    bool ok = GetFileSizeEx(h, &size) && read_new_records(e, h, (uint64_t)size.QuadPart);
    CloseHandle(h);
    return ok;
}

bool queue_entry_append(queue_entry *e, const char *record, size_t length)
{
    wchar_t path[QUEUE_ENTRY_PATH_MAX];
    if (!queue_entry_path(e, L".state", path)) {
        return false;
    }
    HANDLE h = open_shared(path, GENERIC_READ | FILE_APPEND_DATA, OPEN_ALWAYS);
    if (h == INVALID_HANDLE_VALUE) {
        return false;
    }
    LARGE_INTEGER size;
    bool ok = GetFileSizeEx(h, &size) && read_new_records(e, h, (uint64_t)size.QuadPart);
    char *out = NULL;
    size_t out_length = 0;
    if (ok) {
        out = malloc(length + 2);
        ok = out != NULL;
    }
    if (ok) {
        /* A torn last line is ended here, so this record starts a line of its own. */
        if (e->state.torn_tail) {
            out[out_length++] = '\r';
            out[out_length++] = '\n';
        }
        memcpy(out + out_length, record, length);
        out_length += length;
        DWORD wrote = 0;
        ok = WriteFile(h, out, (DWORD)out_length, &wrote, NULL) && wrote == out_length &&
             FlushFileBuffers(h);
    }
    if (ok) {
        ok = queue_state_replay(&e->state, out, out_length);
    }
    free(out);
    CloseHandle(h);
    return ok;
}

bool queue_entry_path(const queue_entry *e, const wchar_t *ext, wchar_t *out)
{
    int n = e->base_path ? _snwprintf(out, QUEUE_ENTRY_PATH_MAX, L"%ls%ls", e->base_path, ext) : -1;
    if (n <= 0 || n >= QUEUE_ENTRY_PATH_MAX) {
        out[0] = 0;
        return false;
    }
    return true;
}

/* The longest extension queue_entry_path is asked for. */
#define EXTENSION_MAX 6 /* ".state" */

bool queue_entry_folder_of(const wchar_t *queue_dir, const char *id, wchar_t *folder)
{
    wchar_t eml[QUEUE_ENTRY_PATH_MAX];
    if (queue_path_folder(folder, QUEUE_ENTRY_PATH_MAX, queue_dir, id) &&
        _snwprintf(eml, QUEUE_ENTRY_PATH_MAX, L"%ls\\%hs.eml", folder, id) > 0 &&
        (eml[QUEUE_ENTRY_PATH_MAX - 1] = 0, GetFileAttributesW(eml) != INVALID_FILE_ATTRIBUTES)) {
        return true;
    }
    int n = _snwprintf(folder, QUEUE_ENTRY_PATH_MAX, L"%ls", queue_dir);
    return n > 0 && n < QUEUE_ENTRY_PATH_MAX;
}

queue_entry_status queue_entry_load(const wchar_t *queue_dir, const char *id, bool record_queued,
                                    queue_entry *e, char *reason, size_t reason_size)
{
    wchar_t folder[QUEUE_ENTRY_PATH_MAX];
    if (!queue_path_folder(folder, QUEUE_ENTRY_PATH_MAX, queue_dir, id)) {
        memset(e, 0, sizeof(*e));
        return QUEUE_ENTRY_GONE;
    }
    queue_entry_status st = queue_entry_load_in(folder, id, record_queued, e, reason, reason_size);
    if (st != QUEUE_ENTRY_GONE) {
        return st;
    }
    /* Not in its subfolder: directly in Queue\ (an older version's layout, or a file an
     * administrator put there), where it stays. */
    return queue_entry_load_in(queue_dir, id, record_queued, e, reason, reason_size);
}

queue_entry_status queue_entry_load_in(const wchar_t *folder, const char *id, bool record_queued,
                                       queue_entry *e, char *reason, size_t reason_size)
{
    memset(e, 0, sizeof(*e));
    set_reason(reason, reason_size, "");
    wchar_t base[QUEUE_ENTRY_PATH_MAX];
    int n = _snwprintf(base, QUEUE_ENTRY_PATH_MAX, L"%ls\\%hs", folder, id);
    if (!queue_entry_id_valid(id) || n <= 0 || n >= QUEUE_ENTRY_PATH_MAX - EXTENSION_MAX) {
        return QUEUE_ENTRY_GONE;
    }
    if (!(e->base_path = malloc(((size_t)n + 1) * sizeof(wchar_t)))) {
        set_reason(reason, reason_size, "out of memory");
        return QUEUE_ENTRY_IO_ERROR;
    }
    wmemcpy(e->base_path, base, (size_t)n + 1);
    snprintf(e->id, sizeof(e->id), "%s", id);
    queue_entry_status st = load_envelope(e, reason, reason_size);
    if (st != QUEUE_ENTRY_OK) {
        free(e->base_path);
        e->base_path = NULL;
        return st;
    }
    if (!queue_state_init(&e->state, e->envelope.recipient_count)) {
        queue_file_envelope_free(&e->envelope);
        free(e->base_path);
        e->base_path = NULL;
        set_reason(reason, reason_size, "out of memory");
        return QUEUE_ENTRY_IO_ERROR;
    }
    if (!queue_entry_refresh(e)) {
        queue_entry_free(e);
        set_reason(reason, reason_size, "its delivery journal cannot be read");
        return QUEUE_ENTRY_IO_ERROR;
    }
    if (e->state.queued_at == 0 && record_queued) {
        char record[128];
        size_t length = queue_state_encode_queued(record, sizeof(record), e->arrival,
                                                  e->envelope.recipient_count);
        if (length == 0 || !queue_entry_append(e, record, length)) {
            queue_entry_free(e);
            set_reason(reason, reason_size, "its delivery journal cannot be written");
            return QUEUE_ENTRY_IO_ERROR;
        }
    }
    if (e->state.queued_at != 0) {
        e->arrival = e->state.queued_at;
    }
    return QUEUE_ENTRY_OK;
}

void queue_entry_free(queue_entry *e)
{
    queue_file_envelope_free(&e->envelope);
    queue_state_free(&e->state);
    free(e->base_path);
    memset(e, 0, sizeof(*e));
}

bool queue_entry_remove(queue_entry *e)
{
    wchar_t eml[QUEUE_ENTRY_PATH_MAX], state[QUEUE_ENTRY_PATH_MAX];
    if (!queue_entry_path(e, L".eml", eml) || !queue_entry_path(e, L".state", state)) {
        return false;
    }
    bool ok = DeleteFileW(eml) || GetLastError() == ERROR_FILE_NOT_FOUND;
    if (ok) {
        ok = DeleteFileW(state) || GetLastError() == ERROR_FILE_NOT_FOUND;
    }
    return ok;
}

bool queue_entry_to_badmail(const wchar_t *mail_root, const wchar_t *folder,
                            const wchar_t *file_name, const char *reason)
{
    wchar_t bad_dir[QUEUE_ENTRY_PATH_MAX], from[QUEUE_ENTRY_PATH_MAX], to[QUEUE_ENTRY_PATH_MAX];
    wchar_t reason_path[QUEUE_ENTRY_PATH_MAX];
    if (_snwprintf(bad_dir, QUEUE_ENTRY_PATH_MAX, L"%ls\\Badmail", mail_root) <= 0 ||
        _snwprintf(from, QUEUE_ENTRY_PATH_MAX, L"%ls\\%ls", folder, file_name) <= 0 ||
        _snwprintf(to, QUEUE_ENTRY_PATH_MAX, L"%ls\\%ls", bad_dir, file_name) <= 0 ||
        _snwprintf(reason_path, QUEUE_ENTRY_PATH_MAX, L"%ls\\%ls.reason", bad_dir, file_name) <=
                0) {
        return false;
    }
    bad_dir[QUEUE_ENTRY_PATH_MAX - 1] = from[QUEUE_ENTRY_PATH_MAX - 1] = 0;
    to[QUEUE_ENTRY_PATH_MAX - 1] = reason_path[QUEUE_ENTRY_PATH_MAX - 1] = 0;
    CreateDirectoryW(bad_dir, NULL);
    /* The reason first: a file in Badmail is never without its explanation. */
    HANDLE h = CreateFileW(reason_path, GENERIC_WRITE, FILE_SHARE_READ, NULL, CREATE_ALWAYS,
                           FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        return false;
    }
    DWORD wrote = 0;
    bool ok = WriteFile(h, reason, (DWORD)strlen(reason), &wrote, NULL) &&
              WriteFile(h, "\r\n", 2, &wrote, NULL) && FlushFileBuffers(h);
    CloseHandle(h);
    if (!ok || !MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        return false;
    }
    /* The journal beside an .eml says what was already delivered: keep it with the file. */
    size_t len = wcslen(from);
    if (len > 4 && !_wcsicmp(from + len - 4, L".eml")) {
        wcscpy(from + len - 4, L".state");
        size_t tlen = wcslen(to);
        if (tlen + 3 < QUEUE_ENTRY_PATH_MAX) {
            wcscpy(to + tlen - 4, L".state");
            MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH);
        }
    }
    return true;
}
