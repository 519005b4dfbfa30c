/* One SMTP connection to one destination, driving the portable client engine
 * (core/delivery/smtp_client.h) with Winsock: blocking sockets with select() timeouts on a
 * delivery thread of the queue manager (MaxOutboundConnections bounds those threads; the
 * server side keeps its IOCP). Several messages go over one connection, one after another.
 *
 * Timeouts are shorter than RFC 5321 4.5.3.2's minimums, documented in README.md: 30 s to
 * connect, 60 s for the greeting and for each command's reply and each write, 10 min for
 * the reply to the end of data (the server may be filtering the message then).
 * `abort` (an event) ends the conversation at once: a stop that ran out of patience.
 *
 * TLS (core/delivery/tls_policy.h decides, service/tls/tls_session.h does it): implicit TLS
 * from the first byte, or STARTTLS after the first EHLO and EHLO again inside; then, for a
 * smart host with an account, AUTH PLAIN or LOGIN inside TLS only. A TLS or login that is
 * required and fails ends the attempt with that target as DEFERRED (4.7.x) and the reason;
 * nothing of the mail is sent in clear instead. */
#ifndef IMSRELAY_OUTBOUND_H
#define IMSRELAY_OUTBOUND_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

#include "delivery/dns_route.h"
#include "smtp_client.h"
#include "tls_policy.h"

#define OUTBOUND_CONNECT_TIMEOUT_MS  30000u
#define OUTBOUND_COMMAND_TIMEOUT_MS  60000u
#define OUTBOUND_DATA_END_TIMEOUT_MS 600000u

typedef struct outbound outbound;

typedef struct outbound_config {
    const char *helo_name;
    HANDLE abort; /* manual-reset event; NULL: never */
    tls_policy_mode tls;
    /* AUTH at the smart host: NULL or "" user, no login. password NULL: none is stored
     * (a configured account then defers). Borrowed; wiped by the caller after open. */
    const char *auth_user;
    const char *auth_password;
} outbound_config;

/* What the connection's TLS is: for the delivery log and the journal. */
typedef struct outbound_tls_info {
    bool used;
    bool verified;
    char protocol[16];
    char cipher[80];
} outbound_tls_info;

/* Connects to the route's targets in order until one greets, takes EHLO/HELO, and TLS and
 * the login are as config wants. NULL when none did: *failure says why the last one failed
 * (outcome DEFERRED, or FAILED for a 5xx greeting), failure_host names it ("" when no
 * target was tried), *failure_tls says what TLS that attempt had. */
outbound *outbound_open(const outbound_config *config, const dns_route_result *route,
                        smtp_client_result *failure, char *failure_host, size_t host_size,
                        outbound_tls_info *failure_tls);

/* The target the connection reached. */
const dns_route_target *outbound_target(const outbound *connection);

/* The connection's TLS (used false: clear text). */
const outbound_tls_info *outbound_tls(const outbound *connection);

typedef enum outbound_sent {
    OUTBOUND_SENT,     /* results final, the connection takes another message */
    OUTBOUND_CLOSED,   /* results final, the connection is gone */
    OUTBOUND_NOT_SENT, /* the engine did not take the message: no results */
} outbound_sent;

/* Sends one message and returns when every recipient has its result
 * (smtp_client_recipient_result(outbound_client(c), i)). */
outbound_sent outbound_send(outbound *connection, const smtp_client_message *message);

const smtp_client *outbound_client(const outbound *connection);

/* QUIT when the session is still up, then closes. */
void outbound_close(outbound *connection);

#endif
