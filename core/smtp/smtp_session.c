/* The session's bytes: line assembly, the DATA stream, the output buffer, the lifecycle.
 * The commands themselves are in smtp_commands.c and smtp_auth.c. */
#include "smtp_session_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t clamp64(uint64_t v, uint64_t dflt, uint64_t lo, uint64_t hi)
{
    if (v == 0) {
        return dflt;
    }
    return v < lo ? lo : v > hi ? hi : v;
}

smtp_limits smtp_limits_effective(const smtp_limits *requested)
{
    smtp_limits none = {0};
    const smtp_limits *r = requested != NULL ? requested : &none;
    smtp_limits l;
    l.max_message_bytes = clamp64(r->max_message_bytes, SMTP_DEFAULT_MAX_MESSAGE_BYTES,
                                  SMTP_MAX_MESSAGE_BYTES_MIN, SMTP_MAX_MESSAGE_BYTES_MAX);
    l.max_recipients = (uint32_t)clamp64(r->max_recipients, SMTP_DEFAULT_MAX_RECIPIENTS,
                                         SMTP_MAX_RECIPIENTS_MIN, SMTP_MAX_RECIPIENTS_MAX);
    l.max_line_length = (uint32_t)clamp64(r->max_line_length, SMTP_DEFAULT_MAX_LINE_LENGTH,
                                          SMTP_MAX_LINE_LENGTH_MIN, SMTP_MAX_LINE_LENGTH_MAX);
    l.max_auth_failures = (uint32_t)clamp64(r->max_auth_failures, SMTP_DEFAULT_MAX_AUTH_FAILURES,
                                            SMTP_MAX_AUTH_FAILURES_MIN, SMTP_MAX_AUTH_FAILURES_MAX);
    l.auth_failure_delay_ms =
            (uint32_t)clamp64(r->auth_failure_delay_ms, SMTP_DEFAULT_AUTH_FAILURE_DELAY_MS,
                              SMTP_AUTH_DELAY_MIN_MS, SMTP_AUTH_DELAY_MAX_MS);
    return l;
}

size_t smtp_session_memory(const smtp_limits *limits)
{
    /* The line buffer is allocated with the session; recipient storage grows to at most
     * max_recipients entries and as many mailboxes of the longest length. */
    smtp_limits l = smtp_limits_effective(limits);
    return sizeof(smtp_session) + l.max_line_length +
           (size_t)l.max_recipients * (sizeof(smtp_recipient) + SMTP_PATH_MAX + 1) +
           SMTP_STAGING_CAPACITY + SMTP_OUTPUT_CAPACITY;
}

size_t smtp_session_memory_in_use(const smtp_session *s)
{
    return sizeof(smtp_session) + s->rcpt_capacity * sizeof(smtp_recipient) +
           s->rcpt_text_capacity + s->line_capacity +
           (s->staging != NULL ? SMTP_STAGING_CAPACITY : 0) + s->out_capacity;
}

static size_t grown(size_t capacity, size_t needed, size_t bound)
{
    size_t n = capacity > 0 ? capacity : 1;
    while (n < needed) {
        n *= 2;
    }
    return n < bound ? n : bound;
}

/* The line buffer holds at least `needed` bytes. The old buffer is wiped before it is freed:
 * it may hold credentials. */
static bool reserve_line(smtp_session *s, size_t needed)
{
    if (needed <= s->line_capacity) {
        return true;
    }
    size_t capacity = grown(s->line_capacity, needed, s->limits.max_line_length);
    char *line = malloc(capacity);
    if (line == NULL) {
        return false;
    }
    memcpy(line, s->line, s->line_len);
    smtp_secure_zero(s->line, s->line_capacity);
    free(s->line);
    s->line = line;
    s->line_capacity = capacity;
    return true;
}

/* Room for one step of output (SMTP_STEP_ROOM free); false when the buffer cannot grow. */
static bool reserve_output(smtp_session *s)
{
    size_t needed = s->out_len + SMTP_STEP_ROOM;
    if (needed <= s->out_capacity) {
        return true;
    }
    if (needed > SMTP_OUTPUT_CAPACITY) {
        return false;
    }
    size_t capacity = grown(s->out_capacity, needed, SMTP_OUTPUT_CAPACITY);
    uint8_t *out = realloc(s->out, capacity);
    if (out == NULL) {
        return false;
    }
    s->out = out;
    s->out_capacity = capacity;
    return true;
}

/* Host-provided text ends up in reply lines: keep it printable ASCII and bounded. */
static void copy_clean(char *dst, size_t cap, const char *src, const char *fallback)
{
    if (src == NULL || src[0] == '\0') {
        src = fallback;
    }
    size_t n = 0;
    for (; src[n] != '\0' && n + 1 < cap; n++) {
        unsigned char c = (unsigned char)src[n];
        dst[n] = (c > 32 && c < 127) ? (char)c : '?';
    }
    dst[n] = '\0';
}

smtp_session *smtp_session_create(const smtp_host *host)
{
    smtp_limits limits = smtp_limits_effective(&host->limits);
    smtp_session *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->out = malloc(SMTP_OUTPUT_INITIAL);
    s->line = malloc(SMTP_LINE_INITIAL);
    if (s->out == NULL || s->line == NULL) {
        free(s->out);
        free(s->line);
        free(s);
        return NULL;
    }
    s->out_capacity = SMTP_OUTPUT_INITIAL;
    s->line_capacity = SMTP_LINE_INITIAL;
    s->host = *host;
    s->limits = limits;
    copy_clean(s->host_name, sizeof s->host_name, host->host_name, "localhost");
    copy_clean(s->client_address, sizeof s->client_address, host->client_address, "unknown");
    s->host.host_name = s->host_name;
    s->host.client_address = s->client_address;
    s->host.limits = limits;
    if (s->host.auth_check == NULL) {
        s->host.auth_available = false;
    }
    s->phase = SMTP_PHASE_COMMAND;
    smtp_reply(s, "220 %s ESMTP imsrelay ready", s->host_name);
    return s;
}

static void end_message(smtp_session *s, smtp_data_outcome outcome, bool *stored)
{
    free(s->staging);
    s->staging = NULL;
    s->staging_len = 0;
    bool ok = false;
    if (s->message_open) {
        s->message_open = false;
        ok = s->host.data_end != NULL && s->host.data_end(s->host.ctx, outcome);
    }
    if (stored != NULL) {
        *stored = ok && outcome == SMTP_DATA_COMMIT;
    }
}

void smtp_session_destroy(smtp_session *session)
{
    if (session == NULL) {
        return;
    }
    end_message(session, SMTP_DATA_ABORT, NULL);
    /* Credentials live only in the line buffer (wiped after every line, so only a partial
     * line is left) and, between LOGIN steps, login_user. */
    smtp_secure_zero(session->line, session->line_len);
    smtp_secure_zero(session->login_user, sizeof session->login_user);
    free(session->line);
    free(session->out);
    free(session->rcpts);
    free(session->rcpt_text);
    free(session);
}

void smtp_secure_zero(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n-- > 0) {
        *v++ = 0;
    }
}

bool smtp_phase_is_auth(smtp_phase phase)
{
    return phase == SMTP_PHASE_AUTH_PLAIN || phase == SMTP_PHASE_AUTH_LOGIN_USER ||
           phase == SMTP_PHASE_AUTH_LOGIN_PASS;
}

void smtp_reply(smtp_session *s, const char *fmt, ...)
{
    char line[SMTP_REPLY_LINE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    /* Cannot happen given SMTP_STEP_ROOM; if it ever did, a cut line is still a line. */
    size_t room = s->out_capacity - s->out_len;
    if (room < 6) {
        return;
    }
    if (len + 2 > room) {
        len = room - 2;
    }
    memcpy(s->out + s->out_len, line, len);
    s->out[s->out_len + len] = '\r';
    s->out[s->out_len + len + 1] = '\n';
    s->out_len += len + 2;
    if (s->host.protocol_log != NULL) {
        s->host.protocol_log(s->host.ctx, SMTP_LOG_SENT, line, len);
    }
}

void smtp_log_received(smtp_session *s, const char *line, size_t len)
{
    if (s->host.protocol_log == NULL) {
        return;
    }
    if (len > 5 && ascii_equal_nocase(line, "AUTH ", 5)) {
        /* Credentials never reach the log: an AUTH line shows its mechanism only. */
        char redacted[64 + 16];
        size_t n = 5;
        while (n < len && n < 64 && line[n] != ' ') {
            n++;
        }
        memcpy(redacted, line, n);
        if (n < len) {
            memcpy(redacted + n, " <redacted>", 11);
            n += 11;
        }
        s->host.protocol_log(s->host.ctx, SMTP_LOG_RECEIVED, redacted, n);
        return;
    }
    s->host.protocol_log(s->host.ctx, SMTP_LOG_RECEIVED, line, len);
}

void smtp_close_with(smtp_session *s, const char *reply)
{
    if (s->phase == SMTP_PHASE_CLOSED) {
        return;
    }
    end_message(s, SMTP_DATA_ABORT, NULL);
    smtp_auth_abandon(s);
    if (s->auth_pending) {
        s->auth_pending = false;
        smtp_secure_zero(s->auth_account, sizeof s->auth_account);
    }
    smtp_reply(s, "%s", reply);
    s->phase = SMTP_PHASE_CLOSED;
    s->close_after_output = true;
}

void smtp_reset_transaction(smtp_session *s)
{
    s->in_transaction = false;
    s->mail_from[0] = '\0';
    s->body = SMTP_BODY_UNSPECIFIED;
    s->declared_size = 0;
    s->rcpt_count = 0;
    s->rcpt_text_len = 0;
}

/* ---- the DATA stream ---- */

/* data_write (or data_begin) said no: remember whether for a storage limit. */
static void write_failed(smtp_session *s)
{
    s->message_write_failed = true;
    s->message_storage_full = s->host.storage_full != NULL && s->host.storage_full(s->host.ctx);
}

static void flush_staging(smtp_session *s)
{
    if (s->staging_len == 0) {
        return;
    }
    if (!s->message_write_failed && !s->message_too_large &&
        (s->host.data_write == NULL ||
         !s->host.data_write(s->host.ctx, s->staging, s->staging_len))) {
        write_failed(s);
    }
    s->staging_len = 0;
}

/* Decoded message bytes: counted, then staged for data_write unless the message is already
 * refused (too large, or the host failed to write it), in which case they are dropped. */
static void message_sink(void *ctx, const uint8_t *bytes, size_t len)
{
    smtp_session *s = ctx;
    s->message_bytes += len;
    if (s->message_bytes > s->limits.max_message_bytes) {
        s->message_too_large = true;
    }
    if (s->message_too_large || s->message_write_failed) {
        return;
    }
    if (s->staging_len + len > SMTP_STAGING_CAPACITY) {
        flush_staging(s);
    }
    /* Without a staging buffer (out of memory at DATA) every piece is written as it comes. */
    if (len >= SMTP_STAGING_CAPACITY || s->staging == NULL) {
        if (!s->message_write_failed &&
            (s->host.data_write == NULL || !s->host.data_write(s->host.ctx, bytes, len))) {
            write_failed(s);
        }
        return;
    }
    memcpy(s->staging + s->staging_len, bytes, len);
    s->staging_len += len;
}

static void finish_message(smtp_session *s)
{
    flush_staging(s);
    s->phase = SMTP_PHASE_COMMAND;
    bool stored = false;
    if (s->message_too_large) {
        end_message(s, SMTP_DATA_ABORT, NULL);
        smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size (%llu bytes)",
                   (unsigned long long)s->limits.max_message_bytes);
    } else if (s->decoder.bare_cr || s->decoder.bare_lf) {
        end_message(s, SMTP_DATA_ABORT, NULL);
        smtp_reply(s, "550 5.6.0 Message contains a bare CR or LF; lines must end in CRLF");
    } else if (s->decoder.nul) {
        end_message(s, SMTP_DATA_ABORT, NULL);
        smtp_reply(s, "550 5.6.0 Message contains a NUL byte");
    } else if (s->message_write_failed && s->message_storage_full) {
        end_message(s, SMTP_DATA_ABORT, NULL);
        smtp_reply(s, "452 4.3.1 Insufficient system storage; try again later");
    } else if (s->message_write_failed) {
        end_message(s, SMTP_DATA_ABORT, NULL);
        smtp_reply(s, "451 4.3.0 Could not store the message; try again later");
    } else {
        end_message(s, SMTP_DATA_COMMIT, &stored);
        if (stored) {
            smtp_reply(s, "250 2.0.0 Message accepted for delivery");
        } else {
            smtp_reply(s, "451 4.3.0 Could not store the message; try again later");
        }
    }
    smtp_reset_transaction(s);
}

void smtp_begin_message(smtp_session *s)
{
    s->message_open = true;
    smtp_data_decoder_init(&s->decoder);
    s->message_bytes = 0;
    s->message_too_large = false;
    s->message_write_failed = false;
    s->message_storage_full = false;
    s->staging_len = 0;
    if (s->staging == NULL) {
        s->staging = malloc(SMTP_STAGING_CAPACITY);
    }
    s->phase = SMTP_PHASE_DATA;
}

static size_t data_step(smtp_session *s, const uint8_t *in, size_t len)
{
    bool ended = false;
    size_t used = smtp_data_decode(&s->decoder, in, len, message_sink, s, &ended);
    if (ended) {
        finish_message(s);
    }
    return used;
}

/* ---- command lines ---- */

static void complete_line(smtp_session *s)
{
    bool auth_phase = smtp_phase_is_auth(s->phase);
    size_t len = s->line_len;
    const char *problem = NULL;
    if (s->line_overflow) {
        problem = "500 5.5.2 Line too long";
    } else if (len == 0 || s->line[len - 1] != '\r') {
        problem = "500 5.5.2 Line must end in CRLF";
    } else if (memchr(s->line, '\r', len - 1) != NULL || memchr(s->line, '\0', len - 1) != NULL) {
        problem = "500 5.5.2 Invalid character in command line";
    }
    if (problem != NULL) {
        if (auth_phase) {
            smtp_log_received(s, "<redacted>", 10);
            smtp_auth_abandon(s);
        } else {
            smtp_log_received(s, s->line, len);
        }
        smtp_reply(s, "%s", problem);
    } else {
        len--;
        s->line[len] = '\0';
        if (auth_phase) {
            smtp_auth_response(s, s->line, len);
        } else {
            smtp_command(s, s->line, len);
        }
    }
    /* The line may have carried credentials. */
    smtp_secure_zero(s->line, s->line_len);
    s->line_len = 0;
    s->line_overflow = false;
}

static size_t line_step(smtp_session *s, const uint8_t *in, size_t len)
{
    const uint8_t *lf = memchr(in, '\n', len);
    size_t take = lf != NULL ? (size_t)(lf - in) + 1 : len;
    size_t content = lf != NULL ? take - 1 : take;
    /* The LF counts towards max_line_length, so the stored part is one byte shorter. */
    if (!s->line_overflow) {
        /* Keep what fits (for the log), whatever the chunking; the rest is dropped. */
        size_t room = s->limits.max_line_length - 1 - s->line_len;
        size_t keep = content < room ? content : room;
        /* One more byte: complete_line may look at line[line_len]. */
        if (!reserve_line(s, s->line_len + keep + 1)) {
            char reply[SMTP_FINAL_REPLY_MAX];
            snprintf(reply, sizeof reply, "421 4.3.2 %s Out of memory, closing connection",
                     s->host_name);
            smtp_close_with(s, reply);
            return take;
        }
        memcpy(s->line + s->line_len, in, keep);
        s->line_len += keep;
        s->line_overflow = content > room;
    }
    if (lf != NULL) {
        s->input_after_line = len - take;
        complete_line(s);
        s->input_after_line = 0;
    }
    return take;
}

size_t smtp_session_feed(smtp_session *s, const void *bytes, size_t len)
{
    const uint8_t *in = bytes;
    size_t used = 0;
    while (used < len) {
        if (s->phase == SMTP_PHASE_CLOSED || s->phase == SMTP_PHASE_TLS_PENDING) {
            return len; /* after STARTTLS: sent in clear behind it, never executed */
        }
        if (s->delay_ms > 0 || s->auth_pending || !reserve_output(s)) {
            break;
        }
        if (s->phase == SMTP_PHASE_DATA) {
            used += data_step(s, in + used, len - used);
        } else {
            used += line_step(s, in + used, len - used);
        }
    }
    return s->phase == SMTP_PHASE_CLOSED || s->phase == SMTP_PHASE_TLS_PENDING ? len : used;
}

smtp_output smtp_session_output(const smtp_session *s)
{
    smtp_output out;
    out.bytes = s->out;
    out.length = s->out_len;
    out.delay_ms = s->delay_ms;
    out.close = s->close_after_output;
    out.start_tls = s->phase == SMTP_PHASE_TLS_PENDING;
    return out;
}

void smtp_session_output_sent(smtp_session *s, size_t n)
{
    if (n > s->out_len) {
        n = s->out_len;
    }
    memmove(s->out, s->out + n, s->out_len - n);
    s->out_len -= n;
    s->delay_ms = 0;
}

void smtp_session_shutdown(smtp_session *s)
{
    char reply[SMTP_FINAL_REPLY_MAX];
    snprintf(reply, sizeof reply, "421 4.3.2 %s Service shutting down, closing connection",
             s->host_name);
    smtp_close_with(s, reply);
}

void smtp_session_timeout(smtp_session *s)
{
    smtp_session_timeout_because(s, "Idle timeout");
}

void smtp_session_timeout_because(smtp_session *s, const char *why)
{
    /* Words for the client: printable ASCII and spaces only, so no reply line is forged. */
    char clean[64];
    size_t n = 0;
    for (; why != NULL && why[n] != '\0' && n + 1 < sizeof clean; n++) {
        unsigned char c = (unsigned char)why[n];
        clean[n] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    clean[n] = '\0';
    char reply[SMTP_FINAL_REPLY_MAX];
    snprintf(reply, sizeof reply, "421 4.4.2 %s %s, closing connection", s->host_name, clean);
    smtp_close_with(s, reply);
}

bool smtp_session_closed(const smtp_session *s)
{
    return s->phase == SMTP_PHASE_CLOSED;
}

const char *smtp_session_auth_account(const smtp_session *s)
{
    return s->authenticated ? s->auth_account : NULL;
}

const char *smtp_session_helo_name(const smtp_session *s)
{
    return s->helo_name;
}

bool smtp_session_in_data(const smtp_session *s)
{
    return s->phase == SMTP_PHASE_DATA;
}
