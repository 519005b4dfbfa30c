/* What an SMTP session needs from the world, as the callbacks of the protocol engine
 * (smtp_host in smtp_session.h): relay decisions with the rules in force at each RCPT,
 * relay-denied events, AUTH against the account store (and Windows accounts where that is
 * allowed), the spool (every 250 after a flush) and the protocol log. No sockets: the
 * transport (net/transport.c) owns the connection and gives this layer the addresses, so
 * these callbacks can be driven by a test without a network. */
#ifndef IMSRELAY_SESSION_HOST_H
#define IMSRELAY_SESSION_HOST_H

#include <winsock2.h>
#include <ws2tcpip.h>

#include <stdbool.h>
#include <stdint.h>

#include "config/runtime.h"
#include "events/denial_events.h"
#include "net/auth_pool.h"
#include "net/client_limits.h"
#include "relay_addr.h"
#include "session_deadline.h"
#include "smtp_session.h"
#include "store/protocol_log.h"
#include "store/spool.h"

/* Shared by every session of a server; owned by the transport. */
typedef struct session_services {
    runtime *rt;
    spool *spool;
    protocol_log *protocol_log; /* NULL: no log folder */
    denial_events *denials;
    bool windows_accounts; /* Windows accounts may be used (AuthWindowsAccounts, not Wine) */
    auth_pool *auth_pool;  /* NULL: passwords are checked on the calling thread */
    client_limits *limits; /* NULL: no AUTH rate, no Tmp cap (tests without a transport) */
} session_services;

typedef struct session_host {
    const session_services *services;
    uint64_t id;
    struct sockaddr_storage peer;
    relay_addr client, local;
    char client_text[RELAY_ADDR_TEXT_MAX];
    char local_text[RELAY_ADDR_TEXT_MAX];
    runtime_snapshot *snapshot; /* limits and LocalDomains for the session's life */
    spool_message *message;     /* the message being received, if any */
    bool protocol_log;

    auth_job auth;        /* the password check in the pool, if any */
    uint64_t tmp_held;    /* bytes of the message in progress counted against the Tmp caps */
    bool storage_refused; /* the last data_begin/data_write was refused by a Tmp cap */
    uint64_t log_bytes;   /* protocol log written for this session */
    uint64_t log_dropped_lines, log_dropped_bytes; /* past ProtocolLogSessionKilobytes */
} session_host;

/* The address of a socket as the relay engine sees it (IPv4-mapped IPv6 as IPv4). */
relay_addr session_host_addr(const struct sockaddr_storage *address);

/* Fills h for a new session and takes `snapshot` (released by session_host_finish). */
void session_host_init(session_host *h, const session_services *services, uint64_t id,
                       const struct sockaddr_storage *peer, const struct sockaddr_storage *local,
                       runtime_snapshot *snapshot);

/* The slow-sender deadlines a configuration sets (IdleTimeoutSeconds,
 * CommandTimeoutSeconds, DataMinBytesPerSecond, SessionTimeoutSeconds, the stress values). */
session_deadline_limits session_host_deadlines(const regio_config *config);

/* The engine's host: callbacks with h as their context, limits from h's snapshot. */
smtp_host session_host_smtp(session_host *h);

/* A line about the session itself (connect, close, timeout) in the protocol log. */
void session_host_log_event(session_host *h, const char *what);

/* An AUTH check the engine is waiting for and that is not yet in the pool: submits it, with
 * done(ctx) to run when the verdict is in. false: nothing to submit. */
bool session_host_auth_submit(session_host *h, void (*done)(void *ctx), void *ctx);
/* A verdict from the pool: gives it to the engine. false: none was waiting. */
bool session_host_auth_deliver(session_host *h, smtp_session *engine);

/* At the end of the session: a message still open is thrown away, the snapshot released. */
void session_host_finish(session_host *h);

#endif
