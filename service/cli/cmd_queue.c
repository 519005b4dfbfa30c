/* imsrelay.exe queue [show ID | retry ID|--all | delete ID]
 * The delivery queue (MailRoot\Queue) as the service sees it, also while it runs: the queue
 * files and their journals are read with sharing that lets the service go on, and the only
 * write besides deleting a message is a journal append (a retry-now record), the kind of
 * write the service itself makes. `retry` then sets the service's named event
 * Global\MSExchangeIMC.QueueRetry, on which the running service rereads the journals and
 * tries at once. Exit codes: 0 done, 1 no such message, 2 usage or an unreadable queue. */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_admin.h"
#include "cli/commands.h"
#include "common/win_text.h"
#include "delivery/queue_entry.h"
#include "delivery/queue_manager.h"
#include "store/queue_path.h"
#include "events/eventlog.h"

static int queue_usage(const char *problem)
{
    if (problem) {
        fprintf(stderr, "imsrelay: %s\n", problem);
    }
    fputs("usage: imsrelay.exe queue                 list the queued messages\n"
          "       imsrelay.exe queue show ID         one message, recipient by recipient\n"
          "       imsrelay.exe queue retry ID|--all  try again now, not at the next interval\n"
          "       imsrelay.exe queue delete ID       remove a message (an event names you)\n",
          stderr);
    return 2;
}

static void format_time(uint64_t t, char *out, size_t size)
{
    if (t == 0) {
        snprintf(out, size, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tmv;
    if (gmtime_s(&tmv, &tt) != 0) {
        snprintf(out, size, "%llu", (unsigned long long)t);
        return;
    }
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

static bool queue_folder(wchar_t *out, size_t chars)
{
    wchar_t root[MAX_PATH * 2];
    if (!cli_admin_mail_root(root, MAX_PATH * 2)) {
        return false;
    }
    int n = _snwprintf(out, chars, L"%ls\\Queue", root);
    return n > 0 && (size_t)n < chars;
}

/* Calls visit for every loadable message in the queue (Queue\<XX>\ and files directly in
 * Queue\); returns the count. */
typedef void (*queue_visit)(queue_entry *entry, void *ctx);

typedef struct walk_state {
    queue_visit visit;
    void *ctx;
    size_t count;
} walk_state;

static bool visit_file(const wchar_t *folder, const WIN32_FIND_DATAW *found, void *ctx)
{
    walk_state *w = ctx;
    size_t len = wcslen(found->cFileName);
    char id[QUEUE_ENTRY_ID_MAX + 8];
    if (len <= 4 || _wcsicmp(found->cFileName + len - 4, L".eml") ||
        !win_text_utf8_into(found->cFileName, id, sizeof(id))) {
        return true;
    }
    id[strlen(id) - 4] = '\0';
    queue_entry e;
    char reason[QUEUE_ENTRY_REASON_MAX];
    if (queue_entry_load_in(folder, id, false, &e, reason, sizeof(reason)) == QUEUE_ENTRY_OK) {
        w->visit(&e, w->ctx);
        queue_entry_free(&e);
        w->count++;
    }
    return true;
}

static size_t for_each(const wchar_t *dir, queue_visit visit, void *ctx)
{
    walk_state w = {.visit = visit, .ctx = ctx};
    queue_path_walk(dir, true, visit_file, &w);
    return w.count;
}

typedef struct summary {
    size_t pending;
    uint32_t attempts;
    uint64_t next;
    uint64_t last;
    const char *last_reply;
} summary;

static summary summarize(const queue_entry *e)
{
    summary s = {.last_reply = ""};
    for (size_t i = 0; i < e->state.recipient_count; i++) {
        const queue_state_recipient *r = &e->state.recipients[i];
        if (r->status == QUEUE_STATE_PENDING || r->status == QUEUE_STATE_DEFERRED) {
            s.pending++;
            uint64_t next = r->status == QUEUE_STATE_PENDING ? 1 : r->next_attempt;
            if (s.next == 0 || next < s.next) {
                s.next = next;
            }
        }
        if (r->attempts > s.attempts) {
            s.attempts = r->attempts;
        }
        if (r->last_attempt >= s.last && r->last_reply[0]) {
            s.last = r->last_attempt;
            s.last_reply = r->last_reply;
        }
    }
    return s;
}

static void print_line(queue_entry *e, void *ctx)
{
    (void)ctx;
    summary s = summarize(e);
    char arrival[32], next[32];
    format_time(e->arrival, arrival, sizeof(arrival));
    if (s.next == 1 || (s.next != 0 && e->state.retry_requested >= s.last)) {
        snprintf(next, sizeof(next), "now");
    } else {
        format_time(s.next, next, sizeof(next));
    }
    printf("%s  %s  <%s>  %llu bytes  %zu of %zu pending  %u attempts  next %s  last: %s\n", e->id,
           arrival, e->envelope.sender, (unsigned long long)e->size, s.pending,
           e->envelope.recipient_count, s.attempts, next, s.last_reply[0] ? s.last_reply : "-");
}

static int list(const wchar_t *dir)
{
    size_t n = for_each(dir, print_line, NULL);
    printf("%zu message%s queued\n", n, n == 1 ? "" : "s");
    return 0;
}

static int load_one(const wchar_t *dir, const wchar_t *arg, queue_entry *e)
{
    char id[QUEUE_ENTRY_ID_MAX];
    char reason[QUEUE_ENTRY_REASON_MAX];
    if (!win_text_utf8_into(arg, id, sizeof(id)) || !queue_entry_id_valid(id)) {
        fprintf(stderr, "imsrelay: no message %ls in the queue\n", arg);
        return 1;
    }
    queue_entry_status st = queue_entry_load(dir, id, false, e, reason, sizeof(reason));
    if (st == QUEUE_ENTRY_OK) {
        return 0;
    }
    if (st == QUEUE_ENTRY_GONE) {
        fprintf(stderr, "imsrelay: no message %s in the queue\n", id);
        return 1;
    }
    fprintf(stderr, "imsrelay: message %s cannot be read: %s\n", id, reason);
    return 2;
}

static int show(const wchar_t *dir, const wchar_t *arg)
{
    queue_entry e;
    int rc = load_one(dir, arg, &e);
    if (rc != 0) {
        return rc;
    }
    char t[32];
    printf("id: %s\n", e.id);
    format_time(e.arrival, t, sizeof(t));
    printf("arrival: %s\n", t);
    printf("sender: <%s>\n", e.envelope.sender);
    printf("size: %llu bytes\n", (unsigned long long)e.size);
    if (e.state.retry_requested) {
        format_time(e.state.retry_requested, t, sizeof(t));
        printf("retry requested: %s\n", t);
    }
    for (size_t i = 0; i < e.state.recipient_count; i++) {
        const queue_state_recipient *r = &e.state.recipients[i];
        char last[32], next[32];
        format_time(r->last_attempt, last, sizeof(last));
        format_time(r->next_attempt, next, sizeof(next));
        /* tls: the last attempt's ("none" in clear, "-" when no connection was made). */
        printf("recipient %zu: <%s> %s, %u attempts, last %s, next %s, host %s, tls %s, reply: "
               "%s\n",
               i + 1, e.envelope.recipients[i], queue_state_status_name(r->status), r->attempts,
               last, r->status == QUEUE_STATE_DEFERRED ? next : "-",
               r->remote_host[0] ? r->remote_host : "-", r->last_tls[0] ? r->last_tls : "-",
               r->last_reply[0] ? r->last_reply : "-");
    }
    queue_entry_free(&e);
    return 0;
}

/* Tells the running service to look again; false when it does not run. */
static bool signal_service(void)
{
    HANDLE h = OpenEventW(EVENT_MODIFY_STATE, FALSE, QUEUE_MANAGER_RETRY_EVENT);
    if (!h) {
        return false;
    }
    SetEvent(h);
    CloseHandle(h);
    return true;
}

static void request_retry(queue_entry *e, void *ctx)
{
    size_t *done = ctx;
    char record[128];
    size_t n = queue_state_encode_retry_now(record, sizeof(record), queue_entry_now());
    if (n > 0 && queue_entry_append(e, record, n)) {
        (*done)++;
    } else {
        fprintf(stderr, "imsrelay: the journal of %s cannot be written\n", e->id);
    }
}

static bool count_message(const wchar_t *folder, const WIN32_FIND_DATAW *found, void *ctx)
{
    (void)folder;
    size_t len = wcslen(found->cFileName);
    if (len > 4 && !_wcsicmp(found->cFileName + len - 4, L".eml")) {
        (*(size_t *)ctx)++;
    }
    return true;
}

/* retry --all while the service runs: one event, and the service makes every message due
 * in memory (a journal write per message took 9 s for 10,000 under Wine, before the first
 * one went). */
static bool retry_all_running(const wchar_t *dir, size_t *count)
{
    HANDLE h = OpenEventW(EVENT_MODIFY_STATE, FALSE, QUEUE_MANAGER_RETRY_ALL_EVENT);
    if (!h) {
        return false;
    }
    *count = 0;
    queue_path_walk(dir, true, count_message, count);
    SetEvent(h);
    CloseHandle(h);
    return true;
}

static int retry(const wchar_t *dir, const wchar_t *arg)
{
    size_t done = 0;
    if (!wcscmp(arg, L"--all")) {
        if (retry_all_running(dir, &done)) {
            printf("retry now requested for %zu message%s; the running service was told\n", done,
                   done == 1 ? "" : "s");
            return 0;
        }
        for_each(dir, request_retry, &done);
    } else {
        queue_entry e;
        int rc = load_one(dir, arg, &e);
        if (rc != 0) {
            return rc;
        }
        request_retry(&e, &done);
        queue_entry_free(&e);
        if (done == 0) {
            return 2;
        }
    }
    bool running = signal_service();
    printf("retry now requested for %zu message%s; %s\n", done, done == 1 ? "" : "s",
           running ? "the running service was told"
                   : "the service is not running: it tries them when it starts");
    return 0;
}

static void who_asked(char *out, size_t size)
{
    wchar_t user[256] = L"?", domain[256] = L"";
    DWORD n = 256;
    GetUserNameW(user, &n);
    n = 256;
    if (!GetEnvironmentVariableW(L"USERDOMAIN", domain, n)) {
        domain[0] = 0;
    }
    char u[512], d[512];
    if (!win_text_utf8_into(user, u, sizeof(u))) {
        snprintf(u, sizeof(u), "?");
    }
    if (!win_text_utf8_into(domain, d, sizeof(d))) {
        d[0] = 0;
    }
    snprintf(out, size, "%s%s%s", d, d[0] ? "\\" : "", u);
}

static int delete_message(const wchar_t *dir, const wchar_t *arg)
{
    queue_entry e;
    int rc = load_one(dir, arg, &e);
    if (rc != 0) {
        return rc;
    }
    summary s = summarize(&e);
    if (!queue_entry_remove(&e)) {
        DWORD error = GetLastError();
        queue_entry_free(&e);
        cli_admin_fail(L"cannot delete the message", error);
        return 2;
    }
    char who[600], pending[24];
    who_asked(who, sizeof(who));
    snprintf(pending, sizeof(pending), "%zu", s.pending);
    eventlog_write(MSG_QUEUE_DELETED, e.id, e.envelope.sender[0] ? e.envelope.sender : "<>",
                   pending, who, NULL);
    printf("deleted %s (%zu recipient%s not delivered)\n", e.id, s.pending,
           s.pending == 1 ? "" : "s");
    queue_entry_free(&e);
    signal_service();
    return 0;
}

int cmd_queue(int argc, wchar_t **argv)
{
    SetConsoleOutputCP(CP_UTF8);
    const wchar_t *action = argc >= 2 ? argv[1] : NULL;
    if (action && wcscmp(action, L"show") && wcscmp(action, L"retry") &&
        wcscmp(action, L"delete")) {
        return queue_usage("unknown queue command");
    }
    if ((!action && argc != 1) || (action && argc != 3)) {
        return queue_usage(action ? "give one message ID" : "too many arguments");
    }
    wchar_t dir[QUEUE_ENTRY_PATH_MAX];
    if (!queue_folder(dir, QUEUE_ENTRY_PATH_MAX)) {
        fputs("imsrelay: MailRoot cannot be read from the registry\n", stderr);
        return 2;
    }
    if (!action) {
        return list(dir);
    }
    if (!wcscmp(action, L"show")) {
        return show(dir, argv[2]);
    }
    if (!wcscmp(action, L"retry")) {
        return retry(dir, argv[2]);
    }
    return delete_message(dir, argv[2]);
}
