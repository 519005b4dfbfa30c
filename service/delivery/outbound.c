#include "delivery/outbound.h"

#include <ws2tcpip.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/win_text.h"

#define SLICE_MS 200u /* how often a wait looks at the abort event */

struct outbound {
    outbound_config config;
    SOCKET socket;
    smtp_client *client;
    dns_route_target target;
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
        while (done < out.length) {
            int n = send(o->socket, (const char *)out.bytes + done,
                         (int)(out.length - done > 65536 ? 65536 : out.length - done), 0);
            if (n > 0) {
                done += (size_t)n;
                continue;
            }
            if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) {
                wait_result w =
                        wait_socket(&o->config, o->socket, true, OUTBOUND_COMMAND_TIMEOUT_MS);
                if (w == SOCKET_READY) {
                    continue;
                }
                if (w == SOCKET_TIMEOUT) {
                    smtp_client_output_sent(o->client, done);
                    smtp_client_timeout(o->client);
                    closesocket(o->socket);
                    o->socket = INVALID_SOCKET;
                    return false;
                }
            }
            smtp_client_output_sent(o->client, done);
            lost(o);
            return false;
        }
        smtp_client_output_sent(o->client, done);
        if (out.close) {
            closesocket(o->socket);
            o->socket = INVALID_SOCKET;
            return false;
        }
    }
}

/* Reads what the server sent (waiting up to timeout_ms for the first byte). false when the
 * connection is gone (the engine was told). */
static bool read_replies(outbound *o, uint32_t timeout_ms)
{
    if (timeout_ms > 0) {
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
    }
    char buf[16384];
    for (;;) {
        int n = recv(o->socket, buf, sizeof(buf), 0);
        if (n > 0) {
            smtp_client_feed(o->client, buf, (size_t)n);
            if ((size_t)n < sizeof(buf)) {
                return true;
            }
            continue;
        }
        if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) {
            return true;
        }
        lost(o); /* EOF or reset */
        return false;
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
            lost(o); /* never asked for; a server that says so anyway is not trusted */
            return;
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

outbound *outbound_open(const outbound_config *config, const dns_route_result *route,
                        smtp_client_result *failure, char *failure_host, size_t host_size)
{
    connect_failure(failure, "no address to connect to", 0);
    if (host_size > 0) {
        failure_host[0] = '\0';
    }
    smtp_client_config cc = {.helo_name = config->helo_name, .max_recipients = 0};
    for (size_t i = 0; i < route->count; i++) {
        if (aborted(config)) {
            connect_failure(failure, "the service is stopping", 0);
            return NULL;
        }
        const dns_route_target *t = &route->targets[i];
        if (host_size > 0) {
            snprintf(failure_host, host_size, "%s [%s]", t->host, t->address_text);
        }
        SOCKET s = connect_to(config, t, failure);
        if (s == INVALID_SOCKET) {
            continue;
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
        drive(o);
        if (smtp_client_state_now(o->client) == SMTP_CLIENT_READY) {
            return o;
        }
        const smtp_client_result *why = smtp_client_connection_result(o->client);
        if (why->outcome != SMTP_OUTCOME_PENDING) {
            *failure = *why;
        } else {
            connect_failure(failure, "the connection ended before the session began", 0);
        }
        outbound_close(o);
    }
    return NULL;
}

const dns_route_target *outbound_target(const outbound *o)
{
    return &o->target;
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
    if (o->socket != INVALID_SOCKET) {
        closesocket(o->socket);
    }
    smtp_client_destroy(o->client);
    free(o);
}
