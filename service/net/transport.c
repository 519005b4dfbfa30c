#include "net/transport.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <bcrypt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_counts.h"
#include "events/connection_events.h"
#include "events/denial_events.h"
#include "events/eventlog.h"
#include "net/session_host.h"
#include "smtp_session.h"
#include "store/windows_accounts.h"
#include "tls/tls_session.h"

/* A session has at most one I/O in flight, so exactly one worker touches it at a time and
 * its state needs no lock of its own; the server lock guards only the session list and the
 * fields the reaper and the drain read (op, last_activity, flags). */
/* The receive buffer starts at a size that takes a command burst or a small message in one
 * receive (an idle session holds little) and doubles each time a receive fills it, up to
 * RECV_BUFFER_MAX (a message body arrives in large pieces). */
#define RECV_BUFFER_INITIAL 4096
#define RECV_BUFFER_MAX     16384
#define REAPER_PERIOD_MS    1000
#define SWEEP_PERIOD_MS     60000
#define WORKERS_PER_CPU     2
#define WORKERS_MIN         4
#define WORKERS_MAX         64
#define WAKE_KEY_SHUTDOWN   ((ULONG_PTR)1)
/* A receive or send that completes at once is completed by the worker that started it (no
 * trip through the port); after this many in a row the next one goes through the port
 * after all, so that a client that keeps the socket full cannot keep a worker to itself. */
#define INLINE_COMPLETIONS_MAX 16
/* Plaintext decrypted and not yet fed to the engine: one command burst. */
#define TLS_PLAIN_BYTES 4096

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
    bool skip_on_success; /* its socket queues no completion for an immediate success */
    smtp_session *engine;
    session_host host; /* the engine's callbacks: relay, AUTH, spool, protocol log */

    uint8_t *received; /* received_capacity bytes */
    size_t received_capacity;
    size_t received_len, received_used;
    bool delay_done;    /* the AUTH delay of the pending output has been waited */
    HANDLE delay_timer; /* timer-queue timer of that delay */

    /* After STARTTLS (allocated then, so an idle session in clear holds none of it): what is
     * received is ciphertext for tls, what the engine says is encrypted by it, and every send
     * is tls's ciphertext. */
    struct tls_session *tls;
    uint8_t *plain; /* TLS_PLAIN_BYTES decrypted, plain_used of plain_len fed */
    size_t plain_len, plain_used;
    bool tls_failed;  /* send the alert that may be pending, then close */
    bool tls_closing; /* close_notify queued after the last reply */

    /* Guarded by the server lock. */
    session_op op;
    ULONGLONG last_activity;
    bool timed_out; /* the reaper cancelled the receive: idle too long */
    bool stopping;  /* the drain cancelled the receive: service stopping */
    bool cut;       /* the drain gave up on the session: close without a word */
    bool counted;   /* still counts against MaxConnections and MaxConnectionsPerClient */
    session_deadline_state deadline; /* for the reaper: phase, bytes, times */
    const char *timeout_reason;      /* why timed_out was set, for the protocol log */
    const char *timeout_reply;       /* and for the client's 421 4.4.2 */
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
    size_t session_count; /* sessions whose memory is still held (for the drain) */
    /* The sessions that have not ended yet, in all and per client address: what the
     * connection limits count. A session ends when its last reply is queued or its client
     * is gone, before its final send completes and its memory is reclaimed. */
    size_t counted_count;
    client_counts *per_client;
    connection_events *refusals;
    uint64_t next_id;
    bool draining;
    /* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS may be set on accepted sockets: not when a layered
     * provider that is not IFS sits on TCP (libuv's rule: such a provider's handles may
     * queue a completion all the same, which would complete an operation twice). */
    bool skip_allowed;
    /* The deadlines the reaper last applied (stress included), under lock: what message data
     * earns as it arrives is capped with them (core/limiter/session_deadline). */
    session_deadline_limits deadline_limits;
    HANDLE all_closed; /* manual-reset, set while session_count == 0 */
};

static bool pump(session *s);

/* How a receive or a send started. */
typedef enum io_start {
    IO_PENDING, /* its completion comes through the port */
    IO_DONE,    /* it completed at once and no completion is queued: the caller completes it */
    IO_FAILED,  /* it failed at once: no completion either */
} io_start;

static void log_event(session *s, const char *what)
{
    session_host_log_event(&s->host, what);
}

/* ---- Session life --------------------------------------------------------------------- */

/* The session has ended: it no longer counts against the connection limits, although its
 * last reply may still be on its way. */
static void uncount(session *s)
{
    if (!s->counted) {
        return;
    }
    AcquireSRWLockExclusive(&s->server->lock);
    s->counted = false;
    s->server->counted_count--;
    client_counts_remove(s->server->per_client, &s->host.client);
    ReleaseSRWLockExclusive(&s->server->lock);
}

static void session_close(session *s)
{
    transport *server = s->server;
    uncount(s);
    /* Out of the list first: the reaper and the drain read every listed session's engine
     * and snapshot, which are released below. */
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
    tls_session_free(s->tls);
    free(s->plain);
    free(s->received);
    free(s);

    /* Last: the drain waits for this before the spool and the log are closed. */
    AcquireSRWLockExclusive(&server->lock);
    if (--server->session_count == 0) {
        SetEvent(server->all_closed);
    }
    ReleaseSRWLockExclusive(&server->lock);
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

/* What WSASend or WSARecv returned, as an io_start. */
static io_start io_started(session *s, int result)
{
    if (result == 0) {
        return s->skip_on_success ? IO_DONE : IO_PENDING;
    }
    if (WSAGetLastError() == WSA_IO_PENDING) {
        return IO_PENDING;
    }
    set_op(s, OP_NONE);
    return IO_FAILED;
}

static io_start post_send(session *s, const uint8_t *bytes, size_t length)
{
    WSABUF buf = {(ULONG)(length > 0x7fffffff ? 0x7fffffff : length), (char *)bytes};
    memset(&s->overlapped, 0, sizeof(s->overlapped));
    set_op(s, OP_SEND);
    /* No byte count pointer with an OVERLAPPED (as MSDN asks): Wine's WSASend reads the
     * count from the OVERLAPPED after a send that completed at once, when another worker may
     * already have taken the completion and freed the session (a crash under load). After
     * an immediate completion the count is in the OVERLAPPED (InternalHigh). */
    return io_started(s, WSASend(s->socket, &buf, 1, NULL, 0, &s->overlapped, NULL));
}

static io_start post_recv(session *s)
{
    WSABUF buf = {(ULONG)s->received_capacity, (char *)s->received};
    DWORD flags = 0;
    memset(&s->overlapped, 0, sizeof(s->overlapped));
    set_op(s, OP_RECV);
    return io_started(s, WSARecv(s->socket, &buf, 1, NULL, &flags, &s->overlapped, NULL));
}

/* The end of pump after a post: true when the operation completed at once (the caller
 * completes it), false when its completion comes through the port or the session is over. */
static bool posted(session *s, io_start start)
{
    if (start == IO_FAILED) {
        session_close(s);
    }
    return start == IO_DONE;
}

/* A pool thread has the AUTH verdict: the session goes back to a worker. */
static void auth_done(void *ctx)
{
    session *s = ctx;
    PostQueuedCompletionStatus(s->server->port, 0, 0, &s->overlapped);
}

/* ---- STARTTLS ----------------------------------------------------------------------- */

typedef enum tls_step {
    TLS_STEP_CONTINUE, /* something to do: go round the pump again */
    TLS_STEP_RECEIVE,  /* nothing until more ciphertext arrives */
    TLS_STEP_CLOSE,    /* the session is over */
} tls_step;

/* The 220 to STARTTLS is sent: from here on the connection carries TLS. The server's
 * context is made now, not at accept, so that sessions that never ask cost nothing. */
static bool tls_begin(session *s)
{
    struct tls_credentials *credentials = runtime_snapshot_tls(s->host.snapshot);
    char why[200] = "no certificate";
    if (credentials) {
        s->tls = tls_session_new_server(credentials, why, sizeof(why));
    }
    s->plain = malloc(TLS_PLAIN_BYTES);
    if (!s->tls || !s->plain) {
        char what[240];
        snprintf(what, sizeof(what), "STARTTLS failed: %s", s->plain ? why : "out of memory");
        log_event(s, what);
        return false;
    }
    /* Whatever arrived in clear behind the STARTTLS line was never executed (the engine threw
     * it away); it must not be taken for the client's first TLS record either. */
    s->received_used = s->received_len;
    s->plain_len = s->plain_used = 0;
    log_event(s, "STARTTLS: TLS handshake begun");
    return true;
}

/* Received ciphertext into the TLS session, as much as it takes. False when it took none. */
static bool tls_put_received(session *s)
{
    if (s->received_used >= s->received_len) {
        return false;
    }
    size_t put = tls_session_put_ciphertext(s->tls, s->received + s->received_used,
                                            s->received_len - s->received_used);
    s->received_used += put;
    return put > 0;
}

static tls_step tls_handshake_step(session *s)
{
    bool put = tls_put_received(s);
    enum tls_result r = tls_session_handshake(s->tls);
    if (r == TLS_OK) {
        char what[160];
        snprintf(what, sizeof(what), "TLS established: %s %s", tls_session_protocol(s->tls),
                 tls_session_cipher(s->tls));
        log_event(s, what);
        smtp_session_tls_started(s->engine); /* a fresh session inside TLS (RFC 3207 4.2) */
        return TLS_STEP_CONTINUE;
    }
    if (r != TLS_WANT_IO) {
        char what[400];
        snprintf(what, sizeof(what), "TLS handshake failed: %s",
                 r == TLS_CLOSED ? "the client closed it" : tls_session_error(s->tls));
        log_event(s, what);
        s->tls_failed = true; /* its alert, if one is pending, goes out first */
        return TLS_STEP_CONTINUE;
    }
    size_t pending = 0;
    tls_session_pending_ciphertext(s->tls, &pending);
    if (pending > 0 || (put && s->received_used < s->received_len)) {
        return TLS_STEP_CONTINUE;
    }
    if (s->received_used < s->received_len) {
        log_event(s, "TLS handshake failed: the client's records do not fit"); /* never spin */
        return TLS_STEP_CLOSE;
    }
    return TLS_STEP_RECEIVE;
}

/* Decrypts the next plaintext for the engine. */
static tls_step tls_read_step(session *s)
{
    for (;;) {
        bool put = tls_put_received(s);
        size_t got = 0;
        enum tls_result r = tls_session_read(s->tls, s->plain, TLS_PLAIN_BYTES, &got);
        if (r == TLS_OK && got > 0) {
            s->plain_len = got;
            s->plain_used = 0;
            return TLS_STEP_CONTINUE;
        }
        if (r == TLS_CLOSED) {
            log_event(s, "closed by the client (TLS close_notify)");
            return TLS_STEP_CLOSE;
        }
        if (r != TLS_OK && r != TLS_WANT_IO) {
            char what[400];
            snprintf(what, sizeof(what), "TLS failed: %s", tls_session_error(s->tls));
            log_event(s, what);
            return TLS_STEP_CLOSE;
        }
        size_t pending = 0;
        tls_session_pending_ciphertext(s->tls, &pending);
        if (pending > 0) {
            return TLS_STEP_CONTINUE;
        }
        if (s->received_used < s->received_len) {
            if (put) {
                continue;
            }
            log_event(s, "TLS failed: the client's records do not fit"); /* never spin */
            return TLS_STEP_CLOSE;
        }
        return TLS_STEP_RECEIVE;
    }
}

/* ---- The pump ------------------------------------------------------------------------- */

/* Runs the session until it must wait for the network, a timer or a password check. True
 * when the receive or send it posted completed at once: the caller completes it (its byte
 * count in s->overlapped.InternalHigh); false when s is waiting or closed. */
static bool pump(session *s)
{
    session_host_auth_deliver(&s->host, s->engine);
    for (;;) {
        if (smtp_session_auth_pending(s->engine)) {
            set_op(s, OP_WAKE);
            if (!session_host_auth_submit(&s->host, auth_done, s)) {
                smtp_session_auth_result(s->engine, SMTP_AUTH_TEMPFAIL); /* cannot happen */
                set_op(s, OP_NONE);
                continue;
            }
            return false; /* the pool may run auth_done at once: nothing here touches s after */
        }
        if (s->tls) {
            /* Ciphertext first: handshake messages, alerts, encrypted replies. */
            size_t pending = 0;
            const uint8_t *cipher = tls_session_pending_ciphertext(s->tls, &pending);
            if (pending > 0) {
                return posted(s, post_send(s, cipher, pending));
            }
            if (s->tls_failed || s->tls_closing) {
                session_close(s);
                return false;
            }
            if (!tls_session_handshake_done(s->tls)) {
                tls_step step = tls_handshake_step(s);
                if (step == TLS_STEP_CLOSE) {
                    session_close(s);
                    return false;
                }
                if (step == TLS_STEP_RECEIVE) {
                    return posted(s, post_recv(s));
                }
                continue;
            }
        }
        smtp_output out = smtp_session_output(s->engine);
        if (out.length > 0) {
            if (out.close) {
                /* QUIT answered (or 421): a client that reconnects as soon as it reads this
                 * reply must find the session no longer counted. */
                uncount(s);
            }
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
                    return false;
                }
                set_op(s, OP_NONE); /* no timer: answer without the delay */
            }
            if (s->tls) {
                size_t accepted = 0;
                enum tls_result r = tls_session_write(s->tls, out.bytes, out.length, &accepted);
                size_t pending = 0;
                tls_session_pending_ciphertext(s->tls, &pending);
                if ((r != TLS_OK && r != TLS_WANT_IO) || (accepted == 0 && pending == 0)) {
                    char what[400];
                    snprintf(what, sizeof(what), "TLS failed: %s", tls_session_error(s->tls));
                    log_event(s, what);
                    session_close(s);
                    return false;
                }
                smtp_session_output_sent(s->engine, accepted);
                continue; /* the ciphertext goes out at the top */
            }
            return posted(s, post_send(s, out.bytes, out.length));
        }
        if (out.close || smtp_session_closed(s->engine)) {
            if (s->tls && tls_session_close(s->tls) == TLS_OK) {
                s->tls_closing = true; /* close_notify, then close */
                continue;
            }
            session_close(s);
            return false;
        }
        if (out.start_tls && !s->tls) {
            if (!tls_begin(s)) {
                session_close(s);
                return false;
            }
            continue;
        }
        if (s->tls && s->plain_used == s->plain_len) {
            tls_step step = tls_read_step(s);
            if (step == TLS_STEP_CLOSE) {
                session_close(s);
                return false;
            }
            if (step == TLS_STEP_CONTINUE) {
                continue;
            }
        }
        const uint8_t *input = s->tls ? s->plain + s->plain_used : s->received + s->received_used;
        size_t available =
                s->tls ? s->plain_len - s->plain_used : s->received_len - s->received_used;
        if (available > 0) {
            size_t used = smtp_session_feed(s->engine, input, available);
            if (s->tls) {
                s->plain_used += used;
            } else {
                s->received_used += used;
            }
            if (used == 0 && smtp_session_output(s->engine).length == 0) {
                session_close(s); /* cannot happen by the engine's contract; never spin */
                return false;
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
        return posted(s, post_recv(s));
    }
}

/* One completion for session s: `bytes` transferred, `error` the Windows error of a failed
 * operation (0 when it succeeded). False when the session is over (s is freed). */
static bool complete(session *s, DWORD bytes, DWORD error)
{
    AcquireSRWLockExclusive(&s->server->lock);
    session_op op = s->op;
    bool timed_out = s->timed_out, stopping = s->stopping, cut = s->cut;
    const char *timeout_reason = s->timeout_reason;
    const char *timeout_reply = s->timeout_reply;
    if (op == OP_RECV && !error) {
        session_deadline_received(&s->server->deadline_limits, &s->deadline, bytes,
                                  GetTickCount64());
    } else if (op == OP_SEND && !error) {
        /* A reply went out: the next command line, or message data after 354, is awaited. */
        session_deadline_phase_start(&s->deadline, GetTickCount64());
    }
    s->op = OP_NONE;
    s->timed_out = s->stopping = false;
    ReleaseSRWLockExclusive(&s->server->lock);

    if (cut) {
        session_close(s);
        return false;
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
            return false;
        }
        if (s->tls) {
            tls_session_ciphertext_sent(s->tls, bytes);
        } else {
            smtp_session_output_sent(s->engine, bytes);
        }
        s->delay_done = false;
        break;
    case OP_RECV:
        if (!error && bytes > 0) {
            s->received_len = bytes;
            s->received_used = 0;
            if (bytes == s->received_capacity && s->received_capacity < RECV_BUFFER_MAX) {
                /* Filled: larger for the next receive. realloc keeps the bytes just
                 * received, which pump feeds before it posts that receive. */
                uint8_t *bigger = realloc(s->received, s->received_capacity * 2);
                if (bigger) {
                    s->received = bigger;
                    s->received_capacity *= 2;
                }
            }
        } else if ((timed_out || stopping) && s->tls && !tls_session_handshake_done(s->tls)) {
            /* In the middle of a handshake there is no channel to say 421 on. */
            log_event(s, timed_out ? "TLS handshake abandoned: timed out"
                                   : "TLS handshake abandoned: service stopping");
            session_close(s);
            return false;
        } else if (timed_out) {
            log_event(s, timeout_reason ? timeout_reason : "idle timeout");
            smtp_session_timeout_because(s->engine, timeout_reply ? timeout_reply : "Idle timeout");
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
            return false;
        }
        break;
    case OP_NONE:
        session_close(s);
        return false;
    }
    return true;
}

/* A completion from the port, and the session's turn from there: a receive or send that
 * completes at once is completed here in a loop (never by recursion), as a completion from
 * the port would be; one session has one operation at a time whichever way it ends. */
static void serve(session *s, DWORD bytes, DWORD error)
{
    for (unsigned inline_count = 0; complete(s, bytes, error) && pump(s); inline_count++) {
        bytes = (DWORD)s->overlapped.InternalHigh;
        error = 0;
        if (inline_count + 1 >= INLINE_COMPLETIONS_MAX &&
            PostQueuedCompletionStatus(s->server->port, bytes, 0, &s->overlapped)) {
            return; /* the others' turn: the completion waits in the port behind theirs */
        }
    }
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
        if (key == LISTENER_COMPLETION_KEY) {
            listener_completed(overlapped, ok ? 0 : GetLastError());
            continue;
        }
        serve((session *)overlapped, bytes, ok ? 0 : GetLastError());
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

    /* A client trusted to relay by its address (RelayAllowList, or a local address of
     * RelayLocalIPList) is exempt from MaxConnectionsPerClient, as Postfix exempts
     * $mynetworks from smtpd_client_connection_count_limit: an application server or a
     * gateway that sends through us over many connections is the relay's normal client. */
    relay_addr local_addr = session_host_addr(local);
    relay_verdict trust;
    relay_decide(runtime_snapshot_policy(snap), &client, &local_addr, false, &trust);
    bool exempt = trust.allowed &&
                  (trust.step == RELAY_STEP_ALLOW_LIST || trust.step == RELAY_STEP_LOCAL_IP_LIST);

    /* The limits and the count are checked and taken under one lock, in constant time. */
    uint32_t max_total = config->max_connections.value;
    uint32_t max_client = config->max_connections_per_client.value;
    const char *limit_name = NULL;
    uint64_t open = 0, limit = 0;
    bool out_of_memory = false;
    /* The connection rate first: a client reconnecting in a loop is refused before it
     * takes a count (ConnectionsPerClientPerMinute, off by default). */
    if (server->services.limits &&
        !client_limits_connection(server->services.limits, &client, config)) {
        limit_name = "ConnectionsPerClientPerMinute";
        open = limit = config->connections_per_client_per_minute.value;
    }
    AcquireSRWLockExclusive(&server->lock);
    bool draining = server->draining;
    if (!draining && !limit_name) {
        uint32_t same_client = client_counts_get(server->per_client, &client);
        if (server->counted_count >= max_total) {
            limit_name = "MaxConnections";
            open = server->counted_count;
            limit = max_total;
        } else if (!exempt && same_client >= max_client) {
            limit_name = "MaxConnectionsPerClient";
            open = same_client;
            limit = max_client;
        } else if (client_counts_add(server->per_client, &client)) {
            server->counted_count++;
        } else {
            out_of_memory = true;
        }
    }
    ReleaseSRWLockExclusive(&server->lock);
    if (draining) {
        runtime_snapshot_release(snap);
        refuse(sock, "421 4.3.2 Service shutting down, closing transmission channel\r\n");
        return;
    }
    if (limit_name) {
        refuse(sock, "421 4.7.0 Too many connections, try again later\r\n");
        char client_text[RELAY_ADDR_TEXT_MAX];
        relay_addr_format(&client, client_text, sizeof(client_text));
        connection_events_refused(server->refusals, config, client_text, open, limit_name, limit);
        runtime_snapshot_release(snap);
        return;
    }
    if (out_of_memory) {
        runtime_snapshot_release(snap);
        refuse(sock, "421 4.3.2 Out of resources, try again later\r\n");
        return;
    }

    session *s = calloc(1, sizeof(*s));
    if (s) {
        s->received = malloc(RECV_BUFFER_INITIAL);
        s->received_capacity = RECV_BUFFER_INITIAL;
        if (!s->received) {
            free(s);
            s = NULL;
        }
    }
    if (!s) {
        AcquireSRWLockExclusive(&server->lock);
        server->counted_count--;
        client_counts_remove(server->per_client, &client);
        ReleaseSRWLockExclusive(&server->lock);
        runtime_snapshot_release(snap);
        refuse(sock, "421 4.3.2 Out of resources, try again later\r\n");
        return;
    }
    s->server = server;
    s->socket = sock;
    s->counted = true;
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
    s->deadline.session_start_ms = s->deadline.phase_start_ms = s->last_activity;
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
    /* An operation that completes at once is then completed by the worker that started it,
     * without a completion packet: a round trip less through Wine's server for each. Should
     * the call fail, every completion comes through the port as before. */
    s->skip_on_success =
            server->skip_allowed &&
            SetFileCompletionNotificationModes((HANDLE)sock, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                                                     FILE_SKIP_SET_EVENT_ON_HANDLE);
    /* The greeting is sent by a worker, like every other reply. */
    PostQueuedCompletionStatus(server->port, 0, 0, &s->overlapped);
}

/* ---- Timeouts, summaries, drain ------------------------------------------------------- */

/* Cancels the receive of every session that matches; called with the lock held. With
 * idle_only, those past a deadline (net/session_host: idle, command line, DATA rate, session
 * lifetime; shorter under stress) with the limits in force now. */
static void cancel_receives(transport *server, bool idle_only, ULONGLONG now)
{
    session_deadline_limits limits = {0};
    if (idle_only) {
        runtime_snapshot *snap = runtime_acquire(server->rt);
        const regio_config *config = runtime_snapshot_config(snap);
        limits = session_host_deadlines(config);
        limits = session_deadline_effective(
                &limits, session_deadline_stressed(&limits, server->session_count,
                                                   config->max_connections.value));
        runtime_snapshot_release(snap);
        server->deadline_limits = limits;
    }
    for (session *s = server->sessions; s; s = s->next) {
        if (idle_only) {
            if (s->timed_out || (s->op != OP_RECV && s->op != OP_SEND)) {
                continue;
            }
            s->deadline.last_activity_ms = s->last_activity;
            s->deadline.in_data = s->op == OP_RECV && smtp_session_in_data(s->engine);
            session_deadline_verdict verdict = session_deadline_check(&limits, &s->deadline, now);
            /* A client that stopped reading our replies is cut at the idle timeout only. */
            if (verdict == SESSION_DEADLINE_OK ||
                (s->op == OP_SEND && verdict != SESSION_DEADLINE_IDLE)) {
                continue;
            }
            if (s->op == OP_RECV) {
                s->timed_out = true;
                s->timeout_reason = session_deadline_describe(verdict);
                s->timeout_reply = session_deadline_reply(verdict);
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
        protocol_log_flush(server->services.protocol_log); /* at least every second */
        if (now - last_sweep >= SWEEP_PERIOD_MS) {
            last_sweep = now;
            denial_events_sweep(server->services.denials);
            connection_events_sweep(server->refusals);
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
    connection_events_flush(server->refusals);
    protocol_log_flush(server->services.protocol_log);
}

/* ---- Creation ------------------------------------------------------------------------- */

/* False when a layered service provider that does not hand out IFS handles serves TCP over
 * IPv4 or IPv6 (as libuv checks it: on a socket of each family). */
static bool tcp_handles_are_ifs(void)
{
    static const int families[] = {AF_INET, AF_INET6};
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        SOCKET sock = WSASocketW(families[i], SOCK_STREAM, IPPROTO_TCP, NULL, 0, 0);
        if (sock == INVALID_SOCKET) {
            continue; /* no such family here: none of its connections either */
        }
        WSAPROTOCOL_INFOW info;
        int length = sizeof(info);
        bool ifs = getsockopt(sock, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &length) == 0 &&
                   (info.dwServiceFlags1 & XP1_IFS_HANDLES);
        closesocket(sock);
        if (!ifs) {
            return false;
        }
    }
    return true;
}

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
    server->services.limits = client_limits_create();
    server->services.auth_pool = auth_pool_create();
    server->refusals = connection_events_create(config->denial_events_per_minute.value);
    /* The table's hash seed: a client that does not know it cannot pick addresses that
     * crowd one corner of the table. */
    uint64_t seed = 0;
    if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, (UCHAR *)&seed, sizeof(seed),
                                        BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
        LARGE_INTEGER counter;
        QueryPerformanceCounter(&counter);
        seed = (uint64_t)counter.QuadPart ^ (uint64_t)(uintptr_t)server;
    }
    server->per_client = client_counts_create(seed);
    server->services.windows_accounts = windows_accounts_usable();
    if (!server->services.windows_accounts && config->auth_windows_accounts.value == 1) {
        eventlog_write(MSG_CONFIG_WARNING, "AuthWindowsAccounts", "0", "1",
                       "Windows accounts are not used for SMTP AUTH under Wine, whose LogonUserW "
                       "accepts any password; only imsrelay's own accounts are",
                       NULL);
    }
    runtime_snapshot_release(snap);

    server->skip_allowed = tcp_handles_are_ifs();
    server->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    server->all_closed = CreateEventW(NULL, TRUE, TRUE, NULL);
    server->reaper_stop = CreateEventW(NULL, TRUE, FALSE, NULL);
    server->timer_queue = CreateTimerQueue();
    if (!server->services.denials || !server->services.limits || !server->services.auth_pool ||
        !server->refusals || !server->per_client || !server->port || !server->all_closed ||
        !server->reaper_stop || !server->timer_queue) {
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
    server->handler.port = server->port;
    *exit = SVC_EXIT_OK;
    return server;
}

const listener_handler *transport_handler(transport *server)
{
    return &server->handler;
}

spool *transport_spool(transport *server)
{
    return server->services.spool;
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
    auth_pool_destroy(server->services.auth_pool); /* queued checks end as 454 */
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
    client_limits_destroy(server->services.limits);
    connection_events_destroy(server->refusals);
    client_counts_destroy(server->per_client);
    protocol_log_close(server->services.protocol_log);
    spool_close(server->services.spool);
    free(server);
}
