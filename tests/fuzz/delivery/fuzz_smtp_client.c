/* The client engine fed random server bytes in random chunkings, with random partial
 * writes, messages given at random points, and the connection lost or timed out at random.
 * Checks, besides "never crashes": whenever the engine is READY or CLOSED, every recipient
 * of the message it was given has exactly one outcome, and a consistent one (delivered only
 * on a 2xx to the end of data; a server's code always matches its outcome's class); the
 * output never exceeds its bound and stays proportional to what the server said; every line
 * the client writes ends in CRLF with no bare CR or LF anywhere (the body is canonicalised);
 * and once closed, nothing more is written.
 *
 * Input layout: byte 0 = scenario bits, byte 1 = chunking seed, the rest is the server's
 * byte stream. */
#include "smtp_client.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const recipients[] = {"a@example.net", "b@example.net", "c>@example.net",
                                         "d@example.net"};
static const char body_text[] = "Subject: x\r\n\r\n.line\r\nbare\nlf\rcr\r\n..\r\n.";

typedef struct body_state {
    size_t pos;
    uint32_t rng;
    bool fail;
} body_state;

static uint32_t step(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 16;
}

static smtp_body_read read_body(void *ctx, uint8_t *buf, size_t cap, size_t *len)
{
    body_state *b = ctx;
    size_t left = sizeof body_text - 1 - b->pos;
    size_t n = 1 + step(&b->rng) % 9;
    if (b->fail && b->pos > 10) {
        return SMTP_BODY_ERROR;
    }
    if (n > left) {
        n = left;
    }
    if (n > cap) {
        n = cap;
    }
    memcpy(buf, body_text + b->pos, n);
    b->pos += n;
    *len = n;
    return b->pos == sizeof body_text - 1 ? SMTP_BODY_END : SMTP_BODY_MORE;
}

typedef struct wire_check {
    bool after_cr;
    uint64_t written;
} wire_check;

static void check_wire(wire_check *w, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (w->after_cr != (bytes[i] == '\n')) {
            abort(); /* a bare CR, or a bare LF */
        }
        w->after_cr = bytes[i] == '\r';
    }
    w->written += len;
}

static void check_results(const smtp_client *c, bool given)
{
    smtp_client_state state = smtp_client_state_now(c);
    if (!given || (state != SMTP_CLIENT_READY && state != SMTP_CLIENT_CLOSED)) {
        return;
    }
    for (size_t i = 0; i < smtp_client_recipient_count(c); i++) {
        const smtp_client_result *r = smtp_client_recipient_result(c, i);
        if (r->outcome == SMTP_OUTCOME_PENDING || !memchr(r->text, 0, sizeof r->text)) {
            abort();
        }
        if (r->outcome == SMTP_OUTCOME_DELIVERED &&
            (r->stage != SMTP_STAGE_END_OF_DATA || r->code < 200 || r->code > 299)) {
            abort();
        }
        if (r->code != 0 && r->outcome == SMTP_OUTCOME_FAILED && r->code / 100 != 5) {
            abort();
        }
        if (r->code != 0 && r->code / 100 == 2 && r->outcome != SMTP_OUTCOME_DELIVERED &&
            r->stage != SMTP_STAGE_BODY) {
            abort(); /* a 2xx only ever decides a delivery */
        }
        if (r->status.klass != 2 && r->status.klass != 4 && r->status.klass != 5) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    uint8_t bits = data[0];
    uint32_t rng = data[1] | 0x100u;
    const uint8_t *in = data + 2;
    size_t len = size - 2;

    smtp_client_config config = {"relay.example.org", (bits & 1) ? 2 : 0};
    smtp_client *c = smtp_client_create(&config);
    if (!c) {
        abort();
    }
    body_state body = {0, rng, (bits & 0x40) != 0};
    smtp_client_message m = {(bits & 2) ? "" : "s@example.org",
                             recipients,
                             1 + ((bits >> 2) & 3u),
                             (bits & 0x10) ? 100 : 0,
                             (bits & 0x20) != 0,
                             read_body,
                             &body};
    if (m.recipient_count > 2 && (bits & 1)) {
        m.recipient_count = 2;
    }
    bool given = false;
    int messages = 0;
    if (bits & 0x80) {
        given = smtp_client_send(c, &m); /* before the greeting */
        if (!given) {
            abort();
        }
        messages++;
    }
    wire_check wire = {false, 0};
    size_t pos = 0;
    uint64_t replies_bound = 0;
    while (true) {
        /* The caller's turn. */
        smtp_client_state state = smtp_client_state_now(c);
        check_results(c, given);
        if (state == SMTP_CLIENT_READY) {
            if (messages < 2 && (step(&rng) % 4) != 0) {
                body.pos = 0;
                given = smtp_client_send(c, &m);
                if (!given) {
                    abort();
                }
                messages++;
            } else if (step(&rng) % 8 == 0) {
                smtp_client_quit(c);
            }
        } else if (state == SMTP_CLIENT_TLS_START && step(&rng) % 2) {
            smtp_client_tls_started(c);
        }
        /* Write with random partial writes. */
        smtp_client_out out = smtp_client_output(c);
        if (out.length > SMTP_CLIENT_OUTPUT_MAX) {
            abort();
        }
        size_t n = out.length;
        if (n > 0 && step(&rng) % 3 == 0) {
            n = step(&rng) % (n + 1);
        }
        check_wire(&wire, out.bytes, n);
        smtp_client_output_sent(c, n);
        if (out.close && n == out.length) {
            break;
        }
        if (pos >= len) {
            if (n == 0) {
                break; /* the server has nothing more to say and we nothing to write */
            }
            continue;
        }
        /* The server's turn. */
        size_t piece = 1 + step(&rng) % 24;
        if (piece > len - pos) {
            piece = len - pos;
        }
        for (size_t i = pos; i < pos + piece; i++) {
            replies_bound += in[i] == '\n';
        }
        smtp_client_feed(c, in + pos, piece);
        pos += piece;
        uint32_t r = step(&rng) % 64;
        if (r == 0) {
            smtp_client_connection_lost(c);
        } else if (r == 1) {
            smtp_client_timeout(c);
        } else if (r == 2 && (bits & 8)) {
            const smtp_client_capabilities *caps = smtp_client_capabilities_offered(c);
            if (caps->starttls) {
                smtp_client_starttls(c);
            } else if (caps->auth_mechanisms) {
                smtp_client_auth(c, caps->auth_mechanisms & SMTP_CLIENT_AUTH_PLAIN ? 1u : 2u,
                                 "user", "password");
            }
        }
        /* What we write is bounded by what the server said: a few commands per reply, and
         * the two bodies (at most doubled by stuffing and line ends). */
        if (wire.written > (replies_bound + 2) * 2 * 1024 + 4 * sizeof body_text) {
            abort();
        }
    }
    smtp_client_connection_lost(c);
    if (smtp_client_state_now(c) != SMTP_CLIENT_CLOSED) {
        abort();
    }
    check_results(c, given);
    smtp_client_out out = smtp_client_output(c);
    if (out.length != 0 && !out.close) {
        abort();
    }
    smtp_client_destroy(c);
    return 0;
}
