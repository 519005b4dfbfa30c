/* What a queued message costs against the number already queued, as the spool and the
 * queue manager touch the disk: a Windows program, run under Wine by tests/bench/queue_dir.sh,
 * which fills the folder beforehand (from Linux, since filling it through Wine is the very
 * cost being measured).
 *
 *   queue_dir_bench ROOT LAYOUT [COUNT]
 *     ROOT    a folder holding Tmp\ and Queue\ (Queue\ already holding the backlog)
 *     LAYOUT  flat:   new files go to Queue\<id>.eml, as before issue 10
 *             hashed: new files go to Queue\<2 hex digits>\<id>.eml (queue_path)
 *     COUNT   messages to add and time (default 200)
 *
 * Per message it times what the spool does (create Tmp\<id>.tmp, write 1 KB, flush,
 * close, move into the queue folder, write-through), what the queue manager does with a
 * new message (queue_entry_load: read its envelope, create <id>.state beside it with its
 * Q record, flushed), and (flat only)
 * how long a change notification on the folder takes to fire after the move. Then it times one full
 * enumeration of Queue\ (and of its subfolders when hashed): the rescan. Medians, wall
 * time, microseconds; one line of key=value pairs for the script's table. */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/queue_entry.h"
#include "store/queue_path.h"

#define MESSAGE_BYTES 1024
#define RESCANS       5

static LARGE_INTEGER frequency;

static double now_us(void)
{
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart * 1e6 / (double)frequency.QuadPart;
}

/* CPU time of this thread (user and kernel): under Wine the folder reads a file creation
 * costs are this thread's own system calls, and unlike wall time it does not count the
 * neighbours on a shared machine (the flush's wait for the disk is not counted either). */
static double cpu_us(void)
{
    FILETIME created, exited, kernel, user;
    GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user);
    ULARGE_INTEGER k, u;
    k.LowPart = kernel.dwLowDateTime;
    k.HighPart = kernel.dwHighDateTime;
    u.LowPart = user.dwLowDateTime;
    u.HighPart = user.dwHighDateTime;
    return (double)(k.QuadPart + u.QuadPart) / 10.0;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *values, size_t count)
{
    qsort(values, count, sizeof(*values), compare_double);
    return count ? values[count / 2] : 0.0;
}

static bool write_file(const wchar_t *path, DWORD disposition, const void *data, DWORD size)
{
    HANDLE h = CreateFileW(path, GENERIC_WRITE, FILE_SHARE_READ, NULL, disposition,
                           FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        return false;
    }
    DWORD wrote = 0;
    bool ok = WriteFile(h, data, size, &wrote, NULL) && wrote == size && FlushFileBuffers(h);
    CloseHandle(h);
    return ok;
}

/* Files under dir (and its subfolders when deep): what a rescan reads. */
static size_t enumerate(const wchar_t *dir, bool deep)
{
    wchar_t pattern[MAX_PATH * 2];
    _snwprintf(pattern, MAX_PATH * 2, L"%ls\\*", dir);
    pattern[MAX_PATH * 2 - 1] = 0;
    WIN32_FIND_DATAW found;
    HANDLE search = FindFirstFileW(pattern, &found);
    if (search == INVALID_HANDLE_VALUE) {
        return 0;
    }
    size_t files = 0;
    do {
        if (found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
            if (deep && found.cFileName[0] != L'.') {
                wchar_t sub[MAX_PATH * 2];
                _snwprintf(sub, MAX_PATH * 2, L"%ls\\%ls", dir, found.cFileName);
                sub[MAX_PATH * 2 - 1] = 0;
                files += enumerate(sub, false);
            }
            continue;
        }
        files++;
    } while (FindNextFileW(search, &found));
    FindClose(search);
    return files;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[2], "flat") && strcmp(argv[2], "hashed"))) {
        fprintf(stderr, "usage: queue_dir_bench ROOT flat|hashed [COUNT]\n");
        return 2;
    }
    bool hashed = !strcmp(argv[2], "hashed");
    long count = argc > 3 ? atol(argv[3]) : 200;
    if (count < 1 || count > 100000) {
        fprintf(stderr, "COUNT must be 1..100000\n");
        return 2;
    }
    QueryPerformanceFrequency(&frequency);
    wchar_t root[MAX_PATH], queue_dir[MAX_PATH + 8];
    if (!MultiByteToWideChar(CP_UTF8, 0, argv[1], -1, root, MAX_PATH)) {
        return 2;
    }
    _snwprintf(queue_dir, MAX_PATH + 8, L"%ls\\Queue", root);
    queue_dir[MAX_PATH + 7] = 0;

    double *spool_us = calloc((size_t)count, sizeof(double));
    double *pickup_us = calloc((size_t)count, sizeof(double));
    double *notice_us = calloc((size_t)count, sizeof(double));
    char *body = malloc(MESSAGE_BYTES);
    if (!spool_us || !pickup_us || !notice_us || !body) {
        return 3;
    }
    static const char envelope[] = "X-Sender: <alice@example.com>\r\n"
                                   "X-Receiver: <bob@far.test>\r\n"
                                   "Received: from bench\r\n"
                                   "Subject: queue_dir_bench\r\n\r\n";
    memset(body, 'x', MESSAGE_BYTES);
    memcpy(body, envelope, sizeof(envelope) - 1);
    memcpy(body + MESSAGE_BYTES - 2, "\r\n", 2);
    /* The flat layout's queue manager learned of new mail from this notification (and then
     * read the whole folder); the hashed layout's learns it from the spool in-process. */
    HANDLE change =
            hashed ? INVALID_HANDLE_VALUE
                   : FindFirstChangeNotificationW(queue_dir, FALSE, FILE_NOTIFY_CHANGE_FILE_NAME);
    size_t notices = 0;
    double spool_cpu_us = 0, pickup_cpu_us = 0; /* sums: the clock ticks in 15.6 ms steps */
    for (long i = 0; i < count; i++) {
        char id[64];
        snprintf(id, sizeof(id), "BENCH%011ld.%08lX.%08lX", i, (unsigned long)GetCurrentProcessId(),
                 (unsigned long)i);
        wchar_t tmp[MAX_PATH * 2], eml[MAX_PATH * 2];
        _snwprintf(tmp, MAX_PATH * 2, L"%ls\\Tmp\\%hs.Queue.tmp", root, id);
        tmp[MAX_PATH * 2 - 1] = 0;
        wchar_t folder[MAX_PATH + 16];
        if (hashed) {
            wchar_t sub[QUEUE_PATH_SUBDIR_LEN + 1];
            queue_path_subdir(id, sub);
            _snwprintf(folder, MAX_PATH + 16, L"%ls\\%ls", queue_dir, sub);
            folder[MAX_PATH + 15] = 0;
            CreateDirectoryW(folder, NULL);
        } else {
            wcscpy(folder, queue_dir);
        }
        _snwprintf(eml, MAX_PATH * 2, L"%ls\\%hs.eml", folder, id);
        eml[MAX_PATH * 2 - 1] = 0;

        double c0 = cpu_us();
        double t0 = now_us();
        if (!write_file(tmp, CREATE_NEW, body, MESSAGE_BYTES) ||
            !MoveFileExW(tmp, eml, MOVEFILE_WRITE_THROUGH)) {
            fprintf(stderr, "cannot spool message %ld: error %lu\n", i, GetLastError());
            return 1;
        }
        double t1 = now_us();
        double c1 = cpu_us();
        if (change != INVALID_HANDLE_VALUE && WaitForSingleObject(change, 2000) == WAIT_OBJECT_0) {
            notice_us[notices++] = now_us() - t1;
        }
        double c2 = cpu_us();
        double t2 = now_us();
        /* What the queue manager does with a new message (issue 10: also what it does
         * with a flat file, after looking in the subfolder first). */
        queue_entry entry;
        char reason[QUEUE_ENTRY_REASON_MAX];
        queue_entry_status st =
                queue_entry_load(queue_dir, id, true, &entry, reason, sizeof(reason));
        if (st != QUEUE_ENTRY_OK) {
            fprintf(stderr, "cannot load message %ld: %d %s\n", i, (int)st, reason);
            return 1;
        }
        queue_entry_free(&entry);
        spool_us[i] = t1 - t0;
        pickup_us[i] = now_us() - t2;
        spool_cpu_us += c1 - c0;
        pickup_cpu_us += cpu_us() - c2;
        if (change != INVALID_HANDLE_VALUE) {
            /* The journal's own notification, so the next wait sees only the next move. */
            WaitForSingleObject(change, 2000);
            FindNextChangeNotification(change);
            while (WaitForSingleObject(change, 0) == WAIT_OBJECT_0) {
                FindNextChangeNotification(change);
            }
        }
    }
    double rescan[RESCANS];
    size_t files = 0;
    for (int r = 0; r < RESCANS; r++) {
        double t0 = now_us();
        files = enumerate(queue_dir, hashed);
        rescan[r] = now_us() - t0;
    }
    printf("layout=%s files_after=%zu spool_us=%.0f pickup_us=%.0f spool_cpu_us=%.0f "
           "pickup_cpu_us=%.0f notice_us=%.0f "
           "notices=%zu/%ld rescan_ms=%.1f\n",
           hashed ? "hashed" : "flat", files, median(spool_us, (size_t)count),
           median(pickup_us, (size_t)count), spool_cpu_us / (double)count,
           pickup_cpu_us / (double)count, median(notice_us, notices), notices, count,
           median(rescan, RESCANS) / 1000.0);
    if (change != INVALID_HANDLE_VALUE) {
        FindCloseChangeNotification(change);
    }
    return 0;
}
