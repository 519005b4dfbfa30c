/* The SMTP transport: every accepted connection served by the SMTP protocol engine
 * (core/smtp) on an I/O completion port with a small pool of worker threads, so that
 * thousands of idle sessions cost no thread each and a slow client holds up nobody. It owns
 * the sockets, the receive buffers, the AUTH delay timers, idle timeouts, connection limits
 * and the bounded drain at stop in which no acknowledged message is lost; what a session
 * needs from the world (relay decisions, events, AUTH, spool, protocol log) is
 * net/session_host.h. */
#ifndef IMSRELAY_TRANSPORT_H
#define IMSRELAY_TRANSPORT_H

#include <stdbool.h>

#include "net/listener.h"
#include "config/runtime.h"
#include "store/spool.h"

typedef struct transport transport;

/* Opens the spool and the protocol log under MailRoot and starts the workers, with the
 * snapshot in force. NULL with *exit set (and an event written) when it cannot. */
transport *transport_create(runtime *rt, enum svc_exit *exit);

/* The handler to give listener_start(); its drain is transport_drain. */
const listener_handler *transport_handler(transport *server);

/* The spool the sessions write into (the queue manager hooks onto it to hear of new mail). */
spool *transport_spool(transport *server);

/* Stops serving: idle sessions are told 421 and closed at once, a session receiving a
 * message may finish it (and gets its 250) within timeout_ms; then whatever is left is
 * cut, and nothing that was not acknowledged is kept. */
void transport_drain(transport *server, DWORD timeout_ms);

/* After the drain. */
void transport_destroy(transport *server);

#endif
