#include "net/transport.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "denial_limiter.h"
#include "events/eventlog.h"
#include "relay_addr.h"
#include "store/protocol_log.h"
#include "relay_policy.h"
#include "smtp_session.h"
#include "store/spool.h"
#include "store/user_store.h"

/* A session has at most one I/O in flight, so exactly one worker touches it at a time and
 * its state needs no lock of its own; the server lock guards only the session list and the
 * fields the reaper and the drain read (op, last_activity, flags). */
#define RECV_BUFFER_SIZE  16384
#define REAPER_PERIOD_MS  1000
#define SWEEP_PERIOD_MS   60000
#define WORKERS_PER_CPU   2
#define WORKERS_MIN       4
#define WORKERS_MAX       64
#define WAKE_KEY_SHUTDOWN ((ULONG_PTR)1)

typedef enum session_op {
    OP_NONE = 0, /* a worker is running the session */
    OP_RECV,
    OP_SEND,
    OP_WAKE, /* a start or the end of an AUTH delay, posted to the port */
} session_op;

typedef struct session {
    OVERLAPPED overlapped; /* first: a completion's OVERLAPPED* is the session */
    struct transport *server;
    struct session *prev, *next; /* the server's list */
    uint64_t id;
    SOCKET socket;
    smtp_session *engine;
    runtime_snapshot *snapshot; /* limits and LocalDomains for the session's life */

    relay_addr client, local;
    char client_text[RELAY_ADDR_TEXT_MAX];
    char local_text[RELAY_ADDR_TEXT_MAX];

    uint8_t received[RECV_BUFFER_SIZE];
    size_t received_len, received_used;
    bool delay_done;    /* the AUTH delay of the pending output has been waited */
    HANDLE delay_timer; /* timer-queue timer of that delay */
    spool_message *message;
    bool protocol_log;

    /* Guarded by the server lock. */
    session_op op;
    ULONGLONG last_activity;
    bool timed_out; /* the reaper cancelled the receive: idle too long */
    bool stopping;  /* the drain cancelled the receive: service stopping */
    bool cut;       /* the drain gave up on the session: close without a word */
} session;

struct transport {
    runtime *rt;
    HANDLE port;
    HANDLE workers[WORKERS_MAX];
    size_t worker_count;
    HANDLE reaper;
    HANDLE reaper_stop;
    HANDLE timer_queue;
    listener_handler handler;

    spool *spool;
    protocol_log *protocol_log;
    bool windows_accounts; /* AuthWindowsAccounts and not under Wine */

    SRWLOCK lock;
    session *sessions;
    size_t session_count;
    uint64_t next_id;
    bool draining;
    HANDLE all_closed; /* manual-reset, set while session_count == 0 */

    CRITICAL_SECTION limiter_lock;
    denial_limiter *limiter;
    volatile LONG pending_events; /* denial events being looked up and written */
};

static void pump(session *s);

/* ---- Addresses ---------------------------------------------------------------------- */

static relay_addr addr_from_sockaddr(const struct sockaddr_storage *ss)
{
    relay_addr a;
    memset(&a, 0, sizeof(a));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        a = relay_addr_from_v4_uint(ntohl(in->sin_addr.s_addr));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        a.family = RELAY_AF_INET6;
        memcpy(a.bytes, &in6->sin6_addr, 16);
        a = relay_addr_normalized(&a);
    }
    return a;
}

/* ---- Relay decisions and denial events ---------------------------------------------- */

typedef struct denial_event {
    transport *server;
    struct sockaddr_storage peer;
    char strings[7][512]; /* the insertion strings of MSG_RELAY_DENIED */
} denial_event;

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src && *src ? src : "-");
}

/* Looks up the client's host name (which can take seconds) on a pool thread, then writes
 * the event: the session that was denied never waits for DNS. */
static DWORD WINAPI write_denial_event(void *param)
{
    denial_event *e = param;
    char host[NI_MAXHOST];
    int len = e->peer.ss_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6)
                                            : (int)sizeof(struct sockaddr_in);
    if (getnameinfo((const struct sockaddr *)&e->peer, len, host, sizeof(host), NULL, 0,
                    NI_NAMEREQD) == 0) {
        copy_text(e->strings[1], sizeof(e->strings[1]), host);
    }
    const char *strings[7];
    for (int i = 0; i < 7; i++) {
        strings[i] = e->strings[i];
    }
    eventlog_report(MSG_RELAY_DENIED, 7, strings);
    InterlockedDecrement(&e->server->pending_events);
    free(e);
    return 0;
}

static void report_suppressed(void *ctx, const denial_summary *summary)
{
    transport *server = ctx;
    char count[24], seconds[16], limit[16];
    snprintf(count, sizeof(count), "%llu", (unsigned long long)summary->suppressed);
    snprintf(seconds, sizeof(seconds), "%u", summary->seconds);
    runtime_snapshot *snap = runtime_acquire(server->rt);
    snprintf(limit, sizeof(limit), "%u", runtime_snapshot_config(snap)->denial_events_per_minute.value);
    runtime_snapshot_release(snap);
    eventlog_write(MSG_DENIALS_SUPPRESSED, count, summary->client, seconds, limit, NULL);
}

/* config: the configuration that made the decision, so the rate limit in force is the one
 * of the rules that denied (a reload applies to the limit as to the rules). */
static void on_denial(session *s, const regio_config *config, const smtp_relay_query *query,
                      const relay_verdict *verdict)
{
    transport *server = s->server;
    denial_summary summary;
    bool has_summary = false;
    EnterCriticalSection(&server->limiter_lock);
    denial_limiter_set_rate(server->limiter, config->denial_events_per_minute.value);
    bool log = denial_limiter_on_denial(server->limiter, s->client_text, GetTickCount64(), &summary,
                                        &has_summary);
    LeaveCriticalSection(&server->limiter_lock);
    if (has_summary) {
        report_suppressed(server, &summary);
    }
    if (!log) {
        return;
    }
    denial_event *e = calloc(1, sizeof(*e));
    if (!e) {
        return;
    }
    e->server = server;
    int len = (int)sizeof(e->peer);
    if (getpeername(s->socket, (struct sockaddr *)&e->peer, &len) != 0) {
        e->peer.ss_family = AF_UNSPEC;
    }
    copy_text(e->strings[0], sizeof(e->strings[0]), s->client_text);
    copy_text(e->strings[1], sizeof(e->strings[1]), NULL);
    copy_text(e->strings[2], sizeof(e->strings[2]), query->helo_name);
    copy_text(e->strings[3], sizeof(e->strings[3]), query->auth_account);
    copy_text(e->strings[4], sizeof(e->strings[4]), query->recipient);
    copy_text(e->strings[5], sizeof(e->strings[5]), s->local_text);
    relay_verdict_describe(verdict, e->strings[6], sizeof(e->strings[6]));
    InterlockedIncrement(&server->pending_events);
    if (!QueueUserWorkItem(write_denial_event, e, WT_EXECUTEDEFAULT)) {
        /* No pool thread: write it here, without the host name, rather than lose it. */
        e->peer.ss_family = AF_UNSPEC;
        write_denial_event(e);
    }
}

static smtp_relay_verdict relay_check(void *ctx, const smtp_relay_query *query)
{
    session *s = ctx;
    /* The rules in force now, not when the session began: a reload applies at once. */
    runtime_snapshot *snap = runtime_acquire(s->server->rt);
    relay_verdict verdict;
    relay_decide(runtime_snapshot_policy(snap), &s->client, &s->local, query->auth_account != NULL,
                 &verdict);
    if (!verdict.allowed) {
        on_denial(s, runtime_snapshot_config(snap), query, &verdict);
    }
    runtime_snapshot_release(snap);
    return verdict.allowed ? SMTP_RELAY_ALLOW : SMTP_RELAY_DENY;
}

/* ---- AUTH ----------------------------------------------------------------------------- */

/* LogonUserW under Wine accepts any password: Windows accounts must never be trusted
 * there. */
static bool running_under_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

static bool windows_logon(const char *user, const char *password)
{
    wchar_t wuser[256], wpassword[256], *domain = NULL;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, user, -1, wuser, 256) <= 0 ||
        MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, password, -1, wpassword, 256) <= 0) {
        return false;
    }
    wchar_t *name = wuser;
    wchar_t *backslash = wcschr(wuser, L'\\');
    if (backslash) { /* DOMAIN\user */
        *backslash = 0;
        domain = wuser;
        name = backslash + 1;
    }
    HANDLE token = NULL;
    bool ok = LogonUserW(name, domain, wpassword, LOGON32_LOGON_NETWORK, LOGON32_PROVIDER_DEFAULT,
                         &token) != 0;
    if (ok) {
        CloseHandle(token);
    }
    SecureZeroMemory(wpassword, sizeof(wpassword));
    return ok;
}

static smtp_auth_verdict auth_check(void *ctx, const char *user, const char *password)
{
    session *s = ctx;
    if (user_store_verify(USER_STORE_KEY, user, password)) {
        return SMTP_AUTH_OK;
    }
    if (s->server->windows_accounts &&
        runtime_snapshot_config(s->snapshot)->auth_windows_accounts.value == 1 &&
        windows_logon(user, password)) {
        return SMTP_AUTH_OK;
    }
    return SMTP_AUTH_FAIL;
}

/* ---- The spool ------------------------------------------------------------------------ */

static bool data_begin(void *ctx, const smtp_envelope *env)
{
    session *s = ctx;
    spool_recipient *recipients = calloc(env->recipient_count, sizeof(*recipients));
    if (!recipients) {
        return false;
    }
    for (size_t i = 0; i < env->recipient_count; i++) {
        recipients[i].address = env->recipients[i].mailbox;
        recipients[i].local = env->recipients[i].local;
    }
    spool_envelope se = {
            .server_host = runtime_snapshot_config(s->snapshot)->host_name,
            .helo = env->helo_name,
            .client_ip = s->client_text,
            .client_host = NULL,
            .auth_account = env->auth_account,
            .esmtp = env->esmtp,
            .mail_from = env->mail_from,
            .recipients = recipients,
            .recipient_count = env->recipient_count,
    };
    unsigned long error = 0;
    s->message = spool_begin(s->server->spool, &se, &error);
    free(recipients);
    return s->message != NULL;
}

static bool data_write(void *ctx, const uint8_t *bytes, size_t len)
{
    session *s = ctx;
    return s->message && spool_write(s->message, bytes, len);
}

static bool data_end(void *ctx, smtp_data_outcome outcome)
{
    session *s = ctx;
    spool_message *m = s->message;
    s->message = NULL;
    if (!m) {
        return false;
    }
    if (outcome != SMTP_DATA_COMMIT) {
        spool_abort(m);
        return false;
    }
    unsigned long error = 0;
    return spool_commit(m, &error);
}

static void log_protocol(void *ctx, smtp_log_direction direction, const char *line, size_t len)
{
    session *s = ctx;
    if (s->protocol_log) {
        protocol_log_line(s->server->protocol_log, s->id, s->client_text,
                          direction == SMTP_LOG_RECEIVED ? '<' : '>', line, len);
    }
}

static void log_event(session *s, const char *what)
{
    if (s->protocol_log) {
        protocol_log_line(s->server->protocol_log, s->id, s->client_text, '*', what, strlen(what));
    }
}

/* ---- Session life --------------------------------------------------------------------- */

static void session_close(session *s)
{
    transport *server = s->server;
    log_event(s, "closed");
    if (s->delay_timer) {
        DeleteTimerQueueTimer(server->timer_queue, s->delay_timer, INVALID_HANDLE_VALUE);
    }
    if (s->engine) {
        smtp_session_destroy(s->engine); /* calls data_end(ABORT) for a message in progress */
    }
    if (s->message) {
        spool_abort(s->message);
    }
    closesocket(s->socket);
    runtime_snapshot_release(s->snapshot);

    AcquireSRWLockExclusive(&server->lock);
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        server->sessions = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    if (--server->session_count == 0) {
        SetEvent(server->all_closed);
    }
    ReleaseSRWLockExclusive(&server->lock);
    free(s);
}

static void set_op(session *s, session_op op)
{
    AcquireSRWLockExclusive(&s->server->lock);
    s->op = op;
    s->last_activity = GetTickCount64();
    ReleaseSRWLockExclusive(&s->server->lock);
}

static void CALLBACK delay_over(void *param, BOOLEAN fired)
{
    (void)fired;
    session *s = param;
    PostQueuedCompletionStatus(s->server->port, 0, 0, &s->overlapped);
}

static bool post_send(session *s, const uint8_t *bytes, size_t length)
{
    WSABUF buf = {(ULONG)(length > 0x7fffffff ? 0x7fffffff : length), (char *)bytes};
    memset(&s->overlapped, 0, sizeof(s->overlapped));
    set_op(s, OP_SEND);
    /* No byte count pointer with an OVERLAPPED (as MSDN asks): Wine's WSASend reads the
     * count from the OVERLAPPED after a send that completed at once, when another worker may
     * already have taken the completion and freed the session (a crash under load). */
    if (WSASend(s->socket, &buf, 1, NULL, 0, &s->overlapped, NULL) == SOCKET_ERROR &&
        WSAGetLastError() != WSA_IO_PENDING) {
        set_op(s, OP_NONE);
        return false;
    }
    return true;
}

static bool post_recv(session *s)
{
    WSABUF buf = {RECV_BUFFER_SIZE, (char *)s->received};
    DWORD flags = 0;
    memset(&s->overlapped, 0, sizeof(s->overlapped));
    set_op(s, OP_RECV);
    if (WSARecv(s->socket, &buf, 1, NULL, &flags, &s->overlapped, NULL) == SOCKET_ERROR &&
        WSAGetLastError() != WSA_IO_PENDING) {
        set_op(s, OP_NONE);
        return false;
    }
    return true;
}

/* Runs the session until it must wait for the network or a timer. */
static void pump(session *s)
{
    for (;;) {
        smtp_output out = smtp_session_output(s->engine);
        if (out.length > 0) {
            if (out.delay_ms > 0 && !s->delay_done) {
                s->delay_done = true;
                set_op(s, OP_WAKE);
                if (s->delay_timer) {
                    DeleteTimerQueueTimer(s->server->timer_queue, s->delay_timer,
                                          INVALID_HANDLE_VALUE);
                    s->delay_timer = NULL;
                }
                if (CreateTimerQueueTimer(&s->delay_timer, s->server->timer_queue, delay_over, s,
                                          out.delay_ms, 0, WT_EXECUTEONLYONCE)) {
                    return;
                }
                set_op(s, OP_NONE); /* no timer: answer without the delay */
            }
            if (!post_send(s, out.bytes, out.length)) {
                session_close(s);
            }
            return;
        }
        if (out.close || smtp_session_closed(s->engine)) {
            session_close(s);
            return;
        }
        if (s->received_used < s->received_len) {
            size_t used = smtp_session_feed(s->engine, s->received + s->received_used,
                                            s->received_len - s->received_used);
            s->received_used += used;
            if (used == 0 && smtp_session_output(s->engine).length == 0) {
                session_close(s); /* cannot happen by the engine's contract; never spin */
                return;
            }
            continue;
        }
        AcquireSRWLockShared(&s->server->lock);
        bool draining = s->server->draining;
        ReleaseSRWLockShared(&s->server->lock);
        if (draining && !smtp_session_in_data(s->engine)) {
            smtp_session_shutdown(s->engine);
            continue;
        }
        if (!post_recv(s)) {
            session_close(s);
        }
        return;
    }
}

/* One completion for session s: `bytes` transferred, `error` the Windows error of a failed
 * operation (0 when it succeeded). */
static void complete(session *s, DWORD bytes, DWORD error)
{
    AcquireSRWLockExclusive(&s->server->lock);
    session_op op = s->op;
    bool timed_out = s->timed_out, stopping = s->stopping, cut = s->cut;
    s->op = OP_NONE;
    s->timed_out = s->stopping = false;
    ReleaseSRWLockExclusive(&s->server->lock);

    if (cut) {
        session_close(s);
        return;
    }
    switch (op) {
    case OP_WAKE:
        break;
    case OP_SEND:
        if (error) {
            char why[64];
            snprintf(why, sizeof(why), "send failed: Windows error %lu", (unsigned long)error);
            log_event(s, why);
            session_close(s);
            return;
        }
        smtp_session_output_sent(s->engine, bytes);
        s->delay_done = false;
        break;
    case OP_RECV:
        if (!error && bytes > 0) {
            s->received_len = bytes;
            s->received_used = 0;
        } else if (timed_out) {
            log_event(s, "idle timeout");
            smtp_session_timeout(s->engine);
        } else if (stopping) {
            smtp_session_shutdown(s->engine);
        } else {
            /* The client went away; the protocol log says how, for whoever wonders why a
             * session ended without QUIT. */
            char why[64];
            if (error) {
                snprintf(why, sizeof(why), "receive failed: Windows error %lu",
                         (unsigned long)error);
            }
            log_event(s, error ? why : "closed by the client");
            session_close(s);
            return;
        }
        break;
    case OP_NONE:
        session_close(s);
        return;
    }
    pump(s);
}

static DWORD WINAPI worker_main(void *param)
{
    transport *server = param;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        BOOL ok = GetQueuedCompletionStatus(server->port, &bytes, &key, &overlapped, INFINITE);
        if (!overlapped) {
            if (key == WAKE_KEY_SHUTDOWN || !ok) {
                return 0;
            }
            continue;
        }
        complete((session *)overlapped, bytes, ok ? 0 : GetLastError());
    }
}

/* ---- Accepting ------------------------------------------------------------------------ */

static void refuse(SOCKET sock, const char *reply)
{
    send(sock, reply, (int)strlen(reply), 0);
    shutdown(sock, SD_SEND);
    closesocket(sock);
}

static void on_accept(void *ctx, SOCKET sock, const struct sockaddr_storage *peer,
                      const struct sockaddr_storage *local)
{
    transport *server = ctx;
    relay_addr client = addr_from_sockaddr(peer);
    runtime_snapshot *snap = runtime_acquire(server->rt);
    const regio_config *config = runtime_snapshot_config(snap);

    /* Connection limits: in total, and per client address (a scan: the list is bounded by
     * MaxConnections and an accept costs far more than walking it). */
    AcquireSRWLockShared(&server->lock);
    bool draining = server->draining;
    size_t total = server->session_count, same_client = 0;
    for (session *o = server->sessions; o; o = o->next) {
        same_client += relay_addr_equal(&o->client, &client);
    }
    ReleaseSRWLockShared(&server->lock);
    if (draining) {
        runtime_snapshot_release(snap);
        refuse(sock, "421 4.3.2 Service shutting down, closing transmission channel\r\n");
        return;
    }
    if (total >= config->max_connections.value ||
        same_client >= config->max_connections_per_client.value) {
        runtime_snapshot_release(snap);
        refuse(sock, "421 4.7.0 Too many connections, try again later\r\n");
        return;
    }

    session *s = calloc(1, sizeof(*s));
    if (!s) {
        runtime_snapshot_release(snap);
        refuse(sock, "421 4.3.2 Out of resources, try again later\r\n");
        return;
    }
    s->server = server;
    s->socket = sock;
    s->snapshot = snap;
    s->client = client;
    s->local = addr_from_sockaddr(local);
    relay_addr_format(&s->client, s->client_text, sizeof(s->client_text));
    relay_addr_format(&s->local, s->local_text, sizeof(s->local_text));
    s->protocol_log = config->protocol_log.value != 0 && server->protocol_log;

    smtp_host host = {
            .ctx = s,
            .host_name = config->host_name,
            .client_address = s->client_text,
            .local_domains = config->local_domains.lines,
            .local_domain_count = config->local_domains.count,
            .auth_available = true,
            .limits =
                    {
                            .max_message_bytes = config->max_message_bytes.value,
                            .max_recipients = config->max_recipients.value,
                            .max_line_length = config->max_line_length.value,
                    },
            .relay_check = relay_check,
            .auth_check = auth_check,
            .data_begin = data_begin,
            .data_write = data_write,
            .data_end = data_end,
            .protocol_log = log_protocol,
    };

    AcquireSRWLockExclusive(&server->lock);
    s->id = ++server->next_id;
    s->next = server->sessions;
    if (s->next) {
        s->next->prev = s;
    }
    server->sessions = s;
    server->session_count++;
    ResetEvent(server->all_closed);
    s->op = OP_WAKE;
    s->last_activity = GetTickCount64();
    ReleaseSRWLockExclusive(&server->lock);

    char connected[128];
    snprintf(connected, sizeof(connected), "connected to %s", s->local_text);
    log_event(s, connected);

    s->engine = smtp_session_create(&host); /* the greeting is queued */
    if (!s->engine || !CreateIoCompletionPort((HANDLE)sock, server->port, 0, 0)) {
        send(sock, "421 4.3.2 Out of resources\r\n", 28, 0);
        AcquireSRWLockExclusive(&server->lock);
        s->op = OP_NONE;
        ReleaseSRWLockExclusive(&server->lock);
        session_close(s);
        return;
    }
    /* The greeting is sent by a worker, like every other reply. */
    PostQueuedCompletionStatus(server->port, 0, 0, &s->overlapped);
}

/* ---- Timeouts, summaries, drain ------------------------------------------------------- */

/* Cancels the receive of every session that matches; called with the lock held. */
static void cancel_receives(transport *server, bool idle_only, ULONGLONG now)
{
    for (session *s = server->sessions; s; s = s->next) {
        if (idle_only) {
            DWORD idle_ms = runtime_snapshot_config(s->snapshot)->idle_timeout_seconds.value * 1000u;
            if (now - s->last_activity < idle_ms || s->timed_out) {
                continue;
            }
            if (s->op == OP_RECV) {
                s->timed_out = true;
                CancelIoEx((HANDLE)s->socket, &s->overlapped);
            } else if (s->op == OP_SEND) {
                /* A client that stopped reading our replies. */
                s->cut = true;
                CancelIoEx((HANDLE)s->socket, &s->overlapped);
            }
        } else if (s->op == OP_RECV && !s->stopping && !smtp_session_in_data(s->engine)) {
            s->stopping = true;
            CancelIoEx((HANDLE)s->socket, &s->overlapped);
        }
    }
}

static DWORD WINAPI reaper_main(void *param)
{
    transport *server = param;
    ULONGLONG last_sweep = GetTickCount64();
    while (WaitForSingleObject(server->reaper_stop, REAPER_PERIOD_MS) == WAIT_TIMEOUT) {
        ULONGLONG now = GetTickCount64();
        AcquireSRWLockExclusive(&server->lock);
        cancel_receives(server, true, now);
        if (server->draining) {
            cancel_receives(server, false, now);
        }
        ReleaseSRWLockExclusive(&server->lock);
        if (now - last_sweep >= SWEEP_PERIOD_MS) {
            last_sweep = now;
            EnterCriticalSection(&server->limiter_lock);
            denial_limiter_sweep(server->limiter, now, false, report_suppressed, server);
            LeaveCriticalSection(&server->limiter_lock);
        }
    }
    return 0;
}

static void drain_handler(void *ctx, DWORD timeout_ms)
{
    transport_drain(ctx, timeout_ms);
}

void transport_drain(transport *server, DWORD timeout_ms)
{
    AcquireSRWLockExclusive(&server->lock);
    server->draining = true;
    cancel_receives(server, false, GetTickCount64());
    ReleaseSRWLockExclusive(&server->lock);

    /* Sessions in the middle of a message finish it (the reaper tells each one 421 as soon
     * as it is between transactions); after the timeout the rest are cut. */
    if (WaitForSingleObject(server->all_closed, timeout_ms) == WAIT_TIMEOUT) {
        AcquireSRWLockExclusive(&server->lock);
        for (session *s = server->sessions; s; s = s->next) {
            s->cut = true;
            if (s->op == OP_RECV || s->op == OP_SEND) {
                CancelIoEx((HANDLE)s->socket, &s->overlapped);
            }
        }
        ReleaseSRWLockExclusive(&server->lock);
        WaitForSingleObject(server->all_closed, 2000);
    }

    EnterCriticalSection(&server->limiter_lock);
    denial_limiter_sweep(server->limiter, GetTickCount64(), true, report_suppressed, server);
    LeaveCriticalSection(&server->limiter_lock);
    for (int i = 0; i < 50 && server->pending_events > 0; i++) {
        Sleep(100); /* denial events still looking up a host name */
    }
}

/* ---- Creation ------------------------------------------------------------------------- */

transport *transport_create(runtime *rt, enum svc_exit *exit)
{
    *exit = SVC_EXIT_SYSTEM;
    transport *server = calloc(1, sizeof(*server));
    if (!server) {
        *exit = SVC_EXIT_OUT_OF_MEMORY;
        return NULL;
    }
    server->rt = rt;
    InitializeSRWLock(&server->lock);
    InitializeCriticalSection(&server->limiter_lock);

    runtime_snapshot *snap = runtime_acquire(rt);
    const regio_config *config = runtime_snapshot_config(snap);
    unsigned long error = 0;
    server->spool = spool_open(config->mail_root, &error);
    if (!server->spool) {
        char reason[160];
        snprintf(reason, sizeof(reason),
                 "the mail folders under MailRoot cannot be made (Windows error %lu)", error);
        *exit = SVC_EXIT_MAIL_ROOT;
        eventlog_write(MSG_SERVICE_FAILED, reason, "5", NULL);
        runtime_snapshot_release(snap);
        DeleteCriticalSection(&server->limiter_lock);
        free(server);
        return NULL;
    }
    /* The protocol log is opened even when switched off, so switching it on takes a
     * reload, not a restart. Without it the server still serves. */
    server->protocol_log = protocol_log_open(config->mail_root);
    server->limiter = denial_limiter_create(config->denial_events_per_minute.value);
    server->windows_accounts = !running_under_wine();
    if (!server->windows_accounts && config->auth_windows_accounts.value == 1) {
        eventlog_write(MSG_CONFIG_WARNING, "AuthWindowsAccounts", "0", "1",
                       "Windows accounts are not used for SMTP AUTH under Wine, whose LogonUserW "
                       "accepts any password; only imsrelay's own accounts are",
                       NULL);
    }
    runtime_snapshot_release(snap);

    server->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    server->all_closed = CreateEventW(NULL, TRUE, TRUE, NULL);
    server->reaper_stop = CreateEventW(NULL, TRUE, FALSE, NULL);
    server->timer_queue = CreateTimerQueue();
    if (!server->limiter || !server->port || !server->all_closed || !server->reaper_stop ||
        !server->timer_queue) {
        transport_destroy(server);
        return NULL;
    }
    SYSTEM_INFO info;
    GetSystemInfo(&info);
    size_t workers = info.dwNumberOfProcessors * WORKERS_PER_CPU;
    workers = workers < WORKERS_MIN ? WORKERS_MIN : workers > WORKERS_MAX ? WORKERS_MAX : workers;
    for (size_t i = 0; i < workers; i++) {
        server->workers[i] = CreateThread(NULL, 0, worker_main, server, 0, NULL);
        if (!server->workers[i]) {
            transport_destroy(server);
            return NULL;
        }
        server->worker_count++;
    }
    server->reaper = CreateThread(NULL, 0, reaper_main, server, 0, NULL);
    if (!server->reaper) {
        transport_destroy(server);
        return NULL;
    }
    server->handler.accept = on_accept;
    server->handler.drain = drain_handler;
    server->handler.ctx = server;
    *exit = SVC_EXIT_OK;
    return server;
}

const listener_handler *transport_handler(transport *server)
{
    return &server->handler;
}

void transport_destroy(transport *server)
{
    if (!server) {
        return;
    }
    if (server->reaper) {
        SetEvent(server->reaper_stop);
        WaitForSingleObject(server->reaper, INFINITE);
        CloseHandle(server->reaper);
    }
    for (size_t i = 0; i < server->worker_count; i++) {
        PostQueuedCompletionStatus(server->port, 0, WAKE_KEY_SHUTDOWN, NULL);
    }
    for (size_t i = 0; i < server->worker_count; i++) {
        WaitForSingleObject(server->workers[i], INFINITE);
        CloseHandle(server->workers[i]);
    }
    if (server->timer_queue) {
        DeleteTimerQueueEx(server->timer_queue, INVALID_HANDLE_VALUE);
    }
    if (server->port) {
        CloseHandle(server->port);
    }
    if (server->all_closed) {
        CloseHandle(server->all_closed);
    }
    if (server->reaper_stop) {
        CloseHandle(server->reaper_stop);
    }
    denial_limiter_destroy(server->limiter);
    protocol_log_close(server->protocol_log);
    spool_close(server->spool);
    DeleteCriticalSection(&server->limiter_lock);
    free(server);
}
