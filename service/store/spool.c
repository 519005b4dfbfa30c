#include "store/spool.h"

#include "common/win_text.h"
#include "store/queue_path.h"

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPOOL_PATH_MAX    1024 /* characters; MailRoot plus a folder and a file name */
#define SPOOL_BUFFER_SIZE (64 * 1024)
#define SPOOL_HEADER_MAX  (16 * 1024) /* envelope header lines beyond the recipients */

enum { DEST_DROP = 0, DEST_QUEUE = 1, DEST_COUNT = 2 };
static const wchar_t *const dest_folder[DEST_COUNT] = {L"Drop", L"Queue"};

struct spool {
    wchar_t root[SPOOL_PATH_MAX];
    LONG sequence;
    SRWLOCK hook_lock;
    spool_queued_hook hook;
    void *hook_ctx;
};

typedef struct spool_file {
    HANDLE handle;
    wchar_t tmp_path[SPOOL_PATH_MAX];
    wchar_t final_path[SPOOL_PATH_MAX];
    unsigned char *buffer;
    size_t buffered;
} spool_file;

struct spool_message {
    char id[64];
    spool *spool;
    spool_file files[DEST_COUNT]; /* handle INVALID_HANDLE_VALUE when not used */
    bool failed;
    DWORD error;
};

static bool make_path(wchar_t *out, const wchar_t *root, const wchar_t *folder, const wchar_t *file)
{
    int n;
    if (file) {
        n = _snwprintf(out, SPOOL_PATH_MAX, L"%ls\\%ls\\%ls", root, folder, file);
    } else if (folder) {
        n = _snwprintf(out, SPOOL_PATH_MAX, L"%ls\\%ls", root, folder);
    } else {
        n = _snwprintf(out, SPOOL_PATH_MAX, L"%ls", root);
    }
    return n > 0 && n < SPOOL_PATH_MAX;
}

static bool ensure_directory(const wchar_t *path, DWORD *error)
{
    if (CreateDirectoryW(path, NULL) || GetLastError() == ERROR_ALREADY_EXISTS) {
        return true;
    }
    *error = GetLastError();
    return false;
}

/* Files left in Tmp\ were never acknowledged to a client: removing them loses nothing. */
static void clear_tmp(const wchar_t *tmp_dir)
{
    wchar_t pattern[SPOOL_PATH_MAX];
    if (!make_path(pattern, tmp_dir, L"*.tmp", NULL)) {
        return;
    }
    WIN32_FIND_DATAW found;
    HANDLE search = FindFirstFileW(pattern, &found);
    if (search == INVALID_HANDLE_VALUE) {
        return;
    }
    do {
        wchar_t path[SPOOL_PATH_MAX];
        if (!(found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) &&
            make_path(path, tmp_dir, found.cFileName, NULL)) {
            DeleteFileW(path);
        }
    } while (FindNextFileW(search, &found));
    FindClose(search);
}

static spool *open_spool(const char *mail_root, bool clear, unsigned long *win32_error);

spool *spool_open(const char *mail_root, unsigned long *win32_error)
{
    return open_spool(mail_root, true, win32_error);
}

spool *spool_open_shared(const char *mail_root, unsigned long *win32_error)
{
    spool *s = open_spool(mail_root, false, win32_error);
    if (s) {
        s->sequence = 0x40000000; /* ids of the first writer count up from 0 */
    }
    return s;
}

static spool *open_spool(const char *mail_root, bool clear, unsigned long *win32_error)
{
    DWORD error = 0;
    spool *s = calloc(1, sizeof(*s));
    if (!s) {
        *win32_error = ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    if (!win_text_wide_into(mail_root, s->root, SPOOL_PATH_MAX)) {
        free(s);
        *win32_error = ERROR_BAD_PATHNAME;
        return NULL;
    }
    InitializeSRWLock(&s->hook_lock);
    size_t len = wcslen(s->root);
    while (len > 3 && (s->root[len - 1] == L'\\' || s->root[len - 1] == L'/')) {
        s->root[--len] = 0;
    }
    const wchar_t *folders[] = {L"Drop", L"Queue", L"Tmp"};
    if (!ensure_directory(s->root, &error)) {
        goto fail;
    }
    for (size_t i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
        wchar_t path[SPOOL_PATH_MAX];
        if (!make_path(path, s->root, folders[i], NULL)) {
            error = ERROR_FILENAME_EXCED_RANGE;
            goto fail;
        }
        if (!ensure_directory(path, &error)) {
            goto fail;
        }
        if (i == 2 && clear) {
            clear_tmp(path);
        }
    }
    return s;
fail:
    free(s);
    *win32_error = error;
    return NULL;
}

void spool_close(spool *s)
{
    free(s);
}

/* Header fields come from the client: nothing it sends may start a new header line. */
static void append_clean(char *out, size_t size, size_t *len, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        if (*len + 1 >= size) {
            return;
        }
        out[(*len)++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
    }
    out[*len] = 0;
}

static void append_raw(char *out, size_t size, size_t *len, const char *text)
{
    size_t n = strlen(text);
    if (*len + n >= size) {
        n = size - *len - 1;
    }
    memcpy(out + *len, text, n);
    *len += n;
    out[*len] = 0;
}

static void format_date(char *out, size_t size)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    SYSTEMTIME t;
    GetSystemTime(&t);
    snprintf(out, size, "%s, %u %s %04u %02u:%02u:%02u +0000", days[t.wDayOfWeek % 7], t.wDay,
             months[(t.wMonth + 11) % 12], t.wYear, t.wHour, t.wMinute, t.wSecond);
}

/* The envelope lines and the Received header for the recipients going to one folder. */
static char *format_header(const spool_envelope *env, int dest, const char *id, size_t *out_len)
{
    size_t size = SPOOL_HEADER_MAX;
    for (size_t i = 0; i < env->recipient_count; i++) {
        size += strlen(env->recipients[i].address) + 16;
    }
    char *h = malloc(size);
    if (!h) {
        return NULL;
    }
    size_t len = 0;
    h[0] = 0;
    size_t count = 0;
    const char *only = NULL;
    append_raw(h, size, &len, "X-Sender: <");
    append_clean(h, size, &len, env->mail_from);
    append_raw(h, size, &len, ">\r\n");
    for (size_t i = 0; i < env->recipient_count; i++) {
        if ((env->recipients[i].local ? DEST_DROP : DEST_QUEUE) != dest) {
            continue;
        }
        append_raw(h, size, &len, "X-Receiver: <");
        append_clean(h, size, &len, env->recipients[i].address);
        append_raw(h, size, &len, ">\r\n");
        only = env->recipients[i].address;
        count++;
    }
    char date[64];
    format_date(date, sizeof(date));
    append_raw(h, size, &len, "Received: from ");
    append_clean(h, size, &len, env->helo && *env->helo ? env->helo : "unknown");
    append_raw(h, size, &len, " (");
    if (env->client_host && *env->client_host) {
        append_clean(h, size, &len, env->client_host);
        append_raw(h, size, &len, " ");
    }
    append_raw(h, size, &len, "[");
    append_clean(h, size, &len, env->client_ip);
    append_raw(h, size, &len, "])\r\n\tby ");
    append_clean(h, size, &len, env->server_host);
    append_raw(h, size, &len, " (imsrelay) with ");
    /* RFC 3848 transmission types. */
    append_raw(h, size, &len,
               env->esmtp ? (env->auth_account && *env->auth_account ? "ESMTPA" : "ESMTP")
                          : "SMTP");
    append_raw(h, size, &len, " id ");
    append_raw(h, size, &len, id);
    if (count == 1) {
        /* Naming the recipient only when there is one keeps Bcc recipients private. */
        append_raw(h, size, &len, "\r\n\tfor <");
        append_clean(h, size, &len, only);
        append_raw(h, size, &len, ">");
    }
    append_raw(h, size, &len, "; ");
    append_raw(h, size, &len, date);
    append_raw(h, size, &len, "\r\n");
    *out_len = len;
    return h;
}

static bool file_flush_buffer(spool_file *f, DWORD *error)
{
    size_t done = 0;
    while (done < f->buffered) {
        DWORD wrote = 0;
        DWORD chunk = (DWORD)(f->buffered - done);
        if (!WriteFile(f->handle, f->buffer + done, chunk, &wrote, NULL) || wrote == 0) {
            *error = GetLastError();
            return false;
        }
        done += wrote;
    }
    f->buffered = 0;
    return true;
}

static bool file_append(spool_file *f, const void *data, size_t size, DWORD *error)
{
    const unsigned char *p = data;
    while (size > 0) {
        size_t room = SPOOL_BUFFER_SIZE - f->buffered;
        size_t n = size < room ? size : room;
        memcpy(f->buffer + f->buffered, p, n);
        f->buffered += n;
        p += n;
        size -= n;
        if (f->buffered == SPOOL_BUFFER_SIZE && !file_flush_buffer(f, error)) {
            return false;
        }
    }
    return true;
}

static void file_discard(spool_file *f)
{
    if (f->handle != INVALID_HANDLE_VALUE) {
        CloseHandle(f->handle);
        DeleteFileW(f->tmp_path);
        f->handle = INVALID_HANDLE_VALUE;
    }
    free(f->buffer);
    f->buffer = NULL;
}

static void message_free(spool_message *m)
{
    for (int d = 0; d < DEST_COUNT; d++) {
        file_discard(&m->files[d]);
    }
    free(m);
}

spool_message *spool_begin(spool *s, const spool_envelope *env, unsigned long *win32_error)
{
    spool_message *m = calloc(1, sizeof(*m));
    if (!m) {
        *win32_error = ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    m->spool = s;
    for (int d = 0; d < DEST_COUNT; d++) {
        m->files[d].handle = INVALID_HANDLE_VALUE;
    }
    FILETIME now;
    GetSystemTimeAsFileTime(&now);
    unsigned long long ticks = ((unsigned long long)now.dwHighDateTime << 32) | now.dwLowDateTime;
    snprintf(m->id, sizeof(m->id), "%016llX.%08lX.%08lX", ticks,
             (unsigned long)GetCurrentProcessId(),
             (unsigned long)InterlockedIncrement(&s->sequence));

    bool wanted[DEST_COUNT] = {false, false};
    for (size_t i = 0; i < env->recipient_count; i++) {
        wanted[env->recipients[i].local ? DEST_DROP : DEST_QUEUE] = true;
    }
    DWORD error = 0;
    for (int d = 0; d < DEST_COUNT; d++) {
        if (!wanted[d]) {
            continue;
        }
        spool_file *f = &m->files[d];
        wchar_t tmp_name[96], final_name[96];
        _snwprintf(tmp_name, 96, L"%hs.%ls.tmp", m->id, dest_folder[d]);
        _snwprintf(final_name, 96, L"%hs.eml", m->id);
        wchar_t folder[16 + QUEUE_PATH_SUBDIR_LEN];
        wcscpy(folder, dest_folder[d]);
        if (d == DEST_QUEUE) {
            wchar_t sub[QUEUE_PATH_SUBDIR_LEN + 1];
            queue_path_subdir(m->id, sub);
            wcscat(folder, L"\\");
            wcscat(folder, sub);
        }
        if (!make_path(f->tmp_path, s->root, L"Tmp", tmp_name) ||
            !make_path(f->final_path, s->root, folder, final_name)) {
            error = ERROR_FILENAME_EXCED_RANGE;
            goto fail;
        }
        f->buffer = malloc(SPOOL_BUFFER_SIZE);
        if (!f->buffer) {
            error = ERROR_NOT_ENOUGH_MEMORY;
            goto fail;
        }
        f->handle = CreateFileW(f->tmp_path, GENERIC_WRITE, 0, NULL, CREATE_NEW,
                                FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
        if (f->handle == INVALID_HANDLE_VALUE) {
            error = GetLastError();
            goto fail;
        }
        size_t header_len = 0;
        char *header = format_header(env, d, m->id, &header_len);
        if (!header) {
            error = ERROR_NOT_ENOUGH_MEMORY;
            goto fail;
        }
        bool ok = file_append(f, header, header_len, &error);
        free(header);
        if (!ok) {
            goto fail;
        }
    }
    return m;
fail:
    message_free(m);
    *win32_error = error;
    return NULL;
}

bool spool_write(spool_message *m, const void *data, size_t size)
{
    if (m->failed) {
        return false;
    }
    for (int d = 0; d < DEST_COUNT; d++) {
        spool_file *f = &m->files[d];
        if (f->handle != INVALID_HANDLE_VALUE && !file_append(f, data, size, &m->error)) {
            m->failed = true;
            return false;
        }
    }
    return true;
}

/* Renames Tmp\ into place; Queue\<XX>\ is made the first time it is needed (and again
 * if an administrator removed it). */
static bool move_into_place(spool_file *f, DWORD *error)
{
    if (MoveFileExW(f->tmp_path, f->final_path, MOVEFILE_WRITE_THROUGH)) {
        return true;
    }
    *error = GetLastError();
    wchar_t folder[SPOOL_PATH_MAX];
    if (*error != ERROR_PATH_NOT_FOUND ||
        !queue_path_parent(folder, SPOOL_PATH_MAX, f->final_path) ||
        !ensure_directory(folder, error)) {
        return false;
    }
    if (MoveFileExW(f->tmp_path, f->final_path, MOVEFILE_WRITE_THROUGH)) {
        return true;
    }
    *error = GetLastError();
    return false;
}

void spool_set_queued_hook(spool *s, spool_queued_hook hook, void *ctx)
{
    AcquireSRWLockExclusive(&s->hook_lock);
    s->hook = hook;
    s->hook_ctx = ctx;
    ReleaseSRWLockExclusive(&s->hook_lock);
}

bool spool_commit(spool_message *m, unsigned long *win32_error)
{
    DWORD error = m->error;
    if (m->failed) {
        goto fail;
    }
    /* Every file is flushed before any is renamed: either all recipients' copies are
     * durable, or the client gets 451 and retries the whole message. */
    for (int d = 0; d < DEST_COUNT; d++) {
        spool_file *f = &m->files[d];
        if (f->handle == INVALID_HANDLE_VALUE) {
            continue;
        }
        if (!file_flush_buffer(f, &error)) {
            goto fail;
        }
        if (!FlushFileBuffers(f->handle)) {
            error = GetLastError();
            goto fail;
        }
    }
    for (int d = 0; d < DEST_COUNT; d++) {
        spool_file *f = &m->files[d];
        if (f->handle == INVALID_HANDLE_VALUE) {
            continue;
        }
        CloseHandle(f->handle);
        f->handle = INVALID_HANDLE_VALUE;
        if (!move_into_place(f, &error)) {
            DeleteFileW(f->tmp_path);
            /* A copy already renamed into place stays: it is whole, and a retry by the
             * client makes at worst a duplicate, never a loss. */
            goto fail;
        }
    }
    if (m->files[DEST_QUEUE].final_path[0]) {
        /* The queue manager learns of the message from here rather than by reading the
         * folder again (which costs a pass over a queue of thousands each time). */
        AcquireSRWLockShared(&m->spool->hook_lock);
        if (m->spool->hook) {
            m->spool->hook(m->spool->hook_ctx, m->id);
        }
        ReleaseSRWLockShared(&m->spool->hook_lock);
    }
    message_free(m);
    return true;
fail:
    message_free(m);
    *win32_error = error ? error : ERROR_WRITE_FAULT;
    return false;
}

void spool_abort(spool_message *m)
{
    message_free(m);
}

const char *spool_message_id(const spool_message *m)
{
    return m->id;
}
