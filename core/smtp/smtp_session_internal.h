/* The session's state and the helpers shared by smtp_session.c (bytes, lines, data,
 * output), smtp_commands.c (the commands) and smtp_auth.c (AUTH). Not for the host. */
#ifndef IMSRELAY_SMTP_SESSION_INTERNAL_H
#define IMSRELAY_SMTP_SESSION_INTERNAL_H

#include "ascii.h"
#include "smtp_data.h"
#include "smtp_session.h"

/* Output is bounded: a step (one command line, or the end of a message) runs only when
 * SMTP_STEP_ROOM bytes are free. No step queues more than SMTP_STEP_REPLY_MAX bytes (the
 * longest is EHLO: 8 lines, the first at most SMTP_REPLY_LINE_MAX), so a final 421 (at most
 * SMTP_FINAL_REPLY_MAX) always fits after it. */
#define SMTP_OUTPUT_CAPACITY  4096
#define SMTP_STEP_ROOM        1536
#define SMTP_STEP_REPLY_MAX   1024
#define SMTP_FINAL_REPLY_MAX  400
#define SMTP_REPLY_LINE_MAX   512 /* one reply line without CRLF */
#define SMTP_STAGING_CAPACITY 8192
/* Buffers grow on demand up to their bounds, so that an idle session holds a few kilobytes:
 * the output starts with room for one step, the line with room for a usual command. */
#define SMTP_OUTPUT_INITIAL SMTP_STEP_ROOM
#define SMTP_LINE_INITIAL   128
#define SMTP_RCPTS_INITIAL  4

_Static_assert(SMTP_STEP_ROOM >= SMTP_STEP_REPLY_MAX + SMTP_FINAL_REPLY_MAX,
               "a final 421 must fit after any step");
_Static_assert(SMTP_STEP_REPLY_MAX >= SMTP_REPLY_LINE_MAX + 2 + 7 * 32,
               "the EHLO reply must fit in one step");

typedef enum smtp_phase {
    SMTP_PHASE_COMMAND = 0,     /* reading command lines */
    SMTP_PHASE_DATA,            /* between 354 and the final dot */
    SMTP_PHASE_AUTH_PLAIN,      /* 334 sent, waiting for the PLAIN response */
    SMTP_PHASE_AUTH_LOGIN_USER, /* 334 VXNlcm5hbWU6 sent */
    SMTP_PHASE_AUTH_LOGIN_PASS, /* 334 UGFzc3dvcmQ6 sent */
    SMTP_PHASE_TLS_PENDING,     /* 220 to STARTTLS sent: the host runs the handshake; every
                                   byte fed meanwhile was sent in clear and is thrown away */
    SMTP_PHASE_CLOSED,          /* QUIT or 421: everything else is ignored */
} smtp_phase;

struct smtp_session {
    smtp_host host; /* strings repointed at the copies below */
    smtp_limits limits;
    smtp_phase phase;
    char host_name[SMTP_HOST_NAME_MAX + 1];
    char client_address[SMTP_CLIENT_MAX + 1];

    /* HELO/EHLO */
    bool helo_done;
    bool esmtp;
    char helo_name[SMTP_HOST_NAME_MAX + 1];

    /* STARTTLS (smtp_starttls.c) */
    bool tls_active; /* the host finished a handshake: the session runs inside TLS */

    /* AUTH */
    bool authenticated;
    char auth_account[SMTP_CREDENTIAL_MAX + 1];
    uint32_t auth_failures;
    char login_user[SMTP_CREDENTIAL_MAX + 1]; /* between the two LOGIN steps */
    bool auth_pending; /* SMTP_AUTH_PENDING: auth_account holds the user, not yet proven */

    /* The mail transaction (MAIL to the end of DATA). */
    bool in_transaction;
    char mail_from[SMTP_PATH_MAX + 1];
    smtp_body_type body;
    uint64_t declared_size;
    size_t rcpt_count;
    /* Grown on demand up to max_recipients. The mailboxes are stored one after the other,
     * NUL-terminated, in rcpt_text; rcpts[i].mailbox points into it only once DATA hands
     * the envelope over (growing rcpt_text moves it). */
    smtp_recipient *rcpts;
    size_t rcpt_capacity;
    char *rcpt_text;
    size_t rcpt_text_len;
    size_t rcpt_text_capacity;

    /* The command line being assembled. */
    char *line; /* line_capacity bytes, at most max_line_length */
    size_t line_capacity;
    size_t line_len;
    bool line_overflow;
    /* Bytes the host offered behind the line being executed: input the client sent before
     * it could have read this line's reply (DATA refuses it, see cmd_data). */
    size_t input_after_line;

    /* The message being received. */
    bool message_open; /* data_begin said yes, data_end not yet called */
    smtp_data_decoder decoder;
    uint64_t message_bytes;
    bool message_too_large;
    bool message_write_failed;
    bool message_storage_full; /* the host refused for a storage limit: 452 4.3.1 */
    size_t staging_len;
    uint8_t *staging; /* SMTP_STAGING_CAPACITY bytes while a message is open; NULL: none */

    /* What the host has to send. */
    size_t out_len;
    uint32_t delay_ms;
    bool close_after_output;
    uint8_t *out; /* out_capacity bytes, at most SMTP_OUTPUT_CAPACITY */
    size_t out_capacity;
};

/* Room for one more recipient; false when out of memory. */

/* Queues one reply line (CRLF added) and logs it. The text must be printable ASCII. */
void smtp_reply(smtp_session *s, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

/* Queues the final reply, aborts a message in progress and closes the session. */
void smtp_close_with(smtp_session *s, const char *reply);

void smtp_reset_transaction(smtp_session *s);
/* The DATA command got its 354: what follows is message data. */
void smtp_begin_message(smtp_session *s);
void smtp_log_received(smtp_session *s, const char *line, size_t len);
void smtp_secure_zero(void *p, size_t n);

/* A complete command line (CRLF removed, NUL-terminated, no NUL or CR inside). */
void smtp_command(smtp_session *s, char *line, size_t len);

/* AUTH: the command's arguments, and the client's responses to 334. */
void smtp_auth_command(smtp_session *s, const char *arg, size_t len);
void smtp_auth_response(smtp_session *s, const char *line, size_t len);
/* Ends an AUTH exchange that a bad line interrupted (no reply). */
void smtp_auth_abandon(smtp_session *s);

bool smtp_phase_is_auth(smtp_phase phase);

/* STARTTLS (RFC 3207): the command, and whether STARTTLS and AUTH are offered now. */
void smtp_starttls_command(smtp_session *s, const char *arg, size_t len);
bool smtp_starttls_offered(const smtp_session *s);
/* AUTH is offered: the host has it, and the session is inside TLS or the host allows it in
 * clear (AuthWithoutTls). */
bool smtp_auth_offered(const smtp_session *s);

#endif
