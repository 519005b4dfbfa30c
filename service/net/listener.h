/* The SMTP listening sockets: one per configured address (ListenAddresses, ListenPort; by
 * default all IPv4 and all IPv6 addresses), accepting with AcceptEx through the session
 * layer's completion port: several accepts stay posted on each socket, each re-posted as its
 * connection is handed over. */
#ifndef IMSRELAY_LISTENER_H
#define IMSRELAY_LISTENER_H

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/svc_status.h"

#define LISTENER_MAX_SOCKETS 32
#define LISTENER_BACKLOG     SOMAXCONN

/* Where accepted connections go. The session layer provides one.
 * port: the completion port on which the accepts are posted, with LISTENER_COMPLETION_KEY;
 *   whoever takes completions from it gives those to listener_completed.
 * accept: owns `s` from then on (blocking mode, overlapped, not yet on any completion
 *   port). peer is the client's address, local the address it connected to (for
 *   RelayLocalIPList). Runs on the thread that took the completion: return quickly.
 * drain: called once when the service stops, after the listeners are closed: let the
 *   sessions in progress finish, and cut those still running after timeout_ms. May be NULL. */
typedef struct listener_handler {
    void (*accept)(void *ctx, SOCKET s, const struct sockaddr_storage *peer,
                   const struct sockaddr_storage *local);
    void (*drain)(void *ctx, DWORD timeout_ms);
    void *ctx;
    HANDLE port;
} listener_handler;

/* The completion key of the listening sockets on the handler's port. */
#define LISTENER_COMPLETION_KEY ((ULONG_PTR)0x4c53544e)

typedef struct listener listener;

/* Opens and binds every listening socket. addresses: numeric IPv4/IPv6 addresses, UTF-8
 * (blank lines and '#' comments skipped; brackets around IPv6 allowed), or NULL for all
 * addresses of both families (ListenAddresses absent). Each failure is reported (an event);
 * then NULL is returned with *exit set: SVC_EXIT_LISTEN_FAILED for an address that cannot
 * be used, SVC_EXIT_NO_LISTENER for a list without any address. Winsock must be started. */
listener *listener_open(const char *const *addresses, size_t count, uint16_t port,
                        enum svc_exit *exit);

/* "0.0.0.0:25, [::]:25": what the listener is bound to, for the started event. */
const char *listener_describe(const listener *l);

/* Posts the accepts on handler->port; false when none can be posted (then listener_close). */
bool listener_start(listener *l, const listener_handler *handler);

/* A completion with LISTENER_COMPLETION_KEY from the handler's port: error is the Windows
 * error of a failed accept, 0 when it succeeded. Hands the connection to handler->accept
 * and posts the next accept. */
void listener_completed(OVERLAPPED *overlapped, DWORD error);

/* Stops accepting: cancels the posted accepts, waits until their completions have been
 * taken and every connection accepted before has been handed over (the port's threads must
 * still be running: no handler.accept runs after this returns), closes the sockets
 * (accepted connections are the handler's). */
void listener_close(listener *l);

#endif
