#include "delivery/outbound.h"

#include <ws2tcpip.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/win_text.h"
#include "tls/tls_session.h"
#include "tls/tls_trust.h"

#define SLICE_MS 200u /* how often a wait looks at the abort event */

struct outbound {
    outbound_config config;
    SOCKET socket;
    smtp_client *client;
    dns_route_target target;
    struct tls_session *tls; /* NULL: clear text */
    struct tls_trust *trust; /* outlives tls */
    outbound_tls_info tls_info;
    bool starttls_sent;
};

static bool aborted(const outbound_config *config)
{
    return config->abort && WaitForSingleObject(config->abort, 0) == WAIT_OBJECT_0;
}

static uint32_t timeout_for(smtp_client_wait wait)
{
    return wait == SMTP_WAIT_DATA_END ? OUTBOUND_DATA_END_TIMEOUT_MS : OUTBOUND_COMMAND_TIMEOUT_MS;
}

typedef enum wait_result {
    SOCKET_READY,
    SOCKET_TIMEOUT,
    SOCKET_ERROR_SEEN,
    SOCKET_ABORTED
} wait_result;

/* Waits until the socket is readable (or writable), in slices so an abort is seen. */
static wait_result wait_socket(const outbound_config *config, SOCKET s, bool write,
                               uint32_t timeout_ms)
{
    ULONGLONG deadline = GetTickCount64() + timeout_ms;
    for (;;) {
        if (aborted(config)) {
            return SOCKET_ABORTED;
        }
        ULONGLONG now = GetTickCount64();
        if (now >= deadline) {
            return SOCKET_TIMEOUT;
        }
        ULONGLONG left = deadline - now;
        uint32_t slice = left < SLICE_MS ? (uint32_t)left : SLICE_MS;
        fd_set set, errors;
        FD_ZERO(&set);
        FD_ZERO(&errors);
        FD_SET(s, &set);
        FD_SET(s, &errors);
        struct timeval tv = {.tv_sec = (long)(slice / 1000),
                             .tv_usec = (long)(slice % 1000) * 1000};
        int n = select(0, write ? NULL : &set, write ? &set : NULL, &errors, &tv);
        if (n == SOCKET_ERROR) {
            return SOCKET_ERROR_SEEN;
        }
        if (n > 0) {
            return FD_ISSET(s, &errors) && !FD_ISSET(s, &set) ? SOCKET_ERROR_SEEN : SOCKET_READY;
        }
    }
}

/* ---- bytes on the wire: the socket, or TLS over it ---- */

typedef enum io_result {
    IO_OK,
    IO_NONE,    /* nothing to read now */
    IO_TIMEOUT, /* a write waited too long */
    IO_LOST,    /* EOF, reset, a TLS failure, or the service stopping */
} io_result;

/* Writes all of data to the socket, waiting while it is full. */
static io_result raw_send_all(outbound *o, const void *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t chunk = len - done > 65536 ? 65536 : len - done;
        int n = send(o->socket, (const char *)data + done, (int)chunk, 0);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) {
            wait_result w = wait_socket(&o->config, o->socket, true, OUTBOUND_COMMAND_TIMEOUT_MS);
            if (w == SOCKET_READY) {
                continue;
            }
            return w == SOCKET_TIMEOUT ? IO_TIMEOUT : IO_LOST;
        }
        return IO_LOST;
    }
    return IO_OK;
}

/* Sends the ciphertext the session has ready (handshake, records, alerts). */
static io_result tls_flush(outbound *o)
{
    size_t len = 0;
    const uint8_t *bytes = tls_session_pending_ciphertext(o->tls, &len);
    if (len == 0) {
        return IO_OK;
    }
    io_result r = raw_send_all(o, bytes, len);
    if (r == IO_OK) {
        tls_session_ciphertext_sent(o->tls, len);
    }
    return r;
}

/* Writes len bytes of protocol; *sent: how many are on the wire (for TLS: encrypted and
 * their records written). */
static io_result io_send(outbound *o, const void *data, size_t len, size_t *sent)
{
    *sent = 0;
    if (!o->tls) {
        io_result r = raw_send_all(o, data, len);
        if (r == IO_OK) {
            *sent = len;
        }
        return r;
    }
    unsigned stalled = 0;
    while (*sent < len) {
        size_t accepted = 0;
        enum tls_result t =
                tls_session_write(o->tls, (const uint8_t *)data + *sent, len - *sent, &accepted);
        io_result r = tls_flush(o);
        if (r != IO_OK) {
            return r;
        }
        if (t == TLS_FAILED || t == TLS_CLOSED) {
            return IO_LOST;
        }
        /* Output flushed and still nothing taken: the session wants to read in the middle of
         * a write (a renegotiation we never allow), which would spin here. */
        stalled = accepted == 0 ? stalled + 1 : 0;
        if (stalled > 4) {
            return IO_LOST;
        }
        *sent += accepted;
    }
    return IO_OK;
}

/* Protocol bytes that are there now, without waiting. */
static io_result io_recv(outbound *o, char *buf, size_t cap, size_t *got)
{
    *got = 0;
    if (!o->tls) {
        int n = recv(o->socket, buf, (int)cap, 0);
        if (n > 0) {
            *got = (size_t)n;
            return IO_OK;
        }
        return n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK ? IO_NONE : IO_LOST;
    }
    for (;;) {
        enum tls_result t = tls_session_read(o->tls, buf, cap, got);
        if (tls_flush(o) != IO_OK) {
            return IO_LOST;
        }
        if (t == TLS_OK) {
            return IO_OK;
        }
        if (t != TLS_WANT_IO) {
            return IO_LOST; /* close_notify or a failure: the session is over */
        }
        char raw[16384];
        size_t room = tls_session_ciphertext_room(o->tls);
        if (room == 0) {
            return IO_LOST;
        }
        int n = recv(o->socket, raw, (int)(room < sizeof(raw) ? room : sizeof(raw)), 0);
        if (n > 0) {
            tls_session_put_ciphertext(o->tls, raw, (size_t)n);
            continue;
        }
        return n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK ? IO_NONE : IO_LOST;
    }
}

static void connect_failure(smtp_client_result *failure, const char *what, int error)
{
    memset(failure, 0, sizeof(*failure));
    failure->outcome = SMTP_OUTCOME_DEFERRED;
    failure->stage = SMTP_STAGE_CONNECT;
    failure->status = (smtp_status){4, 4, 1};
    char text[200];
    if (error) {
        win_text_error((unsigned long)error, text, sizeof(text));
        snprintf(failure->text, sizeof(failure->text), "%s: %s (error %d)", what, text, error);
    } else {
        snprintf(failure->text, sizeof(failure->text), "%s", what);
    }
}

static SOCKET connect_to(const outbound_config *config, const dns_route_target *t,
                         smtp_client_result *failure)
{
    SOCKET s = socket(t->address.ss_family, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) {
        connect_failure(failure, "cannot make a socket", WSAGetLastError());
        return INVALID_SOCKET;
    }
    u_long nonblocking = 1;
    ioctlsocket(s, FIONBIO, &nonblocking);
    if (connect(s, (const struct sockaddr *)&t->address, t->address_length) == SOCKET_ERROR &&
        WSAGetLastError() != WSAEWOULDBLOCK) {
        connect_failure(failure, "connection failed", WSAGetLastError());
        closesocket(s);
        return INVALID_SOCKET;
    }
    wait_result w = wait_socket(config, s, true, OUTBOUND_CONNECT_TIMEOUT_MS);
    int error = 0;
    int len = sizeof(error);
    if (w == SOCKET_READY || w == SOCKET_ERROR_SEEN) {
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&error, &len) != 0) {
            error = WSAGetLastError();
        }
        if (w == SOCKET_ERROR_SEEN && error == 0) {
            error = WSAECONNREFUSED;
        }
    }
    if (w == SOCKET_TIMEOUT) {
        connect_failure(failure, "no answer to the connection request within 30 s", 0);
    } else if (w == SOCKET_ABORTED) {
        connect_failure(failure, "the service is stopping", 0);
    } else if (error != 0) {
        connect_failure(failure, "connection failed", error);
    }
    if (w != SOCKET_READY || error != 0) {
        closesocket(s);
        return INVALID_SOCKET;
    }
    return s;
}

static void lost(outbound *o)
{
    smtp_client_connection_lost(o->client);
    if (o->socket != INVALID_SOCKET) {
        closesocket(o->socket);
        o->socket = INVALID_SOCKET;
    }
}

/* Writes everything the engine has to say now. false when the connection is gone. */
static bool flush_output(outbound *o, bool *wrote_any)
{
    for (;;) {
        smtp_client_out out = smtp_client_output(o->client);
        if (out.length == 0) {
            if (out.close) {
                closesocket(o->socket);
                o->socket = INVALID_SOCKET;
                return false;
            }
            return true;
        }
        *wrote_any = true;
        size_t done = 0;
        io_result r = io_send(o, out.bytes, out.length, &done);
        smtp_client_output_sent(o->client, done);
        if (r == IO_TIMEOUT) {
            smtp_client_timeout(o->client);
            closesocket(o->socket);
            o->socket = INVALID_SOCKET;
            return false;
        }
        if (r != IO_OK) {
            lost(o);
            return false;
        }
        if (out.close) {
            closesocket(o->socket);
            o->socket = INVALID_SOCKET;
            return false;
        }
    }
}

/* Reads what the server sent (waiting up to timeout_ms for the first byte; TLS may hold
 * bytes already read from the socket, so those are taken first). false when the
 * connection is gone (the engine was told). */
static bool read_replies(outbound *o, uint32_t timeout_ms)
{
    char buf[16384];
    bool fed = false;
    bool waited = timeout_ms == 0;
    for (;;) {
        size_t got = 0;
        io_result r = io_recv(o, buf, sizeof(buf), &got);
        if (r == IO_OK) {
            smtp_client_feed(o->client, buf, got);
            fed = true;
            continue;
        }
        if (r != IO_NONE) {
            lost(o); /* EOF, reset, or the TLS session ended */
            return false;
        }
        if (fed || waited) {
            return true;
        }
        wait_result w = wait_socket(&o->config, o->socket, false, timeout_ms);
        if (w == SOCKET_TIMEOUT) {
            smtp_client_timeout(o->client);
            closesocket(o->socket);
            o->socket = INVALID_SOCKET;
            return false;
        }
        if (w != SOCKET_READY) {
            lost(o);
            return false;
        }
        waited = true;
    }
}

/* Runs the conversation until the engine is READY or CLOSED. */
static void drive(outbound *o)
{
    while (o->socket != INVALID_SOCKET) {
        smtp_client_state st = smtp_client_state_now(o->client);
        if (st == SMTP_CLIENT_CLOSED) {
            bool any = false;
            flush_output(o, &any);
            if (o->socket != INVALID_SOCKET) {
                closesocket(o->socket);
                o->socket = INVALID_SOCKET;
            }
            return;
        }
        if (st == SMTP_CLIENT_TLS_START) {
            if (!o->starttls_sent) {
                lost(o); /* never asked for; a server that says so anyway is not trusted */
            }
            return; /* outbound_open runs the handshake */
        }
        bool wrote = false;
        if (!flush_output(o, &wrote)) {
            if (smtp_client_state_now(o->client) != SMTP_CLIENT_CLOSED) {
                smtp_client_connection_lost(o->client);
            }
            return;
        }
        st = smtp_client_state_now(o->client);
        if (st == SMTP_CLIENT_READY) {
            return;
        }
        smtp_client_wait wait = smtp_client_waiting_for(o->client);
        if (wrote && wait == SMTP_WAIT_DATA_BLOCK) {
            /* More of the body to write: take what replies are there, without waiting. */
            if (!read_replies(o, 0)) {
                return;
            }
            continue;
        }
        if (wait == SMTP_WAIT_NONE) {
            if (!wrote) {
                lost(o); /* nothing to write, nothing owed: the engine would spin */
                return;
            }
            continue;
        }
        if (aborted(&o->config)) {
            lost(o);
            return;
        }
        if (!read_replies(o, timeout_for(wait))) {
            return;
        }
    }
}

/* A failure that ended an attempt with one target: deferred, with our reason. */
static void local_failure(smtp_client_result *failure, smtp_client_stage stage, smtp_status status,
                          const char *text)
{
    memset(failure, 0, sizeof(*failure));
    failure->outcome = SMTP_OUTCOME_DEFERRED;
    failure->stage = stage;
    failure->status = status;
    snprintf(failure->text, sizeof(failure->text), "%s", text);
}

/* The TLS handshake over the connected socket; false with the reason. Verified modes trust
 * the machine's Root store, read at each connection so a certificate an administrator
 * adds applies at once. */
static bool run_handshake(outbound *o, tls_policy_mode mode, char *why, size_t why_size)
{
    struct tls_client_options options = {.host_name = o->target.host, .trust = NULL};
    if (tls_policy_verifies(mode)) {
        o->trust = tls_trust_new();
        size_t added = 0;
        char reason[300];
        if (!o->trust ||
            !tls_trust_add_system_store(o->trust, L"Root", &added, reason, sizeof(reason))) {
            snprintf(why, why_size, "the trusted root certificates cannot be read: %s",
                     o->trust ? reason : "out of memory");
            return false;
        }
        options.trust = o->trust;
    }
    o->tls = tls_session_new_client(&options, why, why_size);
    if (!o->tls) {
        return false;
    }
    ULONGLONG deadline = GetTickCount64() + OUTBOUND_COMMAND_TIMEOUT_MS;
    for (;;) {
        enum tls_result t = tls_session_handshake(o->tls);
        if (tls_flush(o) != IO_OK && t != TLS_FAILED) {
            snprintf(why, why_size, "the connection was lost during the TLS handshake");
            return false;
        }
        if (t == TLS_OK) {
            break;
        }
        if (t != TLS_WANT_IO) {
            snprintf(why, why_size, "%s", tls_session_error(o->tls));
            return false;
        }
        char raw[16384];
        size_t room = tls_session_ciphertext_room(o->tls);
        int n = recv(o->socket, raw, (int)(room < sizeof(raw) ? room : sizeof(raw)), 0);
        if (n > 0) {
            tls_session_put_ciphertext(o->tls, raw, (size_t)n);
            continue;
        }
        if (n == 0 || WSAGetLastError() != WSAEWOULDBLOCK) {
            snprintf(why, why_size, "the server closed the connection during the TLS handshake");
            return false;
        }
        ULONGLONG now = GetTickCount64();
        wait_result w = now >= deadline ? SOCKET_TIMEOUT
                                        : wait_socket(&o->config, o->socket, false,
                                                      (uint32_t)(deadline - now));
        if (w == SOCKET_TIMEOUT) {
            snprintf(why, why_size, "no answer during the TLS handshake within %u s",
                     OUTBOUND_COMMAND_TIMEOUT_MS / 1000);
            return false;
        }
        if (w != SOCKET_READY) {
            snprintf(why, why_size, "%s",
                     w == SOCKET_ABORTED ? "the service is stopping"
                                         : "the connection failed during the TLS handshake");
            return false;
        }
    }
    o->tls_info.used = true;
    o->tls_info.verified = tls_session_peer_verified(o->tls);
    snprintf(o->tls_info.protocol, sizeof(o->tls_info.protocol), "%s",
             tls_session_protocol(o->tls));
    snprintf(o->tls_info.cipher, sizeof(o->tls_info.cipher), "%s", tls_session_cipher(o->tls));
    return true;
}

/* Closes without QUIT (the session is not usable, or never began). */
static void discard(outbound *o)
{
    if (o->socket != INVALID_SOCKET) {
        closesocket(o->socket);
    }
    smtp_client_destroy(o->client);
    tls_session_free(o->tls);
    tls_trust_free(o->trust);
    free(o);
}

typedef enum attempt_result {
    ATTEMPT_READY,       /* the session is up as the settings want */
    ATTEMPT_FAILED,      /* *failure says why; try the next target */
    ATTEMPT_RETRY_CLEAR, /* opportunistic TLS failed in the handshake: again without TLS */
} attempt_result;

/* The failure the engine recorded, or a generic one. */
static void engine_failure(const outbound *o, smtp_client_result *failure)
{
    const smtp_client_result *why = smtp_client_connection_result(o->client);
    if (why->outcome != SMTP_OUTCOME_PENDING) {
        *failure = *why;
    } else {
        connect_failure(failure, "the connection ended before the session began", 0);
    }
}

static const smtp_status status_tls_needed = {4, 7, 10};  /* RFC 5248: encryption needed */
static const smtp_status status_tls_failed = {4, 7, 5};   /* RFC 3463: cryptographic failure */
static const smtp_status status_auth_failed = {4, 7, 8};  /* RFC 4954: credentials invalid */
static const smtp_status status_auth_missing = {4, 7, 0}; /* other security problem */

/* Greeting, EHLO, TLS and login with one connected target. */
static attempt_result start_session(outbound *o, tls_policy_mode mode, bool retried_in_clear,
                                    smtp_client_result *failure)
{
    char why[TLS_POLICY_REASON_MAX];
    char error[TLS_POLICY_REASON_MAX];
    if (mode == TLS_POLICY_IMPLICIT) {
        if (!run_handshake(o, mode, error, sizeof(error))) {
            tls_policy_after_handshake_failure(mode, retried_in_clear, error, why, sizeof(why));
            local_failure(failure, SMTP_STAGE_CONNECT, status_tls_failed, why);
            return ATTEMPT_FAILED;
        }
    }
    drive(o);
    if (smtp_client_state_now(o->client) != SMTP_CLIENT_READY) {
        engine_failure(o, failure);
        return ATTEMPT_FAILED;
    }
    const smtp_client_capabilities *caps = smtp_client_capabilities_offered(o->client);
    tls_policy_step step =
            tls_policy_after_ehlo(mode, o->tls != NULL, caps->starttls, why, sizeof(why));
    if (step == TLS_STEP_DEFER) {
        local_failure(failure, SMTP_STAGE_EHLO, status_tls_needed, why);
        return ATTEMPT_FAILED;
    }
    if (step == TLS_STEP_STARTTLS) {
        o->starttls_sent = smtp_client_starttls(o->client);
        drive(o);
        smtp_client_state st = smtp_client_state_now(o->client);
        if (st == SMTP_CLIENT_READY) {
            const smtp_reply *r = smtp_client_last_reply(o->client);
            char reply[SMTP_CLIENT_TEXT_MAX];
            snprintf(reply, sizeof(reply), "%u %.400s", r->code, r->text);
            if (tls_policy_after_starttls_refused(mode, reply, why, sizeof(why)) ==
                TLS_STEP_DEFER) {
                local_failure(failure, SMTP_STAGE_STARTTLS, status_tls_needed, why);
                return ATTEMPT_FAILED;
            }
        } else if (st == SMTP_CLIENT_TLS_START) {
            if (!run_handshake(o, mode, error, sizeof(error))) {
                tls_policy_step after = tls_policy_after_handshake_failure(mode, retried_in_clear,
                                                                           error, why, sizeof(why));
                local_failure(failure, SMTP_STAGE_STARTTLS, status_tls_failed, why);
                smtp_client_connection_lost(o->client);
                return after == TLS_STEP_RETRY_CLEAR ? ATTEMPT_RETRY_CLEAR : ATTEMPT_FAILED;
            }
            smtp_client_tls_started(o->client);
            drive(o);
            if (smtp_client_state_now(o->client) != SMTP_CLIENT_READY) {
                engine_failure(o, failure);
                return ATTEMPT_FAILED;
            }
        } else {
            engine_failure(o, failure);
            return ATTEMPT_FAILED;
        }
    }
    const char *user = o->config.auth_user;
    unsigned mechanism = 0;
    tls_policy_auth_step auth =
            tls_policy_auth(user && *user, o->config.auth_password != NULL, o->tls != NULL,
                            smtp_client_capabilities_offered(o->client)->auth_mechanisms,
                            &mechanism, why, sizeof(why));
    if (auth == TLS_AUTH_DEFER) {
        local_failure(failure, SMTP_STAGE_AUTH, status_auth_missing, why);
        return ATTEMPT_FAILED;
    }
    if (auth == TLS_AUTH_SEND) {
        if (!smtp_client_auth(o->client, mechanism, user, o->config.auth_password)) {
            local_failure(failure, SMTP_STAGE_AUTH, status_auth_missing,
                          "the smart host login (SmartHostAccount and its password) is too "
                          "long to send");
            return ATTEMPT_FAILED;
        }
        drive(o);
        if (smtp_client_state_now(o->client) != SMTP_CLIENT_READY) {
            engine_failure(o, failure);
            return ATTEMPT_FAILED;
        }
        if (!smtp_client_authenticated(o->client)) {
            /* A wrong password is the administrator's to fix: mail waits, it never bounces. */
            const smtp_reply *r = smtp_client_last_reply(o->client);
            char text[SMTP_CLIENT_TEXT_MAX];
            snprintf(text, sizeof(text), "the smart host refused the login of %.100s: %u %.300s",
                     user, r->code, r->text);
            local_failure(failure, SMTP_STAGE_AUTH, status_auth_failed, text);
            return ATTEMPT_FAILED;
        }
    }
    return ATTEMPT_READY;
}

outbound *outbound_open(const outbound_config *config, const dns_route_result *route,
                        smtp_client_result *failure, char *failure_host, size_t host_size,
                        outbound_tls_info *failure_tls)
{
    connect_failure(failure, "no address to connect to", 0);
    if (host_size > 0) {
        failure_host[0] = '\0';
    }
    if (failure_tls) {
        memset(failure_tls, 0, sizeof(*failure_tls));
    }
    smtp_client_config cc = {.helo_name = config->helo_name, .max_recipients = 0};
    for (size_t i = 0; i < route->count; i++) {
        const dns_route_target *t = &route->targets[i];
        bool retried_in_clear = false;
        for (;;) {
            if (aborted(config)) {
                connect_failure(failure, "the service is stopping", 0);
                return NULL;
            }
            if (host_size > 0) {
                snprintf(failure_host, host_size, "%s [%s]", t->host, t->address_text);
            }
            SOCKET s = connect_to(config, t, failure);
            if (s == INVALID_SOCKET) {
                break;
            }
            outbound *o = calloc(1, sizeof(*o));
            if (!o || !(o->client = smtp_client_create(&cc))) {
                free(o);
                closesocket(s);
                connect_failure(failure, "out of memory", 0);
                return NULL;
            }
            o->config = *config;
            o->socket = s;
            o->target = *t;
            tls_policy_mode mode = retried_in_clear ? TLS_POLICY_NEVER : config->tls;
            attempt_result a = start_session(o, mode, retried_in_clear, failure);
            /* The caller keeps no pointer to the login once the session is up. */
            o->config.auth_user = NULL;
            o->config.auth_password = NULL;
            if (a == ATTEMPT_READY) {
                return o;
            }
            if (failure_tls) {
                *failure_tls = o->tls_info;
            }
            if (a == ATTEMPT_RETRY_CLEAR) {
                discard(o);
                retried_in_clear = true;
                continue;
            }
            outbound_close(o);
            break;
        }
    }
    return NULL;
}

const dns_route_target *outbound_target(const outbound *o)
{
    return &o->target;
}

const outbound_tls_info *outbound_tls(const outbound *o)
{
    return &o->tls_info;
}

const smtp_client *outbound_client(const outbound *o)
{
    return o->client;
}

outbound_sent outbound_send(outbound *o, const smtp_client_message *message)
{
    if (o->socket == INVALID_SOCKET || !smtp_client_send(o->client, message)) {
        return OUTBOUND_NOT_SENT;
    }
    drive(o);
    return o->socket != INVALID_SOCKET && smtp_client_state_now(o->client) == SMTP_CLIENT_READY
                   ? OUTBOUND_SENT
                   : OUTBOUND_CLOSED;
}

void outbound_close(outbound *o)
{
    if (!o) {
        return;
    }
    if (o->socket != INVALID_SOCKET && smtp_client_state_now(o->client) == SMTP_CLIENT_READY &&
        smtp_client_quit(o->client)) {
        bool any = false;
        flush_output(o, &any);
        /* The 221 is a courtesy: wait briefly, never long. */
        if (o->socket != INVALID_SOCKET) {
            wait_socket(&o->config, o->socket, false, 2000);
        }
    }
    if (o->socket != INVALID_SOCKET && o->tls && tls_session_handshake_done(o->tls) &&
        tls_session_close(o->tls) == TLS_OK) {
        tls_flush(o); /* close_notify: the server sees an orderly end, not a truncation */
    }
    discard(o);
}
