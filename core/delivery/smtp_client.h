/* The SMTP client protocol engine for outbound delivery (RFC 5321; PIPELINING RFC 2920,
 * SIZE RFC 1870, 8BITMIME RFC 6152, ENHANCEDSTATUSCODES RFC 2034, STARTTLS RFC 3207, AUTH
 * PLAIN/LOGIN RFC 4954): server bytes in, bytes to write and per-recipient results out.
 *
 * One smtp_client per connection to one destination; it delivers one message after another
 * over it. No I/O, no threads, no clock: the I/O layer (Winsock) connects, feeds whatever
 * bytes arrive in any chunking, writes what the engine produces, runs the timer the engine
 * names, and tells the engine when the connection died or the timer fired.
 *
 * I/O layer loop, per connection:
 *
 *     smtp_client *c = smtp_client_create(&config);
 *     connect; on failure: smtp_client_connection_lost(c) and read the results (stage
 *         SMTP_STAGE_CONNECT), or simply try the next host.
 *     loop:
 *         switch (smtp_client_state(c)):
 *         READY:     give the next message (smtp_client_send), or smtp_client_quit(c);
 *                    the previous message's results are final here (see below)
 *         TLS_START: run the TLS handshake, then smtp_client_tls_started(c) (or give up:
 *                    smtp_client_connection_lost)
 *         BUSY, CLOSED: nothing to decide
 *         out = smtp_client_output(c);           // also pulls message body as room allows
 *         write out.bytes; smtp_client_output_sent(c, bytes written);
 *         if (out.close && everything was written) close the socket, stop
 *         arm the timer: smtp_client_default_timeout_ms(smtp_client_waiting_for(c))
 *         on bytes received: smtp_client_feed(c, buf, len)
 *         on EOF or socket error: smtp_client_connection_lost(c)
 *         on timer: smtp_client_timeout(c)
 *     smtp_client_destroy(c);
 *
 * Results: for every recipient of a message exactly one outcome -- delivered (2xx to the
 * end of data), failed (a 5xx that decided it, or a local reason that can never succeed),
 * deferred (a 4xx, or anything that ended the attempt before a final answer: connection
 * lost, timeout, malformed reply, 421) -- with the stage and the reply that decided it.
 * Results are final when the state is READY or CLOSED. A recipient deferred at stage
 * SMTP_STAGE_END_OF_DATA with code 0 had its whole message sent, dot included, without
 * an answer: the server may have taken it (the "delivered at most once more" window).
 *
 * Message body: pulled from the caller through read_body, in pieces, while the output
 * buffer has room; never held whole. The engine dot-stuffs it, turns every bare CR and
 * bare LF into CRLF (so the receiving server sees exactly the lines we mean, and no byte
 * sequence in a message can end it early or smuggle a second one), adds a CRLF if the body
 * does not end with one, then sends "." CRLF.
 *
 * Memory per client is fixed at creation (smtp_client_memory(config)): no allocation
 * proportional to the message or to anything the server sends. */
#ifndef IMSRELAY_SMTP_CLIENT_H
#define IMSRELAY_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_reply.h"

#define SMTP_CLIENT_NAME_MAX 255u /* our EHLO name */
#define SMTP_CLIENT_ADDRESS_MAX                                                                    \
    254u /* sender or recipient, without the <> (RFC 5321 4.5.3.1.3)                               \
          */
#define SMTP_CLIENT_CREDENTIAL_MAX         255u   /* AUTH user name and password, each */
#define SMTP_CLIENT_TEXT_MAX               512u   /* result text kept */
#define SMTP_CLIENT_OUTPUT_MAX             16384u /* output buffer */
#define SMTP_CLIENT_DEFAULT_MAX_RECIPIENTS 100u
#define SMTP_CLIENT_MAX_RECIPIENTS_LIMIT   1000u

typedef struct smtp_client_config {
    const char *helo_name;   /* our host name for EHLO/HELO; copied; 1..255 printable bytes */
    uint32_t max_recipients; /* per message; 0 = default 100, clamped to 1..1000 */
} smtp_client_config;

typedef enum smtp_client_state {
    SMTP_CLIENT_BUSY = 0,  /* working: write the output, feed the replies */
    SMTP_CLIENT_READY,     /* session up, no message in progress */
    SMTP_CLIENT_TLS_START, /* the server said 220 to STARTTLS: start TLS now */
    SMTP_CLIENT_CLOSED,    /* done: write what output is left, then close */
} smtp_client_state;

/* Where in the conversation something was decided (or the connection was lost). */
typedef enum smtp_client_stage {
    SMTP_STAGE_NONE = 0,
    SMTP_STAGE_CONNECT,     /* before the server sent a single byte */
    SMTP_STAGE_GREETING,    /* the 220 */
    SMTP_STAGE_EHLO,        /* EHLO, and HELO after a refused EHLO */
    SMTP_STAGE_STARTTLS,    /* STARTTLS and the EHLO after it */
    SMTP_STAGE_AUTH,        /* AUTH */
    SMTP_STAGE_RSET,        /* RSET before a further message */
    SMTP_STAGE_MAIL,        /* MAIL FROM (and the SIZE check before it) */
    SMTP_STAGE_RCPT,        /* RCPT TO (and the address check before it) */
    SMTP_STAGE_DATA,        /* the DATA command, until 354 */
    SMTP_STAGE_BODY,        /* sending the message; the final "." not fully written */
    SMTP_STAGE_END_OF_DATA, /* the reply to the final "." */
    SMTP_STAGE_QUIT,
} smtp_client_stage;

const char *smtp_client_stage_name(smtp_client_stage stage); /* "RCPT", "end of data" ... */

/* The timer that applies now (RFC 5321 4.5.3.2). */
typedef enum smtp_client_wait {
    SMTP_WAIT_NONE = 0,   /* nothing owed by the server (READY, CLOSED, TLS_START) */
    SMTP_WAIT_GREETING,   /* initial 220: 5 min */
    SMTP_WAIT_COMMAND,    /* EHLO, HELO, STARTTLS, AUTH, RSET: 5 min (RFC: "server") */
    SMTP_WAIT_MAIL,       /* 5 min */
    SMTP_WAIT_RCPT,       /* 5 min */
    SMTP_WAIT_DATA_INIT,  /* the 354: 2 min */
    SMTP_WAIT_DATA_BLOCK, /* each write of message data: 3 min */
    SMTP_WAIT_DATA_END,   /* the reply to the final ".": 10 min */
} smtp_client_wait;

/* The RFC 5321 minimum for each wait, in milliseconds (SMTP_WAIT_NONE: 0 = no timer). The
 * I/O layer may use shorter values of its own; these are the defaults. */
uint32_t smtp_client_default_timeout_ms(smtp_client_wait wait);

typedef enum smtp_client_outcome {
    SMTP_OUTCOME_PENDING = 0, /* not decided yet */
    SMTP_OUTCOME_DELIVERED,   /* 2xx to the end of data */
    SMTP_OUTCOME_DEFERRED,    /* try again later */
    SMTP_OUTCOME_FAILED,      /* permanent: bounce */
} smtp_client_outcome;

/* What decided a recipient (or ended the connection). */
typedef struct smtp_client_result {
    smtp_client_outcome outcome;
    smtp_client_stage stage;
    uint16_t code;      /* the server's reply code; 0 when no reply decided it */
    smtp_status status; /* enhanced status: the server's, else derived (X.0.0 from the code,
                         * or ours for local reasons: 5.3.4, 5.1.3, 5.1.7, 4.4.2, 4.5.0...) */
    bool status_from_server;
    /* The server's reply text (lines joined by '\n'), or our diagnostic when code is 0;
     * cut at SMTP_CLIENT_TEXT_MAX bytes; NUL-terminated. */
    char text[SMTP_CLIENT_TEXT_MAX + 1];
} smtp_client_result;

/* What the server offered in its EHLO reply (all false/0 after HELO). */
typedef struct smtp_client_capabilities {
    bool esmtp; /* EHLO was accepted */
    bool pipelining;
    bool size;           /* SIZE offered */
    uint64_t size_limit; /* its argument; 0 = no fixed limit stated */
    bool eight_bit_mime;
    bool starttls;
    bool enhanced_status_codes;
    unsigned auth_mechanisms; /* SMTP_CLIENT_AUTH_* bits */
} smtp_client_capabilities;

#define SMTP_CLIENT_AUTH_PLAIN 1u
#define SMTP_CLIENT_AUTH_LOGIN 2u

typedef enum smtp_body_read {
    SMTP_BODY_MORE = 0, /* *len bytes were written to buf (0: none ready now, ask again at
                         * the next smtp_client_output) */
    SMTP_BODY_END,      /* the body is complete (*len bytes, possibly 0, are its last) */
    SMTP_BODY_ERROR,    /* the body cannot be read: the attempt is abandoned, deferred */
} smtp_body_read;

/* Writes up to cap bytes of the message body into buf. Called from smtp_client_output. */
typedef smtp_body_read (*smtp_client_body_reader)(void *ctx, uint8_t *buf, size_t cap, size_t *len);

/* One message. The struct is copied; the strings and the recipient array are borrowed and
 * must stay valid until the message's results are final (state READY or CLOSED). */
typedef struct smtp_client_message {
    const char *sender; /* "" for the null sender <> */
    const char *const *recipients;
    size_t recipient_count; /* 1..max_recipients */
    uint64_t size;          /* the message size for SIZE=, 0 when unknown */
    bool eight_bit;         /* ask for BODY=8BITMIME (when offered) */
    smtp_client_body_reader read_body;
    void *body_ctx;
} smtp_client_message;

typedef struct smtp_client smtp_client;

/* NULL when out of memory or the config is unusable (no or bad helo_name). */
smtp_client *smtp_client_create(const smtp_client_config *config);
void smtp_client_destroy(smtp_client *client);
size_t smtp_client_memory(const smtp_client_config *config);

/* Bytes from the server, any chunking; all are consumed. Bytes that arrive when no reply is
 * owed (while READY, after the 220 to STARTTLS) are a protocol error and end the
 * connection -- a 421 while READY just ends it. After CLOSED, bytes are ignored. */
void smtp_client_feed(smtp_client *client, const void *bytes, size_t len);

typedef struct smtp_client_out {
    const uint8_t *bytes; /* to write, in order */
    size_t length;
    bool close; /* close the connection once these bytes are written */
} smtp_client_out;

/* The bytes to write now. Fills the buffer first: the next commands and, while sending a
 * message, more of its body (calling read_body). Valid until the next call into client. */
smtp_client_out smtp_client_output(smtp_client *client);
/* n bytes of the output were written. */
void smtp_client_output_sent(smtp_client *client, size_t n);

/* Give a message. Allowed when READY, or before the session is up (the message then goes
 * out right after EHLO, so STARTTLS and AUTH need READY first) while no message is in
 * progress. false: not allowed now, or the message is unusable (no recipients, too many,
 * no reader). Recipients or sender that cannot be written in SMTP (control characters,
 * '<', '>', too long) fail with 5.1.3 / 5.1.7 without being sent. */
bool smtp_client_send(smtp_client *client, const smtp_client_message *message);

/* QUIT (READY only): the output becomes "QUIT" and close. false when not READY. */
bool smtp_client_quit(smtp_client *client);

/* STARTTLS (READY, offered by the server). Then: TLS_START (220: run the handshake, then
 * smtp_client_tls_started, which sends EHLO again and forgets what the first EHLO said),
 * or READY again with the refusal in smtp_client_last_reply. */
bool smtp_client_starttls(smtp_client *client);
void smtp_client_tls_started(smtp_client *client);

/* AUTH PLAIN or LOGIN (one SMTP_CLIENT_AUTH_* bit; READY, mechanism offered). The
 * credentials are copied and wiped after use. Then READY again: smtp_client_authenticated
 * says whether it worked, smtp_client_last_reply why not. */
bool smtp_client_auth(smtp_client *client, unsigned mechanism, const char *user,
                      const char *password);
bool smtp_client_authenticated(const smtp_client *client);

/* The connection died (EOF, reset, connect failure, TLS failure). Every recipient without
 * an outcome is deferred; state CLOSED. */
void smtp_client_connection_lost(smtp_client *client);
/* The timer for smtp_client_waiting_for expired: as connection_lost, with a diagnostic
 * that names the wait. */
void smtp_client_timeout(smtp_client *client);

smtp_client_state smtp_client_state_now(const smtp_client *client);
smtp_client_wait smtp_client_waiting_for(const smtp_client *client);
const smtp_client_capabilities *smtp_client_capabilities_offered(const smtp_client *client);

/* The results of the current (or last) message, one per recipient, in the order given. */
size_t smtp_client_recipient_count(const smtp_client *client);
const smtp_client_result *smtp_client_recipient_result(const smtp_client *client, size_t i);

/* Why the connection ended when it ended abnormally (greeting refused, EHLO and HELO
 * refused, 421, malformed reply, lost, timeout); outcome PENDING when it has not ended or
 * ended with our QUIT. */
const smtp_client_result *smtp_client_connection_result(const smtp_client *client);

/* The last complete reply from the server (code 0 before the first). */
const smtp_reply *smtp_client_last_reply(const smtp_client *client);

#endif
