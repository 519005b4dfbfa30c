/* The session engine fed random bytes in random chunkings with random callback answers.
 * Checks, besides "never crashes": the output is always well-formed reply lines (printable
 * text, CRLF, multi-line replies with one code), it never exceeds the output bound, the
 * engine always makes progress once its output is sent, messages open and close in pairs,
 * a relay that the host denied is never accepted (no input opens the relay), and the same
 * bytes fed whole or in random pieces give the same output. With STARTTLS offered: a
 * password never reaches the host outside TLS unless it allows that, and after the
 * handshake the session has no HELO and no account (RFC 3207 4.2).
 *
 * Input layout: byte 0 = callback answers and limits (bits), byte 1 = chunking seed (bit 2:
 * STARTTLS offered, bit 4: AUTH in clear allowed), the rest is the client's byte stream.
 * The handshake the engine asks for "takes" the stream up to the next 0x16 byte (a TLS
 * handshake record's type): the session goes on inside TLS after it. */
#include "smtp_session.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OUTPUT_BOUND 4096

typedef struct fuzz_host {
    uint8_t answers;
    uint32_t rng;       /* callback answers: the same sequence whatever the chunking */
    uint32_t chunk_rng; /* chunk sizes and injected timeouts */
    uint64_t output_hash;
    uint64_t output_len;
    bool relay_allow;
    bool auth_without_tls;
    smtp_session *session;
    int open;
    /* Reply-line checker state. */
    int line_pos;    /* bytes of the current line seen */
    char code[3];    /* code of the current multi-line reply, when in one */
    bool continuing; /* the last line was "xyz-" */
    char line_code[3];
} fuzz_host;

static const char *const local_domains[] = {"example.com", "[192.0.2.1]"};

static uint32_t step(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 16;
}

static uint32_t next(fuzz_host *h)
{
    return step(&h->rng);
}

static smtp_relay_verdict relay_check(void *ctx, const smtp_relay_query *q)
{
    fuzz_host *h = ctx;
    smtp_path p;
    size_t used;
    char path[SMTP_PATH_MAX + 3];
    size_t n = strlen(q->recipient);
    if (n > SMTP_PATH_MAX) {
        abort();
    }
    path[0] = '<';
    memcpy(path + 1, q->recipient, n);
    path[n + 1] = '>';
    /* What reaches the relay decision is never a local recipient. */
    if (smtp_path_parse(path, n + 2, SMTP_PATH_ALLOW_POSTMASTER, &p, &used) == SMTP_PATH_OK &&
        smtp_recipient_classify(&p, local_domains, 2) == SMTP_RCPT_LOCAL) {
        abort();
    }
    return h->relay_allow ? SMTP_RELAY_ALLOW : SMTP_RELAY_DENY;
}

static smtp_auth_verdict auth_check(void *ctx, const char *user, const char *password)
{
    fuzz_host *h = ctx;
    if (strlen(user) > SMTP_CREDENTIAL_MAX || strlen(password) > SMTP_CREDENTIAL_MAX) {
        abort();
    }
    if (!h->auth_without_tls && !smtp_session_tls_active(h->session)) {
        abort(); /* a password crossed the network in clear */
    }
    return (smtp_auth_verdict)(next(h) % 3);
}

static bool data_begin(void *ctx, const smtp_envelope *e)
{
    fuzz_host *h = ctx;
    if (h->open != 0 || e->recipient_count == 0) {
        abort();
    }
    for (size_t i = 0; i < e->recipient_count; i++) {
        if (!e->recipients[i].local && !h->relay_allow) {
            abort(); /* a denied relay got into a transaction */
        }
    }
    if (h->answers & 0x10 && next(h) % 4 == 0) {
        return false;
    }
    h->open = 1;
    return true;
}

static bool data_write(void *ctx, const uint8_t *bytes, size_t len)
{
    fuzz_host *h = ctx;
    if (h->open != 1 || len == 0) {
        abort();
    }
    (void)bytes;
    return !(h->answers & 0x20 && next(h) % 8 == 0);
}

static bool data_end(void *ctx, smtp_data_outcome outcome)
{
    fuzz_host *h = ctx;
    if (h->open != 1) {
        abort();
    }
    h->open = 0;
    return outcome == SMTP_DATA_COMMIT && !(h->answers & 0x40 && next(h) % 4 == 0);
}

static void protocol_log(void *ctx, smtp_log_direction d, const char *line, size_t len)
{
    (void)ctx;
    (void)d;
    if (memchr(line, '\n', len) != NULL) {
        abort();
    }
}

/* Every reply line: 3 digits 2xx-5xx, then ' ' or '-', printable text, CRLF. A '-' line is
 * followed by a line with the same code. */
static void check_output(fuzz_host *h, const uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = out[i];
        int pos = h->line_pos++;
        if (pos < 3) {
            if (c < '0' || c > '9' || (pos == 0 && (c < '2' || c > '5'))) {
                abort();
            }
            h->line_code[pos] = (char)c;
            if (pos == 2 && h->continuing && memcmp(h->line_code, h->code, 3) != 0) {
                abort();
            }
        } else if (pos == 3) {
            if (c != ' ' && c != '-') {
                abort();
            }
            h->continuing = c == '-';
            memcpy(h->code, h->line_code, 3);
        } else if (c == '\r') {
            if (i + 1 >= len || out[i + 1] != '\n') {
                abort(); /* lines are queued whole, CRLF included */
            }
            i++;
            h->line_pos = 0;
        } else if (c < 32 || c > 126 || pos > 600) {
            abort();
        }
    }
    if (h->line_pos != 0) {
        abort();
    }
}

static void drain(fuzz_host *h, smtp_session *s)
{
    smtp_output out = smtp_session_output(s);
    if (out.length > OUTPUT_BOUND || out.delay_ms > SMTP_AUTH_DELAY_MAX_MS) {
        abort();
    }
    check_output(h, out.bytes, out.length);
    for (size_t i = 0; i < out.length; i++) {
        h->output_hash = (h->output_hash ^ out.bytes[i]) * 1099511628211u;
    }
    h->output_len += out.length;
    smtp_session_output_sent(s, out.length);
}

/* The end of the first line ending after `from` that starts with DATA (any case), or len:
 * where a client that pipelines by the rules stops to read DATA's reply. Lines are cut at
 * LF, as the engine cuts them; a DATA line inside message text matches too, which changes
 * nothing the client is told. */
static size_t after_data_line(const uint8_t *in, size_t from, size_t len)
{
    size_t line = from; /* back to the start of the line `from` is in */
    while (line > 0 && in[line - 1] != '\n') {
        line--;
    }
    while (line < len) {
        const uint8_t *lf = memchr(in + line, '\n', len - line);
        size_t end = lf != NULL ? (size_t)(lf - in) + 1 : len;
        if (end - line >= 4 && (in[line] | 0x20) == 'd' && (in[line + 1] | 0x20) == 'a' &&
            (in[line + 2] | 0x20) == 't' && (in[line + 3] | 0x20) == 'a') {
            return end;
        }
        line = end;
    }
    return len;
}

/* One whole session over the input. whole: every byte offered at once (the engine still
 * takes what it can); otherwise in random pieces of 1..3 or 1..64 bytes. Unless data[1]
 * has 0x10 (a client that sends text behind DATA), no piece runs past a DATA line. */
static void run(const uint8_t *data, size_t size, bool whole, fuzz_host *h)
{
    memset(h, 0, sizeof *h);
    h->answers = data[0];
    h->rng = data[1] * 2654435761u + 1;
    h->chunk_rng = data[1] * 40503u + 7;
    h->output_hash = 1469598103934665603u;
    h->relay_allow = (data[0] & 1) != 0;

    smtp_host host;
    memset(&host, 0, sizeof host);
    host.ctx = h;
    host.host_name = "mx.example.com";
    host.client_address = "192.0.2.7";
    host.local_domains = local_domains;
    host.local_domain_count = 2;
    host.auth_available = (data[0] & 2) != 0;
    host.tls_available = (data[1] & 2) != 0;
    host.auth_without_tls = (data[1] & 4) != 0;
    h->auth_without_tls = host.auth_without_tls;
    host.relay_check = relay_check;
    host.auth_check = auth_check;
    host.data_begin = data_begin;
    host.data_write = data_write;
    host.data_end = data_end;
    host.protocol_log = (data[0] & 0x80) ? protocol_log : NULL;
    if (data[0] & 4) {
        host.limits.max_message_bytes = 64;
        host.limits.max_recipients = 2;
        host.limits.max_line_length = 512;
        host.limits.max_auth_failures = 2;
    }
    smtp_session *s = smtp_session_create(&host);
    if (s == NULL) {
        abort();
    }
    h->session = s;
    drain(h, s);
    const uint8_t *in = data + 2;
    size_t len = size - 2, pos = 0;
    bool timeouts = !whole && (data[0] & 8) != 0;
    size_t stop = 0; /* the end of the next DATA line */
    while (pos < len) {
        size_t chunk = whole ? len : 1 + step(&h->chunk_rng) % (data[1] & 8 ? 3 : 64);
        if (chunk > len - pos) {
            chunk = len - pos;
        }
        if (!(data[1] & 0x10)) {
            if (stop <= pos) {
                stop = after_data_line(in, pos, len);
            }
            if (chunk > stop - pos) {
                chunk = stop - pos;
            }
        }
        size_t used = 0;
        while (used < chunk) {
            size_t got = smtp_session_feed(s, in + pos + used, chunk - used);
            smtp_output out = smtp_session_output(s);
            if (got == 0 && out.length == 0 && out.delay_ms == 0) {
                abort(); /* stalled with nothing to send */
            }
            used += got;
            drain(h, s);
            if (smtp_session_output(s).start_tls) {
                const uint8_t *hello = memchr(in + pos + used, 0x16, len - pos - used);
                if (hello == NULL) {
                    used = len - pos; /* the handshake never completes */
                    chunk = used;
                    break;
                }
                smtp_session_tls_started(s);
                if (!smtp_session_tls_active(s) || smtp_session_auth_account(s) != NULL ||
                    smtp_session_helo_name(s)[0] != '\0' || smtp_session_output(s).start_tls) {
                    abort(); /* the session did not start afresh */
                }
                used = (size_t)(hello - (in + pos)) + 1;
                if (used > chunk) {
                    chunk = used;
                }
            }
        }
        pos += chunk;
        if (timeouts && step(&h->chunk_rng) % 512 == 0) {
            smtp_session_timeout(s);
        }
    }
    if (data[1] & 1) {
        smtp_session_shutdown(s);
    }
    drain(h, s);
    smtp_session_destroy(s);
    if (h->open != 0) {
        abort(); /* a message left open */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    fuzz_host whole, pieces;
    run(data, size, true, &whole);
    run(data, size, false, &pieces);
    /* Text behind DATA is refused or not depending on how it was cut into pieces, and where
     * a handshake begins depends on how much clear text one receive held. */
    if (!(data[0] & 8) && !(data[1] & 2) && !(data[1] & 0x10) &&
        (whole.output_hash != pieces.output_hash || whole.output_len != pieces.output_len)) {
        abort(); /* the chunking changed what the client was told */
    }
    return 0;
}
