/* The SMTP server protocol engine (RFC 5321, with SIZE, 8BITMIME, PIPELINING,
 * ENHANCEDSTATUSCODES, STARTTLS and AUTH PLAIN/LOGIN): bytes in, replies and actions out.
 *
 * One smtp_session per connection. No I/O, no threads, no clock: the host (Winsock layer)
 * feeds whatever bytes arrive, in any chunking, sends the output the engine produces, and
 * honours the engine's actions (delay, close). Decisions that need the world -- may this
 * recipient be relayed to, are these credentials right, is the message safely on disk --
 * are callbacks into the host. Callbacks run inside smtp_session_feed/shutdown/timeout and
 * must not call back into the same session.
 *
 * Host loop, per connection:
 *
 *     smtp_session *s = smtp_session_create(&host);      // greeting is already queued
 *     on bytes received (buf, len):
 *         size_t used = 0;
 *         do {
 *             used += smtp_session_feed(s, buf + used, len - used);
 *             smtp_output out = smtp_session_output(s);
 *             wait out.delay_ms (timer, not a blocking sleep), then send out.bytes;
 *             smtp_session_output_sent(s, out.length);   // also clears the delay
 *             if (out.close) { close the connection; break; }
 *         } while (used < len);
 *     on idle timer:  smtp_session_timeout(s);  then send the output and close
 *     on service stop: smtp_session_shutdown(s); then send the output and close
 *     smtp_session_destroy(s);
 *
 * smtp_session_feed consumes fewer bytes than offered only while output is waiting to be
 * sent (so a client that pipelines without reading cannot grow memory) or while a delay is
 * pending (so pipelined AUTH attempts are slowed one by one). After the session closed,
 * every byte is consumed and ignored.
 *
 * Memory per session is bounded by smtp_session_memory(limits) bytes, whatever the client
 * sends; buffers grow on demand towards that bound, so an idle session holds a few kilobytes
 * (smtp_session_memory_in_use). Message bodies are streamed to the host, never held whole.
 * Out of memory while growing: 452 4.3.1 for a RCPT, 421 4.3.2 (and close) for a command
 * line; a message is then written to the host in the pieces it arrives in.
 *
 * Replies (every one with an enhanced status code, RFC 3463):
 *   220 greeting; 221 2.0.0 QUIT; 250 HELO/EHLO/MAIL 2.1.0/RCPT 2.1.5/RSET NOOP 2.0.0;
 *   252 2.5.0 VRFY; 214 2.0.0 HELP; 354 DATA; 250 2.0.0 message accepted;
 *   235 2.7.0 AUTH ok; 334 AUTH challenge; 220 2.0.0 Ready to start TLS;
 *   421 4.3.2 shutting down; 421 4.4.2 idle timeout; 421 4.7.0 too many AUTH failures;
 *   451 4.3.0 host could not take or store the message; 452 4.5.3 too many recipients;
 *   452 4.3.1 host storage limit reached (storage_full), or no memory for another recipient;
 *   454 4.7.0 temporary AUTH failure;
 *   500 5.5.2 unknown command, line too long, bad line ending or characters;
 *   501 5.5.4 bad arguments; 501 5.1.7 bad sender; 501 5.1.3 bad recipient;
 *   501 5.7.0 AUTH cancelled; 501 5.5.2 undecodable AUTH response;
 *   502 5.5.1 AUTH or STARTTLS not offered; 503 5.5.1 bad sequence (STARTTLS inside TLS or
 *   in a mail transaction too); 504 5.5.4 unknown AUTH mechanism;
 *   530 5.7.0 AUTH outside TLS (unless auth_without_tls);
 *   535 5.7.8 bad credentials; 550 5.7.1 <rcpt>... relaying prohibited;
 *   550 5.6.0 bare CR or LF in the message (see smtp_data.h); 552 5.3.4 message too large;
 *   554 5.5.0 improper pipelining: bytes offered behind a DATA line in the same feed (the
 *     client did not wait for DATA's reply); the session closes, nothing is spooled;
 *   555 5.5.4 unknown MAIL/RCPT parameter.
 *
 * Pipelining (RFC 2920): commands may be sent in groups, but DATA must be the last of its
 * group. The host must therefore feed everything it has received as soon as it has it (as
 * in the loop above), so that "bytes behind DATA" means bytes the client sent before the
 * 354 could have reached it.
 *
 * Command lines end in CRLF. A line ending in a bare LF is answered 500 5.5.2 and not
 * executed (the same strictness as for message data); a NUL or bare CR inside a command
 * line likewise. A line longer than max_line_length is discarded up to its LF, then
 * answered 500 5.5.2. */
#ifndef IMSRELAY_SMTP_SESSION_H
#define IMSRELAY_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_address.h"
#include "smtp_limits.h"

#define SMTP_HOST_NAME_MAX  255 /* longer host names are cut */
#define SMTP_CLIENT_MAX     63  /* client address string */
#define SMTP_CREDENTIAL_MAX 255 /* user name and password, each, in bytes */

typedef enum smtp_relay_verdict {
    SMTP_RELAY_DENY = 0, /* 550 5.7.1; any value but ALLOW denies */
    SMTP_RELAY_ALLOW = 1,
} smtp_relay_verdict;

/* What the relay callback is asked about: one non-local recipient at RCPT time. */
typedef struct smtp_relay_query {
    const char *recipient;    /* final mailbox, source route removed */
    const char *auth_account; /* the AUTH user name, or NULL when not authenticated */
    const char *helo_name;    /* as the client gave it */
    const char *mail_from;    /* "" for the null sender */
} smtp_relay_query;

typedef enum smtp_auth_verdict {
    SMTP_AUTH_FAIL = 0,     /* 535 5.7.8, counts as a failure; any unknown value too */
    SMTP_AUTH_OK = 1,       /* 235 2.7.0 */
    SMTP_AUTH_TEMPFAIL = 2, /* 454 4.7.0 (credential store unavailable); not counted */
    /* The host checks the credentials elsewhere (a password hash is slow: it must not hold
     * the thread that serves other sessions) and gives the verdict later with
     * smtp_session_auth_result(). Until then the session reads no input and has no output. */
    SMTP_AUTH_PENDING = 3,
} smtp_auth_verdict;

typedef struct smtp_recipient {
    const char *mailbox; /* final mailbox as written, source route removed */
    bool local;          /* local (Drop) or relayed (Queue) */
} smtp_recipient;

typedef enum smtp_body_type {
    SMTP_BODY_UNSPECIFIED = 0,
    SMTP_BODY_7BIT,
    SMTP_BODY_8BITMIME,
} smtp_body_type;

/* The transaction, given to data_begin. Valid until data_end returns. */
typedef struct smtp_envelope {
    const char *helo_name;
    bool esmtp;            /* EHLO (true) or HELO */
    const char *mail_from; /* "" for the null sender <> */
    const smtp_recipient *recipients;
    size_t recipient_count;     /* >= 1 */
    const char *client_address; /* smtp_host.client_address */
    const char *auth_account;   /* NULL when not authenticated */
    smtp_body_type body;
    uint64_t declared_size; /* MAIL FROM SIZE=, 0 when not given */
} smtp_envelope;

typedef enum smtp_data_outcome {
    SMTP_DATA_COMMIT = 0, /* the message is complete and good: store it durably */
    SMTP_DATA_ABORT,      /* discard what was written (rejected, or session ended) */
} smtp_data_outcome;

typedef enum smtp_log_direction {
    SMTP_LOG_RECEIVED = 0, /* a command line from the client (credentials redacted) */
    SMTP_LOG_SENT,         /* one reply line queued for the client */
} smtp_log_direction;

typedef struct smtp_host {
    void *ctx; /* passed to every callback */

    const char *host_name;      /* for the greeting and EHLO; copied, cleaned, cut */
    const char *client_address; /* for the envelope; copied, cut at SMTP_CLIENT_MAX */
    /* Recipient domains that are local (smtp_address.h); borrowed, must stay valid for the
     * life of the session. */
    const char *const *local_domains;
    size_t local_domain_count;
    bool auth_available; /* advertise and accept AUTH PLAIN LOGIN (needs auth_check) */
    /* AUTH outside TLS too (AuthWithoutTls=1). false: AUTH is offered and accepted only
     * after STARTTLS, and outside TLS is answered 530 5.7.0, so no password crosses the
     * network in clear. */
    bool auth_without_tls;
    /* The host can run a TLS handshake (a certificate is usable): EHLO offers STARTTLS until
     * the session is inside TLS. */
    bool tls_available;
    smtp_limits limits;

    /* A recipient that is not local. NULL: every relay is denied (fail closed). */
    smtp_relay_verdict (*relay_check)(void *ctx, const smtp_relay_query *query);
    /* Credentials from AUTH. NULL: AUTH is not offered. */
    smtp_auth_verdict (*auth_check)(void *ctx, const char *user, const char *password);

    /* A message is coming (after DATA, before 354). false: 451 4.3.0, no 354. */
    bool (*data_begin)(void *ctx, const smtp_envelope *envelope);
    /* Message bytes, dot-unstuffing done, CRLF line ends, terminator not included; in
     * pieces of any size. false: the message will be refused with 451 4.3.0. */
    bool (*data_write)(void *ctx, const uint8_t *bytes, size_t len);
    /* The end of the message. For COMMIT, return true only when the message is durably
     * stored (flushed): the engine then answers 250, otherwise 451 4.3.0. The result of
     * ABORT is ignored. Called exactly once after every successful data_begin. */
    bool (*data_end)(void *ctx, smtp_data_outcome outcome);
    /* Optional: after data_begin or data_write returned false, true when the reason is a
     * storage limit of the host (disk held by messages in progress): the reply is then
     * 452 4.3.1 (insufficient system storage) instead of 451 4.3.0. */
    bool (*storage_full)(void *ctx);

    /* Protocol log, optional. One call per command line received (without CRLF; bytes as
     * received, which may include any byte but LF: escape them when writing), and one per
     * reply line queued. AUTH credentials never reach it: "AUTH PLAIN <redacted>" and
     * "<redacted>" for response lines. */
    void (*protocol_log)(void *ctx, smtp_log_direction direction, const char *line, size_t len);
} smtp_host;

typedef struct smtp_session smtp_session;

/* What the host must do next. */
typedef struct smtp_output {
    const uint8_t *bytes; /* reply lines to send, in order */
    size_t length;
    uint32_t delay_ms; /* wait this long before sending them (failed AUTH) */
    bool close;        /* close the connection once these bytes are sent */
    /* Once these bytes (the 220 to STARTTLS) are sent, run the TLS handshake (server side);
     * when it is done call smtp_session_tls_started(); when it fails, close. Every byte the
     * client sent in clear after the STARTTLS line is thrown away: the engine consumes and
     * ignores whatever is fed until then, and the host must put nothing that arrived before
     * the handshake into it (RFC 3207 section 6, the command injection of CVE-2011-0411). */
    bool start_tls;
} smtp_output;

/* A new session with the 220 greeting queued. The host struct is copied (the strings it
 * points to are copied too, except local_domains). NULL when out of memory. */
smtp_session *smtp_session_create(const smtp_host *host);
void smtp_session_destroy(smtp_session *session); /* aborts a message in progress */

/* Bytes from the client. Returns how many were consumed (see the loop above). */
size_t smtp_session_feed(smtp_session *session, const void *bytes, size_t len);

smtp_output smtp_session_output(const smtp_session *session);
/* n bytes of the output were sent; the pending delay, if any, has been honoured. */
void smtp_session_output_sent(smtp_session *session, size_t n);

/* The verdict of an AUTH the host answered SMTP_AUTH_PENDING (anything else but OK and
 * TEMPFAIL is a failure, counted and delayed like any other). Ignored when no verdict is
 * awaited (the session was closed meanwhile). */
void smtp_session_auth_result(smtp_session *session, smtp_auth_verdict verdict);
/* An AUTH verdict is awaited: the host must not feed, and resumes the session after
 * smtp_session_auth_result(). */
bool smtp_session_auth_pending(const smtp_session *session);

/* The TLS handshake the output asked for (start_tls) is done: the session starts afresh
 * inside TLS, as RFC 3207 asks: no HELO/EHLO, no transaction, not authenticated, nothing
 * left of a partial command line. No reply is queued (the client speaks first, with EHLO).
 * Ignored unless a handshake was asked for. */
void smtp_session_tls_started(smtp_session *session);
/* The session runs inside TLS (after smtp_session_tls_started). */
bool smtp_session_tls_active(const smtp_session *session);

/* The service is stopping: 421 4.3.2, abort a message in progress, close. */
void smtp_session_shutdown(smtp_session *session);
/* The client was idle too long: 421 4.4.2, abort a message in progress, close. */
void smtp_session_timeout(smtp_session *session);
/* The same for another deadline: 421 4.4.2 with `why` (e.g. "Message data too slow"; cut
 * to printable ASCII and bounded) instead of "Idle timeout". */
void smtp_session_timeout_because(smtp_session *session, const char *why);

/* State the host may want (for the event log, the Received: line, counters). */
bool smtp_session_closed(const smtp_session *session);
const char *smtp_session_auth_account(const smtp_session *session); /* NULL if none */
const char *smtp_session_helo_name(const smtp_session *session);    /* "" before HELO */
bool smtp_session_in_data(const smtp_session *session); /* between 354 and the final dot */

/* The most memory a session with these limits can hold, in bytes. */
size_t smtp_session_memory(const smtp_limits *limits);
/* The memory the session holds now, in bytes (never more than smtp_session_memory). */
size_t smtp_session_memory_in_use(const smtp_session *session);

#endif
