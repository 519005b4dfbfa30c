#include "net/listener.h"

#include <mswsock.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/eventlog.h"
#include "common/win_text.h"

/* Accepts posted per listening socket. A connection that arrives while none is posted
 * waits in the backlog until one is; under Wine 8 that path costs more than a connection
 * arriving on a posted accept: with 1,000 clients reconnecting at once, 4 posted took 3.5-3.9
 * ms of CPU a message, 32 took 3.0-4.0, 128 took 2.5-2.7 (docs/wine-notes.md). A posted accept
 * holds a socket and about 300 bytes. */
#define ACCEPTS_PER_SOCKET 128
/* An accept that could not be posted (no socket left: WSAEMFILE, WSAENOBUFS) is retried
 * this often, so that the listener never ends up with none posted. */
#define REPOST_PERIOD_MS 1000
/* At stop, how long to wait for the cancelled accepts to complete. */
#define CANCEL_WAIT_MS 5000
/* AcceptEx wants 16 bytes more than the largest address, for each of the two addresses. */
#define ACCEPT_ADDRESS_BYTES (sizeof(struct sockaddr_storage) + 16)

typedef struct accept_slot {
    OVERLAPPED overlapped; /* first: a completion's OVERLAPPED* is the slot */
    struct listener *owner;
    size_t socket_index;
    SOCKET accepted; /* the socket the posted accept fills; INVALID_SOCKET when idle */
    bool posted;     /* guarded by the listener's lock */
    uint8_t addresses[2 * ACCEPT_ADDRESS_BYTES];
} accept_slot;

struct listener {
    SOCKET sockets[LISTENER_MAX_SOCKETS];
    int families[LISTENER_MAX_SOCKETS];
    LPFN_ACCEPTEX accept_ex[LISTENER_MAX_SOCKETS];
    LPFN_GETACCEPTEXSOCKADDRS accept_addresses[LISTENER_MAX_SOCKETS];
    size_t count;
    listener_handler handler;
    char description[LISTENER_MAX_SOCKETS * 56];

    accept_slot *slots; /* ACCEPTS_PER_SOCKET per listening socket */
    size_t slot_count;
    HANDLE repost_timer;
    SRWLOCK lock;
    size_t outstanding; /* accepts posted whose completion has not been taken */
    size_t handing;     /* connections being handed over (handler.accept running) */
    bool stopping;
    HANDLE all_completed; /* manual-reset, set when stopping and nothing outstanding */
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
    GUID accept_ex_id = WSAID_ACCEPTEX, addresses_id = WSAID_GETACCEPTEXSOCKADDRS;
    LPFN_ACCEPTEX accept_ex = NULL;
    LPFN_GETACCEPTEXSOCKADDRS accept_addresses = NULL;
    DWORD got = 0;
    if (bind(s, ai->ai_addr, (int)ai->ai_addrlen) != 0 || listen(s, LISTENER_BACKLOG) != 0 ||
        WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &accept_ex_id, sizeof(accept_ex_id),
                 &accept_ex, sizeof(accept_ex), &got, NULL, NULL) != 0 ||
        WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &addresses_id, sizeof(addresses_id),
                 &accept_addresses, sizeof(accept_addresses), &got, NULL, NULL) != 0 ||
        !accept_ex || !accept_addresses) {
        int error = WSAGetLastError();
        closesocket(s);
        return error ? error : WSAEINVAL;
    }
    struct sockaddr_storage bound;
    int bound_len = sizeof(bound);
    if (getsockname(s, (struct sockaddr *)&bound, &bound_len) == 0) {
        describe(l, (struct sockaddr *)&bound, (socklen_t)bound_len);
    }
    l->sockets[l->count] = s;
    l->families[l->count] = ai->ai_family;
    l->accept_ex[l->count] = accept_ex;
    l->accept_addresses[l->count] = accept_addresses;
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
    InitializeSRWLock(&l->lock);
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

/* Called with the lock held. */
static void signal_if_done(listener *l)
{
    if (l->stopping && l->outstanding == 0 && l->handing == 0) {
        SetEvent(l->all_completed);
    }
}

/* Posts the slot's accept unless it is posted already or the listener is stopping. The
 * lock is held only to take the slot: creating a socket and posting the accept are requests
 * to wineserver under Wine, which the other workers must not wait for. When the accept
 * cannot be posted (no socket left: WSAEMFILE, WSAENOBUFS) the slot stays idle and the
 * repost timer tries again. */
static void post_accept(listener *l, accept_slot *slot)
{
    AcquireSRWLockExclusive(&l->lock);
    bool take = !l->stopping && !slot->posted;
    if (take) {
        slot->posted = true;
        l->outstanding++;
    }
    ReleaseSRWLockExclusive(&l->lock);
    if (!take) {
        return;
    }
    size_t i = slot->socket_index;
    SOCKET s = WSASocketW(l->families[i], SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s != INVALID_SOCKET) {
        memset(&slot->overlapped, 0, sizeof(slot->overlapped));
        slot->accepted = s;
        /* No initial receive: the server speaks first. */
        DWORD received = 0;
        if (l->accept_ex[i](l->sockets[i], s, slot->addresses, 0, ACCEPT_ADDRESS_BYTES,
                            ACCEPT_ADDRESS_BYTES, &received, &slot->overlapped) ||
            WSAGetLastError() == ERROR_IO_PENDING) {
            return; /* its completion comes through the port */
        }
        slot->accepted = INVALID_SOCKET;
        closesocket(s);
    }
    /* Failed at once: no completion will come. */
    AcquireSRWLockExclusive(&l->lock);
    slot->posted = false;
    l->outstanding--;
    signal_if_done(l);
    ReleaseSRWLockExclusive(&l->lock);
}

static void CALLBACK repost(void *param, BOOLEAN fired)
{
    (void)fired;
    listener *l = param;
    for (size_t k = 0; k < l->slot_count; k++) {
        post_accept(l, &l->slots[k]);
    }
}

static void copy_address(struct sockaddr_storage *out, const struct sockaddr *sa, int len)
{
    memset(out, 0, sizeof(*out));
    if (sa && len > 0) {
        memcpy(out, sa, (size_t)len < sizeof(*out) ? (size_t)len : sizeof(*out));
    }
}

void listener_completed(OVERLAPPED *overlapped, DWORD error)
{
    accept_slot *slot = (accept_slot *)overlapped;
    listener *l = slot->owner;
    size_t i = slot->socket_index;
    SOCKET s = slot->accepted;
    slot->accepted = INVALID_SOCKET;
    /* Read before the slot is given up: its next accept reuses the buffer. */
    struct sockaddr_storage peer, local;
    if (!error) {
        struct sockaddr *local_sa = NULL, *peer_sa = NULL;
        int local_len = 0, peer_len = 0;
        l->accept_addresses[i](slot->addresses, 0, ACCEPT_ADDRESS_BYTES, ACCEPT_ADDRESS_BYTES,
                               &local_sa, &local_len, &peer_sa, &peer_len);
        copy_address(&local, local_sa, local_len);
        copy_address(&peer, peer_sa, peer_len);
    }
    AcquireSRWLockExclusive(&l->lock);
    slot->posted = false;
    l->outstanding--;
    bool stopping = l->stopping;
    if (!stopping) {
        l->handing++; /* listener_close waits until this connection is handed over */
    }
    signal_if_done(l);
    ReleaseSRWLockExclusive(&l->lock);
    if (stopping) {
        closesocket(s);
        return;
    }
    /* The slot takes the next connection while this one is handed over. */
    post_accept(l, slot);
    /* Without SO_UPDATE_ACCEPT_CONTEXT the socket knows neither its addresses nor that it
     * is connected (getpeername, shutdown). An error: the client went away before it was
     * accepted. */
    SOCKET listening = l->sockets[i];
    if (error ||
        setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&listening,
                   sizeof(listening)) != 0 ||
        local.ss_family == 0 || peer.ss_family == 0) {
        closesocket(s);
    } else {
        l->handler.accept(l->handler.ctx, s, &peer, &local);
    }
    AcquireSRWLockExclusive(&l->lock);
    l->handing--;
    signal_if_done(l);
    ReleaseSRWLockExclusive(&l->lock);
}

bool listener_start(listener *l, const listener_handler *handler)
{
    l->handler = *handler;
    l->all_completed = CreateEventW(NULL, TRUE, FALSE, NULL);
    l->slot_count = l->count * ACCEPTS_PER_SOCKET;
    l->slots = calloc(l->slot_count, sizeof(*l->slots));
    if (!l->all_completed || !l->slots) {
        return false;
    }
    for (size_t i = 0; i < l->count; i++) {
        if (!CreateIoCompletionPort((HANDLE)l->sockets[i], handler->port, LISTENER_COMPLETION_KEY,
                                    0)) {
            return false;
        }
    }
    for (size_t k = 0; k < l->slot_count; k++) {
        accept_slot *slot = &l->slots[k];
        slot->owner = l;
        slot->socket_index = k / ACCEPTS_PER_SOCKET;
        slot->accepted = INVALID_SOCKET;
    }
    for (size_t k = 0; k < l->slot_count; k++) {
        post_accept(l, &l->slots[k]);
    }
    AcquireSRWLockExclusive(&l->lock);
    size_t posted = l->outstanding;
    ReleaseSRWLockExclusive(&l->lock);
    if (posted == 0 || !CreateTimerQueueTimer(&l->repost_timer, NULL, repost, l, REPOST_PERIOD_MS,
                                              REPOST_PERIOD_MS, 0)) {
        l->repost_timer = NULL;
        return false;
    }
    return true;
}

void listener_close(listener *l)
{
    if (!l) {
        return;
    }
    if (l->repost_timer) {
        DeleteTimerQueueTimer(NULL, l->repost_timer, INVALID_HANDLE_VALUE);
    }
    AcquireSRWLockExclusive(&l->lock);
    l->stopping = true;
    bool pending = l->outstanding > 0 || l->handing > 0;
    for (size_t i = 0; i < l->count && pending; i++) {
        CancelIoEx((HANDLE)l->sockets[i], NULL);
    }
    ReleaseSRWLockExclusive(&l->lock);
    /* Closing the listening sockets completes what the cancel did not. */
    close_sockets(l);
    if (pending && WaitForSingleObject(l->all_completed, CANCEL_WAIT_MS) != WAIT_OBJECT_0) {
        /* A completion may still come and name a slot: the memory stays (the service is
         * about to exit). */
        return;
    }
    if (l->all_completed) {
        CloseHandle(l->all_completed);
    }
    free(l->slots);
    free(l);
}
