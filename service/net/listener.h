/* The SMTP listening sockets: one per configured address (ListenAddresses, ListenPort; by
 * default all IPv4 and all IPv6 addresses), and one thread that accepts connections and
 * hands each to the session layer. */
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
 * accept: owns `s` from then on (blocking mode, no event selection). peer is the client's
 *   address, local the address it connected to (for RelayLocalIPList). Runs on the accept
 *   thread: queue the work and return quickly.
 * drain: called once when the service stops, after the listeners are closed: let the
 *   sessions in progress finish, and cut those still running after timeout_ms. May be NULL. */
typedef struct listener_handler {
    void (*accept)(void *ctx, SOCKET s, const struct sockaddr_storage *peer,
                   const struct sockaddr_storage *local);
    void (*drain)(void *ctx, DWORD timeout_ms);
    void *ctx;
} listener_handler;

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

/* Starts accepting on a thread of its own; false when that thread cannot start. */
bool listener_start(listener *l, const listener_handler *handler);

/* Stops accepting and closes the sockets (accepted connections are the handler's). */
void listener_close(listener *l);

#endif
