#include "smtp_client.h"

#include "ascii.h"
#include "delivery_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every command but the body fits in this much room (AUTH PLAIN with two 255-byte
 * credentials is the longest, about 700 bytes). */
#define COMMAND_ROOM   1024u
#define BODY_CHUNK     4096u
#define ENCODE_ROOM    4u /* one body byte becomes at most 4 (held CR -> CRLF, then "..") */
#define TERMINATOR_MAX 7u /* CRLF "." CRLF, plus a CRLF for a held CR */

typedef enum phase {
    PH_GREETING = 0,
    PH_EHLO,
    PH_HELO,
    PH_READY,
    PH_STARTTLS,
    PH_TLS_START,
    PH_AUTH,
    PH_RSET,
    PH_TX,    /* MAIL, RCPT, DATA */
    PH_BODY,  /* after 354, until the final "." is fully written */
    PH_FINAL, /* waiting for the reply to the final "." */
    PH_QUIT,  /* QUIT to write, then close */
    PH_CLOSED,
} phase;

typedef enum command {
    CMD_NONE = 0,
    CMD_EHLO,
    CMD_HELO,
    CMD_STARTTLS,
    CMD_AUTH,
    CMD_AUTH_USER,
    CMD_AUTH_PASSWORD,
    CMD_AUTH_CANCEL,
    CMD_RSET,
} command;

typedef enum auth_step {
    AUTH_PLAIN_SENT = 0,
    AUTH_LOGIN_SENT,
    AUTH_USER_SENT,
    AUTH_PASSWORD_SENT,
    AUTH_CANCEL_SENT,
} auth_step;

/* The transaction's commands, in the order they are written and answered. */
typedef enum tx_step {
    TX_MAIL = 0,
    TX_RCPT,
    TX_DATA,
    TX_DONE,
} tx_step;

enum {
    RCPT_SKIPPED = 1,  /* decided locally, never sent */
    RCPT_ACCEPTED = 2, /* 2xx to RCPT: waiting for the end of data */
};

struct smtp_client {
    char helo_name[SMTP_CLIENT_NAME_MAX + 1];
    uint32_t max_recipients;

    phase ph;
    command pending; /* a command to write as soon as there is room */
    uint32_t owed;   /* replies the server owes for what we wrote (and the greeting) */
    bool received_any;
    bool close_when_sent;

    smtp_reply_parser parser;
    smtp_reply last_reply;
    smtp_client_capabilities caps;
    smtp_client_result connection_result;

    unsigned auth_mechanism;
    auth_step auth;
    bool authenticated;
    char auth_user[SMTP_CLIENT_CREDENTIAL_MAX + 1];
    char auth_password[SMTP_CLIENT_CREDENTIAL_MAX + 1];

    /* The message. */
    bool message_active;          /* given and not finished */
    bool server_transaction_open; /* MAIL accepted, no end of data since: RSET first */
    smtp_client_message message;
    size_t result_count;
    tx_step send_step, reply_step;
    size_t send_rcpt, reply_rcpt;
    size_t accepted;
    bool stop_sending; /* the transaction cannot go on: write no more of its commands */
    bool mail_failed;

    /* The body. */
    size_t body_pos, body_len;
    bool body_end;
    bool line_start;
    bool held_cr;
    bool terminator_queued;

    size_t out_start, out_len;
    uint8_t out[SMTP_CLIENT_OUTPUT_MAX];
    uint8_t body[BODY_CHUNK];

    smtp_client_result *results; /* max_recipients, after the struct */
    uint8_t *flags;              /* max_recipients, after the results */
};

/* ---- small helpers ---- */

static uint32_t effective_max_recipients(const smtp_client_config *config)
{
    uint32_t n = config->max_recipients;
    if (n == 0) {
        return SMTP_CLIENT_DEFAULT_MAX_RECIPIENTS;
    }
    return n > SMTP_CLIENT_MAX_RECIPIENTS_LIMIT ? SMTP_CLIENT_MAX_RECIPIENTS_LIMIT : n;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool equal_nocase(const char *a, size_t a_len, const char *b)
{
    return a_len == strlen(b) && ascii_equal_nocase(a, b, a_len);
}

/* A sender or recipient we can write between < and > without changing the command. */
static bool address_writable(const char *address, bool may_be_empty)
{
    size_t len = strlen(address);
    if ((len == 0 && !may_be_empty) || len > SMTP_CLIENT_ADDRESS_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)address[i];
        if (c < 0x20 || c == 0x7f || c == '<' || c == '>') {
            return false;
        }
    }
    return true;
}

static bool helo_name_usable(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > SMTP_CLIENT_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--) {
        *v++ = 0;
    }
}

static size_t base64_encode(const uint8_t *in, size_t len, char *out)
{
    static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= in[i + 2];
        }
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    return o;
}

/* ---- names and defaults ---- */

const char *smtp_client_stage_name(smtp_client_stage stage)
{
    switch (stage) {
    case SMTP_STAGE_NONE:
        return "none";
    case SMTP_STAGE_CONNECT:
        return "connect";
    case SMTP_STAGE_GREETING:
        return "greeting";
    case SMTP_STAGE_EHLO:
        return "EHLO";
    case SMTP_STAGE_STARTTLS:
        return "STARTTLS";
    case SMTP_STAGE_AUTH:
        return "AUTH";
    case SMTP_STAGE_RSET:
        return "RSET";
    case SMTP_STAGE_MAIL:
        return "MAIL";
    case SMTP_STAGE_RCPT:
        return "RCPT";
    case SMTP_STAGE_DATA:
        return "DATA";
    case SMTP_STAGE_BODY:
        return "message body";
    case SMTP_STAGE_END_OF_DATA:
        return "end of data";
    case SMTP_STAGE_QUIT:
        return "QUIT";
    }
    return "unknown";
}

uint32_t smtp_client_default_timeout_ms(smtp_client_wait wait)
{
    switch (wait) {
    case SMTP_WAIT_NONE:
        return 0;
    case SMTP_WAIT_GREETING:
    case SMTP_WAIT_COMMAND:
    case SMTP_WAIT_MAIL:
    case SMTP_WAIT_RCPT:
        return 5u * 60u * 1000u;
    case SMTP_WAIT_DATA_INIT:
        return 2u * 60u * 1000u;
    case SMTP_WAIT_DATA_BLOCK:
        return 3u * 60u * 1000u;
    case SMTP_WAIT_DATA_END:
        return 10u * 60u * 1000u;
    }
    return 5u * 60u * 1000u;
}

/* ---- results ---- */

static smtp_client_outcome outcome_of_code(uint16_t code)
{
    if (code >= 200 && code < 300) {
        return SMTP_OUTCOME_DELIVERED;
    }
    return code >= 500 && code < 600 ? SMTP_OUTCOME_FAILED : SMTP_OUTCOME_DEFERRED;
}

static void result_from_reply(smtp_client_result *r, smtp_client_outcome outcome,
                              smtp_client_stage stage, const smtp_reply *reply)
{
    r->outcome = outcome;
    r->stage = stage;
    r->code = reply->code;
    r->status_from_server = reply->status.klass != 0;
    if (r->status_from_server) {
        r->status = reply->status;
    } else {
        uint16_t klass = outcome == SMTP_OUTCOME_DELIVERED ? 2
                         : outcome == SMTP_OUTCOME_FAILED  ? 5
                                                           : 4;
        r->status = (smtp_status){klass, 0, 0};
    }
    size_t n =
            reply->text_length < SMTP_CLIENT_TEXT_MAX ? reply->text_length : SMTP_CLIENT_TEXT_MAX;
    memcpy(r->text, reply->text, n);
    r->text[n] = '\0';
}

static void result_local(smtp_client_result *r, smtp_client_outcome outcome,
                         smtp_client_stage stage, smtp_status status, const char *format, ...)
        __attribute__((format(DELIVERY_PRINTF_FORMAT, 5, 6)));

static void result_local(smtp_client_result *r, smtp_client_outcome outcome,
                         smtp_client_stage stage, smtp_status status, const char *format, ...)
{
    va_list args;
    r->outcome = outcome;
    r->stage = stage;
    r->code = 0;
    r->status = status;
    r->status_from_server = false;
    va_start(args, format);
    vsnprintf(r->text, sizeof r->text, format, args);
    va_end(args);
}

/* Every recipient of the message in progress without an outcome gets this one. Accepted
 * recipients (2xx to RCPT, no final reply yet) too. */
static void decide_remaining(smtp_client *c, const smtp_client_result *r)
{
    if (!c->message_active) {
        return;
    }
    for (size_t i = 0; i < c->result_count; i++) {
        if (c->results[i].outcome == SMTP_OUTCOME_PENDING) {
            c->results[i] = *r;
        }
    }
}

/* The message is over: every recipient has its outcome. */
static void finish_message(smtp_client *c)
{
    c->message_active = false;
    c->ph = PH_READY;
}

static void discard_output(smtp_client *c)
{
    c->out_start = 0;
    c->out_len = 0;
}

/* The connection ends for reason r: the remaining recipients get r. With quit, QUIT is
 * written first (the server is still in step with us); otherwise unsent bytes are dropped. */
static void end_connection(smtp_client *c, const smtp_client_result *r, bool quit)
{
    if (c->ph == PH_CLOSED || c->ph == PH_QUIT) {
        return;
    }
    if (c->connection_result.outcome == SMTP_OUTCOME_PENDING) {
        c->connection_result = *r;
    }
    decide_remaining(c, r);
    c->message_active = false;
    c->pending = CMD_NONE;
    wipe(c->auth_password, sizeof c->auth_password);
    if (quit && c->out_start == c->out_len) {
        c->ph = PH_QUIT;
    } else {
        discard_output(c);
        c->ph = PH_CLOSED;
        c->close_when_sent = true;
    }
}

static void end_connection_by_reply(smtp_client *c, smtp_client_outcome outcome,
                                    smtp_client_stage stage, const smtp_reply *reply, bool quit)
{
    smtp_client_result r;
    result_from_reply(&r, outcome, stage, reply);
    end_connection(c, &r, quit);
}

/* ---- where we are ---- */

static bool rcpt_sendable(const smtp_client *c, size_t i)
{
    return (c->flags[i] & RCPT_SKIPPED) == 0;
}

/* The next recipient at or after i that goes on the wire. */
static size_t next_sendable(const smtp_client *c, size_t i)
{
    while (i < c->result_count && !rcpt_sendable(c, i)) {
        i++;
    }
    return i;
}

/* The transaction step whose reply comes next (normalising the reply pointer). */
static tx_step next_reply_step(smtp_client *c)
{
    if (c->reply_step == TX_RCPT) {
        c->reply_rcpt = next_sendable(c, c->reply_rcpt);
        if (c->reply_rcpt >= c->result_count) {
            c->reply_step = TX_DATA;
        }
    }
    return c->reply_step;
}

static smtp_client_stage tx_stage(const smtp_client *c)
{
    tx_step step = c->owed > 0 ? c->reply_step : c->send_step;
    if (step == TX_RCPT &&
        next_sendable(c, c->owed > 0 ? c->reply_rcpt : c->send_rcpt) >= c->result_count) {
        step = TX_DATA;
    }
    switch (step) {
    case TX_MAIL:
        return SMTP_STAGE_MAIL;
    case TX_RCPT:
        return SMTP_STAGE_RCPT;
    default:
        return SMTP_STAGE_DATA;
    }
}

static smtp_client_stage current_stage(const smtp_client *c)
{
    switch (c->ph) {
    case PH_GREETING:
        return c->received_any ? SMTP_STAGE_GREETING : SMTP_STAGE_CONNECT;
    case PH_EHLO:
    case PH_HELO:
        return SMTP_STAGE_EHLO;
    case PH_STARTTLS:
    case PH_TLS_START:
        return SMTP_STAGE_STARTTLS;
    case PH_AUTH:
        return SMTP_STAGE_AUTH;
    case PH_RSET:
        return SMTP_STAGE_RSET;
    case PH_TX:
        return tx_stage(c);
    case PH_BODY:
        return SMTP_STAGE_BODY;
    case PH_FINAL:
        return SMTP_STAGE_END_OF_DATA;
    case PH_QUIT:
        return SMTP_STAGE_QUIT;
    case PH_READY:
    case PH_CLOSED:
        break;
    }
    return SMTP_STAGE_NONE;
}

smtp_client_wait smtp_client_waiting_for(const smtp_client *c)
{
    switch (c->ph) {
    case PH_GREETING:
        return SMTP_WAIT_GREETING;
    case PH_EHLO:
    case PH_HELO:
    case PH_STARTTLS:
    case PH_AUTH:
    case PH_RSET:
        return SMTP_WAIT_COMMAND;
    case PH_TX:
        switch (tx_stage(c)) {
        case SMTP_STAGE_MAIL:
            return SMTP_WAIT_MAIL;
        case SMTP_STAGE_RCPT:
            return SMTP_WAIT_RCPT;
        default:
            return SMTP_WAIT_DATA_INIT;
        }
    case PH_BODY:
        return SMTP_WAIT_DATA_BLOCK;
    case PH_FINAL:
        return SMTP_WAIT_DATA_END;
    default:
        return SMTP_WAIT_NONE;
    }
}

/* ---- failures that end the connection ---- */

static void protocol_error(smtp_client *c, const char *why)
{
    smtp_client_result r;
    result_local(&r, SMTP_OUTCOME_DEFERRED, current_stage(c), (smtp_status){4, 5, 0},
                 "protocol error: %s", why);
    end_connection(c, &r, false);
}

void smtp_client_connection_lost(smtp_client *c)
{
    smtp_client_result r;
    smtp_client_stage stage = current_stage(c);
    if (c->ph == PH_CLOSED || c->ph == PH_QUIT) {
        c->ph = PH_CLOSED;
        c->close_when_sent = true;
        return;
    }
    if (stage == SMTP_STAGE_CONNECT) {
        result_local(&r, SMTP_OUTCOME_DEFERRED, stage, (smtp_status){4, 4, 1},
                     "no connection, or closed by the server before its greeting");
    } else if (stage == SMTP_STAGE_END_OF_DATA) {
        result_local(&r, SMTP_OUTCOME_DEFERRED, stage, (smtp_status){4, 4, 2},
                     "connection lost after the whole message was sent, before the server's "
                     "reply: it may have been delivered");
    } else {
        result_local(&r, SMTP_OUTCOME_DEFERRED, stage, (smtp_status){4, 4, 2},
                     "connection lost (stage: %s)", smtp_client_stage_name(stage));
    }
    end_connection(c, &r, false);
}

void smtp_client_timeout(smtp_client *c)
{
    smtp_client_result r;
    smtp_client_stage stage = current_stage(c);
    if (c->ph == PH_CLOSED || c->ph == PH_QUIT || c->ph == PH_READY) {
        return; /* no timer runs there: a stray timer changes nothing */
    }
    if (stage == SMTP_STAGE_CONNECT) {
        stage = SMTP_STAGE_GREETING; /* connected, and the server said nothing in time */
    }
    result_local(&r, SMTP_OUTCOME_DEFERRED, stage, (smtp_status){4, 4, 2}, "timed out (stage: %s)",
                 smtp_client_stage_name(stage));
    end_connection(c, &r, false);
}

/* ---- the session ---- */

static void parse_capabilities(smtp_client *c, const smtp_reply *reply)
{
    smtp_client_capabilities caps;
    memset(&caps, 0, sizeof caps);
    caps.esmtp = true;
    const char *line = reply->text;
    const char *end = reply->text + reply->text_length;
    bool first = true;
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) {
            eol = end;
        }
        if (!first) {
            const char *p = line;
            while (p < eol && *p != ' ' && *p != '=') {
                p++;
            }
            size_t kw_len = (size_t)(p - line);
            if (equal_nocase(line, kw_len, "PIPELINING")) {
                caps.pipelining = true;
            } else if (equal_nocase(line, kw_len, "8BITMIME")) {
                caps.eight_bit_mime = true;
            } else if (equal_nocase(line, kw_len, "STARTTLS")) {
                caps.starttls = true;
            } else if (equal_nocase(line, kw_len, "ENHANCEDSTATUSCODES")) {
                caps.enhanced_status_codes = true;
            } else if (equal_nocase(line, kw_len, "SIZE")) {
                uint64_t limit = 0;
                caps.size = true;
                while (p < eol && *p == ' ') {
                    p++;
                }
                while (p < eol && is_digit(*p)) {
                    uint64_t digit = (uint64_t)(*p - '0');
                    limit = limit > (UINT64_MAX - digit) / 10 ? UINT64_MAX : limit * 10 + digit;
                    p++;
                }
                caps.size_limit = limit;
            } else if (equal_nocase(line, kw_len, "AUTH")) {
                /* "AUTH PLAIN LOGIN" or the old "AUTH=PLAIN LOGIN". */
                while (p < eol) {
                    while (p < eol && (*p == ' ' || *p == '=')) {
                        p++;
                    }
                    const char *mech = p;
                    while (p < eol && *p != ' ') {
                        p++;
                    }
                    if (equal_nocase(mech, (size_t)(p - mech), "PLAIN")) {
                        caps.auth_mechanisms |= SMTP_CLIENT_AUTH_PLAIN;
                    } else if (equal_nocase(mech, (size_t)(p - mech), "LOGIN")) {
                        caps.auth_mechanisms |= SMTP_CLIENT_AUTH_LOGIN;
                    }
                }
            }
        }
        first = false;
        line = eol + 1;
    }
    c->caps = caps;
}

static void begin_transaction(smtp_client *c);

/* EHLO or HELO is done: the session is up. A message given early starts now. */
static void enter_ready(smtp_client *c)
{
    c->ph = PH_READY;
    if (c->message_active) {
        if (c->server_transaction_open) {
            c->ph = PH_RSET;
            c->pending = CMD_RSET;
        } else {
            begin_transaction(c);
        }
    }
}

static void begin_transaction(smtp_client *c)
{
    const smtp_client_message *m = &c->message;
    smtp_client_result r;
    size_t sendable = 0;

    c->ph = PH_TX;
    c->send_step = TX_MAIL;
    c->reply_step = TX_MAIL;
    c->send_rcpt = 0;
    c->reply_rcpt = 0;
    c->accepted = 0;
    c->stop_sending = false;
    c->mail_failed = false;
    c->body_pos = 0;
    c->body_len = 0;
    c->body_end = false;
    c->line_start = true;
    c->held_cr = false;
    c->terminator_queued = false;

    if (!address_writable(m->sender, true)) {
        result_local(&r, SMTP_OUTCOME_FAILED, SMTP_STAGE_MAIL, (smtp_status){5, 1, 7},
                     "the sender address cannot be written in an SMTP command");
        decide_remaining(c, &r);
        finish_message(c);
        return;
    }
    for (size_t i = 0; i < c->result_count; i++) {
        if (!address_writable(m->recipients[i], false)) {
            c->flags[i] |= RCPT_SKIPPED;
            result_local(&c->results[i], SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT,
                         (smtp_status){5, 1, 3},
                         "the recipient address cannot be written in an SMTP command");
        } else {
            sendable++;
        }
    }
    if (sendable == 0) {
        finish_message(c);
        return;
    }
    if (c->caps.size && c->caps.size_limit > 0 && m->size > c->caps.size_limit) {
        result_local(&r, SMTP_OUTCOME_FAILED, SMTP_STAGE_MAIL, (smtp_status){5, 3, 4},
                     "message too big for the destination: %llu bytes, the server takes at "
                     "most %llu (SIZE); not sent",
                     (unsigned long long)m->size, (unsigned long long)c->caps.size_limit);
        decide_remaining(c, &r);
        finish_message(c);
    }
}

static void handle_auth_reply(smtp_client *c, const smtp_reply *reply)
{
    bool ok = reply->code >= 200 && reply->code < 300;
    bool challenge = reply->code == 334;
    switch (c->auth) {
    case AUTH_LOGIN_SENT:
        if (challenge) {
            c->pending = CMD_AUTH_USER;
            c->auth = AUTH_USER_SENT;
            return;
        }
        break;
    case AUTH_USER_SENT:
        if (challenge) {
            c->pending = CMD_AUTH_PASSWORD;
            c->auth = AUTH_PASSWORD_SENT;
            return;
        }
        ok = false; /* success before the password was asked for: not what we asked for */
        break;
    case AUTH_PLAIN_SENT:
    case AUTH_PASSWORD_SENT:
        if (challenge) {
            /* More challenges than the mechanism has: cancel (RFC 4954 4). */
            c->pending = CMD_AUTH_CANCEL;
            c->auth = AUTH_CANCEL_SENT;
            return;
        }
        break;
    case AUTH_CANCEL_SENT:
        ok = false;
        break;
    }
    c->authenticated = ok;
    wipe(c->auth_user, sizeof c->auth_user);
    wipe(c->auth_password, sizeof c->auth_password);
    enter_ready(c);
}

/* A reply during the MAIL/RCPT/DATA exchange, matched to its command by order. */
static void handle_tx_reply(smtp_client *c, const smtp_reply *reply)
{
    bool positive = reply->code >= 200 && reply->code < 300;
    smtp_client_result r;
    switch (next_reply_step(c)) {
    case TX_MAIL:
        c->reply_step = TX_RCPT;
        if (positive) {
            c->server_transaction_open = true;
        } else {
            c->mail_failed = true;
            c->stop_sending = true;
            result_from_reply(&r, outcome_of_code(reply->code), SMTP_STAGE_MAIL, reply);
            decide_remaining(c, &r);
        }
        break;
    case TX_RCPT: {
        size_t i = c->reply_rcpt++;
        if (!c->mail_failed) {
            if (positive) {
                c->flags[i] |= RCPT_ACCEPTED;
                c->accepted++;
            } else {
                result_from_reply(&c->results[i], outcome_of_code(reply->code), SMTP_STAGE_RCPT,
                                  reply);
            }
        }
        if (next_sendable(c, c->reply_rcpt) >= c->result_count && c->accepted == 0) {
            c->stop_sending = true; /* nobody to send the message to: no DATA */
        }
        break;
    }
    case TX_DATA:
        c->reply_step = TX_DONE;
        if (reply->code == 354) {
            /* With nobody accepted (a pipelined DATA that the server took anyway), the
             * message is ended at once, empty, and its reply ignored. */
            c->body_end = c->accepted == 0;
            c->ph = PH_BODY;
            return;
        }
        if (c->accepted == 0) {
            break; /* the expected refusal of a DATA that had no recipient */
        }
        if (reply->code < 400) {
            protocol_error(c, "unexpected reply to DATA");
            return;
        }
        result_from_reply(&r, outcome_of_code(reply->code), SMTP_STAGE_DATA, reply);
        decide_remaining(c, &r);
        break;
    case TX_DONE:
        protocol_error(c, "more replies than commands");
        return;
    }
    if (c->owed == 0 && (c->stop_sending || c->send_step == TX_DONE)) {
        finish_message(c);
    }
}

/* The reply to the final "." (or an early reply while the body is still going out). */
static void handle_final_reply(smtp_client *c, const smtp_reply *reply, bool early)
{
    smtp_client_stage stage = early ? SMTP_STAGE_BODY : SMTP_STAGE_END_OF_DATA;
    smtp_client_result r;
    if (c->accepted == 0 && !early) {
        c->server_transaction_open = false;
        finish_message(c);
        return;
    }
    if (reply->code < 400 && (early || reply->code >= 300 || reply->code < 200)) {
        protocol_error(c, early ? "a reply before the end of the message"
                                : "unexpected reply to the end of data");
        return;
    }
    result_from_reply(&r, outcome_of_code(reply->code), stage, reply);
    decide_remaining(c, &r);
    c->server_transaction_open = false;
    if (early) {
        /* The server gave up on the message while we were sending it; what we would send
         * next is body that it would read as commands. */
        end_connection(c, &r, false);
        return;
    }
    finish_message(c);
}

static void handle_reply(smtp_client *c, const smtp_reply *reply)
{
    bool positive = reply->code >= 200 && reply->code < 300;
    bool early_in_body = c->ph == PH_BODY && !c->terminator_queued;
    if (c->owed == 0 && !early_in_body) {
        if (reply->code == 421) {
            end_connection_by_reply(c, SMTP_OUTCOME_DEFERRED, current_stage(c), reply, false);
        } else {
            protocol_error(c, "a reply when none was owed");
        }
        return;
    }
    if (!early_in_body) {
        c->owed--;
    }
    if (reply->code == 421) {
        /* The server is closing the connection (RFC 5321 3.8): whatever it was answering,
         * everything still open is deferred. */
        end_connection_by_reply(c, SMTP_OUTCOME_DEFERRED,
                                c->ph == PH_TX ? tx_stage(c) : current_stage(c), reply, false);
        return;
    }
    switch (c->ph) {
    case PH_GREETING:
        if (positive) {
            c->ph = PH_EHLO;
            c->pending = CMD_EHLO;
        } else {
            end_connection_by_reply(c, outcome_of_code(reply->code), SMTP_STAGE_GREETING, reply,
                                    true);
        }
        break;
    case PH_EHLO:
        if (positive) {
            parse_capabilities(c, reply);
            enter_ready(c);
        } else if (reply->code >= 500) {
            memset(&c->caps, 0, sizeof c->caps);
            c->ph = PH_HELO;
            c->pending = CMD_HELO;
        } else {
            end_connection_by_reply(c, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_EHLO, reply, true);
        }
        break;
    case PH_HELO:
        if (positive) {
            memset(&c->caps, 0, sizeof c->caps);
            enter_ready(c);
        } else {
            end_connection_by_reply(c, outcome_of_code(reply->code), SMTP_STAGE_EHLO, reply, true);
        }
        break;
    case PH_STARTTLS:
        if (positive) {
            c->ph = PH_TLS_START;
        } else {
            enter_ready(c);
        }
        break;
    case PH_AUTH:
        handle_auth_reply(c, reply);
        break;
    case PH_RSET:
        if (positive) {
            c->server_transaction_open = false;
            begin_transaction(c);
        } else {
            end_connection_by_reply(c, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_RSET, reply, true);
        }
        break;
    case PH_TX:
        handle_tx_reply(c, reply);
        break;
    case PH_BODY:
    case PH_FINAL:
        handle_final_reply(c, reply, early_in_body);
        break;
    case PH_READY:
    case PH_TLS_START:
    case PH_QUIT:
    case PH_CLOSED:
        protocol_error(c, "a reply when none was owed");
        break;
    }
}

void smtp_client_feed(smtp_client *c, const void *bytes, size_t len)
{
    const uint8_t *in = bytes;
    size_t pos = 0;
    if (len > 0) {
        c->received_any = true;
    }
    while (pos < len && c->ph != PH_CLOSED && c->ph != PH_QUIT) {
        size_t used = 0;
        if (c->ph == PH_TLS_START) {
            /* Plaintext after the 220 to STARTTLS would be read as if it came over TLS
             * (the STARTTLS command injection attack): refuse it. */
            protocol_error(c, "bytes after the server's 220 to STARTTLS");
            return;
        }
        smtp_reply_result result = smtp_reply_parse(&c->parser, in + pos, len - pos, &used);
        pos += used;
        if (result == SMTP_REPLY_NEED_MORE) {
            break;
        }
        if (result == SMTP_REPLY_ERROR) {
            protocol_error(c, smtp_reply_error_text(smtp_reply_parser_error(&c->parser)));
            break;
        }
        const smtp_reply *reply = smtp_reply_parser_reply(&c->parser);
        c->last_reply.code = reply->code;
        c->last_reply.status = reply->status;
        c->last_reply.line_count = reply->line_count;
        c->last_reply.truncated = reply->truncated;
        c->last_reply.text_length = reply->text_length;
        memcpy(c->last_reply.text, reply->text, reply->text_length + 1);
        handle_reply(c, &c->last_reply);
    }
}

/* ---- output ---- */

static size_t room(const smtp_client *c)
{
    return SMTP_CLIENT_OUTPUT_MAX - c->out_len;
}

static void put(smtp_client *c, const void *bytes, size_t n)
{
    memcpy(c->out + c->out_len, bytes, n);
    c->out_len += n;
}

static void put_text(smtp_client *c, const char *text)
{
    put(c, text, strlen(text));
}

/* One command line; the caller made sure of COMMAND_ROOM. */
static void put_command(smtp_client *c, const char *format, ...)
        __attribute__((format(DELIVERY_PRINTF_FORMAT, 2, 3)));

static void put_command(smtp_client *c, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vsnprintf((char *)c->out + c->out_len, room(c), format, args);
    va_end(args);
    if (n > 0 && (size_t)n < room(c)) {
        c->out_len += (size_t)n;
    }
}

static void put_base64_line(smtp_client *c, const char *prefix, const uint8_t *data, size_t len)
{
    put_text(c, prefix);
    c->out_len += base64_encode(data, len, (char *)c->out + c->out_len);
    put_text(c, "\r\n");
}

static void write_pending_command(smtp_client *c)
{
    uint8_t plain[2 * SMTP_CLIENT_CREDENTIAL_MAX + 2];
    size_t user_len = strlen(c->auth_user);
    size_t password_len = strlen(c->auth_password);
    switch (c->pending) {
    case CMD_NONE:
        return;
    case CMD_EHLO:
        put_command(c, "EHLO %s\r\n", c->helo_name);
        break;
    case CMD_HELO:
        put_command(c, "HELO %s\r\n", c->helo_name);
        break;
    case CMD_STARTTLS:
        put_text(c, "STARTTLS\r\n");
        break;
    case CMD_AUTH:
        if (c->auth_mechanism == SMTP_CLIENT_AUTH_PLAIN) {
            /* authzid empty, authcid, password (RFC 4616) */
            plain[0] = 0;
            memcpy(plain + 1, c->auth_user, user_len);
            plain[1 + user_len] = 0;
            memcpy(plain + 2 + user_len, c->auth_password, password_len);
            put_base64_line(c, "AUTH PLAIN ", plain, 2 + user_len + password_len);
            wipe(plain, sizeof plain);
        } else {
            put_text(c, "AUTH LOGIN\r\n");
        }
        break;
    case CMD_AUTH_USER:
        put_base64_line(c, "", (const uint8_t *)c->auth_user, user_len);
        break;
    case CMD_AUTH_PASSWORD:
        put_base64_line(c, "", (const uint8_t *)c->auth_password, password_len);
        wipe(c->auth_password, sizeof c->auth_password);
        break;
    case CMD_AUTH_CANCEL:
        put_text(c, "*\r\n");
        break;
    case CMD_RSET:
        put_text(c, "RSET\r\n");
        break;
    }
    c->pending = CMD_NONE;
    c->owed++;
}

static void write_transaction_commands(smtp_client *c)
{
    const smtp_client_message *m = &c->message;
    while (!c->stop_sending && c->send_step != TX_DONE && room(c) >= COMMAND_ROOM) {
        if (!c->caps.pipelining && c->owed > 0) {
            return; /* lock-step: one command, one reply */
        }
        switch (c->send_step) {
        case TX_MAIL: {
            char size[32] = "";
            if (c->caps.size && m->size > 0) {
                snprintf(size, sizeof size, " SIZE=%llu", (unsigned long long)m->size);
            }
            put_command(c, "MAIL FROM:<%s>%s%s\r\n", m->sender, size,
                        m->eight_bit && c->caps.eight_bit_mime ? " BODY=8BITMIME" : "");
            c->owed++;
            c->send_step = TX_RCPT;
            break;
        }
        case TX_RCPT:
            c->send_rcpt = next_sendable(c, c->send_rcpt);
            if (c->send_rcpt >= c->result_count) {
                c->send_step = TX_DATA;
                break;
            }
            put_command(c, "RCPT TO:<%s>\r\n", m->recipients[c->send_rcpt]);
            c->send_rcpt++;
            c->owed++;
            break;
        case TX_DATA:
            put_text(c, "DATA\r\n");
            c->owed++;
            c->send_step = TX_DONE;
            break;
        case TX_DONE:
            break;
        }
    }
}

/* Dot-stuffs and canonicalises body bytes into the output while there is room. */
static void encode_body(smtp_client *c)
{
    while (c->body_pos < c->body_len && room(c) >= ENCODE_ROOM) {
        uint8_t b = c->body[c->body_pos++];
        if (c->held_cr) {
            c->held_cr = false;
            put(c, "\r\n", 2);
            c->line_start = true;
            if (b == '\n') {
                continue;
            }
            /* The held CR was bare: it became a line break; b starts the next line. */
        }
        if (b == '\r') {
            c->held_cr = true;
        } else if (b == '\n') {
            put(c, "\r\n", 2);
            c->line_start = true;
        } else {
            if (b == '.' && c->line_start) {
                put(c, ".", 1);
            }
            put(c, &b, 1);
            c->line_start = false;
        }
    }
}

static void body_read_failed(smtp_client *c)
{
    smtp_client_result r;
    result_local(&r, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_BODY, (smtp_status){4, 3, 0},
                 "the message could not be read for sending; its sending was abandoned");
    end_connection(c, &r, false);
}

static void write_body(smtp_client *c)
{
    while (room(c) >= ENCODE_ROOM) {
        if (c->body_pos < c->body_len) {
            encode_body(c);
            continue;
        }
        if (c->body_end) {
            break;
        }
        size_t got = 0;
        smtp_body_read result =
                c->message.read_body(c->message.body_ctx, c->body, sizeof c->body, &got);
        if (result == SMTP_BODY_ERROR) {
            body_read_failed(c);
            return;
        }
        c->body_pos = 0;
        c->body_len = got > sizeof c->body ? sizeof c->body : got;
        if (result == SMTP_BODY_END) {
            c->body_end = true;
        } else if (got == 0) {
            return; /* nothing ready now */
        }
    }
    if (c->body_end && c->body_pos == c->body_len && !c->terminator_queued &&
        room(c) >= TERMINATOR_MAX) {
        if (c->held_cr) {
            put(c, "\r\n", 2);
            c->held_cr = false;
            c->line_start = true;
        }
        if (!c->line_start) {
            put(c, "\r\n", 2);
        }
        put(c, ".\r\n", 3);
        c->terminator_queued = true;
        c->owed++;
    }
}

smtp_client_out smtp_client_output(smtp_client *c)
{
    if (c->out_start > 0) {
        memmove(c->out, c->out + c->out_start, c->out_len - c->out_start);
        c->out_len -= c->out_start;
        c->out_start = 0;
    }
    if (c->pending != CMD_NONE && room(c) >= COMMAND_ROOM) {
        write_pending_command(c);
    }
    if (c->ph == PH_TX) {
        write_transaction_commands(c);
    }
    if (c->ph == PH_BODY && !c->terminator_queued) {
        write_body(c);
    }
    if (c->ph == PH_QUIT && room(c) >= COMMAND_ROOM) {
        put_text(c, "QUIT\r\n");
        c->ph = PH_CLOSED;
        c->close_when_sent = true;
    }
    smtp_client_out out = {c->out + c->out_start, c->out_len - c->out_start, c->close_when_sent};
    return out;
}

void smtp_client_output_sent(smtp_client *c, size_t n)
{
    size_t waiting = c->out_len - c->out_start;
    c->out_start += n < waiting ? n : waiting;
    if (c->out_start == c->out_len) {
        c->out_start = 0;
        c->out_len = 0;
        if (c->ph == PH_BODY && c->terminator_queued) {
            c->ph = PH_FINAL; /* the whole message is on the wire */
        }
    }
}

/* ---- the caller's requests ---- */

size_t smtp_client_memory(const smtp_client_config *config)
{
    size_t n = effective_max_recipients(config);
    return sizeof(smtp_client) + n * (sizeof(smtp_client_result) + 1);
}

smtp_client *smtp_client_create(const smtp_client_config *config)
{
    if (!config || !helo_name_usable(config->helo_name)) {
        return NULL;
    }
    smtp_client *c = calloc(1, smtp_client_memory(config));
    if (!c) {
        return NULL;
    }
    c->max_recipients = effective_max_recipients(config);
    c->results = (smtp_client_result *)(c + 1);
    c->flags = (uint8_t *)(c->results + c->max_recipients);
    memcpy(c->helo_name, config->helo_name, strlen(config->helo_name) + 1);
    smtp_reply_parser_init(&c->parser);
    c->ph = PH_GREETING;
    c->owed = 1; /* the greeting */
    return c;
}

void smtp_client_destroy(smtp_client *c)
{
    if (c) {
        wipe(c->auth_user, sizeof c->auth_user);
        wipe(c->auth_password, sizeof c->auth_password);
        free(c);
    }
}

bool smtp_client_send(smtp_client *c, const smtp_client_message *m)
{
    bool before_session = c->ph == PH_GREETING || c->ph == PH_EHLO || c->ph == PH_HELO;
    if ((c->ph != PH_READY && !before_session) || c->message_active || !m || !m->sender ||
        !m->recipients || !m->read_body || m->recipient_count == 0 ||
        m->recipient_count > c->max_recipients) {
        return false;
    }
    for (size_t i = 0; i < m->recipient_count; i++) {
        if (!m->recipients[i]) {
            return false;
        }
    }
    c->message = *m;
    c->message_active = true;
    c->result_count = m->recipient_count;
    memset(c->results, 0, c->result_count * sizeof *c->results);
    memset(c->flags, 0, c->result_count);
    if (c->ph == PH_READY) {
        enter_ready(c);
    }
    return true;
}

static bool ready(const smtp_client *c)
{
    return c->ph == PH_READY && !c->message_active;
}

bool smtp_client_quit(smtp_client *c)
{
    if (!ready(c)) {
        return false;
    }
    c->ph = PH_QUIT;
    return true;
}

bool smtp_client_starttls(smtp_client *c)
{
    if (!ready(c) || !c->caps.starttls) {
        return false;
    }
    c->ph = PH_STARTTLS;
    c->pending = CMD_STARTTLS;
    return true;
}

void smtp_client_tls_started(smtp_client *c)
{
    if (c->ph != PH_TLS_START) {
        return;
    }
    /* RFC 3207 4.2: forget everything learnt before TLS and ask again. */
    memset(&c->caps, 0, sizeof c->caps);
    c->authenticated = false;
    smtp_reply_parser_init(&c->parser);
    c->ph = PH_EHLO;
    c->pending = CMD_EHLO;
}

bool smtp_client_auth(smtp_client *c, unsigned mechanism, const char *user, const char *password)
{
    if (!ready(c) || !user || !password ||
        (mechanism != SMTP_CLIENT_AUTH_PLAIN && mechanism != SMTP_CLIENT_AUTH_LOGIN) ||
        (c->caps.auth_mechanisms & mechanism) == 0) {
        return false;
    }
    size_t user_len = strlen(user);
    size_t password_len = strlen(password);
    if (user_len == 0 || user_len > SMTP_CLIENT_CREDENTIAL_MAX ||
        password_len > SMTP_CLIENT_CREDENTIAL_MAX) {
        return false;
    }
    memcpy(c->auth_user, user, user_len + 1);
    memcpy(c->auth_password, password, password_len + 1);
    c->auth_mechanism = mechanism;
    c->auth = mechanism == SMTP_CLIENT_AUTH_PLAIN ? AUTH_PLAIN_SENT : AUTH_LOGIN_SENT;
    c->authenticated = false;
    c->ph = PH_AUTH;
    c->pending = CMD_AUTH;
    return true;
}

bool smtp_client_authenticated(const smtp_client *c)
{
    return c->authenticated;
}

smtp_client_state smtp_client_state_now(const smtp_client *c)
{
    switch (c->ph) {
    case PH_READY:
        return c->message_active ? SMTP_CLIENT_BUSY : SMTP_CLIENT_READY;
    case PH_TLS_START:
        return SMTP_CLIENT_TLS_START;
    case PH_QUIT:
    case PH_CLOSED:
        return SMTP_CLIENT_CLOSED;
    default:
        return SMTP_CLIENT_BUSY;
    }
}

const smtp_client_capabilities *smtp_client_capabilities_offered(const smtp_client *c)
{
    return &c->caps;
}

size_t smtp_client_recipient_count(const smtp_client *c)
{
    return c->result_count;
}

const smtp_client_result *smtp_client_recipient_result(const smtp_client *c, size_t i)
{
    return i < c->result_count ? &c->results[i] : NULL;
}

const smtp_client_result *smtp_client_connection_result(const smtp_client *c)
{
    return &c->connection_result;
}

const smtp_reply *smtp_client_last_reply(const smtp_client *c)
{
    return &c->last_reply;
}
