#include "net/transport.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/denial_events.h"
#include "events/eventlog.h"
#include "net/session_host.h"
#include "smtp_session.h"
#include "store/windows_accounts.h"

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
    SOCKET socket;
    smtp_session *engine;
    session_host host; /* the engine's callbacks: relay, AUTH, spool, protocol log */

    uint8_t received[RECV_BUFFER_SIZE];
    size_t received_len, received_used;
    bool delay_done;    /* the AUTH delay of the pending output has been waited */
    HANDLE delay_timer; /* timer-queue timer of that delay */

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

    session_services services;

    SRWLOCK lock;
    session *sessions;
    size_t session_count;
    uint64_t next_id;
    bool draining;
    HANDLE all_closed; /* manual-reset, set while session_count == 0 */
};

static void pump(session *s);

static void log_event(session *s, const char *what)
{
    session_host_log_event(&s->host, what);
}

/* ---- Session life --------------------------------------------------------------------- */

static void session_close(session *s)
{
    transport *server = s->server;
    /* Off the list before the teardown: the reaper and the drain walk the list under the
     * lock and read each session's snapshot and socket, which the teardown releases. It
     * still counts (connection limits, all_closed) until the teardown is done. */
    AcquireSRWLockExclusive(&server->lock);
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        server->sessions = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    ReleaseSRWLockExclusive(&server->lock);

    log_event(s, "closed");
    if (s->delay_timer) {
        DeleteTimerQueueTimer(server->timer_queue, s->delay_timer, INVALID_HANDLE_VALUE);
    }
    if (s->engine) {
        smtp_session_destroy(s->engine); /* calls data_end(ABORT) for a message in progress */
    }
    session_host_finish(&s->host);
    closesocket(s->socket);

    AcquireSRWLockExclusive(&server->lock);
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
    relay_addr client = session_host_addr(peer);
    runtime_snapshot *snap = runtime_acquire(server->rt);
    const regio_config *config = runtime_snapshot_config(snap);

    /* Connection limits: in total, and per client address (a scan: the list is bounded by
     * MaxConnections and an accept costs far more than walking it). */
    AcquireSRWLockShared(&server->lock);
    bool draining = server->draining;
    size_t total = server->session_count, same_client = 0;
    for (session *o = server->sessions; o; o = o->next) {
        same_client += relay_addr_equal(&o->host.client, &client);
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
    AcquireSRWLockExclusive(&server->lock);
    session_host_init(&s->host, &server->services, ++server->next_id, peer, local, snap);
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
    snprintf(connected, sizeof(connected), "connected to %s", s->host.local_text);
    log_event(s, connected);

    smtp_host host = session_host_smtp(&s->host);
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
            DWORD idle_ms =
                    runtime_snapshot_config(s->host.snapshot)->idle_timeout_seconds.value * 1000u;
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
            denial_events_sweep(server->services.denials);
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

    denial_events_flush(server->services.denials);
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

    runtime_snapshot *snap = runtime_acquire(rt);
    const regio_config *config = runtime_snapshot_config(snap);
    unsigned long error = 0;
    server->services.rt = rt;
    server->services.spool = spool_open(config->mail_root, &error);
    if (!server->services.spool) {
        char reason[160];
        snprintf(reason, sizeof(reason),
                 "the mail folders under MailRoot cannot be made (Windows error %lu)", error);
        *exit = SVC_EXIT_MAIL_ROOT;
        eventlog_write(MSG_SERVICE_FAILED, reason, "5", NULL);
        runtime_snapshot_release(snap);
        free(server);
        return NULL;
    }
    /* The protocol log is opened even when switched off, so switching it on takes a
     * reload, not a restart. Without it the server still serves. */
    server->services.protocol_log = protocol_log_open(config->mail_root);
    server->services.denials = denial_events_create(config->denial_events_per_minute.value);
    server->services.windows_accounts = windows_accounts_usable();
    if (!server->services.windows_accounts && config->auth_windows_accounts.value == 1) {
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
    if (!server->services.denials || !server->port || !server->all_closed || !server->reaper_stop ||
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
    denial_events_destroy(server->services.denials);
    protocol_log_close(server->services.protocol_log);
    spool_close(server->services.spool);
    free(server);
}
