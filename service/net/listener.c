#include "net/listener.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/eventlog.h"
#include "common/win_text.h"

struct listener {
    SOCKET sockets[LISTENER_MAX_SOCKETS];
    WSAEVENT events[LISTENER_MAX_SOCKETS];
    size_t count;
    HANDLE stop;
    HANDLE thread;
    listener_handler handler;
    char description[LISTENER_MAX_SOCKETS * 56];
};

static void report_failure(const char *address, uint16_t port, int error)
{
    char port_text[8];
    char code[16];
    char reason[256];
    snprintf(port_text, sizeof(port_text), "%u", (unsigned)port);
    snprintf(code, sizeof(code), "%d", error);
    if (error == WSAEADDRINUSE) {
        snprintf(reason, sizeof(reason),
                 "the port is already in use by another program (netstat -ano shows which)");
    } else if (error == WSAEADDRNOTAVAIL) {
        snprintf(reason, sizeof(reason), "this computer has no such address");
    } else if (error == WSAEACCES) {
        snprintf(reason, sizeof(reason), "access to the port was refused");
    } else {
        win_text_error((unsigned long)error, reason, sizeof(reason));
    }
    eventlog_write(MSG_LISTENER_FAILED, address, port_text, reason, code, NULL);
}

/* A list line as the administrator wrote it, without surrounding blanks and brackets. */
static bool address_text(const char *line, char *out, size_t size)
{
    while (*line == ' ' || *line == '\t') {
        line++;
    }
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t')) {
        len--;
    }
    if (len == 0 || line[0] == '#') {
        return false;
    }
    if (len >= 2 && line[0] == '[' && line[len - 1] == ']') {
        line++;
        len -= 2;
    }
    if (len >= size) {
        len = size - 1;
    }
    memcpy(out, line, len);
    out[len] = '\0';
    return true;
}

static void describe(listener *l, const struct sockaddr *sa, socklen_t len)
{
    char host[INET6_ADDRSTRLEN + 2];
    char port[8];
    if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return;
    }
    size_t used = strlen(l->description);
    snprintf(l->description + used, sizeof(l->description) - used,
             sa->sa_family == AF_INET6 ? "%s[%s]:%s" : "%s%s:%s", used ? ", " : "", host, port);
}

/* Opens one socket; returns 0 or the Winsock error. */
static int open_one(listener *l, const struct addrinfo *ai)
{
    if (l->count == LISTENER_MAX_SOCKETS) {
        return WSAEMFILE;
    }
    SOCKET s = WSASocketW(ai->ai_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        return WSAGetLastError();
    }
    BOOL on = TRUE;
    /* Nobody else may take over our port while we run. Best effort: not every stack has it. */
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&on, sizeof(on));
    if (ai->ai_family == AF_INET6) {
        /* IPv4 has its own socket: keep them apart so both can bind the same port. */
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&on, sizeof(on));
    }
    WSAEVENT event = WSACreateEvent();
    if (bind(s, ai->ai_addr, (int)ai->ai_addrlen) != 0 || listen(s, LISTENER_BACKLOG) != 0 ||
        event == WSA_INVALID_EVENT || WSAEventSelect(s, event, FD_ACCEPT) != 0) {
        int error = WSAGetLastError();
        if (event != WSA_INVALID_EVENT) {
            WSACloseEvent(event);
        }
        closesocket(s);
        return error ? error : WSAEINVAL;
    }
    struct sockaddr_storage bound;
    int bound_len = sizeof(bound);
    if (getsockname(s, (struct sockaddr *)&bound, &bound_len) == 0) {
        describe(l, (struct sockaddr *)&bound, (socklen_t)bound_len);
    }
    l->sockets[l->count] = s;
    l->events[l->count] = event;
    l->count++;
    return 0;
}

static struct addrinfo *resolve(const char *address, uint16_t port, int family, int *error)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    char port_text[8];
    snprintf(port_text, sizeof(port_text), "%u", (unsigned)port);
    struct addrinfo *result = NULL;
    *error = getaddrinfo(address, port_text, &hints, &result);
    return *error ? NULL : result;
}

static void close_sockets(listener *l)
{
    for (size_t i = 0; i < l->count; i++) {
        closesocket(l->sockets[i]);
        WSACloseEvent(l->events[i]);
    }
    l->count = 0;
}

listener *listener_open(const char *const *addresses, size_t count, uint16_t port,
                        enum svc_exit *exit)
{
    listener *l = calloc(1, sizeof(*l));
    if (!l) {
        *exit = SVC_EXIT_OUT_OF_MEMORY;
        return NULL;
    }
    bool failed = false;
    size_t configured = 0;
    for (size_t i = 0; i < count; i++) {
        char address[INET6_ADDRSTRLEN + 64];
        if (!address_text(addresses[i], address, sizeof(address))) {
            continue;
        }
        configured++;
        int error;
        struct addrinfo *ai = resolve(address, port, AF_UNSPEC, &error);
        if (!ai) {
            report_failure(address, port, error);
            failed = true;
            continue;
        }
        error = open_one(l, ai);
        freeaddrinfo(ai);
        if (error) {
            report_failure(address, port, error);
            failed = true;
        }
    }
    if (addresses && configured == 0) {
        eventlog_write(MSG_CONFIG_ERROR, "ListenAddresses", "0", "",
                       "holds no address, only blank or comment lines: there is nothing to "
                       "listen on (delete the value to listen on every address)",
                       NULL);
    } else if (!addresses) {
        /* All IPv4 and all IPv6 addresses. A machine without IPv6 is served on IPv4 only;
         * a port taken on either family is a failure. */
        static const struct {
            const char *address;
            int family;
        } any[] = {{"0.0.0.0", AF_INET}, {"::", AF_INET6}};
        for (size_t i = 0; i < 2; i++) {
            int error;
            struct addrinfo *ai = resolve(any[i].address, port, any[i].family, &error);
            if (ai) {
                error = open_one(l, ai);
                freeaddrinfo(ai);
            }
            bool no_family = error == WSAEAFNOSUPPORT || error == EAI_FAMILY ||
                             error == WSAEPROTONOSUPPORT || error == WSAEADDRNOTAVAIL;
            if (error && !(any[i].family == AF_INET6 && no_family)) {
                report_failure(any[i].address, port, error);
                failed = true;
            }
        }
    }
    if (failed || l->count == 0) {
        *exit = failed ? SVC_EXIT_LISTEN_FAILED : SVC_EXIT_NO_LISTENER;
        close_sockets(l);
        free(l);
        return NULL;
    }
    *exit = SVC_EXIT_OK;
    return l;
}

const char *listener_describe(const listener *l)
{
    return l->description;
}

static void hand_over(listener *l, SOCKET listening)
{
    for (;;) {
        struct sockaddr_storage peer;
        int peer_len = sizeof(peer);
        SOCKET s = accept(listening, (struct sockaddr *)&peer, &peer_len);
        if (s == INVALID_SOCKET) {
            return; /* WSAEWOULDBLOCK: all taken; anything else: the client is gone */
        }
        /* An accepted socket inherits the event selection and non-blocking mode: give the
         * session layer a plain socket. */
        WSAEventSelect(s, NULL, 0);
        u_long blocking = 0;
        ioctlsocket(s, FIONBIO, &blocking);
        struct sockaddr_storage local;
        int local_len = sizeof(local);
        if (getsockname(s, (struct sockaddr *)&local, &local_len) != 0) {
            closesocket(s);
            continue;
        }
        l->handler.accept(l->handler.ctx, s, &peer, &local);
    }
}

#define ACCEPT_POLL_MS 50

static DWORD WINAPI accept_thread(void *arg)
{
    listener *l = arg;
    HANDLE waits[LISTENER_MAX_SOCKETS + 1];
    waits[0] = l->stop;
    for (size_t i = 0; i < l->count; i++) {
        waits[i + 1] = l->events[i];
    }
    for (;;) {
        /* Under Wine 8 the FD_ACCEPT event is sometimes never signalled again (under load,
         * connections then wait in the backlog for ever, even after WSAEventSelect is
         * called anew): every ACCEPT_POLL_MS the backlog is also drained without it. */
        DWORD r = WaitForMultipleObjects((DWORD)l->count + 1, waits, FALSE, ACCEPT_POLL_MS);
        if (r == WAIT_OBJECT_0 || r == WAIT_FAILED) {
            return 0;
        }
        if (r == WAIT_TIMEOUT) {
            for (size_t k = 0; k < l->count; k++) {
                hand_over(l, l->sockets[k]);
            }
            continue;
        }
        size_t i = r - WAIT_OBJECT_0 - 1;
        if (i >= l->count) {
            return 0;
        }
        WSANETWORKEVENTS what;
        WSAEnumNetworkEvents(l->sockets[i], l->events[i], &what);
        hand_over(l, l->sockets[i]);
    }
}

bool listener_start(listener *l, const listener_handler *handler)
{
    l->handler = *handler;
    l->stop = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!l->stop) {
        return false;
    }
    l->thread = CreateThread(NULL, 0, accept_thread, l, 0, NULL);
    return l->thread != NULL;
}

void listener_close(listener *l)
{
    if (!l) {
        return;
    }
    if (l->thread) {
        SetEvent(l->stop);
        WaitForSingleObject(l->thread, INFINITE);
        CloseHandle(l->thread);
    }
    if (l->stop) {
        CloseHandle(l->stop);
    }
    close_sockets(l);
    free(l);
}
