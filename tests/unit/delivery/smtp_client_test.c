/* The SMTP client engine against a scripted server: every byte the client writes is
 * checked, server replies come in every chunking, and every recipient ends with exactly one
 * outcome whatever happens to the connection. */
#include "smtp_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define HELO_NAME "relay.example.org"

static const char EHLO_PIPELINING[] = "250-mx.example.net greets relay.example.org\r\n"
                                      "250-PIPELINING\r\n"
                                      "250-SIZE 10000000\r\n"
                                      "250-8BITMIME\r\n"
                                      "250 ENHANCEDSTATUSCODES\r\n";
static const char EHLO_LOCKSTEP[] = "250-mx.example.net\r\n250 8BITMIME\r\n";

/* ---- a message body from memory ---- */

typedef struct body_source {
    const char *data;
    size_t len, pos;
    size_t piece;    /* at most this many bytes per read; 0 = as many as fit */
    size_t stall_at; /* offer nothing (MORE, 0 bytes) once pos reaches this; 0 = never */
    bool fail;       /* at stall_at, report a read error instead */
    size_t reads;
} body_source;

static smtp_body_read read_body(void *ctx, uint8_t *buf, size_t cap, size_t *len)
{
    body_source *b = ctx;
    assert_true(cap > 0);
    b->reads++;
    *len = 0;
    if (b->stall_at > 0 && b->pos >= b->stall_at) {
        return b->fail ? SMTP_BODY_ERROR : SMTP_BODY_MORE;
    }
    size_t n = b->len - b->pos;
    if (b->stall_at > 0 && n > b->stall_at - b->pos) {
        n = b->stall_at - b->pos;
    }
    if (b->piece > 0 && n > b->piece) {
        n = b->piece;
    }
    if (n > cap) {
        n = cap;
    }
    memcpy(buf, b->data + b->pos, n);
    b->pos += n;
    *len = n;
    return b->pos == b->len ? SMTP_BODY_END : SMTP_BODY_MORE;
}

/* ---- the conversation ---- */

typedef struct conv {
    smtp_client *c;
    size_t chunk; /* server bytes per feed; 0 = all at once */
    bool closed;  /* the engine asked for the connection to be closed */
    size_t checked;
    size_t wire_len;
    size_t max_output;  /* the largest output the engine ever offered */
    char wire[1 << 17]; /* everything the client wrote */
} conv;

static conv *conv_new(size_t chunk, uint32_t max_recipients)
{
    conv *v = calloc(1, sizeof *v);
    assert_non_null(v);
    smtp_client_config config = {HELO_NAME, max_recipients};
    v->c = smtp_client_create(&config);
    assert_non_null(v->c);
    v->chunk = chunk;
    return v;
}

static void conv_free(conv *v)
{
    smtp_client_destroy(v->c);
    free(v);
}

/* Writes everything the engine has to write. */
static void pump(conv *v)
{
    for (int rounds = 0; rounds < 100000; rounds++) {
        smtp_client_out out = smtp_client_output(v->c);
        if (out.length > v->max_output) {
            v->max_output = out.length;
        }
        assert_true(out.length <= SMTP_CLIENT_OUTPUT_MAX);
        assert_true(v->wire_len + out.length < sizeof v->wire);
        memcpy(v->wire + v->wire_len, out.bytes, out.length);
        v->wire_len += out.length;
        smtp_client_output_sent(v->c, out.length);
        if (out.close) {
            v->closed = true;
        }
        if (out.length == 0) {
            return;
        }
    }
    fail_msg("the engine never stops writing");
}

static void server(conv *v, const char *bytes)
{
    size_t len = strlen(bytes), pos = 0;
    pump(v);
    while (pos < len) {
        size_t n = v->chunk == 0 || v->chunk > len - pos ? len - pos : v->chunk;
        smtp_client_feed(v->c, bytes + pos, n);
        pos += n;
        pump(v);
    }
}

/* The client wrote exactly expected[0..len) since the last check. */
static void expect_bytes(conv *v, const char *expected, size_t len)
{
    pump(v);
    size_t n = v->wire_len - v->checked;
    if (n != len || memcmp(v->wire + v->checked, expected, n) != 0) {
        fail_msg("client wrote [%.*s], expected [%s]", (int)n, v->wire + v->checked, expected);
    }
    v->checked = v->wire_len;
}

static void expect(conv *v, const char *expected)
{
    expect_bytes(v, expected, strlen(expected));
}

static void open_session(conv *v, const char *ehlo_reply)
{
    expect(v, "");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_GREETING);
    server(v, "220 mx.example.net ESMTP\r\n");
    expect(v, "EHLO " HELO_NAME "\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_COMMAND);
    server(v, ehlo_reply);
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_NONE);
}

static smtp_client_message message(const char *sender, const char *const *recipients, size_t count,
                                   body_source *body)
{
    smtp_client_message m = {sender, recipients, count, 0, false, read_body, body};
    return m;
}

static void check(const conv *v, size_t i, smtp_client_outcome outcome, smtp_client_stage stage,
                  uint16_t code, const char *status)
{
    const smtp_client_result *r = smtp_client_recipient_result(v->c, i);
    char text[SMTP_STATUS_TEXT_MAX];
    assert_non_null(r);
    smtp_status_format(r->status, text);
    if (r->outcome != outcome || r->stage != stage || r->code != code ||
        strcmp(text, status) != 0) {
        fail_msg("recipient %zu: outcome %d stage %s code %u status %s (%s); expected %d %s "
                 "%u %s",
                 i, (int)r->outcome, smtp_client_stage_name(r->stage), (unsigned)r->code, text,
                 r->text, (int)outcome, smtp_client_stage_name(stage), (unsigned)code, status);
    }
}

static void all_decided(const conv *v)
{
    for (size_t i = 0; i < smtp_client_recipient_count(v->c); i++) {
        assert_int_not_equal(smtp_client_recipient_result(v->c, i)->outcome, SMTP_OUTCOME_PENDING);
    }
}

/* ---- tests ---- */

static void greeting_refused_fails_the_connection(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b@example.net"};
    body_source body = {"x\r\n", 3, 0, 0, 0, false, 0};

    /* 554: permanent for every recipient, QUIT, close. */
    conv *v = conv_new(0, 0);
    smtp_client_message m = message("s@example.org", rcpts, 2, &body);
    assert_true(smtp_client_send(v->c, &m)); /* given before the greeting */
    server(v, "554 5.7.1 no service for you\r\n");
    expect(v, "QUIT\r\n");
    assert_true(v->closed);
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_CLOSED);
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_GREETING, 554, "5.7.1");
    check(v, 1, SMTP_OUTCOME_FAILED, SMTP_STAGE_GREETING, 554, "5.7.1");
    assert_string_equal(smtp_client_recipient_result(v->c, 0)->text, "5.7.1 no service for you");
    assert_int_equal(smtp_client_connection_result(v->c)->code, 554);
    conv_free(v);

    /* 421: deferred, and no QUIT (the server is closing). */
    v = conv_new(0, 0);
    assert_true(smtp_client_send(v->c, &m));
    server(v, "421 mx.example.net busy\r\n");
    expect(v, "");
    assert_true(v->closed);
    check(v, 0, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_GREETING, 421, "4.0.0");
    assert_false(smtp_client_recipient_result(v->c, 0)->status_from_server);
    conv_free(v);

    /* No message given: the connection result says why. */
    v = conv_new(0, 0);
    server(v, "450 4.3.2 try later\r\n");
    expect(v, "QUIT\r\n");
    assert_int_equal(smtp_client_connection_result(v->c)->outcome, SMTP_OUTCOME_DEFERRED);
    assert_int_equal(smtp_client_connection_result(v->c)->stage, SMTP_STAGE_GREETING);
    assert_int_equal(smtp_client_recipient_count(v->c), 0);
    conv_free(v);
}

static void ehlo_refused_falls_back_to_helo(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net"};
    body_source body = {"hi\r\n", 4, 0, 0, 0, false, 0};
    conv *v = conv_new(0, 0);
    server(v, "220 old.example.net SMTP\r\n");
    expect(v, "EHLO " HELO_NAME "\r\n");
    server(v, "502 5.5.1 EHLO? never heard of it\r\n");
    expect(v, "HELO " HELO_NAME "\r\n");
    server(v, "250 old.example.net\r\n");
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    assert_false(smtp_client_capabilities_offered(v->c)->esmtp);

    /* No SIZE or BODY without ESMTP, and lock-step. */
    smtp_client_message m = message("s@example.org", rcpts, 1, &body);
    m.size = 4;
    m.eight_bit = true;
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<s@example.org>\r\n");
    server(v, "250 ok\r\n");
    expect(v, "RCPT TO:<a@example.net>\r\n");
    server(v, "250 ok\r\n");
    expect(v, "DATA\r\n");
    server(v, "354 go\r\n");
    expect(v, "hi\r\n.\r\n");
    server(v, "250 ok\r\n");
    check(v, 0, SMTP_OUTCOME_DELIVERED, SMTP_STAGE_END_OF_DATA, 250, "2.0.0");
    conv_free(v);

    /* HELO refused too: the connection fails with the HELO reply. */
    v = conv_new(0, 0);
    assert_true(smtp_client_send(v->c, &m));
    server(v, "220 x\r\n");
    expect(v, "EHLO " HELO_NAME "\r\n");
    server(v, "500 no\r\n");
    expect(v, "HELO " HELO_NAME "\r\n");
    server(v, "550 5.7.1 not you\r\n");
    expect(v, "QUIT\r\n");
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_EHLO, 550, "5.7.1");
    conv_free(v);

    /* A temporary EHLO refusal does not fall back: deferred. */
    v = conv_new(0, 0);
    assert_true(smtp_client_send(v->c, &m));
    server(v, "220 x\r\n");
    expect(v, "EHLO " HELO_NAME "\r\n");
    server(v, "451 4.3.0 later\r\n");
    expect(v, "QUIT\r\n");
    check(v, 0, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_EHLO, 451, "4.3.0");
    conv_free(v);
}

/* One pipelined transaction with a 250, a 450 and a 550 recipient; the server's bytes in
 * pieces of `chunk`. */
static void pipelined_transaction(size_t chunk)
{
    static const char *const rcpts[] = {"a@example.net", "b@example.net", "c@example.net"};
    static const char text[] = "Subject: t\r\n\r\nhello\r\n";
    body_source body = {text, sizeof text - 1, 0, 0, 0, false, 0};
    conv *v = conv_new(chunk, 0);
    open_session(v, EHLO_PIPELINING);
    const smtp_client_capabilities *caps = smtp_client_capabilities_offered(v->c);
    assert_true(caps->esmtp && caps->pipelining && caps->size && caps->eight_bit_mime &&
                caps->enhanced_status_codes);
    assert_false(caps->starttls);
    assert_true(caps->size_limit == 10000000);

    smtp_client_message m = message("s@example.org", rcpts, 3, &body);
    m.size = sizeof text - 1;
    assert_true(smtp_client_send(v->c, &m));
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_BUSY);
    /* One write: MAIL, every RCPT and DATA (RFC 2920). */
    expect(v, "MAIL FROM:<s@example.org> SIZE=21\r\nRCPT TO:<a@example.net>\r\n"
              "RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_MAIL);
    server(v, "250 2.1.0 sender ok\r\n250 2.1.5 a ok\r\n450 4.2.0 b: mailbox busy\r\n"
              "550-5.1.1 c: no such\r\n550 5.1.1 user here\r\n354 go ahead\r\n");
    expect(v, "Subject: t\r\n\r\nhello\r\n.\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_DATA_END);
    server(v, "250 2.0.0 queued as 4F2A\r\n");
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    check(v, 0, SMTP_OUTCOME_DELIVERED, SMTP_STAGE_END_OF_DATA, 250, "2.0.0");
    check(v, 1, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_RCPT, 450, "4.2.0");
    check(v, 2, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.1.1");
    assert_string_equal(smtp_client_recipient_result(v->c, 0)->text, "2.0.0 queued as 4F2A");
    assert_string_equal(smtp_client_recipient_result(v->c, 2)->text,
                        "5.1.1 c: no such\n5.1.1 user here");
    assert_true(smtp_client_recipient_result(v->c, 2)->status_from_server);
    assert_true(smtp_client_quit(v->c));
    expect(v, "QUIT\r\n");
    assert_true(v->closed);
    conv_free(v);
}

static void pipelined_transaction_with_mixed_recipients(void **state)
{
    (void)state;
    pipelined_transaction(0);
}

static void every_chunking_of_the_replies_gives_the_same_result(void **state)
{
    (void)state;
    for (size_t chunk = 1; chunk <= 64; chunk++) {
        pipelined_transaction(chunk);
    }
}

static void lock_step_without_pipelining(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b@example.net"};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    conv *v = conv_new(1, 0);
    open_session(v, EHLO_LOCKSTEP);
    smtp_client_message m = message("s@example.org", rcpts, 2, &body);
    m.size = 1; /* no SIZE offered: not sent */
    m.eight_bit = true;
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<s@example.org> BODY=8BITMIME\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_MAIL);
    server(v, "250 ok\r\n");
    expect(v, "RCPT TO:<a@example.net>\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_RCPT);
    server(v, "550 no such user\r\n");
    expect(v, "RCPT TO:<b@example.net>\r\n");
    server(v, "251 will forward\r\n");
    expect(v, "DATA\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_DATA_INIT);
    server(v, "354 go\r\n");
    expect(v, "x\r\n.\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_DATA_END);
    server(v, "250 ok\r\n");
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.0.0");
    assert_false(smtp_client_recipient_result(v->c, 0)->status_from_server);
    check(v, 1, SMTP_OUTCOME_DELIVERED, SMTP_STAGE_END_OF_DATA, 250, "2.0.0");
    conv_free(v);
}

static void timeouts_follow_rfc_5321(void **state)
{
    (void)state;
    assert_int_equal(smtp_client_default_timeout_ms(SMTP_WAIT_GREETING), 300000);
    assert_int_equal(smtp_client_default_timeout_ms(SMTP_WAIT_MAIL), 300000);
    assert_int_equal(smtp_client_default_timeout_ms(SMTP_WAIT_RCPT), 300000);
    assert_int_equal(smtp_client_default_timeout_ms(SMTP_WAIT_DATA_INIT), 120000);
    assert_int_equal(smtp_client_default_timeout_ms(SMTP_WAIT_DATA_BLOCK), 180000);
    assert_int_equal(smtp_client_default_timeout_ms(SMTP_WAIT_DATA_END), 600000);
    assert_int_equal(smtp_client_default_timeout_ms(SMTP_WAIT_NONE), 0);
}

static void size_too_big_fails_without_sending(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b@example.net"};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    conv *v = conv_new(0, 0);
    open_session(v, "250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
    smtp_client_message m = message("s@example.org", rcpts, 2, &body);
    m.size = 1001;
    assert_true(smtp_client_send(v->c, &m));
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    expect(v, "");
    assert_int_equal(body.reads, 0);
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_MAIL, 0, "5.3.4");
    check(v, 1, SMTP_OUTCOME_FAILED, SMTP_STAGE_MAIL, 0, "5.3.4");
    const char *text = smtp_client_recipient_result(v->c, 0)->text;
    assert_non_null(strstr(text, "too big"));
    assert_non_null(strstr(text, "1001"));
    assert_non_null(strstr(text, "1000"));

    /* Exactly the limit is fine, and the connection is still usable. */
    m.size = 1000;
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<s@example.org> SIZE=1000\r\nRCPT TO:<a@example.net>\r\n"
              "RCPT TO:<b@example.net>\r\nDATA\r\n");
    conv_free(v);

    /* SIZE without a number: no fixed limit. */
    v = conv_new(0, 0);
    open_session(v, "250-mx\r\n250 SIZE\r\n");
    m.size = UINT64_C(5000000000);
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<s@example.org> SIZE=5000000000\r\n");
    conv_free(v);
}

static void null_sender_and_unwritable_addresses(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b>@example.net", "c@example.net",
                                        "d\r\nRSET@example.net", ""};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    smtp_client_message m = message("", rcpts, 5, &body);
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<>\r\nRCPT TO:<a@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n");
    server(v, "250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n");
    expect(v, "x\r\n.\r\n");
    server(v, "250 ok\r\n");
    check(v, 0, SMTP_OUTCOME_DELIVERED, SMTP_STAGE_END_OF_DATA, 250, "2.0.0");
    check(v, 1, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 0, "5.1.3");
    check(v, 2, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.1.1");
    check(v, 3, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 0, "5.1.3");
    check(v, 4, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 0, "5.1.3");

    /* A sender that cannot be written: nothing is sent. */
    m.sender = "s@example.org\r\nRCPT TO:<evil@example.net>";
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "");
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_MAIL, 0, "5.1.7");
    check(v, 2, SMTP_OUTCOME_FAILED, SMTP_STAGE_MAIL, 0, "5.1.7");
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    conv_free(v);
}

/* Sends `in` as a body, read in pieces of `piece` bytes, and checks the wire. */
static void body_is_sent_as(const char *in, size_t in_len, const char *wire, size_t wire_len)
{
    static const char *const rcpts[] = {"a@example.net"};
    for (size_t piece = 0; piece < 4; piece++) {
        body_source body = {in, in_len, 0, piece, 0, false, 0};
        conv *v = conv_new(0, 0);
        open_session(v, EHLO_PIPELINING);
        smtp_client_message m = message("s@example.org", rcpts, 1, &body);
        assert_true(smtp_client_send(v->c, &m));
        expect(v, "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n");
        server(v, "250 ok\r\n250 ok\r\n354 go\r\n");
        expect_bytes(v, wire, wire_len);
        server(v, "250 ok\r\n");
        check(v, 0, SMTP_OUTCOME_DELIVERED, SMTP_STAGE_END_OF_DATA, 250, "2.0.0");
        conv_free(v);
    }
}

static void dot_stuffing_and_line_ends_byte_for_byte(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *wire;
    } cases[] = {
            {".hello\r\nworld\r\n.\r\n..x\r\nlast",
             "..hello\r\nworld\r\n..\r\n...x\r\nlast\r\n.\r\n"},
            {"", ".\r\n"},
            {"a\r\n", "a\r\n.\r\n"},
            {".", "..\r\n.\r\n"},
            {"\r\n.\r\n", "\r\n..\r\n.\r\n"},      /* an end of data inside */
            {"a\nb\rc\r", "a\r\nb\r\nc\r\n.\r\n"}, /* bare LF and CR: lines */
            {"x\n.\nMAIL FROM:<e>\n", "x\r\n..\r\nMAIL FROM:<e>\r\n.\r\n"}, /* smuggling */
            {"x\r\r\n.y", "x\r\n\r\n..y\r\n.\r\n"},
            {"a.b\r\n .c\r\n", "a.b\r\n .c\r\n.\r\n"}, /* dots not at a line start */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        body_is_sent_as(cases[i].in, strlen(cases[i].in), cases[i].wire, strlen(cases[i].wire));
    }
    /* A NUL is content like any other byte. */
    body_is_sent_as("a\0.b\r\n.", 7, "a\0.b\r\n..\r\n.\r\n", 13);
}

/* The conversation up to a point, then the connection dies: each recipient's outcome. */
typedef struct lost_case {
    const char *name;
    const char *const replies[8]; /* server lines, fed one after the other */
    size_t stall_at;              /* body reader stalls there (0: never) */
    smtp_client_stage stage;
    smtp_client_outcome outcomes[2];
    smtp_client_stage stages[2];
} lost_case;

static void connection_lost_at_every_stage(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b@example.net"};
    static const char text[] = "line one\r\nline two\r\n";
    static const lost_case cases[] = {
            {"before any byte", {NULL}, 0, SMTP_STAGE_CONNECT, {0}, {0}},
            {"in the greeting", {"220-mx"}, 0, SMTP_STAGE_GREETING, {0}, {0}},
            {"after EHLO", {"220 mx\r\n"}, 0, SMTP_STAGE_EHLO, {0}, {0}},
            {"after HELO", {"220 mx\r\n", "502 no\r\n"}, 0, SMTP_STAGE_EHLO, {0}, {0}},
            {"after MAIL", {"220 mx\r\n", "250 mx\r\n"}, 0, SMTP_STAGE_MAIL, {0}, {0}},
            {"after RCPT",
             {"220 mx\r\n", "250 mx\r\n", "250 ok\r\n"},
             0,
             SMTP_STAGE_RCPT,
             {0},
             {0}},
            {"after a refused RCPT",
             {"220 mx\r\n", "250 mx\r\n", "250 ok\r\n", "550 no\r\n"},
             0,
             SMTP_STAGE_RCPT,
             {SMTP_OUTCOME_FAILED, 0},
             {SMTP_STAGE_RCPT, 0}},
            {"after DATA",
             {"220 mx\r\n", "250 mx\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n"},
             0,
             SMTP_STAGE_DATA,
             {0},
             {0}},
            {"in the body",
             {"220 mx\r\n", "250 mx\r\n", "250 ok\r\n", "550 no\r\n", "250 ok\r\n", "354 go\r\n"},
             5,
             SMTP_STAGE_BODY,
             {SMTP_OUTCOME_FAILED, 0},
             {SMTP_STAGE_RCPT, 0}},
            {"after the final dot",
             {"220 mx\r\n", "250 mx\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"},
             0,
             SMTP_STAGE_END_OF_DATA,
             {0},
             {0}},
            {"in the final reply",
             {"220 mx\r\n", "250 mx\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n",
              "250 o"},
             0,
             SMTP_STAGE_END_OF_DATA,
             {0},
             {0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const lost_case *lc = &cases[i];
        body_source body = {text, sizeof text - 1, 0, 0, lc->stall_at, false, 0};
        conv *v = conv_new(0, 0);
        smtp_client_message m = message("s@example.org", rcpts, 2, &body);
        assert_true(smtp_client_send(v->c, &m));
        for (size_t r = 0; r < 8 && lc->replies[r]; r++) {
            server(v, lc->replies[r]);
        }
        smtp_client_connection_lost(v->c);
        pump(v);
        assert_true(v->closed);
        assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_CLOSED);
        all_decided(v);
        for (size_t r = 0; r < 2; r++) {
            const smtp_client_result *res = smtp_client_recipient_result(v->c, r);
            smtp_client_outcome want = lc->outcomes[r] ? lc->outcomes[r] : SMTP_OUTCOME_DEFERRED;
            smtp_client_stage stage = lc->stages[r] ? lc->stages[r] : lc->stage;
            if (res->outcome != want || res->stage != stage) {
                fail_msg("%s: recipient %zu outcome %d stage %s (%s)", lc->name, r,
                         (int)res->outcome, smtp_client_stage_name(res->stage), res->text);
            }
            if (want == SMTP_OUTCOME_DEFERRED) {
                assert_int_equal(res->code, 0);
                assert_int_equal(res->status.klass, 4);
                assert_int_equal(res->status.subject, 4);
            }
        }
        assert_int_equal(smtp_client_connection_result(v->c)->stage, lc->stage);
        if (lc->stage == SMTP_STAGE_END_OF_DATA) {
            assert_non_null(
                    strstr(smtp_client_recipient_result(v->c, 1)->text, "may have been delivered"));
        }
        /* Late bytes and a second loss change nothing. */
        smtp_client_feed(v->c, "250 ok\r\n", 8);
        smtp_client_connection_lost(v->c);
        assert_int_equal(smtp_client_recipient_result(v->c, 1)->stage,
                         lc->stages[1] ? lc->stages[1] : lc->stage);
        conv_free(v);
    }
}

static void timeout_defers_with_the_wait_named(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net"};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    smtp_client_message m = message("s@example.org", rcpts, 1, &body);
    assert_true(smtp_client_send(v->c, &m));
    server(v, "250 ok\r\n250 ok\r\n354 go\r\n");
    expect(v, "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.net>\r\nDATA\r\nx\r\n.\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_DATA_END);
    smtp_client_timeout(v->c);
    pump(v);
    assert_true(v->closed);
    check(v, 0, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_END_OF_DATA, 0, "4.4.2");
    assert_non_null(strstr(smtp_client_recipient_result(v->c, 0)->text, "timed out"));
    conv_free(v);
}

static void two_messages_on_one_connection_and_rset_only_when_needed(void **state)
{
    (void)state;
    static const char *const rcpts1[] = {"a@example.net"};
    static const char *const rcpts2[] = {"b@example.net", "c@example.net"};
    body_source body1 = {"one", 3, 0, 0, 0, false, 0};
    body_source body2 = {"two", 3, 0, 0, 0, false, 0};
    body_source body3 = {"three", 5, 0, 0, 0, false, 0};
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);

    smtp_client_message m1 = message("s@example.org", rcpts1, 1, &body1);
    assert_true(smtp_client_send(v->c, &m1));
    assert_false(smtp_client_send(v->c, &m1)); /* one at a time */
    expect(v, "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n");
    server(v, "250 ok\r\n250 ok\r\n354 go\r\n");
    expect(v, "one\r\n.\r\n");
    server(v, "250 ok 1\r\n");
    check(v, 0, SMTP_OUTCOME_DELIVERED, SMTP_STAGE_END_OF_DATA, 250, "2.0.0");

    /* After a completed transaction: no RSET. Every recipient refused: the pipelined DATA is
     * refused too, no body is sent. */
    smtp_client_message m2 = message("s@example.org", rcpts2, 2, &body2);
    assert_true(smtp_client_send(v->c, &m2));
    expect(v, "MAIL FROM:<s@example.org>\r\nRCPT TO:<b@example.net>\r\n"
              "RCPT TO:<c@example.net>\r\nDATA\r\n");
    server(v, "250 ok\r\n550 5.1.1 no\r\n451 4.3.0 later\r\n554 5.5.1 no valid recipients\r\n");
    expect(v, "");
    assert_int_equal(body2.reads, 0);
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    assert_int_equal(smtp_client_recipient_count(v->c), 2);
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.1.1");
    check(v, 1, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_RCPT, 451, "4.3.0");

    /* The server still holds that transaction (MAIL accepted): RSET first. */
    smtp_client_message m3 = message("t@example.org", rcpts1, 1, &body3);
    assert_true(smtp_client_send(v->c, &m3));
    expect(v, "RSET\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_COMMAND);
    server(v, "250 2.0.0 flushed\r\n");
    expect(v, "MAIL FROM:<t@example.org>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n");
    server(v, "250 ok\r\n250 ok\r\n354 go\r\n");
    expect(v, "three\r\n.\r\n");
    server(v, "250 ok 3\r\n");
    check(v, 0, SMTP_OUTCOME_DELIVERED, SMTP_STAGE_END_OF_DATA, 250, "2.0.0");
    assert_true(smtp_client_quit(v->c));
    expect(v, "QUIT\r\n");
    conv_free(v);
}

static void lock_step_sends_no_data_when_nobody_was_accepted(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net"};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_LOCKSTEP);
    smtp_client_message m = message("s@example.org", rcpts, 1, &body);
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<s@example.org>\r\n");
    server(v, "250 ok\r\n");
    expect(v, "RCPT TO:<a@example.net>\r\n");
    server(v, "550 5.1.1 unknown\r\n");
    expect(v, "");
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.1.1");
    assert_true(smtp_client_quit(v->c)); /* no RSET before QUIT */
    expect(v, "QUIT\r\n");
    conv_free(v);

    /* MAIL refused: no RCPT, every recipient gets the MAIL reply, no RSET after. */
    v = conv_new(0, 0);
    open_session(v, EHLO_LOCKSTEP);
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<s@example.org>\r\n");
    server(v, "553 5.1.8 sender domain unknown\r\n");
    expect(v, "");
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_MAIL, 553, "5.1.8");
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<s@example.org>\r\n");
    conv_free(v);
}

static void pipelined_mail_refusal_decides_every_recipient(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b@example.net"};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    conv *v = conv_new(3, 0);
    open_session(v, EHLO_PIPELINING);
    smtp_client_message m = message("s@example.org", rcpts, 2, &body);
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.net>\r\n"
              "RCPT TO:<b@example.net>\r\nDATA\r\n");
    /* A broken server that says 354 anyway gets an empty message and nothing counts. */
    server(v, "452 4.3.1 out of space\r\n503 5.5.1 MAIL first\r\n503 5.5.1 MAIL first\r\n"
              "354 go\r\n");
    expect(v, ".\r\n");
    assert_int_equal(body.reads, 0);
    server(v, "250 ok\r\n");
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    check(v, 0, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_MAIL, 452, "4.3.1");
    check(v, 1, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_MAIL, 452, "4.3.1");
    conv_free(v);
}

static void data_refused_and_final_refusals(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b@example.net"};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    smtp_client_message m = message("s@example.org", rcpts, 2, &body);
    assert_true(smtp_client_send(v->c, &m));
    server(v, "250 ok\r\n250 ok\r\n550 no\r\n451 4.3.0 not now\r\n");
    expect(v, "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.net>\r\n"
              "RCPT TO:<b@example.net>\r\nDATA\r\n");
    check(v, 0, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_DATA, 451, "4.3.0");
    check(v, 1, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.0.0");

    body = (body_source){"x", 1, 0, 0, 0, false, 0};
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "RSET\r\n");
    server(v, "250 ok\r\n");
    server(v, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    expect(v, "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.net>\r\n"
              "RCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n");
    server(v, "554 5.7.1 spam\r\n");
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_END_OF_DATA, 554, "5.7.1");
    check(v, 1, SMTP_OUTCOME_FAILED, SMTP_STAGE_END_OF_DATA, 554, "5.7.1");

    /* A final refusal ends the transaction: no RSET for the next one. */
    body = (body_source){"x", 1, 0, 0, 0, false, 0};
    assert_true(smtp_client_send(v->c, &m));
    expect(v, "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.net>\r\n"
              "RCPT TO:<b@example.net>\r\nDATA\r\n");
    conv_free(v);
}

static void malformed_replies_defer_and_close(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b@example.net"};
    static const char *const bad[] = {"25O ok\r\n", "250-a\r\n251 b\r\n", "250 a\0b\r\n", "2\r\n",
                                      "250 ok\rx\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        body_source body = {"x", 1, 0, 0, 0, false, 0};
        conv *v = conv_new(0, 0);
        open_session(v, EHLO_PIPELINING);
        smtp_client_message m = message("s@example.org", rcpts, 2, &body);
        assert_true(smtp_client_send(v->c, &m));
        server(v, "250 ok\r\n550 5.1.1 no\r\n");
        /* The NUL case needs its length: feed by hand. */
        size_t len = strlen(bad[i]);
        if (i == 2) {
            len = 9;
        }
        smtp_client_feed(v->c, bad[i], len);
        pump(v);
        assert_true(v->closed);
        check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.1.1");
        check(v, 1, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_RCPT, 0, "4.5.0");
        assert_non_null(strstr(smtp_client_recipient_result(v->c, 1)->text, "protocol error"));
        conv_free(v);
    }
}

static void replies_nobody_asked_for_end_the_connection(void **state)
{
    (void)state;
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    server(v, "250 surprise\r\n");
    assert_true(v->closed);
    assert_int_equal(smtp_client_connection_result(v->c)->status.subject, 5);
    conv_free(v);

    v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    server(v, "421 4.4.2 idle too long\r\n");
    expect(v, "");
    assert_true(v->closed);
    assert_int_equal(smtp_client_connection_result(v->c)->code, 421);
    conv_free(v);

    /* More replies at once than were asked for (a second greeting line). */
    static const char *const rcpts[] = {"a@example.net"};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    v = conv_new(0, 0);
    smtp_client_message m = message("s@example.org", rcpts, 1, &body);
    assert_true(smtp_client_send(v->c, &m));
    server(v, "220 mx\r\n250 mx\r\n");
    check(v, 0, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_EHLO, 0, "4.5.0");
    conv_free(v);
}

static void a_421_mid_transaction_defers_everything_open(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b@example.net", "c@example.net"};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    smtp_client_message m = message("s@example.org", rcpts, 3, &body);
    assert_true(smtp_client_send(v->c, &m));
    server(v, "250 ok\r\n550 5.1.1 no\r\n421 4.3.2 shutting down\r\n");
    assert_true(v->closed);
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.1.1");
    check(v, 1, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_RCPT, 421, "4.3.2");
    check(v, 2, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_RCPT, 421, "4.3.2");
    conv_free(v);
}

static void body_problems(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net", "b@example.net"};
    static const char text[] = "0123456789\r\n";

    /* The server gives up while the body is going out. */
    body_source body = {text, sizeof text - 1, 0, 0, 4, false, 0};
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    smtp_client_message m = message("s@example.org", rcpts, 2, &body);
    assert_true(smtp_client_send(v->c, &m));
    server(v, "250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_DATA_BLOCK);
    server(v, "552 5.3.4 too much\r\n");
    assert_true(v->closed);
    check(v, 0, SMTP_OUTCOME_FAILED, SMTP_STAGE_BODY, 552, "5.3.4");
    check(v, 1, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.0.0");
    conv_free(v);

    /* The body cannot be read: deferred, connection dropped without the final dot. */
    body = (body_source){text, sizeof text - 1, 0, 0, 4, true, 0};
    v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    assert_true(smtp_client_send(v->c, &m));
    server(v, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    pump(v);
    assert_true(v->closed);
    assert_null(strstr(v->wire, "\r\n.\r\n"));
    check(v, 0, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_BODY, 0, "4.3.0");
    check(v, 1, SMTP_OUTCOME_DEFERRED, SMTP_STAGE_BODY, 0, "4.3.0");
    conv_free(v);
}

static void many_recipients_pipelined_through_a_bounded_buffer(void **state)
{
    (void)state;
    enum { N = 1000 };
    static char names[N][32];
    static const char *rcpts[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "user%04zu@example.net", i);
        rcpts[i] = names[i];
    }
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    conv *v = conv_new(0, N + 1); /* clamped to 1000 */
    open_session(v, EHLO_PIPELINING);
    smtp_client_message m = message("s@example.org", rcpts, N + 1, &body);
    assert_false(smtp_client_send(v->c, &m));
    m.recipient_count = N;
    assert_true(smtp_client_send(v->c, &m));
    pump(v);
    /* Replies one at a time, as the server would: the rest of the commands follow. */
    server(v, "250 ok\r\n");
    for (size_t i = 0; i < N; i++) {
        server(v, i % 2 ? "550 5.1.1 no\r\n" : "250 2.1.5 ok\r\n");
    }
    server(v, "354 go\r\n");
    server(v, "250 ok\r\n");
    assert_true(v->max_output <= SMTP_CLIENT_OUTPUT_MAX);
    for (size_t i = 0; i < N; i++) {
        if (i % 2) {
            check(v, i, SMTP_OUTCOME_FAILED, SMTP_STAGE_RCPT, 550, "5.1.1");
        } else {
            check(v, i, SMTP_OUTCOME_DELIVERED, SMTP_STAGE_END_OF_DATA, 250, "2.0.0");
        }
    }
    assert_non_null(strstr(v->wire, "RCPT TO:<user0999@example.net>\r\nDATA\r\nx\r\n.\r\n"));
    /* Fixed memory: about 94 KiB with the default 100 recipients, 570 KiB with 1000. */
    assert_true(smtp_client_memory(&(smtp_client_config){HELO_NAME, 0}) < 128 * 1024);
    assert_true(smtp_client_memory(&(smtp_client_config){HELO_NAME, N}) < 640 * 1024);
    conv_free(v);
}

/* A big body goes through in bounded pieces; only its byte count is checked. */
typedef struct big_body {
    uint64_t remaining;
    uint64_t lines;
} big_body;

static smtp_body_read read_big(void *ctx, uint8_t *buf, size_t cap, size_t *len)
{
    big_body *b = ctx;
    /* Lines of ".abc" CRLF: every one gets a dot added. */
    size_t n = 0;
    while (n + 6 <= cap && b->remaining >= 6) {
        memcpy(buf + n, ".abc\r\n", 6);
        n += 6;
        b->remaining -= 6;
        b->lines++;
    }
    *len = n;
    return b->remaining < 6 ? SMTP_BODY_END : SMTP_BODY_MORE;
}

static void a_large_message_streams_in_bounded_memory(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net"};
    const uint64_t size = UINT64_C(9) * 1024 * 1024; /* under the server's SIZE */
    big_body big = {size, 0};
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    smtp_client_message m = {"s@example.org", rcpts, 1, size, false, read_big, &big};
    assert_true(smtp_client_send(v->c, &m));
    server(v, "250 ok\r\n250 ok\r\n");
    expect(v, "MAIL FROM:<s@example.org> SIZE=9437184\r\nRCPT TO:<a@example.net>\r\n"
              "DATA\r\n");
    smtp_client_feed(v->c, "354 go\r\n", 8);
    uint64_t written = 0;
    bool ended = false;
    for (;;) {
        smtp_client_out out = smtp_client_output(v->c);
        if (out.length == 0) {
            break;
        }
        assert_true(out.length <= SMTP_CLIENT_OUTPUT_MAX);
        written += out.length;
        ended = out.length >= 3 && memcmp(out.bytes + out.length - 3, ".\r\n", 3) == 0;
        smtp_client_output_sent(v->c, out.length);
    }
    assert_true(ended);
    assert_int_equal(written, size + big.lines + 3);
    smtp_client_feed(v->c, "250 ok\r\n", 8);
    check(v, 0, SMTP_OUTCOME_DELIVERED, SMTP_STAGE_END_OF_DATA, 250, "2.0.0");
    conv_free(v);
}

static void partial_writes_are_resumed(void **state)
{
    (void)state;
    static const char *const rcpts[] = {"a@example.net"};
    body_source body = {"hello\r\n", 7, 0, 0, 0, false, 0};
    conv *v = conv_new(0, 0);
    open_session(v, EHLO_PIPELINING);
    smtp_client_message m = message("s@example.org", rcpts, 1, &body);
    assert_true(smtp_client_send(v->c, &m));
    /* The socket takes 5 bytes at a time. */
    char wire[256];
    size_t len = 0;
    for (;;) {
        smtp_client_out out = smtp_client_output(v->c);
        if (out.length == 0) {
            break;
        }
        size_t n = out.length < 5 ? out.length : 5;
        memcpy(wire + len, out.bytes, n);
        len += n;
        smtp_client_output_sent(v->c, n);
    }
    wire[len] = '\0';
    assert_string_equal(wire, "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n");
    conv_free(v);
}

static void starttls_hook(void **state)
{
    (void)state;
    conv *v = conv_new(0, 0);
    open_session(v, "250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n");
    assert_true(smtp_client_capabilities_offered(v->c)->starttls);
    assert_true(smtp_client_starttls(v->c));
    expect(v, "STARTTLS\r\n");
    server(v, "220 2.0.0 go ahead\r\n");
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_TLS_START);
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_NONE);
    smtp_client_tls_started(v->c);
    expect(v, "EHLO " HELO_NAME "\r\n");
    assert_false(smtp_client_capabilities_offered(v->c)->pipelining); /* forgotten */
    server(v, "250-mx\r\n250 AUTH=LOGIN\r\n");
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    assert_false(smtp_client_capabilities_offered(v->c)->starttls);
    assert_int_equal(smtp_client_capabilities_offered(v->c)->auth_mechanisms,
                     SMTP_CLIENT_AUTH_LOGIN);
    assert_false(smtp_client_starttls(v->c));
    conv_free(v);

    /* Plaintext after the 220 (command injection): the connection is dropped. */
    v = conv_new(0, 0);
    open_session(v, "250-mx\r\n250 STARTTLS\r\n");
    assert_true(smtp_client_starttls(v->c));
    expect(v, "STARTTLS\r\n");
    smtp_client_feed(v->c, "220 go\r\n250-injected\r\n", 23);
    pump(v);
    assert_true(v->closed);
    assert_int_equal(smtp_client_connection_result(v->c)->stage, SMTP_STAGE_STARTTLS);
    conv_free(v);

    /* Refused: READY again, the reply says why. */
    v = conv_new(0, 0);
    open_session(v, "250-mx\r\n250 STARTTLS\r\n");
    assert_true(smtp_client_starttls(v->c));
    server(v, "454 4.7.0 TLS not available\r\n");
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    assert_int_equal(smtp_client_last_reply(v->c)->code, 454);
    conv_free(v);
}

static void auth_plain_and_login(void **state)
{
    (void)state;
    conv *v = conv_new(0, 0);
    open_session(v, "250-mx\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n");
    assert_int_equal(smtp_client_capabilities_offered(v->c)->auth_mechanisms,
                     SMTP_CLIENT_AUTH_PLAIN | SMTP_CLIENT_AUTH_LOGIN);
    assert_true(smtp_client_auth(v->c, SMTP_CLIENT_AUTH_PLAIN, "user", "pass"));
    expect(v, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
    assert_int_equal(smtp_client_waiting_for(v->c), SMTP_WAIT_COMMAND);
    server(v, "235 2.7.0 ok\r\n");
    assert_true(smtp_client_authenticated(v->c));
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);

    assert_true(smtp_client_auth(v->c, SMTP_CLIENT_AUTH_LOGIN, "user", "pass"));
    expect(v, "AUTH LOGIN\r\n");
    server(v, "334 VXNlcm5hbWU6\r\n");
    expect(v, "dXNlcg==\r\n");
    server(v, "334 UGFzc3dvcmQ6\r\n");
    expect(v, "cGFzcw==\r\n");
    server(v, "535 5.7.8 bad credentials\r\n");
    assert_false(smtp_client_authenticated(v->c));
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    assert_int_equal(smtp_client_last_reply(v->c)->code, 535);

    /* A challenge after PLAIN's one response is cancelled. */
    assert_true(smtp_client_auth(v->c, SMTP_CLIENT_AUTH_PLAIN, "u", "p"));
    expect(v, "AUTH PLAIN AHUAcA==\r\n");
    server(v, "334 \r\n");
    expect(v, "*\r\n");
    server(v, "501 5.7.0 cancelled\r\n");
    assert_false(smtp_client_authenticated(v->c));
    assert_int_equal(smtp_client_state_now(v->c), SMTP_CLIENT_READY);
    assert_false(smtp_client_auth(v->c, 4, "u", "p")); /* not a mechanism we speak */
    conv_free(v);
}

static void unusable_configuration_and_messages(void **state)
{
    (void)state;
    assert_null(smtp_client_create(&(smtp_client_config){"", 0}));
    assert_null(smtp_client_create(&(smtp_client_config){"bad name", 0}));
    assert_null(smtp_client_create(&(smtp_client_config){NULL, 0}));
    conv *v = conv_new(0, 0);
    static const char *const rcpts[] = {"a@example.net"};
    body_source body = {"x", 1, 0, 0, 0, false, 0};
    smtp_client_message m = message("s@example.org", rcpts, 0, &body);
    assert_false(smtp_client_send(v->c, &m));
    m.recipient_count = 1;
    m.read_body = NULL;
    assert_false(smtp_client_send(v->c, &m));
    assert_false(smtp_client_quit(v->c)); /* not READY */
    conv_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(greeting_refused_fails_the_connection),
            cmocka_unit_test(ehlo_refused_falls_back_to_helo),
            cmocka_unit_test(pipelined_transaction_with_mixed_recipients),
            cmocka_unit_test(every_chunking_of_the_replies_gives_the_same_result),
            cmocka_unit_test(lock_step_without_pipelining),
            cmocka_unit_test(timeouts_follow_rfc_5321),
            cmocka_unit_test(size_too_big_fails_without_sending),
            cmocka_unit_test(null_sender_and_unwritable_addresses),
            cmocka_unit_test(dot_stuffing_and_line_ends_byte_for_byte),
            cmocka_unit_test(connection_lost_at_every_stage),
            cmocka_unit_test(timeout_defers_with_the_wait_named),
            cmocka_unit_test(two_messages_on_one_connection_and_rset_only_when_needed),
            cmocka_unit_test(lock_step_sends_no_data_when_nobody_was_accepted),
            cmocka_unit_test(pipelined_mail_refusal_decides_every_recipient),
            cmocka_unit_test(data_refused_and_final_refusals),
            cmocka_unit_test(malformed_replies_defer_and_close),
            cmocka_unit_test(replies_nobody_asked_for_end_the_connection),
            cmocka_unit_test(a_421_mid_transaction_defers_everything_open),
            cmocka_unit_test(body_problems),
            cmocka_unit_test(many_recipients_pipelined_through_a_bounded_buffer),
            cmocka_unit_test(a_large_message_streams_in_bounded_memory),
            cmocka_unit_test(partial_writes_are_resumed),
            cmocka_unit_test(starttls_hook),
            cmocka_unit_test(auth_plain_and_login),
            cmocka_unit_test(unusable_configuration_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
